//! The independent corpus (`corpus/independent/`): test tenants written from Microsoft's
//! documentation alone, by someone who had not read the engine, with their own ground
//! truth (`ground-truth.json`, format in `corpus/independent/README.md`).
//!
//! Scored per analytic: recall (expected findings found, with the kind the ground truth
//! asks for, citing the expected records) and precision (unauthorised alerts that match
//! an expected item: a lead is a hunting suggestion, and an authorised finding — every
//! change and access covered by the context — is shown but never paged). An
//! unauthorised alert citing a record the ground truth says must stay silent is a hard
//! failure.
//! A finding folded into a stronger analytic's finding (the detector's fusion: the
//! stronger finding cites the same records and notes "also covers ANxxxx finding …") is
//! counted as found, in the `folded` column: the analyst sees it there.
//! `cargo test -p trustpath-analytics --test independent_corpus -- --nocapture` prints
//! the table.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use trustpath_context::Context;
use trustpath_report::{Finding, FindingKind};

fn corpus() -> PathBuf {
    trustpath_testkit::workspace_root().join("corpus/independent")
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

fn cites(finding: &Finding, id: &str) -> bool {
    finding.evidence.iter().any(|e| {
        e.record_id.as_deref().is_some_and(|r| {
            let r = r.to_lowercase();
            r == id
                || r.ends_with(&format!("/{id}"))
                || r.ends_with(&format!(":{id}"))
                || id.ends_with(&format!("/{r}"))
        })
    })
}

fn hunt_tenant(dir: &Path) -> Vec<Finding> {
    let ctx = dir.join("trustpath.toml");
    let context = if ctx.is_file() {
        Context::load(&ctx).expect("tenant context")
    } else {
        Context::default()
    };
    common::hunt(&[dir.to_path_buf()], context).findings
}

fn matches(finding: &Finding, want: &Value) -> bool {
    finding.analytic.as_deref() == Some(text(want, "analytic")) && cites_as_wanted(finding, want)
}

/// `want` folded into `finding`, a stronger analytic's finding citing the same records.
fn folded_into(finding: &Finding, want: &Value) -> bool {
    let note = format!("also covers {} finding", text(want, "analytic"));
    finding
        .severity
        .reasons
        .iter()
        .any(|r| r.reason.contains(&note))
        && cites_as_wanted(finding, want)
}

fn cites_as_wanted(finding: &Finding, want: &Value) -> bool {
    let kind_ok = match text(want, "kind") {
        "alert" => finding.kind == FindingKind::Alert,
        "hunting_lead" => finding.kind == FindingKind::HuntingLead,
        _ => true,
    };
    let evidence = ids(want, "evidence_record_ids");
    let all_cited = evidence.iter().all(|id| cites(finding, id));
    // `evidence_any_of`: one id of each inner list must be cited.
    let any_of_cited = want
        .get("evidence_any_of")
        .and_then(Value::as_array)
        .is_none_or(|groups| {
            groups.iter().all(|group| {
                group.as_array().is_some_and(|g| {
                    g.iter()
                        .filter_map(Value::as_str)
                        .any(|id| cites(finding, &id.to_lowercase()))
                })
            })
        });
    let cited = all_cited && any_of_cited;
    let partner = text(want, "partner_tenant_id").to_lowercase();
    let partner_ok = partner.is_empty()
        || finding
            .entities
            .partner
            .as_deref()
            .is_some_and(|p| p.to_lowercase().contains(&partner));
    let partner_ok = partner_ok || finding.analytic.as_deref() != Some(text(want, "analytic"));
    kind_ok && cited && partner_ok
}

#[derive(Default)]
struct Score {
    expected: usize,
    found: usize,
    folded: usize,
    alerts: usize,
    true_alerts: usize,
}

#[test]
fn the_hunt_agrees_with_the_independent_ground_truth() {
    let root = corpus();
    let truth_path = root.join("ground-truth.json");
    let Ok(truth) = std::fs::read_to_string(&truth_path) else {
        eprintln!(
            "SKIPPED independent corpus: {} not found",
            truth_path.display()
        );
        return;
    };
    let truth: Value = serde_json::from_str(&truth).expect("ground-truth.json");
    let expected = truth
        .get("expected")
        .or_else(|| truth.get("expected_findings"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let silent = truth
        .get("must_stay_silent")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut folders: Vec<String> = expected
        .iter()
        .chain(&silent)
        .map(|v| text(v, "tenant_folder").to_owned())
        .collect();
    folders.sort();
    folders.dedup();
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    let mut failures = Vec::new();
    for folder in &folders {
        let findings = hunt_tenant(&root.join(folder));
        let mine: Vec<&Value> = expected
            .iter()
            .filter(|v| text(v, "tenant_folder") == folder)
            .collect();
        for want in &mine {
            let score = scores.entry(text(want, "analytic").to_owned()).or_default();
            score.expected += 1;
            if findings.iter().any(|f| matches(f, want)) {
                score.found += 1;
            } else if findings.iter().any(|f| folded_into(f, want)) {
                score.found += 1;
                score.folded += 1;
            } else {
                failures.push(format!(
                    "{folder}: missed {} {}: {}",
                    text(want, "analytic"),
                    text(want, "kind"),
                    text(want, "why")
                ));
            }
        }
        let paged = |f: &&Finding| f.kind == FindingKind::Alert && f.authorized.is_none();
        for finding in findings.iter().filter(paged) {
            let Some(analytic) = finding.analytic.clone() else {
                continue;
            };
            let score = scores.entry(analytic).or_default();
            score.alerts += 1;
            if mine.iter().any(|w| matches(finding, w)) {
                score.true_alerts += 1;
            }
        }
        for quiet in silent.iter().filter(|v| text(v, "tenant_folder") == folder) {
            let analytic = text(quiet, "analytic");
            for id in ids(quiet, "record_ids") {
                for f in findings.iter().filter(|f| {
                    paged(f)
                        && (analytic.is_empty() || f.analytic.as_deref() == Some(analytic))
                        && cites(f, &id)
                }) {
                    failures.push(format!(
                        "{folder}: {} alert cites {id}, which must stay silent ({})",
                        f.analytic.as_deref().unwrap_or("?"),
                        text(quiet, "description")
                    ));
                }
            }
        }
    }
    println!("analytic  expected  found  (folded)  recall  alerts  true  precision");
    for (analytic, s) in &scores {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}%", 100.0 * a as f64 / b as f64)
            }
        };
        println!(
            "{analytic:<9} {:>8} {:>6} {:>9} {:>7} {:>7} {:>5} {:>10}",
            s.expected,
            s.found,
            s.folded,
            ratio(s.found, s.expected),
            s.alerts,
            s.true_alerts,
            ratio(s.true_alerts, s.alerts)
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
