//! Detectors of contexts whose rules load the same way share one compiled rule set (a
//! hunt over one folder per tenant compiles the rules once); a context that changes a
//! placeholder, or another status filter, gets its own.

use trustpath_analytics::{Detector, DetectorOptions, Registry};
use trustpath_context::Context;

fn context(toml: &str) -> Context {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trustpath.toml");
    std::fs::write(&path, toml).expect("write");
    Context::load_with(&path, &Registry::builtin().schema()).expect("context")
}

fn build(context: Context, statuses: &[&str], earlier: &[Detector]) -> Detector {
    let (detector, problems) = Detector::build_sharing(
        DetectorOptions {
            builtin: true,
            context,
            statuses: statuses.iter().map(|s| (*s).to_owned()).collect(),
            ..DetectorOptions::default()
        },
        Registry::builtin(),
        earlier,
    );
    assert!(
        problems.rules.iter().all(|p| p.is_warning()),
        "{:?}",
        problems.rules
    );
    detector
}

#[test]
fn the_same_rules_are_compiled_once_and_a_changed_placeholder_compiles_again() {
    let tenant_a = build(context("[settings]\n"), &[], &[]);
    let tenant_b = build(
        context("[settings]\n"),
        &[],
        std::slice::from_ref(&tenant_a),
    );
    assert!(tenant_b.shares_rules_with(&tenant_a));
    assert_eq!(tenant_a.rules().rules.len(), tenant_b.rules().rules.len());

    // AN1052's cmdlet filter is a placeholder in its rules: other values, other rules.
    let narrower = build(
        context("[analytics.AN1052]\nPowerShellCmdletFilter = [\"Add-MailboxPermission\"]\n"),
        &[],
        std::slice::from_ref(&tenant_a),
    );
    assert!(!narrower.shares_rules_with(&tenant_a));

    let filtered = build(
        context("[settings]\n"),
        &["stable"],
        std::slice::from_ref(&tenant_a),
    );
    assert!(!filtered.shares_rules_with(&tenant_a));
}
