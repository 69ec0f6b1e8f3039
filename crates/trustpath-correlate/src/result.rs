//! What the engine reports: correlation results with evidence, late events, evictions.

use crate::chain::Captures;
use crate::spec::{CorrelationType, RuleRef};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use trustpath_event::{ErrorKind, Event, Origin, RecordError};

/// One event that contributed to a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The event.
    pub event: Arc<Event>,
    /// The detection rule it matched.
    pub rule: RuleRef,
    /// Its step: the index in the correlation's `rules` list.
    pub step: usize,
    /// The inner correlation it came through, for correlations of correlations.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via: Option<String>,
}

impl Evidence {
    /// The identity used in result ids: time, origin, rule.
    pub fn identity(&self) -> String {
        format!("{}|{}|{}", self.event.time, self.event.origin, self.rule.0)
    }
}

/// A correlation that fired (or, with `partial`, a chain that closed incomplete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationResult {
    /// Stable id: sha256 of correlation id, group key, partial flag and sorted evidence
    /// identities, hex, 32 characters.
    pub id: String,
    /// The correlation's id.
    pub correlation: String,
    /// The correlation's title.
    pub title: String,
    /// The correlation type.
    pub kind: CorrelationType,
    /// group-by field (or alias) → value.
    pub group: BTreeMap<String, String>,
    /// Chain captures (`x-trustpath`), by capture name.
    pub captures: Captures,
    /// Earliest evidence time.
    pub first: Timestamp,
    /// Latest evidence time.
    pub last: Timestamp,
    /// A chain that closed with some but not all steps (a hunting lead).
    pub partial: bool,
    /// Steps present (indices into `rules`), ascending.
    pub steps: Vec<usize>,
    /// The metric the condition was tested on (count, distinct values, sum, …).
    pub value: f64,
    /// Every contributing event.
    pub evidence: Vec<Evidence>,
}

/// The parts of a result before its id is computed.
pub(crate) struct ResultParts {
    pub correlation: String,
    pub title: String,
    pub kind: CorrelationType,
    pub group: BTreeMap<String, String>,
    pub captures: Captures,
    pub partial: bool,
    pub value: f64,
    pub evidence: Vec<Evidence>,
}

impl CorrelationResult {
    pub(crate) fn build(p: ResultParts) -> Self {
        let first = p
            .evidence
            .iter()
            .map(|e| e.event.time)
            .min()
            .unwrap_or_default();
        let last = p
            .evidence
            .iter()
            .map(|e| e.event.time)
            .max()
            .unwrap_or_default();
        let mut steps: Vec<usize> = p.evidence.iter().map(|e| e.step).collect();
        steps.sort_unstable();
        steps.dedup();
        let mut ids: Vec<String> = p.evidence.iter().map(Evidence::identity).collect();
        ids.sort_unstable();
        ids.dedup();
        let group: Vec<String> = p.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let id = short_hash(&[
            p.correlation.as_bytes(),
            group.join("\u{1f}").as_bytes(),
            if p.partial { b"partial" } else { b"full" },
            ids.join("\n").as_bytes(),
        ]);
        CorrelationResult {
            id,
            correlation: p.correlation,
            title: p.title,
            kind: p.kind,
            group: p.group,
            captures: p.captures,
            first,
            last,
            partial: p.partial,
            steps,
            value: p.value,
            evidence: p.evidence,
        }
    }
}

/// sha256 over length-prefixed parts, hex, first 32 characters.
pub(crate) fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut s = hex::encode(h.finalize());
    s.truncate(32);
    s
}

/// An event that arrived after the watermark had passed its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateEvent {
    /// Where it came from.
    pub origin: Origin,
    /// Its event time.
    pub time: Timestamp,
    /// The watermark when it arrived.
    pub watermark: Timestamp,
    /// How far behind the watermark it was.
    pub late_by: SignedDuration,
    /// The rules it matched.
    pub rules: Vec<RuleRef>,
}

impl LateEvent {
    /// As a counted record error (`ErrorKind::Late`).
    pub fn to_record_error(&self) -> RecordError {
        RecordError::new(
            self.origin.clone(),
            ErrorKind::Late,
            format!(
                "event time {} is {} behind the correlation watermark {}; not correlated",
                self.time,
                friendly(self.late_by),
                self.watermark
            ),
        )
    }
}

fn friendly(d: SignedDuration) -> String {
    format!("{:#}", d)
}

/// Why state was evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvictReason {
    /// `StateBudget::max_keys` active group keys reached; the key closing soonest went.
    KeyBudget,
    /// `StateBudget::max_events_per_key` reached; the key's oldest events went.
    EventBudget,
}

/// State removed under the memory budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evicted {
    /// Correlation id.
    pub correlation: String,
    /// The group key.
    pub group: BTreeMap<String, String>,
    /// Why.
    pub reason: EvictReason,
    /// Buffered events dropped.
    pub events: usize,
    /// Origin of the oldest dropped event.
    pub first_origin: Option<Origin>,
    /// Event time at which it happened.
    pub at: Timestamp,
}

impl Evicted {
    /// As a counted record error (`ErrorKind::Evicted`).
    pub fn to_record_error(&self) -> RecordError {
        let origin = self
            .first_origin
            .clone()
            .unwrap_or_else(|| Origin::file("-"));
        let why = match self.reason {
            EvictReason::KeyBudget => "active group key budget reached",
            EvictReason::EventBudget => "buffered events per key budget reached",
        };
        RecordError::new(
            origin,
            ErrorKind::Evicted,
            format!(
                "correlation {} group {:?}: {why}; {} buffered event(s) dropped at {}",
                self.correlation, self.group, self.events, self.at
            ),
        )
    }
}
