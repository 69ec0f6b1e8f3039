//! Property: arrival order (within the allowed lateness) and the number of engines the
//! tenants are partitioned over never change the set of result ids; an event later than
//! the lateness is reported as late.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jiff::SignedDuration;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use trustpath_correlate::{ContextSets, CorrelationSet, Engine, EngineConfig, RuleRef};

const LATENESS_SECS: i64 = 3600;

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

fn streaming() -> EngineConfig {
    EngineConfig {
        lateness: Some(SignedDuration::from_secs(LATENESS_SECS)),
        ..EngineConfig::default()
    }
}

fn partitioned(
    set: &Arc<CorrelationSet>,
    cfg: EngineConfig,
    inputs: &[Input],
    engines: usize,
) -> BTreeSet<String> {
    let mut parts: Vec<Engine> = (0..engines)
        .map(|_| Engine::new(set.clone(), cfg))
        .collect();
    let mut out = Vec::new();
    for (e, rules) in inputs {
        let mut h = DefaultHasher::new();
        e.tenant().hash(&mut h);
        let i = (h.finish() % engines as u64) as usize;
        parts[i].push(e.clone(), rules, &mut out);
    }
    for p in &mut parts {
        p.finish(&mut out);
        assert_eq!(p.stats().late, 0);
    }
    ids(&out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn order_and_partitioning_do_not_change_results(
        raw in raw_events(),
        jitter in prop::collection::vec(0i64..LATENESS_SECS, 80),
        engines in 1usize..5,
    ) {
        let set = set();
        let inputs = build(&raw);
        let expected = ids(&batch(&set, &inputs));
        // Arrival order: by event time plus a delay shorter than the lateness.
        let mut arrival: Vec<(i64, usize)> = inputs
            .iter()
            .enumerate()
            .map(|(i, (e, _))| (e.time.as_second() + jitter[i % jitter.len()], i))
            .collect();
        arrival.sort();
        let shuffled: Vec<Input> = arrival.iter().map(|(_, i)| inputs[*i].clone()).collect();
        prop_assert_eq!(&partitioned(&set, streaming(), &shuffled, engines), &expected);
        prop_assert_eq!(&partitioned(&set, EngineConfig::batch(), &shuffled, engines), &expected);
        let mut reversed = shuffled.clone();
        reversed.reverse();
        prop_assert_eq!(&ids(&batch(&set, &reversed)), &expected);
    }

    #[test]
    fn events_beyond_the_lateness_are_late(raw in raw_events(), extra in 1i64..10_000) {
        let set = set();
        let mut inputs = build(&raw);
        inputs.sort_by_key(|(e, _)| e.time);
        let max = inputs.iter().map(|(e, _)| e.time.as_second()).max().unwrap_or(0) - common::t0().as_second();
        let late_secs = max - LATENESS_SECS - extra;
        inputs.push((event(9999, late_secs, json!({"tp.tenant": "t0"})), vec![RuleRef(0)]));
        let (_, engine) = run(&set, streaming(), &inputs);
        prop_assert_eq!(engine.stats().late, 1);
        prop_assert_eq!(engine.late_events()[0].origin.line, Some(9999));
    }
}
