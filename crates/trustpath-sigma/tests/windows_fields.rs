//! Field names and times as SigmaHQ rules expect them, through read → normalize → match:
//!
//! * Windows Defender writes EventData names with spaces (`Threat Name`, `Source Name`,
//!   `Process Name`); SigmaHQ's `windefend` rules say `ThreatName`, `SourceName`,
//!   `ProcessName`. Both spellings address the value.
//! * A flat Sysmon record without `TimeCreated`/`@timestamp` takes Sysmon's `UtcTime`;
//!   one with no time at all is still matched by stateless rules, flagged
//!   `tp.time_missing`.
//!
//! The records are written from the documented shapes (Defender event 1119 "The
//! antimalware platform encountered a critical error when trying to take action on
//! malware", Sysmon event 1), not copied from any corpus.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use trustpath_event::{Event, Format, Origin, RawRecord, norm};
use trustpath_normalize::NormalizeOptions;
use trustpath_sigma::{LoadOptions, RuleSet};

/// A Defender 1119 record as evtx_dump renders it.
fn defender_1119(threat: &str, path: &str, process: &str) -> Value {
    json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {
                "Name": "Microsoft-Windows-Windows Defender",
                "Guid": "11CD958A-C507-4EF3-B3F2-5FD9DFBD2C78"}},
            "EventID": 1119,
            "Channel": "Microsoft-Windows-Windows Defender/Operational",
            "Computer": "ws-017.corp.example",
            "EventRecordID": 4711,
            "TimeCreated": {"#attributes": {"SystemTime": "2026-04-20T09:15:02.123456Z"}}
        },
        "EventData": {
            "Product Name": "Microsoft Defender Antivirus",
            "Threat Name": threat,
            "Severity Name": "Severe",
            "Category Name": "Virus",
            "Path": path,
            "Source Name": "Real-Time Protection",
            "Process Name": process,
            "Action Name": "Quarantine",
            "Error Description": "The process cannot access the file because it is being used by another process."
        }
    }})
}

fn normalize(format: Format, value: Value) -> Event {
    trustpath_normalize::normalize(
        RawRecord {
            origin: Origin::file("test").with_line(1),
            format,
            fields: trustpath_event::fields_from(value),
        },
        &NormalizeOptions::default(),
    )
    .unwrap()
}

/// The detection logic of SigmaHQ's RedSun rule (a7c3e5f2-…), written with the names
/// SigmaHQ uses.
const REDSUN_STYLE: &str = r"
title: Defender failed to remediate EICAR in a RedSun staging folder
id: 6f0c2a8e-0d55-4a57-9e58-6c1a2b3d4e5f
logsource:
    product: windows
    service: windefend
detection:
    selection_eid:
        EventID: 1119
        SourceName: 'Real-Time Protection'
    selection_susp_path:
        Path|endswith: '\TieringEngineService.exe'
        ThreatName|endswith: 'EICAR_Test_File'
    selection_susp_process:
        ProcessName|endswith: '\RedSun.exe'
    condition: selection_eid and 1 of selection_susp_*
level: critical
";

fn matches(rules: &RuleSet, event: &Event) -> usize {
    let mut out = Vec::new();
    rules.compile().matches(event, &mut out);
    out.len()
}

#[test]
fn defender_names_with_spaces_match_sigmahq_names() {
    let (rules, errors) = RuleSet::from_str("redsun.yml", REDSUN_STYLE, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let staged = normalize(
        Format::EvtxJson,
        defender_1119(
            "Virus:DOS/EICAR_Test_File",
            r"file:_C:\Users\a\AppData\Local\Temp\3\RS-{0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0}\TieringEngineService.exe",
            r"C:\Windows\explorer.exe",
        ),
    );
    assert_eq!(staged.get("ThreatName"), staged.get("Threat Name"));
    assert_eq!(
        staged.get("SourceName"),
        Some(&json!("Real-Time Protection"))
    );
    assert_eq!(matches(&rules, &staged), 1, "{:?}", staged.fields);
    let by_process = normalize(
        Format::EvtxJson,
        defender_1119(
            "Trojan:Win32/Wacatac.B!ml",
            r"file:_C:\Users\a\Downloads\tool.exe",
            r"C:\Users\a\Downloads\RedSun.exe",
        ),
    );
    assert_eq!(matches(&rules, &by_process), 1);
    // Look-alikes that stay silent: EICAR dropped by an admin's test outside the staging
    // folder, and a TieringEngineService.exe flagged for another threat.
    let admin_test = normalize(
        Format::EvtxJson,
        defender_1119(
            "Virus:DOS/EICAR_Test_File",
            r"file:_C:\Users\admin\Desktop\eicar.com",
            r"C:\Windows\explorer.exe",
        ),
    );
    assert_eq!(matches(&rules, &admin_test), 0);
    let other_threat = normalize(
        Format::EvtxJson,
        defender_1119(
            "Trojan:Win32/Wacatac.B!ml",
            r"file:_C:\Windows\System32\TieringEngineService.exe",
            r"C:\Windows\explorer.exe",
        ),
    );
    assert_eq!(matches(&rules, &other_threat), 0);
}

/// SigmaHQ's own RedSun rule, when `../shared` has it, matches the staged record.
#[test]
fn sigmahq_redsun_rule_matches_the_staged_record() {
    let Some(shared) = trustpath_testkit::shared_dir("sigmahq_redsun_rule_matches") else {
        return;
    };
    let rule = shared.join("sigma/rules-emerging-threats/2026/Exploits/RedSun/win_defender_exploit_redsun_tiering_engine_detected_as_eicar.yml");
    if !rule.exists() {
        println!(
            "SKIPPED sigmahq_redsun_rule_matches: {} not found",
            rule.display()
        );
        return;
    }
    let (rules, errors) = RuleSet::load(&[rule], &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let staged = normalize(
        Format::EvtxJson,
        defender_1119(
            "Virus:DOS/EICAR_Test_File",
            r"file:_C:\Users\a\AppData\Local\Temp\3\RS-{0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0}\TieringEngineService.exe",
            r"C:\Windows\explorer.exe",
        ),
    );
    assert_eq!(matches(&rules, &staged), 1);
}

/// A flat Sysmon 1 record (EventData and System names at the top level, no System time).
fn flat_sysmon(utc_time: Option<&str>) -> Value {
    let mut v = json!({
        "RuleName": "-",
        "ProcessId": 14144,
        "Image": r"C:\Windows\System32\reg.exe",
        "CommandLine": r#""C:\WINDOWS\system32\reg.exe" add "HKCU\Software\Microsoft\Windows Script\Settings" /v AmsiEnable /t REG_DWORD /d 0 /f"#,
        "User": r"CORP\alice",
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": "ws-017.corp.example"
    });
    if let (Some(t), Some(map)) = (utc_time, v.as_object_mut()) {
        map.insert("UtcTime".into(), json!(t));
    }
    v
}

const AMSI: &str = r"
title: AMSI disabled through reg.exe
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\reg.exe'
        CommandLine|contains|all: ['Windows Script\Settings', 'AmsiEnable']
    condition: selection
";

#[test]
fn flat_sysmon_takes_utctime_or_is_kept_without_a_time() {
    let (rules, errors) = RuleSet::from_str("amsi.yml", AMSI, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let timed = normalize(
        Format::FlatWindowsJson,
        flat_sysmon(Some("2025-12-25 14:30:27.352")),
    );
    assert_eq!(timed.time.to_string(), "2025-12-25T14:30:27.352Z");
    assert!(!timed.time_missing());
    assert_eq!(matches(&rules, &timed), 1);

    let untimed = normalize(Format::FlatWindowsJson, flat_sysmon(None));
    assert!(untimed.time_missing());
    assert_eq!(untimed.get(norm::TIME_MISSING), Some(&json!(true)));
    assert!(
        untimed.get("TimeCreated").is_none(),
        "no made-up TimeCreated"
    );
    assert_eq!(matches(&rules, &untimed), 1, "stateless rules still match");
    let mut summary = trustpath_event::FileSummary::new("x");
    summary.add_event(&timed);
    summary.add_event(&untimed);
    assert_eq!((summary.events, summary.no_time), (2, 1));
    assert_eq!(
        summary.time.first, summary.time.last,
        "the epoch is not a time"
    );

    // Cloud records still need their time.
    let ual = trustpath_normalize::normalize(
        RawRecord {
            origin: Origin::file("ual").with_line(1),
            format: Format::UalJson,
            fields: trustpath_event::fields_from(
                json!({"Id": "x", "Operation": "MailItemsAccessed", "RecordType": 50}),
            ),
        },
        &NormalizeOptions::default(),
    );
    assert!(ual.is_err());
}
