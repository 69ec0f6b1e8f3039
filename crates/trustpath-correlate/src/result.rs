//! What the engine reports: correlation results with evidence, late events, evictions.

use crate::chain::Captures;
use crate::spec::{CorrelationType, RuleRef};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
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
        let id = result_id(&p);
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

/// The result id: [`short_hash`] of the correlation id, the group (`name=value` joined
/// by U+001F), the partial flag and the sorted, deduplicated evidence identities joined
/// by newlines. Everything is written into one reused per-thread buffer (no string per
/// evidence, no allocation per result once the buffer has grown).
fn result_id(p: &ResultParts) -> String {
    thread_local! {
        static SCRATCH: RefCell<(String, Vec<Range<usize>>)> = const {
            RefCell::new((String::new(), Vec::new()))
        };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            let (text, spans) = &mut *scratch;
            result_id_with(p, text, spans)
        }
        Err(_) => result_id_with(p, &mut String::new(), &mut Vec::new()),
    })
}

fn result_id_with(p: &ResultParts, text: &mut String, spans: &mut Vec<Range<usize>>) -> String {
    use std::fmt::Write;
    text.clear();
    spans.clear();
    // Writing into a String cannot fail.
    for (i, (k, v)) in p.group.iter().enumerate() {
        if i > 0 {
            text.push('\u{1f}');
        }
        let _ = write!(text, "{k}={v}");
    }
    let group_end = text.len();
    for e in &p.evidence {
        let start = text.len();
        let _ = write!(text, "{}|{}|{}", e.event.time, e.event.origin, e.rule.0);
        spans.push(start..text.len());
    }
    let text = &*text;
    spans.sort_unstable_by(|a, b| text[a.clone()].cmp(&text[b.clone()]));
    spans.dedup_by(|a, b| text[a.clone()] == text[b.clone()]);
    let ids_len = spans.iter().map(|r| r.len()).sum::<usize>() + spans.len().saturating_sub(1);
    let mut h = Sha256::new();
    hash_part(&mut h, p.correlation.as_bytes());
    hash_part(&mut h, &text.as_bytes()[..group_end]);
    hash_part(&mut h, if p.partial { b"partial" } else { b"full" });
    h.update((ids_len as u64).to_le_bytes());
    for (i, r) in spans.iter().enumerate() {
        if i > 0 {
            h.update(b"\n");
        }
        h.update(&text.as_bytes()[r.clone()]);
    }
    hex_prefix(&h.finalize())
}

fn hash_part(h: &mut Sha256, part: &[u8]) {
    h.update((part.len() as u64).to_le_bytes());
    h.update(part);
}

/// The first 32 hex characters of a digest.
fn hex_prefix(digest: &[u8]) -> String {
    let mut s = hex::encode(&digest[..digest.len().min(16)]);
    s.truncate(32);
    s
}

/// sha256 over length-prefixed parts, hex, first 32 characters.
pub(crate) fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        hash_part(&mut h, p);
    }
    hex_prefix(&h.finalize())
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Map;
    use trustpath_event::{Format, SourceKind};

    fn evidence(secs: i64, line: u64, rule: usize) -> Evidence {
        let event = Event {
            time: Timestamp::from_second(secs).unwrap(),
            source: SourceKind::M365Audit,
            format: Format::UalJson,
            origin: Origin::file("a.json").with_line(line),
            fields: Map::new(),
        };
        Evidence {
            event: Arc::new(event),
            rule: RuleRef(rule),
            step: rule,
            via: None,
        }
    }

    /// The id as first specified: identities formatted one by one, sorted, joined.
    fn reference_id(p: &ResultParts) -> String {
        let mut ids: Vec<String> = p.evidence.iter().map(Evidence::identity).collect();
        ids.sort_unstable();
        ids.dedup();
        let group: Vec<String> = p.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        short_hash(&[
            p.correlation.as_bytes(),
            group.join("\u{1f}").as_bytes(),
            if p.partial { b"partial" } else { b"full" },
            ids.join("\n").as_bytes(),
        ])
    }

    #[test]
    fn result_id_matches_the_reference_formula() {
        let group: BTreeMap<String, String> = [("tp.tenant", "t1"), ("user", "u")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (partial, evidence) in [
            (
                false,
                vec![evidence(30, 9, 1), evidence(10, 10, 0), evidence(10, 10, 0)],
            ),
            (true, vec![evidence(5, 1, 2)]),
            (false, vec![]),
        ] {
            let parts = ResultParts {
                correlation: "c".into(),
                title: "t".into(),
                kind: CorrelationType::EventCount,
                group: group.clone(),
                captures: Captures::new(),
                partial,
                value: 1.0,
                evidence,
            };
            assert_eq!(result_id(&parts), reference_id(&parts));
        }
    }
}
