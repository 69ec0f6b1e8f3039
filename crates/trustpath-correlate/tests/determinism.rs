//! Property: arrival order and the number of engines the tenants are partitioned over
//! never change the set of result ids (batch sorts everything at `finish`).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use trustpath_correlate::{ContextSets, CorrelationSet, Engine, RuleRef, StateBudget};

fn set() -> Arc<CorrelationSet> {
    let cat = catalog(&["r0", "r1", "r2"]);
    compile(
        vec![
            json!({"title": "burst", "name": "burst", "generate": true, "correlation": {
                "type": "event_count", "rules": ["r0"], "group-by": ["tp.tenant"],
                "timespan": "10m", "condition": {"gte": 3}}}),
            json!({"title": "few", "name": "few", "correlation": {
                "type": "event_count", "rules": ["r1"], "group-by": ["tp.tenant"],
                "timespan": "10m", "condition": {"lt": 2}}}),
            json!({"title": "ips", "name": "ips", "correlation": {
                "type": "value_count", "rules": ["r0", "r1"], "group-by": ["tp.tenant"],
                "timespan": "15m", "condition": {"field": "tp.ip", "gte": 2}}}),
            json!({"title": "avg", "name": "avg", "correlation": {
                "type": "value_avg", "rules": ["r2"], "group-by": ["tp.tenant"],
                "timespan": "20m", "condition": {"field": "n", "gt": 5}}}),
            json!({"title": "chain", "name": "chain", "correlation": {
                "type": "temporal_ordered", "rules": ["burst", "r1", "r2"], "group-by": ["tp.tenant"],
                "timespan": "30m"}}),
            json!({"title": "any order", "name": "tmp", "correlation": {
                "type": "temporal", "rules": ["r2", "r1"], "group-by": ["tp.tenant"],
                "timespan": "5m"}}),
        ],
        &cat,
        &ContextSets::default(),
    )
}

/// (seconds, tenant, rule, ip, n)
fn raw_events() -> impl Strategy<Value = Vec<(i64, u8, usize, u8, u8)>> {
    prop::collection::vec((0i64..7200, 0u8..4, 0usize..3, 0u8..3, 0u8..10), 1..80)
}

fn build(raw: &[(i64, u8, usize, u8, u8)]) -> Vec<Input> {
    raw.iter()
        .enumerate()
        .map(|(i, (secs, tenant, rule, ip, n))| {
            let fields =
                json!({"tp.tenant": format!("t{tenant}"), "tp.ip": format!("10.0.0.{ip}"), "n": n});
            // Coarse times (whole minutes) make equal timestamps common.
            (
                event(i as u64, secs / 60 * 60, fields),
                vec![RuleRef(*rule)],
            )
        })
        .collect()
}

fn partitioned(set: &Arc<CorrelationSet>, inputs: &[Input], engines: usize) -> BTreeSet<String> {
    let mut parts: Vec<Engine> = (0..engines)
        .map(|_| Engine::new(set.clone(), StateBudget::default()))
        .collect();
    for (e, rules) in inputs {
        let mut h = DefaultHasher::new();
        e.tenant().hash(&mut h);
        let i = (h.finish() % engines as u64) as usize;
        parts[i].push(e.clone(), rules);
    }
    let mut out = Vec::new();
    for p in &mut parts {
        p.finish(&mut out);
    }
    ids(&out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn order_and_partitioning_do_not_change_results(
        raw in raw_events(),
        order in prop::collection::vec(any::<u32>(), 80),
        engines in 1usize..5,
    ) {
        let set = set();
        let inputs = build(&raw);
        let expected = ids(&batch(&set, &inputs));
        // Any arrival order: sorted by a random key per event.
        let mut arrival: Vec<(u32, usize)> =
            (0..inputs.len()).map(|i| (order[i % order.len()], i)).collect();
        arrival.sort();
        let shuffled: Vec<Input> = arrival.iter().map(|(_, i)| inputs[*i].clone()).collect();
        prop_assert_eq!(&ids(&batch(&set, &shuffled)), &expected);
        prop_assert_eq!(&partitioned(&set, &shuffled, engines), &expected);
        let mut reversed = shuffled.clone();
        reversed.reverse();
        prop_assert_eq!(&ids(&batch(&set, &reversed)), &expected);
        let mut sorted = inputs.clone();
        sorted.sort_by_key(|(e, _)| e.time);
        prop_assert_eq!(&partitioned(&set, &sorted, engines), &expected);
    }
}
