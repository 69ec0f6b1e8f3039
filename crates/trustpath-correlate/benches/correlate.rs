//! Correlation-stage throughput and state size (not a test: prints tables).
//!
//! Workload: 100,000 group keys (tenants) stay active (timespan 1 h, events 10 ms apart,
//! so each key sees an event every 1,000 s). Events are built before timing; only
//! `Engine::push` + `Engine::finish` are timed, on one thread.
//!
//! * `event_count` (`gte 3`, eager: fires every third event of a key) and
//!   `temporal_ordered` (steps a → b → c, one chain per key, completes every third
//!   event of a key).
//! * The engine is batch only: pushes collect, `finish` processes everything in event
//!   time (the events here arrive in order, so nothing is re-sorted; the window timers
//!   are exercised).
//! * Three input sizes (1M, 2M, 4M events by default) show whether time grows linearly.
//! * Each timing is repeated (`TP_BENCH_REPS`, default 3): best and median are printed.
//!   The machine is shared, so the load average is printed too.
//! * `floor`: a trivial loop over the same events doing one group-key hash lookup
//!   (read `tp.tenant`, look it up in a map of the 100,000 keys). `x floor` is the
//!   engine's time divided by that: the engine's overhead over the physical minimum.
//! * Memory is measured in a fresh child process per configuration (the allocator
//!   keeps freed pages, so RSS in a reused process says nothing): the engine's own
//!   accounting ([`Engine::state_bytes`]) and the RSS growth from `/proc/self/statm`,
//!   both at the peak (before `finish`: the queue holds every event), divided by the
//!   events.
//!
//! Environment: `TP_BENCH_SIZES=1000000,2000000` (sizes), `TP_BENCH_REPS=5`,
//! `TP_BENCH_ONLY=event_count|temporal_ordered`, `TP_BENCH_NO_MEM=1` (skip the child
//! processes).

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use trustpath_correlate::{
    ContextSets, CorrelationDoc, CorrelationSet, Engine, RuleCatalog, RuleRef, StateBudget,
};
use trustpath_event::{Event, Format, Origin, SourceKind};

/// Active group keys.
const KEYS: usize = 100_000;
/// Environment variable that turns the process into a memory-measuring child.
const CHILD_ENV: &str = "TP_BENCH_CHILD";

struct Catalog;

impl RuleCatalog for Catalog {
    fn resolve(&self, id: &str) -> Option<RuleRef> {
        ["a", "b", "c"].iter().position(|n| *n == id).map(RuleRef)
    }
    fn title(&self, _: RuleRef) -> &str {
        "rule"
    }
}

/// The correlation kinds measured.
const KINDS: [&str; 2] = ["event_count", "temporal_ordered"];

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

fn tenant(i: usize) -> String {
    format!("tenant-{:06}", (i * 7919) % KEYS)
}

/// `n` events; the chain step (rule) cycles per round over all keys: a, b, c.
fn events(n: usize) -> Vec<(Arc<Event>, [RuleRef; 1])> {
    let start: Timestamp = "2025-01-01T00:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let file: Arc<str> = Arc::from("bench.jsonl");
    (0..n)
        .map(|i| {
            let fields = json!({"tp.tenant": tenant(i), "tp.ip": "192.0.2.1"});
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
                fields: trustpath_event::fields_from(fields),
                keys: Default::default(),
            };
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

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

fn selected<'a>(all: &[&'a str], env: &str) -> Vec<&'a str> {
    let only = std::env::var(env).ok();
    all.iter()
        .copied()
        .filter(|k| only.as_deref().is_none_or(|o| o == *k))
        .collect()
}

/// CPU time of the calling thread (user + system) from `/proc/thread-self/stat`, in
/// seconds (clock ticks assumed to be 100 per second, the Linux default; 10 ms
/// resolution). Unlike wall time it does not count time the scheduler gave to the
/// other builds sharing the machine.
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the `(comm)` field: state is field 3, utime 14, stime 15.
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// What one engine run measured.
struct Run {
    secs: f64,
    cpu_secs: f64,
    results: usize,
    pending: u64,
    state_bytes: usize,
    rss_growth: usize,
}

fn rules_for(kind: &str, rules: &[RuleRef; 1]) -> &'static [RuleRef] {
    const STEPS: [[RuleRef; 1]; 3] = [[RuleRef(0)], [RuleRef(1)], [RuleRef(2)]];
    if kind == "event_count" {
        &STEPS[0]
    } else {
        &STEPS[rules[0].0 % 3]
    }
}

/// Pushes `input` through a fresh engine, then finishes it.
fn run_engine(kind: &str, input: &[(Arc<Event>, [RuleRef; 1])]) -> Run {
    let set = set(kind);
    let rss_before = rss_bytes();
    let mut engine = Engine::new(set, StateBudget::default());
    let mut out = Vec::new();
    let cpu_start = thread_cpu_secs();
    let start = Instant::now();
    for (event, rules) in input {
        engine.push(event.clone(), rules_for(kind, rules));
    }
    let paused = Instant::now();
    let cpu_paused = thread_cpu_secs();
    let pending = engine.stats().pending;
    let state_bytes = engine.state_bytes();
    let rss_growth = rss_bytes().saturating_sub(rss_before);
    let cpu_resumed = thread_cpu_secs();
    let resumed = Instant::now();
    engine.finish(&mut out);
    let results = out.len();
    let secs = (paused - start + resumed.elapsed()).as_secs_f64();
    let cpu_secs = cpu_paused - cpu_start + thread_cpu_secs() - cpu_resumed;
    Run {
        secs,
        cpu_secs,
        results,
        pending,
        state_bytes,
        rss_growth,
    }
}

/// The physical floor: read the group key and look it up once per event.
fn floor_secs(input: &[(Arc<Event>, [RuleRef; 1])], index: &HashMap<String, u32>) -> (f64, f64) {
    let cpu_start = thread_cpu_secs();
    let start = Instant::now();
    let mut sum = 0u64;
    for (event, _) in input {
        let key = event
            .get("tp.tenant")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        sum += u64::from(index.get(key).copied().unwrap_or(0));
    }
    black_box(sum);
    (start.elapsed().as_secs_f64(), thread_cpu_secs() - cpu_start)
}

fn best_median(mut xs: Vec<f64>) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[0], xs[xs.len() / 2])
}

/// Child process: one configuration's memory at the peak, printed as
/// `pending state_bytes rss_growth`.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split(',').collect();
    let [kind, n] = parts[..] else {
        eprintln!("bad {CHILD_ENV}={spec}");
        return;
    };
    let input = events(n.parse().unwrap_or(0));
    let run = run_engine(kind, &input);
    println!("{} {} {}", run.pending, run.state_bytes, run.rss_growth);
}

fn memory_in_child(kind: &str, n: usize) -> Option<(u64, usize, usize)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .env(CHILD_ENV, format!("{kind},{n}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|x| x.parse::<usize>().ok());
    Some((it.next()?? as u64, it.next()??, it.next()??))
}

/// Pending, state bytes and RSS growth columns, per event (nothing is processed before
/// `finish`: the peak holds every event in the waiting queue).
fn memory_columns(
    mem: Option<(u64, usize, usize)>,
    fallback_pending: u64,
) -> (String, String, String) {
    let Some((pending, state, rss)) = mem else {
        return (fallback_pending.to_string(), "-".into(), "-".into());
    };
    let n = pending.max(1) as usize;
    (
        pending.to_string(),
        format!("{}/ev", state / n),
        format!("{}/ev", rss / n),
    )
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    let sizes = env_list("TP_BENCH_SIZES", &[1_000_000, 2_000_000, 4_000_000]);
    let reps = env_list("TP_BENCH_REPS", &[3])[0].max(1);
    let kinds = selected(&KINDS, "TP_BENCH_ONLY");
    let with_mem = std::env::var("TP_BENCH_NO_MEM").is_err();
    println!("load average at start: {}", loadavg());
    let max = sizes.iter().copied().max().unwrap_or(0);
    let built = Instant::now();
    let input = events(max);
    let index: HashMap<String, u32> = (0..KEYS).map(|i| (tenant(i), i as u32)).collect();
    println!(
        "built {max} events in {:.1} s; {KEYS} group keys; {reps} run(s) per row, best / median",
        built.elapsed().as_secs_f64()
    );
    println!();
    println!(
        "{:<17} {:>8} {:>8} {:>10} {:>10} {:>10} {:>7} {:>6} {:>8} {:>9} {:>9} {:>8}",
        "correlation",
        "events",
        "best ms",
        "best ev/s",
        "med ev/s",
        "cpu ev/s",
        "x floor",
        "ns/ev",
        "pending",
        "state B",
        "rss B",
        "results"
    );
    for &n in &sizes {
        let slice = &input[..n];
        // The floor is cheap: measure it more often than the engine.
        let floors: Vec<(f64, f64)> = (0..reps.max(5))
            .map(|_| floor_secs(slice, &index))
            .collect();
        let (floor_best, floor_med) = best_median(floors.iter().map(|f| f.0).collect());
        let (floor_cpu, _) = best_median(floors.iter().map(|f| f.1).collect());
        println!(
            "{:<17} {:>8} {:>8.0} {:>10.0} {:>10.0} {:>10.0} {:>7} {:>6.0}",
            "floor (1 lookup)",
            n,
            floor_best * 1e3,
            n as f64 / floor_best,
            n as f64 / floor_med,
            n as f64 / floor_cpu.max(0.01),
            "1.0",
            floor_best * 1e9 / n as f64
        );
        for &kind in &kinds {
            let runs: Vec<Run> = (0..reps).map(|_| run_engine(kind, slice)).collect();
            let results = runs[0].results;
            let (best, med) = best_median(runs.iter().map(|r| r.secs).collect());
            let (cpu_best, _) = best_median(runs.iter().map(|r| r.cpu_secs).collect());
            let mem = if with_mem {
                memory_in_child(kind, n)
            } else {
                None
            };
            let (pending, state, rss) = memory_columns(mem, runs[0].pending);
            println!(
                "{:<17} {:>8} {:>8.0} {:>10.0} {:>10.0} {:>10.0} {:>7.1} {:>6.0} {:>8} {:>9} {:>9} {:>8}",
                kind,
                n,
                best * 1e3,
                n as f64 / best,
                n as f64 / med,
                n as f64 / cpu_best.max(0.01),
                best / floor_best,
                best * 1e9 / n as f64,
                pending,
                state,
                rss,
                results
            );
        }
    }
    println!();
    println!("load average at end: {}", loadavg());
    println!(
        "best/med ev/s: wall clock; cpu ev/s: events per second of this thread's CPU time \
         (best run; immune to time slices given to other processes, not to their cache \
         pollution). x floor: best engine wall time / best floor wall time.\n\
         state B: Engine::state_bytes (slots, interned keys, index, buffered entries, chains, \
         timers, waiting queue) at the peak (before finish); rss B: RSS growth from engine \
         creation to the peak (fresh child process). Per event (the waiting queue holds \
         every event until finish, by design). Events are shared Arcs built before timing \
         and not counted."
    );
}
