//! Integration tests against a real nats-server (started with `scripts/nats`).
//! Without nats-server they fail ("run scripts/install-deps") unless
//! `TRUSTPATH_SKIP_NATS=1`, which makes them print SKIPPED.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Every example log, with the source token it is published on.
const ALL_FILES: &[(&str, &str)] = &[
    ("m365/unified-audit.jsonl.gz", "ual"),
    ("m365/purview-audit-export.csv", "purview"),
    ("entra/signins.json.gz", "signins"),
    ("entra/sentinel-signinlogs.jsonl", "sentinelsignin"),
    ("entra/directory-audits.json", "directory"),
    ("entra/sentinel-auditlogs.jsonl", "sentinelaudit"),
    ("hosts/evtx-dump.jsonl.gz", "evtx"),
    ("hosts/winlogbeat-ws-hr-03.jsonl", "winlogbeat"),
];

async fn equality(test: &str, workers: &[&[u32]]) {
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let started = Instant::now();
    let tenants = tenants(3);
    let payloads = example_payloads(ALL_FILES, &tenants, 200);
    let expected = hunt_keys(&payloads, &tenants);
    assert!(
        expected.values().all(|k| k.len() >= 5),
        "the data holds the planted chains: {expected:#?}"
    );
    let store = tempfile::tempdir().unwrap();
    let configs = workers
        .iter()
        .enumerate()
        .map(|(i, owned)| {
            config(
                &nats.url,
                &store.path().join(format!("w{i}.redb")),
                owned,
                false,
            )
        })
        .collect();
    let (stop, tasks) = run_service(configs).await;
    let js = async_nats::jetstream::new(client(&nats.url).await);
    ensure_events_stream(&js).await;
    publish(&js, &payloads, 0).await;
    wait_drained(&js, &[0, 1, 2, 3], Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // idle flush
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let served = partitions_served(&js).await;
    if workers.len() > 1 {
        let per_worker = workers
            .iter()
            .filter(|owned| owned.iter().any(|p| served.contains(p)))
            .count();
        assert!(
            per_worker > 1,
            "tenants landed on one worker only: partitions {served:?}"
        );
    }
    let got = keys_of(&final_findings(&js).await, &tenants);
    assert_eq!(got, expected);
    println!(
        "{test}: partitions served {served:?}, {} payloads, {} tenants, {} findings each, {:.1}s",
        payloads.len(),
        tenants.len(),
        expected.values().next().map_or(0, Vec::len),
        started.elapsed().as_secs_f64()
    );
}

/// Acceptance 1: out of order, some chunks 6 h late, several tenants: the service's
/// findings equal `trustpath hunt`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_finds_what_hunt_finds() {
    equality("one_worker_finds_what_hunt_finds", &[&[0, 1, 2, 3]]).await;
}

/// Acceptance 4: two workers on four partitions find what one finds (and what hunt finds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_find_what_one_finds() {
    equality("two_workers_find_what_one_finds", &[&[0, 1], &[2, 3]]).await;
}

/// Partitions whose consumer delivered anything.
async fn partitions_served(js: &async_nats::jetstream::Context) -> Vec<u32> {
    let stream = js.get_stream("TRUSTPATH_EVENTS").await.unwrap();
    let mut served = Vec::new();
    for p in 0..4 {
        let consumer = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&format!(
                "trustpath-p{p}"
            ))
            .await;
        if let Ok(mut c) = consumer
            && c.info().await.unwrap().delivered.consumer_sequence > 0
        {
            served.push(p);
        }
    }
    served
}

/// A plain HTTP/1.1 GET: (status, body).
async fn http_get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Acceptance 5: no token or a wrong one gets 401 (health excepted); malformed events are
/// counted, dead-lettered with the reason, and acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_needs_the_token_and_malformed_input_is_dead_lettered() {
    let Some(nats) = Nats::start("http_needs_the_token_and_malformed_input_is_dead_lettered")
    else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let handle = trustpath_serve::ServeHandle {
        metrics: Default::default(),
        http_addr: Default::default(),
    };
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut rx2 = rx.clone();
    let config = config(&nats.url, &store.path().join("s.redb"), &[0, 1, 2, 3], true);
    let service = tokio::spawn(trustpath_serve::serve_with(
        config,
        async move {
            let _ = rx2.wait_for(|s| *s).await;
        },
        handle.clone(),
    ));
    let js = async_nats::jetstream::new(client(&nats.url).await);
    ensure_events_stream(&js).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handle.metrics.is_ready() {
        assert!(Instant::now() < deadline, "service not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let addr = *handle.http_addr.get().unwrap();
    let token = "test-token-0123456789";
    assert_eq!(http_get(addr, "/healthz", None).await.0, 200);
    assert_eq!(http_get(addr, "/readyz", None).await.0, 200);
    for path in ["/metrics", "/v1/findings"] {
        assert_eq!(
            http_get(addr, path, None).await.0,
            401,
            "{path} without token"
        );
        assert_eq!(
            http_get(addr, path, Some("test-token-012345678X")).await.0,
            401,
            "{path} wrong token"
        );
        assert_eq!(
            http_get(addr, path, Some("test-token-01234567890")).await.0,
            401,
            "{path} longer token"
        );
        assert_eq!(
            http_get(addr, path, Some(token)).await.0,
            200,
            "{path} with token"
        );
    }

    let tenant = "t-deadletter";
    let bad = Payload {
        tenant: tenant.into(),
        source: "ual".into(),
        bytes: b"{\"CreationTime\": \"2025-03-03T10:00:00\", broken".to_vec(),
        arrival: 0,
    };
    publish(&js, &[bad], 900_000).await;
    wait_drained(&js, &[0, 1, 2, 3], Duration::from_secs(30)).await;
    let letters = read_stream(
        &js,
        "TRUSTPATH_REJECTS",
        &format!("trustpath.deadletter.{tenant}"),
    )
    .await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let body = &letters[0].1;
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("trustpath.events.t-deadletter.ual@"),
        "{body}"
    );
    assert_eq!(body["malformed_records"], 1);
    assert!(
        body["payload"].as_str().unwrap().contains("broken"),
        "{body}"
    );
    let (status, metrics) = http_get(addr, "/metrics", Some(token)).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("trustpath_malformed_records_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trustpath_dead_letters_total 1"),
        "{metrics}"
    );
    let (status, findings) =
        http_get(addr, "/v1/findings?tenant=nobody&limit=5", Some(token)).await;
    assert_eq!((status, findings.trim()), (200, "[]"));
    stop.send(true).unwrap();
    service.await.unwrap().unwrap();
}
