//! `temporal_ordered` chains, with the `x-trustpath` captures, requirements, chain keys
//! and partial chains (see `EXTENSION.md`).
//!
//! A group holds chains: ordered runs of steps whose events lie within `timespan` of the
//! chain's first event. An event of step `k` extends every chain whose last step is `k-1`
//! (or `k`: more evidence for the same step) when the chain key agrees and the step's
//! requirement holds against the chain's captures; a step-0 event that extends nothing
//! starts a chain. A chain that reaches the last step from step 0 fires (chains of the
//! same chain key completing together become one result). When a chain's oldest step
//! leaves the window and it had at least `partial.min_steps` steps, it is reported as a
//! partial result; with partials enabled a middle step that extends nothing starts a
//! chain too (the "2→3 without 1" lead).

use crate::chain::{Captures, scalar};
use crate::keyed::{Chain, Entry, KeyState, add, chain_captures, make_result};
use crate::result::CorrelationResult;
use crate::spec::Correlation;
use jiff::Timestamp;
use std::collections::BTreeSet;

/// Processes one entry of a `temporal_ordered` correlation.
pub(crate) fn ordered_step(
    corr: &Correlation,
    ks: &mut KeyState,
    entry: Entry,
    out: &mut Vec<CorrelationResult>,
) {
    expire_chains(corr, ks, entry.time, out);
    let steps = corr.sources.len();
    let k = usize::from(entry.step);
    let item_key = item_key(corr, &entry);
    let mut accepted = false;
    let mut complete = Completed::None;
    for (i, chain) in ks.chains.iter_mut().enumerate() {
        if !fits(corr, chain, &entry, item_key.as_ref()) {
            continue;
        }
        chain.entries.push(entry.clone());
        if chain.key.is_none() {
            chain.key.clone_from(&item_key);
        }
        accepted = true;
        let from_start = chain.entries.first().is_some_and(|e| e.step == 0);
        if k + 1 == steps && from_start {
            complete.add(i);
        }
    }
    match complete {
        Completed::None => {}
        Completed::One(i) => emit_complete(corr, ks, &[i], out),
        Completed::Many(all) => emit_complete(corr, ks, &all, out),
    }
    let partial = corr
        .chain
        .as_ref()
        .and_then(|c| c.partial_min_steps)
        .is_some();
    let starts =
        k == 0 || (partial && k + 1 < steps && requirement_holds(corr, &Chain::default(), &entry));
    if !accepted && starts {
        if k + 1 == steps && k == 0 {
            // A single-step chain is complete at once.
            let result = make_result(
                corr,
                &ks.key,
                std::iter::once(&entry),
                capture_of(corr, &entry),
                false,
                1.0,
            );
            out.push(result);
            return;
        }
        // Room for one event per step: a chain rarely needs more.
        let mut entries = Vec::with_capacity(steps.min(16));
        entries.push(entry);
        ks.chains.push(Chain {
            entries,
            key: item_key,
        });
    }
}

/// Indices of the chains an entry completed: almost always none or one, kept without
/// allocating.
enum Completed {
    /// No chain completed.
    None,
    /// One chain completed.
    One(usize),
    /// Several chains completed, ascending.
    Many(Vec<usize>),
}

impl Completed {
    /// Records chain `i` (indices arrive ascending).
    fn add(&mut self, i: usize) {
        *self = match std::mem::replace(self, Completed::None) {
            Completed::None => Completed::One(i),
            Completed::One(first) => Completed::Many(vec![first, i]),
            Completed::Many(mut all) => {
                all.push(i);
                Completed::Many(all)
            }
        };
    }
}

fn capture_of(corr: &Correlation, entry: &Entry) -> Captures {
    chain_captures(
        corr,
        &Chain {
            entries: vec![entry.clone()],
            key: None,
        },
    )
}

fn fits(corr: &Correlation, chain: &Chain, entry: &Entry, item_key: Option<&Vec<String>>) -> bool {
    let Some(last) = chain.entries.last().map(|e| e.step) else {
        return false;
    };
    let k = entry.step;
    let in_order = if k == 0 {
        last == 0
    } else {
        last == k || last + 1 == k
    };
    if !in_order {
        return false;
    }
    if let (Some(a), Some(b)) = (&chain.key, item_key)
        && a != b
    {
        return false;
    }
    requirement_holds(corr, chain, entry)
}

fn requirement_holds(corr: &Correlation, chain: &Chain, entry: &Entry) -> bool {
    let Some(req) = corr
        .chain
        .as_ref()
        .and_then(|s| s.require.get(usize::from(entry.step)))
        .and_then(Option::as_ref)
    else {
        return true;
    };
    let caps = chain_captures(corr, chain);
    entry.anchor().is_some_and(|ev| req.holds(ev, &caps))
}

/// The chain key values this entry captures (all key captures present), if any.
fn item_key(corr: &Correlation, entry: &Entry) -> Option<Vec<String>> {
    let spec = corr.chain.as_ref()?;
    if spec.key.is_empty() {
        return None;
    }
    let fields = spec.captures.get(usize::from(entry.step))?;
    let ev = entry.anchor()?;
    spec.key
        .iter()
        .map(|name| {
            let field = fields.get(name)?;
            let mut best: Option<String> = None;
            ev.for_each_value(field, &mut |v| {
                if let Some(s) = scalar(v)
                    && best.as_ref().is_none_or(|b| s < *b)
                {
                    best = Some(s);
                }
            });
            best
        })
        .collect()
}

/// Emits the completed chains (merged per chain key) and removes them.
fn emit_complete(
    corr: &Correlation,
    ks: &mut KeyState,
    complete: &[usize],
    out: &mut Vec<CorrelationResult>,
) {
    if let &[i] = complete {
        // One chain: deduplicate only if two entries could share an identity.
        let mut chain = ks.chains.remove(i);
        if has_same_time_and_step(&chain.entries) {
            dedup_by_identity(&mut chain.entries);
        }
        push_complete(corr, &ks.key, chain, out);
        return;
    }
    let mut done: Vec<Chain> = Vec::new();
    for &i in complete.iter().rev() {
        done.push(ks.chains.remove(i));
    }
    done.reverse();
    let keys: BTreeSet<Option<Vec<String>>> = done.iter().map(|c| c.key.clone()).collect();
    for key in keys {
        let mut merged = Chain {
            entries: Vec::new(),
            key: key.clone(),
        };
        for chain in done.iter().filter(|c| c.key == key) {
            merged.entries.extend(chain.entries.iter().cloned());
        }
        dedup_by_identity(&mut merged.entries);
        push_complete(corr, &ks.key, merged, out);
    }
}

/// Sorts a completed chain's entries by (time, step) and reports it.
fn push_complete(
    corr: &Correlation,
    group_key: &str,
    mut chain: Chain,
    out: &mut Vec<CorrelationResult>,
) {
    chain.entries.sort_by_key(|e| (e.time, e.step));
    let caps = chain_captures(corr, &chain);
    let steps = corr.sources.len() as f64;
    out.push(make_result(
        corr,
        group_key,
        chain.entries.into_iter(),
        caps,
        false,
        steps,
    ));
}

/// Whether two entries have the same time and step (a precondition for equal identities).
fn has_same_time_and_step(entries: &[Entry]) -> bool {
    if entries.len() <= 16 {
        return entries.iter().enumerate().any(|(i, a)| {
            entries[i + 1..]
                .iter()
                .any(|b| a.time == b.time && a.step == b.step)
        });
    }
    let mut pairs: Vec<(Timestamp, u16)> = entries.iter().map(|e| (e.time, e.step)).collect();
    pairs.sort_unstable();
    pairs.windows(2).any(|w| w[0] == w[1])
}

/// Keeps the first entry of each identity (time, step, origin), in order.
fn dedup_by_identity(entries: &mut Vec<Entry>) {
    let mut seen = BTreeSet::new();
    entries.retain(|e| seen.insert(entry_identity(e)));
}

fn entry_identity(e: &Entry) -> (Timestamp, u16, String) {
    let origin = e.anchor().map(|a| a.origin.to_string()).unwrap_or_default();
    (e.time, e.step, origin)
}

/// Drops chain events that left the window before `before`; reports partial chains
/// that lose a step.
pub(crate) fn expire_chains(
    corr: &Correlation,
    ks: &mut KeyState,
    before: Timestamp,
    out: &mut Vec<CorrelationResult>,
) {
    let min_steps = corr.chain.as_ref().and_then(|c| c.partial_min_steps);
    let ts = corr.timespan;
    let KeyState { key, chains, .. } = ks;
    for chain in chains.iter_mut() {
        let expired = chain
            .entries
            .iter()
            .take_while(|e| add(e.time, ts) < before)
            .count();
        if expired == 0 {
            continue;
        }
        let before_steps = distinct_steps(&chain.entries);
        let after_steps = distinct_steps(&chain.entries[expired..]);
        if let Some(min) = min_steps
            && before_steps >= min
            && after_steps < before_steps
        {
            let caps = chain_captures(corr, chain);
            out.push(make_result(
                corr,
                key,
                chain.entries.iter(),
                caps,
                true,
                before_steps as f64,
            ));
        }
        chain.entries.drain(..expired);
    }
    chains.retain(|c| !c.entries.is_empty());
}

fn distinct_steps(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|e| e.step)
        .collect::<BTreeSet<_>>()
        .len()
}
