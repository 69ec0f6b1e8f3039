//! The **report** stage: the [`Finding`] contract and its output formats.
//!
//! * [`Finding`]: stable id, analytic and ATT&CK ids, severity with the reasons that
//!   raised or lowered it, authorisation (ticket id), entities, every evidence event with
//!   its origin, the window, and rollback commands where the finding is a permission change.
//! * [`OutputFormat`]: `table` (for people), `jsonl` (one finding per line, for machines),
//!   `csv` (an evidence timeline for spreadsheets; formula injection neutralised), `ocsf`
//!   (OCSF 1.x Detection Finding, class 2004).
//!
//! Writers take findings already sorted (see [`Finding::sort_key`]) so that output is
//! deterministic.

mod finding;
mod ocsf;
mod table;
mod terminal;
pub use terminal::{is_unsafe_for_terminal, terminal_text};

pub use finding::{
    Attack, Effect, Entities, Evidence, Finding, FindingKind, Level, Reason, RuleRef, Severity,
    Window, anchor_key, attack_from_tags, finding_id, single_event_finding, summarize,
};

use std::io::{self, Write};

/// Output formats for findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned text table.
    Table,
    /// One JSON object per finding per line.
    Jsonl,
    /// CSV timeline: one row per evidence event.
    Csv,
    /// OCSF Detection Finding objects, one per line.
    Ocsf,
}

impl OutputFormat {
    /// Every format name accepted by `--format`.
    pub const NAMES: [&'static str; 4] = ["table", "jsonl", "csv", "ocsf"];

    /// Parse a `--format` value.
    pub fn parse(name: &str) -> Option<OutputFormat> {
        match name {
            "table" => Some(OutputFormat::Table),
            "jsonl" | "json" => Some(OutputFormat::Jsonl),
            "csv" => Some(OutputFormat::Csv),
            "ocsf" => Some(OutputFormat::Ocsf),
            _ => None,
        }
    }
}

/// Write `findings` to `out` in `format`.
pub fn write_findings(
    out: &mut dyn Write,
    format: OutputFormat,
    findings: &[Finding],
) -> io::Result<()> {
    match format {
        OutputFormat::Table => table::write_table(out, findings),
        OutputFormat::Jsonl => write_jsonl(out, findings),
        OutputFormat::Csv => write_csv_timeline(out, findings),
        OutputFormat::Ocsf => ocsf::write_ocsf(out, findings),
    }
}

fn write_jsonl(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for finding in findings {
        serde_json::to_writer(&mut *out, finding)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Make a CSV cell safe to open in a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or CR
/// would start a formula, so such cells get a leading apostrophe.
pub fn neutralize_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn write_csv_timeline(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "time",
        "finding_id",
        "analytic",
        "rule",
        "severity",
        "authorized",
        "step",
        "source",
        "origin",
        "record_id",
        "summary",
    ])?;
    let mut rows: Vec<(&Finding, &Evidence)> = findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(move |e| (f, e)))
        .collect();
    rows.sort_by(|a, b| (a.1.time, &a.0.id, &a.1.origin).cmp(&(b.1.time, &b.0.id, &b.1.origin)));
    for (finding, evidence) in rows {
        let cells = [
            evidence.time.to_string(),
            finding.id.clone(),
            finding.analytic.clone().unwrap_or_default(),
            finding.rule.title.clone(),
            finding.severity.level.to_string(),
            finding.authorized.clone().unwrap_or_default(),
            evidence.step.clone(),
            evidence.source.clone(),
            evidence.origin.to_string(),
            evidence.record_id.clone().unwrap_or_default(),
            evidence.summary.clone(),
        ];
        writer.write_record(cells.iter().map(|c| neutralize_formula(c)))?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralized() {
        assert_eq!(
            neutralize_formula("=cmd|' /C calc'!A0"),
            "'=cmd|' /C calc'!A0"
        );
        assert_eq!(neutralize_formula("@SUM(1)"), "'@SUM(1)");
        assert_eq!(neutralize_formula("-2+3"), "'-2+3");
        assert_eq!(neutralize_formula("ceo@contoso.com"), "ceo@contoso.com");
    }
}
