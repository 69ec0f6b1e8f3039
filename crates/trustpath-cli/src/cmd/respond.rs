//! `trustpath respond ID`: the PowerShell that rolls a finding's permission changes back.

use crate::args::{InputArgs, RespondArgs, RuleArgs};
use anyhow::{Context as _, bail};
use std::io::{BufRead, Write};
use std::process::ExitCode;
use trustpath_report::Finding;

/// Run the command.
pub fn run(args: RespondArgs) -> anyhow::Result<ExitCode> {
    if args.id.len() < 8 {
        bail!("give at least 8 characters of the finding id");
    }
    let findings = match &args.findings {
        Some(path) => read_findings(path)?,
        None if !args.paths.is_empty() => hunt_findings(&args)?,
        None => bail!("give a findings file (--findings FILE) or the logs to hunt over (PATHS)"),
    };
    let matching: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.id.starts_with(&args.id))
        .collect();
    let finding = match matching.as_slice() {
        [one] => *one,
        [] => bail!("no finding with id {}", args.id),
        many => bail!(
            "{} findings start with {}; give more of the id",
            many.len(),
            args.id
        ),
    };
    let out = &mut std::io::stdout().lock();
    writeln!(out, "# trustpath rollback for finding {}", finding.id)?;
    writeln!(
        out,
        "# {} - {} ({})",
        finding.analytic.as_deref().unwrap_or("sigma"),
        finding.title,
        finding.severity.level
    )?;
    let e = &finding.entities;
    writeln!(
        out,
        "# mailbox {}, trustee {}, actor {}",
        e.mailbox.as_deref().unwrap_or("-"),
        e.trustee.as_deref().unwrap_or("-"),
        e.actor.as_deref().unwrap_or("-")
    )?;
    if finding.rollback.is_empty() {
        writeln!(
            out,
            "# this finding records no permission change trustpath can roll back;"
        )?;
        writeln!(
            out,
            "# see `trustpath explain {}` for the response steps.",
            finding.analytic.as_deref().unwrap_or("ID")
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "# Run in an Exchange Online PowerShell session (Connect-ExchangeOnline)."
    )?;
    for command in &finding.rollback {
        writeln!(out, "{command}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_findings(path: &std::path::Path) -> anyhow::Result<Vec<Finding>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open findings file {}", path.display()))?;
    let mut findings = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let finding: Finding = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: not a trustpath finding (write it with `hunt --format jsonl`)",
                path.display(),
                n + 1
            )
        })?;
        findings.push(finding);
    }
    Ok(findings)
}

fn hunt_findings(args: &RespondArgs) -> anyhow::Result<Vec<Finding>> {
    let input = InputArgs {
        paths: args.paths.clone(),
        time_field: None,
        strict: false,
        show_errors: 0,
    };
    let rules = RuleArgs {
        rules: Vec::new(),
        no_builtin: false,
        context: args.context.clone(),
        mapping: None,
    };
    Ok(super::hunt::execute(&input, &rules, false, false)?.findings)
}
