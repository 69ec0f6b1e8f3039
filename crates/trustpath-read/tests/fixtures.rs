//! Every format on the hand-written fixtures: record counts, formats, sniffing, origins,
//! encodings and containers.

mod common;

use common::{Out, bytes, fixture, fixture_dir, gzip, utf16be_bom, utf16le_bom, zip};
use std::collections::BTreeMap;
use trustpath_read::{
    ErrorKind, Format, Input, ReadOptions, Sniffed, TextEncoding, expand_inputs, read_input, sniff,
};

/// Reads a fixture; asserts it has no errors and `n` records, all of `format`.
fn check(name: &str, n: usize, format: Format) -> Out {
    let out = bytes(name, &fixture(name));
    assert!(out.errors.is_empty(), "{name}: {:#?}", out.errors);
    assert_eq!(out.records.len(), n, "{name}");
    for r in &out.records {
        assert_eq!(r.format, format, "{name}: {}", r.to_value());
        assert_eq!(&*r.origin.file, name);
    }
    let indexes: Vec<_> = out.records.iter().map(|r| r.origin.record).collect();
    let expected: Vec<_> = (0..n as u64).map(Some).collect();
    assert_eq!(indexes, expected, "{name}: record indexes");
    out
}

fn lines(out: &Out) -> Vec<u64> {
    out.records
        .iter()
        .map(|r| r.origin.line.unwrap_or(0))
        .collect()
}

#[test]
fn ual_array_jsonl_and_blob() {
    let a = check("ual_array.json", 3, Format::UalJson);
    assert_eq!(lines(&a), [2, 3, 4]);
    assert_eq!(
        a.records[0].to_value()["Operation"],
        "Add-MailboxPermission"
    );
    assert_eq!(
        a.records[0].to_value()["Parameters"][2]["Value"],
        "FullAccess"
    );
    let l = check("ual.jsonl", 3, Format::UalJson);
    assert_eq!(lines(&l), [1, 2, 3]);
    assert_eq!(
        l.records[1].origin.offset,
        Some(l.records[0].origin.offset.unwrap_or(0) + 863)
    );
    let b = check("ual_management_api_blob.json", 3, Format::UalJson);
    assert_eq!(b.records[0].origin.offset, Some(1));
    // The same records whatever the container.
    for (x, y) in a
        .records
        .iter()
        .zip(&l.records)
        .chain(a.records.iter().zip(&b.records))
    {
        assert_eq!(x.to_value(), y.to_value());
    }
    assert_eq!(
        sniff(&fixture("ual_array.json")),
        Sniffed::JsonArray(TextEncoding::Utf8)
    );
    assert_eq!(
        sniff(&fixture("ual.jsonl")),
        Sniffed::JsonObjects(TextEncoding::Utf8)
    );
}

#[test]
fn purview_csv_variants() {
    let new = check("purview_new.csv", 3, Format::PurviewCsv);
    assert_eq!(lines(&new), [2, 3, 4]);
    let first = &new.records[0].to_value();
    assert_eq!(first["RecordId"], "6f2c1b1e-3c1a-4a55-9d0e-1a2b3c4d5e01");
    assert_eq!(first["CreationDate"], "3/4/2024 10:15:00 AM");
    assert_eq!(first["AuditData"]["Operation"], "Add-MailboxPermission");
    assert_eq!(first["AuditData"]["RecordType"], 1);
    assert_eq!(
        first["AuditData"]["OriginatingServer"],
        "CH3PR10MB7864 (15.20.6813.027)\r\n"
    );
    assert_eq!(first["AssociatedAdminUnits"], "");

    let classic = check("purview_classic.csv", 2, Format::PurviewCsv);
    assert_eq!(
        classic.records[1].to_value()["AuditData"]["Operation"],
        "Add partner to company."
    );
    assert_eq!(
        classic.records[1].to_value()["UserIds"],
        "ServicePrincipal_2832473f-ec63-45fb-976f-5d45a7d4bb91"
    );

    let sual = check("purview_search_unifiedauditlog.csv", 3, Format::PurviewCsv);
    assert_eq!(lines(&sual), [3, 4, 5], "the #TYPE line counts");
    assert_eq!(
        sual.records[2].to_value()["RecordType"],
        "AzureActiveDirectoryStsLogon"
    );
    assert_eq!(
        sual.records[2].to_value()["AuditData"]["Operation"],
        "UserLoggedIn"
    );
    for name in [
        "purview_new.csv",
        "purview_classic.csv",
        "purview_search_unifiedauditlog.csv",
    ] {
        assert_eq!(
            sniff(&fixture(name)),
            Sniffed::Csv(TextEncoding::Utf8),
            "{name}"
        );
    }
}

#[test]
fn graph_exports() {
    let s = check("graph_signins_bom.json", 2, Format::GraphSignIn);
    assert_eq!(
        s.records[0].to_value()["crossTenantAccessType"],
        "serviceProvider"
    );
    assert_eq!(s.records[0].origin.line, Some(2));
    assert_eq!(
        s.records[0].origin.offset,
        Some(10),
        "file offset, BOM included"
    );
    assert_eq!(
        sniff(&fixture("graph_signins_bom.json")),
        Sniffed::JsonArray(TextEncoding::Utf8Bom)
    );
    let a = check(
        "graph_directory_audits.json",
        2,
        Format::GraphDirectoryAudit,
    );
    assert_eq!(
        a.records[1].to_value()["activityDisplayName"],
        "Add partner to company"
    );
    let p = check("graph_signins_page.json", 2, Format::GraphSignIn);
    assert_eq!(p.records[1].to_value(), s.records[1].to_value());
}

#[test]
fn sentinel_exports() {
    let o = check(
        "sentinel_officeactivity.jsonl",
        2,
        Format::SentinelOfficeActivity,
    );
    assert_eq!(
        o.records[1].to_value()["Parameters"]
            .as_str()
            .map(|s| s.starts_with('[')),
        Some(true)
    );
    let c = check("sentinel_signinlogs.csv", 2, Format::SentinelSignIn);
    let v = &c.records[0].to_value();
    assert_eq!(
        v["TimeGenerated"], "3/4/2024, 9:55:03.000 AM",
        "[UTC] suffix stripped"
    );
    assert_eq!(v["CreatedDateTime"], "3/4/2024, 9:55:01.000 AM");
    assert_eq!(
        v["Status"], r#"{"errorCode":0}"#,
        "JSON columns stay strings"
    );
    assert_eq!(
        c.records[1].to_value()["Type"],
        "AADNonInteractiveUserSignInLogs"
    );
    assert_eq!(
        sniff(&fixture("sentinel_signinlogs.csv")),
        Sniffed::Csv(TextEncoding::Utf8Bom)
    );
    check("sentinel_auditlogs.json", 2, Format::SentinelAuditLogs);
}

#[test]
fn windows_json_renderings() {
    let d = check("evtx_dump.json", 2, Format::EvtxJson);
    assert_eq!(lines(&d), [2, 55]);
    assert_eq!(
        d.records[1].to_value()["Event"]["System"]["EventID"]["#text"],
        1
    );
    let s = check("evtx_separate_attributes.jsonl", 2, Format::EvtxJson);
    assert_eq!(s.records[0].to_value()["Event"]["System"]["EventID"], 4104);
    let w = check("winlogbeat.jsonl", 2, Format::Winlogbeat);
    assert_eq!(w.records[1].to_value()["winlog"]["event_id"], "4688");
    let m = check("mordor_flat.jsonl", 2, Format::FlatWindowsJson);
    assert_eq!(m.records[0].to_value()["Keywords"], i64::MIN);
}

#[test]
fn utf16_exports_are_transcoded() {
    for name in [
        "ual_array.json",
        "ual.jsonl",
        "purview_new.csv",
        "graph_signins_page.json",
    ] {
        let plain = bytes(name, &fixture(name));
        let text = String::from_utf8(fixture(name)).expect("fixture is UTF-8");
        for (enc, data) in [
            (TextEncoding::Utf16Le, utf16le_bom(&text)),
            (TextEncoding::Utf16Be, utf16be_bom(&text)),
        ] {
            assert_eq!(sniff(&data).encoding(), Some(enc), "{name}");
            let out = bytes(name, &data);
            assert!(out.errors.is_empty(), "{name} {enc:?}: {:?}", out.errors);
            let values: Vec<_> = out
                .records
                .iter()
                .map(|r| (r.to_value(), r.format, r.origin.line))
                .collect();
            let expected: Vec<_> = plain
                .records
                .iter()
                .map(|r| (r.to_value(), r.format, r.origin.line))
                .collect();
            assert_eq!(values, expected, "{name} {enc:?}");
        }
    }
}

#[test]
fn gzip_and_zip_containers() {
    let ual = fixture("ual.jsonl");
    let gz = gzip(&ual);
    assert_eq!(sniff(&gz), Sniffed::Gzip);
    let out = bytes("ual.jsonl.gz", &gz);
    assert!(out.errors.is_empty());
    assert_eq!(out.records.len(), 3);
    assert_eq!(&*out.records[0].origin.file, "ual.jsonl.gz");
    assert_eq!(out.records[2].origin.line, Some(3));

    // Concatenated gzip members (what `cat a.gz b.gz` gives) are one stream.
    let mut two = gz.clone();
    two.extend_from_slice(&gzip(&ual));
    assert_eq!(bytes("two.gz", &two).records.len(), 6);

    let inner = zip(&[("inner.json", &fixture("graph_directory_audits.json"))]);
    let archive = zip(&[
        ("exports/", b""),
        ("exports/purview_new.csv", &fixture("purview_new.csv")),
        ("exports/ual.jsonl.gz", &gz),
        ("exports/signins.json", &fixture("graph_signins_bom.json")),
        ("nested.zip", &inner),
        ("evtx_dump.json", &fixture("evtx_dump.json")),
    ]);
    assert_eq!(sniff(&archive), Sniffed::Zip);
    let out = bytes("case.zip", &archive);
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    let mut per_file: BTreeMap<String, (usize, Format)> = BTreeMap::new();
    for r in &out.records {
        let e = per_file
            .entry(r.origin.file.to_string())
            .or_insert((0, r.format));
        e.0 += 1;
    }
    let expected: BTreeMap<String, (usize, Format)> = [
        ("case.zip!exports/purview_new.csv", (3, Format::PurviewCsv)),
        ("case.zip!exports/ual.jsonl.gz", (3, Format::UalJson)),
        ("case.zip!exports/signins.json", (2, Format::GraphSignIn)),
        (
            "case.zip!nested.zip!inner.json",
            (2, Format::GraphDirectoryAudit),
        ),
        ("case.zip!evtx_dump.json", (2, Format::EvtxJson)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(per_file, expected);
    // A gzip holding a zip works too (the zip is buffered).
    let out = bytes("case.zip.gz", &gzip(&archive));
    assert!(out.errors.is_empty());
    assert_eq!(out.records.len(), 12);
    assert_eq!(
        &*out.records[0].origin.file,
        "case.zip.gz!exports/purview_new.csv"
    );
}

#[test]
fn files_folders_and_mixed_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = dir.path().join("ual.jsonl.gz");
    std::fs::write(&gz, gzip(&fixture("ual.jsonl"))).expect("write");
    // The extension does not matter: content decides.
    let misnamed = dir.path().join("signins.csv");
    std::fs::write(&misnamed, fixture("graph_signins_bom.json")).expect("write");
    let zipped = dir.path().join("z.bin");
    std::fs::write(&zipped, zip(&[("a.csv", &fixture("purview_classic.csv"))])).expect("write");
    let (inputs, errors) = expand_inputs(&[dir.path().to_path_buf()]);
    assert!(errors.is_empty());
    assert_eq!(inputs.len(), 3);
    let mut counts = BTreeMap::new();
    for input in &inputs {
        read_input(input, &ReadOptions::default(), &mut |r| {
            let r = r.expect("no errors");
            *counts
                .entry((r.origin.file.to_string(), r.format))
                .or_insert(0) += 1;
        });
    }
    let name = |p: &std::path::Path| p.display().to_string();
    let expected: BTreeMap<_, _> = [
        ((name(&misnamed), Format::GraphSignIn), 2),
        ((name(&gz), Format::UalJson), 3),
        ((format!("{}!a.csv", name(&zipped)), Format::PurviewCsv), 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);

    // The fixture folder itself: every fixture plus README.md (not a log: one error).
    let (inputs, errors) = expand_inputs(&[fixture_dir()]);
    assert!(errors.is_empty());
    let mut records = 0;
    let mut errs = Vec::new();
    for input in &inputs {
        read_input(input, &ReadOptions::default(), &mut |r| match r {
            Ok(_) => records += 1,
            Err(e) => errs.push(e),
        });
    }
    assert_eq!(
        records,
        3 + 3 + 3 + 3 + 2 + 3 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].origin.file.ends_with("README.md"));
    assert_eq!(errs[0].kind, ErrorKind::Unsupported);
}

#[test]
fn missing_file_is_an_io_error() {
    let out = {
        let mut out = Out::default();
        read_input(
            &Input::File("/nonexistent/trustpath/x.json".into()),
            &ReadOptions::default(),
            &mut |r| out.push(r),
        );
        out
    };
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].kind, ErrorKind::Io);
    assert_eq!(&*out.errors[0].origin.file, "/nonexistent/trustpath/x.json");
}

/// Runs only as the child of `stdin_is_read`: reads `-` and prints what it got.
#[test]
fn stdin_child() {
    if std::env::var_os("TP_READ_STDIN_CHILD").is_none() {
        return;
    }
    let mut records = 0;
    let mut errors = 0;
    let mut files = std::collections::BTreeSet::new();
    read_input(&Input::Stdin, &ReadOptions::default(), &mut |r| match r {
        Ok(rec) => {
            records += 1;
            files.insert(rec.origin.file.to_string());
        }
        Err(_) => errors += 1,
    });
    println!("STDIN-RESULT records={records} errors={errors} files={files:?}");
}

#[test]
fn stdin_is_read() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("test binary");
    let run = |data: Vec<u8>| -> String {
        let mut child = Command::new(&exe)
            .args(["--exact", "stdin_child", "--nocapture", "--test-threads=1"])
            .env("TP_READ_STDIN_CHILD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("writer");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.find("STDIN-RESULT").map(|i| l[i..].to_string()))
            .unwrap_or_else(|| panic!("no result line in {text:?}"))
    };
    assert_eq!(
        run(gzip(&fixture("ual.jsonl"))),
        r#"STDIN-RESULT records=3 errors=0 files={"-"}"#
    );
    assert_eq!(
        run(zip(&[("a.csv", &fixture("purview_new.csv"))])),
        r#"STDIN-RESULT records=3 errors=0 files={"-!a.csv"}"#
    );
}
