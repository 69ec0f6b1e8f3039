//! The terminal table (`comfy-table`): one row per finding, as wide as the terminal,
//! coloured by severity, evidence collapsed per step and operation, a legend once.
//!
//! It takes findings one at a time ([`TableWriter`]) and holds a bounded set: up to
//! [`TableOptions::limit`] findings are shown in time order; past that, a summary by rule,
//! analytic, tenant and host comes first, then the worst `limit` findings (open alerts
//! first, then by severity), then how many more there are.

use crate::terminal::terminal_text as t;
use crate::{Effect, Evidence, Finding, FindingKind, FindingWriter, Level};
use comfy_table::{
    Attribute, Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table, Width,
    presets,
};
use std::collections::HashMap;
use std::io::{self, Write};

/// Width when the output is not a terminal.
pub const DEFAULT_WIDTH: u16 = 100;

/// Findings shown in full before the table switches to summary + worst findings.
pub const DEFAULT_LIMIT: usize = 50;

/// Distinct keys a summary tallies before the rest are counted together.
const MAX_TALLY_KEYS: usize = 100_000;

/// Rows per summary table.
const SUMMARY_ROWS: usize = 12;

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set (non-empty).
    #[default]
    Auto,
    /// Always colour (even when `NO_COLOR` is set).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Every name `parse` accepts.
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];

    /// Parse a `--color` value (case-insensitive).
    pub fn parse(name: &str) -> Option<ColorChoice> {
        match name.to_ascii_lowercase().as_str() {
            "auto" => Some(ColorChoice::Auto),
            "always" => Some(ColorChoice::Always),
            "never" => Some(ColorChoice::Never),
            _ => None,
        }
    }

    /// Whether to colour, given whether the output is a terminal and the value of
    /// `NO_COLOR` (<https://no-color.org>: set and non-empty disables colour).
    pub fn enabled(self, is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
        }
    }
}

/// How the table is laid out (and in which time zone the table and the CSV timeline
/// show times).
#[derive(Debug, Clone, PartialEq)]
pub struct TableOptions {
    /// Total width in columns.
    pub width: u16,
    /// ANSI colours by severity and status.
    pub color: bool,
    /// Findings shown in full; past it, a summary and the worst `limit`.
    pub limit: usize,
    /// The zone times are shown in (`--timezone`; default UTC).
    pub time_zone: jiff::tz::TimeZone,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            width: DEFAULT_WIDTH,
            color: false,
            limit: DEFAULT_LIMIT,
            time_zone: jiff::tz::TimeZone::UTC,
        }
    }
}

impl TableOptions {
    /// Options for standard output: the terminal's width (else [`DEFAULT_WIDTH`]) and
    /// colour as `color` decides (with `NO_COLOR` from the environment).
    pub fn for_stdout(color: ColorChoice) -> TableOptions {
        use std::io::IsTerminal;
        let is_terminal = std::io::stdout().is_terminal();
        let width = if is_terminal {
            terminal_size::terminal_size()
                .map(|(w, _)| w.0)
                .filter(|w| *w >= 40)
                .unwrap_or(DEFAULT_WIDTH)
        } else {
            DEFAULT_WIDTH
        };
        TableOptions {
            width,
            color: color.enabled(is_terminal, std::env::var_os("NO_COLOR").as_deref()),
            limit: DEFAULT_LIMIT,
            time_zone: jiff::tz::TimeZone::UTC,
        }
    }
}

/// Counts for one summary key.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    findings: u64,
    open: u64,
    worst: Option<Level>,
}

impl Tally {
    fn add(&mut self, finding: &Finding) {
        self.findings += 1;
        if finding.is_open() {
            self.open += 1;
        }
        self.worst = self.worst.max(Some(finding.severity.level));
    }
}

/// Tallies by one key, bounded in the number of keys.
#[derive(Debug, Default)]
struct Tallies {
    keys: HashMap<String, Tally>,
    other: Tally,
}

impl Tallies {
    fn add(&mut self, key: &str, finding: &Finding) {
        if let Some(tally) = self.keys.get_mut(key) {
            tally.add(finding);
        } else if self.keys.len() < MAX_TALLY_KEYS {
            self.keys.entry(key.to_owned()).or_default().add(finding);
        } else {
            self.other.add(finding);
        }
    }

    /// Keys by worst severity, then count.
    fn ranked(&self) -> Vec<(&str, Tally)> {
        let mut rows: Vec<(&str, Tally)> =
            self.keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        rows.sort_by(|a, b| {
            (b.1.worst, b.1.open, b.1.findings, a.0).cmp(&(a.1.worst, a.1.open, a.1.findings, b.0))
        });
        rows
    }
}

/// The order of the worst findings: open alerts first, then severity, then time.
fn rank(f: &Finding) -> impl Ord + '_ {
    (
        std::cmp::Reverse(f.is_open()),
        std::cmp::Reverse(f.severity.level),
        f.kind == FindingKind::HuntingLead,
        f.window.start,
        f.id.as_str(),
    )
}

/// The streaming table writer (see the module documentation).
pub struct TableWriter<'a> {
    out: &'a mut dyn Write,
    options: TableOptions,
    total: u64,
    kept: Vec<Finding>,
    by_rule: Tallies,
    by_analytic: Tallies,
    by_tenant: Tallies,
    by_host: Tallies,
}

impl<'a> TableWriter<'a> {
    /// A writer to `out`.
    pub fn new(out: &'a mut dyn Write, options: TableOptions) -> Self {
        TableWriter {
            out,
            options,
            total: 0,
            kept: Vec::new(),
            by_rule: Tallies::default(),
            by_analytic: Tallies::default(),
            by_tenant: Tallies::default(),
            by_host: Tallies::default(),
        }
    }

    fn limit(&self) -> usize {
        self.options.limit.max(1)
    }

    fn trim(&mut self) {
        let limit = self.limit();
        self.kept.sort_by(|a, b| rank(a).cmp(&rank(b)));
        self.kept.truncate(limit);
    }
}

impl FindingWriter for TableWriter<'_> {
    fn write(&mut self, finding: &Finding) -> io::Result<()> {
        self.total += 1;
        self.by_rule.add(&finding.rule.title, finding);
        self.by_analytic
            .add(finding.analytic.as_deref().unwrap_or("Sigma rule"), finding);
        self.by_tenant.add(
            finding.entities.tenant.as_deref().unwrap_or("(none)"),
            finding,
        );
        self.by_host.add(
            finding.entities.host.as_deref().unwrap_or("(none)"),
            finding,
        );
        self.kept.push(finding.clone());
        if self.kept.len() >= self.limit() * 4 {
            self.trim();
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if self.total == 0 {
            return writeln!(self.out, "No findings.");
        }
        let limit = self.limit();
        if self.total as usize <= limit {
            self.kept.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            let table = findings_table(&self.kept, &self.options);
            writeln!(self.out, "{table}")?;
        } else {
            self.trim();
            writeln!(
                self.out,
                "{} findings: a summary first, then the {} most serious (open alerts first).",
                self.total,
                self.kept.len()
            )?;
            let o = self.options.clone();
            for (title, key, tallies) in [
                ("Rule", "rule", &self.by_rule),
                ("Analytic", "analytic", &self.by_analytic),
                ("Tenant", "tenant", &self.by_tenant),
                ("Host", "host", &self.by_host),
            ] {
                if tallies.keys.len() == 1 && tallies.keys.contains_key("(none)") {
                    continue;
                }
                writeln!(self.out, "{}", summary_table(title, key, tallies, &o))?;
            }
            let table = findings_table(&self.kept, &self.options);
            writeln!(self.out, "{table}")?;
            writeln!(
                self.out,
                "{} more: use -f jsonl (every finding, one per line) or -f html (the report).",
                self.total - self.kept.len() as u64
            )?;
        }
        writeln!(self.out, "{}", legend())
    }
}

/// The legend printed once under the table.
pub fn legend() -> &'static str {
    "Status: ALERT = open, nothing authorises it; authorised CHG… = a change ticket\n\
     \x20       or approval covers it; hunting lead = a partial chain to hunt from.\n\
     Severity: UPPER CASE = open alert; ▲ raised / ▼ lowered by the reason shown.\n\
     Evidence: N× operation from IPs, first … last …; where it is: file:line = line\n\
     \x20         in the input file (file@offset = byte offset, file#n = n-th record)."
}

fn color_of(level: Level) -> Color {
    match level {
        Level::Critical => Color::Magenta,
        Level::High => Color::Red,
        Level::Medium => Color::Yellow,
        Level::Low => Color::Cyan,
        Level::Informational => Color::DarkGrey,
    }
}

fn styled(
    text: impl Into<String>,
    color: Option<Color>,
    bold: bool,
    options: &TableOptions,
) -> Cell {
    let mut cell = Cell::new(text.into());
    if options.color {
        if let Some(c) = color {
            cell = cell.fg(c);
        }
        if bold {
            cell = cell.add_attribute(Attribute::Bold);
        }
    }
    cell
}

fn new_table(options: &TableOptions) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(options.width)
        .force_no_tty();
    if options.color {
        table.enforce_styling();
    }
    table
}

fn findings_table(findings: &[Finding], options: &TableOptions) -> Table {
    let mut table = new_table(options);
    table.set_header(vec![
        styled(
            format!(
                "When ({}) · severity",
                options.time_zone.iana_name().unwrap_or("UTC")
            ),
            None,
            true,
            options,
        ),
        styled("Finding: who, why, evidence", None, true, options),
    ]);
    for f in findings {
        table.add_row(row(f, options));
    }
    if let Some(column) = table.column_mut(0) {
        column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(LEFT_WIDTH)));
    }
    table
}

/// Width of the left column (time, severity, status, analytic and id).
const LEFT_WIDTH: u16 = 24;

fn short_time(ts: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> String {
    ts.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// A full time for the first column, in the zone the header names.
fn long_time(ts: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> String {
    ts.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn status(finding: &Finding) -> (String, Color) {
    match (&finding.authorized, finding.kind) {
        (Some(ticket), _) => (format!("authorised {}", t(ticket)), Color::Green),
        (None, FindingKind::HuntingLead) => ("hunting lead".to_owned(), Color::Yellow),
        (None, FindingKind::Alert) => ("ALERT".to_owned(), Color::Red),
    }
}

fn row(f: &Finding, options: &TableOptions) -> Vec<Cell> {
    let level = f.severity.level;
    let (status, status_color) = status(f);
    let zone = &options.time_zone;
    let mut left = long_time(f.window.start, zone);
    if f.window.end != f.window.start {
        left.push_str(&format!("\n→ {}", short_time(f.window.end, zone)));
    }
    let severity = if f.is_open() {
        level.as_str().to_uppercase()
    } else {
        level.as_str().to_owned()
    };
    left.push_str(&format!(
        "\n{severity}\n{status}\n{} · {}",
        t(f.analytic.as_deref().unwrap_or("Sigma")),
        t(f.id.get(..12).unwrap_or(&f.id))
    ));
    let color = if f.is_open() {
        color_of(level)
    } else {
        status_color
    };
    let mut right = vec![t(&f.title).into_owned()];
    right.extend(detail_lines(f, &options.time_zone));
    vec![
        styled(left, Some(color), f.is_open(), options),
        Cell::new(right.join("\n")).set_alignment(CellAlignment::Left),
    ]
}

/// The lines of the last column: entities, details, severity reasons, evidence, rollback.
pub(crate) fn detail_lines(f: &Finding, zone: &jiff::tz::TimeZone) -> Vec<String> {
    let mut lines = Vec::new();
    let e = &f.entities;
    let mut who = Vec::new();
    for (label, value) in [
        ("tenant", &e.tenant),
        ("partner", &e.partner),
        ("actor", &e.actor),
        ("mailbox", &e.mailbox),
        ("trustee", &e.trustee),
        ("host", &e.host),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            who.push(format!("{label} {}", t(v)));
        }
    }
    if !e.ips.is_empty() {
        who.push(format!("from {}", t(&ips_text(&e.ips))));
    }
    if !who.is_empty() {
        lines.push(who.join(" · "));
    }
    let details = f.details();
    if !details.is_empty() {
        lines.push(format!("details: {}", t(&details)));
    }
    for reason in f.severity.reasons.iter().skip(1) {
        let mark = match reason.effect {
            Effect::Raised => "▲",
            Effect::Lowered => "▼",
            Effect::Noted | Effect::Base => "•",
        };
        lines.push(format!("{mark} {}", t(&reason.reason)));
    }
    for group in evidence_groups(&f.evidence, zone) {
        lines.push(group);
    }
    if !f.rollback.is_empty() {
        lines.push(format!(
            "rollback: {} PowerShell command(s) (trustpath respond, or -f jsonl)",
            f.rollback.len()
        ));
    }
    lines
}

fn ips_text(ips: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = ips
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ips.len() > SHOWN {
        text.push_str(&format!(" (+{} more)", ips.len() - SHOWN));
    }
    text
}

/// The operation part of an evidence summary (before `actor=`, `ip=` …).
fn operation(summary: &str) -> &str {
    let cut = [" actor=", " target=", " trustee=", " ip=", " host="]
        .iter()
        .filter_map(|k| summary.find(k))
        .min()
        .unwrap_or(summary.len());
    summary[..cut].trim()
}

/// Evidence events of one step and operation, collapsed.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceGroup<'a> {
    /// The step (`3`, `match` …).
    pub step: &'a str,
    /// The operation (the summary before `actor=`, `ip=` …).
    pub operation: &'a str,
    /// The events, in evidence order.
    pub events: Vec<&'a Evidence>,
    /// Distinct client IPs, in order of appearance.
    pub ips: Vec<&'a str>,
    /// Earliest event time.
    pub first: jiff::Timestamp,
    /// Latest event time.
    pub last: jiff::Timestamp,
}

impl EvidenceGroup<'_> {
    /// `step 3` for a numbered step, else the step's name.
    pub fn step_label(&self) -> String {
        if !self.step.is_empty() && self.step.chars().all(|c| c.is_ascii_digit()) {
            format!("step {}", self.step)
        } else {
            self.step.to_owned()
        }
    }

    /// Where the first event is: `file:line` when the line is known, else the origin.
    pub fn place(&self) -> String {
        self.events.first().map(|e| place(e)).unwrap_or_default()
    }
}

/// Evidence grouped per (step, operation), groups in order of first appearance.
pub fn group_evidence(evidence: &[Evidence]) -> Vec<EvidenceGroup<'_>> {
    let mut groups: Vec<EvidenceGroup<'_>> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for ev in evidence {
        let key = (ev.step.as_str(), operation(&ev.summary));
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(EvidenceGroup {
                step: key.0,
                operation: key.1,
                events: Vec::new(),
                ips: Vec::new(),
                first: ev.time,
                last: ev.time,
            });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(at) {
            g.events.push(ev);
            g.first = g.first.min(ev.time);
            g.last = g.last.max(ev.time);
            if let Some(ip) = ev.ip.as_deref()
                && !g.ips.contains(&ip)
            {
                g.ips.push(ip);
            }
        }
    }
    groups
}

/// Evidence collapsed per (step, operation): one line for a single event, else
/// `step 3: 12× SignIn from 198.51.100.23, first … last … (file:line …)`.
pub(crate) fn evidence_groups(evidence: &[Evidence], zone: &jiff::tz::TimeZone) -> Vec<String> {
    let mut lines = Vec::new();
    for g in group_evidence(evidence) {
        let step = g.step_label();
        let Some(first) = g.events.first() else {
            continue;
        };
        if g.events.len() == 1 {
            lines.push(format!(
                "{}: {} {} ({})",
                t(&step),
                short_time(first.time, zone),
                t(&first.summary),
                t(&g.place())
            ));
            continue;
        }
        let ips: Vec<String> = g.ips.iter().map(|s| (*s).to_owned()).collect();
        let from = if ips.is_empty() {
            String::new()
        } else {
            format!(" from {}", ips_text(&ips))
        };
        lines.push(format!(
            "{}: {}× {}{}, first {} last {} ({} …)",
            t(&step),
            g.events.len(),
            t(g.operation),
            t(&from),
            short_time(g.first, zone),
            short_time(g.last, zone),
            t(&g.place())
        ));
    }
    lines
}

/// Where an evidence record is: `file:line` when the line is known (offset and record
/// number add nothing a reader needs then), else the full origin.
fn place(evidence: &Evidence) -> String {
    match evidence.origin.line {
        Some(line) => format!("{}:{line}", evidence.origin.file),
        None => evidence.origin.to_string(),
    }
}

fn summary_table(title: &str, key: &str, tallies: &Tallies, options: &TableOptions) -> Table {
    let mut table = new_table(options);
    table.set_header(vec![
        styled(format!("By {key}"), None, true, options),
        styled("Findings", None, true, options),
        styled("Open alerts", None, true, options),
        styled("Worst", None, true, options),
    ]);
    let ranked = tallies.ranked();
    for (name, tally) in ranked.iter().take(SUMMARY_ROWS) {
        let worst = tally.worst.unwrap_or(Level::Informational);
        table.add_row(vec![
            Cell::new(t(name)),
            Cell::new(tally.findings).set_alignment(CellAlignment::Right),
            Cell::new(tally.open).set_alignment(CellAlignment::Right),
            styled(worst.as_str(), Some(color_of(worst)), false, options),
        ]);
    }
    let rest: u64 = ranked
        .iter()
        .skip(SUMMARY_ROWS)
        .map(|(_, t)| t.findings)
        .sum::<u64>()
        + tallies.other.findings;
    if rest > 0 {
        let others = ranked.len().saturating_sub(SUMMARY_ROWS);
        table.add_row(vec![
            Cell::new(format!("… {others} other {}(s)", title.to_lowercase())),
            Cell::new(rest).set_alignment(CellAlignment::Right),
            Cell::new(""),
            Cell::new(""),
        ]);
    }
    table
}
