//! Stateless findings stream through the spool: the same findings whether they stay in
//! memory or go through the temporary file, records repeated across inputs reported
//! once, host events attributed to their folder's tenant before their finding is written,
//! and the sink sees them before the correlated findings. When no input can name a
//! tenant, the first input's findings are written while the scan runs: the same
//! findings, in the same order, as through the spool.

use serde_json::json;
use std::path::Path;
use trustpath_hunt::{ContextChoice, HuntOptions, InputOptions};
use trustpath_report::Finding;

const TENANT: &str = "2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6";

/// A Security 4688 as NXLog's im_msvistalog writes it (flat JSON, UTC `EventTime`).
fn process(record: u64, command: &str) -> String {
    json!({
        "EventTime": format!("2025-05-01T10:{:02}:{:02}Z", record / 60 % 60, record % 60),
        "Hostname": "EXCH-MGMT-01.contoso.local",
        "Computer": "EXCH-MGMT-01.contoso.local",
        "EventID": 4688,
        "Channel": "Security",
        "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
        "EventRecordID": record,
        "NewProcessName": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "CommandLine": command,
        "SubjectUserName": "svc-helpdesk",
    })
    .to_string()
        + "\n"
}

/// A unified audit log record naming the tenant (the folder's census).
fn ual() -> String {
    json!({
        "CreationTime": "2025-05-01T09:00:00", "Id": "0b7e3c2a-1f4d-4e8b-9a6c-5d2e1f0a9b8c",
        "Operation": "MailItemsAccessed", "OrganizationId": TENANT, "RecordType": 50,
        "UserId": "j.doe@contoso.com", "Workload": "Exchange",
    })
    .to_string()
        + "\n"
}

const RULE: &str = r#"
title: Encoded PowerShell on an Exchange management host
id: 5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f
status: test
level: medium
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    CommandLine|contains: ' -enc '
  condition: selection
"#;

fn setup(dir: &Path) {
    let case = dir.join("case");
    std::fs::create_dir_all(&case).expect("mkdir");
    let day1: String = (1..=40)
        .map(|r| process(r, "powershell -enc SQBFAFgA"))
        .collect();
    // Day 2 overlaps day 1 by ten records (an export taken twice) and adds benign ones.
    let day2: String = (31..=60)
        .map(|r| {
            if r <= 40 {
                process(r, "powershell -enc SQBFAFgA")
            } else {
                process(r, "powershell -File C:\\ops\\report.ps1")
            }
        })
        .collect();
    std::fs::write(case.join("security-day1.jsonl"), day1).expect("write");
    std::fs::write(case.join("security-day2.jsonl"), day2).expect("write");
    std::fs::write(case.join("audit.jsonl"), ual()).expect("write");
    std::fs::write(dir.join("rule.yml"), RULE).expect("write");
}

fn options(dir: &Path, spool_memory: Option<u64>) -> HuntOptions {
    HuntOptions {
        input: InputOptions {
            paths: vec![dir.join("case")],
            ..InputOptions::default()
        },
        context: ContextChoice::Discover,
        rules: vec![dir.join("rule.yml")],
        no_builtin: true,
        spool_memory,
        ..HuntOptions::default()
    }
}

fn ids(findings: &[Finding]) -> Vec<String> {
    let mut ids: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    ids
}

#[test]
fn spooled_or_not_the_findings_are_the_same_and_each_record_counts_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path());
    let in_memory = trustpath_hunt::hunt_collect(&options(dir.path(), None)).expect("hunt");
    let on_disk = trustpath_hunt::hunt_collect(&options(dir.path(), Some(0))).expect("hunt");
    assert_eq!(in_memory.findings.len(), 40, "40 distinct encoded commands");
    assert_eq!(ids(&in_memory.findings), ids(&on_disk.findings));
    assert_eq!(
        serde_json::to_value(&in_memory.findings).expect("json"),
        serde_json::to_value(&on_disk.findings).expect("json"),
        "spooling changes nothing in the findings"
    );
    assert_eq!(on_disk.spooled, 50, "every match went through the spool");
    assert!(
        on_disk.spool_errors.is_empty(),
        "{:?}",
        on_disk.spool_errors
    );
    assert_eq!(in_memory.summary.matched, 50, "40 + 10 repeated");
    let duplicates: u64 = in_memory.summary.files.iter().map(|f| f.duplicates).sum();
    assert_eq!(duplicates, 10);
    for finding in &on_disk.findings {
        assert_eq!(
            finding.entities.tenant.as_deref(),
            Some(TENANT),
            "host events take their folder's tenant before their finding is written"
        );
    }
}

#[test]
fn the_sink_gets_findings_as_they_are_decided() {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path());
    let mut seen = Vec::new();
    let mut sink = |f: Finding| -> std::io::Result<()> {
        seen.push(f.id);
        Ok(())
    };
    let run = trustpath_hunt::hunt(&options(dir.path(), Some(0)), &mut sink).expect("hunt");
    assert!(run.findings.is_empty(), "nothing held for the caller");
    assert_eq!(run.counts.total, 40);
    assert_eq!(run.counts.medium, 40);
    assert_eq!(seen.len(), 40);
    let collected = trustpath_hunt::hunt_collect(&options(dir.path(), Some(0))).expect("hunt");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, ids(&collected.findings));
}

#[test]
fn a_sink_error_stops_the_hunt_with_that_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path());
    let mut sink = |_: Finding| -> std::io::Result<()> {
        Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    };
    stopped_by_broken_pipe(trustpath_hunt::hunt(&options(dir.path(), None), &mut sink));
}

/// Runs `hunt` with a sink that keeps every finding in the order it was given.
fn hunt_in_order(options: &HuntOptions) -> (Vec<Finding>, trustpath_hunt::HuntRun) {
    let mut seen = Vec::new();
    let mut sink = |f: Finding| -> std::io::Result<()> {
        seen.push(f);
        Ok(())
    };
    let run = trustpath_hunt::hunt(options, &mut sink).expect("hunt");
    (seen, run)
}

/// `rule.yml` and one input holding `records` in `dir`; the input's path.
fn one_input(dir: &Path, records: String) -> std::path::PathBuf {
    std::fs::write(dir.join("rule.yml"), RULE).expect("write");
    let file = dir.join("security.jsonl");
    std::fs::write(&file, records).expect("write");
    file
}

/// `count` events that match the rule.
fn encoded(count: u64) -> String {
    (1..=count)
        .map(|r| process(r, "powershell -enc SQBFAFgA"))
        .collect()
}

fn only(dir: &Path, paths: Vec<std::path::PathBuf>) -> HuntOptions {
    HuntOptions {
        input: InputOptions {
            paths,
            ..InputOptions::default()
        },
        context: ContextChoice::Discover,
        rules: vec![dir.join("rule.yml")],
        no_builtin: true,
        ..HuntOptions::default()
    }
}

#[test]
fn with_no_tenant_anywhere_the_first_input_streams_the_same_findings_in_the_same_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rule.yml"), RULE).expect("write");
    let host = dir.path().join("host");
    std::fs::create_dir_all(&host).expect("mkdir");
    // Benign events between the matching ones, and a record repeated within the input.
    let records: String = (1..=300)
        .map(|r| {
            let command = if r % 3 == 0 {
                "powershell -enc SQBFAFgA"
            } else {
                "powershell -File C:\\ops\\report.ps1"
            };
            process(r, &format!("{command} #{r}"))
        })
        .chain([process(3, "powershell -enc SQBFAFgA #3")])
        .collect();
    std::fs::write(host.join("security.jsonl"), records).expect("write");
    // The word "tenant" in a value names no tenant, but the proof is literal: with this
    // input in the run nothing is proven and every finding goes through the spool.
    std::fs::write(
        host.join("zz-notes.jsonl"),
        process(999, "whoami /tenant-report"),
    )
    .expect("write");

    let (streamed, early) = hunt_in_order(&only(dir.path(), vec![host.join("security.jsonl")]));
    let (spooled, late) = hunt_in_order(&only(dir.path(), vec![host.clone()]));
    assert_eq!(
        streamed.len(),
        100,
        "every third record matches, the repeat once"
    );
    assert_eq!(early.streamed, 100, "all written while the scan ran");
    assert_eq!(early.spooled, 0);
    assert_eq!(late.streamed, 0, "not proven: through the spool");
    assert_eq!(late.spooled, 100);
    assert_eq!(
        serde_json::to_value(&streamed).expect("json"),
        serde_json::to_value(&spooled).expect("json"),
        "the same findings in the same order"
    );
    assert_eq!(early.counts, late.counts);
    assert_eq!(early.summary.matched, late.summary.matched);
}

#[test]
fn a_tenant_named_at_the_end_of_the_one_input_still_reaches_its_host_events() {
    // Host events first, the record naming the tenant last: the findings may only be
    // written once the whole input was read.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = one_input(dir.path(), encoded(20) + &ual());
    let (findings, run) = hunt_in_order(&only(dir.path(), vec![file]));
    assert_eq!(findings.len(), 20);
    assert_eq!(run.streamed, 0);
    for finding in &findings {
        assert_eq!(finding.entities.tenant.as_deref(), Some(TENANT));
    }
}

#[test]
fn a_sink_error_while_the_scan_runs_stops_the_hunt_with_that_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = one_input(dir.path(), encoded(2000));
    let mut written = 0;
    let mut sink = |_: Finding| -> std::io::Result<()> {
        written += 1;
        if written > 10 {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        }
        Ok(())
    };
    stopped_by_broken_pipe(trustpath_hunt::hunt(
        &only(dir.path(), vec![file]),
        &mut sink,
    ));
    assert_eq!(written, 11, "nothing is written after the error");
}

#[test]
fn a_hunt_called_on_a_pool_thread_uses_the_spool_and_finishes() {
    // The calling thread writes what the scan sends; on a pool thread it would not run
    // the pool jobs the scan waits for (one thread: nothing else would).
    let dir = tempfile::tempdir().expect("tempdir");
    let file = one_input(dir.path(), encoded(600));
    let options = only(dir.path(), vec![file]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let (findings, run) = pool.install(|| hunt_in_order(&options));
    assert_eq!(findings.len(), 600);
    assert_eq!(run.streamed, 0);
    let (streamed, early) = hunt_in_order(&options);
    assert_eq!(early.streamed, 600);
    assert_eq!(
        serde_json::to_value(&findings).expect("json"),
        serde_json::to_value(&streamed).expect("json")
    );
}

/// A sink that writes JSON Lines through the format's writer, as `trustpath hunt -f jsonl`
/// does; with `encode`, it offers the format's encoder (the findings written while the
/// scan runs then arrive as bytes made on the pool).
struct Lines {
    out: Vec<u8>,
    encode: bool,
    encoded: u64,
    metas: Vec<trustpath_hunt::FindingMeta>,
}

impl Lines {
    fn new(encode: bool) -> Self {
        Lines {
            out: Vec::new(),
            encode,
            encoded: 0,
            metas: Vec::new(),
        }
    }
}

impl trustpath_hunt::FindingSink for Lines {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        self.metas.push(trustpath_hunt::FindingMeta::of(&finding));
        trustpath_report::write_findings(
            &mut self.out,
            trustpath_report::OutputFormat::Jsonl,
            &[finding],
        )
    }

    fn encoder(&self) -> Option<trustpath_report::Encoder> {
        self.encode.then_some(trustpath_report::Encoder::Jsonl)
    }

    fn encoded(&mut self, meta: trustpath_hunt::FindingMeta, bytes: &[u8]) -> std::io::Result<()> {
        self.encoded += 1;
        self.metas.push(meta);
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// The same hunt into a [`Lines`] sink that takes findings, then into one that offers
/// the encoder.
fn without_and_with_encoder(
    options: &HuntOptions,
) -> (
    (Lines, trustpath_hunt::HuntRun),
    (Lines, trustpath_hunt::HuntRun),
) {
    let run = |encode: bool| {
        let mut lines = Lines::new(encode);
        let run = trustpath_hunt::hunt(options, &mut lines).expect("hunt");
        (lines, run)
    };
    (run(false), run(true))
}

#[test]
fn findings_encoded_on_the_pool_are_the_bytes_the_writer_would_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    // More findings than one batch handed to the calling thread (512).
    let file = one_input(dir.path(), encoded(1500));
    let ((plain, plain_run), (bytes, bytes_run)) =
        without_and_with_encoder(&only(dir.path(), vec![file]));
    assert_eq!(plain_run.streamed, 1500, "written while the scan ran");
    assert_eq!(bytes_run.streamed, 1500);
    assert_eq!(plain.encoded, 0, "no encoder offered: findings");
    assert_eq!(bytes.encoded, 1500, "every one arrived as bytes");
    assert!(
        plain.out == bytes.out,
        "the same lines in the same order, byte for byte"
    );
    assert_eq!(plain.metas, bytes.metas);
    assert_eq!(plain_run.counts, bytes_run.counts);
    assert_eq!(bytes_run.counts.medium, 1500);
}

#[test]
fn fail_on_sees_the_level_of_encoded_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = one_input(dir.path(), encoded(20));
    let options = only(dir.path(), vec![file]);
    for (level, hit) in [
        (trustpath_report::Level::Medium, true),
        (trustpath_report::Level::High, false),
    ] {
        let mut lines = Lines::new(true);
        let mut sink = trustpath_hunt::FailOn {
            inner: &mut lines,
            level: Some(level),
            hit: false,
        };
        trustpath_hunt::hunt(&options, &mut sink).expect("hunt");
        assert_eq!(sink.hit, hit, "--fail-on {level:?} over medium findings");
        assert_eq!(lines.encoded, 20, "FailOn passes the encoder on");
    }
}

#[test]
fn an_encoded_sink_error_while_the_scan_runs_stops_the_hunt_with_that_error() {
    struct Failing(u64);
    impl trustpath_hunt::FindingSink for Failing {
        fn finding(&mut self, _: Finding) -> std::io::Result<()> {
            panic!("offered an encoder: given bytes")
        }
        fn encoder(&self) -> Option<trustpath_report::Encoder> {
            Some(trustpath_report::Encoder::Jsonl)
        }
        fn encoded(&mut self, _: trustpath_hunt::FindingMeta, _: &[u8]) -> std::io::Result<()> {
            self.0 += 1;
            if self.0 > 10 {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            Ok(())
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = one_input(dir.path(), encoded(2000));
    let mut sink = Failing(0);
    stopped_by_broken_pipe(trustpath_hunt::hunt(
        &only(dir.path(), vec![file]),
        &mut sink,
    ));
    assert_eq!(sink.0, 11, "nothing is written after the error");
}

#[test]
fn findings_drained_from_the_spool_are_encoded_on_the_pool_too() {
    // A record naming a tenant: nothing streams during the scan, everything is spooled
    // (here through the temporary file) and decided after it.
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path());
    let ((plain, plain_run), (bytes, bytes_run)) =
        without_and_with_encoder(&options(dir.path(), Some(0)));
    assert_eq!(bytes_run.streamed, 0, "not proven: through the spool");
    assert_eq!(bytes_run.spooled, 50);
    assert_eq!(
        bytes.encoded, 40,
        "every stateless finding arrived as bytes"
    );
    assert!(plain.out == bytes.out, "the same lines in the same order");
    assert_eq!(plain_run.counts, bytes_run.counts);
}

/// Asserts that a hunt stopped with the error its sink gave: a broken pipe.
fn stopped_by_broken_pipe(result: anyhow::Result<trustpath_hunt::HuntRun>) {
    let error = match result {
        Ok(_) => panic!("the sink failed"),
        Err(e) => e,
    };
    assert_eq!(
        error
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind),
        Some(std::io::ErrorKind::BrokenPipe)
    );
}
