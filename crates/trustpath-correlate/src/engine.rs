//! The streaming engine: an event-time ordered buffer released by the watermark, timers
//! that close windows, the state budget, late events, and snapshots.
//!
//! Determinism: matched events wait in a queue ordered by (event time, origin, matched
//! rules, content). Only events strictly before the watermark (max event time seen −
//! lateness) are released, all events of one timestamp together, and window-closing
//! timers are interleaved with releases by time (a timer at `d` runs before events later
//! than `d`). Processing therefore sees one global order that does not depend on arrival
//! order, as long as no event is late. A late event (time < watermark on arrival) is
//! counted and listed, and not correlated: evaluating it against state that has moved on
//! would make results depend on arrival order. Batch mode (`lateness: None`) releases
//! nothing before [`Engine::finish`]: it appends events without any watermark work and
//! sorts them once there (only if they arrived out of order).
//!
//! Cost model (see `benches/correlate.rs`): events and timers that arrive in order go to
//! FIFO runs (O(1)); only out-of-order ones pay for a binary heap. The correlation set is
//! borrowed, not cloned, while the state is mutated, and an event's rule list is kept
//! inline, so the per-event path allocates only for new keys, new chains and results.

use crate::keyed::{
    CorrState, Entry, Input, KeyState, add, close_windows, eager_window, expire_front, group_key,
    group_map,
};
use crate::ordered::{expire_chains, ordered_step};
use crate::result::{CorrelationResult, EvictReason, Evicted, LateEvent};
use crate::spec::{CorrelationSet, CorrelationType, RuleRef};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use trustpath_event::Event;

/// Limits on correlation state; reaching one evicts with a counted, listed reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateBudget {
    /// Active group keys over all correlations.
    pub max_keys: usize,
    /// Buffered events per group key.
    pub max_events_per_key: usize,
    /// Late events kept in [`Engine::late_events`] (all are counted).
    pub max_late_events: usize,
    /// Evictions kept in [`Engine::evictions`] (all are counted).
    pub max_evictions_listed: usize,
}

impl Default for StateBudget {
    fn default() -> Self {
        StateBudget {
            max_keys: 1_000_000,
            max_events_per_key: 10_000,
            max_late_events: 10_000,
            max_evictions_listed: 10_000,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Allowed lateness in streaming mode; `None` = batch (sort everything at `finish`).
    pub lateness: Option<SignedDuration>,
    /// State limits.
    pub budget: StateBudget,
}

impl Default for EngineConfig {
    /// Streaming with 12 hours of allowed lateness.
    fn default() -> Self {
        EngineConfig {
            lateness: Some(SignedDuration::from_hours(12)),
            budget: StateBudget::default(),
        }
    }
}

impl EngineConfig {
    /// Batch mode (a hunt): no lateness limit.
    pub fn batch() -> Self {
        EngineConfig {
            lateness: None,
            budget: StateBudget::default(),
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Events pushed.
    pub events: u64,
    /// Events pushed that matched no rule any correlation uses.
    pub ignored: u64,
    /// (event, correlation step) inputs processed.
    pub inputs: u64,
    /// Inputs without a value for some group-by field (not grouped).
    pub ungrouped: u64,
    /// Late events (listed or not).
    pub late: u64,
    /// Late events counted but not listed (list full).
    pub late_unlisted: u64,
    /// Group keys evicted under the key budget.
    pub evicted_keys: u64,
    /// Buffered events dropped by evictions.
    pub evicted_events: u64,
    /// Evictions counted but not listed (list full).
    pub evictions_unlisted: u64,
    /// Results produced (reported or fed to outer correlations).
    pub results: u64,
    /// Partial chain results among them.
    pub partial_results: u64,
    /// Events waiting for the watermark.
    pub pending: u64,
    /// Active group keys.
    pub active_keys: u64,
    /// Current watermark (streaming).
    pub watermark: Option<Timestamp>,
}

/// Snapshot or restore failure.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// (De)serialization failed.
    #[error("correlation snapshot: {0}")]
    Json(#[from] serde_json::Error),
    /// The snapshot was taken with a different correlation set.
    #[error("correlation snapshot was taken with rule set {found}, this set is {expected}")]
    WrongRuleSet {
        /// Fingerprint of the current set.
        expected: String,
        /// Fingerprint in the snapshot.
        found: String,
    },
}

/// The rules an event matched that some correlation uses: almost always one, so it is
/// kept inline (no allocation per event). Serialized as a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<RuleRef>", into = "Vec<RuleRef>")]
enum RuleList {
    /// Exactly one rule.
    One(RuleRef),
    /// Any other number of rules.
    Many(Vec<RuleRef>),
}

impl RuleList {
    fn as_slice(&self) -> &[RuleRef] {
        match self {
            RuleList::One(r) => std::slice::from_ref(r),
            RuleList::Many(v) => v,
        }
    }
}

impl From<Vec<RuleRef>> for RuleList {
    fn from(v: Vec<RuleRef>) -> Self {
        match v[..] {
            [one] => RuleList::One(one),
            _ => RuleList::Many(v),
        }
    }
}

impl From<RuleList> for Vec<RuleRef> {
    fn from(r: RuleList) -> Self {
        match r {
            RuleList::One(one) => vec![one],
            RuleList::Many(v) => v,
        }
    }
}

/// A matched event waiting for the watermark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    event: Arc<Event>,
    rules: RuleList,
}

impl Eq for Pending {}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.event, &other.event);
        a.time
            .cmp(&b.time)
            .then_with(|| a.origin.cmp(&b.origin))
            .then_with(|| self.rules.as_slice().cmp(other.rules.as_slice()))
            .then_with(|| {
                if Arc::ptr_eq(a, b) {
                    Ordering::Equal
                } else {
                    let fa = serde_json::to_string(&a.fields).unwrap_or_default();
                    let fb = serde_json::to_string(&b.fields).unwrap_or_default();
                    fa.cmp(&fb)
                }
            })
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A window-closing timer (lazy: the key's real deadline is checked when it fires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Timer {
    at: Timestamp,
    corr: u32,
    slot: u32,
    generation: u32,
}

/// Everything a snapshot holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    fingerprint: String,
    /// Events that arrived in order (a sorted run: the common case costs O(1)).
    in_order: VecDeque<Pending>,
    /// Events that arrived out of order.
    pending: BinaryHeap<Reverse<Pending>>,
    /// Batch mode: `in_order` received events out of order and is sorted before use.
    #[serde(default)]
    unsorted: bool,
    max_seen: Option<Timestamp>,
    corrs: Vec<CorrState>,
    /// Timers created in order (the common case: O(1)); see [`State::push_timer`].
    #[serde(default)]
    timers_in_order: VecDeque<Timer>,
    /// Timers created out of order.
    timers: BinaryHeap<Reverse<Timer>>,
    late: Vec<LateEvent>,
    evictions: Vec<Evicted>,
    stats: EngineStats,
}

impl State {
    /// Streaming: keeps the waiting events ordered (a sorted run plus a heap).
    fn enqueue(&mut self, p: Pending) {
        if self.in_order.back().is_none_or(|last| *last <= p) {
            self.in_order.push_back(p);
        } else {
            self.pending.push(Reverse(p));
        }
    }

    /// Batch: appends; the run is sorted once before processing ([`State::sort_waiting`]).
    fn append(&mut self, p: Pending) {
        if self.in_order.back().is_some_and(|last| *last > p) {
            self.unsorted = true;
        }
        self.in_order.push_back(p);
    }

    /// Makes `in_order` one sorted run again after out-of-order batch appends.
    fn sort_waiting(&mut self) {
        if !self.unsorted {
            return;
        }
        self.in_order.extend(self.pending.drain().map(|r| r.0));
        self.in_order.make_contiguous().sort_unstable();
        self.unsorted = false;
    }

    /// Adds a timer: to the ordered run when it sorts last there, else to the heap.
    fn push_timer(&mut self, t: Timer) {
        if self.timers_in_order.back().is_none_or(|last| *last <= t) {
            self.timers_in_order.push_back(t);
        } else {
            self.timers.push(Reverse(t));
        }
    }

    /// The earliest timer.
    fn next_timer(&self) -> Option<Timer> {
        let a = self.timers_in_order.front().copied();
        let b = self.timers.peek().map(|r| r.0);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and returns the earliest timer.
    fn pop_timer(&mut self) -> Option<Timer> {
        let from_heap = match (self.timers_in_order.front(), self.timers.peek()) {
            (Some(a), Some(b)) => b.0 < *a,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if from_heap {
            self.timers.pop().map(|r| r.0)
        } else {
            self.timers_in_order.pop_front()
        }
    }

    /// Time of the earliest waiting event.
    fn next_time(&self) -> Option<Timestamp> {
        let a = self.in_order.front().map(|p| p.event.time);
        let b = self.pending.peek().map(|p| p.0.event.time);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and returns the earliest waiting event if it is at time `t`.
    fn pop_at(&mut self, t: Timestamp) -> Option<Pending> {
        let from_heap = match (self.in_order.front(), self.pending.peek()) {
            (Some(a), Some(b)) => b.0 < *a,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if from_heap {
            if self.pending.peek()?.0.event.time != t {
                return None;
            }
            self.pending.pop().map(|r| r.0)
        } else {
            if self.in_order.front()?.event.time != t {
                return None;
            }
            self.in_order.pop_front()
        }
    }
}

/// Per-correlation inputs of one processing step.
type Inputs = Vec<Vec<(u16, Input)>>;

/// The correlation engine. One engine owns the state of the group keys it is given;
/// partition events by group key (tenant) over several engines to scale out.
#[derive(Debug)]
pub struct Engine {
    set: Arc<CorrelationSet>,
    core: Core,
}

/// Everything but the (shared, read-only) correlation set, so processing can borrow the
/// set while it mutates the state.
#[derive(Debug)]
struct Core {
    cfg: EngineConfig,
    st: State,
    key_buf: String,
    inputs: Inputs,
    /// Results of one input, before they are emitted (reused: no allocation per result).
    produced: Vec<CorrelationResult>,
}

impl Engine {
    /// A new engine for `set`.
    pub fn new(set: Arc<CorrelationSet>, cfg: EngineConfig) -> Self {
        let n = set.correlations.len();
        let st = State {
            fingerprint: set.fingerprint(),
            corrs: vec![CorrState::default(); n],
            ..State::default()
        };
        Engine {
            set,
            core: Core::new(cfg, st, n),
        }
    }

    /// The correlation set.
    pub fn set(&self) -> &Arc<CorrelationSet> {
        &self.set
    }

    /// The watermark: latest event time seen minus the lateness (streaming only).
    pub fn watermark(&self) -> Option<Timestamp> {
        self.core.watermark()
    }

    /// Feeds one event with the ascending list of detection rules it matched; results
    /// whose windows are decided by the watermark are appended to `out`.
    pub fn push(
        &mut self,
        event: Arc<Event>,
        matched: &[RuleRef],
        out: &mut Vec<CorrelationResult>,
    ) {
        self.core.push(&self.set, event, matched, out);
    }

    /// Processes everything still buffered and closes every window.
    pub fn finish(&mut self, out: &mut Vec<CorrelationResult>) {
        self.core.advance(&self.set, None, out);
    }

    /// Late events (up to the budget; all are counted in [`EngineStats::late`]).
    pub fn late_events(&self) -> &[LateEvent] {
        &self.core.st.late
    }

    /// State evictions (up to the budget; all are counted).
    pub fn evictions(&self) -> &[Evicted] {
        &self.core.st.evictions
    }

    /// Counters and gauges.
    pub fn stats(&self) -> EngineStats {
        let st = &self.core.st;
        let mut s = st.stats.clone();
        s.pending = (st.pending.len() + st.in_order.len()) as u64;
        s.watermark = self.watermark();
        s
    }

    /// Approximate bytes of engine state (slots, keys, index, buffered entries, chains,
    /// timers, the queue of events waiting for the watermark), not counting the events
    /// themselves, which are shared with the caller.
    pub fn state_bytes(&self) -> usize {
        self.core.st.bytes()
    }

    /// Serializes the whole engine state (JSON).
    pub fn snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        Ok(serde_json::to_vec(&self.core.st)?)
    }

    /// An engine continuing from `bytes` (taken with the same correlation set).
    pub fn restore(
        set: Arc<CorrelationSet>,
        cfg: EngineConfig,
        bytes: &[u8],
    ) -> Result<Self, SnapshotError> {
        let st: State = serde_json::from_slice(bytes)?;
        let expected = set.fingerprint();
        if st.fingerprint != expected || st.corrs.len() != set.correlations.len() {
            return Err(SnapshotError::WrongRuleSet {
                expected,
                found: st.fingerprint,
            });
        }
        let n = set.correlations.len();
        Ok(Engine {
            set,
            core: Core::new(cfg, st, n),
        })
    }
}

impl State {
    /// See [`Engine::state_bytes`].
    fn bytes(&self) -> usize {
        use std::mem::size_of;
        let mut total = self.timers.capacity() * size_of::<Reverse<Timer>>()
            + self.timers_in_order.capacity() * size_of::<Timer>()
            + self.in_order.capacity() * size_of::<Pending>()
            + self.pending.capacity() * size_of::<Reverse<Pending>>();
        for cs in &self.corrs {
            total += cs.bytes();
        }
        total
    }
}

/// The rules of `matched` that some correlation uses.
fn used_rules(set: &CorrelationSet, matched: &[RuleRef]) -> Option<RuleList> {
    let mut used = matched.iter().copied().filter(|r| set.uses_rule(*r));
    let first = used.next()?;
    match used.next() {
        None => Some(RuleList::One(first)),
        Some(second) => {
            let mut all = vec![first, second];
            all.extend(used);
            Some(RuleList::Many(all))
        }
    }
}

impl Core {
    fn new(cfg: EngineConfig, st: State, correlations: usize) -> Self {
        Core {
            cfg,
            st,
            key_buf: String::new(),
            inputs: vec![Vec::new(); correlations],
            produced: Vec::new(),
        }
    }

    fn watermark(&self) -> Option<Timestamp> {
        let lateness = self.cfg.lateness?;
        let max = self.st.max_seen?;
        Some(max.saturating_sub(lateness).unwrap_or(Timestamp::MIN))
    }

    /// See [`Engine::push`].
    fn push(
        &mut self,
        set: &CorrelationSet,
        event: Arc<Event>,
        matched: &[RuleRef],
        out: &mut Vec<CorrelationResult>,
    ) {
        self.st.stats.events += 1;
        let Some(rules) = used_rules(set, matched) else {
            self.st.stats.ignored += 1;
            return;
        };
        if self.cfg.lateness.is_none() {
            // Batch: nothing is released before `finish`, so no watermark work.
            self.st.max_seen = Some(self.st.max_seen.map_or(event.time, |m| m.max(event.time)));
            self.st.append(Pending { event, rules });
            return;
        }
        if let Some(wm) = self.watermark()
            && event.time < wm
        {
            self.record_late(&event, rules.into(), wm);
            return;
        }
        self.st.max_seen = Some(self.st.max_seen.map_or(event.time, |m| m.max(event.time)));
        self.st.enqueue(Pending { event, rules });
        if let Some(wm) = self.watermark() {
            self.advance(set, Some(wm), out);
        }
    }

    fn record_late(&mut self, event: &Event, rules: Vec<RuleRef>, wm: Timestamp) {
        self.st.stats.late += 1;
        if self.st.late.len() >= self.cfg.budget.max_late_events {
            self.st.stats.late_unlisted += 1;
            return;
        }
        self.st.late.push(LateEvent {
            origin: event.origin.clone(),
            time: event.time,
            watermark: wm,
            late_by: wm.duration_since(event.time),
            rules,
        });
    }

    /// Releases events and fires timers strictly before `frontier` (all when `None`), in time order.
    fn advance(
        &mut self,
        set: &CorrelationSet,
        frontier: Option<Timestamp>,
        out: &mut Vec<CorrelationResult>,
    ) {
        self.st.sort_waiting();
        let before = |t: Timestamp| frontier.is_none_or(|f| t < f);
        loop {
            let slice = self.st.next_time().filter(|t| before(*t));
            let timer = self.st.next_timer().map(|t| t.at).filter(|t| before(*t));
            match (slice, timer) {
                (None, None) => break,
                (Some(t), Some(d)) if d < t => self.fire_timer(set, out),
                (Some(t), _) => self.release_slice(set, t, out),
                (None, Some(_)) => self.fire_timer(set, out),
            }
        }
    }

    /// Processes every pending event at time `t`.
    fn release_slice(
        &mut self,
        set: &CorrelationSet,
        t: Timestamp,
        out: &mut Vec<CorrelationResult>,
    ) {
        let mut inputs = std::mem::take(&mut self.inputs);
        while let Some(Pending { event, rules }) = self.st.pop_at(t) {
            let mut targets = rules
                .as_slice()
                .iter()
                .flat_map(|&rule| {
                    let consumers = set.rule_consumers.get(rule.0).into_iter().flatten();
                    consumers.map(move |&(c, step)| (c, step, rule))
                })
                .peekable();
            let mut event = Some(event);
            while let Some((c, step, rule)) = targets.next() {
                // The last consumer takes the event itself: no reference count traffic.
                let shared = if targets.peek().is_some() {
                    event.clone()
                } else {
                    event.take()
                };
                if let Some(event) = shared {
                    inputs[c as usize].push((step, Input::Event { event, rule }));
                }
            }
        }
        self.run(set, &mut inputs, 0, t, out);
        self.inputs = inputs;
    }

    /// Feeds `inputs` to correlations `from..` in dependency order at time `t`.
    fn run(
        &mut self,
        set: &CorrelationSet,
        inputs: &mut Inputs,
        from: usize,
        t: Timestamp,
        out: &mut Vec<CorrelationResult>,
    ) {
        let mut produced = std::mem::take(&mut self.produced);
        for c in from..set.correlations.len() {
            if inputs[c].is_empty() {
                continue;
            }
            let mut items = std::mem::take(&mut inputs[c]);
            if set.correlations[c].kind == CorrelationType::TemporalOrdered && items.len() > 1 {
                items.sort_by_key(|(step, _)| *step);
            }
            for (step, input) in items.drain(..) {
                self.st.stats.inputs += 1;
                self.process(
                    set,
                    c,
                    Entry {
                        time: t,
                        step,
                        input,
                    },
                    &mut produced,
                );
                for r in produced.drain(..) {
                    self.emit(set, c, r, inputs, out);
                }
            }
            inputs[c] = items;
        }
        self.produced = produced;
    }

    /// Counts a result, reports it if the set says so, and feeds outer correlations.
    fn emit(
        &mut self,
        set: &CorrelationSet,
        c: usize,
        r: CorrelationResult,
        inputs: &mut Inputs,
        out: &mut Vec<CorrelationResult>,
    ) {
        self.st.stats.results += 1;
        if r.partial {
            self.st.stats.partial_results += 1;
        }
        let consumers = &set.corr_consumers[c];
        let reported = set.is_reported(c);
        if !r.partial && !consumers.is_empty() {
            let shared = Arc::new(if reported { r.clone() } else { r });
            for &(outer, step) in consumers {
                inputs[outer as usize].push((step, Input::Result(shared.clone())));
            }
            if reported {
                out.push(CorrelationResult::clone(&shared));
            }
            return;
        }
        if reported {
            out.push(r);
        }
    }

    /// The slot of the current group key (`key_buf`) in correlation `c`, created (under
    /// the key budget) when new.
    fn slot_of_key(&mut self, set: &CorrelationSet, c: usize, at: Timestamp) -> u32 {
        if let Some(&slot) = self.st.corrs[c].index.get(self.key_buf.as_str()) {
            return slot;
        }
        if self.st.stats.active_keys as usize >= self.cfg.budget.max_keys {
            self.evict_one_key(set, at);
        }
        self.st.stats.active_keys += 1;
        self.st.corrs[c].insert_key(&self.key_buf)
    }

    /// One input of correlation `c`.
    fn process(
        &mut self,
        set: &CorrelationSet,
        c: usize,
        entry: Entry,
        produced: &mut Vec<CorrelationResult>,
    ) {
        let corr = &set.correlations[c];
        if !group_key(corr, &entry, &mut self.key_buf) {
            self.st.stats.ungrouped += 1;
            return;
        }
        let slot = self.slot_of_key(set, c, entry.time);
        let Some(ks) = self.st.corrs[c].state_mut(slot) else {
            return;
        };
        let time = entry.time;
        if corr.kind == CorrelationType::TemporalOrdered {
            ordered_step(corr, ks, entry, produced);
        } else if corr.is_eager() {
            eager_window(corr, ks, entry, produced);
        } else {
            close_windows(corr, ks, time, produced);
            ks.entries.push_back(entry);
        }
        self.enforce_event_budget(set, c, slot, time);
        self.settle(set, c, slot);
    }

    /// Drops the oldest buffered events of a key over the per-key budget.
    fn enforce_event_budget(&mut self, set: &CorrelationSet, c: usize, slot: u32, at: Timestamp) {
        let max = self.cfg.budget.max_events_per_key.max(1);
        let corr = &set.correlations[c];
        let Some(ks) = self.st.corrs[c].state_mut(slot) else {
            return;
        };
        if ks.buffered() <= max {
            return;
        }
        let mut dropped = 0;
        let first_origin = ks.oldest_origin();
        while ks.buffered() > max {
            if ks.entries.pop_front().is_none() && !ks.chains.is_empty() {
                let chain = ks.chains.remove(0);
                dropped += chain.entries.len();
                continue;
            }
            dropped += 1;
        }
        let group = group_map(corr, &ks.key);
        self.record_eviction(Evicted {
            correlation: corr.id.clone(),
            group,
            reason: EvictReason::EventBudget,
            events: dropped,
            first_origin,
            at,
        });
    }

    /// Evicts the group key whose timer is due first (deterministic, close to LRU).
    fn evict_one_key(&mut self, set: &CorrelationSet, at: Timestamp) {
        while let Some(timer) = self.st.pop_timer() {
            let cs = &mut self.st.corrs[timer.corr as usize];
            let valid = cs
                .slots
                .get(timer.slot as usize)
                .is_some_and(|s| s.generation == timer.generation && s.state.is_some());
            if !valid {
                continue;
            }
            let Some(ks) = cs.release(timer.slot) else {
                continue;
            };
            self.st.stats.active_keys = self.st.stats.active_keys.saturating_sub(1);
            self.st.stats.evicted_keys += 1;
            let corr = &set.correlations[timer.corr as usize];
            self.record_eviction(Evicted {
                correlation: corr.id.clone(),
                group: group_map(corr, &ks.key),
                reason: EvictReason::KeyBudget,
                events: ks.buffered(),
                first_origin: ks.oldest_origin(),
                at,
            });
            return;
        }
    }

    fn record_eviction(&mut self, e: Evicted) {
        self.st.stats.evicted_events += e.events as u64;
        if self.st.evictions.len() >= self.cfg.budget.max_evictions_listed {
            self.st.stats.evictions_unlisted += 1;
        } else {
            self.st.evictions.push(e);
        }
    }

    /// Frees an empty key, or makes sure it has a timer.
    fn settle(&mut self, set: &CorrelationSet, c: usize, slot: u32) {
        let corr = &set.correlations[c];
        let cs = &mut self.st.corrs[c];
        let generation = cs.slots.get(slot as usize).map_or(0, |s| s.generation);
        let Some(ks) = cs.state_mut(slot) else {
            return;
        };
        if ks.is_empty() {
            cs.release(slot);
            self.st.stats.active_keys = self.st.stats.active_keys.saturating_sub(1);
            return;
        }
        if ks.timer_at.is_none()
            && let Some(at) = ks.deadline(corr)
        {
            ks.timer_at = Some(at);
            self.st.push_timer(Timer {
                at,
                corr: c as u32,
                slot,
                generation,
            });
        }
    }

    /// Runs the earliest timer: closes the windows of its key that end at or before it.
    fn fire_timer(&mut self, set: &CorrelationSet, out: &mut Vec<CorrelationResult>) {
        let Some(timer) = self.st.pop_timer() else {
            return;
        };
        let c = timer.corr as usize;
        let corr = &set.correlations[c];
        let slot_ok = self.st.corrs[c]
            .slots
            .get(timer.slot as usize)
            .is_some_and(|s| s.generation == timer.generation);
        if !slot_ok {
            return;
        }
        let Some(ks) = self.st.corrs[c].state_mut(timer.slot) else {
            return;
        };
        ks.timer_at = None;
        let mut produced = Vec::new();
        if ks.deadline(corr).is_some_and(|real| real <= timer.at) {
            close_key(
                corr,
                ks,
                add(timer.at, SignedDuration::from_nanos(1)),
                &mut produced,
            );
        }
        self.settle(set, c, timer.slot);
        if produced.is_empty() {
            return;
        }
        let mut inputs = std::mem::take(&mut self.inputs);
        for r in produced {
            self.emit(set, c, r, &mut inputs, out);
        }
        self.run(set, &mut inputs, c + 1, timer.at, out);
        self.inputs = inputs;
    }
}

/// Closes what a key can no longer extend with events at or after `before`.
fn close_key(
    corr: &crate::spec::Correlation,
    ks: &mut KeyState,
    before: Timestamp,
    out: &mut Vec<CorrelationResult>,
) {
    if corr.kind == CorrelationType::TemporalOrdered {
        expire_chains(corr, ks, before, out);
    } else if corr.is_eager() {
        expire_front(corr, ks, before);
    } else {
        close_windows(corr, ks, before, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn timer(secs: i64, slot: u32) -> Timer {
        Timer {
            at: Timestamp::from_second(secs).unwrap(),
            corr: 0,
            slot,
            generation: 1,
        }
    }

    #[test]
    fn timers_pop_in_order_whatever_the_push_order() {
        let mut st = State::default();
        let pushed = [5, 7, 7, 3, 9, 1, 7, 12, 2];
        for (i, secs) in pushed.iter().enumerate() {
            st.push_timer(timer(*secs, i as u32));
        }
        assert!(!st.timers.is_empty() && !st.timers_in_order.is_empty());
        let mut expected: Vec<Timer> = pushed
            .iter()
            .enumerate()
            .map(|(i, s)| timer(*s, i as u32))
            .collect();
        expected.sort();
        let mut popped = Vec::new();
        while let Some(next) = st.next_timer() {
            assert_eq!(st.pop_timer(), Some(next));
            popped.push(next);
        }
        assert_eq!(popped, expected);
    }

    #[test]
    fn rule_lists_serialize_as_lists() {
        for rules in [vec![RuleRef(3)], vec![RuleRef(1), RuleRef(2)], vec![]] {
            let list = RuleList::from(rules.clone());
            assert_eq!(list.as_slice(), &rules[..]);
            let json = serde_json::to_string(&list).unwrap();
            assert_eq!(json, serde_json::to_string(&rules).unwrap());
            assert_eq!(serde_json::from_str::<RuleList>(&json).unwrap(), list);
        }
    }
}
