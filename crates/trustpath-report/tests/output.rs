//! What people and machines read: the terminal table (width, colour, collapsed evidence,
//! summary for large runs, legend), the Sigma match details in every format, and the
//! streaming writers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use trustpath_event::Origin;
use trustpath_report::{
    Attack, ColorChoice, Entities, Evidence, FieldValue, Finding, FindingKind, Level, MatchedField,
    OutputFormat, RuleRef, Severity, TableOptions, Window,
};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn evidence(step: &str, time: &str, summary: &str, ip: Option<&str>, line: u64) -> Evidence {
    Evidence {
        step: step.to_owned(),
        time: ts(time),
        origin: Origin::file("logs/ual.jsonl").with_line(line),
        source: "m365_audit/ual_json".to_owned(),
        summary: summary.to_owned(),
        record_id: None,
        ip: ip.map(str::to_owned),
    }
}

fn chain(id: &str, level: Level, authorized: Option<&str>) -> Finding {
    let mut ev = vec![evidence(
        "1",
        "2025-03-11T22:40:51Z",
        "Add-MailboxPermission actor=tech@fabrikam.example target=payroll@contoso.com",
        None,
        1,
    )];
    for i in 0..12 {
        ev.push(evidence(
            "3",
            &format!("2025-03-12T01:{:02}:00Z", i * 3),
            "MailItemsAccessed actor=tech@fabrikam.example ip=198.51.100.23",
            Some("198.51.100.23"),
            10 + i,
        ));
    }
    let mut severity = Severity::base(level, "complete chain");
    severity.raise("payroll@contoso.com is a sensitive mailbox");
    Finding {
        id: id.to_owned(),
        time: ts("2025-03-11T22:40:51Z"),
        analytic: Some("AN1350".to_owned()),
        title: "Partner trust path to mailbox access".to_owned(),
        kind: FindingKind::Alert,
        attack: Attack {
            technique: vec!["T1098.002".to_owned()],
            ..Attack::default()
        },
        rule: RuleRef {
            id: "an1350".to_owned(),
            title: "AN1350 partner chain".to_owned(),
            level: "high".to_owned(),
        },
        severity,
        authorized: authorized.map(str::to_owned),
        entities: Entities {
            tenant: Some("contoso.onmicrosoft.com".to_owned()),
            partner: Some("Fabrikam".to_owned()),
            actor: Some("tech@fabrikam.example".to_owned()),
            mailbox: Some("payroll@contoso.com".to_owned()),
            ips: vec!["198.51.100.23".to_owned()],
            ..Entities::default()
        },
        window: Window {
            start: ts("2025-03-11T22:40:51Z"),
            end: ts("2025-03-12T01:33:00Z"),
        },
        evidence: ev,
        rollback: vec!["Remove-MailboxPermission -Identity 'payroll@contoso.com' -User 'tech@fabrikam.example' -AccessRights FullAccess -Confirm:$false".to_owned()],
        matched: Vec::new(),
        fields: Vec::new(),
    }
}

fn sigma(id: &str, host: &str, level: Level, minute: u32) -> Finding {
    Finding {
        id: id.to_owned(),
        time: ts(&format!("2025-03-10T10:{minute:02}:00Z")),
        analytic: None,
        title: "Suspicious Certutil Download".to_owned(),
        kind: FindingKind::Alert,
        attack: Attack::default(),
        rule: RuleRef {
            id: "e011a729".to_owned(),
            title: "Suspicious Certutil Download".to_owned(),
            level: level.as_str().to_owned(),
        },
        severity: Severity::base(level, "rule level"),
        authorized: None,
        entities: Entities {
            host: Some(host.to_owned()),
            actor: Some("CONTOSO\\jdoe".to_owned()),
            ..Entities::default()
        },
        window: Window {
            start: ts(&format!("2025-03-10T10:{minute:02}:00Z")),
            end: ts(&format!("2025-03-10T10:{minute:02}:00Z")),
        },
        evidence: vec![Evidence {
            step: "match".to_owned(),
            time: ts(&format!("2025-03-10T10:{minute:02}:00Z")),
            origin: Origin::file("host.evtx").with_record(7),
            source: "windows/evtx".to_owned(),
            summary: "EventID 4688 actor=CONTOSO\\jdoe host=WS1".to_owned(),
            record_id: Some("7".to_owned()),
            ip: None,
        }],
        rollback: Vec::new(),
        matched: vec![
            MatchedField {
                selection: "selection_img".to_owned(),
                field: "NewProcessName".to_owned(),
                value: "C:\\Windows\\System32\\certutil.exe".to_owned(),
            },
            MatchedField {
                selection: "selection_cli".to_owned(),
                field: "CommandLine".to_owned(),
                value: "certutil -urlcache -f http://x/a.exe".to_owned(),
            },
        ],
        fields: vec![FieldValue {
            field: "ParentImage".to_owned(),
            value: "C:\\Windows\\explorer.exe".to_owned(),
        }],
    }
}

fn table(findings: &[Finding], options: TableOptions) -> String {
    let mut out = Vec::new();
    trustpath_report::write_findings_with(&mut out, OutputFormat::Table, findings, options)
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn width_of(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn table_fits_the_width_and_collapses_evidence() {
    let findings = vec![chain("a1", Level::High, None)];
    for width in [80u16, 100, 160] {
        let text = table(
            &findings,
            TableOptions {
                width,
                ..TableOptions::default()
            },
        );
        assert!(width_of(&text) <= width as usize, "width {width}:\n{text}");
    }
    let text = table(&findings, TableOptions::default());
    // Twelve identical reads are one line, with the IP and first/last times.
    assert!(text.contains("12× MailItemsAccessed"), "{text}");
    assert!(text.contains("198.51.100.23"));
    assert!(text.contains("first 2025-03-12 01:00"), "{text}");
    assert!(text.contains("last 2025-03-12 01:33"), "{text}");
    assert_eq!(text.matches("MailItemsAccessed").count(), 1, "{text}");
    // The legend once, in plain words.
    assert_eq!(text.matches("Evidence: N×").count(), 1);
    assert!(text.contains("file:line = line"));
    // No colour unless asked.
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn colour_follows_the_choice_and_no_color() {
    let findings = vec![chain("a1", Level::Critical, None)];
    let coloured = table(
        &findings,
        TableOptions {
            color: true,
            ..TableOptions::default()
        },
    );
    assert!(coloured.contains("\u{1b}["), "{coloured}");
    let empty = std::ffi::OsStr::new("");
    let set = std::ffi::OsStr::new("1");
    assert!(ColorChoice::Auto.enabled(true, None));
    assert!(ColorChoice::Auto.enabled(true, Some(empty)));
    assert!(!ColorChoice::Auto.enabled(true, Some(set)), "NO_COLOR");
    assert!(!ColorChoice::Auto.enabled(false, None), "not a terminal");
    assert!(ColorChoice::Always.enabled(false, Some(set)));
    assert!(!ColorChoice::Never.enabled(true, None));
    assert_eq!(ColorChoice::parse("ALWAYS"), Some(ColorChoice::Always));
}

#[test]
fn sigma_findings_show_why_in_every_format() {
    let f = sigma("s1", "WS1", Level::High, 1);
    let details = f.details();
    assert_eq!(
        details,
        "NewProcessName: C:\\Windows\\System32\\certutil.exe ¦ CommandLine: certutil -urlcache -f http://x/a.exe ¦ ParentImage: C:\\Windows\\explorer.exe"
    );
    let text = table(std::slice::from_ref(&f), TableOptions::default());
    assert!(text.contains("details: NewProcessName:"), "{text}");
    assert!(text.contains("certutil -urlcache"), "{text}");

    let mut jsonl = Vec::new();
    trustpath_report::write_findings(&mut jsonl, OutputFormat::Jsonl, std::slice::from_ref(&f))
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&jsonl).unwrap();
    assert_eq!(v["matched"][1]["field"], "CommandLine");
    assert_eq!(v["matched"][1]["selection"], "selection_cli");
    assert_eq!(v["fields"][0]["field"], "ParentImage");

    let mut csv = Vec::new();
    trustpath_report::write_findings(&mut csv, OutputFormat::Csv, std::slice::from_ref(&f))
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().next().unwrap().ends_with("details,rule_fields"));
    assert!(csv.contains("CommandLine: certutil -urlcache -f http://x/a.exe"));
    assert!(csv.contains("ParentImage: C:\\Windows\\explorer.exe"));

    let o = trustpath_report::to_ocsf(&f);
    assert_eq!(
        o["evidences"][0]["data"]["matched"][0]["field"],
        "NewProcessName"
    );
    assert_eq!(
        o["evidences"][0]["data"]["fields"]["ParentImage"],
        "C:\\Windows\\explorer.exe"
    );
    assert!(
        o["finding_info"]["desc"]
            .as_str()
            .unwrap()
            .contains("CommandLine: certutil")
    );
}

#[test]
fn large_runs_start_with_a_summary_and_show_the_worst() {
    let mut findings = Vec::new();
    for i in 0..120u32 {
        let level = if i % 40 == 7 {
            Level::Critical
        } else {
            Level::Low
        };
        findings.push(sigma(
            &format!("s{i:03}"),
            &format!("WS{}", i % 7),
            level,
            i % 60,
        ));
    }
    findings.push(chain("auth", Level::Critical, Some("CHG0041")));
    let text = table(&findings, TableOptions::default());
    assert!(text.starts_with("121 findings: a summary first"), "{text}");
    for header in ["By rule", "By analytic", "By tenant", "By host"] {
        assert!(text.contains(header), "{header}: {text}");
    }
    assert!(text.contains("71 more: use -f jsonl"), "{text}");
    // Open findings first, the worst of them on top: the three open criticals lead, and
    // the authorised critical waits behind fifty open ones.
    assert_eq!(text.matches("CRITICAL").count(), 3, "{text}");
    let rows = text.split("When (UTC)").nth(1).unwrap();
    assert!(rows.find("CRITICAL").unwrap() < rows.find("low").unwrap());
    assert!(!text.contains("authorised CHG0041"), "{text}");
}

#[test]
fn streaming_writers_write_as_they_go() {
    let f = sigma("s1", "WS1", Level::High, 1);
    for format in [OutputFormat::Jsonl, OutputFormat::Ocsf, OutputFormat::Csv] {
        let mut out = Vec::new();
        {
            let mut w = trustpath_report::writer(&mut out, format, TableOptions::default());
            w.write(&f).unwrap();
            w.write(&f).unwrap();
            w.finish().unwrap();
        }
        let lines = String::from_utf8(out).unwrap().lines().count();
        let expected = if format == OutputFormat::Csv { 3 } else { 2 };
        assert_eq!(lines, expected, "{format:?}");
    }
    let mut out = Vec::new();
    trustpath_report::writer(&mut out, OutputFormat::Table, TableOptions::default())
        .finish()
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "No findings.\n");
}

#[test]
fn line_formats_encode_what_their_writers_write_and_the_others_do_not_encode() {
    // A hostile value too: the encoded line escapes it exactly as the writer does.
    let mut f = sigma("s1", "WS1\u{1b}]8;;http://evil\u{7}", Level::High, 1);
    f.matched[1].value = "a\r\n\u{202E}\"}".to_owned();
    for format in [OutputFormat::Jsonl, OutputFormat::Ocsf] {
        let mut written = Vec::new();
        let mut encoded = Vec::new();
        {
            let mut w = trustpath_report::writer(&mut written, format, TableOptions::default());
            w.write(&f).unwrap();
            let encode = w.encoder().expect("a line format has an encoder");
            let mut more = Vec::new();
            encode.encode(&f, &mut encoded).unwrap();
            encode.encode(&f, &mut more).unwrap();
            w.write_encoded(&more).unwrap();
            w.finish().unwrap();
        }
        encoded.extend_from_slice(&encoded.clone());
        assert_eq!(written, encoded, "{format:?}");
        assert!(!written.contains(&0x1b), "{format:?}: no raw escape");
    }
    for format in [OutputFormat::Table, OutputFormat::Csv] {
        let mut out = Vec::new();
        let mut w = trustpath_report::writer(&mut out, format, TableOptions::default());
        assert!(w.encoder().is_none(), "{format:?}");
        assert!(
            w.write_encoded(b"{}\n").is_err(),
            "{format:?} refuses bytes"
        );
    }
}

#[test]
fn hostile_values_stay_text_in_the_table() {
    let mut f = sigma("s1", "WS1\u{1b}]8;;http://evil\u{7}", Level::High, 1);
    f.matched[1].value = "a\r\nFAKE ROW\u{202E}".to_owned();
    let text = table(
        &[f],
        TableOptions {
            color: false,
            ..TableOptions::default()
        },
    );
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(!text.contains('\u{202E}'));
    assert!(text.contains("\\u{1B}"));
    assert!(!text.lines().any(|l| l.starts_with("FAKE ROW")));
}
