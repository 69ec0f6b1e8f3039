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
    // Every value from a log that reaches a `#` comment is neutralised (a line break in
    // a mailbox name must not end the comment and start live PowerShell).
    let c = trustpath_powershell::comment_text;
    writeln!(out, "# trustpath rollback for finding {}", c(&finding.id))?;
    writeln!(
        out,
        "# {} - {} ({})",
        c(finding.analytic.as_deref().unwrap_or("sigma")),
        c(&finding.title),
        finding.severity.level
    )?;
    let e = &finding.entities;
    writeln!(
        out,
        "# mailbox {}, trustee {}, actor {}",
        c(e.mailbox.as_deref().unwrap_or("-")),
        c(e.trustee.as_deref().unwrap_or("-")),
        c(e.actor.as_deref().unwrap_or("-"))
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
        match checked_rollback(command) {
            Ok(()) => writeln!(out, "{command}")?,
            Err(why) => writeln!(
                out,
                "# trustpath withheld a rollback line: {why}. Review the finding's evidence by hand."
            )?,
        }
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
        memory_budget: None,
    };
    let rules = RuleArgs {
        rules: Vec::new(),
        no_builtin: false,
        context: args.context.clone(),
        mapping: None,
        placeholders: None,
        // Only the built-in analytics run: no rule files to cache.
        no_rule_cache: true,
    };
    Ok(trustpath_hunt::hunt_collect(&super::hunt::options(&input, &rules, false, false))?.findings)
}

/// The cmdlets a rollback line may run.
const ROLLBACK_CMDLETS: &[&str] = &[
    "Remove-MailboxPermission",
    "Remove-RecipientPermission",
    "Set-Mailbox",
    "Remove-MailboxFolderPermission",
    "Set-MailboxFolderPermission",
    "Get-ManagementRoleAssignment",
    "Remove-ManagementRoleAssignment",
];

/// A rollback line is printed only when, read back as PowerShell, it is what trustpath
/// meant: comment lines hold no line break or control character, and every command
/// line is one statement of known rollback cmdlets (a pipeline of two at most).
fn checked_rollback(command: &str) -> Result<(), String> {
    for line in command.split('\n') {
        if line.chars().any(trustpath_powershell::is_unsafe_in_line) {
            return Err("it holds a control character".to_owned());
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        let statements = trustpath_powershell::tokenize(line)
            .iter()
            .filter(|t| matches!(t, trustpath_powershell::Token::StatementEnd))
            .count();
        if statements > 0 {
            return Err("it holds more than one statement".to_owned());
        }
        let commands = trustpath_powershell::commands(line);
        if commands.is_empty() || commands.len() > 2 {
            return Err(format!("it holds {} commands", commands.len()));
        }
        if let Some(other) = commands.iter().find(|c| {
            !ROLLBACK_CMDLETS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&c.name))
        }) {
            return Err(format!(
                "it would run {}",
                trustpath_powershell::comment_text(&other.name)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::checked_rollback;

    #[test]
    fn only_intended_rollback_statements_pass() {
        assert!(checked_rollback("Remove-MailboxPermission -Identity 'a' -User 'b' -AccessRights 'FullAccess' -Confirm:$false").is_ok());
        assert!(checked_rollback("Get-ManagementRoleAssignment -Role 'x' -RoleAssignee 'y' | Remove-ManagementRoleAssignment -Confirm:$false").is_ok());
        assert!(
            checked_rollback("Remove-MailboxPermission -Identity a; Remove-Mailbox ceo").is_err()
        );
        assert!(checked_rollback("# note\nGet-Mailbox | Remove-Mailbox").is_err());
        assert!(checked_rollback("# a\u{2028}Remove-Mailbox ceo").is_err());
    }
}
