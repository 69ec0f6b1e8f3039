//! Per-partition correlation state and the two steps that change it: [`Processor::ingest`]
//! (one message: read → normalize → late check → baseline → per-event match) and
//! [`Processor::tick`] (batch correlation over the retained matches, exactly as
//! `trustpath hunt` does, and the findings that became final).
//!
//! Everything here is synchronous and deterministic: the same messages in the same stream
//! order give the same state and the same publications, which is what makes a replay after
//! a crash safe.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use trustpath_analytics::{Baseline, Detector, Matched};
use trustpath_event::{Event, RecordError};
use trustpath_normalize::{NormalizeOptions, Normalizer, TenantCensus, names_tenant};
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
}

/// One tenant's correlation state inside a partition.
#[derive(Debug, Default)]
pub struct TenantState {
    /// Matched events still inside the retention horizon, in arrival order.
    pub matched: Vec<Matched>,
    /// First-seen time of every actor (the hunt's baseline).
    pub first_seen: BTreeMap<String, Timestamp>,
    /// Largest event time seen.
    pub max_time: Option<Timestamp>,
    /// Matched events before this time were evicted.
    pub evicted_before: Option<Timestamp>,
    /// Findings published, by id.
    pub published: BTreeMap<String, PublishedFinding>,
    /// Latest correlation result, published findings only (for `/v1/findings`).
    pub current: Vec<Finding>,
    /// Something changed since the last tick.
    pub dirty: bool,
    /// Record identities ([`trustpath_event::record_digest`]) of `matched`: a record
    /// delivered again (a re-sent batch, overlapping exports) is used once, as in a hunt.
    pub seen: std::collections::HashSet<u128>,
    /// Tenants named by the records of this subject token (the hunt's "folder"): records
    /// naming no tenant are attributed from it, as `hunt` does.
    pub census: TenantCensus,
}

/// The persisted form of a [`TenantState`].
#[derive(Debug, Serialize, Deserialize)]
struct TenantSnapshot {
    retained: Vec<Arc<Event>>,
    first_seen: BTreeMap<String, Timestamp>,
    max_time: Option<Timestamp>,
    evicted_before: Option<Timestamp>,
    published: BTreeMap<String, PublishedFinding>,
}

/// A partition's whole state: what is committed to the store with the stream position.
#[derive(Debug, Default)]
pub struct PartitionState {
    /// Stream sequence of the last message folded into this state.
    pub last_seq: u64,
    /// Tenants by id.
    pub tenants: BTreeMap<String, TenantState>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PartitionSnapshot {
    last_seq: u64,
    tenants: BTreeMap<String, TenantSnapshot>,
}

impl PartitionState {
    /// Serialize for the store.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let snapshot = PartitionSnapshot {
            last_seq: self.last_seq,
            tenants: self
                .tenants
                .iter()
                .map(|(id, t)| {
                    let snap = TenantSnapshot {
                        retained: t.matched.iter().map(|m| Arc::clone(&m.event)).collect(),
                        first_seen: t.first_seen.clone(),
                        max_time: t.max_time,
                        evicted_before: t.evicted_before,
                        published: t.published.clone(),
                    };
                    (id.clone(), snap)
                })
                .collect(),
        };
        serde_json::to_vec(&snapshot)
    }

    /// Restore from the store; rule matches are recomputed (deterministic), every tenant
    /// is marked dirty so the first tick re-publishes anything a crash left unpublished.
    pub fn from_bytes(bytes: &[u8], detector: &Detector) -> Result<Self, serde_json::Error> {
        let snapshot: PartitionSnapshot = serde_json::from_slice(bytes)?;
        let tenants = snapshot
            .tenants
            .into_iter()
            .map(|(id, t)| {
                let mut census = TenantCensus::default();
                t.retained.iter().for_each(|e| census.observe(e));
                let matched: Vec<Matched> = t
                    .retained
                    .into_iter()
                    .filter_map(|e| detector.match_shared(e))
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
                    max_time: t.max_time,
                    evicted_before: t.evicted_before,
                    published: t.published,
                    current: Vec::new(),
                    dirty: true,
                };
                (id, state)
            })
            .collect();
        Ok(PartitionState {
            last_seq: snapshot.last_seq,
            tenants,
        })
    }

    /// Matched events retained over all tenants (the state-size metric).
    pub fn retained_events(&self) -> usize {
        self.tenants.values().map(|t| t.matched.len()).sum()
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
}

/// Correlation settings plus the detector, shared by every partition.
pub struct Processor {
    /// The compiled rules and analytics.
    pub detector: Arc<Detector>,
    /// Allowed lateness.
    pub lateness: SignedDuration,
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

impl Processor {
    /// Fold one message into `state`; late events, future-dated events and malformed
    /// input become publications. Records are processed as they are read: memory per
    /// message is bounded by what state keeps plus [`MAX_KEPT_ERRORS`] error reasons.
    pub fn ingest(
        &self,
        state: &mut PartitionState,
        msg: Inbound<'_>,
        out: &mut Vec<Publication>,
    ) -> IngestReport {
        let mut report = IngestReport::default();
        let tenant = state.tenants.entry(msg.tenant.to_owned()).or_default();
        let mut late = Vec::new();
        let mut future = Vec::new();
        let mut errors: Vec<RecordError> = Vec::new();
        let horizon = msg.received.map(|r| r + self.max_future_skew);
        let mut on_event = |event: Arc<Event>, tenant: &mut TenantState| {
            if horizon.is_some_and(|h| event.time > h) {
                report.future += 1;
                if future.len() < MAX_LISTED_EVENTS {
                    future.push(late_entry(&event, None));
                }
                return;
            }
            let watermark = tenant.max_time.map(|t| t - self.lateness);
            if watermark.is_some_and(|w| event.time < w) {
                report.late += 1;
                if late.len() < MAX_LISTED_EVENTS {
                    late.push(late_entry(&event, watermark));
                }
                return;
            }
            report.events += 1;
            tenant.dirty = true;
            tenant.max_time = Some(tenant.max_time.map_or(event.time, |t| t.max(event.time)));
            if let Some(actor) = event.actor() {
                observe(&mut tenant.first_seen, actor, event.time);
            }
            if let Some(m) = self.detector.match_shared(event) {
                if !tenant.seen.insert(trustpath_event::record_digest(&m.event)) {
                    report.duplicates += 1;
                    return;
                }
                report.matched += 1;
                tenant.matched.push(m);
            }
        };
        let mut events = Vec::new();
        read_events(&msg, &mut |item| match item {
            Ok(event) => events.push(event),
            Err(e) => {
                report.malformed += 1;
                if errors.len() < MAX_KEPT_ERRORS {
                    errors.push(e);
                }
            }
        });
        // Tenant attribution before matching, with the function `hunt` uses: the
        // subject's records (this message's included) are the folder.
        events.iter().for_each(|e| tenant.census.observe(e));
        let mut unattributed = 0;
        for mut event in events {
            if event.tenant().is_none()
                && tenant.census.attribute(&mut event).is_none()
                && names_tenant(event.source)
            {
                unattributed += 1;
            }
            on_event(Arc::new(event), tenant);
        }
        report.unattributed = unattributed;
        if report.late > 0 {
            out.push(self.publication(
                PublicationKind::Late,
                msg.tenant,
                format!("trustpath.late.{}", msg.tenant),
                format!("late.{}", msg.seq),
                json!({"subject": msg.origin_name(), "stream_sequence": msg.seq, "reason": format!(
                    "event time before the watermark (max event time − lateness {})", self.lateness),
                    "late_events": report.late,
                    "events_omitted": report.late.saturating_sub(late.len() as u64),
                    "events": late}),
            ));
        }
        if report.future > 0 || report.malformed > 0 {
            let whole = report.events == 0 && report.late == 0;
            out.push(self.dead_letter(
                &msg,
                &errors,
                report.malformed,
                &future,
                report.future,
                whole,
            ));
        }
        report
    }

    /// Correlate every changed tenant and return what to publish. With `flush` the
    /// watermark is the largest event time (end of input).
    pub fn tick(&self, state: &mut PartitionState, flush: bool, out: &mut Vec<Publication>) {
        let last_seq = state.last_seq;
        for (tenant_id, tenant) in state.tenants.iter_mut() {
            if !tenant.dirty && !flush {
                continue;
            }
            tenant.dirty = false;
            let Some(max_time) = tenant.max_time else {
                continue;
            };
            let watermark = if flush {
                max_time + SignedDuration::from_nanos(1)
            } else {
                max_time - self.lateness
            };
            self.correlate(tenant_id, tenant, watermark, last_seq, out);
            self.evict(tenant, max_time - self.lateness);
        }
    }

    fn correlate(
        &self,
        tenant_id: &str,
        tenant: &mut TenantState,
        watermark: Timestamp,
        last_seq: u64,
        out: &mut Vec<Publication>,
    ) {
        let baseline = baseline(tenant_id, &tenant.first_seen);
        let outcome = self.detector.findings(tenant.matched.clone(), &baseline);
        let trusted_from = tenant.evicted_before.map(|e| e + self.max_window);
        let trusted = |start: Timestamp| trusted_from.is_none_or(|t| start >= t);
        let findings_subject = format!("trustpath.findings.{tenant_id}");
        let updates_subject = format!("{findings_subject}.updates");
        let mut current_ids = BTreeSet::new();
        for finding in &outcome.findings {
            current_ids.insert(finding.id.clone());
            if !trusted(finding.window.start) {
                continue;
            }
            let hash = content_hash(finding);
            let entry = tenant.published.get_mut(&finding.id);
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
                        },
                    );
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
                }
                _ => {}
            }
        }
        for (id, p) in tenant.published.iter_mut() {
            if !p.folded && !current_ids.contains(id) && trusted(p.start) {
                out.push(self.publication(
                    PublicationKind::Update,
                    tenant_id,
                    updates_subject.clone(),
                    format!("{id}.folded.{}.{last_seq}", &p.hash[..16]),
                    json!({"id": id, "status": "folded"}),
                ));
                p.folded = true;
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
        let before = tenant.matched.len();
        tenant.matched.retain(|m| m.event.time >= cutoff);
        if tenant.matched.len() < before {
            tenant.seen = tenant
                .matched
                .iter()
                .map(|m| trustpath_event::record_digest(&m.event))
                .collect();
            tenant.evicted_before = Some(tenant.evicted_before.map_or(cutoff, |e| e.max(cutoff)));
            let forget = cutoff - self.max_window;
            tenant.published.retain(|_, p| p.start >= forget);
        }
    }
}

/// Read and normalize a payload, handing each event or error to `each` in record order.
fn read_events(msg: &Inbound<'_>, each: &mut dyn FnMut(Result<Event, RecordError>)) {
    let name = msg.origin_name();
    let mut normalizer = Normalizer::new(NormalizeOptions::default());
    let mut items = Vec::new();
    let mut any = false;
    let mut drain = |items: &mut Vec<Result<Event, RecordError>>, any: &mut bool| {
        for item in items.drain(..) {
            *any = true;
            each(item);
        }
    };
    trustpath_read::read_bytes(&name, msg.payload, &ReadOptions::default(), &mut |item| {
        match item {
            Ok(raw) => normalizer.push(raw, &mut items),
            Err(e) => items.push(Err(e)),
        }
        drain(&mut items, &mut any);
    });
    normalizer.finish(&mut items);
    drain(&mut items, &mut any);
    if !any {
        each(Err(RecordError::new(
            trustpath_event::Origin::file(name),
            trustpath_event::ErrorKind::Malformed,
            "the payload holds no record",
        )));
    }
}

fn observe(first_seen: &mut BTreeMap<String, Timestamp>, actor: &str, time: Timestamp) {
    match first_seen.get_mut(actor) {
        Some(first) if *first <= time => {}
        Some(first) => *first = time,
        None => {
            first_seen.insert(actor.to_owned(), time);
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
            detector: Arc::new(detector),
            lateness: SignedDuration::from_hours(12),
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
            .filter_map(|e| p.detector.match_shared(Arc::new(e)))
            .collect();
        let mut ids: Vec<String> = p
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

    #[test]
    fn state_round_trips_through_the_store_format() {
        let p = processor();
        let mut state = PartitionState::default();
        let mut out = Vec::new();
        p.ingest(
            &mut state,
            message(1, &ual("2025-03-03T20:00:00", "a")),
            &mut out,
        );
        state.last_seq = 1;
        let bytes = state.to_bytes().unwrap();
        let back = PartitionState::from_bytes(&bytes, &p.detector).unwrap();
        assert_eq!(back.last_seq, 1);
        let tenant = &back.tenants["t1"];
        assert!(tenant.dirty);
        assert_eq!(tenant.max_time, state.tenants["t1"].max_time);
        assert_eq!(tenant.first_seen, state.tenants["t1"].first_seen);
    }
}
