//! Acceptance: SigmaHQ's regression suite (`../shared/sigma/regression_data`).
//!
//! For each `info.yml`, the rule named by `rule_metadata[].id` is run over the EVTX at
//! `regression_tests_info[].path` (read with trustpath-read, normalized with
//! trustpath-normalize) and the number of matching events must reach `match_count`
//! (SigmaHQ's own criterion; a case without `match_count` needs at least one match).
//! Every case must pass. Cases with more matches than `match_count` are listed (with the
//! reason, where known, in `MORE_THAN_COUNT`); the report goes to
//! `target/sigma-reports/sigmahq-regression.txt`.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use trustpath_event::Event;
use trustpath_sigma::{LoadOptions, RuleSet};

const FOLDERS: [&str; 4] = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-dfir",
];

/// One regression case: a rule id, an EVTX path and the expected count.
struct Case {
    info: PathBuf,
    rule_id: String,
    evtx: PathBuf,
    /// `match_count`; when absent (a positive test without a count) at least one match.
    expected: Option<u64>,
}

#[test]
fn sigmahq_regression_suite() {
    let Some(shared) = trustpath_testkit::shared_dir("sigmahq_regression_suite") else {
        return;
    };
    let sigma = shared.join("sigma");
    let paths: Vec<PathBuf> = FOLDERS.iter().map(|f| sigma.join(f)).collect();
    let (all, _) = RuleSet::load(&paths, &LoadOptions::default());
    let cases = collect_cases(&sigma);
    let mut failures = Vec::new();
    let mut more = Vec::new();
    let mut passed = 0;
    for case in &cases {
        match run_case(&all, case) {
            Ok(None) => passed += 1,
            Ok(Some(note)) => {
                passed += 1;
                more.push(format!(
                    "{}: rule {}: {note}",
                    case.info.display(),
                    case.rule_id
                ));
            }
            Err(why) => failures.push(format!(
                "{}: rule {}: {why}",
                case.info.display(),
                case.rule_id
            )),
        }
    }
    let total = cases.len();
    let rate = 100.0 * passed as f64 / total.max(1) as f64;
    let mut report = format!(
        "SigmaHQ regression: {passed}/{total} reach match_count ({rate:.2}%), {} with more\n",
        more.len()
    );
    for f in &failures {
        let _ = writeln!(report, "FAIL {f}");
    }
    for m in &more {
        let _ = writeln!(report, "MORE {m}");
    }
    let dir = trustpath_testkit::workspace_root().join("target/sigma-reports");
    let file = dir.join("sigmahq-regression.txt");
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, &report))
        .is_ok()
    {
        println!("full report: {}", file.display());
    }
    print!("{report}");
    assert!(
        total >= 100,
        "expected the 130 regression cases, found {total}"
    );
    assert!(
        failures.is_empty(),
        "{} regression cases below match_count",
        failures.len()
    );
}

fn collect_cases(sigma: &Path) -> Vec<Case> {
    let mut infos: Vec<PathBuf> = walk(&sigma.join("regression_data"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "info.yml"))
        .collect();
    infos.sort();
    let mut cases = Vec::new();
    for info in infos {
        let text = std::fs::read_to_string(&info).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        let ids: Vec<String> = doc["rule_metadata"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect();
        for test in doc["regression_tests_info"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if test["type"].as_str() != Some("evtx") {
                continue;
            }
            for id in &ids {
                cases.push(Case {
                    info: info.clone(),
                    rule_id: id.clone(),
                    evtx: sigma.join(test["path"].as_str().unwrap_or_default()),
                    expected: test["match_count"].as_u64(),
                });
            }
        }
    }
    cases
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Ok(None): exactly the expected count; Ok(Some(note)): more matches than
/// `match_count`; Err: fewer.
fn run_case(all: &RuleSet, case: &Case) -> Result<Option<String>, String> {
    let index = all
        .find(&case.rule_id)
        .ok_or("rule not found in the rules folders (or it did not load)")?;
    let one = RuleSet {
        rules: vec![all.rules[index].clone()],
        ..RuleSet::default()
    };
    let matcher = one.compile();
    let (events, errors) = read_events(&case.evtx);
    if events.is_empty() {
        return Err(format!(
            "no events read from {} ({errors} errors)",
            case.evtx.display()
        ));
    }
    let mut out = Vec::new();
    let mut got = 0;
    for event in &events {
        matcher.matches(event, &mut out);
        got += u64::from(!out.is_empty());
    }
    match case.expected {
        Some(n) if got == n => return Ok(None),
        Some(n) if got > n => {
            return Ok(Some(format!(
                "{got} matches, match_count {n} (of {} events)",
                events.len()
            )));
        }
        None if got >= 1 => return Ok(None),
        _ => {}
    }
    let first = &events[0];
    Err(format!(
        "expected {} matches, got {got} of {} events (first event: Channel={:?} EventID={:?}; rule logsource {}; {errors} read errors)",
        case.expected
            .map_or("at least 1".to_owned(), |n| n.to_string()),
        events.len(),
        first.get("Channel"),
        first.get("EventID"),
        all.rules[index].logsource,
    ))
}

fn read_events(path: &Path) -> (Vec<Event>, usize) {
    let input = trustpath_read::Input::File(path.to_path_buf());
    let mut normalizer = trustpath_normalize::Normalizer::new(Default::default());
    let mut out = Vec::new();
    let mut errors = 0;
    trustpath_read::read_input(
        &input,
        &trustpath_read::ReadOptions::default(),
        &mut |item| match item {
            Ok(raw) => normalizer.push(raw, &mut out),
            Err(_) => errors += 1,
        },
    );
    normalizer.finish(&mut out);
    let mut events = Vec::new();
    for item in out {
        match item {
            Ok(e) => events.push(e),
            Err(_) => errors += 1,
        }
    }
    (events, errors)
}
