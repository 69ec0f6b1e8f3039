//! Recovery tests against a real nats-server: the worker killed with SIGKILL ten times at
//! random points while events are published (acceptance 2), and the nats-server
//! restarted mid-run (acceptance 3); host records go one per message, so 4104 parts wait
//! in the stored state across kills. Both compare with `trustpath hunt` on the same data and check
//! that no finding id is published twice.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

const FILES: &[(&str, &str)] = &[
    ("m365/unified-audit.jsonl.gz", "ual"),
    ("m365/purview-audit-export.csv", "purview"),
    ("entra/signins.json.gz", "signins"),
    ("entra/sentinel-signinlogs.jsonl", "sentinelsignin"),
    ("entra/directory-audits.json", "directory"),
    ("entra/sentinel-auditlogs.jsonl", "sentinelaudit"),
];

/// Host records one per message: the parts of a 4104 block arrive in separate messages,
/// so a kill can fall between them (the pending part must survive it).
const HOSTS: &[(&str, &str)] = &[("hosts/winlogbeat-ws-hr-03.jsonl", "winlogbeat")];

fn payloads(tenants: &[String]) -> Vec<Payload> {
    let mut payloads = example_payloads(FILES, tenants, 100);
    payloads.extend(example_payloads(HOSTS, tenants, 1));
    payloads.sort_by_key(|p| p.arrival);
    payloads
}

fn write_worker_config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("serve.toml");
    let text = format!(
        "nats_url = \"{url}\"\nstore = \"state/serve.redb\"\ncontext = \"{}\"\nidle_flush = \"1s\"\n\
         tick_ms = 100\n[partitions]\ntotal = 4\nowned = [0, 1, 2, 3]\n",
        root().join("examples/trustpath.toml").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn_worker(config: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_trustpath-serve-worker"))
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Acceptance 2: kill -9 the worker ten times at random points while publishing; after
/// restart the findings equal the uninterrupted result (hunt's), none published twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_ten_times_loses_and_duplicates_nothing() {
    let test = "worker_killed_ten_times_loses_and_duplicates_nothing";
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let started = Instant::now();
    let tenants = tenants(2);
    let payloads = payloads(&tenants);
    let expected = hunt_keys(&payloads, &tenants);
    let dir = tempfile::tempdir().unwrap();
    let config = write_worker_config(dir.path(), &nats.url);
    let js = async_nats::jetstream::new(client(&nats.url).await);
    ensure_events_stream(&js).await;
    let publisher = {
        let js = js.clone();
        let payloads = payloads.clone();
        tokio::spawn(async move {
            for (i, p) in payloads.iter().enumerate() {
                publish_one(&js, p, i).await;
                if i % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
            }
        })
    };
    let mut worker = spawn_worker(&config);
    let mut rng: u64 = 0x0c4a_5eed;
    for kill in 0..10 {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let wait = 700 + (rng >> 33) % 1300;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
        println!("{test}: kill {} after {wait} ms", kill + 1);
        worker = spawn_worker(&config);
    }
    publisher.await.unwrap();
    wait_drained(&js, &[0, 1, 2, 3], Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // idle flush
    worker.kill().unwrap();
    worker.wait().unwrap();
    let got = keys_of(&final_findings(&js).await, &tenants);
    assert_eq!(got, expected);
    println!(
        "{test}: {} payloads, {:.1}s",
        payloads.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Acceptance 3: the nats-server restarts mid-run; the worker reconnects and nothing is
/// lost (publishers retry with message ids, so their retries are de-duplicated too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restart_mid_run_loses_nothing() {
    let test = "nats_restart_mid_run_loses_nothing";
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let started = Instant::now();
    let tenants = tenants(2);
    let payloads = payloads(&tenants);
    let expected = hunt_keys(&payloads, &tenants);
    let store = tempfile::tempdir().unwrap();
    let config = config(
        &nats.url,
        &store.path().join("s.redb"),
        &[0, 1, 2, 3],
        false,
    );
    let handle = trustpath_serve::ServeHandle {
        metrics: Default::default(),
        http_addr: Default::default(),
    };
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let service = tokio::spawn(trustpath_serve::serve_with(
        config,
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
        handle.clone(),
    ));
    let js = async_nats::jetstream::new(client(&nats.url).await);
    ensure_events_stream(&js).await;
    let half = payloads.len() / 2;
    publish(&js, &payloads[..half], 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart();
    println!("{test}: nats-server restarted after {half} payloads");
    publish(&js, &payloads[half..], half).await;
    wait_drained(&js, &[0, 1, 2, 3], Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // idle flush
    stop.send(true).unwrap();
    service.await.unwrap().unwrap();
    let got = keys_of(&final_findings(&js).await, &tenants);
    assert_eq!(got, expected);
    println!(
        "{test}: {} payloads, {} partition restarts, {:.1}s",
        payloads.len(),
        handle
            .metrics
            .partition_restarts
            .load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}
