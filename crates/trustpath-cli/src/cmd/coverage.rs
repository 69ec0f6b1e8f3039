//! `trustpath coverage`: per analytic and step, what the input has and where it is blind.

use crate::args::CoverageArgs;
use anyhow::Context as _;
use std::io::Write;
use std::process::ExitCode;
use trustpath_assurance::{CoverageCollector, CoverageOptions};

/// Run the command.
pub fn run(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let (context, _) = super::load_context(args.context.as_deref(), &args.input.paths)?;
    let gap = trustpath_context::parse_duration(&args.gap)
        .map_err(|e| anyhow::anyhow!("--gap {}: {e}", args.gap))?;
    let (collectors, problems) =
        super::collect(&args.input, &context, |c: &mut CoverageCollector, e| {
            c.observe(e)
        })?;
    let mut all = CoverageCollector::default();
    collectors.into_iter().for_each(|c| all.merge(c));
    let catalog: Vec<_> = trustpath_analytics::catalog()
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let report = all.report(&catalog, &context, &CoverageOptions { gap_threshold: gap });
    let out = &mut std::io::stdout().lock();
    // Facts `trustpath collect` read from the APIs (collection.json in the case folder).
    let facts = trustpath_assurance::collection_facts::read_collection_facts(&args.input.paths);
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if !facts.is_empty()
            && let Some(map) = value.as_object_mut()
        {
            map.insert("collection_facts".into(), serde_json::to_value(&facts)?);
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        report.write_table(out)?;
        trustpath_assurance::collection_facts::write_facts(&facts, out)?;
    }
    if let Some(path) = &args.navigator {
        let layer = serde_json::to_vec_pretty(&report.to_navigator_layer())?;
        std::fs::write(path, layer)
            .with_context(|| format!("cannot write the Navigator layer to {}", path.display()))?;
        eprintln!("ATT&CK Navigator layer written to {}", path.display());
    }
    Ok(super::normalize::strict_from_counts(
        args.input.strict,
        problems,
    ))
}
