//! Service benchmark against a real nats-server (`scripts/nats`):
//!
//! * throughput: a backlog of unified-audit-log events (50 records a message, several
//!   tenants) consumed by 1 and by 2 workers over 4 partitions, in events/s;
//! * latency: a steady load of 20,000 events/s on one worker (lateness 0), with an
//!   AN1052 chain (simulated, event time = now) injected every 200 ms on its own tenant;
//!   p50/p99 from publishing the chain to receiving its finding.
//!
//! `cargo bench -p trustpath-serve` (prints; asserts nothing). Needs nats-server
//! (`scripts/install-deps`); prints SKIPPED without it.

#![allow(clippy::unwrap_used)]

use async_nats::jetstream;
use futures::StreamExt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RECORDS_PER_MESSAGE: usize = 50;

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

fn ual_lines() -> Vec<String> {
    let raw = std::fs::read(root().join("examples/logs/m365/unified-audit.jsonl.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_owned).collect()
}

fn config(url: &str, store: &Path, owned: &[u32], lateness: &str) -> trustpath_serve::ServeConfig {
    let owned: Vec<String> = owned.iter().map(ToString::to_string).collect();
    let text = format!(
        "nats_url = \"{url}\"\nstore = \"{}\"\ncontext = \"{}\"\nlateness = \"{lateness}\"\n\
         tick_ms = 20\ntick_messages = 200\n[partitions]\ntotal = 4\nowned = [{}]\n",
        store.display(),
        root().join("examples/trustpath.toml").display(),
        owned.join(", ")
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
    for p in 0..4 {
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

fn start_workers(
    url: &str,
    store: &Path,
    split: &[&[u32]],
    lateness: &str,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let tasks = split
        .iter()
        .enumerate()
        .map(|(i, owned)| {
            let mut rx = rx.clone();
            let config = config(url, &store.join(format!("w{i}.redb")), owned, lateness);
            tokio::spawn(trustpath_serve::serve(config, async move {
                let _ = rx.wait_for(|s| *s).await;
            }))
        })
        .collect();
    (stop, tasks)
}

async fn throughput(lines: &[String], split: &[&[u32]], events: usize) -> f64 {
    let nats = Nats::start().unwrap();
    let js = jetstream::new(async_nats::connect(&nats.1).await.unwrap());
    ensure_stream(&js).await;
    let mut acks = Vec::new();
    for (i, chunk) in lines
        .chunks(RECORDS_PER_MESSAGE)
        .cycle()
        .take(events / RECORDS_PER_MESSAGE)
        .enumerate()
    {
        // A new tenant per pass over the file keeps event time moving forward per tenant.
        let tenant = format!("t{}-{}", i % 8, i * RECORDS_PER_MESSAGE / lines.len());
        let ack = js
            .publish(
                format!("trustpath.events.{tenant}.ual"),
                chunk.join("\n").into(),
            )
            .await
            .unwrap();
        acks.push(ack);
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let store = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (stop, tasks) = start_workers(&nats.1, store.path(), split, "12h");
    tokio::time::sleep(Duration::from_millis(200)).await;
    while !drained(&js).await {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    events as f64 / elapsed
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

async fn latency(lines: &[String], rate: usize, seconds: u64) -> (Vec<Duration>, usize, f64) {
    let nats = Nats::start().unwrap();
    let client = async_nats::connect(&nats.1).await.unwrap();
    let js = jetstream::new(client.clone());
    ensure_stream(&js).await;
    let store = tempfile::tempdir().unwrap();
    let (stop, tasks) = start_workers(&nats.1, store.path(), &[&[0, 1, 2, 3]], "0s");
    while !drained(&js).await {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut findings = client.subscribe("trustpath.findings.*").await.unwrap();
    let sent: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>> =
        Default::default();
    let latencies: std::sync::Arc<std::sync::Mutex<Vec<Duration>>> = Default::default();
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
    let messages_per_second = rate / RECORDS_PER_MESSAGE;
    let period = Duration::from_secs_f64(1.0 / messages_per_second as f64);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let total = messages_per_second * seconds as usize;
    let mut chunks = lines.chunks(RECORDS_PER_MESSAGE).cycle();
    let mut published_events = 0;
    for i in 0..total {
        ticker.tick().await;
        let chunk = chunks.next().unwrap();
        let tenant = format!("n{}-{}", i % 8, i * RECORDS_PER_MESSAGE / lines.len());
        client
            .publish(
                format!("trustpath.events.{tenant}.ual"),
                chunk.join("\n").into(),
            )
            .await
            .unwrap();
        published_events += chunk.len();
        if i % (messages_per_second / 5).max(1) == 0 {
            let tenant = format!("lat{i}");
            let payload = chain(&tenant, i as u64);
            sent.lock().unwrap().insert(tenant.clone(), Instant::now());
            client
                .publish(format!("trustpath.events.{tenant}.evtx"), payload.into())
                .await
                .unwrap();
        }
    }
    let achieved = published_events as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lost = sent.lock().unwrap().len();
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    drop(client);
    receiver.abort();
    let latencies = latencies.lock().unwrap().clone();
    (latencies, lost, achieved)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if Nats::start().is_none() {
        println!("SKIPPED serve bench: nats-server not available (run scripts/install-deps)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let lines = ual_lines();
        let events = 200_000;
        let one = throughput(&lines, &[&[0, 1, 2, 3]], events).await;
        println!("throughput, 1 worker  (4 partitions): {one:>9.0} events/s ({events} events)");
        let two = throughput(&lines, &[&[0, 1], &[2, 3]], events).await;
        println!("throughput, 2 workers (2+2 partitions): {two:>9.0} events/s  ratio {:.2}", two / one);
        let (mut latencies, lost, achieved) = latency(&lines, 20_000, 10).await;
        latencies.sort();
        println!(
            "latency at {achieved:.0} events/s, 1 worker: {} chains, p50 {:?}, p99 {:?}, max {:?}, {lost} without finding",
            latencies.len(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or_default()
        );
    });
}
