//! Service counters and gauges, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use trustpath_report::Finding;

/// Per-partition gauges.
#[derive(Debug, Default, Clone, Copy)]
pub struct PartitionGauges {
    /// Messages the consumer still has to deliver (JetStream `pending`).
    pub lag: u64,
    /// Matched events retained in correlation state.
    pub retained_events: u64,
    /// Value bytes the store holds for the partition.
    pub state_bytes: u64,
    /// Value bytes written by the partition's last commit (what it changed).
    pub commit_bytes: u64,
    /// Bytes of 4104 script-block parts waiting for their other parts.
    pub pending_script_block_bytes: u64,
    /// Last stream sequence committed.
    pub last_seq: u64,
}

/// Everything `/metrics`, `/readyz` and `/v1/findings` show.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Messages consumed.
    pub messages_in: AtomicU64,
    /// Events accepted, by subject source token.
    pub events_in: Mutex<BTreeMap<String, u64>>,
    /// Records that could not be read or normalized.
    pub malformed_records: AtomicU64,
    /// Messages sent to the dead-letter subject.
    pub dead_letters: AtomicU64,
    /// Events that arrived behind the watermark.
    pub late_events: AtomicU64,
    /// Events dated beyond the allowed future skew (refused).
    pub future_events: AtomicU64,
    /// Messages dead-lettered after failing `poison_attempts` times.
    pub poison_messages: AtomicU64,
    /// New findings published (not counting server-side duplicates).
    pub findings_published: AtomicU64,
    /// Finding updates (changed or folded) published.
    pub finding_updates: AtomicU64,
    /// Publications the server reported as duplicates (replays after a crash).
    pub duplicates_suppressed: AtomicU64,
    /// Partition loops restarted after an error (NATS outage, store error).
    pub partition_restarts: AtomicU64,
    /// 4104 script blocks joined from parts (parts may come in separate messages).
    pub script_blocks_reassembled: AtomicU64,
    /// 4104 script blocks emitted incomplete because the pending bytes bound was reached.
    pub script_blocks_evicted: AtomicU64,
    /// Commits (state + stream position), by duration bucket ([`COMMIT_BUCKETS_MICROS`]).
    pub commit_buckets: [AtomicU64; COMMIT_BUCKETS_MICROS.len() + 1],
    /// Total commit time, microseconds.
    pub commit_micros_total: AtomicU64,
    /// Value bytes written by all commits.
    pub commit_bytes_total: AtomicU64,
    /// Gauges by partition.
    pub partitions: Mutex<BTreeMap<u32, PartitionGauges>>,
    /// Partitions whose consumer is running.
    pub ready_partitions: Mutex<BTreeMap<u32, bool>>,
    /// Connected to NATS.
    pub connected: AtomicBool,
    /// Current (published, not folded) findings by tenant.
    pub findings: Mutex<BTreeMap<String, Vec<Finding>>>,
}

/// Upper bounds (µs) of the commit-duration histogram buckets; one more bucket is +Inf.
pub const COMMIT_BUCKETS_MICROS: [u64; 12] = [
    250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 1_000_000,
];

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Add accepted events of one source.
    pub fn add_events(&self, source: &str, n: u64) {
        *lock(&self.events_in).entry(source.to_owned()).or_default() += n;
    }

    /// Count one commit of `took`.
    pub fn record_commit(&self, took: std::time::Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = COMMIT_BUCKETS_MICROS
            .iter()
            .position(|&b| micros <= b)
            .unwrap_or(COMMIT_BUCKETS_MICROS.len());
        if let Some(b) = self.commit_buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.commit_micros_total
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Commits counted so far and the upper bound (µs) of the bucket holding quantile
    /// `q` of their durations (`u64::MAX` in the +Inf bucket).
    pub fn commit_quantile(&self, q: f64) -> (u64, u64) {
        let counts: Vec<u64> = self
            .commit_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return (
                    total,
                    COMMIT_BUCKETS_MICROS.get(i).copied().unwrap_or(u64::MAX),
                );
            }
        }
        (total, 0)
    }

    /// Replace a partition's gauges.
    pub fn set_partition(&self, partition: u32, gauges: PartitionGauges) {
        lock(&self.partitions).insert(partition, gauges);
    }

    /// Mark a partition's consumer up or down.
    pub fn set_ready(&self, partition: u32, ready: bool) {
        lock(&self.ready_partitions).insert(partition, ready);
    }

    /// Connected and every owned partition consuming.
    pub fn is_ready(&self) -> bool {
        let ready = lock(&self.ready_partitions);
        self.connected.load(Ordering::Relaxed) && !ready.is_empty() && ready.values().all(|r| *r)
    }

    /// Replace the current findings of some tenants.
    pub fn set_findings(&self, current: Vec<(String, Vec<Finding>)>) {
        let mut findings = lock(&self.findings);
        for (tenant, list) in current {
            findings.insert(tenant, list);
        }
    }

    /// Current findings, newest first, filtered.
    pub fn query_findings(
        &self,
        tenant: Option<&str>,
        since: Option<jiff::Timestamp>,
        limit: usize,
    ) -> Vec<Finding> {
        let findings = lock(&self.findings);
        let mut out: Vec<Finding> = findings
            .iter()
            .filter(|(t, _)| tenant.is_none_or(|want| want == t.as_str()))
            .flat_map(|(_, list)| list.iter())
            .filter(|f| since.is_none_or(|s| f.window.start >= s))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.window.start.cmp(&a.window.start).then(a.id.cmp(&b.id)));
        out.truncate(limit);
        out
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "trustpath_messages_in_total",
            "Messages consumed.",
            load(&self.messages_in),
        );
        let _ = writeln!(
            out,
            "# HELP trustpath_events_in_total Events accepted, by source.\n# TYPE trustpath_events_in_total counter"
        );
        for (source, n) in lock(&self.events_in).iter() {
            let _ = writeln!(
                out,
                "trustpath_events_in_total{{source=\"{}\"}} {n}",
                escape(source)
            );
        }
        counter(
            &mut out,
            "trustpath_malformed_records_total",
            "Records that could not be read or normalized.",
            load(&self.malformed_records),
        );
        counter(
            &mut out,
            "trustpath_dead_letters_total",
            "Messages published to the dead-letter subject.",
            load(&self.dead_letters),
        );
        counter(
            &mut out,
            "trustpath_late_events_total",
            "Events that arrived behind the watermark.",
            load(&self.late_events),
        );
        counter(
            &mut out,
            "trustpath_future_events_total",
            "Events dated beyond max_future_skew after their arrival (refused, dead-lettered).",
            load(&self.future_events),
        );
        counter(
            &mut out,
            "trustpath_poison_messages_total",
            "Messages whose processing failed poison_attempts times (dead-lettered, skipped).",
            load(&self.poison_messages),
        );
        counter(
            &mut out,
            "trustpath_findings_published_total",
            "New findings published.",
            load(&self.findings_published),
        );
        counter(
            &mut out,
            "trustpath_finding_updates_total",
            "Finding updates (changed, folded) published.",
            load(&self.finding_updates),
        );
        counter(
            &mut out,
            "trustpath_duplicates_suppressed_total",
            "Publications the server de-duplicated.",
            load(&self.duplicates_suppressed),
        );
        counter(
            &mut out,
            "trustpath_partition_restarts_total",
            "Partition loops restarted after an error.",
            load(&self.partition_restarts),
        );
        counter(
            &mut out,
            "trustpath_script_blocks_reassembled_total",
            "4104 script blocks joined from their parts (across messages too).",
            load(&self.script_blocks_reassembled),
        );
        counter(
            &mut out,
            "trustpath_script_blocks_evicted_total",
            "4104 script blocks emitted incomplete at the pending-bytes bound.",
            load(&self.script_blocks_evicted),
        );
        let _ = writeln!(
            out,
            "# HELP trustpath_commit_seconds Duration of a state commit (changed rows + stream position).
# TYPE trustpath_commit_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, bucket) in self.commit_buckets.iter().enumerate() {
            cumulative += load(bucket);
            let le = COMMIT_BUCKETS_MICROS
                .get(i)
                .map_or("+Inf".to_owned(), |b| format!("{}", *b as f64 / 1e6));
            let _ = writeln!(
                out,
                "trustpath_commit_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "trustpath_commit_seconds_sum {}\ntrustpath_commit_seconds_count {cumulative}",
            load(&self.commit_micros_total) as f64 / 1e6
        );
        counter(
            &mut out,
            "trustpath_commit_bytes_total",
            "Value bytes written by state commits (what batches changed).",
            load(&self.commit_bytes_total),
        );
        let gauges: [GaugeSpec; 6] = [
            (
                "trustpath_consumer_lag",
                "Messages not yet delivered to the partition consumer.",
                |g| g.lag,
            ),
            (
                "trustpath_state_retained_events",
                "Matched events held in correlation state.",
                |g| g.retained_events,
            ),
            (
                "trustpath_state_bytes",
                "Value bytes the store holds for the partition.",
                |g| g.state_bytes,
            ),
            (
                "trustpath_commit_bytes",
                "Value bytes written by the partition's last commit.",
                |g| g.commit_bytes,
            ),
            (
                "trustpath_pending_script_block_bytes",
                "Bytes of 4104 parts waiting for their other parts.",
                |g| g.pending_script_block_bytes,
            ),
            (
                "trustpath_stream_sequence",
                "Last stream sequence committed.",
                |g| g.last_seq,
            ),
        ];
        let partitions = lock(&self.partitions);
        for (name, help, get) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (p, g) in partitions.iter() {
                let _ = writeln!(out, "{name}{{partition=\"{p}\"}} {}", get(g));
            }
        }
        let _ = writeln!(
            out,
            "# HELP trustpath_ready Whether every owned partition is consuming.\n# TYPE trustpath_ready gauge\ntrustpath_ready {}",
            u8::from(self.is_ready())
        );
        out
    }
}

/// A gauge: name, help, how to read it from a partition's gauges.
type GaugeSpec = (&'static str, &'static str, fn(&PartitionGauges) -> u64);

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_per_source_and_partition() {
        let m = Metrics::default();
        m.add_events("ual", 3);
        m.add_events("ual", 2);
        m.late_events.fetch_add(1, Ordering::Relaxed);
        m.set_partition(
            2,
            PartitionGauges {
                lag: 7,
                ..Default::default()
            },
        );
        let text = m.render();
        assert!(
            text.contains("trustpath_events_in_total{source=\"ual\"} 5"),
            "{text}"
        );
        assert!(text.contains("trustpath_late_events_total 1"), "{text}");
        assert!(
            text.contains("trustpath_consumer_lag{partition=\"2\"} 7"),
            "{text}"
        );
        assert!(text.contains("trustpath_ready 0"), "{text}");
    }
}
