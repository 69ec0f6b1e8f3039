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
//! nothing before [`Engine::finish`].

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

/// A matched event waiting for the watermark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    event: Arc<Event>,
    rules: Vec<RuleRef>,
}

impl Eq for Pending {}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.event, &other.event);
        a.time
            .cmp(&b.time)
            .then_with(|| a.origin.cmp(&b.origin))
            .then_with(|| self.rules.cmp(&other.rules))
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
    max_seen: Option<Timestamp>,
    corrs: Vec<CorrState>,
    timers: BinaryHeap<Reverse<Timer>>,
    late: Vec<LateEvent>,
    evictions: Vec<Evicted>,
    stats: EngineStats,
}

impl State {
    fn enqueue(&mut self, p: Pending) {
        if self.in_order.back().is_none_or(|last| *last <= p) {
            self.in_order.push_back(p);
        } else {
            self.pending.push(Reverse(p));
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
    cfg: EngineConfig,
    st: State,
    key_buf: String,
    inputs: Inputs,
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
            cfg,
            st,
            key_buf: String::new(),
            inputs: vec![Vec::new(); n],
        }
    }

    /// The correlation set.
    pub fn set(&self) -> &Arc<CorrelationSet> {
        &self.set
    }

    /// The watermark: latest event time seen minus the lateness (streaming only).
    pub fn watermark(&self) -> Option<Timestamp> {
        let lateness = self.cfg.lateness?;
        let max = self.st.max_seen?;
        Some(max.saturating_sub(lateness).unwrap_or(Timestamp::MIN))
    }

    /// Feeds one event with the ascending list of detection rules it matched; results
    /// whose windows are decided by the watermark are appended to `out`.
    pub fn push(
        &mut self,
        event: Arc<Event>,
        matched: &[RuleRef],
        out: &mut Vec<CorrelationResult>,
    ) {
        self.st.stats.events += 1;
        let rules: Vec<RuleRef> = matched
            .iter()
            .copied()
            .filter(|r| self.set.uses_rule(*r))
            .collect();
        if rules.is_empty() {
            self.st.stats.ignored += 1;
            return;
        }
        if let Some(wm) = self.watermark()
            && event.time < wm
        {
            self.record_late(&event, rules, wm);
            return;
        }
        self.st.max_seen = Some(self.st.max_seen.map_or(event.time, |m| m.max(event.time)));
        self.st.enqueue(Pending { event, rules });
        if let Some(wm) = self.watermark() {
            self.advance(Some(wm), out);
        }
    }

    /// Processes everything still buffered and closes every window.
    pub fn finish(&mut self, out: &mut Vec<CorrelationResult>) {
        self.advance(None, out);
    }

    /// Late events (up to the budget; all are counted in [`EngineStats::late`]).
    pub fn late_events(&self) -> &[LateEvent] {
        &self.st.late
    }

    /// State evictions (up to the budget; all are counted).
    pub fn evictions(&self) -> &[Evicted] {
        &self.st.evictions
    }

    /// Counters and gauges.
    pub fn stats(&self) -> EngineStats {
        let mut s = self.st.stats.clone();
        s.pending = (self.st.pending.len() + self.st.in_order.len()) as u64;
        s.watermark = self.watermark();
        s
    }

    /// Approximate bytes of keyed state (slots, keys, buffered entries, timers), not
    /// counting the events themselves, which are shared with the caller.
    pub fn state_bytes(&self) -> usize {
        use std::mem::size_of;
        let mut total = self.st.timers.capacity() * size_of::<Reverse<Timer>>();
        for cs in &self.st.corrs {
            total += cs.slots.capacity() * size_of::<crate::keyed::Slot>();
            total += cs.index.capacity() * (size_of::<Arc<str>>() + size_of::<u32>() + 8);
            for slot in &cs.slots {
                if let Some(ks) = &slot.state {
                    total += ks.key.len() + 16;
                    total += ks.entries.capacity() * size_of::<Entry>();
                    total += ks.chains.capacity() * size_of::<crate::keyed::Chain>();
                    total += ks
                        .chains
                        .iter()
                        .map(|c| c.entries.capacity() * size_of::<Entry>())
                        .sum::<usize>();
                }
            }
        }
        total
    }

    /// Serializes the whole engine state (JSON).
    pub fn snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        Ok(serde_json::to_vec(&self.st)?)
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
            cfg,
            st,
            key_buf: String::new(),
            inputs: vec![Vec::new(); n],
        })
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
    fn advance(&mut self, frontier: Option<Timestamp>, out: &mut Vec<CorrelationResult>) {
        let before = |t: Timestamp| frontier.is_none_or(|f| t < f);
        loop {
            let slice = self.st.next_time().filter(|t| before(*t));
            let timer = self.st.timers.peek().map(|t| t.0.at).filter(|t| before(*t));
            match (slice, timer) {
                (None, None) => break,
                (Some(t), Some(d)) if d < t => self.fire_timer(out),
                (Some(t), _) => self.release_slice(t, out),
                (None, Some(_)) => self.fire_timer(out),
            }
        }
    }

    /// Processes every pending event at time `t`.
    fn release_slice(&mut self, t: Timestamp, out: &mut Vec<CorrelationResult>) {
        let mut inputs = std::mem::take(&mut self.inputs);
        while let Some(p) = self.st.pop_at(t) {
            for &rule in &p.rules {
                for &(c, step) in self.set.rule_consumers.get(rule.0).into_iter().flatten() {
                    inputs[c as usize].push((
                        step,
                        Input::Event {
                            event: p.event.clone(),
                            rule,
                        },
                    ));
                }
            }
        }
        self.run(&mut inputs, 0, t, out);
        self.inputs = inputs;
    }

    /// Feeds `inputs` to correlations `from..` in dependency order at time `t`.
    fn run(
        &mut self,
        inputs: &mut Inputs,
        from: usize,
        t: Timestamp,
        out: &mut Vec<CorrelationResult>,
    ) {
        let set = self.set.clone();
        let mut produced = Vec::new();
        for c in from..set.correlations.len() {
            if inputs[c].is_empty() {
                continue;
            }
            let mut items = std::mem::take(&mut inputs[c]);
            if set.correlations[c].kind == CorrelationType::TemporalOrdered {
                items.sort_by_key(|(step, _)| *step);
            }
            for (step, input) in items.drain(..) {
                self.st.stats.inputs += 1;
                self.process(
                    c,
                    Entry {
                        time: t,
                        step,
                        input,
                    },
                    &mut produced,
                );
                for r in produced.drain(..) {
                    self.emit(c, r, inputs, out);
                }
            }
            inputs[c] = items;
        }
    }

    /// Counts a result, reports it if the set says so, and feeds outer correlations.
    fn emit(
        &mut self,
        c: usize,
        r: CorrelationResult,
        inputs: &mut Inputs,
        out: &mut Vec<CorrelationResult>,
    ) {
        self.st.stats.results += 1;
        if r.partial {
            self.st.stats.partial_results += 1;
        }
        let consumers = &self.set.corr_consumers[c];
        if !r.partial && !consumers.is_empty() {
            let shared = Arc::new(r.clone());
            for &(outer, step) in consumers {
                inputs[outer as usize].push((step, Input::Result(shared.clone())));
            }
        }
        if self.set.is_reported(c) {
            out.push(r);
        }
    }

    /// One input of correlation `c`.
    fn process(&mut self, c: usize, entry: Entry, produced: &mut Vec<CorrelationResult>) {
        let set = self.set.clone();
        let corr = &set.correlations[c];
        if !group_key(corr, &entry, &mut self.key_buf) {
            self.st.stats.ungrouped += 1;
            return;
        }
        let is_new = !self.st.corrs[c].index.contains_key(self.key_buf.as_str());
        if is_new && self.st.stats.active_keys as usize >= self.cfg.budget.max_keys {
            self.evict_one_key(entry.time);
        }
        let (slot, created) = self.st.corrs[c].slot_for(&self.key_buf);
        if created {
            self.st.stats.active_keys += 1;
        }
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
        self.enforce_event_budget(c, slot, time);
        self.settle(c, slot);
    }

    /// Drops the oldest buffered events of a key over the per-key budget.
    fn enforce_event_budget(&mut self, c: usize, slot: u32, at: Timestamp) {
        let max = self.cfg.budget.max_events_per_key.max(1);
        let corr = &self.set.correlations[c];
        let Some(ks) = self.st.corrs[c].state_mut(slot) else {
            return;
        };
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
        if dropped > 0 {
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
    }

    /// Evicts the group key whose timer is due first (deterministic, close to LRU).
    fn evict_one_key(&mut self, at: Timestamp) {
        while let Some(Reverse(timer)) = self.st.timers.pop() {
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
            let corr = &self.set.correlations[timer.corr as usize];
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
    fn settle(&mut self, c: usize, slot: u32) {
        let corr = &self.set.correlations[c];
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
            self.st.timers.push(Reverse(Timer {
                at,
                corr: c as u32,
                slot,
                generation,
            }));
        }
    }

    /// Runs the earliest timer: closes the windows of its key that end at or before it.
    fn fire_timer(&mut self, out: &mut Vec<CorrelationResult>) {
        let Some(Reverse(timer)) = self.st.timers.pop() else {
            return;
        };
        let c = timer.corr as usize;
        let set = self.set.clone();
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
        self.settle(c, timer.slot);
        if produced.is_empty() {
            return;
        }
        let mut inputs = std::mem::take(&mut self.inputs);
        for r in produced {
            self.emit(c, r, &mut inputs, out);
        }
        self.run(&mut inputs, c + 1, timer.at, out);
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
