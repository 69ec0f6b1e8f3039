//! Every analytic folder's fixtures: each `fixtures/positive/<format>/` makes the analytic
//! fire (snapshot of its findings in the folder's `snapshots/`), and `fixtures/benign/`
//! produces no finding at all. A `fixtures/trustpath.toml` is the context for both.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use trustpath_context::Context;
use trustpath_report::Finding;

fn analytics_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("analytics")
}

fn context_for(dir: &Path) -> Context {
    let path = dir.join("fixtures/trustpath.toml");
    if path.is_file() {
        Context::load(&path).expect("fixture context")
    } else {
        Context::default()
    }
}

/// What a reviewer needs to see in a snapshot: no paths or ids that change with layout.
fn view(finding: &Finding) -> Value {
    json!({
        "analytic": finding.analytic,
        "kind": finding.kind,
        "severity": finding.severity.level,
        "reasons": finding.severity.reasons.iter().map(|r| redact_ids(&format!("{:?}: {}", r.effect, r.reason))).collect::<Vec<_>>(),
        "authorized": finding.authorized,
        "entities": finding.entities,
        "evidence": finding.evidence.iter().map(|e| format!("{} {} {} {}", e.step, e.time, e.source, e.summary)).collect::<Vec<_>>(),
        "rollback": finding.rollback,
    })
}

/// Finding ids hash evidence origins, which hold the fixture's path: mask them.
fn redact_ids(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let hex = word.len() == 16 && word.chars().all(|c| c.is_ascii_hexdigit());
            if hex { "<id>" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

#[test]
fn positive_fixtures_fire_in_every_format() {
    for analytic_dir in subdirs(&analytics_dir()) {
        let id = analytic_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let formats = subdirs(&analytic_dir.join("fixtures/positive"));
        assert!(!formats.is_empty(), "{id}: no positive fixtures");
        for format_dir in formats {
            let format = format_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            let hunt = common::hunt(
                std::slice::from_ref(&format_dir),
                context_for(&analytic_dir),
            );
            assert_eq!(hunt.skipped, 0, "{id}/{format}: skipped records");
            let own: Vec<Value> = hunt
                .findings
                .iter()
                .filter(|f| f.analytic.as_deref() == Some(id.as_str()))
                .map(view)
                .collect();
            assert!(
                !own.is_empty(),
                "{id} does not fire on its {format} fixture"
            );
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path(analytic_dir.join("snapshots"));
            settings.set_prepend_module_to_snapshot(false);
            settings.bind(|| insta::assert_json_snapshot!(format!("{id}-{format}"), own));
        }
    }
}

#[test]
fn benign_fixtures_stay_silent() {
    for analytic_dir in subdirs(&analytics_dir()) {
        let id = analytic_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let benign = analytic_dir.join("fixtures/benign");
        assert!(benign.is_dir(), "{id}: no benign fixtures");
        let hunt = common::hunt(&[benign], context_for(&analytic_dir));
        assert_eq!(hunt.skipped, 0, "{id}: skipped benign records");
        assert!(hunt.events > 0, "{id}: benign fixtures hold no events");
        let found: Vec<Value> = hunt.findings.iter().map(view).collect();
        assert!(
            found.is_empty(),
            "{id} benign fixtures produced findings: {found:#?}"
        );
    }
}
