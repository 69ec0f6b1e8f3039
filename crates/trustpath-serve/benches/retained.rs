//! Does a batch cost what it changed, or what the partition retains? A real nats-server
//! (`scripts/nats`), one worker owning 4 partitions, 100 tenants, and three sizes of
//! retained state: 1k, 10k and 50k matched events per partition (mailbox access by a
//! delegate: AN1350 step 3, kept for correlation, no finding on its own), loaded first
//! through the service itself. Then, for each size, a steady load of 20,000 events/s of
//! ordinary activity over the same tenants with an AN1052 chain (simulated, event time =
//! now) injected every 200 ms on a tenant of its own, and:
//!
//! * per-batch commit time (the `trustpath_commit_seconds` histogram, measured phase
//!   only: bucket upper bounds for p50 / p99, and the mean);
//! * value bytes written per commit (mean) versus value bytes stored;
//! * p50 / p99 from publishing a chain to receiving its finding.
//!
//! `cargo bench -p trustpath-serve --bench retained` prints a table (asserts nothing).
//! `TRUSTPATH_BENCH_SIZES=1000,10000` picks sizes; `TRUSTPATH_BENCH_MATCHED_EVERY=50`
//! makes one steady record in 50 a matched event (by design each one makes its tenant's
//! batch correlation due, which costs that tenant's retained events);
//! `TRUSTPATH_BENCH_CHAINED=1` also gives every tenant a complete AN1350 chain at the
//! start of its retained period (the analytic cannot skip the tenant).
//! Needs nats-server (`scripts/install-deps`); prints SKIPPED without it.

#![allow(clippy::unwrap_used)]

use async_nats::jetstream;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use trustpath_serve::metrics::COMMIT_BUCKETS_MICROS;

const TENANTS: usize = 100;
const PARTITIONS: usize = 4;
const RECORDS_PER_MESSAGE: usize = 50;
const ACTORS: usize = 20;
const RATE: usize = 20_000;
const SECONDS: u64 = 10;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Nats(tempfile::TempDir, String);

impl Nats {
    fn start() -> Option<Nats> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("bash")
            .arg(root().join("scripts/nats"))
            .arg("start")
            .arg(dir.path())
            .output()
            .ok()?;
        out.status.success().then(|| {
            let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            Nats(dir, url)
        })
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(root().join("scripts/nats"))
            .arg("stop")
            .arg(self.0.path())
            .output();
    }
}

fn tenant(i: usize) -> String {
    format!("bench{i:03}")
}

fn actor(tenant: &str, k: usize) -> String {
    format!("user{k:02}@{tenant}.example")
}

/// A delegate's mailbox access (matched: AN1350 step 3; alone it is no finding).
fn matched(tenant: &str, n: usize, time: jiff::Timestamp) -> String {
    format!(
        "{{\"CreationTime\":\"{}\",\"Id\":\"m-{tenant}-{n}\",\"Operation\":\"MailItemsAccessed\",\
         \"OrganizationId\":\"{tenant}\",\"RecordType\":50,\"UserId\":\"{}\",\"UserType\":0,\
         \"Workload\":\"Exchange\",\"LogonType\":1,\"MailboxOwnerUPN\":\"owner@{tenant}.example\",\
         \"ClientIPAddress\":\"10.1.2.3\",\"ResultStatus\":\"Succeeded\"}}",
        time.strftime("%Y-%m-%dT%H:%M:%S"),
        actor(tenant, n % ACTORS)
    )
}

/// Ordinary activity (matches nothing).
fn ordinary(tenant: &str, n: usize, time: jiff::Timestamp) -> String {
    format!(
        "{{\"CreationTime\":\"{}\",\"Id\":\"o-{tenant}-{n}\",\"Operation\":\"FileAccessed\",\
         \"OrganizationId\":\"{tenant}\",\"RecordType\":6,\"UserId\":\"{}\",\"UserType\":0,\
         \"Workload\":\"SharePoint\",\"ClientIP\":\"10.1.2.3\",\"ObjectId\":\"https://x/doc{n}.docx\"}}",
        time.strftime("%Y-%m-%dT%H:%M:%S"),
        actor(tenant, n % ACTORS)
    )
}

fn config(url: &str, store: &Path) -> trustpath_serve::ServeConfig {
    let text = format!(
        "nats_url = \"{url}\"\nstore = \"{}\"\ncontext = \"{}\"\nlateness = \"0s\"\n\
         tick_ms = 20\ntick_messages = 200\n[partitions]\ntotal = {PARTITIONS}\nowned = [0, 1, 2, 3]\n",
        store.display(),
        root().join("examples/trustpath.toml").display(),
    );
    trustpath_serve::ServeConfig::from_toml_str(&text, Path::new("bench.toml")).unwrap()
}

/// The event stream as the service creates it (the publisher may start first).
async fn ensure_stream(js: &jetstream::Context) {
    trustpath_serve::create_stream(js, trustpath_serve::events_stream_config())
        .await
        .unwrap();
}

async fn drained(js: &jetstream::Context) -> bool {
    let Ok(stream) = js.get_stream("TRUSTPATH_EVENTS").await else {
        return false;
    };
    for p in 0..PARTITIONS {
        let Ok(mut c) = stream
            .get_consumer::<jetstream::consumer::pull::Config>(&format!("trustpath-p{p}"))
            .await
        else {
            return false;
        };
        match c.info().await {
            Ok(i) if i.num_pending == 0 && i.num_ack_pending == 0 => {}
            _ => return false,
        }
    }
    true
}

fn chain(tenant: &str, seed: u64) -> Vec<u8> {
    let now = jiff::Timestamp::now();
    let scenario = trustpath_simulate::Scenario {
        tenant_id: tenant.to_owned(),
        start: now - jiff::SignedDuration::from_mins(30),
        seed,
        ..Default::default()
    };
    trustpath_simulate::simulate(
        "AN1052",
        trustpath_simulate::OutFormat::EvtxDumpJsonl,
        &scenario,
    )
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn buckets(m: &trustpath_serve::Metrics) -> Vec<u64> {
    m.commit_buckets
        .iter()
        .map(|b| b.load(Ordering::Relaxed))
        .collect()
}

/// Upper bound (µs) of the bucket holding quantile `q` of the counts.
fn bucket_quantile(counts: &[u64], q: f64) -> String {
    let total: u64 = counts.iter().sum();
    let want = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= want {
            return match COMMIT_BUCKETS_MICROS.get(i) {
                Some(b) if *b >= 1000 => format!("≤{} ms", b / 1000),
                Some(b) => format!("≤{} µs", b),
                None => ">1 s".to_owned(),
            };
        }
    }
    "-".to_owned()
}

struct Row {
    size: usize,
    retained: (u64, u64),
    stored_mib: f64,
    commits: u64,
    commit_mean_ms: f64,
    commit_p50: String,
    commit_p99: String,
    commit_bytes: u64,
    achieved: f64,
    chains: usize,
    lost: usize,
    p50: Duration,
    p99: Duration,
}

async fn run(per_partition: usize, matched_every: usize, chained: bool) -> Row {
    let nats = Nats::start().unwrap();
    let client = async_nats::connect(&nats.1).await.unwrap();
    let js = jetstream::new(client.clone());
    ensure_stream(&js).await;
    let store = tempfile::tempdir().unwrap();
    let handle = trustpath_serve::ServeHandle {
        metrics: Default::default(),
        http_addr: Default::default(),
    };
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let service = tokio::spawn(trustpath_serve::serve_with(
        config(&nats.1, &store.path().join("s.redb")),
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
        handle.clone(),
    ));
    // Load: every tenant's actors, then its matched events spread over three days.
    let per_tenant = per_partition * PARTITIONS / TENANTS;
    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_hours(72);
    let step = jiff::SignedDuration::from_hours(71) / per_tenant.max(1) as i32;
    let mut acks = Vec::new();
    for i in 0..TENANTS {
        let t = tenant(i);
        if chained {
            // A complete AN1350 chain (relationship, delegation, partner access; about three
            // hours) ending before the tenant's first record: the analytic's full work on
            // every tick.
            let scenario = trustpath_simulate::Scenario {
                tenant_id: t.clone(),
                start: start - jiff::SignedDuration::from_hours(4),
                seed: i as u64,
                ..Default::default()
            };
            let records = trustpath_simulate::simulate(
                "AN1350",
                trustpath_simulate::OutFormat::UalJsonl,
                &scenario,
            )
            .unwrap();
            let ack = js
                .publish(format!("trustpath.events.{t}.ual"), records.into())
                .await
                .unwrap();
            acks.push(ack);
        }
        let seed: Vec<String> = (0..ACTORS).map(|k| ordinary(&t, k, start)).collect();
        let ack = js
            .publish(format!("trustpath.events.{t}.ual"), seed.join("\n").into())
            .await
            .unwrap();
        acks.push(ack);
    }
    for chunk_start in (0..per_tenant).step_by(RECORDS_PER_MESSAGE) {
        for i in 0..TENANTS {
            let t = tenant(i);
            let lines: Vec<String> = (chunk_start
                ..(chunk_start + RECORDS_PER_MESSAGE).min(per_tenant))
                .map(|n| matched(&t, n, start + step * (n as i32 + 1)))
                .collect();
            let ack = js
                .publish(format!("trustpath.events.{t}.ual"), lines.join("\n").into())
                .await
                .unwrap();
            acks.push(ack);
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let loaded = Instant::now();
    loop {
        let retained: u64 = handle
            .metrics
            .partitions
            .lock()
            .unwrap()
            .values()
            .map(|g| g.retained_events)
            .sum();
        if retained >= (per_tenant * TENANTS) as u64 && drained(&js).await {
            break;
        }
        assert!(
            loaded.elapsed() < Duration::from_secs(900),
            "load did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retained = {
        let gauges = handle.metrics.partitions.lock().unwrap();
        let r: Vec<u64> = gauges.values().map(|g| g.retained_events).collect();
        (
            r.iter().copied().min().unwrap_or(0),
            r.iter().copied().max().unwrap_or(0),
        )
    };
    let before = buckets(&handle.metrics);
    let micros_before = handle.metrics.commit_micros_total.load(Ordering::Relaxed);
    let bytes_before = handle.metrics.commit_bytes_total.load(Ordering::Relaxed);

    // Steady load with latency probes.
    let mut findings = client.subscribe("trustpath.findings.*").await.unwrap();
    let sent: Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>> =
        Default::default();
    let latencies: Arc<std::sync::Mutex<Vec<Duration>>> = Default::default();
    let receiver = {
        let sent = sent.clone();
        let latencies = latencies.clone();
        tokio::spawn(async move {
            while let Some(m) = findings.next().await {
                let tenant = m
                    .subject
                    .as_str()
                    .trim_start_matches("trustpath.findings.")
                    .to_owned();
                if let Some(at) = sent.lock().unwrap().remove(&tenant) {
                    latencies.lock().unwrap().push(at.elapsed());
                }
            }
        })
    };
    let messages_per_second = RATE / RECORDS_PER_MESSAGE;
    let period = Duration::from_secs_f64(1.0 / messages_per_second as f64);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let total = messages_per_second * SECONDS as usize;
    let mut published = 0;
    for i in 0..total {
        ticker.tick().await;
        let t = tenant(i % TENANTS);
        let now = jiff::Timestamp::now();
        let lines: Vec<String> = (0..RECORDS_PER_MESSAGE)
            .map(|k| {
                let n = i * RECORDS_PER_MESSAGE + k + ACTORS;
                if matched_every > 0 && n.is_multiple_of(matched_every) {
                    matched(&t, n + 10_000_000, now)
                } else {
                    ordinary(&t, n, now)
                }
            })
            .collect();
        client
            .publish(format!("trustpath.events.{t}.ual"), lines.join("\n").into())
            .await
            .unwrap();
        published += RECORDS_PER_MESSAGE;
        if i % (messages_per_second / 5).max(1) == 0 {
            let probe = format!("lat{per_partition}x{i}");
            let payload = chain(&probe, i as u64);
            sent.lock().unwrap().insert(probe.clone(), Instant::now());
            client
                .publish(format!("trustpath.events.{probe}.evtx"), payload.into())
                .await
                .unwrap();
        }
    }
    let achieved = published as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lost = sent.lock().unwrap().len();
    let after = buckets(&handle.metrics);
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let commits: u64 = delta.iter().sum();
    let micros = handle.metrics.commit_micros_total.load(Ordering::Relaxed) - micros_before;
    let bytes = handle.metrics.commit_bytes_total.load(Ordering::Relaxed) - bytes_before;
    let stored: u64 = handle
        .metrics
        .partitions
        .lock()
        .unwrap()
        .values()
        .map(|g| g.state_bytes)
        .sum();
    stop.send(true).unwrap();
    service.await.unwrap().unwrap();
    drop(client);
    receiver.abort();
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    Row {
        size: per_partition,
        retained,
        stored_mib: stored as f64 / (1024.0 * 1024.0),
        commits,
        commit_mean_ms: micros as f64 / commits.max(1) as f64 / 1000.0,
        commit_p50: bucket_quantile(&delta, 0.50),
        commit_p99: bucket_quantile(&delta, 0.99),
        commit_bytes: bytes / commits.max(1),
        achieved,
        chains: latencies.len(),
        lost,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

/// The load's two kinds of records do what the table says: one matches, one does not.
fn check_records() {
    let processor =
        trustpath_serve::processor(&config("nats://unused", Path::new("/tmp/unused.redb")))
            .unwrap();
    let mut state = trustpath_serve::state::PartitionState::default();
    let now = jiff::Timestamp::now();
    let mut out = Vec::new();
    for (seq, (line, want)) in [(matched("t", 1, now), 1), (ordinary("t", 2, now), 0)]
        .into_iter()
        .enumerate()
    {
        let report = processor.ingest(
            &mut state,
            trustpath_serve::state::Inbound {
                tenant: "t",
                source: "ual",
                seq: seq as u64 + 1,
                payload: line.as_bytes(),
                received: None,
            },
            &mut out,
        );
        assert_eq!((report.events, report.matched), (1, want), "{line}");
    }
}

fn main() {
    check_records();
    if Nats::start().is_none() {
        println!("SKIPPED retained bench: nats-server not available (run scripts/install-deps)");
        return;
    }
    let sizes: Vec<usize> = std::env::var("TRUSTPATH_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
    // TRUSTPATH_BENCH_MATCHED_EVERY=50: one steady record in 50 is a matched event too
    // (each one makes its tenant's correlation due); default 0: ordinary activity only.
    let matched_every: usize = std::env::var("TRUSTPATH_BENCH_MATCHED_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // TRUSTPATH_BENCH_CHAINED=1: every tenant also holds a complete AN1350 chain, so the
    // analytic binds every retained access to partners on every tick (no shortcut).
    let chained = std::env::var("TRUSTPATH_BENCH_CHAINED").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<Row> = runtime.block_on(async {
        let mut rows = Vec::new();
        for size in sizes {
            rows.push(run(size, matched_every, chained).await);
        }
        rows
    });
    let mut mix = if matched_every > 0 {
        format!("1 in {matched_every} matched")
    } else {
        "ordinary activity, none matched".to_owned()
    };
    if chained {
        mix.push_str("; every tenant holds an AN1350 chain");
    }
    println!(
        "\n{TENANTS} tenants, {PARTITIONS} partitions, 1 worker; steady load {RATE} events/s ({mix}) for {SECONDS} s, AN1052 chain every 200 ms\n"
    );
    println!(
        "| retained / partition | retained (min–max) | stored MiB | commits | commit mean | commit p50 | commit p99 | bytes / commit | events/s | chains | p50 latency | p99 latency |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {}–{} | {:.1} | {} | {:.2} ms | {} | {} | {} | {:.0} | {}{} | {:?} | {:?} |",
            r.size,
            r.retained.0,
            r.retained.1,
            r.stored_mib,
            r.commits,
            r.commit_mean_ms,
            r.commit_p50,
            r.commit_p99,
            r.commit_bytes,
            r.achieved,
            r.chains,
            if r.lost > 0 {
                format!(" ({} without finding)", r.lost)
            } else {
                String::new()
            },
            r.p50,
            r.p99
        );
    }
}
