//! Normalization cost against the parse-only baseline, on 200 000 generated UAL JSON Lines.
//!
//! Prints records/s for `serde_json::from_slice::<Value>` per line (the physical limit of a
//! hunt over this input) and for parse + `Normalizer::push`, and their ratio
//! (target: ≤ 1.5). Run with `cargo bench -p trustpath-normalize`.

use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;
use trustpath_event::{Format, Origin, RawRecord};
use trustpath_normalize::{NormalizeOptions, Normalizer};

const RECORDS: usize = 200_000;

/// One UAL record: alternating ExchangeAdmin cmdlets and MailItemsAccessed.
fn record(i: usize) -> Value {
    let tenant = "d3c1e5a7-1b2c-4d3e-8f9a-0b1c2d3e4f50";
    let time = format!(
        "2024-11-05T{:02}:{:02}:{:02}",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    );
    if i.is_multiple_of(2) {
        json!({
            "CreationTime": time, "Id": format!("5b1c9d2e-3f4a-4b5c-8d6e-{i:012}"),
            "Operation": "Add-MailboxPermission", "OrganizationId": tenant, "RecordType": 1,
            "ResultStatus": "True", "UserKey": "1003200A1B2C3D4E", "UserType": 2, "Version": 1,
            "Workload": "Exchange", "ClientIP": format!("203.0.{}.{}:51234", i % 250, i % 200),
            "ObjectId": format!("EURPR01A002.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/user{i}"),
            "UserId": format!("Admin{}@Contoso.com", i % 50), "AppId": "fb78d390-0c51-40cd-8e17-fdbfab77341b",
            "ClientAppId": "", "ExternalAccess": false, "OrganizationName": "contoso.onmicrosoft.com",
            "OriginatingServer": "AM6PR01MB1234 (15.20.8137.018)\r\n",
            "Parameters": [
                {"Name": "Identity", "Value": format!("user{i}@contoso.com")},
                {"Name": "User", "Value": format!("delegate{}@contoso.com", i % 30)},
                {"Name": "AccessRights", "Value": "FullAccess"},
                {"Name": "InheritanceType", "Value": "All"}
            ],
            "SessionId": "2b4f6a8c-0e1d-4c3b-9a8f-7e6d5c4b3a21"
        })
    } else {
        json!({
            "CreationTime": time, "Id": format!("0a9b8c7d-6e5f-4a3b-2c1d-{i:012}"),
            "Operation": "MailItemsAccessed", "OrganizationId": tenant, "RecordType": 50,
            "ResultStatus": "Succeeded", "UserKey": "1003200A1B2C3D4E", "UserType": 0, "Version": 1,
            "Workload": "Exchange", "UserId": format!("user{}@contoso.com", i % 500),
            "AppId": "00000002-0000-0ff1-ce00-000000000000", "ClientAppId": "",
            "ClientIPAddress": format!("[::ffff:198.51.100.{}]:443", i % 250),
            "ClientInfoString": "Client=OWA;Action=ViaProxy", "ExternalAccess": false,
            "InternalLogonType": 0, "LogonType": 0, "MailboxGuid": "6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f",
            "MailboxOwnerUPN": format!("user{}@contoso.com", i % 500),
            "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}],
            "OrganizationName": "contoso.onmicrosoft.com",
            "Folders": [{"FolderItems": [{"InternetMessageId": format!("<m{i}@contoso.com>"), "SizeInBytes": 48213}], "Id": "LgAAAAB2", "Path": "\\Inbox"}],
            "OperationCount": 1
        })
    }
}

fn main() {
    let lines: Vec<Vec<u8>> = (0..RECORDS)
        .map(|i| serde_json::to_vec(&record(i)).unwrap_or_default())
        .collect();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let file: std::sync::Arc<str> = "bench.jsonl".into();

    // Warm up both paths once.
    let _ = run_parse(&lines);
    let _ = run_normalize(&lines, &file);

    // Interleaved, best of 5 each: the machine is shared, so load shifts between runs.
    let (mut parse_secs, mut norm_secs) = (f64::MAX, f64::MAX);
    let (mut parsed, mut events) = (0, 0);
    for _ in 0..5 {
        let (secs, n) = timed(|| run_parse(&lines));
        parse_secs = parse_secs.min(secs);
        parsed = n;
        let (secs, n) = timed(|| run_normalize(&lines, &file));
        norm_secs = norm_secs.min(secs);
        events = n;
    }
    assert_eq!(parsed, RECORDS);
    assert_eq!(events, RECORDS);

    let mb = bytes as f64 / 1e6;
    println!("input: {RECORDS} UAL records, {mb:.1} MB");
    println!(
        "parse only:        {:>10.0} records/s  {:>7.1} MB/s",
        RECORDS as f64 / parse_secs,
        mb / parse_secs
    );
    println!(
        "parse + normalize: {:>10.0} records/s  {:>7.1} MB/s",
        RECORDS as f64 / norm_secs,
        mb / norm_secs
    );
    println!(
        "ratio (normalize / parse-only time): {:.2} (target <= 1.5)",
        norm_secs / parse_secs
    );
}

fn timed(f: impl FnOnce() -> usize) -> (f64, usize) {
    let start = Instant::now();
    let count = f();
    (start.elapsed().as_secs_f64(), count)
}

fn run_parse(lines: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for line in lines {
        if let Ok(value) = serde_json::from_slice::<Value>(line) {
            black_box(&value);
            n += 1;
        }
    }
    n
}

fn run_normalize(lines: &[Vec<u8>], file: &std::sync::Arc<str>) -> usize {
    let mut normalizer = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::with_capacity(4);
    let mut n = 0;
    for (i, line) in lines.iter().enumerate() {
        let Ok(value) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let origin = Origin {
            file: file.clone(),
            line: Some(i as u64 + 1),
            offset: None,
            record: None,
        };
        normalizer.push(
            RawRecord {
                origin,
                format: Format::UalJson,
                value,
            },
            &mut out,
        );
        for event in out.drain(..) {
            if black_box(event).is_ok() {
                n += 1;
            }
        }
    }
    normalizer.finish(&mut out);
    n
}
