//! Hostile input against a real nats-server: poison messages, an error flood, a
//! far-future record, overlapping workers and a crash before the idle flush. Every other
//! tenant's findings stay identical to `trustpath hunt`'s, and the poisoned tenant
//! recovers.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

const FILES: &[(&str, &str)] = &[
    ("m365/unified-audit.jsonl.gz", "ual"),
    ("entra/signins.json.gz", "signins"),
    ("entra/directory-audits.json", "directory"),
    ("hosts/evtx-dump.jsonl.gz", "evtx"),
];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Poison for `tenant`: a payload of garbage just under the server's 1 MiB max payload
/// (its dead letter, carrying it and its reasons, would exceed it), a small gzip of five million bad lines, and a record
/// dated 9999-12-30.
fn poison(tenant: &str) -> Vec<Payload> {
    let garbage: Vec<u8> = b"not a log line \x1b]52;c;ZXZpbA==\x07\n"
        .iter()
        .copied()
        .cycle()
        .take(1_000_000)
        .collect();
    // JSON Lines (the first line sniffs the format; it has no event time, so it is
    // malformed too), then five million broken objects.
    let mut lines = b"{\"a\":1}\n".to_vec();
    lines.extend(b"{x\n".repeat(5_000_000));
    let flood = gzip(&lines);
    assert!(flood.len() < 64 * 1024, "{} bytes", flood.len());
    let future = format!(
        "{{\"CreationTime\":\"9999-12-30T00:00:00\",\"Id\":\"future-1\",\"Operation\":\"MailItemsAccessed\",\
         \"OrganizationId\":\"{tenant}\",\"RecordType\":50,\"UserId\":\"x@contoso.com\",\"UserType\":0,\
         \"Workload\":\"Exchange\",\"LogonType\":0,\"MailboxOwnerUPN\":\"x@contoso.com\"}}\n"
    );
    [garbage, flood, future.into_bytes()]
        .into_iter()
        .map(|bytes| Payload {
            tenant: tenant.to_owned(),
            source: "ual".to_owned(),
            bytes,
            arrival: 0,
        })
        .collect()
}

/// Points 2, 3 and 4 of the hostile-input issue, and point 5 (two workers owning the same
/// partitions): poison goes to the dead letters, nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_and_overlapping_workers_change_no_finding() {
    let test = "poison_messages_and_overlapping_workers_change_no_finding";
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let tenants = tenants(3);
    let clean = example_payloads(FILES, &tenants, 200);
    let expected = hunt_keys(&clean, &tenants);
    let poisoned = &tenants[0];
    let mut payloads = Vec::new();
    let bad = poison(poisoned);
    let third = clean.len() / 3;
    // The far-future record arrives first: it must not make the tenant's real events late.
    payloads.push(bad[2].clone());
    payloads.extend(clean[..third].iter().cloned());
    payloads.push(bad[0].clone());
    payloads.extend(clean[third..2 * third].iter().cloned());
    payloads.push(bad[1].clone());
    payloads.extend(clean[2 * third..].iter().cloned());
    let store = tempfile::tempdir().unwrap();
    // Two workers, both configured to own every partition (an overlapping deployment).
    let configs = (0..2)
        .map(|i| {
            config(
                &nats.url,
                &store.path().join(format!("w{i}.redb")),
                &[0, 1, 2, 3],
                false,
            )
        })
        .collect();
    let (stop, tasks) = run_service(configs).await;
    let js = async_nats::jetstream::new(client(&nats.url).await);
    ensure_events_stream(&js).await;
    publish(&js, &payloads, 0).await;
    wait_drained(&js, &[0, 1, 2, 3], Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_secs(4)).await; // idle flush
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let got = keys_of(&final_findings(&js).await, &tenants);
    assert_eq!(got, expected, "findings differ from hunt's");
    let dead = read_stream(&js, "TRUSTPATH_REJECTS", "trustpath.deadletter.>").await;
    assert!(dead.iter().all(|(s, _, _)| s.ends_with(poisoned.as_str())));
    let future: u64 = dead
        .iter()
        .filter_map(|(_, b, _)| b["future_events"].as_u64())
        .sum();
    assert_eq!(future, 1, "the far-future record is dead-lettered");
    let flood = dead
        .iter()
        .find(|(_, b, _)| b["malformed_records"].as_u64() == Some(5_000_001))
        .unwrap_or_else(|| {
            let counts: Vec<_> = dead
                .iter()
                .map(|(_, b, _)| (b["malformed_records"].clone(), b["payload_bytes"].clone()))
                .collect();
            panic!("no dead letter counts the flood's five million bad lines: {counts:?}")
        });
    assert!(flood.1["reasons"].as_array().unwrap().len() <= 100);
    let big = dead
        .iter()
        .find(|(_, b, _)| b["payload_bytes"].as_u64() == Some(1_000_000))
        .expect("the big payload's dead letter");
    assert_eq!(big.1["payload_truncated"], serde_json::json!(true));
    for (_, body, _) in &dead {
        let text = serde_json::to_vec(body).unwrap();
        assert!(text.len() <= 1024 * 1024, "{} bytes", text.len());
    }
}

/// Point 9: a worker killed with SIGKILL after consuming everything but before its idle
/// flush publishes the remaining findings after a restart, with no new message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_flushes_finished_input() {
    let test = "a_restarted_worker_flushes_finished_input";
    let Some(nats) = Nats::start(test) else {
        return;
    };
    let tenants = tenants(2);
    let payloads = example_payloads(FILES, &tenants, 200);
    let expected = hunt_keys(&payloads, &tenants);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("w.redb");
    // The first worker never flushes on idle: only its committed state holds the rest.
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "nats_url = \"{}\"\nstore = \"{}\"\ncontext = \"{}\"\nidle_flush = \"1h\"\n\
             tick_ms = 100\n[partitions]\ntotal = 4\nowned = [0, 1, 2, 3]\n",
            nats.url,
            store.display(),
            root().join("examples/trustpath.toml").display()
        ),
    )
    .unwrap();
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_trustpath-serve-worker"))
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let js = async_nats::jetstream::new(client(&nats.url).await);
    ensure_events_stream(&js).await;
    publish(&js, &payloads, 0).await;
    wait_drained(&js, &[0, 1, 2, 3], Duration::from_secs(300)).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the last commit
    worker.kill().unwrap(); // SIGKILL: no shutdown flush
    let _ = worker.wait();
    let (stop, tasks) =
        run_service(vec![self::config(&nats.url, &store, &[0, 1, 2, 3], false)]).await;
    tokio::time::sleep(Duration::from_secs(6)).await; // no new message; idle flush is 1 s
    let got = keys_of(&final_findings(&js).await, &tenants);
    let _ = stop.send(true);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(got, expected);
}
