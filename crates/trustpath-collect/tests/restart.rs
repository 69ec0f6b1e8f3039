//! Acceptance 1 and 4: a collection killed with SIGKILL at random points and restarted
//! ends with exactly the records served (none lost, none twice), late and out-of-order
//! blobs included; 429s are retried after the announced delay; the secret is nowhere.

#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use trustpath_collect::contract::{Blob, Contract};

const TENANT: &str = "6f1c2d3e-1111-4a2b-9c3d-0123456789ab";
const SECRET: &str = "s3cr3t-Value~with.odd_chars-77";

fn ual(id: &str, op: &str, at: Timestamp, record_type: u32, workload: &str) -> Value {
    json!({"CreationTime": at.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "Id": id,
           "Operation": op, "OrganizationId": TENANT, "RecordType": record_type,
           "ResultStatus": "True", "UserKey": "10032002F222981B", "UserType": 2,
           "Version": 1, "Workload": workload, "UserId": "admin@contoso.onmicrosoft.com",
           "ClientIP": "203.0.113.7:4431", "ObjectId": "user1@contoso.onmicrosoft.com"})
}

fn contract(now: Timestamp) -> Contract {
    let mut blobs = Vec::new();
    let types = [
        ("Audit.Exchange", 1, "Exchange"),
        ("Audit.AzureActiveDirectory", 8, "AzureActiveDirectory"),
        ("Audit.General", 1, "Exchange"),
    ];
    let mut n = 0;
    for (t, (ct, rt, wl)) in types.iter().enumerate() {
        for b in 0..8 {
            // Spread over 6 days; every third blob is published late (after a few
            // listings) and with an older creation time than blobs already listed.
            let late = b % 3 == 2;
            let hours = if late { 140 - b * 3 } else { 130 - b * 15 };
            let created = now - SignedDuration::from_hours(hours as i64);
            let records = (0..3)
                .map(|_| {
                    n += 1;
                    ual(
                        &format!("00000000-0000-4000-8000-{n:012}"),
                        "Set-Mailbox",
                        created,
                        *rt,
                        wl,
                    )
                })
                .collect();
            blobs.push(Blob {
                content_type: ct.to_string(),
                content_id: format!("{t}{b}$20260101{b:02}{t}$audit_{ct}$Audit_{b}"),
                created,
                visible_from_listing: if late { 4 + b as u64 } else { 0 },
                records,
            });
        }
    }
    let signins = (0..9)
        .map(|i| json!({"id": format!("si-{i}"), "createdDateTime": (now - SignedDuration::from_hours(20 - i)).to_string(),
                        "userPrincipalName": "u@contoso.onmicrosoft.com", "ipAddress": "198.51.100.4",
                        "resourceTenantId": TENANT, "homeTenantId": TENANT, "crossTenantAccessType": "none",
                        "status": {"errorCode": 0}}))
        .collect();
    let directory_audits = (0..7)
        .map(|i| json!({"id": format!("da-{i}"), "activityDateTime": (now - SignedDuration::from_hours(30 - i)).to_string(),
                        "activityDisplayName": "Update user", "category": "UserManagement", "result": "success",
                        "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.onmicrosoft.com"}}, "targetResources": []}))
        .collect();
    Contract {
        tenant: TENANT.into(),
        client_secret: Some(SECRET.into()),
        blobs,
        signins,
        directory_audits,
        page_size: 2,
        throttle_every: 9,
        ..Contract::default()
    }
}

fn ids_in(dir: &Path, key: &str, out: &mut BTreeMap<String, u32>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                *out.entry(v[key].as_str().unwrap().to_string()).or_default() += 1;
            }
        }
    }
}

fn grep_tree(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            hits.extend(grep_tree(&p, needle));
        } else if String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains(needle) {
            hits.push(p.display().to_string());
        }
    }
    hits
}

#[test]
fn killed_and_restarted_collection_ends_with_exactly_the_records_served() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = Timestamp::now();
    let served = contract(now);
    let expected_ual: Vec<String> = served
        .blobs
        .iter()
        .flat_map(|b| {
            b.records
                .iter()
                .map(|r| r["Id"].as_str().unwrap().to_string())
        })
        .collect();
    let expected_graph: Vec<String> = served
        .signins
        .iter()
        .chain(&served.directory_audits)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let max_listing = served
        .blobs
        .iter()
        .map(|b| b.visible_from_listing)
        .max()
        .unwrap();
    let server = rt
        .block_on(trustpath_collect::contract::start(served))
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let config = work.path().join("collect.toml");
    std::fs::write(&config, format!(
        "login_endpoint = \"{b}\"\nmanage_endpoint = \"{b}\"\ngraph_endpoint = \"{b}\"\nclient_id = \"app-1\"\n\
         client_secret_env = \"TP_TEST_SECRET\"\nca_file = \"{ca}\"\noverlap_hours = 168\nmax_retry_after_secs = 5\n",
        b = server.base, ca = ca.display())).unwrap();
    let out = work.path().join("case");
    let bin = env!("CARGO_BIN_EXE_trustpath-collect");
    let mut transcript = String::new();
    let run = |kill_after: Option<Duration>, transcript: &mut String| -> bool {
        let mut child = Command::new(bin)
            .args(["--tenant", TENANT, "--out"])
            .arg(&out)
            .arg("--config")
            .arg(&config)
            .env("TP_TEST_SECRET", SECRET)
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(d) = kill_after {
            std::thread::sleep(d);
            let _ = child.kill(); // SIGKILL
        }
        let o = child.wait_with_output().unwrap();
        transcript.push_str(&String::from_utf8_lossy(&o.stdout));
        transcript.push_str(&String::from_utf8_lossy(&o.stderr));
        o.status.success()
    };
    // Kill at pseudo-random points.
    let mut seed = now.subsec_nanosecond() as u64 | 1;
    for _ in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        run(
            Some(Duration::from_millis(30 + seed % 1500)),
            &mut transcript,
        );
    }
    // Then run to completion until every late blob has become listable, twice more after.
    let mut complete = 0;
    let mut guard = 0;
    while complete < 2 {
        guard += 1;
        assert!(guard < 40, "collection never completed:\n{transcript}");
        {
            // A 429 answered to a killed run is never retried by it.
            let mut c = server.shared.lock().unwrap();
            c.retry_gaps.clear();
            c.last_429 = None;
        }
        if run(None, &mut transcript) {
            let gaps = server.shared.lock().unwrap().retry_gaps.clone();
            for g in &gaps {
                assert!(
                    *g >= Duration::from_millis(950),
                    "retried {g:?} after a 429 announcing 1 s"
                );
            }
            if server.shared.lock().unwrap().listings >= max_listing * 3 {
                complete += 1;
            }
        }
    }
    let tenant_dir = out.join(TENANT);
    let mut ual = BTreeMap::new();
    ids_in(&tenant_dir.join("ual"), "Id", &mut ual);
    let mut graph = BTreeMap::new();
    ids_in(&tenant_dir.join("entra"), "id", &mut graph);
    let twice: Vec<_> = ual.iter().chain(&graph).filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "records written twice: {twice:?}");
    let mut want = expected_ual.clone();
    want.sort();
    assert_eq!(
        ual.keys().cloned().collect::<Vec<_>>(),
        want,
        "UAL records lost"
    );
    let mut want = expected_graph.clone();
    want.sort();
    assert_eq!(
        graph.keys().cloned().collect::<Vec<_>>(),
        want,
        "Graph records lost"
    );
    assert!(
        server.shared.lock().unwrap().requests > 9,
        "the 429 path was exercised"
    );
    // Facts for coverage.
    let facts: Value =
        serde_json::from_slice(&std::fs::read(tenant_dir.join("collection.json")).unwrap())
            .unwrap();
    assert_eq!(facts["subscriptions"]["Audit.Exchange"], "enabled");
    assert_eq!(facts["content_arrives"]["Audit.General"], true);
    assert_eq!(facts["graph"]["signins"], "available");
    // Acceptance 4: the secret is in no output and no file.
    assert!(
        !transcript.contains(SECRET),
        "secret in the collector's output"
    );
    let hits = grep_tree(&out, SECRET);
    assert!(hits.is_empty(), "secret written to {hits:?}");
}
