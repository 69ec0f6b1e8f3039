//! `trustpath list`: the built-in analytics.

use crate::args::ListArgs;
use std::io::Write;
use std::process::ExitCode;

/// Run the command.
pub fn run(args: ListArgs) -> anyhow::Result<ExitCode> {
    let catalog = trustpath_analytics::catalog();
    let out = &mut std::io::stdout().lock();
    if args.json {
        let items: Vec<_> = catalog.iter().map(|(meta, _)| meta).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<8}  {:<10}  {:<8}  {:<18}  TITLE",
        "ID", "TECHNIQUE", "STRATEGY", "PLATFORM"
    )?;
    for (meta, _) in &catalog {
        writeln!(
            out,
            "{:<8}  {:<10}  {:<8}  {:<18}  {}",
            meta.id, meta.technique, meta.strategy, meta.platform, meta.title
        )?;
    }
    writeln!(out, "\nMore: trustpath explain ID")?;
    Ok(ExitCode::SUCCESS)
}
