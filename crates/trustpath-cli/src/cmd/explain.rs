//! `trustpath explain ID`: an analytic's documentation, from its folder.

use crate::args::ExplainArgs;
use anyhow::bail;
use std::io::Write;
use std::process::ExitCode;
use trustpath_analytics::Metadata;

/// Run the command.
pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let catalog = trustpath_analytics::catalog();
    let Some((meta, doc)) = catalog
        .iter()
        .find(|(m, _)| m.id.eq_ignore_ascii_case(&args.id))
    else {
        let ids: Vec<&str> = catalog.iter().map(|(m, _)| m.id.as_str()).collect();
        bail!("no analytic {}; known: {}", args.id, ids.join(", "));
    };
    let out = &mut std::io::stdout().lock();
    if args.json {
        let rules = trustpath_analytics::rules_source(&meta.id).unwrap_or("");
        let doc_json = serde_json::json!({"metadata": meta, "documentation": doc, "rules": rules});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc_json)?)?;
    } else {
        write_text(out, meta, doc)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut dyn Write, meta: &Metadata, doc: &str) -> std::io::Result<()> {
    writeln!(out, "{} - {}", meta.id, meta.title)?;
    writeln!(
        out,
        "ATT&CK {} {} ({}), {} {}; platform {}",
        meta.technique,
        meta.technique_name,
        meta.technique_url(),
        meta.strategy,
        meta.strategy_name,
        meta.platform
    )?;
    writeln!(out, "\n{}\n", meta.summary.trim())?;
    writeln!(out, "Steps:")?;
    for (i, step) in meta.steps.iter().enumerate() {
        writeln!(out, "  {}. {} [rule {}]", i + 1, step.name, step.rule)?;
        writeln!(out, "     log sources: {}", step.sources.join(", "))?;
        writeln!(out, "     fields: {}", step.fields.join(", "))?;
        writeln!(out, "     needs: {}", step.enable)?;
    }
    writeln!(out, "\nTunables (trustpath.toml [analytics.{}]):", meta.id)?;
    for t in &meta.tunables {
        let name = if t.key() == t.name {
            t.name.clone()
        } else {
            format!("{} (ATT&CK {})", t.key(), t.name)
        };
        let feeds = t
            .placeholder
            .as_ref()
            .map(|p| format!("; feeds %{p}%"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {name}: {}{feeds}\n     default: {}\n     {}",
            t.kind.describe(),
            t.default,
            t.effect
        )?;
    }
    if !meta.context.is_empty() {
        writeln!(out, "\nAlso reads (trustpath.toml):")?;
        for c in &meta.context {
            writeln!(out, "  [{}]: {}", c.section, c.effect)?;
        }
    }
    writeln!(out, "\nFalse positives:")?;
    for fp in &meta.false_positives {
        writeln!(out, "  - {fp}")?;
    }
    writeln!(out, "\nResponse:")?;
    for (i, r) in meta.response.iter().enumerate() {
        writeln!(out, "  {}. {r}", i + 1)?;
    }
    if !doc.trim().is_empty() {
        writeln!(out, "\n{}", doc.trim())?;
    }
    Ok(())
}
