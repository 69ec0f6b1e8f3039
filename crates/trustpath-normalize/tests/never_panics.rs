//! Property: any JSON value, read as any format, normalizes to an event or a RecordError —
//! never a panic — and errors keep the record's origin.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use trustpath_event::{Format, Origin, RawRecord};
use trustpath_normalize::{NormalizeOptions, Normalizer, normalize_ip, parse_time};

const FORMATS: [Format; 13] = [
    Format::UalJson,
    Format::PurviewCsv,
    Format::GraphSignIn,
    Format::GraphDirectoryAudit,
    Format::SentinelOfficeActivity,
    Format::SentinelSignIn,
    Format::SentinelAuditLogs,
    Format::SentinelWindowsEvent,
    Format::Evtx,
    Format::EvtxJson,
    Format::Winlogbeat,
    Format::FlatWindowsJson,
    Format::GenericJson,
];

/// Keys the normalizers look at, so generated objects hit the interesting paths.
const KEYS: [&str; 28] = [
    "Event",
    "System",
    "EventData",
    "UserData",
    "Data",
    "#text",
    "#attributes",
    "EventID",
    "Channel",
    "MessageNumber",
    "MessageTotal",
    "ScriptBlockId",
    "ScriptBlockText",
    "winlog",
    "event_data",
    "AuditData",
    "CreationTime",
    "@timestamp",
    "TimeGenerated",
    "Parameters",
    "ClientIP",
    "UserType",
    "Logon_Type",
    "Status",
    "initiatedBy",
    "targetResources",
    "EventData_dynamic",
    "TimeCreated",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        Just(json!("2024-11-05T15:02:11Z")),
        Just(json!("4104")),
        Just(json!("2")),
        Just(json!("[{\"Name\":\"User\",\"Value\":\"a@b\"}]")),
        Just(json!("MSExchange Management")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..6).prop_map(
                |pairs| {
                    let map: Map<String, Value> =
                        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                    Value::Object(map)
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_any_format_is_an_event_or_an_error(values in prop::collection::vec(value(), 1..6), f in 0..FORMATS.len()) {
        let format = FORMATS[f];
        let mut normalizer = Normalizer::new(NormalizeOptions { max_pending_script_blocks: 2, ..NormalizeOptions::default() });
        let mut out = Vec::new();
        for (i, value) in values.into_iter().enumerate() {
            let origin = Origin::file("prop.json").with_line(i as u64 + 1);
            normalizer.push(RawRecord { origin, format, fields: trustpath_event::fields_from(value) }, &mut out);
        }
        normalizer.finish(&mut out);
        for item in out {
            match item {
                Ok(event) => prop_assert_eq!(event.format, format),
                Err(e) => prop_assert_eq!(&*e.origin.file, "prop.json"),
            }
        }
    }

    #[test]
    fn helpers_never_panic(s in ".{0,40}", n in any::<i64>()) {
        let _ = normalize_ip(&s);
        let _ = parse_time(&Value::String(s));
        let _ = parse_time(&Value::from(n));
    }
}
