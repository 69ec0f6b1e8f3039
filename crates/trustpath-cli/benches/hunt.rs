//! End-to-end hunt throughput against the physical limit of the same input.
//!
//! Generates a tenant with `trustpath-simulate` (several hundred users, four weeks:
//! roughly ten times the bundled example), then measures on the same files:
//!
//! * **parse-only**: read every record (sniffing, decompression, JSON/CSV parsing) and
//!   drop it — what any tool must pay;
//! * **normalize**: parse + normalization into events;
//! * **hunt**: parse + normalize + Sigma matching of every event + correlation +
//!   analytics, as `trustpath hunt` runs it.
//!
//! Prints records/s and the ratio of each stage to parse-only (lower is better; the
//! issue target for normalization is ≤ 1.5×). Each stage runs three times; the best run
//! counts. Run: `cargo bench -p trustpath-cli --bench hunt`.

use std::path::Path;
use std::time::{Duration, Instant};
use trustpath_pipeline::{ScanConfig, scan};
use trustpath_read::{Input, ReadOptions};
use trustpath_simulate::{ExampleConfig, generate_example};

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        let took = start.elapsed();
        if best.as_ref().is_none_or(|(b, _)| took < *b) {
            best = Some((took, out));
        }
    }
    best.expect("at least one run")
}

fn parse_only(inputs: &[Input]) -> u64 {
    use rayon::prelude::*;
    inputs
        .par_iter()
        .map(|input| {
            let mut n = 0u64;
            trustpath_read::read_input(input, &ReadOptions::default(), &mut |item| {
                if item.is_ok() {
                    n += 1;
                }
            });
            n
        })
        .sum()
}

fn normalize_only(inputs: &[Input]) -> u64 {
    let result = scan(inputs, &ScanConfig::default(), |_event| None::<()>);
    result.inputs.iter().map(|r| r.summary.events).sum()
}

/// The production hunt ([`trustpath_hunt::hunt_collect`]) over `logs` with `context`.
fn hunt(logs: &Path, context: &Path) -> (u64, usize) {
    let run = trustpath_hunt::hunt_collect(&trustpath_hunt::HuntOptions {
        input: trustpath_hunt::InputOptions {
            paths: vec![logs.to_path_buf()],
            ..Default::default()
        },
        context: trustpath_hunt::ContextChoice::File(context.to_path_buf()),
        ..Default::default()
    })
    .expect("hunt");
    (
        run.summary.files.iter().map(|f| f.events).sum(),
        run.findings.len(),
    )
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ExampleConfig {
        days: 28,
        users: 400,
        ..ExampleConfig::default()
    };
    eprintln!(
        "generating a {}-day, {}-user tenant …",
        config.days, config.users
    );
    generate_example(dir.path(), &config).expect("generate");
    let logs = dir.path().join("logs");
    let (inputs, _) = trustpath_read::expand_inputs(std::slice::from_ref(&logs));
    let bytes: u64 = walk_size(&logs);
    let context = dir.path().join("trustpath.toml");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "input: {} files, {:.1} MB on disk (compressed where .gz); {} threads; load average {}",
        inputs.len(),
        bytes as f64 / 1e6,
        rayon::current_num_threads(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (t_parse, records) = best(3, || parse_only(&inputs));
    let (t_norm, events) = best(3, || normalize_only(&inputs));
    let (t_hunt, (_, findings)) = best(3, || hunt(&logs, &context));
    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64();
    println!(
        "{:<11} {:>10} {:>9} {:>12}  {:>6}",
        "stage", "records", "seconds", "records/s", "ratio"
    );
    let row = |stage: &str, n: u64, t: Duration, extra: String| {
        println!(
            "{stage:<11} {n:>10} {:>9.3} {:>12.0}  {:>5.2}x{extra}",
            t.as_secs_f64(),
            rate(n, t),
            t.as_secs_f64() / t_parse.as_secs_f64()
        );
    };
    row("parse-only", records, t_parse, String::new());
    row("normalize", events, t_norm, String::new());
    row("hunt", events, t_hunt, format!("   ({findings} findings)"));
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk_size(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
