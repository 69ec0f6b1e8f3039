//! Issue 15, acceptance 2 (second half): the service's collector mode finds what `hunt`
//! finds. `serve` with `[collect]` collects one tenant from the local HTTPS contract server
//! of the Management Activity API and Graph (`trustpath_collect::contract`), publishes to
//! `trustpath.events.<tenant>.<source>` on a real nats-server, consumes it like any
//! publisher's messages, and its findings equal, id for id, those of the production hunt
//! over the same records written as files. The records are the AN1350 fixture chain
//! (moved to the last days, inside the API's 7-day window) plus the analytic's benign
//! noise (system and internal admin grants) that must stay silent. A second tenant the
//! API refuses is logged and does not stop the first. The client secret appears nowhere
//! the service writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use trustpath_collect::contract::{Blob, Contract};

const TENANT: &str = "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34";
const REFUSED: &str = "0b0b0b0b-1111-4222-8333-444444444444";
const SECRET: &str = "serve-collector-secret-5f2a9c";

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../trustpath-analytics/analytics/AN1350/fixtures")
            .join(path),
    )
    .unwrap()
    .trim_start_matches('\u{feff}')
    .to_owned()
}

/// Move a record's time field forward by `days`.
fn shift(v: &mut Value, field: &str, days: i64, zulu: bool) {
    let Some(t) = v.get(field).and_then(Value::as_str) else {
        return;
    };
    let parsed: jiff::Timestamp = if zulu {
        t.parse().unwrap()
    } else {
        format!("{t}Z").parse().unwrap()
    };
    let moved = parsed + jiff::SignedDuration::from_hours(24 * days);
    let format = if zulu {
        "%Y-%m-%dT%H:%M:%SZ"
    } else {
        "%Y-%m-%dT%H:%M:%S"
    };
    v[field] = Value::String(moved.strftime(format).to_string());
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn grep_tree(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            hits.extend(grep_tree(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_mode_finds_what_hunt_finds() {
    let Some(nats) = common::Nats::start("the_collector_mode_finds_what_hunt_finds") else {
        return;
    };
    let positive = "positive/graph-signin-json";
    let mut ual = jsonl(&fixture(&format!("{positive}/an1350-ual-jsonl.jsonl")));
    let noise = jsonl(&fixture("benign/ual-noise.jsonl"));
    let noise_ids: BTreeSet<String> = noise
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect();
    ual.extend(noise);
    let mut signins: Vec<Value> = serde_json::from_str(&fixture(&format!(
        "{positive}/an1350-graph-signin-json.json"
    )))
    .unwrap();
    let mut audits: Vec<Value> = serde_json::from_str(&fixture(&format!(
        "{positive}/an1350-graph-directory-audit-json.json"
    )))
    .unwrap();
    let earliest = ual
        .iter()
        .filter_map(|r| r["CreationTime"].as_str())
        .map(|t| format!("{t}Z").parse::<jiff::Timestamp>().unwrap())
        .min()
        .unwrap();
    let days = (jiff::Timestamp::now().as_second() - earliest.as_second()) / 86_400 - 4;
    ual.iter_mut()
        .for_each(|r| shift(r, "CreationTime", days, false));
    signins
        .iter_mut()
        .for_each(|r| shift(r, "createdDateTime", days, true));
    audits
        .iter_mut()
        .for_each(|r| shift(r, "activityDateTime", days, true));

    // The same records as an export, hunted by the production hunt.
    let work = tempfile::tempdir().unwrap();
    let export = work.path().join("export").join(TENANT);
    std::fs::create_dir_all(&export).unwrap();
    let lines: String = ual.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(export.join("ual.jsonl"), lines).unwrap();
    std::fs::write(
        export.join("signins.json"),
        serde_json::to_string(&signins).unwrap(),
    )
    .unwrap();
    std::fs::write(
        export.join("audits.json"),
        serde_json::to_string(&audits).unwrap(),
    )
    .unwrap();
    let hunted = trustpath_hunt::hunt_collect(&trustpath_hunt::HuntOptions {
        input: trustpath_hunt::InputOptions {
            paths: vec![work.path().join("export")],
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let mut expected: Vec<(String, String)> = hunted
        .findings
        .iter()
        .map(|f| (f.id.clone(), common::key(f)))
        .collect();
    expected.sort();
    assert!(
        hunted
            .findings
            .iter()
            .any(|f| f.analytic.as_deref() == Some("AN1350")),
        "the fixture chain gives AN1350: {expected:?}"
    );

    // The API: one blob per record, newest first, each in its content type.
    let blobs = ual
        .iter()
        .rev()
        .enumerate()
        .map(|(i, r)| Blob {
            content_type: if r["Workload"] == "AzureActiveDirectory" {
                "Audit.AzureActiveDirectory".into()
            } else {
                "Audit.Exchange".into()
            },
            content_id: format!("blob{i}"),
            created: format!("{}Z", r["CreationTime"].as_str().unwrap())
                .parse()
                .unwrap(),
            visible_from_listing: 0,
            records: vec![r.clone()],
        })
        .collect();
    let server = trustpath_collect::contract::start(Contract {
        tenant: TENANT.into(),
        client_secret: Some(SECRET.into()),
        blobs,
        signins,
        directory_audits: audits,
        page_size: 3,
        ..Contract::default()
    })
    .await
    .unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let secret = work.path().join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();
    let collect_toml = work.path().join("collect.toml");
    std::fs::write(
        &collect_toml,
        format!(
            "login_endpoint = \"{b}\"\nmanage_endpoint = \"{b}\"\ngraph_endpoint = \"{b}\"\n\
             client_id = \"app-1\"\nclient_secret_file = \"{s}\"\nca_file = \"{ca}\"\n",
            b = server.base,
            s = secret.display(),
            ca = ca.display()
        ),
    )
    .unwrap();
    let state = work.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let store = state.join("serve.redb");
    let findings_file = state.join("findings.jsonl");
    let text = format!(
        "nats_url = \"{}\"\nstore = \"{}\"\nidle_flush = \"1s\"\ntick_ms = 100\n\
         findings_jsonl = \"{}\"\n\
         [partitions]\ntotal = 4\nowned = [0, 1, 2, 3]\n\
         [collect]\nconfig = \"{}\"\ninterval = \"1h\"\ntenants = [\"{REFUSED}\", \"{TENANT}\"]\n",
        nats.url,
        store.display(),
        findings_file.display(),
        collect_toml.display()
    );
    let config =
        trustpath_serve::ServeConfig::from_toml_str(&text, &state.join("serve.toml")).unwrap();
    assert!(config.collect.is_some());
    let (stop, tasks) = common::run_service(vec![config]).await;

    // Wait until the service has published what hunt found (or time out).
    let client = common::client(&nats.url).await;
    let js = async_nats::jetstream::new(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut got: Vec<(String, String)> = Vec::new();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if js.get_stream("TRUSTPATH_FINDINGS").await.is_err() {
            continue;
        }
        let all = common::final_findings(&js).await;
        got = all
            .get(TENANT)
            .map(|m| m.values().map(|f| (f.id.clone(), common::key(f))).collect())
            .unwrap_or_default();
        got.sort();
        if got.len() >= expected.len() {
            // Let a late tick settle, then read once more.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let all = common::final_findings(&js).await;
            got = all
                .get(TENANT)
                .map(|m| m.values().map(|f| (f.id.clone(), common::key(f))).collect())
                .unwrap_or_default();
            got.sort();
            break;
        }
    }
    let _ = stop.send(true);
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(got, expected, "serve's collector mode differs from hunt");
    for (_, key) in &got {
        assert!(
            !noise_ids.iter().any(|id| key.contains(id.as_str())),
            "a benign record is cited: {key}"
        );
    }
    // The refused tenant published nothing and stopped nothing.
    let all = common::final_findings(&js).await;
    assert!(!all.contains_key(REFUSED));
    // The secret is nowhere the service wrote.
    let leaks = grep_tree(&state, SECRET);
    assert!(leaks.is_empty(), "secret written to {leaks:?}");
}

#[test]
fn the_collect_section_is_checked_before_the_service_starts() {
    let dir = tempfile::tempdir().unwrap();
    let serve = dir.path().join("serve.toml");
    let base = "nats_url = \"nats://127.0.0.1:4222\"\nstore = \"s.redb\"\n[partitions]\ntotal = 1\nowned = [0]\n";
    let error = |extra: &str| {
        trustpath_serve::ServeConfig::from_toml_str(&format!("{base}{extra}"), &serve)
            .expect_err("refused")
            .to_string()
    };
    // A collect.toml that is not there: named, with the line.
    let e = error("[collect]\nconfig = \"missing.toml\"\ntenants = [\"t1\"]\n");
    assert!(
        e.contains("missing.toml") && e.contains("serve.toml:6"),
        "{e}"
    );
    // A secret that cannot be read is a start-up error, not a failure an hour later.
    std::fs::write(
        dir.path().join("collect.toml"),
        "client_id = \"app\"\nclient_secret_file = \"/nonexistent/secret\"\n",
    )
    .unwrap();
    let e = error("[collect]\nconfig = \"collect.toml\"\ntenants = [\"t1\"]\n");
    assert!(e.contains("/nonexistent/secret"), "{e}");
    // Nothing to collect.
    std::fs::write(dir.path().join("secret"), "s3cr3t-value-0123").unwrap();
    std::fs::write(
        dir.path().join("collect.toml"),
        format!(
            "client_id = \"app\"\nclient_secret_file = \"{}\"\n",
            dir.path().join("secret").display()
        ),
    )
    .unwrap();
    let e = error("[collect]\nconfig = \"collect.toml\"\n");
    assert!(e.contains("no tenant to collect"), "{e}");
    assert!(!e.contains("s3cr3t-value-0123"));
    let e = error("[collect]\nconfig = \"collect.toml\"\ntenants = [\"t1\"]\ninterval = \"0s\"\n");
    assert!(e.contains("collect.interval"), "{e}");
    // Valid: tenants default to the [tenants."id"] entries.
    let ok = trustpath_serve::ServeConfig::from_toml_str(
        &format!(
            "{base}[collect]\nconfig = \"collect.toml\"\ninterval = \"1 hour\"\n[tenants.\"t9\"]\n"
        ),
        &serve,
    )
    .unwrap();
    let mode = ok.collect.unwrap();
    assert_eq!(mode.tenants, vec!["t9".to_owned()]);
    assert_eq!(mode.interval, Duration::from_secs(3600));
}
