//! Acceptance: every SigmaHQ rule in `../shared/sigma` loads, with the documented
//! placeholder file (`placeholders/sigmahq.yml`) for the rules that use `|expand`.
//!
//! Prints the load rate and every rule that does not load with its reason; the full list
//! (errors and log-source warnings) goes to `target/sigma-reports/sigmahq-load.txt`.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::PathBuf;
use trustpath_sigma::{LoadOptions, RuleSet};

const FOLDERS: [&str; 4] = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-dfir",
];

#[test]
fn sigmahq_rules_load() {
    let Some(shared) = trustpath_testkit::shared_dir("sigmahq_rules_load") else {
        return;
    };
    let paths: Vec<PathBuf> = FOLDERS
        .iter()
        .map(|f| shared.join("sigma").join(f))
        .collect();
    let placeholders =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("placeholders/sigmahq.yml");
    let options = LoadOptions::default()
        .with_placeholder_file(&placeholders)
        .unwrap();
    let (set, errors) = RuleSet::load(&paths, &options);
    let loaded = set.rules.len() + set.correlations.len();
    let total = loaded + errors.len();
    let rate = 100.0 * loaded as f64 / total.max(1) as f64;

    let mut report = String::new();
    let _ = writeln!(
        report,
        "SigmaHQ load: {loaded}/{total} documents ({rate:.2}%), {} errors, {} warnings",
        errors.len(),
        set.warnings.len()
    );
    let _ = writeln!(report, "\n# errors (not loaded)");
    for e in &errors {
        let _ = writeln!(report, "{e}");
    }
    let _ = writeln!(report, "\n# warnings (loaded)");
    for w in &set.warnings {
        let _ = writeln!(report, "{w}");
    }
    let dir = trustpath_testkit::workspace_root().join("target/sigma-reports");
    let file = dir.join("sigmahq-load.txt");
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, &report))
        .is_ok()
    {
        println!("full report: {}", file.display());
    }
    println!(
        "SigmaHQ load: {loaded}/{total} ({rate:.2}%), {} warnings",
        set.warnings.len()
    );
    for e in &errors {
        println!("  not loaded: {e}");
    }
    assert!(
        errors.is_empty(),
        "only {rate:.2}% of SigmaHQ rules loaded ({} errors)",
        errors.len()
    );
}
