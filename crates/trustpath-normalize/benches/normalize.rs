//! Normalization cost against the parse-only baseline, as users run it.
//!
//! Two inputs, each a large JSON Lines buffer held in memory:
//!
//! * **UAL**: the records of `examples/logs/m365/unified-audit.jsonl.gz` (a realistic mix:
//!   mostly `MailItemsAccessed`, `Send`, `UserLoggedIn`, `Set-Mailbox` by ServiceHost,
//!   `Add-MailboxPermission` with `Parameters` bags) repeated to about 200 000 lines, read
//!   with [`Format::UalJson`]. Without the example file, records of the same shapes are
//!   generated (the bench says so).
//! * **EVTX**: the evtx_dump renderings of `examples/logs/hosts/evtx-dump.jsonl.gz` (4688,
//!   Sysmon 1, 4104, 4103 — what the `evtx` crate produces) repeated to about 150 000 lines,
//!   read with [`Format::EvtxJson`]; generated records of the same shapes without the file.
//!
//! Parse-only is `serde_json::from_slice::<Value>` per line (the floor of any hunt over
//! the input); normalize is the same parse followed by [`Normalizer::push`] (per-format
//! normalization, 4104 reassembly and the `tp.permission_change` / `tp.partner_tenant`
//! enrichment) and [`Normalizer::finish`]. Runs are interleaved; best and median of
//! several runs are printed with the load average, because the 2-core machine is shared.
//! Target: normalize / parse-only time ≤ 1.5. Run with
//! `cargo bench -p trustpath-normalize --bench normalize [-- ual|evtx]`.

use flate2::read::GzDecoder;
use serde_json::{Value, json};
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use trustpath_event::{Format, Origin, RawRecord};
use trustpath_normalize::{NormalizeOptions, Normalizer};

/// Lines of the UAL input.
const UAL_LINES: usize = 200_000;
/// Lines of the EVTX input.
const EVTX_LINES: usize = 150_000;
/// Timed runs per path and input.
const RUNS: usize = 7;

fn main() {
    // `cargo bench … -- ual` or `-- evtx` runs one input only.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    println!("load average at start: {}", load_average());
    if wanted("ual") {
        let ual = load_input(
            "unified-audit.jsonl.gz",
            &example("m365/unified-audit.jsonl.gz"),
            UAL_LINES,
            generated_ual,
        );
        compare("UAL JSON Lines", &ual, Format::UalJson);
    }
    if wanted("evtx") {
        let evtx = load_input(
            "evtx-dump.jsonl.gz",
            &example("hosts/evtx-dump.jsonl.gz"),
            EVTX_LINES,
            generated_evtx,
        );
        compare("EVTX (evtx_dump JSON)", &evtx, Format::EvtxJson);
    }
    if wanted("evtx-binary") {
        compare_binary_evtx();
    }
}

/// Binary EVTX through the `evtx` crate: parse-only is the reader (EVTX chunks to JSON
/// values), normalize adds [`Normalizer`]. Uses the real EVTX samples in `../shared`
/// (each read many times); says so and skips without them.
fn compare_binary_evtx() {
    let Some(shared) = trustpath_testkit::shared_dir("normalize bench (binary EVTX)") else {
        return;
    };
    let (inputs, _) = trustpath_read::expand_inputs(&[shared.join("samples")]);
    let evtx: Vec<_> = inputs
        .into_iter()
        .filter(|i| matches!(i, trustpath_read::Input::File(p) if p.extension().is_some_and(|e| e == "evtx")))
        .collect();
    let bytes: u64 = evtx
        .iter()
        .filter_map(|i| match i {
            trustpath_read::Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            trustpath_read::Input::Stdin => None,
        })
        .sum();
    const PASSES: usize = 400;
    let opts = trustpath_read::ReadOptions::default();
    let run = |normalize: bool| {
        let start = Instant::now();
        let mut records = 0u64;
        let mut out = Vec::new();
        for _ in 0..PASSES {
            for input in &evtx {
                let mut normalizer = Normalizer::new(NormalizeOptions::default());
                trustpath_read::read_input(input, &opts, &mut |item| {
                    if let Ok(raw) = item {
                        records += 1;
                        if normalize {
                            normalizer.push(raw, &mut out);
                            black_box(out.drain(..).count());
                        } else {
                            black_box(raw);
                        }
                    }
                });
                normalizer.finish(&mut out);
                black_box(out.drain(..).count());
            }
        }
        (start.elapsed().as_secs_f64(), records)
    };
    let mut best = (f64::MAX, f64::MAX, 0u64);
    for _ in 0..3 {
        let (parse, records) = run(false);
        let (norm, _) = run(true);
        best = (best.0.min(parse), best.1.min(norm), records);
    }
    let (parse, norm, records) = best;
    let mb = (bytes as f64 * PASSES as f64) / 1e6;
    println!(
        "EVTX (binary, {} files x {PASSES}): parse-only {:.0} records/s {:.1} MB/s; normalize {:.0} records/s {:.1} MB/s; ratio {:.2}x",
        evtx.len(),
        records as f64 / parse,
        mb / parse,
        records as f64 / norm,
        mb / norm,
        norm / parse
    );
}

/// `examples/logs/<rel>` of the workspace.
fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/logs")
        .join(rel)
}

/// The lines of `path` repeated to `target` lines, else `target` generated lines.
fn load_input(
    name: &str,
    path: &Path,
    target: usize,
    generate: fn(usize) -> Value,
) -> Vec<Vec<u8>> {
    let base = match read_gz_lines(path) {
        Ok(lines) if !lines.is_empty() => {
            println!(
                "input {name}: {} lines from {}",
                lines.len(),
                path.display()
            );
            lines
        }
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => "empty".to_owned(),
            };
            println!(
                "input {name}: {} unusable ({why}); generating records",
                path.display()
            );
            return (0..target)
                .map(|i| serde_json::to_vec(&generate(i)).unwrap_or_default())
                .collect();
        }
    };
    base.iter().cycle().take(target).cloned().collect()
}

fn read_gz_lines(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut lines = Vec::new();
    for line in BufReader::new(GzDecoder::new(file)).split(b'\n') {
        let line = line?;
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push(line);
        }
    }
    Ok(lines)
}

/// Times both paths over `lines` and prints the comparison.
fn compare(label: &str, lines: &[Vec<u8>], format: Format) {
    let file: Arc<str> = "bench.jsonl".into();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    // Warm up both paths once.
    let parsed = run_parse(lines);
    let emitted = run_normalize(lines, &file, format);
    let (mut parse, mut norm) = (Timings::default(), Timings::default());
    for _ in 0..RUNS {
        parse.push(timed(|| run_parse(lines)));
        norm.push(timed(|| run_normalize(lines, &file, format)));
    }
    let n = lines.len() as f64;
    let mb = bytes as f64 / 1e6;
    println!(
        "\n== {label}: {} records, {mb:.1} MB ({parsed} parsed, {emitted} events/errors emitted)",
        lines.len()
    );
    println!("wall clock         best: records/s     MB/s | median: records/s     MB/s");
    for (name, t) in [("parse only", &mut parse), ("parse + normalize", &mut norm)] {
        let (best, median) = best_and_median(&mut t.wall);
        println!(
            "{name:<18} {:>17.0} {:>8.1} | {:>17.0} {:>8.1}",
            n / best,
            mb / best,
            n / median,
            mb / median
        );
    }
    println!(
        "ratio normalize / parse-only: wall {}; thread CPU time {} (target <= 1.5)",
        ratio(&mut parse.wall, &mut norm.wall),
        ratio(&mut parse.cpu, &mut norm.cpu)
    );
    println!("load average: {}", load_average());
}

/// Wall-clock and thread CPU seconds of several runs.
#[derive(Default)]
struct Timings {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Timings {
    fn push(&mut self, (wall, cpu): (f64, f64)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }
}

/// `best x, median y` of normalize over parse-only time.
fn ratio(parse: &mut [f64], norm: &mut [f64]) -> String {
    let (parse_best, parse_median) = best_and_median(parse);
    let (norm_best, norm_median) = best_and_median(norm);
    format!(
        "best {:.2}, median {:.2}",
        norm_best / parse_best,
        norm_median / parse_median
    )
}

fn best_and_median(secs: &mut [f64]) -> (f64, f64) {
    secs.sort_by(f64::total_cmp);
    (secs[0], secs[secs.len() / 2])
}

/// Wall-clock and CPU seconds of `f` (CPU time from `/proc/thread-self/schedstat`, which
/// a shared machine's other processes do not inflate; wall time again when unavailable).
fn timed(f: impl FnOnce() -> usize) -> (f64, f64) {
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    black_box(f());
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => wall,
    };
    (wall, cpu)
}

fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
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

/// Parse + `Normalizer::push` of every line, then `finish`; counts emitted items.
fn run_normalize(lines: &[Vec<u8>], file: &Arc<str>, format: Format) -> usize {
    let mut normalizer = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::with_capacity(4);
    let mut n = 0;
    for (i, line) in lines.iter().enumerate() {
        // Into the reader's map type, as the reader parses a top-level object.
        let Ok(fields) = serde_json::from_slice::<trustpath_event::Fields>(line) else {
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
                format,
                fields,
            },
            &mut out,
        );
        n += out.len();
        for item in out.drain(..) {
            let _ = black_box(item);
        }
    }
    normalizer.finish(&mut out);
    n + out.len()
}

fn clock(i: usize) -> String {
    format!(
        "2024-11-05T{:02}:{:02}:{:02}",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    )
}

/// A generated UAL record (fallback without the example file): the example's mix.
fn generated_ual(i: usize) -> Value {
    let tenant = "d3c1e5a7-1b2c-4d3e-8f9a-0b1c2d3e4f50";
    let time = clock(i);
    match i % 10 {
        0 => json!({
            "CreationTime": time, "Id": format!("5b1c9d2e-3f4a-4b5c-8d6e-{i:012}"),
            "Operation": "Add-MailboxPermission", "OrganizationId": tenant, "RecordType": 1,
            "ResultStatus": "True", "UserKey": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
            "UserType": 3, "Version": 1, "Workload": "Exchange",
            "ObjectId": format!("EURPR01A002.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/user{i}"),
            "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", "AppId": "",
            "ClientAppId": "", "ExternalAccess": true, "OrganizationName": "contoso.onmicrosoft.com",
            "OriginatingServer": "AM6PR01MB1234 (15.20.8137.018)",
            "Parameters": [
                {"Name": "Identity", "Value": format!("user{i}@contoso.com")},
                {"Name": "User", "Value": format!("delegate{}@contoso.com", i % 30)},
                {"Name": "AccessRights", "Value": "FullAccess"},
            ]
        }),
        1 | 2 => json!({
            "CreationTime": time, "Id": format!("1da3ccc0-7135-4e9f-a810-{i:012}"),
            "Operation": "Set-Mailbox", "OrganizationId": tenant, "RecordType": 1,
            "ResultStatus": "True", "UserKey": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
            "UserType": 3, "Version": 1, "Workload": "Exchange",
            "ObjectId": format!("contoso.onmicrosoft.com/user{i}"),
            "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
            "OriginatingServer": "CH3PR10MB4891 (15.20.8186.021)",
            "Parameters": [
                {"Name": "Identity", "Value": format!("contoso.onmicrosoft.com/user{i}")},
                {"Name": "RetentionPolicy", "Value": "Default MRM Policy"},
                {"Name": "DomainController", "Value": ""}
            ]
        }),
        3 => json!({
            "CreationTime": time, "Id": format!("9db867f6-36d4-499b-ae96-{i:012}"),
            "Operation": "UserLoggedIn", "OrganizationId": tenant, "RecordType": 15,
            "ResultStatus": "Success", "UserKey": "1003325C403EB02B", "UserType": 0, "Version": 1,
            "Workload": "AzureActiveDirectory", "ClientIP": format!("198.18.11.{}", i % 250),
            "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
            "UserId": format!("user{}@contoso.com", i % 500), "AzureActiveDirectoryEventType": 1,
            "ActorContextId": tenant, "ActorIpAddress": format!("198.18.11.{}", i % 250),
            "DeviceProperties": [{"Name": "OS", "Value": "Windows10"}], "ErrorNumber": "0"
        }),
        _ => json!({
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
            "OriginatingServer": "AM6PR01MB1234 (15.20.8137.018)\r\n",
            "Folders": [{"FolderItems": [{"InternetMessageId": format!("<m{i}@contoso.com>"), "SizeInBytes": 48213}], "Id": "LgAAAAB2", "Path": "\\Inbox"}],
            "OperationCount": 1
        }),
    }
}

/// A generated evtx_dump record (fallback without the example file): 4688, Sysmon 1,
/// 4104 and 4103 in the example's proportions.
fn generated_evtx(i: usize) -> Value {
    let (provider, channel, id, data) = match i % 14 {
        0..=5 => (
            "Microsoft-Windows-Security-Auditing",
            "Security",
            4688,
            json!({"SubjectUserName": format!("user{}", i % 300), "SubjectDomainName": "CONTOSO",
                   "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                   "CommandLine": format!("cmd.exe /c dir C:\\Users\\user{}", i % 300),
                   "ParentProcessName": "C:\\Windows\\explorer.exe"}),
        ),
        6..=11 => (
            "Microsoft-Windows-Sysmon",
            "Microsoft-Windows-Sysmon/Operational",
            1,
            json!({"RuleName": "-", "Image": "C:\\Windows\\System32\\cmd.exe",
                   "CommandLine": format!("cmd.exe /c dir C:\\Users\\user{}", i % 300),
                   "User": format!("CONTOSO\\user{}", i % 300), "ProcessId": i}),
        ),
        12 => (
            "Microsoft-Windows-PowerShell",
            "Microsoft-Windows-PowerShell/Operational",
            4104,
            json!({"MessageNumber": 1, "MessageTotal": 1,
                   "ScriptBlockText": "Get-ChildItem -Path $env:USERPROFILE\\Documents -Filter *.xlsx | Select-Object Name, Length",
                   "ScriptBlockId": format!("bb62b07c-6c55-48a1-9276-{i:012}"), "Path": ""}),
        ),
        _ => (
            "Microsoft-Windows-PowerShell",
            "Microsoft-Windows-PowerShell/Operational",
            4103,
            json!({"ContextInfo": "        Host Application = powershell.exe\r\n        Command Name = Get-Process\r\n        User = CONTOSO\\lidia.vance\r\n",
                   "UserData": "", "Payload": "CommandInvocation(Get-Process): \"Get-Process\"\r\n"}),
        ),
    };
    json!({"Event": {"#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {"Provider": {"#attributes": {"Name": provider}}, "EventID": id, "Version": 1,
            "Level": 4, "Task": 0, "Opcode": 0, "Keywords": "0x0",
            "TimeCreated": {"#attributes": {"SystemTime": format!("{}.000000Z", clock(i))}},
            "EventRecordID": i, "Correlation": null,
            "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 7864}},
            "Channel": channel, "Computer": format!("WS-{}.contoso.local", i % 80), "Security": null},
        "EventData": data}})
}
