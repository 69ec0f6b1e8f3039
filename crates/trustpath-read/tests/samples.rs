//! Acceptance: every real sample in `shared/samples/` is read with zero errors, with the
//! right record counts and formats. Skips (saying so) when `shared/` is absent.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use trustpath_read::{
    ErrorKind, Format, Input, RawRecord, ReadOptions, RecordError, Sniffed, TextEncoding,
    expand_inputs, read_input, sniff,
};

fn samples(who: &str) -> Option<PathBuf> {
    let dir = trustpath_testkit::shared_dir(who)?.join("samples");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED {who}: {} not found", dir.display());
        None
    }
}

/// (path under samples/, what it sniffs as, records, format of every record).
const EXPECTED: &[(&str, &str, usize, Format)] = &[
    (
        "huntress-ctf-2023/purview.csv",
        "csv",
        219,
        Format::PurviewCsv,
    ),
    (
        "microsoft-extractor-suite/20250502131826-AuditLogs.json",
        "json-array",
        123,
        Format::GraphDirectoryAudit,
    ),
    (
        "microsoft-extractor-suite/20250502132321-managedIdentity-SignInLogs.json",
        "json-array",
        28,
        Format::GraphSignIn,
    ),
    (
        "otrf-security-datasets/OfficeActivityEvents.json",
        "json-objects",
        1,
        Format::SentinelOfficeActivity,
    ),
    (
        "otrf-security-datasets/AADAuditEvents.json",
        "json-objects",
        4,
        Format::SentinelAuditLogs,
    ),
    (
        "otrf-security-datasets/WindowsEvents.json",
        "json-objects",
        38,
        Format::SentinelWindowsEvent,
    ),
    (
        "otrf-security-datasets/empire_shell_reg_dump_sam_2020-09-22042823.json",
        "json-objects",
        738,
        Format::FlatWindowsJson,
    ),
    (
        "otrf-security-datasets/Microsoft365DefenderEvents.json",
        "json-objects",
        9,
        Format::GenericJson,
    ),
    (
        "otrf-security-datasets/covenant_dcom_registerxll.zip",
        "zip",
        5504,
        Format::FlatWindowsJson,
    ),
    (
        "chainsaw-tests/clo_search_q_jsonl_simple_string.txt",
        "json-objects",
        2,
        Format::EvtxJson,
    ),
    (
        "sigma-regression-data/6385697e-9f1b-40bd-8817-f4a91f40508e.json",
        "json-objects",
        1,
        Format::EvtxJson,
    ),
    // EVTX: the counts observed; `evtx_counts_match_the_crate` checks them against the
    // evtx crate's own iteration (what `evtx_dump` prints).
    (
        "chainsaw-tests/security_sample.evtx",
        "evtx",
        10,
        Format::Evtx,
    ),
    (
        "evtx-to-mitre-attack/ID1-WMI spwaning PowerShell process - WMImplant.evtx",
        "evtx",
        1,
        Format::Evtx,
    ),
    (
        "evtx-to-mitre-attack/ID4688-User creation via commandline.evtx",
        "evtx",
        9,
        Format::Evtx,
    ),
    (
        "evtx-to-mitre-attack/ID4756-Exchange admin group change.evtx",
        "evtx",
        15,
        Format::Evtx,
    ),
    (
        "evtx-to-mitre-attack/ID6-Failed to install an Exchange transport agent.evtx",
        "evtx",
        4,
        Format::Evtx,
    ),
    (
        "evtx-to-mitre-attack/ID800-4103-4104-Domain group discovery via PowerShell.evtx",
        "evtx",
        10,
        Format::Evtx,
    ),
    (
        "sigma-regression-data/6385697e-9f1b-40bd-8817-f4a91f40508e.evtx",
        "evtx",
        1,
        Format::Evtx,
    ),
];

/// Files in samples/ that are documentation, not logs.
const NOT_LOGS: &[&str] = &["SOURCES.md"];

fn read(path: &Path) -> (Vec<RawRecord>, Vec<RecordError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    read_input(
        &Input::File(path.to_path_buf()),
        &ReadOptions::default(),
        &mut |r| match r {
            Ok(rec) => records.push(rec),
            Err(e) => errors.push(e),
        },
    );
    (records, errors)
}

fn prefix(path: &Path) -> Vec<u8> {
    let mut data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    data.truncate(64 * 1024);
    data
}

#[test]
fn every_sample_reads_without_errors_with_the_right_counts() {
    let Some(dir) = samples("every_sample_reads_without_errors_with_the_right_counts") else {
        return;
    };
    // Walk the whole folder, as `trustpath` would be pointed at it.
    let (inputs, errors) = expand_inputs(std::slice::from_ref(&dir));
    assert!(errors.is_empty(), "{errors:?}");
    let mut seen = BTreeMap::new();
    for input in &inputs {
        let Input::File(path) = input else {
            unreachable!()
        };
        let rel = path
            .strip_prefix(&dir)
            .expect("under samples/")
            .to_string_lossy()
            .replace('\\', "/");
        let (records, errors) = read(path);
        if NOT_LOGS.contains(&rel.as_str()) {
            assert!(records.is_empty());
            assert_eq!(errors.len(), 1, "{rel}");
            assert_eq!(errors[0].kind, ErrorKind::Unsupported);
            continue;
        }
        let Some(&(_, kind, count, format)) = EXPECTED.iter().find(|e| e.0 == rel) else {
            panic!("sample {rel} has no expectation in this test: add one");
        };
        assert!(errors.is_empty(), "{rel}: {errors:#?}");
        assert_eq!(records.len(), count, "{rel}: record count");
        for r in &records {
            assert_eq!(r.format, format, "{rel} {}: {}", r.origin, r.to_value());
        }
        assert_eq!(sniff(&prefix(path)).as_str(), kind, "{rel}: sniffed kind");
        seen.insert(rel, records.len());
    }
    for (rel, ..) in EXPECTED {
        assert!(
            seen.contains_key(*rel),
            "expected sample {rel} is missing from shared/samples"
        );
    }
}

#[test]
fn origins_name_the_place() {
    let Some(dir) = samples("origins_name_the_place") else {
        return;
    };
    // CSV: the line a row starts on (AuditData holds no line breaks here: row n on line n+1).
    let (records, _) = read(&dir.join("huntress-ctf-2023/purview.csv"));
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.origin.line, Some(i as u64 + 2));
        assert_eq!(r.origin.record, Some(i as u64));
    }
    let first = &records[0].to_value();
    assert_eq!(first["RecordId"], "538815b7-273a-4a3f-9957-c86897966eec");
    assert_eq!(first["AuditData"]["Operation"], "Add service principal.");
    // JSON Lines: one record per line.
    let (records, _) = read(&dir.join("otrf-security-datasets/WindowsEvents.json"));
    let lines: Vec<_> = records.iter().map(|r| r.origin.line).collect();
    assert_eq!(lines, (1..=38).map(Some).collect::<Vec<_>>());
    // PowerShell JSON array with a BOM: offsets are file offsets.
    let path = dir.join("microsoft-extractor-suite/20250502132321-managedIdentity-SignInLogs.json");
    assert_eq!(
        sniff(&prefix(&path)),
        Sniffed::JsonArray(TextEncoding::Utf8Bom)
    );
    let (records, _) = read(&path);
    let data = std::fs::read(&path).expect("read");
    for r in &records {
        let at = r.origin.offset.expect("offset") as usize;
        assert_eq!(data[at], b'{', "{}", r.origin);
    }
    // Zip members are named archive!member.
    let (records, _) = read(&dir.join("otrf-security-datasets/covenant_dcom_registerxll.zip"));
    assert!(records[0].origin.file.ends_with(
        "covenant_dcom_registerxll.zip!covenant_dcom_registerxll_2020-09-18145959.json"
    ));
    // EVTX: the record is the EventRecordID.
    let (records, _) = read(&dir.join("chainsaw-tests/security_sample.evtx"));
    let ids: Vec<_> = records
        .iter()
        .map(|r| r.origin.record.unwrap_or(0))
        .collect();
    assert_eq!(ids, (1..=10).collect::<Vec<u64>>());
}

#[test]
fn evtx_counts_match_the_crate() {
    let Some(dir) = samples("evtx_counts_match_the_crate") else {
        return;
    };
    for (rel, _, count, _) in EXPECTED.iter().filter(|e| e.0.ends_with(".evtx")) {
        let path = dir.join(rel);
        let settings = evtx::ParserSettings::new().separate_json_attributes(false);
        let mut parser = evtx::EvtxParser::from_path(&path)
            .expect("evtx opens")
            .with_configuration(settings);
        let crate_count = parser.records_json_value().filter(Result::is_ok).count();
        let (records, errors) = read(&path);
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        assert_eq!(records.len(), crate_count, "{rel}: same as the evtx crate");
        assert_eq!(records.len(), *count, "{rel}: observed count");
    }
}

#[test]
fn evtx_json_matches_evtx_dump_output() {
    let Some(dir) = samples("evtx_json_matches_evtx_dump_output") else {
        return;
    };
    // SigmaHQ's regression JSON was produced by an older `evtx_dump -o json` from the .evtx
    // beside it. The evtx crate used here renders the same tree with two known differences:
    // GUIDs as `{lower-case}` (older: `UPPER-CASE`, no braces) and `SystemTime` with 7
    // fractional digits (older: 6). Everything else must be identical.
    let base = dir.join("sigma-regression-data/6385697e-9f1b-40bd-8817-f4a91f40508e");
    let (from_evtx, _) = read(&base.with_extension("evtx"));
    let (from_json, _) = read(&base.with_extension("json"));
    assert_eq!(from_evtx.len(), 1);
    let ours = from_evtx[0].to_value();
    assert_eq!(
        ours["Event"]["System"]["Provider"]["#attributes"]["Guid"],
        "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"
    );
    assert_eq!(
        ours["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"],
        "2025-12-15T11:40:20.6819776Z"
    );
    assert_eq!(canonical(ours.clone()), canonical(from_json[0].to_value()));
}

/// GUIDs upper-case without braces; timestamps cut to microseconds.
fn canonical(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, canonical(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        Value::String(s) => {
            let inner = s.trim_start_matches('{').trim_end_matches('}');
            let is_guid = inner.len() == 36
                && inner.char_indices().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            if is_guid {
                Value::String(inner.to_ascii_uppercase())
            } else if let Some((head, frac)) = s.strip_suffix('Z').and_then(|t| t.split_once('.')) {
                if head.len() == 19 && frac.len() > 6 && frac.bytes().all(|b| b.is_ascii_digit()) {
                    Value::String(format!("{head}.{}Z", &frac[..6]))
                } else {
                    Value::String(s)
                }
            } else {
                Value::String(s)
            }
        }
        other => other,
    }
}

#[test]
fn samples_through_gzip_and_stdin_like_streams() {
    let Some(dir) = samples("samples_through_gzip_and_stdin_like_streams") else {
        return;
    };
    // A gzip of an EVTX is buffered (not seekable) and reads the same.
    for rel in [
        "chainsaw-tests/security_sample.evtx",
        "huntress-ctf-2023/purview.csv",
    ] {
        let data = std::fs::read(dir.join(rel)).expect("read");
        let plain = common::bytes(rel, &data);
        let gz = common::bytes(rel, &common::gzip(&data));
        assert!(gz.errors.is_empty(), "{rel}: {:?}", gz.errors);
        let a: Vec<_> = plain
            .records
            .iter()
            .map(|r| (r.to_value(), r.format, &r.origin))
            .collect();
        let b: Vec<_> = gz
            .records
            .iter()
            .map(|r| (r.to_value(), r.format, &r.origin))
            .collect();
        assert_eq!(a, b, "{rel}");
    }
}
