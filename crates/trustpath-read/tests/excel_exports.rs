//! CSV exports as Excel re-saves them (issue 13 point 2): Windows-1252, `;` and tab
//! delimiters, UTF-16, and the files of a case folder that are not logs. Rows are built
//! from the documented Purview columns (`CreationDate, UserIds, Operations, AuditData`,
//! `AuditData` holding the unified audit record as JSON).

use std::path::Path;
use trustpath_read::{
    Input, ReadOptions, Sniffed, TextEncoding, not_a_log, read_input_to_vec, sniff,
};

fn audit(id: usize, user: &str) -> String {
    serde_json::json!({
        "CreationTime": "2025-03-06T09:00:18",
        "Id": format!("00000000-0000-4000-8000-{id:012}"),
        "Operation": "Add-MailboxPermission",
        "OrganizationId": "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34",
        "RecordType": 1,
        "ResultStatus": "True",
        "UserId": user,
        "Workload": "Exchange",
        "ObjectId": "cfo@contoso.com",
        "Parameters": [
            {"Name": "Identity", "Value": "cfo@contoso.com"},
            {"Name": "User", "Value": "consultant@fabrikam-msp.com"},
            {"Name": "AccessRights", "Value": "FullAccess"}
        ],
        "ClientIP": "198.18.10.33; proxy"
    })
    .to_string()
}

/// A Purview CSV with `rows` rows, fields split by `delimiter`, quoted as Excel quotes.
fn purview(rows: usize, delimiter: char, user_of: impl Fn(usize) -> String) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let d = delimiter.to_string();
    let mut out = ["CreationDate", "UserIds", "Operations", "AuditData"].join(&d);
    out.push_str("\r\n");
    for i in 0..rows {
        let user = user_of(i);
        let fields = [
            "06/03/2025 09:00".to_owned(),
            user.clone(),
            "Add-MailboxPermission".to_owned(),
            quote(&audit(i, &user)),
        ];
        out.push_str(&fields.join(&d));
        out.push_str("\r\n");
    }
    out
}

fn read(path: &Path) -> (Vec<serde_json::Value>, Vec<String>) {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for item in read_input_to_vec(&Input::File(path.to_path_buf()), &ReadOptions::default()) {
        match item {
            Ok(raw) => values.push(raw.to_value()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (values, errors)
}

fn users(values: &[serde_json::Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v["AuditData"]["UserId"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[test]
fn windows_1252_is_read_even_when_the_first_accent_is_past_the_sniffed_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    // ~1 KB a row: row 200 is well past the 64 KiB the reader sniffs.
    let text = purview(220, ',', |i| {
        if i == 200 {
            "jürgen.müller@contoso.com".into()
        } else {
            format!("user{i}@contoso.com")
        }
    });
    assert!(text.find("jürgen").expect("name") > 64 * 1024);
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    let path = dir.path().join("late-accent.csv");
    std::fs::write(&path, &bytes).expect("write");
    assert_eq!(sniff(&bytes[..64 * 1024]), Sniffed::Csv(TextEncoding::Utf8));
    let (values, errors) = read(&path);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(values.len(), 220);
    assert_eq!(users(&values)[200], "jürgen.müller@contoso.com");

    // The accent inside the prefix: the whole file is Windows-1252.
    let text = purview(3, ',', |i| {
        if i == 0 {
            "jürgen.müller@contoso.com".into()
        } else {
            format!("u{i}@contoso.com")
        }
    });
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    assert_eq!(sniff(&bytes), Sniffed::Csv(TextEncoding::Windows1252));
    let path = dir.path().join("early-accent.csv");
    std::fs::write(&path, &bytes).expect("write");
    let (values, errors) = read(&path);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(users(&values)[0], "jürgen.müller@contoso.com");
}

#[test]
fn semicolon_and_tab_exports_are_split_on_their_delimiter() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, delimiter) in [("semicolon.csv", ';'), ("tab.txt", '\t')] {
        let path = dir.path().join(name);
        let mut bytes = vec![0xef, 0xbb, 0xbf];
        bytes.extend_from_slice(purview(3, delimiter, |i| format!("u{i}@contoso.com")).as_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let (values, errors) = read(&path);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(values.len(), 3, "{name}");
        // The ';' inside the quoted JSON did not split it.
        assert_eq!(
            values[0]["AuditData"]["ClientIP"], "198.18.10.33; proxy",
            "{name}"
        );
        assert_eq!(values[0]["Operations"], "Add-MailboxPermission", "{name}");
    }
}

#[test]
fn a_comma_export_with_semicolons_in_its_json_stays_comma_separated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("comma.csv");
    std::fs::write(&path, purview(2, ',', |i| format!("u{i}@contoso.com"))).expect("write");
    let (values, errors) = read(&path);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(values.len(), 2);
    assert_eq!(values[1]["AuditData"]["ClientIP"], "198.18.10.33; proxy");
}

#[test]
fn excel_unicode_text_is_utf16_with_tabs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = purview(2, '\t', |_| "jürgen.müller@contoso.com".into());
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(sniff(&bytes), Sniffed::Csv(TextEncoding::Utf16Le));
    let path = dir.path().join("unicode.txt");
    std::fs::write(&path, &bytes).expect("write");
    let (values, errors) = read(&path);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(users(&values), vec!["jürgen.müller@contoso.com"; 2]);
}

#[test]
fn files_that_are_not_logs_are_recognised_and_logs_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let not_logs = [
        write("shot.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        write("photo.bin", b"\xff\xd8\xff\xe0\0\x10JFIF"),
        write("report.pdf", b"%PDF-1.7\n"),
        write("report", b"%PDF-1.4\n"),
        write("evidence.xlsx", b"PK\x03\x04[Content_Types].xml"),
        write("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
        write(
            "notes.txt",
            b"Call with the CFO at 10:00.\nDelegates look odd.\n",
        ),
        write(
            "tool.log",
            b"[2025-03-08 10:12:01] INFO  Connecting\n[2025-03-08 10:12:05] INFO  Done\n",
        ),
    ];
    for path in &not_logs {
        assert!(not_a_log(path).is_some(), "{} is not a log", path.display());
    }
    let logs = [
        write("ual.json", b"[{\"CreationTime\":\"2025-03-06T09:00:18\"}]"),
        write("ual.jsonl", b"{\"Id\":1}\n{\"Id\":2}\n"),
        // JSON Lines whose first line is damaged is still a log (its lines are reported).
        write("damaged.jsonl", b"{\"Id\":1,,}\n{\"Id\":2}\n"),
        write("pretty.json", b"{\n  \"Id\": 1\n}\n"),
        write(
            "export.csv",
            purview(1, ',', |_| "u@contoso.com".into()).as_bytes(),
        ),
        write(
            "export.txt",
            purview(1, '\t', |_| "u@contoso.com".into()).as_bytes(),
        ),
        write("logs.zip", b"PK\x03\x04rest"),
        write("events.gz", b"\x1f\x8b\x08\0"),
        write("binary.dat", b"MZ\x90\0\x03\0\0\0\x04\0"),
    ];
    for path in &logs {
        assert!(not_a_log(path).is_none(), "{} must be read", path.display());
    }
}
