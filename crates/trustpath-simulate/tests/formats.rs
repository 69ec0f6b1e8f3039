//! Every `simulate(analytic, format)` output parses as the format it claims to be.

use serde_json::Value;
use trustpath_simulate::{
    GENERATORS as ANALYTICS, OutFormat, Scenario, SimulateError, chain_steps, simulate,
};

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn lines(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    assert!(
        !text.starts_with('\u{feff}'),
        "JSON Lines must not start with a BOM"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

fn bom_array(bytes: &[u8]) -> Vec<Value> {
    let body = bytes
        .strip_prefix(BOM)
        .expect("Graph export starts with a UTF-8 BOM");
    match serde_json::from_slice(body).expect("valid JSON") {
        Value::Array(items) => items,
        other => panic!("expected an array, got {other}"),
    }
}

fn purview(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    assert!(text.starts_with(
        "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n"
    ));
    assert!(text.ends_with("\r\n"), "CRLF line ends");
    assert!(
        text.contains("\"\"CreationTime\"\""),
        "AuditData JSON with doubled quotes"
    );
    let mut reader = csv::Reader::from_reader(bytes);
    reader
        .records()
        .map(|r| {
            let r = r.expect("csv row");
            let date = r.get(1).expect("CreationDate");
            assert!(
                date.ends_with(" AM") || date.ends_with(" PM"),
                "locale date: {date}"
            );
            serde_json::from_str(r.get(5).expect("AuditData")).expect("AuditData is JSON")
        })
        .collect()
}

fn parse(format: OutFormat, bytes: &[u8]) -> Vec<Value> {
    match format {
        OutFormat::UalJsonArray => match serde_json::from_slice(bytes).expect("JSON array") {
            Value::Array(items) => items,
            other => panic!("expected an array, got {other}"),
        },
        OutFormat::PurviewCsv => purview(bytes),
        OutFormat::GraphSignInJson | OutFormat::GraphDirectoryAuditJson => bom_array(bytes),
        _ => lines(bytes),
    }
}

fn check_shape(format: OutFormat, v: &Value) {
    let has = |path: &str| v.pointer(path).is_some_and(|x| !x.is_null());
    match format {
        OutFormat::UalJsonl | OutFormat::UalJsonArray | OutFormat::PurviewCsv => {
            let time = v["CreationTime"].as_str().expect("CreationTime");
            assert!(!time.ends_with('Z'), "UAL CreationTime has no Z: {time}");
            assert!(v["RecordType"].is_u64() && has("/Id") && has("/OrganizationId"));
            if v["RecordType"] == 1 {
                assert_eq!(v["ResultStatus"], "True");
                for p in v["Parameters"].as_array().expect("Parameters") {
                    assert!(
                        p["Name"].is_string() && p["Value"].is_string(),
                        "string Name/Value: {p}"
                    );
                }
            }
        }
        OutFormat::SentinelOfficeActivity => {
            assert_eq!(v["Type"], "OfficeActivity");
            assert!(
                v["RecordType"].is_string() && v["UserType"].is_string() && has("/TimeGenerated")
            );
        }
        OutFormat::GraphSignInJson => assert!(
            has("/createdDateTime") && has("/crossTenantAccessType") && has("/status/errorCode")
        ),
        OutFormat::SentinelSigninLogs => {
            assert!(v["Type"] == "SigninLogs" || v["Type"] == "AADNonInteractiveUserSignInLogs");
            assert!(has("/ResultType") && has("/CrossTenantAccessType") && has("/IPAddress"));
        }
        OutFormat::GraphDirectoryAuditJson => {
            assert!(has("/activityDisplayName") && has("/initiatedBy") && has("/activityDateTime"))
        }
        OutFormat::SentinelAuditLogs => {
            assert_eq!(v["Type"], "AuditLogs");
            assert!(v["InitiatedBy"].is_string() && v["TargetResources"].is_string());
        }
        OutFormat::EvtxDumpJsonl => {
            assert!(
                has("/Event/System/EventID")
                    && has("/Event/System/TimeCreated/#attributes/SystemTime")
            );
            assert!(has("/Event/System/Provider/#attributes/Name") && has("/Event/EventData"));
        }
        OutFormat::WinlogbeatJsonl => {
            assert!(
                v["winlog"]["event_id"].is_string() && has("/winlog/channel") && has("/@timestamp")
            );
        }
        OutFormat::FlatWindowsJsonl => {
            assert!(v["EventID"].is_u64() && has("/Channel") && has("/Hostname"))
        }
    }
}

#[test]
fn every_analytic_in_every_format_parses_or_names_the_steps() {
    let s = Scenario::default();
    for analytic in ANALYTICS {
        let mut carried = 0;
        for format in OutFormat::ALL {
            match simulate(analytic, format, &s) {
                Ok(bytes) => {
                    let records = parse(format, &bytes);
                    assert!(!records.is_empty(), "{analytic} {format}: no records");
                    records.iter().for_each(|v| check_shape(format, v));
                    carried += records.len();
                }
                Err(SimulateError::FormatCannotCarry { steps, .. }) => {
                    assert!(!steps.is_empty());
                    assert!(
                        steps.iter().all(|s| !s.contains(format.name())),
                        "{format} is listed as a carrier"
                    );
                }
                Err(e) => panic!("{analytic} {format}: {e}"),
            }
        }
        assert!(carried > 0, "{analytic}: no format carried anything");
    }
}

#[test]
fn simulate_is_deterministic_and_seeded() {
    let s = Scenario::default();
    let a = simulate("AN1350", OutFormat::UalJsonl, &s).expect("AN1350");
    assert_eq!(
        a,
        simulate("AN1350", OutFormat::UalJsonl, &s).expect("AN1350")
    );
    let other = Scenario {
        seed: 99,
        ..Scenario::default()
    };
    assert_ne!(
        a,
        simulate("AN1350", OutFormat::UalJsonl, &other).expect("AN1350")
    );
}

#[test]
fn an1350_chain_has_its_three_steps_with_partner_markers() {
    let s = Scenario::default();
    let ual = lines(&simulate("AN1350", OutFormat::UalJsonl, &s).expect("ual"));
    let partner = ual
        .iter()
        .find(|v| v["Operation"] == "Add partner to company.")
        .expect("step 1");
    assert_eq!(partner["ActorContextId"], s.partner.tenant_id.as_str());
    assert_ne!(partner["ActorContextId"], partner["OrganizationId"]);
    let grant = ual
        .iter()
        .find(|v| v["Operation"] == "Add-MailboxPermission")
        .expect("step 2");
    assert_eq!(grant["UserType"], 9);
    assert_eq!(grant["ExternalAccess"], true);
    assert!(
        grant["ClientIP"]
            .as_str()
            .expect("ClientIP")
            .starts_with("203.0.113.45:")
    );
    let access = ual
        .iter()
        .find(|v| v["Operation"] == "MailItemsAccessed")
        .expect("step 3");
    assert_eq!(access["LogonType"], 6);
    assert_eq!(access["MailboxOwnerUPN"], s.mailbox.as_str());
    let signins = bom_array(&simulate("AN1350", OutFormat::GraphSignInJson, &s).expect("sign-in"));
    assert_eq!(signins[0]["crossTenantAccessType"], "serviceProvider");
    assert_ne!(signins[0]["homeTenantId"], signins[0]["resourceTenantId"]);
}

#[test]
fn an1052_host_events_carry_the_cmdlet() {
    let s = Scenario::default();
    let events = lines(&simulate("AN1052", OutFormat::EvtxDumpJsonl, &s).expect("evtx"));
    let ids: Vec<u64> = events
        .iter()
        .filter_map(|e| e.pointer("/Event/System/EventID").and_then(Value::as_u64))
        .collect();
    assert_eq!(ids, vec![4688, 1, 4104, 4103]);
    let payload = events[3]
        .pointer("/Event/EventData/Payload")
        .and_then(Value::as_str)
        .expect("payload");
    assert!(payload.contains(
        "ParameterBinding(Add-MailboxPermission): name=\"Identity\"; value=\"ceo@contoso.com\""
    ));
    let ual = lines(&simulate("AN1052", OutFormat::UalJsonl, &s).expect("ual"));
    assert!(ual.iter().any(|v| v["Operation"] == "SendAs"));
}

#[test]
fn a_format_that_carries_nothing_names_the_steps() {
    let err = simulate("AN1051", OutFormat::EvtxDumpJsonl, &Scenario::default())
        .expect_err("no Windows steps");
    let msg = err.to_string();
    assert!(
        msg.contains("AddFolderPermissions") && msg.contains("ual-jsonl"),
        "{msg}"
    );
    assert!(
        chain_steps("AN1347", &Scenario::default())
            .expect("steps")
            .len()
            >= 2
    );
    assert!(matches!(
        simulate("AN9999", OutFormat::UalJsonl, &Scenario::default()),
        Err(SimulateError::UnknownAnalytic(_))
    ));
}
