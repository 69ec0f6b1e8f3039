//! The batch engine: [`Engine::push`] collects matched events, [`Engine::finish`] sorts
//! them once and processes them in event-time order, closing windows with timers.
//!
//! Determinism: events are sorted by (event time, origin, matched rules, content), only
//! when they arrived out of order. All events of one timestamp are processed together, and
//! window-closing timers are interleaved with them by time (a timer at `d` runs before
//! events later than `d`). Processing therefore sees one global order, and results and
//! their ids do not depend on the order events were pushed in.
//!
//! Batch only, on purpose: the analytics are batch functions over a tenant's matches, and
//! the service re-runs them over the retained window of each tenant a message batch
//! changed, enforcing lateness before matching. A streaming engine (watermarks, late
//! events, snapshots) under them would duplicate that window logic.
//!
//! Memory: the events are shared with the caller (`Arc`); the engine keeps one queue entry
//! per pushed event until `finish`, and per group key only what its windows or chains can
//! still use, under a [`StateBudget`] (evictions are counted and listed).
//!
//! Cost model (see `benches/correlate.rs`): pushing appends (O(1)); `finish` sorts once
//! (only when events arrived out of order); timers created in order go to a FIFO run
//! (O(1)), only out-of-order ones pay for a binary heap. The correlation set is borrowed,
//! not cloned, while the state is mutated, and an event's rule list is kept inline, so the
//! per-event path allocates only for new keys, new chains and results.

use crate::keyed::{
    CorrState, Entry, Input, KeyState, add, close_windows, eager_window, expire_front, group_key,
    group_map,
};
use crate::ordered::{expire_chains, ordered_step};
use crate::result::{CorrelationResult, EvictReason, Evicted};
use crate::spec::{CorrelationSet, CorrelationType, RuleRef};
use jiff::{SignedDuration, Timestamp};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::iter::Peekable;
use std::sync::Arc;
use trustpath_event::Event;

/// Limits on correlation state; reaching one evicts with a counted, listed reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateBudget {
    /// Active group keys over all correlations.
    pub max_keys: usize,
    /// Buffered events per group key.
    pub max_events_per_key: usize,
    /// Evictions kept in [`Engine::evictions`] (all are counted).
    pub max_evictions_listed: usize,
}

impl Default for StateBudget {
    fn default() -> Self {
        StateBudget {
            max_keys: 1_000_000,
            max_events_per_key: 10_000,
            max_evictions_listed: 10_000,
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Events pushed.
    pub events: u64,
    /// Events pushed that matched no rule any correlation uses.
    pub ignored: u64,
    /// (event, correlation step) inputs processed.
    pub inputs: u64,
    /// Inputs without a value for some group-by field (not grouped).
    pub ungrouped: u64,
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
    /// Events pushed and not yet processed (all of them until [`Engine::finish`]).
    pub pending: u64,
    /// Active group keys.
    pub active_keys: u64,
}

/// The rules an event matched that some correlation uses: almost always one, so it is
/// kept inline (no allocation per event).
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A matched event waiting for [`Engine::finish`].
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Timestamp,
    corr: u32,
    slot: u32,
    generation: u32,
}

/// The engine's mutable state.
#[derive(Debug, Clone, Default)]
struct State {
    /// Events pushed and not yet processed, in arrival order.
    waiting: Vec<Pending>,
    /// `waiting` received events out of order and is sorted before use.
    unsorted: bool,
    corrs: Vec<CorrState>,
    /// Timers created in order (the common case: O(1)); see [`State::push_timer`].
    timers_in_order: VecDeque<Timer>,
    /// Timers created out of order.
    timers: BinaryHeap<Reverse<Timer>>,
    evictions: Vec<Evicted>,
    stats: EngineStats,
}

impl State {
    /// Appends; the queue is sorted once at `finish`, only if this broke the order.
    fn append(&mut self, p: Pending) {
        if self.waiting.last().is_some_and(|last| *last > p) {
            self.unsorted = true;
        }
        self.waiting.push(p);
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

    /// See [`Engine::state_bytes`].
    fn bytes(&self) -> usize {
        use std::mem::size_of;
        let mut total = self.timers.capacity() * size_of::<Reverse<Timer>>()
            + self.timers_in_order.capacity() * size_of::<Timer>()
            + self.waiting.capacity() * size_of::<Pending>();
        for cs in &self.corrs {
            total += cs.bytes();
        }
        total
    }
}

/// Per-correlation inputs of one processing step.
type Inputs = Vec<Vec<(u16, Input)>>;

/// The sorted events `finish` processes.
type Sorted = Peekable<std::vec::IntoIter<Pending>>;

/// The batch correlation engine. One engine owns the state of the group keys it is
/// given; partition events by group key (tenant) over several engines to scale out.
#[derive(Debug)]
pub struct Engine {
    set: Arc<CorrelationSet>,
    core: Core,
}

/// Everything but the (shared, read-only) correlation set, so processing can borrow the
/// set while it mutates the state.
#[derive(Debug)]
struct Core {
    budget: StateBudget,
    st: State,
    key_buf: String,
    inputs: Inputs,
    /// Results of one input, before they are emitted (reused: no allocation per result).
    produced: Vec<CorrelationResult>,
}

impl Engine {
    /// A new engine for `set`, with state bounded by `budget`.
    pub fn new(set: Arc<CorrelationSet>, budget: StateBudget) -> Self {
        let n = set.correlations.len();
        let st = State {
            corrs: vec![CorrState::default(); n],
            ..State::default()
        };
        Engine {
            set,
            core: Core {
                budget,
                st,
                key_buf: String::new(),
                inputs: vec![Vec::new(); n],
                produced: Vec::new(),
            },
        }
    }

    /// The correlation set.
    pub fn set(&self) -> &Arc<CorrelationSet> {
        &self.set
    }

    /// Collects one event with the ascending list of detection rules it matched. Nothing
    /// is processed before [`Engine::finish`]; events that match no rule a correlation
    /// uses are only counted.
    pub fn push(&mut self, event: Arc<Event>, matched: &[RuleRef]) {
        let st = &mut self.core.st;
        st.stats.events += 1;
        match used_rules(&self.set, matched) {
            Some(rules) => st.append(Pending { event, rules }),
            None => st.stats.ignored += 1,
        }
    }

    /// Processes every collected event in event-time order and closes every window;
    /// results are appended to `out`. The engine is empty afterwards (counters and the
    /// eviction list stay).
    pub fn finish(&mut self, out: &mut Vec<CorrelationResult>) {
        self.core.finish(&self.set, out);
    }

    /// State evictions (up to the budget; all are counted).
    pub fn evictions(&self) -> &[Evicted] {
        &self.core.st.evictions
    }

    /// Counters and gauges.
    pub fn stats(&self) -> EngineStats {
        let st = &self.core.st;
        let mut s = st.stats.clone();
        s.pending = st.waiting.len() as u64;
        s
    }

    /// Approximate bytes of engine state (slots, keys, index, buffered entries, chains,
    /// timers, the queue of events waiting for `finish`), not counting the events
    /// themselves, which are shared with the caller.
    pub fn state_bytes(&self) -> usize {
        self.core.st.bytes()
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
    /// See [`Engine::finish`]: sorts the waiting events, then releases them and fires
    /// timers in time order until both are exhausted.
    fn finish(&mut self, set: &CorrelationSet, out: &mut Vec<CorrelationResult>) {
        let mut waiting = std::mem::take(&mut self.st.waiting);
        if std::mem::take(&mut self.st.unsorted) {
            waiting.sort_unstable();
        }
        let mut events = waiting.into_iter().peekable();
        loop {
            let slice = events.peek().map(|p| p.event.time);
            let timer = self.st.next_timer().map(|t| t.at);
            match (slice, timer) {
                (None, None) => break,
                (Some(t), Some(d)) if d < t => self.fire_timer(set, out),
                (Some(t), _) => self.release_slice(set, t, &mut events, out),
                (None, Some(_)) => self.fire_timer(set, out),
            }
        }
    }

    /// Processes every event at time `t` (the front of `events`).
    fn release_slice(
        &mut self,
        set: &CorrelationSet,
        t: Timestamp,
        events: &mut Sorted,
        out: &mut Vec<CorrelationResult>,
    ) {
        let mut inputs = std::mem::take(&mut self.inputs);
        while let Some(Pending { event, rules }) = events.next_if(|p| p.event.time == t) {
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
        if self.st.stats.active_keys as usize >= self.budget.max_keys {
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
        let max = self.budget.max_events_per_key.max(1);
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
        if self.st.evictions.len() >= self.budget.max_evictions_listed {
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

    fn pending(secs: i64, line: u64) -> Pending {
        Pending {
            event: Arc::new(Event {
                time: Timestamp::from_second(secs).unwrap(),
                source: trustpath_event::SourceKind::M365Audit,
                format: trustpath_event::Format::UalJson,
                origin: trustpath_event::Origin::file("a.json").with_line(line),
                fields: Default::default(),
                keys: Default::default(),
            }),
            rules: RuleList::One(RuleRef(0)),
        }
    }

    #[test]
    fn only_out_of_order_pushes_mark_the_queue_for_sorting() {
        let mut st = State::default();
        for (secs, line) in [(1, 1), (1, 2), (5, 3), (5, 3)] {
            st.append(pending(secs, line));
        }
        assert!(!st.unsorted, "equal and ascending keys need no sort");
        st.append(pending(4, 4));
        assert!(st.unsorted);
    }
}
