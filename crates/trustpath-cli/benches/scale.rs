//! Scale: one tenant with N internal mailbox grants and 5N mailbox reads around one
//! partner chain (AN1350), at several sizes. Issue 10 asks that the hunt finish in time
//! linear in the input and still find the chain.
//!
//! For each size the tenant comes from `trustpath_simulate::generate_scale_tenant`; the
//! hunt is the one `trustpath hunt` runs (`trustpath_pipeline::scan` with
//! `Detector::match_shared`, then `Detector::findings`), with the generated context.
//! Prints, per size: records, seconds, microseconds per record and that figure as a ratio
//! to the smallest size (≈ 1 when linear; a quadratic engine doubles it with every
//! doubling of the input). Panics when the chain is not found.
//!
//! Run: `cargo bench -p trustpath-cli --bench scale` (sizes 2,000/10,000,
//! 5,000/25,000, 10,000/50,000); `-- --quick` for a CI smoke run (200/1,000,
//! 500/2,500, 1,000/5,000); `TRUSTPATH_BENCH_SIZES=1000:5000,4000:20000` (grants:reads)
//! to choose the sizes.

use std::time::{Duration, Instant};
use trustpath_report::{Finding, FindingKind};
use trustpath_simulate::{ScaleConfig, ScaleTruth, generate_scale_tenant};

const FULL: [(usize, usize); 3] = [(2_000, 10_000), (5_000, 25_000), (10_000, 50_000)];
const QUICK: [(usize, usize); 3] = [(200, 1_000), (500, 2_500), (1_000, 5_000)];

fn sizes() -> Vec<(usize, usize)> {
    if let Ok(spec) = std::env::var("TRUSTPATH_BENCH_SIZES") {
        let parsed: Option<Vec<(usize, usize)>> = spec
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|pair| {
                let (g, r) = pair.trim().split_once(':')?;
                Some((g.trim().parse().ok()?, r.trim().parse().ok()?))
            })
            .collect();
        match parsed {
            Some(sizes) if !sizes.is_empty() => return sizes,
            _ => {
                eprintln!(
                    "TRUSTPATH_BENCH_SIZES={spec:?}: expected grants:reads[,grants:reads…]; using the defaults"
                );
            }
        }
    }
    if std::env::args().any(|a| a == "--quick") {
        QUICK.to_vec()
    } else {
        FULL.to_vec()
    }
}

/// The hunt as `trustpath hunt` runs it ([`trustpath_hunt::hunt_collect`]).
fn hunt(dir: &std::path::Path) -> (u64, Vec<Finding>) {
    let run = trustpath_hunt::hunt_collect(&trustpath_hunt::HuntOptions {
        input: trustpath_hunt::InputOptions {
            paths: [
                "unified-audit.jsonl",
                "signins.json",
                "directory-audits.json",
            ]
            .iter()
            .map(|f| dir.join(f))
            .collect(),
            ..Default::default()
        },
        context: trustpath_hunt::ContextChoice::File(dir.join("trustpath.toml")),
        ..Default::default()
    })
    .expect("hunt");
    (
        run.summary.files.iter().map(|f| f.events).sum(),
        run.findings,
    )
}

/// The AN1350 finding of the planted chain: it must cite the chain's delegation and an
/// access by the partner.
fn chain_found(truth: &ScaleTruth, findings: &[Finding]) -> Option<String> {
    let ids = |step: &str| -> Vec<&str> {
        truth
            .chain
            .iter()
            .filter(|(_, s)| s.contains(step))
            .map(|(id, _)| id.as_str())
            .collect()
    };
    let (delegations, accesses) = (ids("step 2"), ids("step 3"));
    findings
        .iter()
        .filter(|f| f.analytic.as_deref() == Some("AN1350"))
        .find(|f| {
            let cites = |wanted: &[&str]| {
                f.evidence
                    .iter()
                    .any(|e| e.record_id.as_deref().is_some_and(|r| wanted.contains(&r)))
            };
            cites(&delegations) && cites(&accesses)
        })
        .map(|f| {
            format!(
                "{} {}, {} evidence",
                match f.kind {
                    FindingKind::Alert => "alert",
                    FindingKind::HuntingLead => "hunting lead",
                },
                f.entities.partner.as_deref().unwrap_or("?"),
                f.evidence.len()
            )
        })
}

fn main() {
    let sizes = sizes();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "scale: one tenant, N internal grants + 5N reads around one partner chain; {} threads; load average {}",
        rayon::current_num_threads(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:>7} {:>7} {:>8} {:>9} {:>10} {:>6}  {:>8}  chain",
        "grants", "reads", "records", "seconds", "µs/record", "ratio", "findings"
    );
    let mut first: Option<f64> = None;
    let mut last: f64 = 1.0;
    for (grants, reads) in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let truth =
            generate_scale_tenant(dir.path(), &ScaleConfig::new(grants, reads)).expect("generate");
        let start = Instant::now();
        let (events, findings) = hunt(dir.path());
        let took: Duration = start.elapsed();
        assert_eq!(events, truth.records as u64, "every record read");
        let per = took.as_secs_f64() * 1e6 / truth.records.max(1) as f64;
        let ratio = per / *first.get_or_insert(per);
        last = ratio;
        let chain = chain_found(&truth, &findings);
        println!(
            "{grants:>7} {reads:>7} {:>8} {:>9.3} {per:>10.2} {ratio:>5.2}x  {:>8}  {}",
            truth.records,
            took.as_secs_f64(),
            findings.len(),
            chain.as_deref().unwrap_or("NOT FOUND")
        );
        assert!(
            chain.is_some(),
            "the partner chain ({} on {}) was not found among {} findings",
            truth.partner_tenant,
            truth.mailbox,
            findings.len()
        );
    }
    println!(
        "per-record cost of the largest size vs the smallest: {last:.2}x ({})",
        if last < 2.0 {
            "linear within noise"
        } else {
            "NOT linear"
        }
    );
}
