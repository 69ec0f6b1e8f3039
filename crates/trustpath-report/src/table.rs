//! The human-readable table: one block per finding, aligned columns, evidence indented.

use crate::terminal::terminal_text as t;
use crate::{Finding, FindingKind};
use std::io::{self, Write};

/// Write findings as a readable table with their evidence beneath each row.
pub(crate) fn write_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
    writeln!(
        out,
        "{:<20}  {:<8}  {:<8}  {:<13}  {:<16}  TITLE",
        "TIME (UTC)", "SEVERITY", "ANALYTIC", "STATUS", "ID"
    )?;
    for finding in findings {
        write_row(out, finding)?;
    }
    Ok(())
}

fn status(finding: &Finding) -> String {
    match (&finding.authorized, finding.kind) {
        (Some(ticket), _) => format!("authorised {}", t(ticket)),
        (None, FindingKind::HuntingLead) => "hunting lead".to_owned(),
        (None, FindingKind::Alert) => "ALERT".to_owned(),
    }
}

fn write_row(out: &mut dyn Write, finding: &Finding) -> io::Result<()> {
    let time = finding
        .window
        .start
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    writeln!(
        out,
        "{:<20}  {:<8}  {:<8}  {:<13}  {:<16}  {}",
        time,
        finding.severity.level.as_str(),
        t(finding.analytic.as_deref().unwrap_or("sigma")),
        status(finding),
        t(finding.id.get(..16).unwrap_or(&finding.id)),
        t(&finding.title)
    )?;
    let e = &finding.entities;
    let mut who = Vec::new();
    for (label, value) in [
        ("tenant", &e.tenant),
        ("partner", &e.partner),
        ("actor", &e.actor),
        ("mailbox", &e.mailbox),
        ("trustee", &e.trustee),
        ("host", &e.host),
    ] {
        if let Some(v) = value {
            who.push(format!("{label}={}", t(v)));
        }
    }
    if !e.ips.is_empty() {
        who.push(format!("ips={}", t(&e.ips.join(","))));
    }
    if !who.is_empty() {
        writeln!(out, "    {}", who.join("  "))?;
    }
    for reason in finding.severity.reasons.iter().skip(1) {
        let effect = match reason.effect {
            crate::Effect::Raised => "raised",
            crate::Effect::Lowered => "lowered",
            crate::Effect::Noted => "noted",
            crate::Effect::Base => "base",
        };
        writeln!(out, "    {effect}: {}", t(&reason.reason))?;
    }
    for evidence in &finding.evidence {
        writeln!(
            out,
            "    [{}] {}  {}  ({})",
            t(&evidence.step),
            evidence.time.strftime("%Y-%m-%d %H:%M:%S"),
            t(&evidence.summary),
            t(&evidence.origin.to_string())
        )?;
    }
    Ok(())
}
