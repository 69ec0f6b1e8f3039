//! Every real public sample in `shared/samples` normalizes without error and gets an event
//! time. The files are parsed here in the simplest way (the reader crate is separate).
//! Skipped, with a notice, when `shared/` is absent.

use serde_json::Value;
use std::io::Read;
use std::path::Path;
use trustpath_event::{Event, Format, Origin, RawRecord};
use trustpath_normalize::{NormalizeOptions, Normalizer, SCRIPT_BLOCK_PARTS};

/// Normalizes `records` as `format`; panics (test failure) on any RecordError.
fn normalize_all(name: &str, format: Format, records: Vec<Value>) -> Vec<Event> {
    let mut normalizer = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    for (i, value) in records.into_iter().enumerate() {
        let origin = Origin::file(name).with_record(i as u64);
        normalizer.push(
            RawRecord {
                origin,
                format,
                fields: trustpath_event::fields_from(value),
            },
            &mut out,
        );
    }
    normalizer.finish(&mut out);
    out.into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// A JSON array or object file, with or without a UTF-8 BOM.
fn json_file(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("sample readable");
    match serde_json::from_str(text.trim_start_matches('\u{feff}')).expect("JSON") {
        Value::Array(items) => items,
        one => vec![one],
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("sample readable")
}

#[test]
fn mordor_flat_powershell_and_process_events() {
    let Some(shared) = trustpath_testkit::shared_dir("mordor_flat_powershell_and_process_events")
    else {
        return;
    };
    let path = shared
        .join("samples/otrf-security-datasets/empire_shell_reg_dump_sam_2020-09-22042823.json");
    let events = normalize_all("empire", Format::FlatWindowsJson, json_lines(&read(&path)));
    assert_eq!(events.len(), 738);
    let with_actor_4103 = events
        .iter()
        .filter(|e| e.fields["EventID"] == 4103)
        .filter(|e| e.actor() == Some("theshire\\pgustavo"))
        .count();
    assert_eq!(with_actor_4103, 93, "every 4103 gets its ContextInfo user");
    let e800 = events
        .iter()
        .find(|e| e.fields["EventID"] == 800)
        .expect("an 800");
    assert_eq!(e800.actor(), Some("theshire\\pgustavo"));
    assert!(e800.fields.contains_key("HostApplication"));
    let security = events
        .iter()
        .filter(|e| e.fields["Channel"] == "Security")
        .count();
    assert_eq!(
        security, 72,
        "`security` and `Security` both become `Security`"
    );
}

#[test]
fn covenant_multi_part_script_blocks_are_reassembled() {
    let Some(shared) = trustpath_testkit::shared_dir("covenant_multi_part_script_blocks") else {
        return;
    };
    let path = shared.join("samples/otrf-security-datasets/covenant_dcom_registerxll.zip");
    let file = std::fs::File::open(path).expect("zip readable");
    let mut archive = zip::ZipArchive::new(file).expect("zip");
    let mut text = String::new();
    archive
        .by_index(0)
        .expect("member")
        .read_to_string(&mut text)
        .expect("member readable");
    let records = json_lines(&text);
    let raw_count = records.len();
    let events = normalize_all("covenant", Format::FlatWindowsJson, records);
    // A 2-part and a 4-part block each become one event: 1 + 3 fewer events.
    assert_eq!(events.len(), raw_count - 4);
    let reassembled: Vec<&Event> = events
        .iter()
        .filter(|e| e.fields.contains_key(SCRIPT_BLOCK_PARTS))
        .collect();
    let mut found: Vec<(String, u64)> = reassembled
        .iter()
        .map(|e| {
            let id = e.fields["ScriptBlockId"].as_str().unwrap_or_default();
            (
                id[..8].to_owned(),
                e.fields[SCRIPT_BLOCK_PARTS].as_u64().unwrap_or(0),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [("79679dd8".to_owned(), 4), ("7b92882b".to_owned(), 2)]
    );
    for event in reassembled {
        let text = event.fields["ScriptBlockText"].as_str().unwrap_or_default();
        assert!(text.len() > 10_000, "whole text, {} bytes", text.len());
    }
}

#[test]
fn sentinel_exports() {
    let Some(shared) = trustpath_testkit::shared_dir("sentinel_exports") else {
        return;
    };
    let dir = shared.join("samples/otrf-security-datasets");
    let office = normalize_all(
        "office",
        Format::SentinelOfficeActivity,
        json_lines(&read(&dir.join("OfficeActivityEvents.json"))),
    );
    assert_eq!(office.len(), 1);
    assert_eq!(office[0].ip(), Some("1.2.3.4"));
    assert_eq!(office[0].fields["LogonType"], 0);
    assert_eq!(office[0].fields["RecordType"], 50);
    let audit = normalize_all(
        "aad",
        Format::SentinelAuditLogs,
        json_lines(&read(&dir.join("AADAuditEvents.json"))),
    );
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|e| e.operation().is_some()));
    let windows = normalize_all(
        "windows",
        Format::SentinelWindowsEvent,
        json_lines(&read(&dir.join("WindowsEvents.json"))),
    );
    assert_eq!(windows.len(), 38);
}

#[test]
fn graph_exports_with_bom() {
    let Some(shared) = trustpath_testkit::shared_dir("graph_exports_with_bom") else {
        return;
    };
    let dir = shared.join("samples/microsoft-extractor-suite");
    let audits = normalize_all(
        "auditlogs",
        Format::GraphDirectoryAudit,
        json_file(&dir.join("20250502131826-AuditLogs.json")),
    );
    assert_eq!(audits.len(), 123);
    let signins = normalize_all(
        "signins",
        Format::GraphSignIn,
        json_file(&dir.join("20250502132321-managedIdentity-SignInLogs.json")),
    );
    assert_eq!(signins.len(), 28);
    assert!(signins.iter().all(|e| e.operation() == Some("SignIn")));
}

#[test]
fn purview_csv_rows() {
    let Some(shared) = trustpath_testkit::shared_dir("purview_csv_rows") else {
        return;
    };
    let path = shared.join("samples/huntress-ctf-2023/purview.csv");
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let headers = reader.headers().expect("header").clone();
    let rows: Vec<Value> = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            Value::Object(
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_owned(), Value::String(v.to_owned())))
                    .collect(),
            )
        })
        .collect();
    let events = normalize_all("purview.csv", Format::PurviewCsv, rows);
    assert_eq!(events.len(), 219);
    let system_grant = events
        .iter()
        .find(|e| e.operation() == Some("Add-MailboxPermission"))
        .expect("the ServiceHost Add-MailboxPermission");
    assert_eq!(
        system_grant.actor(),
        Some("nt authority\\system (microsoft.exchange.servicehost)")
    );
    assert!(system_grant.fields.contains_key("tp.trustee"));
}

#[test]
fn evtx_json_renderings() {
    let Some(shared) = trustpath_testkit::shared_dir("evtx_json_renderings") else {
        return;
    };
    let samples = shared.join("samples");
    let sigma = normalize_all(
        "sigma",
        Format::EvtxJson,
        json_file(&samples.join("sigma-regression-data/6385697e-9f1b-40bd-8817-f4a91f40508e.json")),
    );
    assert_eq!(sigma[0].fields["EventID"], 1);
    assert_eq!(sigma[0].actor(), Some("swachchhanda\\xodih"));
    let chainsaw = normalize_all(
        "chainsaw",
        Format::EvtxJson,
        json_lines(&read(
            &samples.join("chainsaw-tests/clo_search_q_jsonl_simple_string.txt"),
        )),
    );
    assert_eq!(chainsaw.len(), 2);
    assert!(chainsaw.iter().all(|e| e.fields["EventID"] == 4624));
    assert_eq!(
        chainsaw[0].fields["TimeCreated"],
        "2022-10-11T19:26:52.154080Z"
    );
}
