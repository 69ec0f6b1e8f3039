//! Read throughput against a parse-only baseline (`cargo bench -p trustpath-read`).
//!
//! Generates a UAL JSON Lines file (200k records by default; `TP_BENCH_RECORDS` overrides)
//! in a temp dir and times, best of 3:
//!
//! * `parse-only`: `BufRead::read_until(b'\n')` + `serde_json::from_slice::<Value>` per line,
//!   the least any JSON Lines reader can do;
//! * `read_input`: the full read stage (sniffing, scanning, limits, UTF-8 checks,
//!   classification, origins);
//!
//! and the same pair for the records written as one JSON array, then prints records/s, MB/s
//! and the ratio read_input / parse-only. No assertions: timing belongs here, not in tests.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};
use trustpath_read::{Input, ReadOptions, read_input};

/// A deterministic stream of realistic UAL records (ExchangeAdmin, STS logon, mailbox
/// access), about 700 bytes each.
fn ual_record(i: u64) -> Value {
    let mut x = i
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x
    };
    let user = format!("user{}@contoso.com", next() % 500);
    let ip = format!(
        "203.0.{}.{}:{}",
        next() % 256,
        next() % 256,
        1024 + next() % 60000
    );
    let time = format!(
        "2024-03-{:02}T{:02}:{:02}:{:02}",
        1 + i % 28,
        i % 24,
        (i / 24) % 60,
        i % 60
    );
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        next() as u32,
        next() as u16,
        next() % 4096,
        next() % 4096,
        next() % (1 << 48)
    );
    match i % 3 {
        0 => json!({
            "CreationTime": time, "Id": id, "Operation": "Add-MailboxPermission",
            "OrganizationId": "11111111-2222-3333-4444-555555555555", "RecordType": 1,
            "ResultStatus": "True", "UserKey": "10032002F222981B", "UserType": 2, "Version": 1,
            "Workload": "Exchange", "ClientIP": ip, "ObjectId": format!("contoso.onmicrosoft.com/mbx{}", next() % 1000),
            "UserId": user, "AppId": "00000002-0000-0ff1-ce00-000000000000", "ExternalAccess": false,
            "OrganizationName": "contoso.onmicrosoft.com", "OriginatingServer": "CH3PR10MB7864 (15.20.6813.027)\r\n",
            "Parameters": [
                {"Name": "Identity", "Value": format!("mbx{}", next() % 1000)},
                {"Name": "User", "Value": format!("delegate{}@contoso.com", next() % 100)},
                {"Name": "AccessRights", "Value": "FullAccess"},
                {"Name": "InheritanceType", "Value": "All"}
            ],
            "SessionId": id
        }),
        1 => json!({
            "CreationTime": time, "Id": id, "Operation": "UserLoggedIn",
            "OrganizationId": "11111111-2222-3333-4444-555555555555", "RecordType": 15,
            "ResultStatus": "Success", "UserKey": "10032002F222981B", "UserType": 0, "Version": 1,
            "Workload": "AzureActiveDirectory", "ClientIP": ip, "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
            "UserId": user, "AzureActiveDirectoryEventType": 1,
            "ExtendedProperties": [{"Name": "UserAgent", "Value": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}, {"Name": "RequestType", "Value": "OAuth2:Token"}],
            "ActorContextId": "11111111-2222-3333-4444-555555555555", "ActorIpAddress": ip,
            "ApplicationId": "ee272b19-4411-433f-8f28-5c13cb6fd407",
            "DeviceProperties": [{"Name": "OS", "Value": "Windows10"}, {"Name": "SessionId", "Value": id}],
            "ErrorNumber": "0"
        }),
        _ => json!({
            "CreationTime": time, "Id": id, "Operation": "MailItemsAccessed",
            "OrganizationId": "11111111-2222-3333-4444-555555555555", "RecordType": 50,
            "ResultStatus": "Succeeded", "UserKey": "100320015858B802", "UserType": 0, "Version": 1,
            "Workload": "Exchange", "UserId": user, "ClientIPAddress": ip, "ClientInfoString": "Client=REST;;",
            "ExternalAccess": false, "LogonType": 2, "MailboxOwnerUPN": format!("mbx{}@contoso.com", next() % 1000),
            "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}],
            "Folders": [{"FolderItems": [{"InternetMessageId": format!("<{}@mail.contoso.com>", next())}], "Id": "LgAAAA", "Path": "\\Inbox"}],
            "OperationCount": 1 + next() % 20
        }),
    }
}

fn write_jsonl(path: &Path, n: u64) -> u64 {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..n {
        serde_json::to_writer(&mut w, &ual_record(i)).expect("write");
        w.write_all(b"\n").expect("write");
    }
    w.flush().expect("flush");
    std::fs::metadata(path).expect("stat").len()
}

fn write_array(path: &Path, n: u64) -> u64 {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    w.write_all(b"[\n").expect("write");
    for i in 0..n {
        if i > 0 {
            w.write_all(b",\n").expect("write");
        }
        serde_json::to_writer(&mut w, &ual_record(i)).expect("write");
    }
    w.write_all(b"\n]\n").expect("write");
    w.flush().expect("flush");
    std::fs::metadata(path).expect("stat").len()
}

fn best_of<F: FnMut() -> u64>(runs: usize, mut f: F) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        count = f();
        best = best.min(t.elapsed());
    }
    (best, count)
}

fn parse_only_lines(path: &Path) -> u64 {
    let mut r = BufReader::with_capacity(256 * 1024, std::fs::File::open(path).expect("open"));
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).expect("read") == 0 {
            break;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&line) {
            std::hint::black_box(&v);
            n += 1;
        }
    }
    n
}

fn parse_only_array(path: &Path) -> u64 {
    // serde_json's own streaming over the array's elements.
    struct Count(u64);
    impl<'de> serde::de::Visitor<'de> for &mut Count {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(v) = seq.next_element::<Value>()? {
                std::hint::black_box(&v);
                self.0 += 1;
            }
            Ok(())
        }
    }
    let r = BufReader::with_capacity(256 * 1024, std::fs::File::open(path).expect("open"));
    let mut de = serde_json::Deserializer::from_reader(r);
    let mut count = Count(0);
    serde::Deserializer::deserialize_seq(&mut de, &mut count).expect("array");
    count.0
}

fn read_stage(path: &Path) -> u64 {
    let mut n = 0;
    read_input(
        &Input::File(path.to_path_buf()),
        &ReadOptions::default(),
        &mut |r| {
            if let Ok(rec) = r {
                std::hint::black_box(&rec);
                n += 1;
            }
        },
    );
    n
}

fn report(what: &str, bytes: u64, (t, n): (Duration, u64)) -> f64 {
    let secs = t.as_secs_f64();
    println!(
        "  {what:<28} {n:>8} records  {:>8.3} s  {:>10.0} records/s  {:>7.1} MB/s",
        secs,
        n as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    secs
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep it small then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("TP_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 200_000 });
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("ual.jsonl");
    let array = dir.path().join("ual.json");
    let jsonl_bytes = write_jsonl(&jsonl, n);
    let array_bytes = write_array(&array, n);
    let runs = if quick { 1 } else { 3 };
    println!("trustpath-read bench: {n} UAL records, best of {runs}");

    println!("JSON Lines ({:.1} MB)", jsonl_bytes as f64 / 1e6);
    let base = report(
        "parse-only (from_slice/line)",
        jsonl_bytes,
        best_of(runs, || parse_only_lines(&jsonl)),
    );
    let ours = report(
        "read_input",
        jsonl_bytes,
        best_of(runs, || read_stage(&jsonl)),
    );
    println!("  ratio read_input / parse-only: {:.2}", ours / base);

    println!("JSON array ({:.1} MB)", array_bytes as f64 / 1e6);
    let base = report(
        "parse-only (serde seq)",
        array_bytes,
        best_of(runs, || parse_only_array(&array)),
    );
    let ours = report(
        "read_input",
        array_bytes,
        best_of(runs, || read_stage(&array)),
    );
    println!("  ratio read_input / parse-only: {:.2}", ours / base);
}
