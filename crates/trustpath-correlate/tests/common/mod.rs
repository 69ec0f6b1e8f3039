//! Test helpers: a tiny rule catalog, an event builder and run helpers.
#![allow(dead_code, missing_docs)]

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use trustpath_correlate::{
    ContextSets, CorrelationDoc, CorrelationResult, CorrelationSet, Engine, RuleCatalog, RuleRef,
    StateBudget,
};
use trustpath_event::{Event, Format, Origin, SourceKind};

/// Rules named `r0`, `r1`, … or by the names given.
pub struct Catalog(pub Vec<String>);

impl RuleCatalog for Catalog {
    fn resolve(&self, id_or_name: &str) -> Option<RuleRef> {
        self.0.iter().position(|n| n == id_or_name).map(RuleRef)
    }
    fn title(&self, rule: RuleRef) -> &str {
        self.0.get(rule.0).map_or("?", String::as_str)
    }
}

pub fn catalog(names: &[&str]) -> Catalog {
    Catalog(names.iter().map(|s| s.to_string()).collect())
}

pub fn t0() -> Timestamp {
    "2025-03-01T00:00:00Z".parse().unwrap()
}

pub fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

/// An event at `t0 + secs` with the given fields and a unique origin.
pub fn event(n: u64, secs: i64, fields: Value) -> Arc<Event> {
    Arc::new(Event {
        time: at(secs),
        source: SourceKind::M365Audit,
        format: Format::UalJson,
        origin: Origin::file("test.jsonl").with_line(n),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    })
}

pub fn docs(yaml_docs: Vec<Value>) -> Vec<CorrelationDoc> {
    yaml_docs
        .into_iter()
        .enumerate()
        .map(|(i, doc)| CorrelationDoc {
            file: PathBuf::from("rules.yml"),
            line: i * 10 + 1,
            doc,
        })
        .collect()
}

pub fn compile(yaml_docs: Vec<Value>, cat: &Catalog, ctx: &ContextSets) -> Arc<CorrelationSet> {
    let (set, errors) = CorrelationSet::compile(docs(yaml_docs), cat, ctx);
    assert!(errors.is_empty(), "load errors: {errors:?}");
    Arc::new(set)
}

/// One input: event and matched rules.
pub type Input = (Arc<Event>, Vec<RuleRef>);

/// Pushes `inputs` in the order given, then finishes.
pub fn run(
    set: &Arc<CorrelationSet>,
    budget: StateBudget,
    inputs: &[Input],
) -> (Vec<CorrelationResult>, Engine) {
    let mut engine = Engine::new(set.clone(), budget);
    for (e, rules) in inputs {
        engine.push(e.clone(), rules);
    }
    let mut out = Vec::new();
    engine.finish(&mut out);
    (out, engine)
}

/// [`run`] with the default budget, results only.
pub fn batch(set: &Arc<CorrelationSet>, inputs: &[Input]) -> Vec<CorrelationResult> {
    run(set, StateBudget::default(), inputs).0
}

pub fn ids(results: &[CorrelationResult]) -> BTreeSet<String> {
    results.iter().map(|r| r.id.clone()).collect()
}

pub fn tenant(t: &str) -> Value {
    json!({ "tp.tenant": t })
}
