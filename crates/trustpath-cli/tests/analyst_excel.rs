//! Issue 13 point 2, as a user met it: a Purview audit export re-saved by Excel, in a case
//! folder next to the files analysts keep there. The export is `trustpath simulate AN1051
//! --format purview-csv` (the documented Purview columns, `AuditData` holding the UAL
//! record), plus one row whose user is `jürgen.müller`; Excel's three ways of saving it are
//! rebuilt here: "CSV (Comma delimited)" (Windows-1252), "CSV UTF-8" in a European locale
//! (BOM, `;`, day-first dates), "Unicode Text" (UTF-16LE with BOM, tab). Each must give
//! the findings of the original file, with nothing skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trustpath(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .args(args)
        .output()
        .expect("run trustpath")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The simulated export, with a row by jürgen.müller appended (a mailbox login: no
/// finding of its own).
fn export(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let sim = dir.join("sim");
    let out = trustpath(&[
        "simulate",
        "AN1051",
        "-f",
        "purview-csv",
        "-o",
        &sim.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv_path = sim.join("an1051-purview-csv.csv");
    let mut reader = csv::Reader::from_path(&csv_path).expect("simulated csv");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    let audit = serde_json::json!({
        "CreationTime": "2025-03-06T08:55:02",
        "Id": "0f3c2b1a-7d6e-4f5a-9b8c-1d2e3f4a5b6c",
        "Operation": "MailboxLogin",
        "OrganizationId": "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34",
        "RecordType": 2,
        "ResultStatus": "Succeeded",
        "UserKey": "1003BBC86B7BFBE9",
        "UserType": 0,
        "Version": 1,
        "Workload": "Exchange",
        "UserId": "jürgen.müller@contoso.com",
        "ClientIPAddress": "198.18.10.40",
        "MailboxOwnerUPN": "jürgen.müller@contoso.com",
        "LogonType": 0,
    });
    let mut row = vec![String::new(); header.len()];
    for (i, name) in header.iter().enumerate() {
        row[i] = match name.as_str() {
            "RecordId" => "0f3c2b1a-7d6e-4f5a-9b8c-1d2e3f4a5b6c".to_owned(),
            "CreationDate" => "3/6/2025 8:55:02 AM".to_owned(),
            "RecordType" => "2".to_owned(),
            "Operation" => "MailboxLogin".to_owned(),
            "UserId" => "jürgen.müller@contoso.com".to_owned(),
            "AuditData" => audit.to_string(),
            _ => String::new(),
        };
    }
    rows.push(row);
    std::fs::remove_dir_all(&sim).expect("clean");
    (header, rows)
}

/// `3/6/2025 9:00:18 AM` as Excel shows it in a day-first locale: `06/03/2025 09:00`.
fn day_first(us: &str) -> String {
    let parse = || -> Option<String> {
        let (date, time) = us.split_once(' ')?;
        let mut d = date.split('/');
        let (m, day, y) = (d.next()?, d.next()?, d.next()?);
        let (clock, half) = time.split_once(' ')?;
        let mut c = clock.split(':');
        let (h, min) = (c.next()?.parse::<u32>().ok()?, c.next()?);
        let h = match (half, h) {
            ("AM", 12) => 0,
            ("PM", h) if h < 12 => h + 12,
            (_, h) => h,
        };
        Some(format!("{:0>2}/{:0>2}/{y} {h:02}:{min}", day, m))
    };
    parse().unwrap_or_else(|| us.to_owned())
}

fn write_csv(
    header: &[String],
    rows: &[Vec<String>],
    delimiter: u8,
    day_first_dates: bool,
) -> String {
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(header).expect("header");
    let date = header.iter().position(|h| h == "CreationDate");
    for row in rows {
        let mut row = row.clone();
        if let (true, Some(i)) = (day_first_dates, date) {
            row[i] = day_first(&row[i]);
        }
        out.write_record(&row).expect("row");
    }
    String::from_utf8(out.into_inner().expect("csv")).expect("utf-8")
}

/// The case folder: the export plus a screenshot, a PDF, a workbook, notes and the
/// collection tool's own log.
fn case_folder(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let case = dir.join(name.replace('.', "-"));
    std::fs::create_dir_all(&case).expect("mkdir");
    std::fs::write(case.join(name), bytes).expect("export");
    std::fs::write(
        case.join("screenshot.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    )
    .expect("png");
    std::fs::write(
        case.join("report.pdf"),
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
    )
    .expect("pdf");
    let mut xlsx = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    xlsx.start_file(
        "[Content_Types].xml",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("zip");
    std::io::Write::write_all(&mut xlsx, b"<?xml version=\"1.0\"?><Types/>").expect("zip");
    let xlsx = xlsx.finish().expect("zip").into_inner();
    std::fs::write(case.join("evidence.xlsx"), xlsx).expect("xlsx");
    std::fs::write(
        case.join("notes.txt"),
        "Ticket 4711: CFO reports odd delegates.\n",
    )
    .expect("notes");
    std::fs::write(
        case.join("Logfile.txt"),
        "[2025-03-08 10:12:01] INFO  Connecting to Exchange Online\n\
         [2025-03-08 10:15:02] INFO  Exported 5 records to export.csv\n",
    )
    .expect("log");
    case
}

fn hunt(path: &Path) -> (Output, Vec<String>) {
    let out = trustpath(&["hunt", "--strict", &path.to_string_lossy(), "-f", "jsonl"]);
    let ids = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("finding");
            format!("{} {}", v["id"], v["severity"]["level"])
        })
        .collect();
    (out, ids)
}

#[test]
fn excel_saved_exports_keep_their_findings_and_other_files_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (header, rows) = export(dir.path());
    let original = write_csv(&header, &rows, b',', false);
    let plain = dir.path().join("original.csv");
    std::fs::write(&plain, &original).expect("write");
    let (out, expected) = hunt(&plain);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!expected.is_empty(), "the simulated chain gives a finding");

    let (cp1252, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&original);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&cp1252).is_err(),
        "ü is one byte in Windows-1252"
    );
    let semicolon = {
        let mut b = vec![0xef, 0xbb, 0xbf];
        b.extend_from_slice(write_csv(&header, &rows, b';', true).as_bytes());
        b
    };
    let unicode_text = {
        let mut b = vec![0xff, 0xfe];
        for unit in write_csv(&header, &rows, b'\t', true).encode_utf16() {
            b.extend_from_slice(&unit.to_le_bytes());
        }
        b
    };
    for (name, bytes) in [
        ("comma-cp1252.csv", cp1252.into_owned()),
        ("semicolon-utf8bom.csv", semicolon),
        ("unicode-text.txt", unicode_text),
    ] {
        let case = case_folder(dir.path(), name, &bytes);
        let (out, found) = hunt(&case);
        let stderr = text(&out.stderr);
        // --strict: exit 0 means nothing was skipped.
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert_eq!(found, expected, "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{} events", rows.len())),
            "{name}: every row read: {stderr}"
        );
        assert!(
            stderr.contains("ignored 5 non-log files"),
            "{name}: {stderr}"
        );
        for other in [
            "screenshot.png",
            "report.pdf",
            "evidence.xlsx",
            "notes.txt",
            "Logfile.txt",
        ] {
            assert!(
                stderr.contains(other),
                "{name}: {other} not listed: {stderr}"
            );
        }
        // The name survives the re-encoding.
        let normalized = trustpath(&["normalize", &case.join(name).to_string_lossy()]);
        assert!(
            text(&normalized.stdout).contains("jürgen.müller@contoso.com"),
            "{name}"
        );
    }
}
