//! One partition's consume loop: pull a batch → process (CPU work off the async
//! threads) → publish findings and wait for every PubAck → commit state and stream
//! position in one redb transaction → ack. Any NATS or store error restarts the loop
//! from the committed state, with the consumer re-created at the committed position.

use crate::metrics::{Metrics, PartitionGauges};
use crate::state::{
    Inbound, IngestReport, PartitionState, Processor, Publication, PublicationKind,
};
use crate::store::{CommitStats, Loaded, Store};
use async_nats::jetstream::{self, consumer::pull, message::Message};
use futures::StreamExt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Name of the stream holding every event.
pub const EVENTS_STREAM: &str = "TRUSTPATH_EVENTS";
/// Name of the stream holding findings and their updates.
pub const FINDINGS_STREAM: &str = "TRUSTPATH_FINDINGS";
/// Name of the stream holding late events and dead letters.
pub const REJECTS_STREAM: &str = "TRUSTPATH_REJECTS";

/// What every partition loop shares.
pub struct Shared {
    /// JetStream context.
    pub js: jetstream::Context,
    /// Detection and correlation settings.
    pub processor: Arc<Processor>,
    /// The state store.
    pub store: Arc<Store>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Correlation tick period.
    pub tick: Duration,
    /// Messages per tick.
    pub tick_messages: usize,
    /// End-of-input flush after this idle time.
    pub idle_flush: Option<Duration>,
    /// Findings JSON Lines file.
    pub findings_jsonl: Option<std::sync::Mutex<std::fs::File>>,
    /// A batch failing this often at one stream position is retried one message at a
    /// time; failing that often again, its first message is dead-lettered and skipped.
    pub poison_attempts: u32,
    /// Partition leases in the JetStream KV store (one owner per partition).
    pub leases: jetstream::kv::Store,
    /// This worker's identity in the leases.
    pub worker_id: String,
    /// How long a lease lives without a refresh.
    pub lease_ttl: Duration,
}

/// Name of the KV bucket holding partition leases.
pub const LEASES_BUCKET: &str = "TRUSTPATH_LEASES";

/// Failures at one committed stream position, for poison-message handling.
#[derive(Debug, Default)]
struct Recovery {
    position: u64,
    failures: u32,
    last_error: String,
}

/// Consumer name of a partition.
pub fn consumer_name(partition: u32) -> String {
    format!("trustpath-p{partition}")
}

/// Run a partition until `shutdown` turns true; errors restart the loop after a pause.
/// A message that keeps failing is isolated (one message per batch) and then
/// dead-lettered and acknowledged, so one message never stops a partition.
pub async fn run_partition(
    shared: Arc<Shared>,
    partition: u32,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut recovery = Recovery::default();
    loop {
        match run_once(&shared, partition, &mut shutdown, &mut recovery).await {
            Ok(()) => return,
            Err(e) => {
                shared.metrics.set_ready(partition, false);
                shared
                    .metrics
                    .partition_restarts
                    .fetch_add(1, Ordering::Relaxed);
                recovery.failures += 1;
                recovery.last_error = format!("{e:#}");
                tracing::warn!(
                    "partition {partition}: {e:#}; restarting from the committed state (failure {} at stream position {})",
                    recovery.failures,
                    recovery.position
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

struct Batch {
    messages: Vec<Message>,
    /// A stream sequence to dead-letter instead of processing, with why.
    poison: Option<(u64, String)>,
}

impl Batch {
    fn empty() -> Self {
        Batch {
            messages: Vec::new(),
            poison: None,
        }
    }
}

async fn run_once(
    shared: &Arc<Shared>,
    partition: u32,
    shutdown: &mut watch::Receiver<bool>,
    recovery: &mut Recovery,
) -> anyhow::Result<()> {
    let Some(lease) = crate::lease::acquire(shared, partition, shutdown).await? else {
        return Ok(()); // shut down while waiting for the lease
    };
    let result = run_leased(shared, partition, shutdown, recovery, &lease).await;
    lease.release(shared, result.is_ok()).await;
    result
}

async fn run_leased(
    shared: &Arc<Shared>,
    partition: u32,
    shutdown: &mut watch::Receiver<bool>,
    recovery: &mut Recovery,
    lease: &crate::lease::Lease,
) -> anyhow::Result<()> {
    let mut state = load_state(shared, partition).await?;
    if state.last_seq != recovery.position {
        *recovery = Recovery {
            position: state.last_seq,
            ..Recovery::default()
        };
    }
    let attempts = shared.poison_attempts.max(1);
    let poison = (recovery.failures >= attempts * 2).then(|| {
        (
            state.last_seq + 1,
            format!(
                "processing failed {} times at this message: {}",
                recovery.failures, recovery.last_error
            ),
        )
    });
    let per_batch = if recovery.failures >= attempts {
        1
    } else {
        shared.tick_messages
    };
    let consumer = create_consumer(&shared.js, partition, state.last_seq + 1).await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(shared.tick_messages.max(64))
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await?;
    shared.metrics.set_ready(partition, true);
    // Recovery: anything a crash left unpublished comes out now (deduplicated by id).
    state = step(shared, partition, state, Batch::empty(), false).await?;
    // After a restart the end-of-input flush may still be owed: arm it whenever there is
    // state (a repeated flush publishes nothing new: ids are de-duplicated).
    let mut flushed = state.tenants.is_empty();
    let mut last_message = Instant::now();
    let mut poison = poison;
    loop {
        if lease.lost() {
            anyhow::bail!("partition {partition}: lease lost to another worker");
        }
        if *shutdown.borrow() {
            step(shared, partition, state, Batch::empty(), true).await?;
            return Ok(());
        }
        let idle_deadline = shared
            .idle_flush
            .filter(|_| !flushed)
            .map(|d| last_message + d);
        let first = tokio::select! {
            next = messages.next() => next,
            _ = shutdown.changed() => continue,
            _ = lease.lost_wait() => continue,
            _ = sleep_until(idle_deadline) => {
                state = step(shared, partition, state, Batch::empty(), true).await?;
                flushed = true;
                continue;
            }
        };
        let first = match first {
            Some(m) => m.map_err(|e| anyhow::anyhow!("consumer: {e}"))?,
            None => anyhow::bail!("consumer stream ended"),
        };
        let mut batch = Batch {
            messages: vec![first],
            poison: poison.take(),
        };
        let deadline = tokio::time::Instant::now() + shared.tick;
        while batch.messages.len() < per_batch {
            match tokio::time::timeout_at(deadline, messages.next()).await {
                Ok(Some(m)) => batch
                    .messages
                    .push(m.map_err(|e| anyhow::anyhow!("consumer: {e}"))?),
                Ok(None) => anyhow::bail!("consumer stream ended"),
                Err(_) => break,
            }
        }
        state = step(shared, partition, state, batch, false).await?;
        if state.last_seq != recovery.position {
            *recovery = Recovery {
                position: state.last_seq,
                ..Recovery::default()
            };
        }
        flushed = false;
        last_message = Instant::now();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

async fn load_state(shared: &Arc<Shared>, partition: u32) -> anyhow::Result<PartitionState> {
    let store = Arc::clone(&shared.store);
    let processor = Arc::clone(&shared.processor);
    tokio::task::spawn_blocking(move || -> anyhow::Result<PartitionState> {
        match store.load(partition)? {
            Loaded::Rows(rows) => Ok(PartitionState::restore(rows, &processor)),
            Loaded::Legacy(bytes) => {
                PartitionState::from_legacy_bytes(&bytes, &processor).map_err(|e| {
                    anyhow::anyhow!("partition {partition}: stored state unreadable: {e}")
                })
            }
            Loaded::Empty => Ok(PartitionState::default()),
        }
    })
    .await?
}

/// (Re)create the partition's durable pull consumer at `start` (our committed position:
/// the store, not the consumer, is the source of truth for where we are).
async fn create_consumer(
    js: &jetstream::Context,
    partition: u32,
    start: u64,
) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
    let stream = js.get_stream(EVENTS_STREAM).await?;
    let name = consumer_name(partition);
    let _ = stream.delete_consumer(&name).await;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name),
            filter_subject: format!("trustpath.part.{partition}.>"),
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start.max(1),
            },
            ack_policy: jetstream::consumer::AckPolicy::All,
            ack_wait: Duration::from_secs(60),
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await?;
    Ok(consumer)
}

/// One batch: process, publish, commit, ack.
async fn step(
    shared: &Arc<Shared>,
    partition: u32,
    state: PartitionState,
    batch: Batch,
    flush: bool,
) -> anyhow::Result<PartitionState> {
    let processor = Arc::clone(&shared.processor);
    let (state, batch, publications, reports, lag) =
        tokio::task::spawn_blocking(move || process(&processor, partition, state, batch, flush))
            .await?;
    publish_all(shared, &publications).await?;
    let (mut state, commit_stats, commit_time) = commit(shared, partition, state).await?;
    if let Some(last) = batch.messages.last() {
        last.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
    }
    record_metrics(
        shared,
        partition,
        &state,
        &reports,
        batch.messages.len(),
        lag,
        (commit_stats, commit_time),
    );
    // Only the tenants correlated in this batch have new current findings.
    let correlated = std::mem::take(&mut state.correlated);
    let current = correlated
        .into_iter()
        .filter_map(|t| {
            let list = state.tenants.get(&t)?.current.clone();
            Some((t, list))
        })
        .collect();
    shared.metrics.set_findings(current);
    Ok(state)
}

type Processed = (
    PartitionState,
    Batch,
    Vec<Publication>,
    Vec<(String, IngestReport)>,
    Option<u64>,
);

fn process(
    processor: &Processor,
    partition: u32,
    mut state: PartitionState,
    batch: Batch,
    flush: bool,
) -> Processed {
    let mut publications = Vec::new();
    let mut reports = Vec::new();
    let mut lag = None;
    for message in &batch.messages {
        let Ok(info) = message.info() else {
            continue;
        };
        let seq = info.stream_sequence;
        lag = Some(info.pending);
        if seq <= state.last_seq {
            continue; // already folded into the committed state
        }
        let subject = message.subject.as_str();
        let (tenant, source) = subject_tokens(subject, partition);
        if let Some((poison_seq, why)) = &batch.poison
            && *poison_seq == seq
        {
            let inbound = Inbound {
                tenant,
                source,
                seq,
                payload: &message.payload,
                received: None,
            };
            let error = trustpath_event::RecordError::new(
                trustpath_event::Origin::file(inbound.origin_name()),
                trustpath_event::ErrorKind::Malformed,
                why.clone(),
            );
            publications.push(processor.dead_letter(&inbound, &[error], 1, &[], 0, true));
            reports.push((
                source.to_owned(),
                IngestReport {
                    poison: 1,
                    ..IngestReport::default()
                },
            ));
            state.last_seq = seq;
            continue;
        }
        let published = info.published.unix_timestamp_nanos();
        let inbound = Inbound {
            tenant,
            source,
            seq,
            payload: &message.payload,
            received: i64::try_from(published)
                .ok()
                .and_then(|n| jiff::Timestamp::from_nanosecond(i128::from(n)).ok()),
        };
        let report = processor.ingest(&mut state, inbound, &mut publications);
        reports.push((source.to_owned(), report));
        state.last_seq = seq;
    }
    processor.tick(&mut state, flush, &mut publications);
    (state, batch, publications, reports, lag)
}

/// `trustpath.part.<P>.<tenant>.<source>` → (tenant, source).
fn subject_tokens(subject: &str, partition: u32) -> (&str, &str) {
    let rest = subject
        .strip_prefix("trustpath.part.")
        .and_then(|r| r.strip_prefix(&*partition.to_string()))
        .and_then(|r| r.strip_prefix('.'))
        .unwrap_or(subject);
    match rest.split_once('.') {
        Some((tenant, source)) => (tenant, source),
        None => (rest, "unknown"),
    }
}

async fn publish_all(shared: &Arc<Shared>, publications: &[Publication]) -> anyhow::Result<()> {
    let mut acks = Vec::with_capacity(publications.len());
    for p in publications {
        let publish = jetstream::message::PublishMessage::build()
            .payload(p.body.clone().into())
            .message_id(&p.msg_id);
        let ack = shared
            .js
            .send_publish(p.subject.clone(), publish)
            .await
            .map_err(|e| anyhow::anyhow!("publish {}: {e}", p.subject))?;
        acks.push(ack);
    }
    for (p, ack) in publications.iter().zip(acks) {
        let ack = ack
            .await
            .map_err(|e| anyhow::anyhow!("publish {} (id {}): {e}", p.subject, p.msg_id))?;
        let m = &shared.metrics;
        if ack.duplicate {
            m.duplicates_suppressed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        match p.kind {
            PublicationKind::Finding => m.findings_published.fetch_add(1, Ordering::Relaxed),
            PublicationKind::Update => m.finding_updates.fetch_add(1, Ordering::Relaxed),
            PublicationKind::DeadLetter => m.dead_letters.fetch_add(1, Ordering::Relaxed),
            PublicationKind::Late => 0,
        };
        if matches!(p.kind, PublicationKind::Finding | PublicationKind::Update) {
            append_jsonl(shared, p);
        }
    }
    Ok(())
}

fn append_jsonl(shared: &Shared, p: &Publication) {
    let Some(file) = &shared.findings_jsonl else {
        return;
    };
    let mut file = file
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let written = file.write_all(&p.body).and_then(|()| file.write_all(b"\n"));
    if let Err(e) = written {
        tracing::warn!("findings file: {e}");
    }
}

async fn commit(
    shared: &Arc<Shared>,
    partition: u32,
    mut state: PartitionState,
) -> anyhow::Result<(PartitionState, CommitStats, Duration)> {
    let store = Arc::clone(&shared.store);
    tokio::task::spawn_blocking(
        move || -> anyhow::Result<(PartitionState, CommitStats, Duration)> {
            let started = Instant::now();
            let stats = store.commit(partition, &mut state)?;
            Ok((state, stats, started.elapsed()))
        },
    )
    .await?
}

fn record_metrics(
    shared: &Shared,
    partition: u32,
    state: &PartitionState,
    reports: &[(String, IngestReport)],
    messages: usize,
    lag: Option<u64>,
    (commit, commit_time): (CommitStats, Duration),
) {
    let m = &shared.metrics;
    m.messages_in.fetch_add(messages as u64, Ordering::Relaxed);
    for (source, r) in reports {
        m.add_events(source, r.events);
        m.malformed_records
            .fetch_add(r.malformed, Ordering::Relaxed);
        m.late_events.fetch_add(r.late, Ordering::Relaxed);
        m.future_events.fetch_add(r.future, Ordering::Relaxed);
        m.poison_messages.fetch_add(r.poison, Ordering::Relaxed);
        m.script_blocks_reassembled
            .fetch_add(r.script_blocks.script_blocks_reassembled, Ordering::Relaxed);
        m.script_blocks_evicted
            .fetch_add(r.script_blocks.script_blocks_evicted, Ordering::Relaxed);
    }
    m.record_commit(commit_time);
    m.commit_bytes_total
        .fetch_add(commit.bytes_written, Ordering::Relaxed);
    let previous_lag = m
        .partitions
        .lock()
        .ok()
        .and_then(|p| p.get(&partition).map(|g| g.lag))
        .unwrap_or(0);
    m.set_partition(
        partition,
        PartitionGauges {
            lag: lag.unwrap_or(if messages == 0 { previous_lag } else { 0 }),
            retained_events: state.retained_events() as u64,
            state_bytes: commit.stored_bytes,
            commit_bytes: commit.bytes_written,
            pending_script_block_bytes: state.pending_script_block_bytes() as u64,
            last_seq: state.last_seq,
        },
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn subject_tokens_split_tenant_and_source() {
        assert_eq!(subject_tokens("trustpath.part.3.t1.ual", 3), ("t1", "ual"));
        assert_eq!(
            subject_tokens("trustpath.part.12.t1.ual.x", 12),
            ("t1", "ual.x")
        );
    }
}
