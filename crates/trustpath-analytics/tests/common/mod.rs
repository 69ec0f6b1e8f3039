//! Shared test helper: a whole hunt (read → normalize → detect) over paths.

use std::path::PathBuf;
use trustpath_analytics::{Baseline, Detector, DetectorOptions, Matched};
use trustpath_context::Context;
use trustpath_pipeline::{ScanConfig, scan};
use trustpath_report::Finding;

/// What a test hunt produced.
#[allow(dead_code)] // not every test binary reads every field
pub struct Hunt {
    pub findings: Vec<Finding>,
    pub events: u64,
    pub skipped: u64,
}

/// Run the built-in analytics over `paths` with `context`.
pub fn hunt(paths: &[PathBuf], context: Context) -> Hunt {
    let (detector, problems) = Detector::build(DetectorOptions {
        builtin: true,
        context,
        ..DetectorOptions::default()
    });
    assert!(problems.analytics.is_empty(), "{:?}", problems.analytics);
    assert!(
        problems.rules.iter().all(|p| p.is_warning()),
        "{:?}",
        problems.rules
    );
    assert!(
        problems.correlations.is_empty(),
        "{:?}",
        problems.correlations
    );
    let (inputs, errors) = trustpath_read::expand_inputs(paths);
    assert!(errors.is_empty(), "{errors:?}");
    let inputs: Vec<_> = inputs
        .into_iter()
        .filter(|i| match i {
            trustpath_read::Input::File(p) => !matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("md" | "toml" | "snap")
            ),
            trustpath_read::Input::Stdin => true,
        })
        .collect();
    let mut result = scan(
        &inputs,
        &ScanConfig::default(),
        |b: &mut Baseline, event| {
            b.observe_event(&event);
            detector.match_shared(event)
        },
    );
    for input in &mut result.inputs {
        for m in &mut input.selected {
            detector.attribute(m, &input.host_tenants);
        }
    }
    let events = result.inputs.iter().map(|r| r.summary.events).sum();
    let skipped = result.inputs.iter().map(|r| r.summary.error_count()).sum();
    let (matched, baselines): (Vec<Matched>, Vec<Baseline>) = result.into_parts();
    let mut baseline = Baseline::default();
    baselines.into_iter().for_each(|b| baseline.merge(b));
    Hunt {
        findings: detector.findings(matched, &baseline).findings,
        events,
        skipped,
    }
}

/// The workspace's `examples/` folder.
#[allow(dead_code)] // used by some test binaries only
pub fn examples() -> PathBuf {
    trustpath_testkit::workspace_root().join("examples")
}
