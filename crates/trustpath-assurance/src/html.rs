//! The HTML report: one self-contained file (inline CSS, inline SVG charts drawn here, a
//! little vanilla JS; no external resources), rendered with a `minijinja` template
//! (`templates/report.html`).
//!
//! * Findings come one at a time ([`HtmlReport::add`]); the report keeps a bounded set:
//!   the [`DETAIL_LIMIT`] most serious in full (open alerts first, then severity), a
//!   one-line row for up to [`ROW_LIMIT`] (most serious first, in pages of [`PAGE_SIZE`]
//!   inside inert `<template>`s the pager clones on demand), and counts for the charts
//!   and pivots. 100,000 findings render in seconds.
//! * Charts: findings per day (per hour for short periods) stacked by severity, and the
//!   events per source per day with the coverage gaps marked (from the coverage report).
//! * Pivots by tenant, partner, mailbox and actor.
//!
//! Every string that comes from the data (mailbox names, actors, command lines, file
//! names …) is attacker-controlled: the template environment escapes every value with
//! [`escape`] (its formatter), and the only values marked safe are the fragments this
//! module builds itself, which escape their data with [`escape`] too. Nothing from the
//! data is ever placed in a script, a style or an unquoted attribute.

use crate::coverage::{CoverageReport, Verdict};
use crate::text::time_text;
use jiff::Timestamp;
use minijinja::{Environment, Value};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use trustpath_event::RunSummary;
use trustpath_report::{Effect, Finding, FindingKind, Level};

/// Findings shown in full.
pub const DETAIL_LIMIT: usize = 200;
/// Findings listed as rows (the most serious, when there are more).
pub const ROW_LIMIT: usize = 200_000;
/// Open alerts shown expanded (the rest start folded).
pub const EXPANDED: usize = 10;
/// Rows per page.
pub const PAGE_SIZE: usize = 500;
/// Evidence rows (groups of the same step and operation) shown per finding.
const EVIDENCE_LIMIT: usize = 50;
/// Distinct keys per pivot before the rest are counted together.
const PIVOT_KEYS: usize = 50_000;
/// Rows shown per pivot table.
const PIVOT_ROWS: usize = 10;

/// Escape text for HTML element content and quoted attribute values. Control
/// characters, line separators and bidirectional controls (U+202E can make
/// `gpj.exe` read as `exe.jpg`) are shown as visible `\u{…}` escapes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c != '\n' && trustpath_report::is_unsafe_for_terminal(c) => {
                let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            _ => out.push(c),
        }
    }
    out
}

const LEVELS: [Level; 5] = [
    Level::Critical,
    Level::High,
    Level::Medium,
    Level::Low,
    Level::Informational,
];

/// Render the report for a complete set of findings (any order).
pub fn render(
    findings: &[Finding],
    summary: &RunSummary,
    coverage: Option<&CoverageReport>,
) -> String {
    let mut report = HtmlReport::new();
    for f in findings {
        report.add(f);
    }
    report.render(summary, coverage)
}

/// The order of seriousness: open alerts first, then severity, leads after alerts,
/// then time and id.
type Rank = (
    std::cmp::Reverse<bool>,
    std::cmp::Reverse<Level>,
    bool,
    Timestamp,
    String,
);

fn rank(f: &Finding) -> Rank {
    (
        std::cmp::Reverse(f.is_open()),
        std::cmp::Reverse(f.severity.level),
        f.kind == FindingKind::HuntingLead,
        f.window.start,
        f.id.clone(),
    )
}

/// One finding as a list row.
#[derive(Debug, Clone, Serialize)]
struct Row {
    #[serde(skip)]
    rank: Rank,
    /// time
    t: String,
    /// level
    l: &'static str,
    /// status
    s: String,
    /// title (analytic)
    n: String,
    /// entities
    e: String,
    /// short id
    i: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    findings: u64,
    open: u64,
    worst: Option<Level>,
}

#[derive(Debug, Default)]
struct Pivot {
    keys: HashMap<String, Tally>,
    other: u64,
}

impl Pivot {
    fn add(&mut self, key: Option<&str>, f: &Finding) {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return;
        };
        let tally = if let Some(t) = self.keys.get_mut(key) {
            t
        } else if self.keys.len() < PIVOT_KEYS {
            self.keys.entry(key.to_owned()).or_default()
        } else {
            self.other += 1;
            return;
        };
        tally.findings += 1;
        if f.is_open() {
            tally.open += 1;
        }
        tally.worst = tally.worst.max(Some(f.severity.level));
    }
}

/// The report being built from findings one at a time (see the module documentation).
#[derive(Debug, Default)]
pub struct HtmlReport {
    total: u64,
    open: u64,
    by_level: BTreeMap<Level, u64>,
    detailed: Vec<Finding>,
    rows: Vec<Row>,
    rows_dropped: u64,
    /// Findings per hour (hours since the epoch), per level index (critical first).
    hourly: BTreeMap<i64, [u64; 5]>,
    pivots: [Pivot; 4],
}

const PIVOT_NAMES: [&str; 4] = ["tenant", "partner", "mailbox", "actor"];

impl HtmlReport {
    /// An empty report.
    pub fn new() -> Self {
        HtmlReport::default()
    }

    /// Add one finding.
    pub fn add(&mut self, f: &Finding) {
        self.total += 1;
        if f.is_open() {
            self.open += 1;
        }
        *self.by_level.entry(f.severity.level).or_default() += 1;
        let level_index = LEVELS
            .iter()
            .position(|l| *l == f.severity.level)
            .unwrap_or(0);
        let hour = f.window.start.as_second().div_euclid(3600);
        if let Some(slot) = self.hourly.entry(hour).or_default().get_mut(level_index) {
            *slot += 1;
        }
        let e = &f.entities;
        for (pivot, key) in self.pivots.iter_mut().zip([
            e.tenant.as_deref(),
            e.partner.as_deref(),
            e.mailbox.as_deref(),
            e.actor.as_deref(),
        ]) {
            pivot.add(key, f);
        }
        self.detailed.push(f.clone());
        if self.detailed.len() >= DETAIL_LIMIT * 4 {
            trim(&mut self.detailed, DETAIL_LIMIT, rank);
        }
        self.rows.push(row(f));
        if self.rows.len() >= ROW_LIMIT * 2 {
            let before = self.rows.len();
            trim(&mut self.rows, ROW_LIMIT, |r: &Row| r.rank.clone());
            self.rows_dropped += (before - self.rows.len()) as u64;
        }
    }

    /// The HTML page.
    pub fn render(mut self, summary: &RunSummary, coverage: Option<&CoverageReport>) -> String {
        trim(&mut self.detailed, DETAIL_LIMIT, rank);
        let before = self.rows.len();
        trim(&mut self.rows, ROW_LIMIT, |r: &Row| r.rank.clone());
        self.rows_dropped += (before - self.rows.len()) as u64;
        let time = summary.time();
        let cards = vec![
            card("Events", summary.events().to_string()),
            card("Input files", summary.files.len().to_string()),
            card("Unreadable records", summary.skipped().to_string()),
            card("Findings", self.total.to_string()),
            card("Open alerts", self.open.to_string()),
        ];
        let levels: Vec<Value> = LEVELS
            .iter()
            .map(|l| {
                minijinja::context! {
                    level => l.as_str(),
                    count => self.by_level.get(l).copied().unwrap_or(0),
                }
            })
            .collect();
        // Open alerts start expanded, the first EXPANDED of them.
        let detailed: Vec<Value> = self
            .detailed
            .iter()
            .enumerate()
            .map(|(i, f)| finding_view(f, f.is_open() && i < EXPANDED))
            .collect();
        let mut rows = std::mem::take(&mut self.rows);
        let (first_page, pages): (Vec<Row>, Vec<Vec<Row>>) =
            if self.detailed.len() as u64 == self.total {
                (Vec::new(), Vec::new())
            } else {
                let rest = rows.split_off(rows.len().min(PAGE_SIZE));
                (rows, rest.chunks(PAGE_SIZE).map(<[Row]>::to_vec).collect())
            };
        let list_shown = !first_page.is_empty();
        let mut inputs = String::new();
        write_sources(&mut inputs, summary);
        write_files(&mut inputs, summary);
        let mut coverage_html = String::new();
        if let Some(c) = coverage {
            write_coverage(&mut coverage_html, c);
        }
        let pivots: Vec<Value> = self
            .pivots
            .iter()
            .zip(PIVOT_NAMES)
            .filter(|(p, _)| !p.keys.is_empty())
            .map(|(p, name)| pivot_view(name, p))
            .collect();
        let ctx = minijinja::context! {
            range => range_text(time.first, time.last),
            total => self.total,
            open => self.open,
            cards => cards,
            levels => levels,
            timeline => Value::from_safe_string(findings_chart(&self.hourly)),
            histogram => coverage.map(|c| Value::from_safe_string(source_chart(c))),
            gap_threshold => coverage.map(|c| c.gap_threshold.clone()),
            inputs => Value::from_safe_string(inputs),
            pivots => pivots,
            detailed => detailed,
            detail_omitted => (self.detailed.len() as u64) < self.total,
            page_size => PAGE_SIZE,
            first_page => Value::from_serialize(&first_page),
            pages => if list_shown { Value::from_serialize(&pages) } else { Value::from(()) },
            rows_omitted => self.rows_dropped,
            coverage => Value::from_safe_string(coverage_html),
        };
        let env = environment();
        match env.get_template("report.html").and_then(|t| t.render(ctx)) {
            Ok(page) => page,
            Err(e) => format!(
                "<!DOCTYPE html><html><body><p>trustpath could not render the report: {}</p></body></html>",
                escape(&e.to_string())
            ),
        }
    }
}

/// Keep the `keep` first items by `key`.
fn trim<T, K: Ord>(items: &mut Vec<T>, keep: usize, key: impl Fn(&T) -> K) {
    items.sort_by_cached_key(|i| key(i));
    items.truncate(keep);
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    // Every value not built here as safe HTML goes through `escape` (which also makes
    // control and bidi characters visible), never minijinja's own escaping alone.
    env.set_formatter(|out, _state, value| {
        if value.is_safe() {
            out.write_str(&value.to_string())?;
        } else if !value.is_none() && !value.is_undefined() {
            out.write_str(&escape(&value.to_string()))?;
        }
        Ok(())
    });
    if let Err(e) = env.add_template("report.html", include_str!("../templates/report.html")) {
        // A broken template is a build defect; the page says so instead of panicking.
        let text = format!("<p>template error: {}</p>", escape(&e.to_string()));
        let _ = env.add_template_owned("report.html", text);
    }
    env
}

fn card(label: &str, value: String) -> Value {
    minijinja::context! { label => label, value => value }
}

fn status(finding: &Finding) -> (String, &'static str) {
    match (&finding.authorized, finding.kind) {
        (Some(ticket), _) => (format!("AUTHORISED {ticket}"), "st-auth"),
        (None, FindingKind::Alert) => ("ALERT".to_owned(), "st-alert"),
        (None, FindingKind::HuntingLead) => ("HUNTING LEAD".to_owned(), "st-lead"),
    }
}

fn row(f: &Finding) -> Row {
    let short: Vec<String> = entities_text(f)
        .into_iter()
        .filter(|(k, _)| matches!(*k, "tenant" | "actor" | "mailbox" | "partner" | "host"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    Row {
        rank: rank(f),
        t: time_text(f.window.start),
        l: f.severity.level.as_str(),
        s: status(f).0,
        n: match &f.analytic {
            Some(a) => format!("{a} · {}", f.title),
            None => f.title.clone(),
        },
        e: short.join(" · "),
        i: f.id.get(..12).unwrap_or(&f.id).to_owned(),
    }
}

fn entities_text(finding: &Finding) -> Vec<(&'static str, String)> {
    let e = &finding.entities;
    let mut out = Vec::new();
    let mut push = |label: &'static str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.push((label, v.clone()));
        }
    };
    push("tenant", &e.tenant);
    push("partner", &e.partner);
    push("actor", &e.actor);
    push("trustee", &e.trustee);
    push("mailbox", &e.mailbox);
    push("host", &e.host);
    if !e.ips.is_empty() {
        out.push(("IPs", e.ips.join(", ")));
    }
    out
}

fn finding_view(f: &Finding, expanded: bool) -> Value {
    let (status_text, status_class) = status(f);
    let short: Vec<String> = entities_text(f)
        .into_iter()
        .filter(|(k, _)| matches!(*k, "actor" | "mailbox" | "partner" | "host"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let entities: Vec<Value> = entities_text(f)
        .into_iter()
        .map(|(label, value)| minijinja::context! { label => label, value => value })
        .collect();
    let reasons: Vec<Value> = f
        .severity
        .reasons
        .iter()
        .map(|r| {
            let (mark, class) = match r.effect {
                Effect::Base => ("●", "r-base"),
                Effect::Raised => ("▲", "r-up"),
                Effect::Lowered => ("▼", "r-down"),
                Effect::Noted => ("•", "r-note"),
            };
            minijinja::context! { mark => mark, class => class, text => r.reason.clone() }
        })
        .collect();
    // Evidence collapsed per step and operation (12 identical reads are one row).
    let groups = trustpath_report::group_evidence(&f.evidence);
    let evidence: Vec<Value> = groups
        .iter()
        .take(EVIDENCE_LIMIT)
        .map(|g| {
            let (time, summary, origin) = match g.events.as_slice() {
                [one] => (
                    time_text(one.time),
                    one.summary.clone(),
                    match &one.record_id {
                        Some(id) => format!("{} ({id})", one.origin),
                        None => one.origin.to_string(),
                    },
                ),
                many => (
                    format!("{} → {}", time_text(g.first), time_text(g.last)),
                    format!(
                        "{}× {}{}",
                        many.len(),
                        g.operation,
                        if g.ips.is_empty() {
                            String::new()
                        } else {
                            format!(" from {}", g.ips.join(", "))
                        }
                    ),
                    format!("{} …", g.place()),
                ),
            };
            minijinja::context! {
                time => time,
                step => g.step.to_owned(),
                source => g.events.first().map(|e| e.source.clone()).unwrap_or_default(),
                origin => origin,
                summary => summary,
            }
        })
        .collect();
    let mut chain = String::new();
    write_timeline(&mut chain, f);
    minijinja::context! {
        id => f.id.clone(),
        level => f.severity.level.as_str(),
        open => expanded,
        analytic => f.analytic.clone().unwrap_or_else(|| "sigma".to_owned()),
        title => f.title.clone(),
        status => status_text,
        status_class => status_class,
        short_entities => short.join(" · "),
        time => time_text(f.window.start),
        details => f.details(),
        entities => entities,
        attack => f.attack.technique.join(", "),
        rule => f.rule.title.clone(),
        reasons => reasons,
        chain => Value::from_safe_string(chain),
        evidence => evidence,
        evidence_more => groups.iter().skip(EVIDENCE_LIMIT).map(|g| g.events.len()).sum::<usize>(),
        rollback => f.rollback.join("\n"),
    }
}

fn pivot_view(name: &str, pivot: &Pivot) -> Value {
    let mut keys: Vec<(&String, &Tally)> = pivot.keys.iter().collect();
    keys.sort_by(|a, b| {
        (b.1.open, b.1.worst, b.1.findings, a.0).cmp(&(a.1.open, a.1.worst, a.1.findings, b.0))
    });
    let rows: Vec<Value> = keys
        .iter()
        .take(PIVOT_ROWS)
        .map(|(k, t)| {
            minijinja::context! {
                key => (*k).clone(),
                findings => t.findings,
                open => t.open,
                worst => t.worst.unwrap_or(Level::Informational).as_str(),
            }
        })
        .collect();
    let more = keys.len().saturating_sub(PIVOT_ROWS) as u64 + pivot.other;
    minijinja::context! { name => name, rows => rows, more => more }
}

const SECONDS_PER_DAY: i64 = 86_400;

fn day_label(day: i64) -> String {
    Timestamp::from_second(day.saturating_mul(SECONDS_PER_DAY))
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn hour_label(hour: i64) -> String {
    Timestamp::from_second(hour.saturating_mul(3600))
        .map(|t| t.strftime("%Y-%m-%d %H:00").to_string())
        .unwrap_or_default()
}

/// Findings over the period: stacked bars by severity, one per day (per hour when the
/// period is under three days), at most 180 bars (several days per bar beyond).
fn findings_chart(hourly: &BTreeMap<i64, [u64; 5]>) -> String {
    let (Some(first), Some(last)) = (
        hourly.keys().next().copied(),
        hourly.keys().next_back().copied(),
    ) else {
        return "<p class=\"muted\">No findings.</p>".to_owned();
    };
    let hours = last - first + 1;
    let (unit, start) = if hours <= 72 {
        (1, first)
    } else {
        let days = (last.div_euclid(24) - first.div_euclid(24) + 1).max(1);
        (24 * ((days + 179) / 180).max(1), first.div_euclid(24) * 24)
    };
    let buckets = ((last - start) / unit + 1).max(1) as usize;
    let mut counts = vec![[0u64; 5]; buckets];
    for (hour, by_level) in hourly {
        let i = ((hour - start) / unit) as usize;
        if let Some(slot) = counts.get_mut(i) {
            for (k, n) in by_level.iter().enumerate() {
                slot[k] += n;
            }
        }
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let label = |i: usize| -> String {
        let h = start + i as i64 * unit;
        if unit == 1 {
            hour_label(h)
        } else {
            day_label(h.div_euclid(24))
        }
    };
    let (left, right, top, bottom) = (48.0, 990.0, 10.0, 150.0);
    let width = (right - left) / buckets as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 1000 180\" role=\"img\" aria-label=\"findings per {}\">",
        if unit == 1 { "hour" } else { "day" }
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = bottom - frac * (bottom - top);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid-line\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            (frac * max as f64).round() as u64
        );
    }
    for (i, c) in counts.iter().enumerate() {
        let total: u64 = c.iter().sum();
        if total == 0 {
            continue;
        }
        let x = left + i as f64 * width;
        let mut y = bottom;
        let mut parts = Vec::new();
        // Informational at the bottom, critical on top.
        for k in (0..5).rev() {
            if c[k] == 0 {
                continue;
            }
            let h = c[k] as f64 / max as f64 * (bottom - top);
            y -= h;
            let _ = write!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{h:.2}\" class=\"bar-{}\"/>",
                (width - 1.0).max(0.5),
                LEVELS[k].as_str()
            );
            parts.push(format!("{} {}", c[k], LEVELS[k].as_str()));
        }
        let _ = write!(
            svg,
            "<rect x=\"{x:.2}\" y=\"{top}\" width=\"{width:.2}\" height=\"{:.1}\" fill=\"transparent\"><title>{}: {total} findings ({})</title></rect>",
            bottom - top,
            escape(&label(i)),
            escape(&parts.join(", "))
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"170\">{}</text><text x=\"{right}\" y=\"170\" text-anchor=\"end\">{}</text></svg>",
        escape(&label(0)),
        escape(&label(buckets - 1))
    );
    svg.push_str("<div class=\"legend\">");
    for l in LEVELS {
        let _ = write!(
            svg,
            "<span><i class=\"dot-key sev-{l}\"></i>{l}</span>",
            l = l.as_str()
        );
    }
    let _ = write!(
        svg,
        "<span>one bar = {}</span></div>",
        match unit {
            1 => "1 hour".to_owned(),
            24 => "1 day".to_owned(),
            u => format!("{} days", u / 24),
        }
    );
    svg
}

fn day_number(text: &str) -> Option<i64> {
    let date: jiff::civil::Date = text.parse().ok()?;
    let ts = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.as_second().div_euclid(SECONDS_PER_DAY))
}

/// Events per source per day across the input's days, one row per source (bar height on
/// a log scale of the source's busiest day), with the coverage gaps shaded red.
fn source_chart(coverage: &CoverageReport) -> String {
    let (Some(first), Some(last)) = (coverage.time.first, coverage.time.last) else {
        return "<p class=\"muted\">No events.</p>".to_owned();
    };
    let first_day = first.as_second().div_euclid(SECONDS_PER_DAY);
    let last_day = last.as_second().div_euclid(SECONDS_PER_DAY);
    let days = (last_day - first_day + 1).clamp(1, 3660) as usize;
    let (left, right, row_h) = (170.0, 990.0, 34.0);
    let width = (right - left) / days as f64;
    let height = 20.0 + row_h * coverage.sources.len() as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 1000 {height:.0}\" role=\"img\" aria-label=\"events per source per day\">"
    );
    for (r, source) in coverage.sources.iter().enumerate() {
        let y0 = 4.0 + r as f64 * row_h;
        let base = y0 + row_h - 8.0;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\">{}</text><text x=\"0\" y=\"{:.1}\">{} events</text>",
            y0 + 12.0,
            escape(source.source.as_str()),
            y0 + 24.0,
            source.events
        );
        for gap in &source.gaps {
            let x0 = left
                + ((gap.from.as_second() as f64 / SECONDS_PER_DAY as f64) - first_day as f64)
                    * width;
            let x1 = left
                + ((gap.to.as_second() as f64 / SECONDS_PER_DAY as f64) - first_day as f64) * width;
            let _ = write!(
                svg,
                "<rect x=\"{:.2}\" y=\"{y0:.1}\" width=\"{:.2}\" height=\"{:.1}\" class=\"gap\"><title>no {} events {} → {} ({} h)</title></rect><rect x=\"{:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"3\" class=\"gap-mark\"/>",
                x0.max(left),
                (x1 - x0).max(1.0),
                row_h - 6.0,
                escape(source.source.as_str()),
                escape(&time_text(gap.from)),
                escape(&time_text(gap.to)),
                gap.hours,
                x0.max(left),
                base + 1.0,
                (x1 - x0).max(1.0)
            );
        }
        let max = source.daily.values().copied().max().unwrap_or(1).max(1);
        for (day, n) in &source.daily {
            let Some(d) = day_number(day) else {
                continue;
            };
            let i = d - first_day;
            if i < 0 || i as usize >= days {
                continue;
            }
            // Log scale: a quiet day (a few events) stays visible next to a busy one;
            // only a day without events has no bar.
            let h = ((1.0 + *n as f64).ln() / (1.0 + max as f64).ln() * (row_h - 12.0)).max(2.0);
            let x = left + i as f64 * width;
            let _ = write!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\" class=\"bar-src\"><title>{}: {n} {} events</title></rect>",
                base - h,
                (width - 0.5).max(0.5),
                escape(day),
                escape(source.source.as_str())
            );
        }
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{right}\" y1=\"{base:.1}\" y2=\"{base:.1}\" class=\"grid-line\"/>"
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{:.0}\">{}</text><text x=\"{right}\" y=\"{:.0}\" text-anchor=\"end\">{}</text></svg>",
        height - 2.0,
        escape(&day_label(first_day)),
        height - 2.0,
        escape(&day_label(last_day))
    );
    svg
}

fn range_text(first: Option<Timestamp>, last: Option<Timestamp>) -> String {
    match (first, last) {
        (Some(f), Some(l)) => format!("{} → {}", time_text(f), time_text(l)),
        _ => "no events".to_owned(),
    }
}

fn write_sources(html: &mut String, summary: &RunSummary) {
    html.push_str("<h3>Events per source</h3><table class=\"grid\"><thead><tr><th>source</th><th class=\"num\">events</th></tr></thead><tbody>");
    for (source, n) in summary.by_source() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
            escape(source.as_str())
        );
    }
    html.push_str("</tbody></table>");
}

fn write_files(html: &mut String, summary: &RunSummary) {
    html.push_str("<h3>Inputs</h3><table class=\"grid\"><thead><tr><th>file</th><th>formats</th><th class=\"num\">events</th><th class=\"num\">skipped</th><th>time range</th></tr></thead><tbody>");
    for file in &summary.files {
        let skipped: Vec<String> = file
            .errors
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let _ = write!(
            html,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\" title=\"{}\">{}</td><td>{}</td></tr>",
            escape(&file.file),
            escape(&file.formats.join(", ")),
            file.events,
            escape(&skipped.join(", ")),
            file.error_count(),
            escape(&range_text(file.time.first, file.time.last))
        );
    }
    html.push_str("</tbody></table>");
}

/// An SVG timeline: one dot per evidence event, placed by event time in the window.
fn write_timeline(html: &mut String, finding: &Finding) {
    if finding.evidence.is_empty() {
        return;
    }
    let start = finding.window.start;
    let end = finding.window.end;
    let span = end.duration_since(start).as_secs_f64();
    html.push_str("<h4>Chain timeline</h4><svg class=\"timeline\" viewBox=\"0 0 1000 74\" role=\"img\" aria-label=\"evidence timeline\"><line x1=\"20\" y1=\"34\" x2=\"980\" y2=\"34\" class=\"axis\"/>");
    let mut steps: Vec<&str> = Vec::new();
    for ev in &finding.evidence {
        if !steps.contains(&ev.step.as_str()) {
            steps.push(&ev.step);
        }
    }
    for (i, ev) in finding.evidence.iter().enumerate() {
        let fraction = if span > 0.0 {
            ev.time.duration_since(start).as_secs_f64() / span
        } else {
            0.5
        };
        let x = 20.0 + fraction.clamp(0.0, 1.0) * 960.0;
        let step_index = steps.iter().position(|s| *s == ev.step).unwrap_or(0) % 6;
        let _ = write!(
            html,
            "<circle cx=\"{x:.1}\" cy=\"34\" r=\"7\" class=\"dot s{step_index}\"><title>{}</title></circle>",
            escape(&format!(
                "{} · step {} · {}",
                time_text(ev.time),
                ev.step,
                ev.summary
            ))
        );
        if i == 0 || i + 1 == finding.evidence.len() {
            let anchor = if i == 0 { "start" } else { "end" };
            let tx = if i == 0 { 20.0 } else { 980.0 };
            let _ = write!(
                html,
                "<text x=\"{tx}\" y=\"66\" text-anchor=\"{anchor}\" class=\"tlabel\">{}</text>",
                escape(&time_text(ev.time))
            );
        }
    }
    html.push_str("</svg><div class=\"legend\">");
    for (i, step) in steps.iter().enumerate() {
        let _ = write!(
            html,
            "<span><i class=\"dot-key s{}\"></i>step {}</span>",
            i % 6,
            escape(step)
        );
    }
    html.push_str("</div>");
}

fn verdict_badge(verdict: Verdict) -> String {
    format!(
        "<span class=\"verdict v-{v}\">{v}</span>",
        v = verdict.as_str()
    )
}

fn write_coverage(html: &mut String, coverage: &CoverageReport) {
    let _ = write!(
        html,
        "<section id=\"coverage\"><h2>Coverage</h2><p class=\"muted\">{} events, {} · gap threshold {}</p>",
        coverage.events,
        escape(&range_text(coverage.time.first, coverage.time.last)),
        escape(&coverage.gap_threshold)
    );
    html.push_str("<table class=\"grid\"><thead><tr><th>analytic</th><th>step</th><th>verdict</th><th>what it needs</th><th>sources in the input (events)</th></tr></thead><tbody>");
    for analytic in &coverage.analytics {
        let _ = write!(
            html,
            "<tr class=\"an-row\"><td class=\"mono\">{}</td><td></td><td>{}</td><td><b>{}</b> ({})</td><td></td></tr>",
            escape(&analytic.id),
            verdict_badge(analytic.verdict),
            escape(&analytic.title),
            escape(&analytic.technique)
        );
        for step in &analytic.steps {
            let sources: Vec<String> = step
                .sources
                .iter()
                .map(|s| format!("{} ({})", s.source, s.events))
                .collect();
            let _ = write!(
                html,
                "<tr><td></td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono small\">{}</td></tr>",
                step.number,
                verdict_badge(step.verdict),
                escape(&step.name),
                escape(&sources.join(", "))
            );
        }
    }
    html.push_str("</tbody></table>");
    write_blind_spots(html, coverage);
    write_partner_ip(html, coverage);
    html.push_str("</section>\n");
}

fn write_blind_spots(html: &mut String, coverage: &CoverageReport) {
    html.push_str("<h3>Blind spots</h3>");
    let mut any = false;
    html.push_str("<ul class=\"blind\">");
    for analytic in &coverage.analytics {
        for (step, spot) in analytic.all_blind_spots() {
            any = true;
            let place = if step == 0 {
                analytic.id.clone()
            } else {
                format!("{} step {step}", analytic.id)
            };
            let _ = write!(
                html,
                "<li><b>{}</b>: {}<br><span class=\"enable\">Turn on: {}</span></li>",
                escape(&place),
                escape(&spot.what),
                escape(&spot.enable)
            );
        }
    }
    html.push_str("</ul>");
    if !any {
        html.push_str("<p class=\"muted\">None: every step has its logs and fields.</p>");
    }
}

fn write_partner_ip(html: &mut String, coverage: &CoverageReport) {
    let p = &coverage.partner_ip;
    let share = p
        .share_in_ranges
        .map_or("-".to_owned(), |s| format!("{:.0}%", s * 100.0));
    let _ = write!(
        html,
        "<h3>Partner IP context: {}</h3><p class=\"muted\">{} partner events, {} with an IP, {} in configured ranges</p>",
        if p.reliable {
            "reliable"
        } else {
            "not reliable"
        },
        p.events,
        p.with_ip,
        escape(&share)
    );
    if !p.warnings.is_empty() {
        html.push_str("<ul class=\"blind\">");
        for w in &p.warnings {
            let _ = write!(html, "<li>{}</li>", escape(w));
        }
        html.push_str("</ul>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_control_characters_are_visible() {
        assert_eq!(escape("a\u{202E}txt.exe\u{1b}"), "a\\u{202E}txt.exe\\u{1B}");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
