//! `trustpath hunt` on NXLog records whose `EventTime` is the host's local time without a
//! zone: with the host in `[host_timezones]` the 4104 lands at its UTC time and joins the
//! ExchangeAdmin record of the same change (one AN1052 finding); without it the record is
//! kept and stderr warns, naming the host. Records written here from the documented
//! shapes (NXLog im_msvistalog + to_json; Management Activity API ExchangeAdmin).

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

fn hunt(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .arg("hunt")
        .arg(dir.join("nxlog-sea.jsonl"))
        .arg(dir.join("ual.jsonl"))
        .args(extra)
        .args(["--format", "jsonl"])
        .output()
        .expect("run trustpath")
}

fn an1052(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|f| f["analytic"] == "AN1052")
        .collect()
}

fn evidence_times(finding: &Value) -> Vec<String> {
    finding["evidence"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["time"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn nxlog_local_event_time_is_placed_or_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "Add-RecipientPermission -Identity ap@northwindgear.com -Trustee billing@vendor-example.org -AccessRights SendAs -Confirm:$false";
    // Seattle in January: UTC-8. 09:45:10 local = 17:45:10 UTC.
    let host = json!({"EventTime": "2026-01-20 09:45:10", "Hostname": "SEA-WS12.northwindgear.local",
        "Keywords": "0x0", "EventType": "VERBOSE", "SeverityValue": 1, "Severity": "DEBUG",
        "EventID": 4104, "SourceName": "Microsoft-Windows-PowerShell",
        "ProviderGuid": "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}", "Version": 1, "TaskValue": 2,
        "OpcodeValue": 15, "RecordNumber": 40417, "ExecutionProcessID": 3100,
        "ExecutionThreadID": 3320, "Channel": "Microsoft-Windows-PowerShell/Operational",
        "UserID": "S-1-5-21-2716114152-3911122470-1580203133-1642", "AccountType": "User",
        "MessageNumber": "1", "MessageTotal": "1", "ScriptBlockText": text,
        "ScriptBlockId": "e2d7c5b1-90aa-4c1e-b3f6-7a8d9c0b1e2f", "Path": "",
        "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog",
        "EventReceivedTime": "2026-01-20 09:45:11"});
    let ual = json!({"CreationTime": "2026-01-20T17:45:12", "Id": "b0f4d1c2-8e3a-4f57-9a6b-1c2d3e4f5a60",
        "Operation": "Add-RecipientPermission", "OrganizationId": "4d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a",
        "RecordType": 1, "ResultStatus": "True", "UserKey": "1003200A1B2C3D4E", "UserType": 2,
        "Version": 1, "Workload": "Exchange", "ObjectId": "ap", "UserId": "kim.lee@northwindgear.com",
        "ClientIP": "198.18.22.7:50110", "ExternalAccess": false,
        "Parameters": [{"Name": "Identity", "Value": "ap@northwindgear.com"},
                       {"Name": "Trustee", "Value": "billing@vendor-example.org"},
                       {"Name": "AccessRights", "Value": "SendAs"}]});
    std::fs::write(dir.path().join("nxlog-sea.jsonl"), format!("{host}\n")).expect("write");
    std::fs::write(dir.path().join("ual.jsonl"), format!("{ual}\n")).expect("write");

    let warned = hunt(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(
        stderr.contains("sea-ws12.northwindgear.local") && stderr.contains("without a time zone"),
        "{stderr}"
    );
    let alone = an1052(&warned);
    assert_eq!(alone.len(), 1, "{alone:#?}");
    assert_eq!(
        evidence_times(&alone[0]),
        vec!["2026-01-20T09:45:10Z".to_owned()]
    );

    let context = dir.path().join("trustpath.toml");
    std::fs::write(
        &context,
        "[host_timezones]\n\"SEA-WS12\" = \"America/Los_Angeles\"\n",
    )
    .expect("write");
    let context = context.to_string_lossy().into_owned();
    let placed = hunt(dir.path(), &["--context", &context]);
    let stderr = String::from_utf8_lossy(&placed.stderr);
    assert!(!stderr.contains("without a time zone"), "{stderr}");
    let joined = an1052(&placed);
    assert_eq!(joined.len(), 1, "{joined:#?}");
    assert_eq!(
        evidence_times(&joined[0]),
        vec![
            "2026-01-20T17:45:10Z".to_owned(),
            "2026-01-20T17:45:12Z".to_owned()
        ]
    );
}
