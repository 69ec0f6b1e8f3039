//! AN1052's contract (its README): host events are grouped by host, actor and time when
//! the mailbox or trustee are variables, never across hosts; ExchangeAdmin records join
//! on resolved values or on actor and time; a zone-less NXLog `EventTime` is placed in the
//! host's time zone from `[host_timezones]`, or kept and flagged; Elastic Agent (ECS)
//! PowerShell documents are read. Fixtures are written here from the documented record
//! shapes (evtx_dump JSON, NXLog im_msvistalog JSON, Winlogbeat/Elastic Agent ECS, the
//! Management Activity API's ExchangeAdmin schema) — none is copied from elsewhere.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use trustpath_context::Context;
use trustpath_report::Finding;

struct Hunt {
    findings: Vec<Finding>,
    events: u64,
    zone_less_hosts: Vec<String>,
}

/// A hunt as `trustpath hunt` runs it (the production [`trustpath_hunt::hunt_collect`]),
/// `[host_timezones]` included.
fn hunt(paths: &[PathBuf], context: Context) -> Hunt {
    let run = trustpath_hunt::hunt_collect(&trustpath_hunt::HuntOptions {
        input: trustpath_hunt::InputOptions {
            paths: paths.to_vec(),
            ..Default::default()
        },
        context: trustpath_hunt::ContextChoice::Given(Box::new(context)),
        ..Default::default()
    })
    .expect("hunt");
    assert!(
        run.problems.analytics.is_empty(),
        "{:?}",
        run.problems.analytics
    );
    assert_eq!(run.summary.skipped(), 0, "{:?}", run.errors);
    Hunt {
        events: run.summary.files.iter().map(|f| f.events).sum(),
        zone_less_hosts: run
            .summary
            .files
            .iter()
            .flat_map(|f| f.zone_less_hosts.keys().cloned())
            .collect(),
        findings: run.findings,
    }
}

fn write(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).expect("write fixture");
    path
}

/// A 4104 as `evtx_dump -o jsonl` writes it.
fn evtx_4104(computer: &str, record: u64, time: &str, sid: &str, text: &str) -> Value {
    json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell",
                                          "Guid": "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}"}},
            "EventID": 4104, "Version": 1, "Level": 5, "Task": 2, "Opcode": 15,
            "Keywords": "0x0", "TimeCreated": {"#attributes": {"SystemTime": time}},
            "EventRecordID": record, "Correlation": null,
            "Execution": {"#attributes": {"ProcessID": 6120, "ThreadID": 7012}},
            "Channel": "Microsoft-Windows-PowerShell/Operational", "Computer": computer,
            "Security": {"#attributes": {"UserID": sid}}
        },
        "EventData": {"MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": text,
                      "ScriptBlockId": format!("5d0e7c1a-3b2f-4e8d-9a61-{record:012}"), "Path": ""}
    }})
}

/// An ExchangeAdmin record (RecordType 1) of the Management Activity API.
fn exchange_admin(
    id: &str,
    time: &str,
    user: &str,
    cmdlet: &str,
    params: &[(&str, &str)],
) -> Value {
    let params: Vec<Value> = params
        .iter()
        .map(|(n, v)| json!({"Name": n, "Value": v}))
        .collect();
    json!({"CreationTime": time, "Id": id, "Operation": cmdlet,
           "OrganizationId": "0b7c5e2d-4a91-4f3e-8c6d-2e1f0a9b8c7d", "RecordType": 1,
           "ResultStatus": "True", "UserKey": "10032001A2B3C4D5", "UserType": 2, "Version": 1,
           "Workload": "Exchange", "ClientIP": "198.18.4.20:51022", "ObjectId": "",
           "UserId": user, "AppId": "", "ClientAppId": "", "ExternalAccess": false,
           "OrganizationName": "fabrikamtoys.onmicrosoft.com",
           "OriginatingServer": "AM0PR01MB1234 (15.20.8000.010)", "Parameters": params,
           "SessionId": "3e9f3f0e-7a55-4d7b-9d38-6a1c8b7e2f10"})
}

fn cites(finding: &Finding, time: &str, source_hint: &str) -> bool {
    finding
        .evidence
        .iter()
        .any(|e| e.time.to_string() == time && e.origin.to_string().contains(source_hint))
}

fn of<'a>(hunt: &'a Hunt, analytic: &str) -> Vec<&'a Finding> {
    hunt.findings
        .iter()
        .filter(|f| f.analytic.as_deref() == Some(analytic))
        .collect()
}

/// Scripts that take mailboxes from variables on two hosts, 40 minutes apart, and the
/// audit record of one of them: one finding per host, the record joined to its host's
/// script by actor and time (it names the same cmdlet), nothing merged across hosts,
/// and no rollback or mailbox named from a variable. Look-alikes on the same hosts
/// (read-only cmdlet, removal, a comment naming the cmdlet, a failed Exchange cmdlet)
/// are cited by nothing.
#[test]
fn unresolved_variables_group_by_host_and_join_by_actor_and_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = write(
        dir.path(),
        "hosts.jsonl",
        &[
            evtx_4104(
                "FIN-PC04.fabrikamtoys.local",
                7001,
                "2025-05-12T08:15:02.000000Z",
                "S-1-5-21-1004336348-1177238915-682003330-3101",
                "$boxes = Import-Csv .\\handover.csv\nforeach ($row in $boxes) {\n  Add-MailboxPermission -Identity $row.Mailbox -User $row.Delegate -AccessRights FullAccess -AutoMapping:$false\n}",
            ),
            evtx_4104(
                "FIN-PC04.fabrikamtoys.local",
                7002,
                "2025-05-12T08:16:40.000000Z",
                "S-1-5-21-1004336348-1177238915-682003330-3101",
                "Get-MailboxPermission -Identity $row.Mailbox | Format-Table -AutoSize",
            ),
            evtx_4104(
                "FIN-PC04.fabrikamtoys.local",
                7003,
                "2025-05-12T08:17:10.000000Z",
                "S-1-5-21-1004336348-1177238915-682003330-3101",
                "<# Add-MailboxPermission -Identity $m -User $u is run by the handover job #>\nRemove-MailboxPermission -Identity $old -User $who -AccessRights FullAccess -Confirm:$false",
            ),
            evtx_4104(
                "OPS-WS11.fabrikamtoys.local",
                9001,
                "2025-05-12T08:55:00.000000Z",
                "S-1-5-21-1004336348-1177238915-682003330-1120",
                "param([string]$Target, [string]$Who)\nAdd-RecipientPermission -Identity $Target -Trustee $Who -AccessRights SendAs -Confirm:$false",
            ),
            json!({"Event": {"System": {
                "Provider": {"#attributes": {"Name": "MSExchange CmdletLogs"}},
                "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 6},
                "TimeCreated": {"#attributes": {"SystemTime": "2025-05-12T08:20:00.000000Z"}},
                "EventRecordID": 55120, "Channel": "MSExchange Management",
                "Computer": "EXCH02.fabrikamtoys.local"},
                "EventData": {"Data": {"#text": [
                    "Add-MailboxPermission",
                    "-Identity \"ceo@fabrikamtoys.com\" -User \"temp.helper@fabrikamtoys.com\" -AccessRights \"FullAccess\"",
                    "fabrikamtoys.local/Users/helpdesk1", "S-1-5-21-1004336348-1177238915-682003330-3300",
                    "S-1-5-21-1004336348-1177238915-682003330-3300", "Remote-PowerShell-Unknown", "7312 w3wp#MSExchangePowerShellAppPool",
                    "", "00:00:00.1250000", "", "", "The operation couldn't be performed because object 'ceo@fabrikamtoys.com' couldn't be found."]}}
            }}),
        ],
    );
    let ual = write(
        dir.path(),
        "ual.jsonl",
        &[
            exchange_admin(
                "7c2f0c1e-6b1d-4f55-a7a2-0c8e3b9d1a01",
                "2025-05-12T08:15:03",
                "lena.ortiz@fabrikamtoys.com",
                "Add-MailboxPermission",
                &[
                    ("Identity", "payroll@fabrikamtoys.com"),
                    ("User", "svc-handover@fabrikamtoys.com"),
                    ("AccessRights", "FullAccess"),
                ],
            ),
            {
                // The same cmdlet, failed: never evidence of a change.
                let mut failed = exchange_admin(
                    "7c2f0c1e-6b1d-4f55-a7a2-0c8e3b9d1a03",
                    "2025-05-12T08:15:03",
                    "lena.ortiz@fabrikamtoys.com",
                    "Add-MailboxPermission",
                    &[
                        ("Identity", "missing.box@fabrikamtoys.com"),
                        ("User", "svc-handover@fabrikamtoys.com"),
                        ("AccessRights", "FullAccess"),
                    ],
                );
                failed["ResultStatus"] = json!("False");
                failed
            },
            exchange_admin(
                "7c2f0c1e-6b1d-4f55-a7a2-0c8e3b9d1a02",
                "2025-05-12T08:15:04",
                "lena.ortiz@fabrikamtoys.com",
                "Add-MailboxPermission",
                &[
                    ("Identity", "benefits@fabrikamtoys.com"),
                    ("User", "svc-handover@fabrikamtoys.com"),
                    ("AccessRights", "FullAccess"),
                ],
            ),
        ],
    );
    let hunt = hunt(&[host, ual], Context::default());
    assert_eq!(hunt.events, 8);
    let an1052 = of(&hunt, "AN1052");
    assert_eq!(an1052.len(), 2, "{an1052:#?}");
    for f in &hunt.findings {
        let hosts: std::collections::BTreeSet<&str> = f
            .evidence
            .iter()
            .filter(|e| e.source == "windows")
            .map(|e| e.time.to_string())
            .map(|t| {
                if t.starts_with("2025-05-12T08:55") {
                    "ops"
                } else {
                    "fin"
                }
            })
            .collect();
        assert!(hosts.len() <= 1, "a finding merges hosts: {f:#?}");
    }
    let fin = an1052
        .iter()
        .find(|f| f.entities.host.as_deref() == Some("fin-pc04.fabrikamtoys.local"))
        .expect("a finding for FIN-PC04");
    assert!(cites(fin, "2025-05-12T08:15:02Z", "hosts.jsonl"));
    assert!(cites(fin, "2025-05-12T08:15:03Z", "ual.jsonl"), "{fin:#?}");
    assert!(cites(fin, "2025-05-12T08:15:04Z", "ual.jsonl"), "{fin:#?}");
    assert_eq!(fin.evidence.len(), 3, "look-alikes cited: {fin:#?}");
    assert!(
        !fin.rollback.iter().any(|r| r.contains("missing.box")),
        "the failed record was joined: {fin:#?}"
    );
    assert_eq!(
        fin.severity.reasons[0].reason,
        "host PowerShell and the ExchangeAdmin record of the same change"
    );
    // The audit side names what the script took from variables; rollbacks come from it.
    assert_eq!(fin.rollback.len(), 2, "{:?}", fin.rollback);
    assert!(
        fin.rollback
            .iter()
            .all(|r| !r.contains('$') || r.ends_with("-Confirm:$false"))
    );
    let ops = an1052
        .iter()
        .find(|f| f.entities.host.as_deref() == Some("ops-ws11.fabrikamtoys.local"))
        .expect("a finding for OPS-WS11");
    assert_eq!(ops.evidence.len(), 1);
    assert_eq!(ops.entities.mailbox, None);
    assert_eq!(ops.entities.trustee, None);
    assert!(ops.rollback.is_empty(), "{:?}", ops.rollback);
    // The failed cmdlet on EXCH02 is no grant.
    assert!(
        !hunt
            .findings
            .iter()
            .any(|f| cites(f, "2025-05-12T08:20:00Z", "hosts.jsonl")),
        "the failed Exchange cmdlet was reported"
    );
}

/// A named host actor only joins audit records of the same account when the values are
/// unresolved: another admin's grant in the same minute is not this script's.
#[test]
fn unresolved_join_needs_the_same_actor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = write(
        dir.path(),
        "winlogbeat.jsonl",
        &[json!({
            "@timestamp": "2025-05-13T14:00:00.000Z",
            "event": {"code": "4104", "provider": "Microsoft-Windows-PowerShell"},
            "host": {"name": "hr-ws02.fabrikamtoys.local"},
            "winlog": {"channel": "Microsoft-Windows-PowerShell/Operational",
                       "computer_name": "HR-WS02.fabrikamtoys.local", "event_id": "4104",
                       "provider_name": "Microsoft-Windows-PowerShell", "record_id": "3301",
                       "user": {"identifier": "S-1-5-21-1-2-3-4410", "name": "mia.kern", "domain": "FABRIKAM"},
                       "event_data": {"MessageNumber": "1", "MessageTotal": "1",
                                      "ScriptBlockId": "0c6f9a51-2f64-4d3a-8c11-4e0b5d7a9e21",
                                      "ScriptBlockText": "Add-MailboxPermission -Identity $args[0] -User $args[1] -AccessRights FullAccess"}}
        })],
    );
    let ual = write(
        dir.path(),
        "ual.jsonl",
        &[
            exchange_admin(
                "1a9d6e57-0c1b-4c7e-9e3f-5b2a8d4c6e01",
                "2025-05-13T14:00:01",
                "other.admin@fabrikamtoys.com",
                "Add-MailboxPermission",
                &[
                    ("Identity", "legal@fabrikamtoys.com"),
                    ("User", "intern@fabrikamtoys.com"),
                ],
            ),
            exchange_admin(
                "1a9d6e57-0c1b-4c7e-9e3f-5b2a8d4c6e02",
                "2025-05-13T14:00:02",
                "mia.kern@fabrikamtoys.com",
                "Add-MailboxPermission",
                &[
                    ("Identity", "recruiting@fabrikamtoys.com"),
                    ("User", "agency@fabrikamtoys.com"),
                ],
            ),
        ],
    );
    let hunt = hunt(&[host, ual], Context::default());
    let an1052 = of(&hunt, "AN1052");
    assert_eq!(an1052.len(), 1, "{an1052:#?}");
    let f = an1052[0];
    assert!(cites(f, "2025-05-13T14:00:02Z", "ual.jsonl"), "{f:#?}");
    assert!(!cites(f, "2025-05-13T14:00:01Z", "ual.jsonl"), "{f:#?}");
    assert_eq!(
        f.entities.mailbox.as_deref(),
        Some("recruiting@fabrikamtoys.com")
    );
}

fn nxlog_4104(event_time: &str, host: &str, record: u64, text: &str) -> Value {
    json!({"EventTime": event_time, "Hostname": host, "Keywords": "0x0",
           "EventType": "VERBOSE", "SeverityValue": 1, "Severity": "DEBUG", "EventID": 4104,
           "SourceName": "Microsoft-Windows-PowerShell",
           "ProviderGuid": "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}", "Version": 1,
           "TaskValue": 2, "OpcodeValue": 15, "RecordNumber": record,
           "ExecutionProcessID": 4410, "ExecutionThreadID": 5120,
           "Channel": "Microsoft-Windows-PowerShell/Operational",
           "UserID": "S-1-5-21-1004336348-1177238915-682003330-2207", "AccountType": "User",
           "Message": format!("Creating Scriptblock text (1 of 1):\r\n{text}\r\n\r\nScriptBlock ID: 2b8e4f1c-7d3a-4e59-8b60-1f2a3c4d5e6f\r\nPath: "),
           "MessageNumber": "1", "MessageTotal": "1", "ScriptBlockText": text,
           "ScriptBlockId": "2b8e4f1c-7d3a-4e59-8b60-1f2a3c4d5e6f", "Path": "",
           "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog",
           "EventReceivedTime": event_time})
}

/// NXLog writes `EventTime` in the host's local time with no zone. With the host's zone
/// in `[host_timezones]` (Denver, UTC-6 in daylight time) the 4104 lands at its true UTC
/// time and joins the ExchangeAdmin record one second later; without it the event is
/// kept, flagged and counted per host for the warning, and never silently joined.
#[test]
fn nxlog_local_time_uses_the_hosts_time_zone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let text = "Add-MailboxPermission -Identity controller@fabrikamtoys.com -User ext.audit@fabrikamtoys.com -AccessRights FullAccess";
    write(
        &logs,
        "nxlog-den.jsonl",
        &[nxlog_4104(
            "2025-06-02 07:30:15",
            "DEN-WS03.fabrikamtoys.local",
            8801,
            text,
        )],
    );
    write(
        &logs,
        "ual.jsonl",
        &[exchange_admin(
            "5f0e9a7b-3c2d-4b1a-8e6f-9d0c1b2a3e01",
            "2025-06-02T13:30:16",
            "sam.reyes@fabrikamtoys.com",
            "Add-MailboxPermission",
            &[
                ("Identity", "controller@fabrikamtoys.com"),
                ("User", "ext.audit@fabrikamtoys.com"),
                ("AccessRights", "FullAccess"),
            ],
        )],
    );
    let context = Context::from_toml_str(
        "[host_timezones]\n\"DEN-WS03\" = \"America/Denver\"\n\"*.paris.fabrikamtoys.local\" = \"Europe/Paris\"\n",
        dir.path(),
    )
    .expect("context");
    let placed = hunt(std::slice::from_ref(&logs), context);
    assert!(placed.zone_less_hosts.is_empty());
    let joined = of(&placed, "AN1052");
    assert_eq!(joined.len(), 1, "{joined:#?}");
    assert!(
        cites(joined[0], "2025-06-02T13:30:15Z", "nxlog-den"),
        "{:#?}",
        joined[0]
    );
    assert!(
        cites(joined[0], "2025-06-02T13:30:16Z", "ual.jsonl"),
        "{:#?}",
        joined[0]
    );

    let unplaced = hunt(std::slice::from_ref(&logs), Context::default());
    assert_eq!(unplaced.events, 2, "the zone-less event is kept");
    assert_eq!(
        unplaced.zone_less_hosts,
        vec!["den-ws03.fabrikamtoys.local".to_owned()]
    );
    let host_only = of(&unplaced, "AN1052");
    assert_eq!(host_only.len(), 1);
    assert!(cites(host_only[0], "2025-06-02T07:30:15Z", "nxlog-den"));
    assert!(
        host_only[0].severity.reasons[0]
            .reason
            .contains("no time zone"),
        "{:#?}",
        host_only[0].severity.reasons
    );
}

#[test]
fn host_timezones_are_validated() {
    let bad = Context::from_toml_str(
        "[host_timezones]\n\"WS-NY-01\" = \"America/NewYork\"\n",
        Path::new("."),
    );
    let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("host_timezones.WS-NY-01"), "{message}");
    let good = Context::from_toml_str(
        "[host_timezones]\n\"*.nyc.contoso.local\" = \"America/New_York\"\n\"WS-NYC-9.nyc.contoso.local\" = \"Europe/Paris\"\n",
        Path::new("."),
    )
    .expect("valid");
    let zone = |h: &str| good.host_time_zone(h).map(|z| z.timezone_name.as_str());
    assert_eq!(zone("ws-1.NYC.contoso.local"), Some("America/New_York"));
    assert_eq!(
        zone("ws-nyc-9.NYC.contoso.local"),
        Some("Europe/Paris"),
        "an exact name wins over a glob"
    );
    assert_eq!(zone("ws-1.contoso.local"), None);
}

/// Elastic Agent's Windows integration keeps the script block in
/// `powershell.file.script_block_text` and 4103 bindings in
/// `powershell.command.invocation_details`; both are read.
#[test]
fn elastic_agent_ecs_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = write(
        dir.path(),
        "elastic-agent.ndjson",
        &[
            json!({"@timestamp": "2025-07-01T10:00:00.000Z",
                "agent": {"type": "filebeat", "version": "8.15.0"},
                "data_stream": {"dataset": "windows.powershell_operational", "type": "logs"},
                "event": {"code": "4104", "module": "windows", "provider": "Microsoft-Windows-PowerShell"},
                "host": {"name": "sales-ws07.fabrikamtoys.local"},
                "powershell": {"file": {"script_block_id": "8f1d2e3c-4b5a-4c6d-9e7f-0a1b2c3d4e5f",
                                        "script_block_text": "$t = 'sales-lead@fabrikamtoys.com'\nAdd-RecipientPermission -Identity $t -Trustee ('{0}@{1}' -f 'broker','partner-example.net') -AccessRights SendAs -Confirm:$false"},
                               "sequence": 1, "total": 1},
                "user": {"id": "S-1-5-21-1004336348-1177238915-682003330-5120"},
                "winlog": {"channel": "Microsoft-Windows-PowerShell/Operational",
                           "computer_name": "SALES-WS07.fabrikamtoys.local", "event_id": "4104",
                           "provider_name": "Microsoft-Windows-PowerShell", "record_id": 61001,
                           "event_data": {}}}),
            json!({"@timestamp": "2025-07-01T10:05:00.000Z",
                "data_stream": {"dataset": "windows.powershell_operational", "type": "logs"},
                "event": {"code": "4103", "module": "windows", "provider": "Microsoft-Windows-PowerShell"},
                "powershell": {"command": {"name": "Set-Mailbox", "type": "Cmdlet",
                    "invocation_details": [
                        {"type": "CommandInvocation", "related_command": "Set-Mailbox", "value": "Set-Mailbox"},
                        {"type": "ParameterBinding", "related_command": "Set-Mailbox", "name": "Identity", "value": "sales-lead@fabrikamtoys.com"},
                        {"type": "ParameterBinding", "related_command": "Set-Mailbox", "name": "GrantSendOnBehalfTo", "value": "broker@partner-example.net"}]}},
                "user": {"name": "dan.wu", "domain": "FABRIKAM"},
                "winlog": {"channel": "Microsoft-Windows-PowerShell/Operational",
                           "computer_name": "SALES-WS07.fabrikamtoys.local", "event_id": "4103",
                           "provider_name": "Microsoft-Windows-PowerShell", "record_id": 61002,
                           "event_data": {}}}),
            json!({"@timestamp": "2025-07-01T10:06:00.000Z",
                "data_stream": {"dataset": "windows.powershell_operational", "type": "logs"},
                "event": {"code": "4104", "module": "windows"},
                "powershell": {"file": {"script_block_id": "8f1d2e3c-4b5a-4c6d-9e7f-0a1b2c3d4e60",
                                        "script_block_text": "Get-RecipientPermission -Identity sales-lead@fabrikamtoys.com"},
                               "sequence": 1, "total": 1},
                "winlog": {"channel": "Microsoft-Windows-PowerShell/Operational",
                           "computer_name": "SALES-WS07.fabrikamtoys.local", "event_id": "4104",
                           "provider_name": "Microsoft-Windows-PowerShell", "record_id": 61003,
                           "event_data": {}}}),
        ],
    );
    let hunt = hunt(&[logs], Context::default());
    let an1052 = of(&hunt, "AN1052");
    let send_as = an1052
        .iter()
        .find(|f| cites(f, "2025-07-01T10:00:00Z", "elastic-agent"))
        .expect("the ECS 4104 is read");
    assert_eq!(
        send_as.entities.mailbox.as_deref(),
        Some("sales-lead@fabrikamtoys.com")
    );
    assert_eq!(
        send_as.entities.trustee.as_deref(),
        Some("broker@partner-example.net")
    );
    let on_behalf = an1052
        .iter()
        .find(|f| cites(f, "2025-07-01T10:05:00Z", "elastic-agent"))
        .expect("the ECS 4103 bindings are read");
    assert_eq!(
        on_behalf.entities.actor.as_deref(),
        Some("fabrikam\\dan.wu")
    );
    assert!(
        !hunt
            .findings
            .iter()
            .any(|f| cites(f, "2025-07-01T10:06:00Z", "elastic-agent")),
        "the read-only Get-RecipientPermission was reported"
    );
}
