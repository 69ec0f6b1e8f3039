//! Correlation-stage throughput and state size (not a test: prints a table).
//!
//! Events are built before timing; only `Engine::push` + `Engine::finish` are timed.
//! 100,000 group keys (tenants) stay active (timespan 1 h, events 10 ms apart).
//! Streaming mode with 1 minute lateness, so the queue and timers are exercised.
//! Memory: the engine's own state accounting at the peak (before `finish`) and RSS growth.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use trustpath_correlate::{
    ContextSets, CorrelationDoc, CorrelationSet, Engine, EngineConfig, RuleCatalog, RuleRef,
};
use trustpath_event::{Event, Format, Origin, SourceKind};

const KEYS: usize = 100_000;

struct Catalog;

impl RuleCatalog for Catalog {
    fn resolve(&self, id: &str) -> Option<RuleRef> {
        ["a", "b", "c"].iter().position(|n| *n == id).map(RuleRef)
    }
    fn title(&self, _: RuleRef) -> &str {
        "rule"
    }
}

fn set(kind: &str) -> Arc<CorrelationSet> {
    let corr = if kind == "event_count" {
        json!({"type": "event_count", "rules": ["a"], "group-by": ["tp.tenant"], "timespan": "1h", "condition": {"gte": 3}})
    } else {
        json!({"type": "temporal_ordered", "rules": ["a", "b", "c"], "group-by": ["tp.tenant"], "timespan": "1h"})
    };
    let doc = CorrelationDoc {
        file: PathBuf::from("bench.yml"),
        line: 1,
        doc: json!({"title": kind, "id": kind, "correlation": corr}),
    };
    let (set, errors) = CorrelationSet::compile(vec![doc], &Catalog, &ContextSets::default());
    assert!(errors.is_empty(), "{errors:?}");
    Arc::new(set)
}

fn events(n: usize) -> Vec<(Arc<Event>, [RuleRef; 1])> {
    let start: Timestamp = "2025-01-01T00:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let file: Arc<str> = Arc::from("bench.jsonl");
    (0..n)
        .map(|i| {
            let tenant = format!("tenant-{:06}", (i * 7919) % KEYS);
            let fields = json!({"tp.tenant": tenant, "tp.ip": "192.0.2.1"});
            let event = Event {
                time: start + SignedDuration::from_millis(10 * i as i64),
                source: SourceKind::M365Audit,
                format: Format::UalJson,
                origin: Origin {
                    file: file.clone(),
                    line: Some(i as u64 + 1),
                    offset: None,
                    record: None,
                },
                fields: fields.as_object().cloned().unwrap_or_default(),
            };
            // Steps cycle per key: a, b, c for the chain; all `a` for the count.
            (Arc::new(event), [RuleRef((i / KEYS) % 3)])
        })
        .collect()
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    println!(
        "{:<17} {:>9} {:>10} {:>12} {:>11} {:>13} {:>12} {:>8}",
        "correlation",
        "events",
        "time ms",
        "events/s",
        "active keys",
        "state B/key",
        "rss Δ MB",
        "results"
    );
    for kind in ["event_count", "temporal_ordered"] {
        let set = set(kind);
        for n in [500_000, 1_000_000, 2_000_000] {
            let input = events(n);
            let cfg = EngineConfig {
                lateness: Some(SignedDuration::from_mins(1)),
                ..EngineConfig::default()
            };
            let rss_before = rss_bytes();
            let mut engine = Engine::new(set.clone(), cfg);
            let mut out = Vec::new();
            let mut results = 0;
            let start = Instant::now();
            for (event, rules) in &input {
                let r: &[RuleRef] = if kind == "event_count" {
                    &[RuleRef(0)]
                } else {
                    rules
                };
                engine.push(event.clone(), r, &mut out);
                if out.len() >= 4096 {
                    // A sink takes the results; they are not correlation state.
                    results += out.len();
                    out.clear();
                }
            }
            let peak_keys = engine.stats().active_keys;
            let state = engine.state_bytes();
            let rss_peak = rss_bytes();
            engine.finish(&mut out);
            results += out.len();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{:<17} {:>9} {:>10.0} {:>12.0} {:>11} {:>13} {:>12.1} {:>8}",
                kind,
                n,
                secs * 1e3,
                n as f64 / secs,
                peak_keys,
                state / (peak_keys.max(1) as usize),
                (rss_peak.saturating_sub(rss_before)) as f64 / 1e6,
                results
            );
        }
    }
    println!(
        "state B/key: engine state accounting (slots, interned key, buffered entries, timers); events are shared Arcs, not copied."
    );
}
