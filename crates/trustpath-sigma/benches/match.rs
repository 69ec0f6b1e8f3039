//! Matching throughput: every SigmaHQ Windows rule against ~100k synthetic Sysmon
//! process-creation events, compared with a baseline that only looks up one field per
//! event. Prints events/s, the ratio and the heap allocations per event of matching;
//! no assertions.

use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;
use trustpath_event::{Event, Format, Origin, SourceKind};
use trustpath_sigma::{LoadOptions, RuleSet};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const EVENTS: usize = 100_000;
const FOLDERS: [&str; 4] = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-dfir",
];

const IMAGES: [&str; 8] = [
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\rundll32.exe",
    "C:\\Users\\alice\\AppData\\Local\\Temp\\setup.exe",
    "C:\\Windows\\System32\\reg.exe",
    "C:\\Windows\\explorer.exe",
];
const COMMANDS: [&str; 8] = [
    "cmd.exe /c echo hello > C:\\temp\\out.txt",
    "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\scripts\\inventory.ps1",
    "\"chrome.exe\" --type=renderer --lang=en-US --field-trial-handle=1234",
    "svchost.exe -k netsvcs -p -s Schedule",
    "rundll32.exe C:\\Windows\\System32\\shell32.dll,Control_RunDLL",
    "setup.exe /quiet /norestart",
    "reg.exe query HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    "C:\\Windows\\explorer.exe /factory,{75dff2b7-6936-4c06-a8bb-676a7b00b24b}",
];

fn synthetic(i: usize) -> Event {
    let k = i % IMAGES.len();
    let fields = json!({
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": format!("ws{:04}.corp.example", i % 500),
        "Image": IMAGES[k],
        "CommandLine": format!("{} {}", COMMANDS[k], i),
        "ParentImage": IMAGES[(k + 3) % IMAGES.len()],
        "ParentCommandLine": COMMANDS[(k + 3) % COMMANDS.len()],
        "OriginalFileName": IMAGES[k].rsplit('\\').next().unwrap_or_default(),
        "User": "CORP\\alice",
        "IntegrityLevel": "Medium",
        "CurrentDirectory": "C:\\Users\\alice\\",
        "Hashes": "SHA256=0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
        "ProcessId": 1000 + i,
        "ParentProcessId": 900,
    });
    Event {
        time: jiff::Timestamp::UNIX_EPOCH,
        source: SourceKind::Windows,
        format: Format::Evtx,
        origin: Origin::file("synthetic"),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    }
}

fn main() {
    let Some(shared) = trustpath_testkit::shared_dir("bench match") else {
        println!("bench match: skipped (no ../shared/sigma)");
        return;
    };
    let paths: Vec<PathBuf> = FOLDERS
        .iter()
        .map(|f| shared.join("sigma").join(f))
        .collect();
    let started = Instant::now();
    let (mut set, errors) = RuleSet::load(&paths, &LoadOptions::default());
    set.rules
        .retain(|r| r.logsource.product.as_deref() == Some("windows"));
    let matcher = set.compile();
    println!(
        "loaded {} windows rules ({} load errors, {} branches, {} with a literal prefilter) in {:.2?}",
        set.rules.len(),
        errors.len(),
        matcher.branch_count(),
        matcher.prefiltered_count(),
        started.elapsed()
    );
    let events: Vec<Event> = (0..EVENTS).map(synthetic).collect();

    let started = Instant::now();
    let mut found = 0usize;
    for e in &events {
        found += usize::from(black_box(e.get("CommandLine")).is_some());
    }
    let baseline = started.elapsed();

    let mut out = Vec::with_capacity(64);
    // Warm the per-thread scratch, then count what matching allocates.
    matcher.matches(&events[0], &mut out);
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    let mut matched = 0usize;
    for e in &events {
        matcher.matches(black_box(e), &mut out);
        matched += out.len();
    }
    let matching = started.elapsed();
    let allocs = region.change();

    let rate = |d: std::time::Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "baseline (one field lookup): {:>12.0} events/s ({found} found)",
        rate(baseline)
    );
    println!(
        "sigma match ({} rules):   {:>12.0} events/s ({matched} rule matches)",
        set.rules.len(),
        rate(matching)
    );
    println!(
        "ratio: matching takes {:.1}x the baseline time",
        matching.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
    );
    println!(
        "allocations while matching: {:.2} per event ({} bytes per event)",
        allocs.allocations as f64 / EVENTS as f64,
        allocs.bytes_allocated / EVENTS
    );
}
