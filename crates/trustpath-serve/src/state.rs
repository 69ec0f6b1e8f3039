//! Per-partition correlation state and the two steps that change it: [`Processor::ingest`]
//! (one message: read → normalize → late check → baseline → per-event match) and
//! [`Processor::tick`] (batch correlation over the retained matches, exactly as
//! `trustpath hunt` does, and the findings that became final).
//!
//! Everything here is synchronous and deterministic: the same messages in the same stream
//! order give the same state and the same publications, which is what makes a replay after
//! a crash safe.
//!
//! Every change is also noted in the tenant's [`TenantChanges`] (and, for 4104 parts, in
//! the subject's [`SubjectNormalizer`]): the store writes only those rows
//! ([`crate::store::Store::commit`]), so a commit costs what the batch changed, not what
//! the partition retains.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use trustpath_analytics::{Baseline, Detector, Matched};
use trustpath_event::{Event, RecordError};
use trustpath_normalize::{
    NormalizeOptions, NormalizeStats, Normalizer, TenantCensus, names_tenant,
};
use trustpath_read::ReadOptions;
use trustpath_report::Finding;

/// What the service remembers about one finding it published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedFinding {
    /// The finding's anchor time (`window.start`).
    pub start: Timestamp,
    /// Hash of the content last published for it.
    pub hash: String,
    /// Whether the latest correlation run folded it into another finding.
    pub folded: bool,
    /// A stateless user rule's finding: published when its event arrived, never
    /// re-correlated (its event is not retained).
    #[serde(default)]
    pub stateless: bool,
}

/// The small per-tenant values stored in one row (`tenants` table).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantMeta {
    /// Largest event time seen.
    pub max_time: Option<Timestamp>,
    /// Matched events before this time were evicted.
    pub evicted_before: Option<Timestamp>,
    /// Census witnesses stored (rows `0..witnesses` of the `census` table).
    pub witnesses: u64,
}

/// What changed in a tenant since the last commit: the rows the store writes.
#[derive(Debug, Default)]
pub struct TenantChanges {
    /// The [`TenantMeta`] row changed.
    pub meta: bool,
    /// Matched events newly retained.
    pub added: Vec<Arc<Event>>,
    /// Record digests of retained events evicted.
    pub removed: Vec<u128>,
    /// Actors whose first-seen time changed.
    pub first_seen: BTreeSet<String>,
    /// Finding ids whose published entry changed (written, or deleted when gone).
    pub published: BTreeSet<String>,
    /// Census witnesses added (stored at `meta.witnesses - len ..`).
    pub witnesses: Vec<Arc<Event>>,
}

impl TenantChanges {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        !self.meta
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.first_seen.is_empty()
            && self.published.is_empty()
            && self.witnesses.is_empty()
    }
}

/// One tenant's correlation state inside a partition.
#[derive(Debug, Default)]
pub struct TenantState {
    /// Matched events still inside the retention horizon, in arrival order.
    pub matched: Vec<Matched>,
    /// First-seen time of every actor (the hunt's baseline).
    pub first_seen: BTreeMap<String, Timestamp>,
    /// Largest event time, eviction point and census witness count.
    pub meta: TenantMeta,
    /// Findings published, by id.
    pub published: BTreeMap<String, PublishedFinding>,
    /// Latest correlation result, published findings only (for `/v1/findings`).
    pub current: Vec<Finding>,
    /// Something correlation depends on changed since the last tick (a new matched
    /// event, a first-seen time); other events only move the watermark.
    pub dirty: bool,
    /// Earliest start of a finding the last correlation found but could not publish yet
    /// (not final): correlation is due again once the watermark passes it.
    pub unpublished_from: Option<Timestamp>,
    /// Earliest event time in `matched` (eviction is due once the cutoff passes it).
    pub oldest: Option<Timestamp>,
    /// How many of `matched` name no tenant (host events waiting for the subject's
    /// census); with none, correlation reads the retained matches without copying them.
    pub untenanted: usize,
    /// Record identities ([`trustpath_event::record_digest`]) of `matched`: a record
    /// delivered again (a re-sent batch, overlapping exports) is used once, as in a hunt.
    pub seen: std::collections::HashSet<u128>,
    /// Tenants named by the records of this subject token (the hunt's "folder"): records
    /// naming no tenant are attributed from it, as `hunt` does. Persisted as the events
    /// that changed it (witnesses), replayed into it on restore.
    pub census: TenantCensus,
    /// What the next commit writes.
    pub changes: TenantChanges,
}

impl TenantState {
    /// Largest event time seen.
    pub fn max_time(&self) -> Option<Timestamp> {
        self.meta.max_time
    }

    /// Learn the census from one message's events; the events that taught it something
    /// new become witnesses (stored, replayed on restore).
    fn observe_census(&mut self, events: &[Event]) {
        let before = self.census.clone();
        events.iter().for_each(|e| self.census.observe(e));
        if self.census == before {
            return;
        }
        let mut replay = before;
        for event in events {
            let previous = replay.clone();
            replay.observe(event);
            if replay != previous {
                self.changes.witnesses.push(Arc::new(event.clone()));
                self.meta.witnesses += 1;
                self.changes.meta = true;
            }
        }
    }
}

/// The 4104 reassembly state of one subject (`<tenant>.<source>`), kept across messages
/// so script-block parts published in separate messages are joined; its pending parts
/// are stored (`pending` table) whenever they change.
pub struct SubjectNormalizer {
    /// The normalizer.
    pub normalizer: Normalizer,
    /// Its pending parts changed since the last commit.
    pub changed: bool,
}

impl std::fmt::Debug for SubjectNormalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectNormalizer")
            .field("pending_bytes", &self.normalizer.pending_bytes())
            .field("changed", &self.changed)
            .finish()
    }
}

impl SubjectNormalizer {
    fn new(options: NormalizeOptions) -> Self {
        SubjectNormalizer {
            normalizer: Normalizer::new(options),
            changed: false,
        }
    }

    /// What tells whether the pending parts changed: their bytes and the counters (a
    /// block completed or evicted changes a counter, a part added changes the bytes).
    fn fingerprint(&self) -> (usize, NormalizeStats) {
        (self.normalizer.pending_bytes(), *self.normalizer.stats())
    }

    /// The pending parts, oldest block first (left in place).
    pub fn pending_parts(&mut self) -> Vec<Event> {
        let parts = self.normalizer.take_pending();
        let mut ignored = Vec::new();
        for part in &parts {
            self.normalizer.push_event(part.clone(), &mut ignored);
        }
        parts
    }
}

/// A partition's whole state: what is committed to the store with the stream position.
#[derive(Debug, Default)]
pub struct PartitionState {
    /// Stream sequence of the last message folded into this state.
    pub last_seq: u64,
    /// Tenants by id.
    pub tenants: BTreeMap<String, TenantState>,
    /// 4104 reassembly per subject: (tenant token, source token).
    pub normalizers: BTreeMap<(String, String), SubjectNormalizer>,
    /// Tenants correlated since the last time the worker read `current` (metrics).
    pub correlated: BTreeSet<String>,
    /// Loaded from the old one-document format: the commit deletes that row.
    pub legacy: bool,
    /// Value bytes the store holds for this partition (kept up to date by commits).
    pub stored_bytes: u64,
}

/// A partition as read from the store, decoded, before rules are applied.
#[derive(Debug, Default)]
pub struct StoredPartition {
    /// Stream position.
    pub last_seq: u64,
    /// Value bytes stored.
    pub stored_bytes: u64,
    /// Tenants.
    pub tenants: BTreeMap<String, StoredTenant>,
    /// Pending 4104 parts per (tenant, source).
    pub pending: BTreeMap<(String, String), Vec<Event>>,
}

/// One tenant as read from the store.
#[derive(Debug, Default)]
pub struct StoredTenant {
    /// The meta row.
    pub meta: TenantMeta,
    /// Retained matched events.
    pub events: Vec<Event>,
    /// First-seen times.
    pub first_seen: BTreeMap<String, Timestamp>,
    /// Published findings.
    pub published: BTreeMap<String, PublishedFinding>,
    /// Census witnesses, in order.
    pub witnesses: Vec<Event>,
}

/// The old persisted form of a [`TenantState`] (one JSON document per partition),
/// read once to migrate a store written by an earlier version.
#[derive(Debug, Deserialize)]
struct LegacyTenant {
    retained: Vec<Event>,
    first_seen: BTreeMap<String, Timestamp>,
    max_time: Option<Timestamp>,
    evicted_before: Option<Timestamp>,
    published: BTreeMap<String, PublishedFinding>,
}

#[derive(Debug, Deserialize)]
struct LegacyPartition {
    last_seq: u64,
    tenants: BTreeMap<String, LegacyTenant>,
}

impl PartitionState {
    /// Rebuild from the store: rule matches are recomputed (deterministic), the census
    /// replayed from its witnesses, pending 4104 parts fed to fresh normalizers; every
    /// tenant is marked dirty so the first tick re-publishes anything a crash left
    /// unpublished.
    pub fn restore(stored: StoredPartition, processor: &Processor) -> Self {
        let mut tenants = BTreeMap::new();
        for (id, t) in stored.tenants {
            let setup = processor.setup(&id);
            let mut census = TenantCensus::default();
            t.witnesses.iter().for_each(|e| census.observe(e));
            let matched: Vec<Matched> = t
                .events
                .into_iter()
                .filter_map(|e| setup.detector.match_shared(Arc::new(e)))
                .collect();
            let seen = matched
                .iter()
                .map(|m| trustpath_event::record_digest(&m.event))
                .collect();
            let state = TenantState {
                census,
                matched,
                seen,
                first_seen: t.first_seen,
                meta: t.meta,
                published: t.published,
                current: Vec::new(),
                dirty: true,
                unpublished_from: None,
                oldest: None,
                untenanted: 0,
                changes: TenantChanges::default(),
            };
            let mut state = state;
            state.oldest = state.matched.iter().map(|m| m.event.time).min();
            state.untenanted = untenanted(&state.matched);
            tenants.insert(id, state);
        }
        let mut normalizers = BTreeMap::new();
        for ((tenant, source), parts) in stored.pending {
            let mut subject = SubjectNormalizer::new(processor.normalize_options(&tenant));
            let mut ignored = Vec::new();
            for part in parts {
                subject.normalizer.push_event(part, &mut ignored);
            }
            normalizers.insert((tenant, source), subject);
        }
        PartitionState {
            last_seq: stored.last_seq,
            tenants,
            normalizers,
            correlated: BTreeSet::new(),
            legacy: false,
            stored_bytes: stored.stored_bytes,
        }
    }

    /// Read a partition stored in the old one-document format; everything is marked
    /// changed so the next commit writes it in the per-row layout (and drops the old row).
    pub fn from_legacy_bytes(
        bytes: &[u8],
        processor: &Processor,
    ) -> Result<Self, serde_json::Error> {
        let legacy: LegacyPartition = serde_json::from_slice(bytes)?;
        let mut state = PartitionState {
            last_seq: legacy.last_seq,
            legacy: true,
            ..PartitionState::default()
        };
        for (id, t) in legacy.tenants {
            let setup = processor.setup(&id);
            let mut tenant = TenantState {
                first_seen: t.first_seen,
                meta: TenantMeta {
                    max_time: t.max_time,
                    evicted_before: t.evicted_before,
                    witnesses: 0,
                },
                published: t.published,
                dirty: true,
                ..TenantState::default()
            };
            tenant.observe_census(&t.retained);
            for event in t.retained {
                let event = Arc::new(event);
                if let Some(m) = setup.detector.match_shared(Arc::clone(&event))
                    && tenant.seen.insert(trustpath_event::record_digest(&m.event))
                {
                    tenant.oldest =
                        Some(tenant.oldest.map_or(m.event.time, |o| o.min(m.event.time)));
                    tenant.changes.added.push(event);
                    tenant.matched.push(m);
                }
            }
            tenant.oldest = tenant.matched.iter().map(|m| m.event.time).min();
            tenant.untenanted = untenanted(&tenant.matched);
            tenant.changes.meta = true;
            tenant.changes.first_seen = tenant.first_seen.keys().cloned().collect();
            tenant.changes.published = tenant.published.keys().cloned().collect();
            state.tenants.insert(id, tenant);
        }
        Ok(state)
    }

    /// Matched events retained over all tenants (the state-size metric).
    pub fn retained_events(&self) -> usize {
        self.tenants.values().map(|t| t.matched.len()).sum()
    }

    /// Bytes of 4104 parts waiting for their other parts, over all subjects.
    pub fn pending_script_block_bytes(&self) -> usize {
        self.normalizers
            .values()
            .map(|n| n.normalizer.pending_bytes())
            .sum()
    }
}

/// One inbound message.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// Tenant token of the subject.
    pub tenant: &'a str,
    /// Source token of the subject.
    pub source: &'a str,
    /// JetStream stream sequence.
    pub seq: u64,
    /// The payload: one record or a batch, in any format the readers accept.
    pub payload: &'a [u8],
    /// When JetStream stored the message (the reference for future-dated events).
    pub received: Option<Timestamp>,
}

impl Inbound<'_> {
    /// The name events of this message carry as [`trustpath_event::Origin::file`].
    pub fn origin_name(&self) -> String {
        format!(
            "trustpath.events.{}.{}@{}",
            self.tenant, self.source, self.seq
        )
    }
}

/// What kind of message a [`Publication`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationKind {
    /// A new finding (`trustpath.findings.<tenant>`).
    Finding,
    /// A change to a published finding (`trustpath.findings.<tenant>.updates`).
    Update,
    /// A late event (`trustpath.late.<tenant>`).
    Late,
    /// A malformed payload or record (`trustpath.deadletter.<tenant>`).
    DeadLetter,
}

/// A message to publish on JetStream with a de-duplication id.
#[derive(Debug, Clone)]
pub struct Publication {
    /// What it is.
    pub kind: PublicationKind,
    /// Tenant it belongs to.
    pub tenant: String,
    /// Subject.
    pub subject: String,
    /// `Nats-Msg-Id`.
    pub msg_id: String,
    /// JSON body.
    pub body: Vec<u8>,
}

/// What ingesting one message did, for metrics.
#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    /// Events accepted into state.
    pub events: u64,
    /// Records that could not be read or normalized.
    pub malformed: u64,
    /// Events that arrived behind the watermark.
    pub late: u64,
    /// Matched events accepted.
    pub matched: u64,
    /// Events dated beyond the allowed future skew (refused, dead-lettered).
    pub future: u64,
    /// The message was dead-lettered after failing repeatedly.
    pub poison: u64,
    /// Matched events whose record was already retained (same identity), used once.
    pub duplicates: u64,
    /// Cloud records naming no tenant that the subject's records could not attribute
    /// (kept out of every tenant's findings).
    pub unattributed: u64,
    /// 4104 script-block counters of this message (reassembled, evicted, …).
    pub script_blocks: NormalizeStats,
}

/// How one tenant is detected: its detector (its context's tuning), lateness and
/// normalizer options (its context's `[host_timezones]`, the configured time field).
pub struct TenantSetup {
    /// The compiled rules and analytics.
    pub detector: Arc<Detector>,
    /// Allowed lateness.
    pub lateness: SignedDuration,
    /// Normalizer options (time field, host time zones, pending 4104 bounds).
    pub normalize: NormalizeOptions,
}

impl TenantSetup {
    /// The defaults: `detector`, `lateness`, default normalizer options.
    pub fn new(detector: Arc<Detector>, lateness: SignedDuration) -> Self {
        TenantSetup {
            detector,
            lateness,
            normalize: NormalizeOptions::default(),
        }
    }
}

/// Correlation settings plus the detectors, shared by every partition.
pub struct Processor {
    /// What tenants without a `[tenants."<id>"]` entry use.
    pub default: TenantSetup,
    /// Tenants with their own context, by subject tenant token.
    pub tenants: BTreeMap<String, TenantSetup>,
    /// Longest analytic window (finality and retention).
    pub max_window: SignedDuration,
    /// Events dated more than this after their arrival are refused.
    pub max_future_skew: SignedDuration,
    /// Largest body published; larger ones are trimmed with counts.
    pub max_publish_bytes: usize,
}

/// Errors kept (with their reasons) per message; more are only counted.
pub const MAX_KEPT_ERRORS: usize = 100;
/// Late or refused events listed per message; more are only counted.
const MAX_LISTED_EVENTS: usize = 100;

/// Late and refused events of one message (or one flush), listed up to a cap, and the
/// findings of stateless user rules it produced.
#[derive(Default)]
struct Rejected {
    late: Vec<Value>,
    future: Vec<Value>,
    stateless: Vec<Finding>,
}

impl Processor {
    /// The setup of `tenant` (its own, else the default).
    pub fn setup(&self, tenant: &str) -> &TenantSetup {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }

    /// The normalizer options of `tenant`.
    pub fn normalize_options(&self, tenant: &str) -> NormalizeOptions {
        self.setup(tenant).normalize.clone()
    }

    /// Fold one message into `state`; late events, future-dated events and malformed
    /// input become publications. Records are processed as they are read: memory per
    /// message is bounded by what state keeps plus [`MAX_KEPT_ERRORS`] error reasons.
    /// 4104 parts wait in the subject's normalizer for their other parts (later
    /// messages), within its byte bound.
    pub fn ingest(
        &self,
        state: &mut PartitionState,
        msg: Inbound<'_>,
        out: &mut Vec<Publication>,
    ) -> IngestReport {
        let mut report = IngestReport::default();
        let setup = self.setup(msg.tenant);
        let subject = state
            .normalizers
            .entry((msg.tenant.to_owned(), msg.source.to_owned()))
            .or_insert_with(|| SubjectNormalizer::new(setup.normalize.clone()));
        let before = subject.fingerprint();
        let mut errors: Vec<RecordError> = Vec::new();
        let mut events = Vec::new();
        read_events(&msg, &mut subject.normalizer, &mut |item| match item {
            Ok(event) => events.push(event),
            Err(e) => {
                report.malformed += 1;
                if errors.len() < MAX_KEPT_ERRORS {
                    errors.push(e);
                }
            }
        });
        let after = subject.fingerprint();
        if after != before {
            subject.changed = true;
        }
        report.script_blocks = stats_delta(&before.1, &after.1);
        let tenant = state.tenants.entry(msg.tenant.to_owned()).or_default();
        let horizon = msg.received.map(|r| r + self.max_future_skew);
        let mut rejected = Rejected::default();
        self.accept(setup, tenant, events, horizon, &mut report, &mut rejected);
        self.publish_stateless(msg.tenant, tenant, &mut rejected.stateless, out);
        if report.late > 0 {
            out.push(self.late_publication(
                setup,
                msg.tenant,
                &msg.origin_name(),
                Some(msg.seq),
                format!("late.{}", msg.seq),
                report.late,
                rejected.late,
            ));
        }
        if report.future > 0 || report.malformed > 0 {
            let whole = report.events == 0 && report.late == 0;
            out.push(self.dead_letter(
                &msg,
                &errors,
                report.malformed,
                &rejected.future,
                report.future,
                whole,
            ));
        }
        report
    }

    /// Take normalized events into a tenant: attribution (the subject's census), the
    /// future and late checks, the baseline, matching and de-duplication.
    fn accept(
        &self,
        setup: &TenantSetup,
        tenant: &mut TenantState,
        events: Vec<Event>,
        horizon: Option<Timestamp>,
        report: &mut IngestReport,
        rejected: &mut Rejected,
    ) {
        // Tenant attribution before matching, with the function `hunt` uses: the
        // subject's records (this message's included) are the folder.
        tenant.observe_census(&events);
        for mut event in events {
            if event.tenant().is_none()
                && tenant.census.attribute(&mut event).is_none()
                && names_tenant(event.source)
            {
                report.unattributed += 1;
            }
            if horizon.is_some_and(|h| event.time > h) {
                report.future += 1;
                if rejected.future.len() < MAX_LISTED_EVENTS {
                    rejected.future.push(late_entry(&event, None));
                }
                continue;
            }
            let watermark = tenant.meta.max_time.map(|t| t - setup.lateness);
            if watermark.is_some_and(|w| event.time < w) {
                report.late += 1;
                if rejected.late.len() < MAX_LISTED_EVENTS {
                    rejected.late.push(late_entry(&event, watermark));
                }
                continue;
            }
            report.events += 1;
            if tenant.meta.max_time.is_none_or(|t| event.time > t) {
                tenant.meta.max_time = Some(event.time);
                tenant.changes.meta = true;
            }
            if let Some(actor) = event.actor()
                && observe(&mut tenant.first_seen, actor, event.time)
            {
                tenant.changes.first_seen.insert(actor.to_owned());
                tenant.dirty = true;
            }
            let event = Arc::new(event);
            let Some(m) = setup.detector.match_shared(Arc::clone(&event)) else {
                continue;
            };
            // Matches of user rules nothing else reads are findings on their own: they
            // are published now (their id is their record's: a repeat is dropped by the
            // published map and JetStream), and their events are not retained.
            let (keep, free) = setup.detector.split(m);
            if let Some(free) = free {
                if keep.is_none() {
                    report.matched += 1;
                }
                rejected
                    .stateless
                    .extend(setup.detector.stateless_findings(&free));
            }
            if let Some(m) = keep {
                if !tenant.seen.insert(trustpath_event::record_digest(&m.event)) {
                    report.duplicates += 1;
                    continue;
                }
                report.matched += 1;
                tenant.dirty = true;
                tenant.oldest = Some(tenant.oldest.map_or(m.event.time, |o| o.min(m.event.time)));
                tenant.changes.added.push(event);
                tenant.untenanted += usize::from(m.event.tenant().is_none());
                tenant.matched.push(m);
            }
        }
    }

    /// Publish the findings of stateless user rules not published before.
    fn publish_stateless(
        &self,
        tenant_id: &str,
        tenant: &mut TenantState,
        findings: &mut Vec<Finding>,
        out: &mut Vec<Publication>,
    ) {
        for finding in findings.drain(..) {
            if tenant.published.contains_key(&finding.id) {
                continue;
            }
            tenant.published.insert(
                finding.id.clone(),
                PublishedFinding {
                    start: finding.window.start,
                    hash: content_hash(&finding),
                    folded: false,
                    stateless: true,
                },
            );
            tenant.changes.published.insert(finding.id.clone());
            out.push(self.publication(
                PublicationKind::Finding,
                tenant_id,
                format!("trustpath.findings.{tenant_id}"),
                finding.id.clone(),
                serde_json::to_value(&finding).unwrap_or_default(),
            ));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn late_publication(
        &self,
        setup: &TenantSetup,
        tenant: &str,
        subject: &str,
        seq: Option<u64>,
        msg_id: String,
        count: u64,
        listed: Vec<Value>,
    ) -> Publication {
        self.publication(
            PublicationKind::Late,
            tenant,
            format!("trustpath.late.{tenant}"),
            msg_id,
            json!({"subject": subject, "stream_sequence": seq, "reason": format!(
                "event time before the watermark (max event time − lateness {})", setup.lateness),
                "late_events": count,
                "events_omitted": count.saturating_sub(listed.len() as u64),
                "events": listed}),
        )
    }

    /// End of input for every subject: 4104 blocks still missing parts are emitted part
    /// by part (flagged incomplete), as `hunt` does at the end of its inputs.
    fn finish_subjects(&self, state: &mut PartitionState, out: &mut Vec<Publication>) {
        let last_seq = state.last_seq;
        for ((tenant_id, source), subject) in state.normalizers.iter_mut() {
            if subject.normalizer.pending_bytes() == 0 {
                continue;
            }
            let mut items = Vec::new();
            subject.normalizer.finish(&mut items);
            subject.changed = true;
            let events: Vec<Event> = items.into_iter().flatten().collect();
            let setup = self.setup(tenant_id);
            let tenant = state.tenants.entry(tenant_id.clone()).or_default();
            let mut report = IngestReport::default();
            let mut rejected = Rejected::default();
            self.accept(setup, tenant, events, None, &mut report, &mut rejected);
            self.publish_stateless(tenant_id, tenant, &mut rejected.stateless, out);
            if report.late > 0 {
                out.push(self.late_publication(
                    setup,
                    tenant_id,
                    &format!("trustpath.events.{tenant_id}.{source}"),
                    None,
                    format!("late.flush.{source}.{last_seq}"),
                    report.late,
                    rejected.late,
                ));
            }
        }
    }

    /// Correlate the tenants whose correlation is due and return what to publish: those
    /// with a new matched event or first-seen time, and those whose watermark passed a
    /// finding not yet published. Events that match nothing only move the watermark, so
    /// they cost no correlation. With `flush` every tenant is correlated with the
    /// watermark at its largest event time (end of input), after 4104 blocks still
    /// missing parts are emitted.
    pub fn tick(&self, state: &mut PartitionState, flush: bool, out: &mut Vec<Publication>) {
        if flush {
            self.finish_subjects(state, out);
        }
        let last_seq = state.last_seq;
        for (tenant_id, tenant) in state.tenants.iter_mut() {
            let Some(max_time) = tenant.meta.max_time else {
                tenant.dirty = false;
                continue;
            };
            let setup = self.setup(tenant_id);
            let watermark = if flush {
                max_time + SignedDuration::from_nanos(1)
            } else {
                max_time - setup.lateness
            };
            let due =
                flush || tenant.dirty || tenant.unpublished_from.is_some_and(|s| s < watermark);
            if due {
                tenant.dirty = false;
                self.correlate(setup, tenant_id, tenant, watermark, last_seq, out);
                state.correlated.insert(tenant_id.clone());
            }
            self.evict(tenant, max_time - setup.lateness);
        }
    }

    fn correlate(
        &self,
        setup: &TenantSetup,
        tenant_id: &str,
        tenant: &mut TenantState,
        watermark: Timestamp,
        last_seq: u64,
        out: &mut Vec<Publication>,
    ) {
        let baseline = baseline(tenant_id, &tenant.first_seen);
        // Host events that arrived before the subject's records named its tenant take it
        // now, as `hunt` attributes host events from their whole folder after the scan.
        // (On a copy: the retained event, its identity and its store key stay as they
        // arrived.)
        let outcome = if tenant.untenanted == 0 {
            setup.detector.findings_of(&tenant.matched, &baseline)
        } else {
            let mut matched = tenant.matched.clone();
            for m in matched.iter_mut().filter(|m| m.event.tenant().is_none()) {
                setup.detector.attribute(m, &tenant.census);
            }
            setup.detector.findings(matched, &baseline)
        };
        let trusted_from = tenant.meta.evicted_before.map(|e| e + self.max_window);
        let trusted = |start: Timestamp| trusted_from.is_none_or(|t| start >= t);
        let findings_subject = format!("trustpath.findings.{tenant_id}");
        let updates_subject = format!("{findings_subject}.updates");
        let mut current_ids = BTreeSet::new();
        tenant.unpublished_from = None;
        for finding in &outcome.findings {
            current_ids.insert(finding.id.clone());
            if !trusted(finding.window.start) {
                continue;
            }
            let hash = content_hash(finding);
            let entry = tenant.published.get_mut(&finding.id);
            if entry.is_none() && finding.window.start >= watermark {
                let start = finding.window.start;
                tenant.unpublished_from =
                    Some(tenant.unpublished_from.map_or(start, |u| u.min(start)));
            }
            match entry {
                None if finding.window.start < watermark => {
                    out.push(self.publication(
                        PublicationKind::Finding,
                        tenant_id,
                        findings_subject.clone(),
                        finding.id.clone(),
                        serde_json::to_value(finding).unwrap_or_default(),
                    ));
                    tenant.published.insert(
                        finding.id.clone(),
                        PublishedFinding {
                            start: finding.window.start,
                            hash,
                            folded: false,
                            stateless: false,
                        },
                    );
                    tenant.changes.published.insert(finding.id.clone());
                }
                Some(p) if p.folded || p.hash != hash => {
                    out.push(self.publication(
                        PublicationKind::Update,
                        tenant_id,
                        updates_subject.clone(),
                        format!("{}.updated.{}.{last_seq}", finding.id, &hash[..16]),
                        json!({"id": finding.id, "status": "updated", "finding": finding}),
                    ));
                    p.folded = false;
                    p.hash = hash;
                    tenant.changes.published.insert(finding.id.clone());
                }
                _ => {}
            }
        }
        for (id, p) in tenant.published.iter_mut() {
            if !p.folded && !p.stateless && !current_ids.contains(id) && trusted(p.start) {
                out.push(self.publication(
                    PublicationKind::Update,
                    tenant_id,
                    updates_subject.clone(),
                    format!("{id}.folded.{}.{last_seq}", &p.hash[..16]),
                    json!({"id": id, "status": "folded"}),
                ));
                p.folded = true;
                tenant.changes.published.insert(id.clone());
            }
        }
        tenant.current = outcome
            .findings
            .into_iter()
            .filter(|f| tenant.published.get(&f.id).is_some_and(|p| !p.folded))
            .collect();
    }

    /// Drop matched events that no finding still open can use: older than the watermark
    /// by two analytic windows. Findings that could have cited them are final by then.
    fn evict(&self, tenant: &mut TenantState, watermark: Timestamp) {
        let cutoff = watermark - self.max_window * 2;
        if tenant.oldest.is_none_or(|o| o >= cutoff) {
            return;
        }
        let mut kept = Vec::with_capacity(tenant.matched.len());
        for m in tenant.matched.drain(..) {
            if m.event.time >= cutoff {
                kept.push(m);
            } else {
                let digest = trustpath_event::record_digest(&m.event);
                tenant.seen.remove(&digest);
                tenant.changes.removed.push(digest);
                if m.event.tenant().is_none() {
                    tenant.untenanted = tenant.untenanted.saturating_sub(1);
                }
            }
        }
        tenant.matched = kept;
        tenant.oldest = tenant.matched.iter().map(|m| m.event.time).min();
        let evicted_before = tenant.meta.evicted_before.map_or(cutoff, |e| e.max(cutoff));
        tenant.meta.evicted_before = Some(evicted_before);
        tenant.changes.meta = true;
        let forget = cutoff - self.max_window;
        let changes = &mut tenant.changes;
        tenant.published.retain(|id, p| {
            let keep = p.start >= forget;
            if !keep {
                changes.published.insert(id.clone());
            }
            keep
        });
    }
}

/// How many retained matches name no tenant.
fn untenanted(matched: &[Matched]) -> usize {
    matched
        .iter()
        .filter(|m| m.event.tenant().is_none())
        .count()
}

fn stats_delta(before: &NormalizeStats, after: &NormalizeStats) -> NormalizeStats {
    NormalizeStats {
        script_blocks_reassembled: after.script_blocks_reassembled
            - before.script_blocks_reassembled,
        script_blocks_incomplete: after.script_blocks_incomplete - before.script_blocks_incomplete,
        script_block_parts_ignored: after.script_block_parts_ignored
            - before.script_block_parts_ignored,
        script_block_parts_conflicting: after.script_block_parts_conflicting
            - before.script_block_parts_conflicting,
        script_blocks_evicted: after.script_blocks_evicted - before.script_blocks_evicted,
    }
}

/// Read and normalize a payload with the subject's normalizer (which keeps 4104 parts
/// waiting for later messages), handing each event or error to `each` in record order.
fn read_events(
    msg: &Inbound<'_>,
    normalizer: &mut Normalizer,
    each: &mut dyn FnMut(Result<Event, RecordError>),
) {
    let name = msg.origin_name();
    let mut items = Vec::new();
    let mut any = false;
    trustpath_read::read_bytes(&name, msg.payload, &ReadOptions::default(), &mut |item| {
        any = true;
        match item {
            Ok(raw) => normalizer.push(raw, &mut items),
            Err(e) => items.push(Err(e)),
        }
        items.drain(..).for_each(&mut *each);
    });
    if !any {
        each(Err(RecordError::new(
            trustpath_event::Origin::file(name),
            trustpath_event::ErrorKind::Malformed,
            "the payload holds no record",
        )));
    }
}

/// Record an actor's activity; whether its first-seen time changed.
fn observe(first_seen: &mut BTreeMap<String, Timestamp>, actor: &str, time: Timestamp) -> bool {
    match first_seen.get_mut(actor) {
        Some(first) if *first <= time => false,
        Some(first) => {
            *first = time;
            true
        }
        None => {
            first_seen.insert(actor.to_owned(), time);
            true
        }
    }
}

/// The tenant's baseline from its first-seen times: its data is taken to start at the
/// earliest of them.
fn baseline(tenant_id: &str, first_seen: &BTreeMap<String, Timestamp>) -> Baseline {
    let mut baseline = Baseline::default();
    for (actor, time) in first_seen {
        baseline.observe(Some(tenant_id), Some(actor), *time);
    }
    baseline
}

fn late_entry(event: &Event, watermark: Option<Timestamp>) -> Value {
    json!({
        "time": event.time,
        "watermark": watermark,
        "origin": event.origin,
        "operation": event.norm_str(trustpath_event::norm::OPERATION),
    })
}

fn publication<T: Serialize>(
    kind: PublicationKind,
    tenant: &str,
    subject: String,
    msg_id: String,
    body: &T,
) -> Publication {
    Publication {
        kind,
        tenant: tenant.to_owned(),
        subject,
        msg_id,
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

impl Processor {
    /// A publication whose body fits [`Processor::max_publish_bytes`]: long lists are
    /// trimmed (keeping counts), a payload excerpt is cut, and as a last resort the body
    /// is replaced by a pointer to the stream sequence.
    fn publication(
        &self,
        kind: PublicationKind,
        tenant: &str,
        subject: String,
        msg_id: String,
        body: Value,
    ) -> Publication {
        let body = bounded(body, self.max_publish_bytes);
        publication(kind, tenant, subject, msg_id, &body)
    }

    /// The dead letter of a message: its malformed records (reasons capped) and refused
    /// future-dated events, with the stream sequence to fetch the original from.
    pub fn dead_letter(
        &self,
        msg: &Inbound<'_>,
        errors: &[RecordError],
        malformed: u64,
        future: &[Value],
        future_count: u64,
        whole_payload: bool,
    ) -> Publication {
        let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let mut body = json!({
            "subject": msg.origin_name(),
            "stream_sequence": msg.seq,
            "malformed_records": malformed,
            "reasons": reasons,
            "reasons_omitted": malformed.saturating_sub(reasons.len() as u64),
        });
        if future_count > 0 {
            body["future_events"] = json!(future_count);
            body["future_reason"] = json!(format!(
                "event time more than {} after the message arrived ({}): refused, the watermark is not moved",
                self.max_future_skew,
                msg.received.map_or("unknown".to_owned(), |r| r.to_string())
            ));
            body["future_listed"] = json!(future);
        }
        if whole_payload {
            body["payload_bytes"] = json!(msg.payload.len());
            body["payload"] = Value::String(String::from_utf8_lossy(msg.payload).into_owned());
        }
        self.publication(
            PublicationKind::DeadLetter,
            msg.tenant,
            format!("trustpath.deadletter.{}", msg.tenant),
            format!("deadletter.{}", msg.seq),
            body,
        )
    }
}

/// Keep the first and last 20 entries of a list of more than 40, counting the rest in
/// `<key>_omitted_from_message`.
fn trim_list(owner: &mut Value, key: &str) {
    if let Some(Value::Array(items)) = owner.get_mut(key)
        && items.len() > 40
    {
        let omitted = items.len() - 40;
        let tail = items.split_off(items.len() - 20);
        items.truncate(20);
        items.extend(tail);
        owner[format!("{key}_omitted_from_message")] = json!(omitted);
    }
}

/// `body` trimmed to at most `max` bytes of JSON.
pub fn bounded(mut body: Value, max: usize) -> Value {
    let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    if size(&body) <= max {
        return body;
    }
    // Long lists: keep the first and last entries, count the rest.
    trim_list(&mut body, "events");
    trim_list(&mut body, "reasons");
    trim_list(&mut body, "future_listed");
    trim_list(&mut body, "evidence");
    if let Some(finding) = body.get_mut("finding") {
        trim_list(finding, "evidence");
    }
    if size(&body) <= max {
        return body;
    }
    if let Some(Value::String(payload)) = body.get_mut("payload") {
        let keep = max / 2;
        if payload.len() > keep {
            let mut cut = keep;
            while !payload.is_char_boundary(cut) {
                cut -= 1;
            }
            payload.truncate(cut);
            body["payload_truncated"] = json!(true);
        }
    }
    if size(&body) <= max {
        return body;
    }
    // Still too large (huge strings in a record): only the pointer.
    let mut pointer = json!({"truncated": true, "bytes": size(&body)});
    for key in ["id", "subject", "stream_sequence", "status"] {
        if let Some(v) = body.get(key) {
            pointer[key] = v.clone();
        }
    }
    pointer
}

fn content_hash(finding: &Finding) -> String {
    let bytes = serde_json::to_vec(finding).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use trustpath_analytics::DetectorOptions;

    fn processor() -> Processor {
        let (detector, _) = Detector::build(DetectorOptions {
            builtin: true,
            ..Default::default()
        });
        Processor {
            default: TenantSetup::new(Arc::new(detector), SignedDuration::from_hours(12)),
            tenants: BTreeMap::new(),
            max_window: SignedDuration::from_hours(24 * 7),
            max_future_skew: SignedDuration::from_hours(24),
            max_publish_bytes: 64 * 1024,
        }
    }

    fn ual(time: &str, id: &str) -> Vec<u8> {
        format!(
            "{{\"CreationTime\":\"{time}\",\"Id\":\"{id}\",\"Operation\":\"Send\",\"OrganizationId\":\"t1\",\
             \"RecordType\":2,\"UserId\":\"a@contoso.com\",\"UserType\":0,\"Workload\":\"Exchange\"}}\n"
        )
        .into_bytes()
    }

    fn message(seq: u64, payload: &[u8]) -> Inbound<'_> {
        Inbound {
            tenant: "t1",
            source: "ual",
            seq,
            payload,
            received: None,
        }
    }

    fn grant(id: &str) -> Vec<u8> {
        format!(
            "{{\"CreationTime\":\"2025-04-02T10:15:00\",\"Id\":\"{id}\",\"Operation\":\"Add-MailboxPermission\",\
             \"OrganizationId\":\"3a1f0c52-6d7e-4b8a-9c0d-1e2f3a4b5c6d\",\"RecordType\":1,\"ResultStatus\":\"True\",\
             \"UserId\":\"helpdesk@adatum.com\",\"UserType\":2,\"Workload\":\"Exchange\",\"ObjectId\":\"payroll@adatum.com\",\
             \"Parameters\":[{{\"Name\":\"Identity\",\"Value\":\"payroll@adatum.com\"}},\
             {{\"Name\":\"User\",\"Value\":\"temp.contractor@adatum.com\"}},\
             {{\"Name\":\"AccessRights\",\"Value\":\"FullAccess\"}}]}}\n"
        )
        .into_bytes()
    }

    /// The findings `hunt` gives for `payload` read as a file called `name`.
    fn batch_ids(p: &Processor, name: &str, payload: &[u8]) -> Vec<String> {
        let mut normalizer = Normalizer::new(NormalizeOptions::default());
        let mut events = Vec::new();
        trustpath_read::read_bytes(name, payload, &ReadOptions::default(), &mut |item| {
            if let Ok(raw) = item {
                normalizer.push(raw, &mut events);
            }
        });
        normalizer.finish(&mut events);
        let matched: Vec<Matched> = events
            .into_iter()
            .flatten()
            .filter_map(|e| p.default.detector.match_shared(Arc::new(e)))
            .collect();
        let mut ids: Vec<String> = p
            .default
            .detector
            .findings(matched, &Baseline::default())
            .findings
            .into_iter()
            .map(|f| f.id)
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_record_delivered_twice_is_used_once_and_ids_match_the_hunt() {
        let p = processor();
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        let payload = grant("4c5d6e7f-1111-4a2b-8c3d-4e5f6a7b8c9d");
        let first = p.ingest(&mut state, message(1, &payload), &mut out);
        assert_eq!((first.matched, first.duplicates), (1, 0));
        let again = p.ingest(&mut state, message(2, &payload), &mut out);
        assert_eq!((again.matched, again.duplicates), (0, 1));
        assert_eq!(state.tenants["t1"].matched.len(), 1);
        p.tick(&mut state, true, &mut out);
        let mut served: Vec<String> = out
            .iter()
            .filter(|o| o.kind == PublicationKind::Finding)
            .filter_map(|o| serde_json::from_slice::<Value>(&o.body).ok())
            .filter_map(|b| b["id"].as_str().map(str::to_owned))
            .collect();
        served.sort();
        assert!(!served.is_empty());
        assert_eq!(served, batch_ids(&p, "exports/ual.jsonl", &payload));
        assert_eq!(served, batch_ids(&p, "./exports/ual.jsonl", &payload));
    }

    #[test]
    fn event_behind_the_watermark_is_late_and_kept_out_of_state() {
        let p = processor();
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        let first = ual("2025-03-03T20:00:00", "a");
        let report = p.ingest(&mut state, message(1, &first), &mut out);
        assert_eq!((report.events, report.late), (1, 0));
        let six_hours_late = ual("2025-03-03T14:00:00", "b");
        let report = p.ingest(&mut state, message(2, &six_hours_late), &mut out);
        assert_eq!((report.events, report.late), (1, 0), "within the lateness");
        let too_late = ual("2025-03-03T07:59:59", "c");
        let report = p.ingest(&mut state, message(3, &too_late), &mut out);
        assert_eq!((report.events, report.late), (0, 1));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, PublicationKind::Late);
        assert_eq!(out[0].subject, "trustpath.late.t1");
        let tenant = &state.tenants["t1"];
        assert_eq!(
            tenant.first_seen["a@contoso.com"].to_string(),
            "2025-03-03T14:00:00Z"
        );
    }

    /// A Graph directory audit (no tenant id in the record) naming a partner.
    fn graph_audit() -> Vec<u8> {
        serde_json::to_vec(&json!([{"id": "Directory_1", "category": "DirectoryManagement",
            "correlationId": "c1", "result": "success", "resultReason": "",
            "activityDisplayName": "Add partner to company", "activityDateTime": "2025-03-03T19:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Add",
            "initiatedBy": {"app": null, "user": {"id": "u1", "displayName": null,
                "userPrincipalName": "tech@partner.example", "ipAddress": "203.0.113.45",
                "userType": null, "homeTenantId": "c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f", "homeTenantName": null}},
            "targetResources": [{"id": "x", "displayName": "Partner", "type": "Other",
                "userPrincipalName": null, "groupType": null, "modifiedProperties": [
                    {"displayName": "PartnerTenantId", "oldValue": null,
                     "newValue": "\"c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f\""}]}],
            "additionalDetails": []}]))
        .unwrap()
    }

    #[test]
    fn a_record_naming_no_tenant_takes_its_subjects_tenant_or_stays_unattributed() {
        let p = processor();
        // Alone on its subject: nothing names a tenant, so it stays unattributed.
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        let audit = graph_audit();
        let report = p.ingest(&mut state, message(1, &audit), &mut out);
        assert_eq!((report.events, report.unattributed), (1, 1));
        assert!(
            state.tenants["t1"]
                .matched
                .iter()
                .all(|m| m.event.tenant().is_none())
        );
        // After the subject's own records named t1, the same audit is t1's (as in hunt,
        // where the folder's records decide), with the partner derived under it.
        let mut state = PartitionState::default();
        let first = ual("2025-03-03T18:00:00", "a");
        p.ingest(&mut state, message(1, &first), &mut out);
        let report = p.ingest(&mut state, message(2, &audit), &mut out);
        assert_eq!((report.events, report.unattributed), (1, 0));
        let m = state.tenants["t1"]
            .matched
            .iter()
            .find(|m| m.event.operation() == Some("Add partner to company"))
            .unwrap();
        assert_eq!(m.event.tenant(), Some("t1"));
        assert_eq!(
            m.event.get(trustpath_event::norm::PARTNER_TENANT),
            Some(&json!("c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f"))
        );
    }

    #[test]
    fn malformed_payload_is_dead_lettered_with_the_reason() {
        let p = processor();
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        let report = p.ingest(&mut state, message(7, b"{\"broken\": "), &mut out);
        assert_eq!((report.events, report.malformed), (0, 1));
        assert_eq!(out[0].kind, PublicationKind::DeadLetter);
        assert_eq!(out[0].msg_id, "deadletter.7");
        let body: Value = serde_json::from_slice(&out[0].body).unwrap();
        assert!(
            body["reasons"][0]
                .as_str()
                .unwrap()
                .contains("trustpath.events.t1.ual@7"),
            "{body}"
        );
        let report = p.ingest(&mut state, message(8, b""), &mut out);
        assert_eq!(report.malformed, 1, "an empty payload is malformed too");
    }

    /// A flat (NXLog) 4104 part of a two-part block whose text only matches whole.
    fn part(record: u64, number: u32, text: &str) -> Vec<u8> {
        format!(
            "{{\"EventID\":4104,\"Channel\":\"Microsoft-Windows-PowerShell/Operational\",\
             \"Hostname\":\"WS-LAB-03.tailwind.local\",\"EventTime\":\"2025-05-01T23:59:5{record}Z\",\
             \"RecordNumber\":{record},\"EventRecordID\":{record},\"MessageNumber\":{number},\"MessageTotal\":2,\
             \"ScriptBlockId\":\"0d9c8b7a-6f5e-4d3c-8b2a-190817263544\",\"ScriptBlockText\":\"{text}\"}}\n"
        )
        .into_bytes()
    }

    fn windows(seq: u64, payload: &[u8]) -> Inbound<'_> {
        Inbound {
            source: "winlogbeat",
            ..message(seq, payload)
        }
    }

    #[test]
    fn script_block_parts_in_separate_messages_are_joined() {
        let p = processor();
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        let first = part(1, 1, "Add-Mailbox");
        let report = p.ingest(&mut state, windows(1, &first), &mut out);
        assert_eq!(
            (report.events, report.malformed),
            (0, 0),
            "a lone part waits"
        );
        let key = ("t1".to_owned(), "winlogbeat".to_owned());
        assert!(state.normalizers[&key].changed);
        assert!(state.pending_script_block_bytes() > 0);
        let second = part(
            2,
            2,
            "Permission -Identity ceo@tailwind.com -User x -AccessRights FullAccess",
        );
        let report = p.ingest(&mut state, windows(2, &second), &mut out);
        assert_eq!(report.events, 1);
        assert_eq!(report.script_blocks.script_blocks_reassembled, 1);
        assert_eq!(state.pending_script_block_bytes(), 0);
        let tenant = &state.tenants["t1"];
        let joined = tenant.matched.iter().find(|m| {
            m.event
                .get("ScriptBlockText")
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains("Add-MailboxPermission"))
        });
        assert!(joined.is_some(), "the joined block matched a rule");
    }

    #[test]
    fn flush_emits_parts_still_missing_their_block_as_incomplete() {
        let p = processor();
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        p.ingest(&mut state, windows(1, &part(1, 1, "Get-Date")), &mut out);
        assert_eq!(state.tenants["t1"].meta.max_time, None);
        p.tick(&mut state, true, &mut out);
        assert_eq!(state.pending_script_block_bytes(), 0);
        assert!(
            state.tenants["t1"].meta.max_time.is_some(),
            "the part was taken as an event"
        );
    }
}
