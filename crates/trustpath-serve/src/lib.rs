//! `trustpath serve`: the streaming service on NATS JetStream.
//!
//! Events arrive on `trustpath.events.<tenant>.<source>`; the NATS server maps them onto a
//! fixed number of partitions (`trustpath.part.<P>.<tenant>.<source>`, subject mapping
//! with `partition()`), all kept in the stream `TRUSTPATH_EVENTS`. A worker serves the
//! partitions its configuration lists, one durable pull consumer each, so a tenant's
//! correlation state lives on exactly one worker.
//!
//! Detection is the code path of `trustpath hunt` ([`trustpath_analytics::Detector`]):
//! the same rules (`rules`, `no_builtin`, `mapping`), `time_field` and context — one per
//! tenant with `[tenants."<id>"] context`, whose `[host_timezones]` the normalizer
//! applies as `hunt` does; per-event matching as events arrive, and batch correlation
//! over the retained matches of the tenants a batch changed. 4104 script blocks split
//! over several messages are joined: each subject (`<tenant>.<source>`) keeps one
//! normalizer whose pending parts are stored with the state (bounded by
//! `max_pending_script_block_bytes`; evictions are counted), and end-of-input flushes
//! emit blocks still missing parts, flagged incomplete, as `hunt` does at its end. Event time rules: an event behind the watermark (largest event time −
//! allowed lateness) is late: it is counted and published to `trustpath.late.<tenant>`,
//! not added to state. A finding is published to `trustpath.findings.<tenant>` once its
//! first evidence is behind the watermark, with its id as the JetStream message id; later
//! changes (more evidence, folded into a stronger finding) go to
//! `trustpath.findings.<tenant>.updates`.
//!
//! Exactly once: per batch the findings are published and their PubAcks awaited, then the
//! rows of the partition state that the batch changed (retained events added or evicted,
//! first-seen times, published findings, pending 4104 parts — see [`store`]) and its
//! stream position are committed in one redb transaction, then the batch is
//! acknowledged; a commit costs what the batch changed, not what the partition retains. After a crash the worker restarts from the committed
//! position; a replayed finding has the same id and JetStream drops it as a duplicate.
//!
//! Modules: [`config`] (the TOML file), [`state`] (correlation state, deterministic),
//! [`store`] (redb, one row per retained event / finding / actor), [`worker`] (the consume loop), [`metrics`], [`http`] and [`tls`]
//! (HTTPS when `[http] tls_cert` / `tls_key` are set).

mod collector;
pub mod config;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod state;
pub mod store;
pub mod tls;
pub mod worker;

pub use config::{ConfigError, HttpConfig, ServeConfig, TenantConfig, TlsFiles};
pub use metrics::Metrics;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use trustpath_analytics::{Detector, DetectorOptions};
use trustpath_context::Context;

/// A running service's handles, for tests and the CLI.
#[derive(Clone)]
pub struct ServeHandle {
    /// Counters, readiness and current findings.
    pub metrics: Arc<Metrics>,
    /// Where HTTP listens, once bound.
    pub http_addr: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
}

/// Run the service until `shutdown` completes; then every partition flushes (end of
/// input), commits and stops.
pub async fn serve(config: ServeConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let handle = ServeHandle {
        metrics: Arc::new(Metrics::default()),
        http_addr: Arc::new(std::sync::OnceLock::new()),
    };
    serve_with(config, shutdown, handle).await
}

/// [`serve`] with caller-supplied handles (to read metrics or the HTTP address).
pub async fn serve_with(
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
    handle: ServeHandle,
) -> anyhow::Result<()> {
    // TLS files first: a bad certificate is a start-up error, before waiting for NATS.
    let tls = match config.http.as_ref().and_then(|h| h.tls.as_ref()) {
        Some(files) => Some(tls::server_config(files)?),
        None => None,
    };
    let processor = Arc::new(processor(&config)?);
    let store = Arc::new(store::Store::open(&config.store)?);
    let metrics = Arc::clone(&handle.metrics);
    tracing::info!(
        "connecting to NATS at {} (retrying until it answers)",
        config.nats_url
    );
    let client = connect(&config.nats_url, Arc::clone(&metrics)).await?;
    let js = jetstream::new(client.clone());
    if let Err(error) = ensure_streams(&js, &config).await {
        return Err(explain_unreachable(error, &client, &config.nats_url));
    }
    let leases = lease_bucket(&js, config.lease_ttl).await?;
    tracing::info!(
        "serving partitions {:?} of {}; state in {}",
        config.partitions_owned,
        config.partitions_total,
        config.store.display()
    );
    let findings_jsonl = match &config.findings_jsonl {
        Some(path) => Some(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open findings file {}", path.display()))?,
        )),
        None => None,
    };
    let shared = Arc::new(worker::Shared {
        js,
        processor,
        store,
        metrics: Arc::clone(&metrics),
        tick: config.tick,
        tick_messages: config.tick_messages,
        idle_flush: config.idle_flush,
        poison_attempts: config.poison_attempts,
        leases,
        worker_id: config.worker_id.clone(),
        lease_ttl: config.lease_ttl,
        findings_jsonl,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let collect_task = config.collect.clone().map(|mode| {
        tracing::info!(
            "collecting {} tenant(s) from Microsoft 365 every {:?} ({})",
            mode.tenants.len(),
            mode.interval,
            mode.config_path.display()
        );
        tokio::spawn(collector::run(
            mode,
            config.nats_url.clone(),
            collector::state_dir(&config.store),
            stop_rx.clone(),
        ))
    });
    let http_task = match &config.http {
        Some(http) => Some(start_http(http, tls, &metrics, &handle, stop_rx.clone()).await?),
        None => None,
    };
    let mut tasks = Vec::new();
    for &partition in &config.partitions_owned {
        metrics.set_ready(partition, false);
        tasks.push(tokio::spawn(worker::run_partition(
            Arc::clone(&shared),
            partition,
            stop_rx.clone(),
        )));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for task in tasks {
        task.await.context("partition task")?;
    }
    if let Some(task) = http_task {
        let _ = task.await;
    }
    if let Some(task) = collect_task {
        let _ = task.await;
    }
    Ok(())
}

/// Load a context file, or the defaults.
fn load_context(path: Option<&std::path::Path>) -> anyhow::Result<Context> {
    match path {
        Some(path) => Context::load(path)
            .with_context(|| format!("cannot use context file {}", path.display())),
        None => Ok(Context::default()),
    }
}

/// What one tenant detects with: the detector `trustpath hunt` builds from the same
/// rules, mapping and context, the context's lateness (unless configured) and the
/// normalizer options `hunt` would use (time field, the context's `[host_timezones]`).
fn tenant_setup(
    config: &ServeConfig,
    context: Context,
    report_problems: bool,
) -> anyhow::Result<state::TenantSetup> {
    let lateness = config.lateness.unwrap_or(context.settings.lateness);
    let mut normalize = trustpath_normalize::NormalizeOptions {
        time_field: config.time_field.clone(),
        max_pending_script_block_bytes: config.max_pending_script_block_bytes,
        ..Default::default()
    };
    // The function `hunt` builds its scan configuration with.
    normalize.host_time_zones = trustpath_hunt::host_time_zones(&[&context]);
    let (detector, problems) = Detector::build(DetectorOptions {
        builtin: !config.no_builtin,
        rule_paths: config.rules.clone(),
        context,
        mapping: config.mapping.clone(),
        placeholders: config.placeholders.clone(),
        statuses: Vec::new(),
        // The service loads its rules once, at start: no cache on disk.
        rule_cache: None,
    });
    let hard: Vec<String> = problems
        .rules
        .iter()
        .filter(|p| !p.is_warning())
        .map(ToString::to_string)
        .chain(problems.correlations.iter().map(ToString::to_string))
        .chain(problems.analytics.iter().cloned())
        .collect();
    if !hard.is_empty() {
        anyhow::bail!(
            "{} rules did not load:\n  {}",
            hard.len(),
            hard.join("\n  ")
        );
    }
    if report_problems {
        for warning in problems.rules.iter().filter(|p| p.is_warning()) {
            tracing::warn!("rule: {warning}");
        }
    }
    Ok(state::TenantSetup {
        detector: Arc::new(detector),
        lateness,
        normalize,
    })
}

/// The detectors of every tenant: the global context's, and one per
/// `[tenants."<id>"]` entry naming its own context.
pub fn processor(config: &ServeConfig) -> anyhow::Result<state::Processor> {
    let global = load_context(config.context.as_deref())?;
    let default = tenant_setup(config, global.clone(), true)?;
    let mut tenants = std::collections::BTreeMap::new();
    for (id, tenant) in &config.tenants {
        let context = match &tenant.context {
            Some(path) => load_context(Some(path)).with_context(|| format!("tenant {id}"))?,
            None => global.clone(),
        };
        tenants.insert(id.clone(), tenant_setup(config, context, false)?);
    }
    Ok(state::Processor {
        default,
        tenants,
        max_window: config.max_window,
        max_future_skew: config.max_future_skew,
        max_publish_bytes: config.max_publish_bytes,
    })
}

async fn connect(url: &str, metrics: Arc<Metrics>) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempt| Duration::from_millis((100 * attempt as u64).min(1000)))
        .event_callback(move |event| {
            let metrics = Arc::clone(&metrics);
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!("connected to NATS");
                        metrics.connected.store(true, Ordering::Relaxed)
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!("disconnected from NATS; reconnecting");
                        metrics.connected.store(false, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        })
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))?;
    Ok(client)
}

/// A start-up JetStream failure said in the user's terms: no server answering at the URL,
/// or a server without JetStream (a bare "request timed out" names neither).
fn explain_unreachable(
    error: anyhow::Error,
    client: &async_nats::Client,
    url: &str,
) -> anyhow::Error {
    match client.connection_state() {
        async_nats::connection::State::Connected => anyhow::anyhow!(
            "the NATS server at {url} answers but JetStream did not ({error:#}): \
             is JetStream enabled (nats-server -js, or `jetstream {{}}` in its configuration)?"
        ),
        _ => anyhow::anyhow!(
            "no NATS server answered at {url} ({error:#}): is nats-server running and \
             reachable there? Start one with `nats-server -js`, or set nats_url in the config"
        ),
    }
}

/// Create the streams when missing.
async fn ensure_streams(js: &jetstream::Context, config: &ServeConfig) -> anyhow::Result<()> {
    let streams = [
        events_stream_config(),
        stream_config(
            worker::FINDINGS_STREAM,
            vec!["trustpath.findings.>".to_owned()],
            Duration::try_from(config.duplicate_window).unwrap_or(Duration::from_secs(86_400)),
        ),
        stream_config(
            worker::REJECTS_STREAM,
            vec![
                "trustpath.late.>".to_owned(),
                "trustpath.deadletter.>".to_owned(),
            ],
            Duration::from_secs(3600),
        ),
    ];
    for config in streams {
        let name = config.name.clone();
        create_stream(js, config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create stream {name}: {e}"))?;
    }
    Ok(())
}

/// The event stream as the service creates it: what a publisher that starts before the
/// service passes to [`create_stream`] (the tests and benches do).
pub fn events_stream_config() -> stream::Config {
    stream_config(
        worker::EVENTS_STREAM,
        vec!["trustpath.part.>".to_owned()],
        Duration::from_secs(120),
    )
}

/// A file-backed stream of `subjects` de-duplicating message ids over `duplicate_window`.
fn stream_config(name: &str, subjects: Vec<String>, duplicate_window: Duration) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects,
        storage: stream::StorageType::File,
        duplicate_window,
        ..Default::default()
    }
}

/// How long start-up keeps asking a connected server's JetStream that does not answer in
/// time. A server just started, recovering its streams or on a loaded machine can let a
/// first request time out; a server with no JetStream answers "no responders" at once
/// and is not waited for.
const JETSTREAM_PATIENCE: Duration = Duration::from_secs(30);

/// `get_or_create_stream`, asked again while the server is connected and its JetStream
/// only timed out, for up to [`JETSTREAM_PATIENCE`]: how the service creates its
/// streams at start-up, and how a publisher that starts first may create them.
pub async fn create_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, jetstream::context::CreateStreamError> {
    let client = js.client();
    let name = config.name.clone();
    patiently(
        &format!("creating stream {name}"),
        JETSTREAM_PATIENCE,
        |e: &jetstream::context::CreateStreamError| {
            e.kind() == jetstream::context::CreateStreamErrorKind::TimedOut
                && client.connection_state() == async_nats::connection::State::Connected
        },
        || js.get_or_create_stream(config.clone()),
    )
    .await
}

/// Run `op` until it succeeds, fails in a way `transient` rejects, or `patience` would
/// be exceeded by the next wait; waits double from 250 ms up to 4 s, each one logged.
async fn patiently<T, E, F, Fut>(
    what: &str,
    patience: Duration,
    transient: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    let mut wait = Duration::from_millis(250);
    loop {
        match op().await {
            Err(e) if transient(&e) && tokio::time::Instant::now() + wait <= deadline => {
                tracing::warn!("{what}: {e}; asking again in {wait:?}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(4));
            }
            done => return done,
        }
    }
}

/// Bind the HTTP port and serve the router on it: HTTPS when `tls` is set, else HTTP.
async fn start_http(
    http: &HttpConfig,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    metrics: &Arc<Metrics>,
    handle: &ServeHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(&http.addr)
        .await
        .with_context(|| format!("cannot listen on {}", http.addr))?;
    if let Ok(addr) = listener.local_addr() {
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "HTTP on {scheme}://{addr} (/healthz, /readyz; /metrics and /v1/findings need the token)"
        );
        let _ = handle.http_addr.set(addr);
    }
    let app = http::router(http::HttpState {
        metrics: Arc::clone(metrics),
        token: http.token.as_str().into(),
    });
    if let Some(tls) = tls {
        return Ok(tokio::spawn(tls::serve_https(listener, tls, app, stop)));
    }
    Ok(tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = server.await {
            tracing::warn!("http: {e}");
        }
    }))
}

/// The partition lease bucket. Its stream is created here with the KV layout (what
/// `create_key_value` would make) because that call first asks for account limits in a
/// form older servers (2.9) do not answer.
async fn lease_bucket(
    js: &jetstream::Context,
    ttl: Duration,
) -> anyhow::Result<jetstream::kv::Store> {
    let bucket = worker::LEASES_BUCKET;
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("trustpath serve: one live worker per partition".to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: ttl,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    };
    create_stream(js, config)
        .await
        .context("cannot create the partition lease bucket")?;
    js.get_key_value(bucket)
        .await
        .context("cannot open the partition lease bucket")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    const RULE: &str = "title: Mail sent by the finance robot\n\
        id: 5b1f3c2a-0d4e-4f6a-9b8c-7d6e5f4a3b2c\nstatus: test\n\
        logsource:\n  product: m365\n  service: exchange\n\
        detection:\n  sel:\n    Operation: Send\n    UserId: robot@contoso.com\n  condition: sel\n\
        level: high\n";

    fn config(dir: &Path, extra: &str) -> ServeConfig {
        let text = format!(
            "nats_url = \"nats://127.0.0.1:4222\"\nstore = \"s.redb\"\n{extra}\n\
             [partitions]\ntotal = 1\nowned = [0]\n"
        );
        ServeConfig::from_toml_str(&text, &dir.join("serve.toml")).unwrap()
    }

    /// `patiently` over an operation whose `n`th call (from 1) answers `answer(n)`: what
    /// it returned, how many calls it made and how long it waited (paused time).
    async fn patient_run(
        answer: fn(u32) -> Result<u32, String>,
    ) -> (Result<u32, String>, u32, Duration) {
        let calls = std::cell::Cell::new(0u32);
        let start = tokio::time::Instant::now();
        let done = patiently(
            "test",
            Duration::from_secs(30),
            |e: &String| e == "timed out",
            || {
                calls.set(calls.get() + 1);
                let answer = answer(calls.get());
                async move { answer }
            },
        )
        .await;
        (done, calls.get(), start.elapsed())
    }

    /// A JetStream request that times out is asked again within the patience, waits
    /// doubling; any other error, or one more wait past the patience, ends it.
    #[tokio::test(start_paused = true)]
    async fn start_up_asks_again_only_after_timeouts_and_within_the_patience() {
        // Two timeouts, then success: three calls, 250 + 500 ms waited.
        let timeouts_then_ok = |n| {
            if n < 3 {
                Err("timed out".to_owned())
            } else {
                Ok(n)
            }
        };
        assert_eq!(
            patient_run(timeouts_then_ok).await,
            (Ok(3), 3, Duration::from_millis(750))
        );
        // A lasting error that is not a timeout: one call, no wait.
        let refused = |_| Err("no responders".to_owned());
        assert_eq!(
            patient_run(refused).await,
            (Err("no responders".to_owned()), 1, Duration::ZERO)
        );
        // Timeouts forever: waits 0.25+0.5+1+2+4+4+4+4+4+4 = 27.75 s; the next 4 s
        // would pass 30 s, so the eleventh call's timeout is returned.
        let timeouts = |_| Err("timed out".to_owned());
        assert_eq!(
            patient_run(timeouts).await,
            (
                Err("timed out".to_owned()),
                11,
                Duration::from_millis(27_750)
            )
        );
    }

    #[test]
    fn user_rules_run_without_the_builtins_and_a_broken_rule_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/robot.yml"), RULE).unwrap();
        let p = processor(&config(
            dir.path(),
            "rules = [\"rules\"]\nno_builtin = true",
        ))
        .unwrap();
        let mut state = state::PartitionState::default();
        let mut out = Vec::new();
        let record = "{\"CreationTime\":\"2025-03-03T20:00:00\",\"Id\":\"r1\",\"Operation\":\"Send\",\
            \"OrganizationId\":\"t1\",\"RecordType\":2,\"UserId\":\"robot@contoso.com\",\"UserType\":0,\
            \"Workload\":\"Exchange\"}\n";
        let report = p.ingest(
            &mut state,
            state::Inbound {
                tenant: "t1",
                source: "ual",
                seq: 1,
                payload: record.as_bytes(),
                received: None,
            },
            &mut out,
        );
        assert_eq!(report.matched, 1);
        assert_eq!(
            out.len(),
            1,
            "a stateless rule's finding is published at once"
        );
        assert!(
            state.tenants["t1"].matched.is_empty(),
            "its event is not retained"
        );
        p.tick(&mut state, true, &mut out);
        assert_eq!(out.len(), 1, "correlation neither repeats nor folds it");
        let finding = out
            .iter()
            .find(|o| o.kind == state::PublicationKind::Finding)
            .expect("the user rule's finding");
        let body = String::from_utf8_lossy(&finding.body);
        assert!(body.contains("finance robot"), "{body}");

        std::fs::write(dir.path().join("rules/broken.yml"), "title: [unclosed\n").unwrap();
        let e = processor(&config(dir.path(), "rules = [\"rules\"]"))
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("broken.yml"), "{e:#}");
    }

    #[test]
    fn a_tenant_context_gives_its_lateness_and_host_time_zones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t1.toml"),
            "[settings]\nlateness = \"2h\"\n[host_timezones]\n\"WS-NY-01\" = \"America/New_York\"\n",
        )
        .unwrap();
        let c = config(dir.path(), "[tenants.t1]\ncontext = \"t1.toml\"");
        let p = processor(&c).unwrap();
        assert_eq!(p.setup("t1").lateness, jiff::SignedDuration::from_hours(2));
        assert_eq!(p.setup("t2").lateness, jiff::SignedDuration::from_hours(12));
        let zone = p
            .setup("t1")
            .normalize
            .host_time_zones
            .get("ws-ny-01.contoso.local");
        assert_eq!(zone.map(|z| z.0), Some("America/New_York".to_owned()));
        assert!(
            p.setup("t2")
                .normalize
                .host_time_zones
                .get("WS-NY-01")
                .is_none()
        );
    }
}
