//! Keyed state of one correlation: group keys interned into slots, each holding the
//! buffered entries (sliding windows) or chains (`temporal_ordered`) of that group.
//!
//! Window rules (event time, inclusive): two events belong to one window when their
//! times differ by at most `timespan`. Eager correlations (monotone metric, lower bounds
//! only) test the window that ends at each arriving event and fire as soon as the
//! condition holds; the others test the window anchored at each buffered event when it
//! closes (no later event can still fall into it). A firing window's events are consumed.

use crate::chain::{Captures, capture_into, scalar};
use crate::result::{CorrelationResult, Evidence, ResultParts};
use crate::spec::{Correlation, CorrelationType, RuleRef};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use trustpath_event::Event;

/// What reached a correlation step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    /// An event that matched a detection rule.
    Event {
        /// The event.
        event: Arc<Event>,
        /// The rule it matched.
        rule: RuleRef,
    },
    /// A result of an inner correlation.
    Result(Arc<CorrelationResult>),
}

/// One buffered input with its (processing) time and step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub time: Timestamp,
    pub step: u16,
    pub input: Input,
}

impl Entry {
    /// The event fields are read from: the event itself, or an inner result's last event.
    pub fn anchor(&self) -> Option<&Event> {
        match &self.input {
            Input::Event { event, .. } => Some(event),
            Input::Result(r) => r.evidence.last().map(|e| &*e.event),
        }
    }

    /// Appends this entry's evidence to `out`, cloning the event handle.
    fn evidence_into(&self, out: &mut Vec<Evidence>) {
        match &self.input {
            Input::Event { event, rule } => out.push(Evidence {
                event: event.clone(),
                rule: *rule,
                step: usize::from(self.step),
                via: None,
            }),
            Input::Result(r) => self.result_evidence_into(r, out),
        }
    }

    /// Appends this entry's evidence to `out`, moving the event handle (no reference
    /// count traffic on the shared event).
    fn into_evidence(self, out: &mut Vec<Evidence>) {
        match self.input {
            Input::Event { event, rule } => out.push(Evidence {
                event,
                rule,
                step: usize::from(self.step),
                via: None,
            }),
            Input::Result(ref r) => self.result_evidence_into(r, out),
        }
    }

    /// The evidence of an inner result, re-labelled with this entry's step.
    fn result_evidence_into(&self, r: &CorrelationResult, out: &mut Vec<Evidence>) {
        let step = usize::from(self.step);
        out.extend(r.evidence.iter().map(|e| Evidence {
            step,
            via: e.via.clone().or_else(|| Some(r.correlation.clone())),
            ..e.clone()
        }));
    }

    /// Calls `f` with every value of group-by name / field `name` for this entry.
    pub fn for_each_value(&self, corr: &Correlation, name: &str, f: &mut dyn FnMut(&Value)) {
        let field = corr.group_field(name, usize::from(self.step));
        if let Input::Result(r) = &self.input
            && let Some(v) = r.group.get(name).or_else(|| r.group.get(field))
        {
            f(&Value::String(v.clone()));
            return;
        }
        if let Some(e) = self.anchor() {
            e.for_each_value(field, &mut |v| f(v));
        }
    }
}

/// A partial or complete ordered chain inside one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Chain {
    pub entries: Vec<Entry>,
    pub key: Option<Vec<String>>,
}

/// State of one group key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyState {
    pub key: Arc<str>,
    pub entries: VecDeque<Entry>,
    pub chains: Vec<Chain>,
    pub timer_at: Option<Timestamp>,
}

impl KeyState {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.chains.is_empty()
    }

    pub fn buffered(&self) -> usize {
        self.entries.len() + self.chains.iter().map(|c| c.entries.len()).sum::<usize>()
    }

    pub fn oldest_origin(&self) -> Option<trustpath_event::Origin> {
        self.entries
            .front()
            .or_else(|| self.chains.first().and_then(|c| c.entries.first()))
            .and_then(Entry::anchor)
            .map(|e| e.origin.clone())
    }

    /// When the state next needs attention (a window closes or everything expires).
    pub fn deadline(&self, corr: &Correlation) -> Option<Timestamp> {
        let first = if corr.kind == CorrelationType::TemporalOrdered {
            self.chains
                .iter()
                .filter_map(|c| c.entries.first())
                .map(|e| e.time)
                .min()
        } else if corr.is_eager() {
            self.entries.back().map(|e| e.time)
        } else {
            self.entries.front().map(|e| e.time)
        };
        first.map(|t| add(t, corr.timespan))
    }
}

/// A slot in the slab; `generation` tells stale timers apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Slot {
    pub generation: u32,
    pub state: Option<KeyState>,
}

/// FNV-1a: group keys are short strings; SipHash's DoS resistance is not needed for
/// a map whose size the state budget bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// All keys of one correlation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CorrState {
    pub index: HashMap<Arc<str>, u32, std::hash::BuildHasherDefault<Fnv>>,
    pub slots: Vec<Slot>,
    pub free: Vec<u32>,
}

impl CorrState {
    pub fn state_mut(&mut self, slot: u32) -> Option<&mut KeyState> {
        self.slots
            .get_mut(slot as usize)
            .and_then(|s| s.state.as_mut())
    }

    /// Allocates a slot for `key`, which must not be in the index yet.
    pub fn insert_key(&mut self, key: &str) -> u32 {
        let key: Arc<str> = Arc::from(key);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            (self.slots.len() - 1) as u32
        });
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.generation = s.generation.wrapping_add(1);
            s.state = Some(KeyState {
                key: key.clone(),
                entries: VecDeque::new(),
                chains: Vec::new(),
                timer_at: None,
            });
        }
        self.index.insert(key, slot);
        slot
    }

    /// Approximate bytes: slots, index, interned keys, buffered entries and chains.
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        let mut total = self.slots.capacity() * size_of::<Slot>()
            + self.free.capacity() * size_of::<u32>()
            + self.index.capacity() * (size_of::<Arc<str>>() + size_of::<u32>() + 8);
        for ks in self.slots.iter().filter_map(|s| s.state.as_ref()) {
            total += ks.key.len() + 16;
            total += ks.entries.capacity() * size_of::<Entry>();
            total += ks.chains.capacity() * size_of::<Chain>();
            total += ks
                .chains
                .iter()
                .map(|c| c.entries.capacity() * size_of::<Entry>())
                .sum::<usize>();
        }
        total
    }

    /// Frees a slot and returns its state.
    pub fn release(&mut self, slot: u32) -> Option<KeyState> {
        let state = self.slots.get_mut(slot as usize)?.state.take()?;
        self.index.remove(&state.key);
        self.free.push(slot);
        Some(state)
    }
}

/// `t + d`, saturating at the end of time.
pub(crate) fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// The group map of a key string.
pub(crate) fn group_map(corr: &Correlation, key: &str) -> BTreeMap<String, String> {
    if corr.group_by.is_empty() {
        return BTreeMap::new();
    }
    // Inserting one by one: `collect` would first gather the pairs in a Vec.
    let mut group = BTreeMap::new();
    for (name, value) in corr.group_by.iter().zip(key.split(KEY_SEPARATOR)) {
        group.insert(name.clone(), value.to_owned());
    }
    group
}

/// Separates group-by values in a key string.
pub(crate) const KEY_SEPARATOR: char = '\u{1f}';

/// Writes the group key of `entry` into `buf`; `false` when a group-by field is missing.
pub(crate) fn group_key(corr: &Correlation, entry: &Entry, buf: &mut String) -> bool {
    buf.clear();
    for (i, name) in corr.group_by.iter().enumerate() {
        if i > 0 {
            buf.push(KEY_SEPARATOR);
        }
        let mut found = false;
        entry.for_each_value(corr, name, &mut |v| {
            if !found && let Some(s) = scalar_ref(v) {
                buf.push_str(&s);
                found = true;
            }
        });
        if !found {
            return false;
        }
    }
    true
}

fn scalar_ref(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        other => scalar(other).map(std::borrow::Cow::Owned),
    }
}

fn numeric(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The metric a window's condition is tested on; `None` when it is undefined
/// (e.g. the average of no numeric values).
pub(crate) fn metric<'a>(
    corr: &Correlation,
    entries: impl Iterator<Item = &'a Entry>,
) -> Option<f64> {
    let field = corr.condition.field.as_deref().unwrap_or("");
    match corr.kind {
        CorrelationType::EventCount => Some(entries.count() as f64),
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            let steps: BTreeSet<u16> = entries.map(|e| e.step).collect();
            Some(steps.len() as f64)
        }
        CorrelationType::ValueCount => {
            let mut seen = BTreeSet::new();
            for e in entries {
                e.for_each_value(corr, field, &mut |v| {
                    if let Some(s) = scalar(v) {
                        seen.insert(s);
                    }
                });
            }
            Some(seen.len() as f64)
        }
        _ => {
            let mut values = Vec::new();
            for e in entries {
                e.for_each_value(corr, field, &mut |v| values.extend(numeric(v)));
            }
            aggregate(corr, values)
        }
    }
}

fn aggregate(corr: &Correlation, mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    match corr.kind {
        CorrelationType::ValueSum => Some(values.iter().sum()),
        CorrelationType::ValueAvg => Some(values.iter().sum::<f64>() / n),
        CorrelationType::ValueMedian => Some(percentile(&mut values, 50.0)),
        _ => Some(percentile(
            &mut values,
            corr.condition.percentile.unwrap_or(50.0),
        )),
    }
}

/// Linear interpolation between closest ranks (`p` in 0..=100).
pub(crate) fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (p / 100.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (a, b) = (values[lo], values[hi.min(values.len() - 1)]);
    a + (b - a) * (rank - lo as f64)
}

/// An entry that becomes evidence: borrowed entries are cloned, owned ones moved.
pub(crate) trait IntoEvidence {
    /// Appends the evidence to `out`.
    fn push_evidence(self, out: &mut Vec<Evidence>);
}

impl IntoEvidence for &Entry {
    fn push_evidence(self, out: &mut Vec<Evidence>) {
        self.evidence_into(out);
    }
}

impl IntoEvidence for Entry {
    fn push_evidence(self, out: &mut Vec<Evidence>) {
        self.into_evidence(out);
    }
}

/// Builds a result from entries (borrowed or owned; see [`IntoEvidence`]).
pub(crate) fn make_result<E: IntoEvidence>(
    corr: &Correlation,
    key: &str,
    entries: impl Iterator<Item = E>,
    captures: Captures,
    partial: bool,
    value: f64,
) -> CorrelationResult {
    let mut evidence = Vec::with_capacity(entries.size_hint().0);
    for e in entries {
        e.push_evidence(&mut evidence);
    }
    CorrelationResult::build(ResultParts {
        correlation: corr.id.clone(),
        title: corr.title.clone(),
        kind: corr.kind,
        group: group_map(corr, key),
        captures,
        partial,
        value,
        evidence,
    })
}

/// Eager window: drop expired entries, add, fire when the condition holds.
pub(crate) fn eager_window(
    corr: &Correlation,
    ks: &mut KeyState,
    entry: Entry,
    out: &mut Vec<CorrelationResult>,
) {
    expire_front(corr, ks, entry.time);
    ks.entries.push_back(entry);
    let value = if corr.kind == CorrelationType::EventCount {
        Some(ks.entries.len() as f64)
    } else {
        metric(corr, ks.entries.iter())
    };
    if let Some(v) = value
        && corr.condition.holds(v)
    {
        out.push(make_result(
            corr,
            &ks.key,
            ks.entries.drain(..),
            Captures::new(),
            false,
            v,
        ));
    }
}

/// Drops entries that can no longer share a window with an event at `before`.
pub(crate) fn expire_front(corr: &Correlation, ks: &mut KeyState, before: Timestamp) {
    while ks
        .entries
        .front()
        .is_some_and(|e| add(e.time, corr.timespan) < before)
    {
        ks.entries.pop_front();
    }
}

/// Closing windows: evaluates every window anchored at a buffered event that ends
/// before `before`; a window that holds fires and consumes its events.
pub(crate) fn close_windows(
    corr: &Correlation,
    ks: &mut KeyState,
    before: Timestamp,
    out: &mut Vec<CorrelationResult>,
) {
    while let Some(front) = ks.entries.front() {
        let end = add(front.time, corr.timespan);
        if end >= before {
            break;
        }
        let n = ks.entries.iter().take_while(|e| e.time <= end).count();
        match metric(corr, ks.entries.range(..n)) {
            Some(v) if corr.condition.holds(v) => {
                out.push(make_result(
                    corr,
                    &ks.key,
                    ks.entries.drain(..n),
                    Captures::new(),
                    false,
                    v,
                ));
            }
            _ => {
                ks.entries.pop_front();
            }
        }
    }
}

/// Captures of a chain (from every entry's step captures).
pub(crate) fn chain_captures(corr: &Correlation, chain: &Chain) -> Captures {
    let mut caps = Captures::new();
    if let Some(spec) = &corr.chain {
        for e in &chain.entries {
            if let (Some(fields), Some(ev)) = (spec.captures.get(usize::from(e.step)), e.anchor()) {
                capture_into(fields, ev, &mut caps);
            }
        }
    }
    caps
}
