//! What the engine reports: correlation results with evidence, and evictions.

use crate::chain::Captures;
use crate::spec::{CorrelationType, RuleRef};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
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
    /// This evidence's identity as text: time, origin, rule (the parts the result id
    /// hashes, in binary).
    pub fn identity(&self) -> String {
        format!("{}|{}|{}", self.event.time, self.event.origin, self.rule.0)
    }
}

/// A correlation that fired (or, with `partial`, a chain that closed incomplete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationResult {
    /// Stable id: sha256 of correlation id, group, partial flag and the sorted evidence
    /// identities (time, origin, rule), hashed as bytes; hex, 32 characters. The same
    /// input gives the same id whatever the arrival order and engine count.
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

/// Tag hashed first into every result id; changes whenever the formula below does.
const RESULT_ID_FORMULA: &[u8] = b"trustpath-result-id/2";

/// The result id: sha256 over the formula tag, the correlation id, the group (pair
/// count, then each name and value), the partial flag and the evidence identities
/// (time, origin, rule) sorted and deduplicated; hex, first 32 characters.
///
/// Everything is hashed as bytes, field by field: timestamps as seconds and
/// nanoseconds, origins part by part, strings length-prefixed, so no text is formatted
/// and nothing is allocated unless the evidence arrives out of identity order. The
/// encoding is injective (fixed-width integers, length-prefixed strings), so distinct
/// inputs hash distinct byte strings.
fn result_id(p: &ResultParts) -> String {
    let mut h = Sha256::new();
    hash_part(&mut h, RESULT_ID_FORMULA);
    hash_part(&mut h, p.correlation.as_bytes());
    h.update((p.group.len() as u64).to_le_bytes());
    for (name, value) in &p.group {
        hash_part(&mut h, name.as_bytes());
        hash_part(&mut h, value.as_bytes());
    }
    h.update([u8::from(p.partial)]);
    hash_identities(&mut h, &p.evidence);
    hex_prefix(&h.finalize())
}

/// The order of evidence identities: event time, origin, rule.
fn identity_cmp(a: &Evidence, b: &Evidence) -> Ordering {
    a.event
        .time
        .cmp(&b.event.time)
        .then_with(|| a.event.origin.cmp(&b.event.origin))
        .then_with(|| a.rule.cmp(&b.rule))
}

/// Hashes the distinct identities of `evidence` in [`identity_cmp`] order. Evidence
/// is usually already strictly ordered (results list it by time): then it is hashed in
/// place; otherwise references are sorted and deduplicated first.
fn hash_identities(h: &mut Sha256, evidence: &[Evidence]) {
    let strictly_ordered = evidence
        .windows(2)
        .all(|w| identity_cmp(&w[0], &w[1]) == Ordering::Less);
    if strictly_ordered {
        h.update((evidence.len() as u64).to_le_bytes());
        for e in evidence {
            hash_identity(h, e);
        }
        return;
    }
    let mut sorted: Vec<&Evidence> = evidence.iter().collect();
    sorted.sort_unstable_by(|a, b| identity_cmp(a, b));
    sorted.dedup_by(|a, b| identity_cmp(a, b) == Ordering::Equal);
    h.update((sorted.len() as u64).to_le_bytes());
    for e in sorted {
        hash_identity(h, e);
    }
}

/// One identity as bytes: seconds (i64), nanoseconds (i32), rule (u64), then per
/// origin part (line, offset, record) a presence byte and a u64, then the file name,
/// length-prefixed.
fn hash_identity(h: &mut Sha256, e: &Evidence) {
    const LEN: usize = 8 + 4 + 8 + 3 * 9;
    let origin = &e.event.origin;
    let mut fixed = [0u8; LEN];
    fixed[..8].copy_from_slice(&e.event.time.as_second().to_le_bytes());
    fixed[8..12].copy_from_slice(&e.event.time.subsec_nanosecond().to_le_bytes());
    fixed[12..20].copy_from_slice(&(e.rule.0 as u64).to_le_bytes());
    for (i, part) in [origin.line, origin.offset, origin.record]
        .into_iter()
        .enumerate()
    {
        let at = 20 + 9 * i;
        fixed[at] = u8::from(part.is_some());
        fixed[at + 1..at + 9].copy_from_slice(&part.unwrap_or(0).to_le_bytes());
    }
    h.update(fixed);
    hash_part(h, origin.file.as_bytes());
}

fn hash_part(h: &mut Sha256, part: &[u8]) {
    h.update((part.len() as u64).to_le_bytes());
    h.update(part);
}

/// The first 32 hex characters of a digest.
fn hex_prefix(digest: &[u8]) -> String {
    let bytes = &digest[..digest.len().min(16)];
    let mut buf = [0u8; 32];
    let text = &mut buf[..bytes.len() * 2];
    // The buffer is exactly twice the input, and hex digits are ASCII: neither fails.
    match hex::encode_to_slice(bytes, text).map(|()| std::str::from_utf8(text)) {
        Ok(Ok(hex)) => hex.to_owned(),
        _ => hex::encode(bytes),
    }
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
    use trustpath_event::{Format, SourceKind};

    fn evidence(secs: i64, line: u64, rule: usize) -> Evidence {
        let event = Event {
            time: Timestamp::from_second(secs).unwrap(),
            source: SourceKind::M365Audit,
            format: Format::UalJson,
            origin: Origin::file("a.json").with_line(line),
            fields: Default::default(),
            keys: Default::default(),
        };
        Evidence {
            event: Arc::new(event),
            rule: RuleRef(rule),
            step: rule,
            via: None,
        }
    }

    fn parts(group: &[(&str, &str)], partial: bool, evidence: Vec<Evidence>) -> ResultParts {
        ResultParts {
            correlation: "c".into(),
            title: "t".into(),
            kind: CorrelationType::EventCount,
            group: group
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            captures: Captures::new(),
            partial,
            value: 1.0,
            evidence,
        }
    }

    const GROUP: &[(&str, &str)] = &[("tp.tenant", "t1"), ("user", "u")];

    #[test]
    fn ids_ignore_evidence_order_and_duplicates() {
        let a = evidence(10, 10, 0);
        let b = evidence(10, 11, 0);
        let c = evidence(30, 9, 1);
        let expected = result_id(&parts(GROUP, false, vec![a.clone(), b.clone(), c.clone()]));
        for evidence in [
            vec![c.clone(), b.clone(), a.clone()],
            vec![b.clone(), a.clone(), c.clone()],
            vec![a.clone(), c.clone(), a.clone(), b.clone(), c.clone()],
        ] {
            assert_eq!(result_id(&parts(GROUP, false, evidence)), expected);
        }
    }

    #[test]
    fn every_identity_part_changes_the_id() {
        let base = evidence(10, 10, 0);
        let with = |f: &dyn Fn(&mut Event)| {
            let mut event = (*base.event).clone();
            f(&mut event);
            Evidence {
                event: Arc::new(event),
                ..base.clone()
            }
        };
        let variants = [
            base.clone(),
            with(&|e| e.time = Timestamp::new(10, 1).unwrap()),
            with(&|e| e.time = Timestamp::from_second(11).unwrap()),
            with(&|e| e.origin.line = Some(11)),
            with(&|e| e.origin.line = None),
            with(&|e| {
                e.origin.line = None;
                e.origin.offset = Some(10);
            }),
            with(&|e| e.origin.record = Some(10)),
            with(&|e| e.origin.file = Arc::from("b.json")),
            Evidence {
                rule: RuleRef(1),
                ..base.clone()
            },
        ];
        let mut ids: Vec<String> = variants
            .iter()
            .map(|e| result_id(&parts(GROUP, false, vec![e.clone()])))
            .collect();
        ids.push(result_id(&parts(GROUP, true, vec![base.clone()])));
        ids.push(result_id(&parts(
            &[("tp.tenant", "t1")],
            false,
            vec![base.clone()],
        )));
        ids.push(result_id(&parts(
            &[("tp.tenant", "t1u")],
            false,
            vec![base.clone()],
        )));
        ids.push(result_id(&parts(
            &[("tp.tenan", "tt1")],
            false,
            vec![base.clone()],
        )));
        ids.push(result_id(&parts(GROUP, false, vec![])));
        ids.push(result_id(&parts(
            GROUP,
            false,
            vec![base.clone(), variants[1].clone()],
        )));
        let mut other_correlation = parts(GROUP, false, vec![base.clone()]);
        other_correlation.correlation = "d".into();
        ids.push(result_id(&other_correlation));
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:#?}");
    }

    #[test]
    fn ids_are_32_lowercase_hex_and_pinned() {
        let id = result_id(&parts(
            GROUP,
            false,
            vec![evidence(30, 9, 1), evidence(10, 10, 0)],
        ));
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        // Pinned: a change here changes every stored result id; bump
        // `RESULT_ID_FORMULA` when that is intended.
        assert_eq!(id, "ebfc535d606300e5d1e3d7366b80920a");
    }
}
