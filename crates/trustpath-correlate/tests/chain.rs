//! The AN1350-style chain with the `x-trustpath` extension, arrival order, and state
//! budgets.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use trustpath_correlate::{ContextSets, CorrelationSet, Engine, EvictReason, RuleRef, StateBudget};

const REL: RuleRef = RuleRef(0);
const DELEG: RuleRef = RuleRef(1);
const ACCESS: RuleRef = RuleRef(2);
const HOUR: i64 = 3600;

fn an1350_doc() -> Value {
    json!({
        "title": "AN1350 partner trust path to mailbox access",
        "id": "an1350",
        "correlation": {
            "type": "temporal_ordered",
            "rules": ["an1350_partner_relationship", "an1350_mailbox_delegation", "an1350_partner_access"],
            "group-by": ["tp.tenant"],
            "timespan": "7d"
        },
        "x-trustpath": {
            "captures": {
                "an1350_partner_relationship": {"partner": "tp.actor_tenant", "partner_ips": "tp.ip"},
                "an1350_mailbox_delegation": {"partner_ips": "tp.ip", "mailbox": "tp.target"}
            },
            "require": {
                "an1350_partner_access": {"any": [
                    {"field": "tp.ip", "in": ["partner_ips"], "in_cidrs": ["context:partner_cidrs", "context:partner_ranges[partner]"]},
                    {"field": "tp.actor_tenant", "in": ["partner"]}
                ]}
            },
            "key": ["partner"],
            "partial": {"min_steps": 2, "report": true}
        }
    })
}

fn ctx() -> ContextSets {
    let mut ctx = ContextSets::default();
    ctx.cidrs.insert(
        "partner_cidrs".into(),
        vec!["203.0.113.0/24".parse().unwrap()],
    );
    let mut keyed = BTreeMap::new();
    keyed.insert(
        "partner-b".to_string(),
        vec!["198.51.100.0/24".parse().unwrap()],
    );
    ctx.keyed_cidrs.insert("partner_ranges".into(), keyed);
    ctx
}

fn set() -> Arc<CorrelationSet> {
    let cat = catalog(&[
        "an1350_partner_relationship",
        "an1350_mailbox_delegation",
        "an1350_partner_access",
    ]);
    compile(vec![an1350_doc()], &cat, &ctx())
}

fn rel(n: u64, secs: i64, partner: &str, ip: &str) -> Input {
    (
        event(
            n,
            secs,
            json!({"tp.tenant": "cust", "tp.actor_tenant": partner, "tp.ip": ip}),
        ),
        vec![REL],
    )
}
fn deleg(n: u64, secs: i64, ip: &str) -> Input {
    (
        event(
            n,
            secs,
            json!({"tp.tenant": "cust", "tp.ip": ip, "tp.target": "ceo@cust.example", "tp.trustee": "x@partner"}),
        ),
        vec![DELEG],
    )
}
fn access(n: u64, secs: i64, ip: &str, home: &str) -> Input {
    (
        event(
            n,
            secs,
            json!({"tp.tenant": "cust", "tp.ip": ip, "tp.actor_tenant": home}),
        ),
        vec![ACCESS],
    )
}
/// Unrelated traffic in another tenant.
fn filler(n: u64, secs: i64) -> Input {
    (
        event(
            n,
            secs,
            json!({"tp.tenant": "other", "tp.actor_tenant": "z", "tp.ip": "192.0.2.1"}),
        ),
        vec![REL],
    )
}

fn full(
    results: &[trustpath_correlate::CorrelationResult],
) -> Vec<&trustpath_correlate::CorrelationResult> {
    results.iter().filter(|r| !r.partial).collect()
}

#[test]
fn chain_from_captured_ip_completes_whatever_the_arrival_order() {
    let set = set();
    // Step 3 happens at 3h but arrives last, after an event 20 h later: batch has no
    // lateness limit, it sorts everything at `finish`.
    let input = vec![
        rel(1, 0, "partner-a", "192.0.2.10"),
        deleg(2, HOUR, "192.0.2.11"),
        filler(3, 20 * HOUR),
        access(4, 3 * HOUR, "192.0.2.11", "someone-else"),
    ];
    let mut engine = Engine::new(set.clone(), StateBudget::default());
    for (e, rules) in &input {
        engine.push(e.clone(), rules);
    }
    assert_eq!(
        engine.stats().pending,
        4,
        "nothing is processed before finish"
    );
    let mut out = Vec::new();
    engine.finish(&mut out);
    let stats = engine.stats();
    assert_eq!((stats.pending, stats.active_keys), (0, 0), "{stats:?}");
    let full = full(&out);
    assert_eq!(full.len(), 1, "{out:#?}");
    let r = full[0];
    assert_eq!(r.steps, vec![0, 1, 2]);
    assert_eq!(
        r.captures["partner"],
        BTreeSet::from(["partner-a".to_string()])
    );
    assert!(r.captures["partner_ips"].contains("192.0.2.11"));
    assert_eq!(
        r.captures["mailbox"],
        BTreeSet::from(["ceo@cust.example".to_string()])
    );
    assert_eq!((r.first, r.last), (at(0), at(3 * HOUR)));
    let mut reversed = input.clone();
    reversed.reverse();
    assert_eq!(ids(&batch(&set, &reversed)), ids(&out));
}

#[test]
fn chain_from_configured_cidr_and_keyed_cidr_and_partner_tenant() {
    let set = set();
    for (ip, home, partner) in [
        ("203.0.113.7", "x", "partner-a"),        // context:partner_cidrs
        ("198.51.100.9", "x", "partner-b"),       // context:partner_ranges[partner]
        ("100.64.0.1", "partner-a", "partner-a"), // homeTenant == captured partner
    ] {
        let input = vec![
            rel(1, 0, partner, "192.0.2.10"),
            deleg(2, HOUR, "192.0.2.11"),
            filler(3, 14 * HOUR),
            access(4, 3 * HOUR, ip, home),
        ];
        let out = batch(&set, &input);
        assert_eq!(full(&out).len(), 1, "{ip} {home}: {out:#?}");
    }
    // Neither a partner IP nor the partner tenant: only a partial lead (steps 1–2).
    let input = vec![
        rel(1, 0, "partner-a", "192.0.2.10"),
        deleg(2, HOUR, "192.0.2.11"),
        access(4, 3 * HOUR, "100.64.0.1", "x"),
    ];
    let out = batch(&set, &input);
    assert!(full(&out).is_empty());
    let partial: Vec<_> = out.iter().filter(|r| r.partial).collect();
    assert_eq!(partial.len(), 1);
    assert_eq!(partial[0].steps, vec![0, 1]);
}

#[test]
fn one_finding_per_partner_and_partial_two_three_without_one() {
    let set = set();
    let input = vec![
        rel(1, 0, "partner-a", "192.0.2.10"),
        rel(2, 10, "partner-b", "192.0.2.20"),
        deleg(3, HOUR, "192.0.2.99"),
        access(4, 2 * HOUR, "192.0.2.10", "x"),
        access(5, 2 * HOUR, "192.0.2.20", "x"),
    ];
    let out = batch(&set, &input);
    let partners: BTreeSet<String> = full(&out)
        .iter()
        .flat_map(|r| r.captures["partner"].clone())
        .collect();
    assert_eq!(
        partners,
        BTreeSet::from(["partner-a".to_string(), "partner-b".to_string()])
    );
    assert_eq!(full(&out).len(), 2);

    // Delegation then access from the delegation's IP, no relationship event: a lead.
    let input = vec![
        deleg(1, 0, "192.0.2.50"),
        access(2, HOUR, "192.0.2.50", "x"),
    ];
    let out = batch(&set, &input);
    assert_eq!(out.len(), 1);
    assert!(out[0].partial);
    assert_eq!(out[0].steps, vec![1, 2]);
}

#[test]
fn key_and_event_budgets_evict_with_reasons() {
    let cat = catalog(&["r0"]);
    let doc = json!({"title": "c", "id": "c", "correlation": {"type": "event_count", "rules": ["r0"],
        "group-by": ["tp.tenant"], "timespan": "1h", "condition": {"gte": 100}}});
    let set = compile(vec![doc], &cat, &ContextSets::default());
    let budget = StateBudget {
        max_keys: 2,
        max_events_per_key: 3,
        ..StateBudget::default()
    };
    let mut input = Vec::new();
    for i in 0..5 {
        input.push((event(i, i as i64, tenant("a")), vec![RuleRef(0)]));
    }
    input.push((event(10, 10, tenant("b")), vec![RuleRef(0)]));
    input.push((event(11, 11, tenant("c")), vec![RuleRef(0)]));
    let (_, engine) = run(&set, budget, &input);
    let reasons: Vec<EvictReason> = engine.evictions().iter().map(|e| e.reason).collect();
    assert!(reasons.contains(&EvictReason::EventBudget), "{reasons:?}");
    assert!(reasons.contains(&EvictReason::KeyBudget), "{reasons:?}");
    let stats = engine.stats();
    assert_eq!(stats.evicted_keys, 1);
    assert_eq!(stats.evicted_events, 2 + 3);
    assert!(
        engine.evictions()[0]
            .to_record_error()
            .to_string()
            .contains("budget")
    );
}
