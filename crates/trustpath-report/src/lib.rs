//! The **report** stage: the [`Finding`] contract and its output formats.
//!
//! * [`Finding`]: stable id, analytic and ATT&CK ids, severity with the reasons that
//!   raised or lowered it, authorisation (ticket id), entities, every evidence event with
//!   its origin, the window, and rollback commands where the finding is a permission change.
//! * [`OutputFormat`]: `table` (for people), `jsonl` (one finding per line, for machines),
//!   `csv` (an evidence timeline for spreadsheets; formula injection neutralised), `ocsf`
//!   (OCSF 1.x Detection Finding, class 2004).
//!
//! Every format has a streaming [`FindingWriter`] ([`writer`]): a hunt writes each
//! finding as it is decided. The line formats (`jsonl`, `ocsf`) also have an [`Encoder`]:
//! each finding's line depends on that finding alone, so a hunt can make the lines on its
//! worker threads and the writer only copies them ([`FindingWriter::write_encoded`]).
//! Given findings sorted by [`Finding::sort_key`], output is deterministic.

mod finding;
mod ocsf;
mod table;
mod terminal;
pub use ocsf::{OCSF_PROFILES, to_ocsf};
pub use table::{
    ColorChoice, DEFAULT_LIMIT, DEFAULT_WIDTH, EvidenceGroup, TableOptions, TableWriter,
    group_evidence, legend,
};
pub use terminal::{is_unsafe_for_terminal, terminal_text};

pub use finding::{
    Attack, Effect, Entities, EventFinding, EventJson, Evidence, FieldValue, Finding, FindingKind,
    Level, MatchedField, Reason, RuleJson, RuleRef, Severity, Window, anchor_key, attack_from_tags,
    finding_id, single_event_finding, summarize,
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

/// Where findings go one at a time: every format has one, so a hunt can write each
/// finding as it is decided. `jsonl`, `csv` and `ocsf` write at once and hold nothing;
/// the table holds a bounded set ([`TableOptions::limit`]) plus counts.
pub trait FindingWriter {
    /// One finding.
    fn write(&mut self, finding: &Finding) -> io::Result<()>;
    /// The end of the findings (the table writes itself here).
    fn finish(self: Box<Self>) -> io::Result<()>;
    /// How this format encodes one finding on its own, when it does (the line formats):
    /// what [`FindingWriter::write`] would write for it, made on any thread.
    fn encoder(&self) -> Option<Encoder> {
        None
    }
    /// The bytes this writer's [`encoder`](FindingWriter::encoder) made for one or
    /// more findings, written as they are. A writer without an encoder refuses them.
    fn write_encoded(&mut self, bytes: &[u8]) -> io::Result<()> {
        let _ = bytes;
        Err(io::Error::other(
            "this output format writes findings, not encoded lines",
        ))
    }
}

/// A line format's encoding of one finding (see [`FindingWriter::encoder`]). It holds no
/// state, so it can run on any thread, on findings in any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    /// [`encode_jsonl`].
    Jsonl,
    /// [`encode_ocsf`].
    Ocsf,
}

impl Encoder {
    /// Appends what the format writes for `finding` to `out`; on an error `out` is left
    /// as it was.
    pub fn encode(self, finding: &Finding, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Encoder::Jsonl => encode_jsonl(finding, out),
            Encoder::Ocsf => encode_ocsf(finding, out),
        }
    }
}

/// The `jsonl` [`Encoder`]: the finding as one line of JSON.
pub fn encode_jsonl(finding: &Finding, out: &mut Vec<u8>) -> io::Result<()> {
    encode_json_line(finding, out)
}

/// The `ocsf` [`Encoder`]: the finding's OCSF Detection Finding as one line of JSON.
pub fn encode_ocsf(finding: &Finding, out: &mut Vec<u8>) -> io::Result<()> {
    encode_json_line(&to_ocsf(finding), out)
}

/// A streaming writer of `format` to `out` (`table` laid out with `table`).
pub fn writer<'a>(
    out: &'a mut dyn Write,
    format: OutputFormat,
    table: TableOptions,
) -> Box<dyn FindingWriter + 'a> {
    match format {
        OutputFormat::Table => Box::new(TableWriter::new(out, table)),
        OutputFormat::Jsonl => Box::new(LineWriter::new(out, Encoder::Jsonl)),
        OutputFormat::Csv => Box::new(CsvWriter::new(out, table.time_zone)),
        OutputFormat::Ocsf => Box::new(LineWriter::new(out, Encoder::Ocsf)),
    }
}

/// Write `findings` to `out` in `format` (the table with [`TableOptions::default`]).
pub fn write_findings(
    out: &mut dyn Write,
    format: OutputFormat,
    findings: &[Finding],
) -> io::Result<()> {
    write_findings_with(out, format, findings, TableOptions::default())
}

/// Write `findings` to `out` in `format`. The CSV timeline of a whole set is sorted by
/// evidence time across findings (a streamed one is in finding order).
pub fn write_findings_with(
    out: &mut dyn Write,
    format: OutputFormat,
    findings: &[Finding],
    table: TableOptions,
) -> io::Result<()> {
    if format == OutputFormat::Csv {
        return write_csv_timeline(out, findings, &table.time_zone);
    }
    let mut w = writer(out, format, table);
    for finding in findings {
        w.write(finding)?;
    }
    w.finish()
}

/// A line format (`jsonl`, `ocsf`): each finding is its [`Encoder`]'s line, so what
/// [`FindingWriter::write`] writes and what a hunt encodes on its pool are the same bytes
/// by construction. The line is encoded into a buffer first: serde_json writes a value in
/// many small pieces, and each one through `dyn Write` was a call into the writer's
/// buffer (a third of the cost of streaming SigmaHQ's findings as JSON Lines).
struct LineWriter<'a> {
    out: &'a mut dyn Write,
    encode: Encoder,
    /// The line being written, reused.
    line: Vec<u8>,
}

impl<'a> LineWriter<'a> {
    fn new(out: &'a mut dyn Write, encode: Encoder) -> Self {
        LineWriter {
            out,
            encode,
            line: Vec::new(),
        }
    }
}

impl FindingWriter for LineWriter<'_> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        self.line.clear();
        self.encode.encode(finding, &mut self.line)?;
        self.out.write_all(&self.line)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }

    fn encoder(&self) -> Option<Encoder> {
        Some(self.encode)
    }

    fn write_encoded(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }
}

/// Appends `value` as one line of JSON to `out`; on an error `out` is left as it was.
fn encode_json_line(value: &impl serde::Serialize, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        out.truncate(start);
        return Err(e.into());
    }
    out.push(b'\n');
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

const CSV_HEADER: [&str; 13] = [
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
    "details",
    "rule_fields",
];

/// An evidence time for the CSV: RFC 3339 in UTC (`…Z`), or with the zone's offset.
fn csv_time(time: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> String {
    if zone == &jiff::tz::TimeZone::UTC {
        return time.to_string();
    }
    time.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.f%:z")
        .to_string()
}

fn csv_row(finding: &Finding, evidence: &Evidence, zone: &jiff::tz::TimeZone) -> [String; 13] {
    let matched: Vec<String> = finding
        .matched
        .iter()
        .map(|m| format!("{}: {}", m.field, m.value))
        .collect();
    let fields: Vec<String> = finding
        .fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.value))
        .collect();
    [
        csv_time(evidence.time, zone),
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
        matched.join(" ¦ "),
        fields.join(" ¦ "),
    ]
}

/// The CSV timeline, one row per evidence event, streamed in finding order.
struct CsvWriter<'a> {
    writer: csv::Writer<&'a mut dyn Write>,
    header: bool,
    zone: jiff::tz::TimeZone,
}

impl<'a> CsvWriter<'a> {
    fn new(out: &'a mut dyn Write, zone: jiff::tz::TimeZone) -> Self {
        CsvWriter {
            writer: csv::Writer::from_writer(out),
            header: false,
            zone,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header {
            self.header = true;
            self.writer.write_record(CSV_HEADER)?;
        }
        Ok(())
    }
}

impl FindingWriter for CsvWriter<'_> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        self.header()?;
        for evidence in &finding.evidence {
            let cells = csv_row(finding, evidence, &self.zone);
            self.writer
                .write_record(cells.iter().map(|c| neutralize_formula(c)))?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.header()?;
        self.writer.flush()
    }
}

fn write_csv_timeline(
    out: &mut dyn Write,
    findings: &[Finding],
    zone: &jiff::tz::TimeZone,
) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    let mut rows: Vec<(&Finding, &Evidence)> = findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(move |e| (f, e)))
        .collect();
    rows.sort_by(|a, b| (a.1.time, &a.0.id, &a.1.origin).cmp(&(b.1.time, &b.0.id, &b.1.origin)));
    for (finding, evidence) in rows {
        let cells = csv_row(finding, evidence, zone);
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
