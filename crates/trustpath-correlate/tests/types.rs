//! Every correlation type and condition, window boundaries, grouping, aliases, nesting,
//! `generate`, load errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use trustpath_correlate::{ContextSets, CorrelationSet, CorrelationType, RuleRef};

const R0: RuleRef = RuleRef(0);
const R1: RuleRef = RuleRef(1);

fn count_rule(cond: serde_json::Value) -> serde_json::Value {
    json!({"title": "many", "id": "c-count", "correlation": {
        "type": "event_count", "rules": ["r0"], "group-by": ["tp.tenant"],
        "timespan": "10m", "condition": cond}})
}

fn three(at_secs: [i64; 3]) -> Vec<Input> {
    at_secs
        .iter()
        .enumerate()
        .map(|(i, s)| (event(i as u64, *s, tenant("t1")), vec![R0]))
        .collect()
}

#[test]
fn event_count_window_is_inclusive_at_exactly_timespan() {
    let set = compile(
        vec![count_rule(json!({"gte": 3}))],
        &catalog(&["r0"]),
        &ContextSets::default(),
    );
    let hit = batch(&set, &three([0, 300, 600]));
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].evidence.len(), 3);
    assert_eq!(hit[0].first, at(0));
    assert_eq!(hit[0].last, at(600));
    assert_eq!(
        hit[0].group.get("tp.tenant").map(String::as_str),
        Some("t1")
    );
    assert_eq!(hit[0].id.len(), 32);
    assert!(
        batch(&set, &three([0, 300, 601])).is_empty(),
        "601 s apart is outside 10m"
    );
}

#[test]
fn equal_timestamps_count_and_give_the_same_ids_in_any_order() {
    let set = compile(
        vec![count_rule(json!({"gte": 3}))],
        &catalog(&["r0"]),
        &ContextSets::default(),
    );
    let mut input = three([5, 5, 5]);
    let a = batch(&set, &input);
    input.reverse();
    let b = batch(&set, &input);
    assert_eq!(a.len(), 1);
    assert_eq!(ids(&a), ids(&b));
}

#[test]
fn missing_group_by_field_is_counted_not_grouped() {
    let set = compile(
        vec![count_rule(json!({"gte": 1}))],
        &catalog(&["r0"]),
        &ContextSets::default(),
    );
    let input = vec![(event(1, 0, json!({"other": 1})), vec![R0])];
    let (out, engine) = run(&set, trustpath_correlate::StateBudget::default(), &input);
    assert!(out.is_empty());
    assert_eq!(engine.stats().ungrouped, 1);
}

#[test]
fn ranges_and_upper_bounds_are_decided_when_the_window_closes() {
    // 2 events within 10 minutes: `lt: 3` holds; `gt: 1, lte: 2` holds; `eq: 3` does not.
    let two = &three([0, 60, 4000])[..2];
    for (cond, expect) in [
        (json!({"lt": 3}), 1),
        (json!({"gt": 1, "lte": 2}), 1),
        (json!({"eq": 3}), 0),
        // The window anchored at the second event holds one event: 1 != 2.
        (json!({"neq": 2}), 1),
    ] {
        let set = compile(
            vec![count_rule(cond.clone())],
            &catalog(&["r0"]),
            &ContextSets::default(),
        );
        let out = batch(&set, two);
        assert_eq!(out.len(), expect, "condition {cond}");
    }
    // Windows anchored at each event: 0,60 fire `eq: 2`; the event at 4000 alone does not.
    let set = compile(
        vec![count_rule(json!({"eq": 2}))],
        &catalog(&["r0"]),
        &ContextSets::default(),
    );
    let out = batch(&set, &three([0, 60, 4000]));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].evidence.len(), 2);
}

fn value_rule(kind: &str, cond: serde_json::Value) -> serde_json::Value {
    json!({"title": kind, "id": format!("c-{kind}"), "correlation": {
        "type": kind, "rules": ["r0"], "group-by": ["tp.tenant"], "timespan": "1h",
        "condition": cond}})
}

fn valued(values: &[serde_json::Value]) -> Vec<Input> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                event(
                    i as u64,
                    i as i64 * 60,
                    json!({"tp.tenant": "t1", "n": v, "tp.ip": format!("10.0.0.{}", i % 2)}),
                ),
                vec![R0],
            )
        })
        .collect()
}

#[test]
fn value_types() {
    let cat = catalog(&["r0"]);
    let ctx = ContextSets::default();
    let input = valued(&[
        json!(10),
        json!("20"),
        json!(30),
        json!(40),
        json!("not a number"),
    ]);
    let cases = [
        (
            "value_count",
            json!({"field": "tp.ip", "gte": 2}),
            Some(2.0),
        ),
        ("value_count", json!({"field": "tp.ip", "gte": 3}), None),
        ("value_sum", json!({"field": "n", "gte": 60}), Some(60.0)),
        ("value_avg", json!({"field": "n", "gt": 20}), Some(25.0)),
        ("value_avg", json!({"field": "n", "gt": 40}), None),
        ("value_median", json!({"field": "n", "eq": 25}), Some(25.0)),
        (
            "value_percentile",
            json!({"field": "n", "percentile": 100, "gte": 40}),
            Some(40.0),
        ),
        (
            "value_percentile",
            json!({"field": "n", "percentile": 0, "lte": 10}),
            Some(10.0),
        ),
    ];
    for (kind, cond, expect) in cases {
        let set = compile(vec![value_rule(kind, cond.clone())], &cat, &ctx);
        let out = batch(&set, &input);
        match expect {
            Some(v) => {
                // Eager windows fire again once refilled; the first result is the one checked.
                assert!(!out.is_empty(), "{kind} {cond}");
                assert_eq!(out[0].value, v, "{kind} {cond}");
            }
            None => assert!(out.is_empty(), "{kind} {cond}: {out:?}"),
        }
    }
}

fn temporal(kind: &str) -> serde_json::Value {
    json!({"title": kind, "id": "c-t", "correlation": {
        "type": kind, "rules": ["r0", "r1"], "group-by": ["tp.tenant"], "timespan": "5m"}})
}

#[test]
fn temporal_any_order_and_temporal_ordered_in_order() {
    let cat = catalog(&["r0", "r1"]);
    let ctx = ContextSets::default();
    let forward = vec![
        (event(1, 0, tenant("t")), vec![R0]),
        (event(2, 300, tenant("t")), vec![R1]),
    ];
    let backward = vec![
        (event(1, 0, tenant("t")), vec![R1]),
        (event(2, 300, tenant("t")), vec![R0]),
    ];
    let too_far = vec![
        (event(1, 0, tenant("t")), vec![R0]),
        (event(2, 301, tenant("t")), vec![R1]),
    ];
    let t = compile(vec![temporal("temporal")], &cat, &ctx);
    assert_eq!(batch(&t, &forward).len(), 1);
    assert_eq!(batch(&t, &backward).len(), 1);
    assert!(batch(&t, &too_far).is_empty());
    let o = compile(vec![temporal("temporal_ordered")], &cat, &ctx);
    let hit = batch(&o, &forward);
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].steps, vec![0, 1]);
    assert!(batch(&o, &backward).is_empty());
    assert!(batch(&o, &too_far).is_empty());
    // Equal timestamps count as in order, whatever the arrival order.
    let same = vec![
        (event(2, 7, tenant("t")), vec![R1]),
        (event(1, 7, tenant("t")), vec![R0]),
    ];
    assert_eq!(batch(&o, &same).len(), 1);
}

#[test]
fn aliases_group_different_fields_together() {
    let doc = json!({"title": "a", "name": "c-alias", "correlation": {
        "type": "temporal", "rules": ["r0", "r1"], "group-by": ["ip"], "timespan": "1h",
        "aliases": {"ip": {"r0": "src", "r1": "dst"}}}});
    let set = compile(vec![doc], &catalog(&["r0", "r1"]), &ContextSets::default());
    let input = vec![
        (event(1, 0, json!({"src": "1.2.3.4"})), vec![R0]),
        (event(2, 10, json!({"dst": "1.2.3.4"})), vec![R1]),
        (event(3, 20, json!({"dst": "9.9.9.9"})), vec![R1]),
    ];
    let out = batch(&set, &input);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group.get("ip").map(String::as_str), Some("1.2.3.4"));
}

fn nested(generate: bool) -> Vec<serde_json::Value> {
    vec![
        json!({"title": "burst", "name": "burst", "correlation": {
            "type": "event_count", "rules": ["r0"], "group-by": ["tp.tenant"], "timespan": "10m",
            "condition": {"gte": 2}}}),
        json!({"title": "burst then r1", "id": "outer", "generate": generate, "correlation": {
            "type": "temporal_ordered", "rules": ["burst", "r1"], "group-by": ["tp.tenant"],
            "timespan": "1h"}}),
    ]
}

fn nested_input() -> Vec<Input> {
    vec![
        (event(1, 0, tenant("t")), vec![R0]),
        (event(2, 60, tenant("t")), vec![R0]),
        (event(3, 600, tenant("t")), vec![R1]),
    ]
}

#[test]
fn correlations_of_correlations_report_the_outermost() {
    let cat = catalog(&["r0", "r1"]);
    let set = compile(nested(false), &cat, &ContextSets::default());
    assert!(!set.rule_reports_standalone(R0));
    let out = batch(&set, &nested_input());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].correlation, "outer");
    assert_eq!(out[0].evidence.len(), 3);
    assert_eq!(out[0].evidence[0].via.as_deref(), Some("burst"));
    assert_eq!(out[0].evidence[2].step, 1);
}

#[test]
fn generate_reports_the_referenced_rules_too() {
    let cat = catalog(&["r0", "r1"]);
    let set = compile(nested(true), &cat, &ContextSets::default());
    assert!(set.rule_reports_standalone(R1));
    assert!(set.is_reported(0));
    let out = batch(&set, &nested_input());
    let names: Vec<&str> = out.iter().map(|r| r.correlation.as_str()).collect();
    assert_eq!(names, vec!["burst", "outer"]);
}

#[test]
fn load_errors_name_the_place_and_reason() {
    let cat = catalog(&["r0"]);
    let bad = vec![
        json!({"title": "a", "name": "a", "correlation": {"type": "temporal", "rules": ["b"], "group-by": ["x"], "timespan": "1h"}}),
        json!({"title": "b", "name": "b", "correlation": {"type": "temporal", "rules": ["a"], "group-by": ["x"], "timespan": "1h"}}),
        json!({"title": "c", "name": "c", "correlation": {"type": "event_count", "rules": ["nope"], "timespan": "1h", "condition": {"gte": 1}}}),
        json!({"title": "d", "name": "d", "correlation": {"type": "event_count", "rules": ["r0"], "timespan": "1y", "condition": {"gte": 1}}}),
        json!({"title": "e", "name": "e", "correlation": {"type": "value_count", "rules": ["r0"], "timespan": "1h", "condition": {"gte": 1}}}),
        json!({"title": "f", "name": "f", "correlation": {"type": "event_count", "rules": ["c"], "timespan": "1w", "condition": {"gte": 1}}}),
        json!({"title": "ok", "name": "ok", "correlation": {"type": "event_count", "rules": ["r0"], "timespan": "1w", "condition": {"gte": 1}}}),
    ];
    let (set, errors) = CorrelationSet::compile(docs(bad), &cat, &ContextSets::default());
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let joined = text.join("\n");
    assert!(joined.contains("cycle"), "{joined}");
    assert!(joined.contains("\"nope\""), "{joined}");
    assert!(joined.contains("unknown unit"), "{joined}");
    assert!(joined.contains("condition.field"), "{joined}");
    assert!(joined.contains("rules.yml:51: correlation f"), "{joined}");
    assert_eq!(set.correlations.len(), 1);
    assert_eq!(set.correlations[0].kind, CorrelationType::EventCount);
    assert_eq!(
        set.correlations[0].timespan,
        jiff::SignedDuration::from_hours(168)
    );
}
