//! Shared test helper: a whole hunt (read → normalize → detect) over paths.

use std::path::PathBuf;
use trustpath_context::Context;
use trustpath_hunt::{ContextChoice, HuntOptions, InputOptions};
use trustpath_report::Finding;

/// What a test hunt produced.
#[allow(dead_code)] // not every test binary reads every field
pub struct Hunt {
    pub findings: Vec<Finding>,
    pub events: u64,
    pub skipped: u64,
}

/// Run the built-in analytics over `paths` with `context`: the production hunt
/// ([`trustpath_hunt::hunt_collect`]), nothing rebuilt here.
pub fn hunt(paths: &[PathBuf], context: Context) -> Hunt {
    let run = trustpath_hunt::hunt_collect(&HuntOptions {
        input: InputOptions {
            paths: paths.to_vec(),
            ..InputOptions::default()
        },
        context: ContextChoice::Given(Box::new(context)),
        ..HuntOptions::default()
    })
    .expect("hunt");
    let problems = &run.problems;
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
    assert!(
        run.summary.files.iter().all(|f| f.file != "(arguments)"),
        "{:?}",
        run.errors
    );
    Hunt {
        events: run.summary.files.iter().map(|f| f.events).sum(),
        skipped: run.summary.skipped(),
        findings: run.findings,
    }
}

/// The workspace's `examples/` folder.
#[allow(dead_code)] // used by some test binaries only
pub fn examples() -> PathBuf {
    trustpath_testkit::workspace_root().join("examples")
}
