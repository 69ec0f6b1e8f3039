//! The text form of a [`CoverageReport`]: what `trustpath coverage` prints.

use crate::coverage::{CoverageReport, StepCoverage};
use crate::text::time_text;
use jiff::Timestamp;
use std::io::{self, Write};

fn range_text(first: Option<Timestamp>, last: Option<Timestamp>) -> String {
    match (first, last) {
        (Some(f), Some(l)) => format!("{} .. {}", time_text(f), time_text(l)),
        _ => "-".to_owned(),
    }
}

/// Write the report as aligned text.
pub(crate) fn write(report: &CoverageReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "Input: {} events, {} (gap threshold {})",
        report.events,
        range_text(report.time.first, report.time.last),
        report.gap_threshold
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<14} {:>9} {:>9}  {:<42} gaps",
        "SOURCE", "EVENTS", "WITH IP", "TIME RANGE"
    )?;
    for s in &report.sources {
        writeln!(
            out,
            "{:<14} {:>9} {:>9}  {:<42} {}",
            s.source.as_str(),
            s.events,
            s.with_ip,
            range_text(s.time.first, s.time.last),
            s.gaps.len()
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<8} {:<4} {:<8} {:<52} SOURCES (events)",
        "ANALYTIC", "STEP", "VERDICT", "WHAT"
    )?;
    for analytic in &report.analytics {
        writeln!(
            out,
            "{:<8} {:<4} {:<8} {:<52} {}",
            analytic.id,
            "-",
            analytic.verdict.as_str().to_uppercase(),
            clip(&format!("{} ({})", analytic.title, analytic.technique), 52),
            analytic
                .retention
                .as_ref()
                .map(|r| format!("window {} / input {}", r.window, r.input_span))
                .unwrap_or_default()
        )?;
        for step in &analytic.steps {
            writeln!(
                out,
                "{:<8} {:<4} {:<8} {:<52} {}",
                "",
                step.number,
                step.verdict.as_str(),
                clip(&step.name, 52),
                sources_text(step)
            )?;
        }
    }
    write_blind_spots(report, out)?;
    write_partners(report, out)
}

fn sources_text(step: &StepCoverage) -> String {
    step.sources
        .iter()
        .map(|s| format!("{} ({})", s.source, s.events))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_blind_spots(report: &CoverageReport, out: &mut dyn Write) -> io::Result<()> {
    let spots: Vec<_> = report
        .analytics
        .iter()
        .flat_map(|a| a.all_blind_spots().map(move |(step, b)| (a, step, b)))
        .collect();
    writeln!(out)?;
    if spots.is_empty() {
        return writeln!(out, "Blind spots: none");
    }
    writeln!(out, "Blind spots:")?;
    for (analytic, step, spot) in spots {
        let place = if step == 0 {
            analytic.id.clone()
        } else {
            format!("{} step {step}", analytic.id)
        };
        writeln!(out, "  {place}: {}", spot.what)?;
        writeln!(out, "      enable: {}", spot.enable)?;
    }
    Ok(())
}

fn write_partners(report: &CoverageReport, out: &mut dyn Write) -> io::Result<()> {
    let p = &report.partner_ip;
    writeln!(out)?;
    let share = p
        .share_in_ranges
        .map_or("-".to_owned(), |s| format!("{:.0}%", s * 100.0));
    writeln!(
        out,
        "Partner IP context: {} ({} partner events, {} with an IP, {share} in configured ranges)",
        if p.reliable {
            "reliable"
        } else {
            "NOT reliable"
        },
        p.events,
        p.with_ip
    )?;
    for partner in &p.partners {
        writeln!(
            out,
            "  {:<38} {:<28} {:>6} events {:>6} in ranges {:>4} without IP",
            partner.tenant,
            clip(partner.name.as_deref().unwrap_or("(not in context)"), 28),
            partner.events,
            partner.in_ranges,
            partner.without_ip
        )?;
    }
    for name in &p.unconfigured_partners {
        writeln!(out, "  partner without ranges in the context: {name}")?;
    }
    for warning in &p.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    Ok(())
}

/// At most `width` characters, with an ellipsis when cut.
pub(crate) fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}
