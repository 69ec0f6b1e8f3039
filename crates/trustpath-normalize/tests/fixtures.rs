//! Snapshot tests: one project-owned fixture per input format (written from the schemas in
//! `shared/reference/logformats.md`), normalized and compared with `tests/snapshots/`.

use serde_json::Value;
use std::path::Path;
use trustpath_event::{Format, Origin, RawRecord};
use trustpath_normalize::{NormalizeOptions, Normalizer};

/// The normalized events (or errors) of `tests/fixtures/<name>.json` read as `format`.
fn normalize_fixture(name: &str, format: Format) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    let records = match serde_json::from_str::<Value>(&text).expect("fixture is JSON") {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut normalizer = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    for (i, value) in records.into_iter().enumerate() {
        let origin = Origin::file(format!("fixtures/{name}.json")).with_record(i as u64);
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
    Value::Array(
        out.into_iter()
            .map(|r| match r {
                Ok(event) => event.to_json(),
                Err(e) => Value::String(format!("ERROR {e}")),
            })
            .collect(),
    )
}

macro_rules! fixture_test {
    ($test:ident, $name:literal, $format:expr) => {
        #[test]
        fn $test() {
            insta::assert_json_snapshot!($name, normalize_fixture($name, $format));
        }
    };
}

fixture_test!(ual_json, "ual_json", Format::UalJson);
fixture_test!(purview_csv, "purview_csv", Format::PurviewCsv);
fixture_test!(
    sentinel_office_activity,
    "sentinel_office_activity",
    Format::SentinelOfficeActivity
);
fixture_test!(graph_signin, "graph_signin", Format::GraphSignIn);
fixture_test!(sentinel_signin, "sentinel_signin", Format::SentinelSignIn);
fixture_test!(
    graph_directory_audit,
    "graph_directory_audit",
    Format::GraphDirectoryAudit
);
fixture_test!(
    sentinel_audit_logs,
    "sentinel_audit_logs",
    Format::SentinelAuditLogs
);
fixture_test!(evtx_json, "evtx_json", Format::EvtxJson);
fixture_test!(chainsaw_json, "chainsaw_json", Format::EvtxJson);
fixture_test!(winlogbeat, "winlogbeat", Format::Winlogbeat);
fixture_test!(
    flat_windows_json,
    "flat_windows_json",
    Format::FlatWindowsJson
);
fixture_test!(
    sentinel_windows_event,
    "sentinel_windows_event",
    Format::SentinelWindowsEvent
);
fixture_test!(generic_json, "generic_json", Format::GenericJson);
