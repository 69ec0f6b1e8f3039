//! What one batch costs as retained state grows, without NATS: the service's own
//! `Processor` (the production `ingest` and `tick`), one partition of 25 tenants holding
//! 1k / 10k / 50k retained matched events per partition (40 / 400 / 2,000 per tenant, as
//! in the `retained` bench), every tenant with a complete AN1350 chain
//! (so no analytic can skip it). Then, per sample, one message with one new matched event
//! for one tenant, and the tick that correlates it: the median and p99 of that ingest +
//! tick are the per-batch cost a worker pays. Flat across the sizes = a batch costs what
//! it changed.
//!
//! `cargo bench -p trustpath-serve --bench tick` prints a table (asserts nothing).
//! `TRUSTPATH_BENCH_SIZES=1000,250000` picks per-partition sizes,
//! `TRUSTPATH_BENCH_SAMPLES=2000` the number of batches.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};
use trustpath_serve::state::{Inbound, PartitionState};

const TENANTS: usize = 25;
const ACTORS: usize = 20;

fn config() -> trustpath_serve::ServeConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = format!(
        "nats_url = \"nats://127.0.0.1:1\"\nstore = \"/tmp/unused.redb\"\ncontext = \"{}\"\n\
         lateness = \"0s\"\n[partitions]\ntotal = 1\nowned = [0]\n",
        root.join("examples/trustpath.toml").display(),
    );
    trustpath_serve::ServeConfig::from_toml_str(&text, Path::new("bench.toml")).unwrap()
}

fn tenant(i: usize) -> String {
    format!("bench{i:03}")
}

/// A mailbox access by an internal user (AN1350 step 3 candidate; alone no finding).
fn matched(tenant: &str, n: usize, time: jiff::Timestamp) -> String {
    format!(
        "{{\"CreationTime\":\"{}\",\"Id\":\"m-{tenant}-{n}\",\"Operation\":\"MailItemsAccessed\",\
         \"OrganizationId\":\"{tenant}\",\"RecordType\":50,\"UserId\":\"user{:02}@{tenant}.example\",\
         \"UserType\":0,\"Workload\":\"Exchange\",\"LogonType\":1,\
         \"MailboxOwnerUPN\":\"owner@{tenant}.example\",\"ClientIPAddress\":\"10.1.{}.{}\",\
         \"ResultStatus\":\"Succeeded\"}}",
        time.strftime("%Y-%m-%dT%H:%M:%S"),
        n % ACTORS,
        n % 7,
        n % 200,
    )
}

/// One message through the production ingest.
fn ingest(
    processor: &trustpath_serve::state::Processor,
    state: &mut PartitionState,
    tenant: &str,
    seq: u64,
    payload: &[u8],
    out: &mut Vec<trustpath_serve::state::Publication>,
) {
    processor.ingest(
        state,
        Inbound {
            tenant,
            source: "ual",
            seq,
            payload,
            received: None,
        },
        out,
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("TRUSTPATH_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
    let samples: usize = std::env::var("TRUSTPATH_BENCH_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let processor = trustpath_serve::processor(&config()).unwrap();
    println!(
        "one partition, {TENANTS} tenants, each with a complete AN1350 chain; \
         one new matched event per batch, {samples} batches"
    );
    println!("| retained per partition | per tenant | load | batch p50 | batch p99 | batch mean |");
    println!("|---|---|---|---|---|---|");
    for per_partition in sizes {
        let per_tenant = per_partition / TENANTS;
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        let mut seq = 0u64;
        let now = jiff::Timestamp::now();
        let start = now - jiff::SignedDuration::from_hours(72);
        let step = jiff::SignedDuration::from_hours(71) / per_tenant.max(1) as i32;
        let loading = Instant::now();
        for i in 0..TENANTS {
            let t = tenant(i);
            let scenario = trustpath_simulate::Scenario {
                tenant_id: t.clone(),
                start: start - jiff::SignedDuration::from_hours(4),
                seed: i as u64,
                ..Default::default()
            };
            let chain = trustpath_simulate::simulate(
                "AN1350",
                trustpath_simulate::OutFormat::UalJsonl,
                &scenario,
            )
            .unwrap();
            seq += 1;
            ingest(&processor, &mut state, &t, seq, &chain, &mut out);
            for chunk in (0..per_tenant).collect::<Vec<_>>().chunks(500) {
                let lines: Vec<String> = chunk
                    .iter()
                    .map(|&n| matched(&t, n, start + step * (n as i32 + 1)))
                    .collect();
                seq += 1;
                ingest(
                    &processor,
                    &mut state,
                    &t,
                    seq,
                    lines.join("\n").as_bytes(),
                    &mut out,
                );
            }
        }
        processor.tick(&mut state, false, &mut out);
        let load = loading.elapsed();
        out.clear();
        // The premise: every tenant holds a complete AN1350 chain (so nothing is skipped).
        let chained = state
            .tenants
            .values()
            .filter(|t| {
                t.current.iter().any(|f| {
                    f.analytic.as_deref() == Some("AN1350")
                        && f.kind == trustpath_report::FindingKind::Alert
                })
            })
            .count();
        assert_eq!(chained, TENANTS, "every tenant should hold an AN1350 alert");
        let mut costs = Vec::with_capacity(samples);
        let mut correlated = 0;
        let mut published = 0;
        for s in 0..samples {
            let t = tenant(s % TENANTS);
            let line = matched(
                &t,
                1_000_000 + s,
                now + jiff::SignedDuration::from_secs(s as i64),
            );
            seq += 1;
            let began = Instant::now();
            ingest(&processor, &mut state, &t, seq, line.as_bytes(), &mut out);
            processor.tick(&mut state, false, &mut out);
            costs.push(began.elapsed());
            correlated += state.correlated.len();
            published += out.len();
            state.correlated.clear();
            out.clear();
            for tenant in state.tenants.values_mut() {
                tenant.changes = Default::default();
            }
        }
        costs.sort();
        eprintln!(
            "tenants correlated per batch: {:.2}, publications {published}",
            correlated as f64 / samples as f64
        );
        let mean = costs.iter().sum::<Duration>() / costs.len() as u32;
        let p = |q: f64| costs[((costs.len() as f64 * q) as usize).min(costs.len() - 1)];
        println!(
            "| {per_partition} | {per_tenant} | {:.1} s | {:.2} ms | {:.2} ms | {:.2} ms |",
            load.as_secs_f64(),
            p(0.5).as_secs_f64() * 1e3,
            p(0.99).as_secs_f64() * 1e3,
            mean.as_secs_f64() * 1e3,
        );
    }
}
