//! Shared test helpers: a real nats-server (scripts/nats), test data cut from the
//! project's `examples/` tenant into message payloads for several tenants, the hunt
//! reference, and reading back what the service published.

#![allow(dead_code, clippy::unwrap_used)]

use async_nats::jetstream;
use futures::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use trustpath_analytics::{Detector, DetectorOptions};
use trustpath_report::Finding;

/// The tenant id the examples use; tests rewrite it to make more tenants.
pub const EXAMPLE_TENANT: &str = "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A nats-server started by `scripts/nats start`, stopped on drop.
pub struct Nats {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl Nats {
    /// Start a server, or `None` (SKIPPED printed) when `TRUSTPATH_SKIP_NATS=1` and the
    /// server is missing. Fails when it is missing otherwise.
    pub fn start(test: &str) -> Option<Nats> {
        let installed = std::process::Command::new("sh")
            .args([
                "-c",
                "command -v nats-server || test -x \"$HOME/.local/bin/nats-server\"",
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !installed && std::env::var("TRUSTPATH_SKIP_NATS").as_deref() == Ok("1") {
            println!("SKIPPED {test}: nats-server is not installed (TRUSTPATH_SKIP_NATS=1)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("bash")
            .arg(root().join("scripts/nats"))
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{test}: scripts/nats start failed (nats-server missing? run scripts/install-deps): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Some(Nats { dir, url })
    }

    pub fn restart(&self) {
        let out = std::process::Command::new("bash")
            .arg(root().join("scripts/nats"))
            .arg("restart")
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/nats restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop(&self) {
        let _ = std::process::Command::new("bash")
            .arg(root().join("scripts/nats"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Payload {
    pub tenant: String,
    pub source: String,
    pub bytes: Vec<u8>,
    /// Arrival order key (earliest event time + delay), seconds.
    pub arrival: i64,
}

impl Payload {
    pub fn subject(&self) -> String {
        format!("trustpath.events.{}.{}", self.tenant, self.source)
    }
}

fn file_bytes(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

/// Records of a file as (time, record text), plus a header line for CSV; JSON arrays
/// become one JSON text per element.
fn records(path: &Path) -> (Option<String>, Vec<String>) {
    let bytes = file_bytes(path);
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let name = path.to_string_lossy();
    if name.contains(".csv") {
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_owned();
        (Some(header), lines.map(str::to_owned).collect())
    } else if text.trim_start().starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(text).unwrap();
        (None, items.iter().map(|v| v.to_string()).collect())
    } else {
        (
            None,
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

fn event_times(name: &str, bytes: &[u8]) -> Vec<jiff::Timestamp> {
    let mut normalizer = trustpath_normalize::Normalizer::new(Default::default());
    let mut items = Vec::new();
    trustpath_read::read_bytes(name, bytes, &Default::default(), &mut |r| {
        if let Ok(raw) = r {
            normalizer.push(raw, &mut items);
        }
    });
    normalizer.finish(&mut items);
    items.into_iter().flatten().map(|e| e.time).collect()
}

/// Cut the example files into payloads: chunks of at most `per_chunk` records spanning
/// at most one hour, for each tenant (the example tenant id rewritten), in an arrival
/// order that is out of order by up to an hour, with about one chunk in ten six hours
/// late. `files` are paths under `examples/logs`, with the source token to publish on.
pub fn example_payloads(
    files: &[(&str, &str)],
    tenants: &[String],
    per_chunk: usize,
) -> Vec<Payload> {
    let mut out = Vec::new();
    let mut rng: u64 = 0x5eed;
    let mut next = || {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        rng >> 33
    };
    for (file, source) in files {
        let (header, recs) = records(&root().join("examples/logs").join(file));
        let mut chunk: Vec<String> = Vec::new();
        let mut chunks = Vec::new();
        let mut chunk_start: Option<jiff::Timestamp> = None;
        let render = |chunk: &[String]| -> Vec<u8> {
            match &header {
                Some(h) => format!("{h}\r\n{}\r\n", chunk.join("\r\n")).into_bytes(),
                None if file.ends_with(".json") || file.ends_with(".json.gz") => {
                    format!("[{}]", chunk.join(",")).into_bytes()
                }
                None => format!("{}\n", chunk.join("\n")).into_bytes(),
            }
        };
        for rec in recs {
            let time = event_times(file, &render(std::slice::from_ref(&rec)))
                .into_iter()
                .min();
            let too_long = match (chunk_start, time) {
                (Some(s), Some(t)) => (t - s).get_seconds().abs() > 3600,
                _ => false,
            };
            if !chunk.is_empty() && (chunk.len() >= per_chunk || too_long) {
                chunks.push(render(&chunk));
                chunk.clear();
                chunk_start = None;
            }
            if chunk_start.is_none() {
                chunk_start = time;
            }
            chunk.push(rec);
        }
        if !chunk.is_empty() {
            chunks.push(render(&chunk));
        }
        for bytes in chunks {
            let earliest = event_times(file, &bytes)
                .into_iter()
                .min()
                .unwrap()
                .as_second();
            for tenant in tenants {
                let bytes = String::from_utf8(bytes.clone())
                    .unwrap()
                    .replace(EXAMPLE_TENANT, tenant)
                    .into_bytes();
                let delay = if next() % 10 == 0 {
                    6 * 3600
                } else {
                    (next() % 3600) as i64
                };
                out.push(Payload {
                    tenant: tenant.clone(),
                    source: (*source).to_owned(),
                    bytes,
                    arrival: earliest + delay,
                });
            }
        }
    }
    out.sort_by_key(|p| p.arrival);
    out
}

/// Tenant ids for tests: the example's with the last characters changed.
pub fn tenants(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{}{i:02}", &EXAMPLE_TENANT[..EXAMPLE_TENANT.len() - 2]))
        .collect()
}

/// The detector `trustpath hunt examples/` builds.
pub fn detector() -> Detector {
    let context =
        trustpath_context::Context::load(&root().join("examples/trustpath.toml")).unwrap();
    Detector::build(DetectorOptions {
        builtin: true,
        context,
        ..Default::default()
    })
    .0
}

/// What `trustpath hunt` finds in one tenant's payloads written out as files: the
/// production hunt ([`trustpath_hunt::hunt_collect`]) with the detector's context.
pub fn hunt(detector: &Detector, payloads: &[&Payload]) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let path = dir.path().join(format!("{i:05}-{}.log", p.source));
        std::fs::write(&path, &p.bytes).unwrap();
        inputs.push(path);
    }
    let run = trustpath_hunt::hunt_collect(&trustpath_hunt::HuntOptions {
        input: trustpath_hunt::InputOptions {
            paths: inputs,
            ..Default::default()
        },
        context: trustpath_hunt::ContextChoice::Given(Box::new(detector.context().clone())),
        ..Default::default()
    })
    .unwrap();
    assert!(
        run.summary.files.iter().all(|f| f.file != "(arguments)"),
        "{:?}",
        run.errors
    );
    run.findings
}

/// The comparison key of a finding: what it says, not where the evidence was read from.
pub fn key(f: &Finding) -> String {
    let mut records: Vec<String> = f
        .evidence
        .iter()
        .map(|e| format!("{}@{}", e.record_id.clone().unwrap_or_default(), e.time))
        .collect();
    records.sort();
    format!(
        "{:?} {:?} authorized={} mailbox={:?} trustee={:?} partner={:?} severity={:?} evidence={records:?}",
        f.analytic,
        f.kind,
        f.authorized.is_some(),
        f.entities.mailbox,
        f.entities.trustee,
        f.entities.partner,
        f.severity.level,
    )
}

/// The hunt's keys per tenant.
pub fn hunt_keys(payloads: &[Payload], tenants: &[String]) -> BTreeMap<String, Vec<String>> {
    let detector = detector();
    tenants
        .iter()
        .map(|t| {
            let mine: Vec<&Payload> = payloads.iter().filter(|p| &p.tenant == t).collect();
            let mut keys: Vec<String> = hunt(&detector, &mine).iter().map(key).collect();
            keys.sort();
            (t.clone(), keys)
        })
        .collect()
}

/// Publish every payload (JetStream, awaiting acks; the message id makes retries safe).
pub async fn publish(js: &jetstream::Context, payloads: &[Payload], first_id: usize) {
    for (i, p) in payloads.iter().enumerate() {
        publish_one(js, p, first_id + i).await;
    }
}

pub async fn publish_one(js: &jetstream::Context, p: &Payload, id: usize) {
    loop {
        let msg = jetstream::message::PublishMessage::build()
            .payload(p.bytes.clone().into())
            .message_id(format!("payload-{id}"));
        match js.send_publish(p.subject(), msg).await {
            Ok(ack) => match ack.await {
                Ok(_) => return,
                Err(e) => eprintln!("publish retry: {e}"),
            },
            Err(e) => eprintln!("publish retry: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Connect a client that keeps trying.
pub async fn client(url: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .unwrap()
}

/// Create the event stream (the service does too; publishers may start first), as the
/// service creates it: a request that times out on a loaded machine is asked again.
pub async fn ensure_events_stream(js: &jetstream::Context) {
    trustpath_serve::create_stream(js, trustpath_serve::events_stream_config())
        .await
        .unwrap();
}

/// Everything on a stream's subjects matching `filter`, in order: (subject, body, msg id).
pub async fn read_stream(
    js: &jetstream::Context,
    stream: &str,
    filter: &str,
) -> Vec<(String, Value, String)> {
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: filter.to_owned(),
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut info = consumer.clone();
    let pending = info.info().await.unwrap().num_pending as usize;
    if pending == 0 {
        return out;
    }
    let mut messages = consumer.messages().await.unwrap();
    while out.len() < pending {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let id = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.to_string())
            .unwrap_or_default();
        out.push((
            m.subject.to_string(),
            serde_json::from_slice(&m.payload).unwrap(),
            id,
        ));
    }
    out
}

/// Published findings with their updates applied, per tenant; also checks that no
/// finding id was published twice.
pub async fn final_findings(
    js: &jetstream::Context,
) -> BTreeMap<String, BTreeMap<String, Finding>> {
    let messages = read_stream(js, "TRUSTPATH_FINDINGS", "trustpath.findings.>").await;
    let mut out: BTreeMap<String, BTreeMap<String, Finding>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for (subject, body, _) in messages {
        let rest = subject.strip_prefix("trustpath.findings.").unwrap();
        match rest.split_once('.') {
            None => {
                let finding: Finding = serde_json::from_value(body).unwrap();
                assert!(
                    seen.insert(finding.id.clone()),
                    "finding {} published twice",
                    finding.id
                );
                out.entry(rest.to_owned())
                    .or_default()
                    .insert(finding.id.clone(), finding);
            }
            Some((tenant, "updates")) => {
                let id = body["id"].as_str().unwrap().to_owned();
                let tenant_map = out.entry(tenant.to_owned()).or_default();
                match body["status"].as_str() {
                    Some("folded") => {
                        tenant_map.remove(&id);
                    }
                    _ => {
                        let finding: Finding =
                            serde_json::from_value(body["finding"].clone()).unwrap();
                        tenant_map.insert(id, finding);
                    }
                }
            }
            Some(_) => panic!("unexpected subject {subject}"),
        }
    }
    out
}

/// Final findings as sorted keys per tenant (tenants without findings included).
pub fn keys_of(
    findings: &BTreeMap<String, BTreeMap<String, Finding>>,
    tenants: &[String],
) -> BTreeMap<String, Vec<String>> {
    tenants
        .iter()
        .map(|t| {
            let mut keys: Vec<String> = findings
                .get(t)
                .map(|m| m.values().map(key).collect())
                .unwrap_or_default();
            keys.sort();
            (t.clone(), keys)
        })
        .collect()
}

/// A service configuration for tests.
pub fn config(url: &str, store: &Path, owned: &[u32], http: bool) -> trustpath_serve::ServeConfig {
    let owned: Vec<String> = owned.iter().map(ToString::to_string).collect();
    let http = if http {
        "[http]\naddr = \"127.0.0.1:0\"\ntoken = \"test-token-0123456789\"\n"
    } else {
        ""
    };
    let text = format!(
        "nats_url = \"{url}\"\nstore = \"{}\"\ncontext = \"{}\"\nidle_flush = \"1s\"\ntick_ms = 100\n\
         [partitions]\ntotal = 4\nowned = [{}]\n{http}",
        store.display(),
        root().join("examples/trustpath.toml").display(),
        owned.join(", ")
    );
    trustpath_serve::ServeConfig::from_toml_str(&text, Path::new("test.toml")).unwrap()
}

/// Wait until every partition consumer has delivered and had acknowledged everything.
pub async fn wait_drained(js: &jetstream::Context, partitions: &[u32], timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut drained = true;
        if let Ok(stream) = js.get_stream("TRUSTPATH_EVENTS").await {
            for p in partitions {
                match stream
                    .get_consumer::<jetstream::consumer::pull::Config>(&format!("trustpath-p{p}"))
                    .await
                {
                    Ok(mut c) => match c.info().await {
                        Ok(i) => drained &= i.num_pending == 0 && i.num_ack_pending == 0,
                        Err(_) => drained = false,
                    },
                    Err(_) => drained = false,
                }
            }
        } else {
            drained = false;
        }
        if drained {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumers did not drain in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Shared detector for tests that need it more than once.
pub fn shared_detector() -> Arc<Detector> {
    Arc::new(detector())
}

/// Start one `serve` task per configuration; sending `true` on the returned channel
/// stops them all.
pub async fn run_service(
    configs: Vec<trustpath_serve::ServeConfig>,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let tasks = configs
        .into_iter()
        .map(|c| {
            let mut rx = rx.clone();
            tokio::spawn(trustpath_serve::serve(c, async move {
                let _ = rx.wait_for(|s| *s).await;
            }))
        })
        .collect();
    (stop, tasks)
}
