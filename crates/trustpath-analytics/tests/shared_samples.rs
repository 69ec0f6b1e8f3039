//! The real public samples in `../shared/samples` produce no finding beyond the reviewed
//! ones in `known-false-positives.toml`, and read without a skipped record.

mod common;

use std::path::Path;
use trustpath_context::Context;

#[derive(serde::Deserialize)]
struct Known {
    finding: Vec<KnownFinding>,
}

#[derive(serde::Deserialize)]
struct KnownFinding {
    analytic: String,
    file: String,
    #[allow(dead_code)]
    reason: String,
}

#[test]
fn real_samples_raise_only_reviewed_findings() {
    let Some(shared) = trustpath_testkit::shared_dir("real_samples_raise_only_reviewed_findings")
    else {
        return;
    };
    let known_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("known-false-positives.toml");
    let text = std::fs::read_to_string(&known_path).expect("known-false-positives.toml");
    let known: Known = toml::from_str(&text).expect("known-false-positives.toml parses");
    let samples = shared.join("samples");
    let hunt = common::hunt(std::slice::from_ref(&samples), Context::default());
    assert!(hunt.events > 6_000, "{} events", hunt.events);
    assert_eq!(
        hunt.skipped, 0,
        "real samples must read without skipped records"
    );
    for finding in &hunt.findings {
        let anchor = finding
            .evidence
            .first()
            .map(|e| e.origin.file.to_string())
            .unwrap_or_default();
        let listed = known.finding.iter().any(|k| {
            finding.analytic.as_deref() == Some(k.analytic.as_str()) && anchor.ends_with(&k.file)
        });
        assert!(
            listed,
            "unreviewed finding on real data: {} {} at {anchor}",
            finding.analytic.as_deref().unwrap_or("?"),
            finding.title
        );
    }
}
