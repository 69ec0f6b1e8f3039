//! Coverage: which log sources and fields the input has for each analytic step, where
//! the gaps are, and whether partner IP context can be trusted.
//!
//! [`CoverageCollector`] is a streaming tally: [`CoverageCollector::observe`] is called
//! for every event (one collector per input file, on any thread) and collectors are
//! combined with [`CoverageCollector::merge`]. Memory is bounded: per source kind a
//! count, a time range, the set of hours that had events and a counter per watched
//! field; per partner tenant a bounded set of client IPs.
//!
//! [`CoverageCollector::report`] judges every step of every analytic against the
//! catalog ([`Metadata`]) and the context:
//!
//! * **blind**: none of the step's source kinds is in the input, or they are there but
//!   none of the fields the step reads is ever non-empty;
//! * **partial**: some of its source kinds are missing, a field it reads is always empty
//!   where it appears (sign-ins without IPs), or a source kind it reads is silent for
//!   longer than [`CoverageOptions::gap_threshold`] inside the input's time range. A
//!   field that never appears at all is named too but lowers the verdict only when half
//!   or more of the step's fields never appear, because step fields list alternative
//!   renderings ([`BlindSpotKind::AbsentField`]);
//! * **covered**: everything the step reads is there, without gaps.
//!
//! Every blind spot is named ([`BlindSpot`]) with what to turn on to close it (the
//! step's `enable` text). An analytic is covered when all its steps are, blind when all
//! are, partial otherwise; an input shorter than the analytic's correlation window
//! (AN1350 `window`, AN1052 `TimeWindow`) makes a covered analytic partial.

use crate::navigator;
use crate::text::{duration_text, non_empty, time_text};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use trustpath_analytics::{Metadata, Step};
use trustpath_context::{Context, Partner};
use trustpath_event::{Event, SourceKind, TimeRange, norm};
use trustpath_normalize::PARTNER_TENANT;

/// Distinct client IPs kept per partner tenant; further IPs are only counted.
const MAX_IPS_PER_PARTNER: usize = 256;
/// Distinct partner tenants kept; events of further partners are only counted.
const MAX_PARTNERS: usize = 1024;
const SECONDS_PER_HOUR: i64 = 3600;

/// How coverage is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageOptions {
    /// A source kind silent longer than this inside the input's range is a gap.
    pub gap_threshold: SignedDuration,
}

impl Default for CoverageOptions {
    fn default() -> Self {
        CoverageOptions {
            gap_threshold: SignedDuration::from_hours(24),
        }
    }
}

/// Which fields to count per source kind (from the analytics' steps).
#[derive(Debug, Clone, Default, PartialEq)]
struct WatchedFields {
    by_source: BTreeMap<SourceKind, Vec<String>>,
}

impl WatchedFields {
    fn from_catalog(catalog: &[Metadata]) -> Self {
        let mut by_source: BTreeMap<SourceKind, BTreeSet<String>> = BTreeMap::new();
        for kind in SourceKind::ALL {
            by_source
                .entry(kind)
                .or_default()
                .insert(norm::IP.to_owned());
        }
        for step in catalog.iter().flat_map(|m| &m.steps) {
            for kind in step.sources.iter().filter_map(|s| source_kind(s)) {
                by_source
                    .entry(kind)
                    .or_default()
                    .extend(step.fields.iter().cloned());
            }
        }
        WatchedFields {
            by_source: by_source
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        }
    }

    fn builtin() -> Arc<WatchedFields> {
        static BUILTIN: OnceLock<Arc<WatchedFields>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let catalog: Vec<Metadata> = trustpath_analytics::catalog()
                    .into_iter()
                    .map(|(m, _)| m)
                    .collect();
                Arc::new(WatchedFields::from_catalog(&catalog))
            })
            .clone()
    }

    fn for_source(&self, kind: SourceKind) -> &[String] {
        self.by_source.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    fn watches(&self, kind: SourceKind, field: &str) -> bool {
        self.for_source(kind).iter().any(|f| f == field)
    }
}

/// Parse a source kind name (`m365_audit`, …) as analytic metadata writes it.
pub fn source_kind(name: &str) -> Option<SourceKind> {
    SourceKind::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(name.trim()))
}

/// What one source kind contributed.
#[derive(Debug, Clone, Default, PartialEq)]
struct SourceTally {
    events: u64,
    time: TimeRange,
    /// Hour numbers (seconds since the epoch / 3600) that had at least one event.
    hours: BTreeSet<i64>,
    /// Events per UTC day (days since the epoch), for the report's histogram.
    days: BTreeMap<i64, u64>,
    /// Events in which each watched field is present and non-empty.
    fields: BTreeMap<String, u64>,
    /// Events in which each watched field exists (even empty).
    seen: BTreeMap<String, u64>,
}

impl SourceTally {
    fn observe(&mut self, event: &Event, watched: &[String]) {
        self.events += 1;
        self.time.include(event.time);
        self.hours
            .insert(event.time.as_second().div_euclid(SECONDS_PER_HOUR));
        *self
            .days
            .entry(event.time.as_second().div_euclid(SECONDS_PER_DAY))
            .or_default() += 1;
        for field in watched {
            let (exists, non_empty) = field_state(event, field);
            if exists {
                count(&mut self.seen, field);
            }
            if non_empty {
                count(&mut self.fields, field);
            }
        }
    }

    fn merge(&mut self, other: &SourceTally) {
        self.events += other.events;
        self.time.merge(&other.time);
        self.hours.extend(other.hours.iter().copied());
        for (day, n) in &other.days {
            *self.days.entry(*day).or_default() += n;
        }
        for (field, n) in &other.fields {
            *self.fields.entry(field.clone()).or_default() += n;
        }
        for (field, n) in &other.seen {
            *self.seen.entry(field.clone()).or_default() += n;
        }
    }
}

fn count(map: &mut BTreeMap<String, u64>, field: &str) {
    match map.get_mut(field) {
        Some(n) => *n += 1,
        None => {
            map.insert(field.to_owned(), 1);
        }
    }
}

/// Whether the field exists in the event, and whether it has a non-empty value.
fn field_state(event: &Event, field: &str) -> (bool, bool) {
    let mut non_empty_value = false;
    let exists = event.for_each_value(field, &mut |v| non_empty_value |= non_empty(v));
    (exists, non_empty_value)
}

/// Events of one partner tenant acting in the customer tenant.
#[derive(Debug, Clone, Default, PartialEq)]
struct PartnerTally {
    events: u64,
    without_ip: u64,
    /// Events per client IP (at most [`MAX_IPS_PER_PARTNER`] IPs).
    ips: BTreeMap<String, u64>,
    /// Events whose IP was not kept because the IP set was full.
    unchecked: u64,
}

impl PartnerTally {
    fn observe(&mut self, ip: Option<&str>) {
        self.events += 1;
        match ip {
            None => self.without_ip += 1,
            Some(ip) => self.add_ip(ip, 1),
        }
    }

    fn add_ip(&mut self, ip: &str, n: u64) {
        if let Some(count) = self.ips.get_mut(ip) {
            *count += n;
        } else if self.ips.len() < MAX_IPS_PER_PARTNER {
            self.ips.insert(ip.to_owned(), n);
        } else {
            self.unchecked += n;
        }
    }

    fn merge(&mut self, other: &PartnerTally) {
        self.events += other.events;
        self.without_ip += other.without_ip;
        self.unchecked += other.unchecked;
        for (ip, n) in &other.ips {
            self.add_ip(ip, *n);
        }
    }
}

/// Streaming coverage tally; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageCollector {
    watched: Arc<WatchedFields>,
    sources: BTreeMap<SourceKind, SourceTally>,
    partners: BTreeMap<String, PartnerTally>,
    /// Partner events not kept per partner because [`MAX_PARTNERS`] was reached.
    partner_overflow: u64,
}

impl Default for CoverageCollector {
    /// A collector watching the fields of the built-in analytics.
    fn default() -> Self {
        Self::with_watched(WatchedFields::builtin())
    }
}

impl CoverageCollector {
    /// A collector watching the fields of the steps of `catalog` (for user analytics).
    pub fn for_catalog(catalog: &[Metadata]) -> Self {
        Self::with_watched(Arc::new(WatchedFields::from_catalog(catalog)))
    }

    fn with_watched(watched: Arc<WatchedFields>) -> Self {
        CoverageCollector {
            watched,
            sources: BTreeMap::new(),
            partners: BTreeMap::new(),
            partner_overflow: 0,
        }
    }

    /// Count one event.
    pub fn observe(&mut self, event: &Event) {
        let watched = self.watched.for_source(event.source);
        self.sources
            .entry(event.source)
            .or_default()
            .observe(event, watched);
        if let Some(partner) = event.norm_str(PARTNER_TENANT).filter(|p| !p.is_empty()) {
            self.observe_partner(partner, event.ip().filter(|ip| !ip.is_empty()));
        }
    }

    fn observe_partner(&mut self, partner: &str, ip: Option<&str>) {
        if let Some(tally) = self.partners.get_mut(partner) {
            tally.observe(ip);
        } else if self.partners.len() < MAX_PARTNERS {
            let mut tally = PartnerTally::default();
            tally.observe(ip);
            self.partners.insert(partner.to_owned(), tally);
        } else {
            self.partner_overflow += 1;
        }
    }

    /// Add another collector's tally (e.g. of another input file).
    pub fn merge(&mut self, other: CoverageCollector) {
        for (kind, tally) in &other.sources {
            self.sources.entry(*kind).or_default().merge(tally);
        }
        for (partner, tally) in &other.partners {
            if let Some(mine) = self.partners.get_mut(partner) {
                mine.merge(tally);
            } else if self.partners.len() < MAX_PARTNERS {
                self.partners.insert(partner.clone(), tally.clone());
            } else {
                self.partner_overflow += tally.events;
            }
        }
        self.partner_overflow += other.partner_overflow;
    }

    /// Events counted so far.
    pub fn events(&self) -> u64 {
        self.sources.values().map(|t| t.events).sum()
    }

    /// Judge every analytic step of `catalog` against what was observed.
    pub fn report(
        &self,
        catalog: &[Metadata],
        context: &Context,
        opts: &CoverageOptions,
    ) -> CoverageReport {
        let mut time = TimeRange::default();
        for tally in self.sources.values() {
            time.merge(&tally.time);
        }
        let sources: Vec<SourceCoverage> = self
            .sources
            .iter()
            .map(|(kind, tally)| source_coverage(*kind, tally, time, opts))
            .collect();
        let judge = Judge {
            collector: self,
            sources: &sources,
            time,
            context,
        };
        let analytics = catalog.iter().map(|m| judge.analytic(m)).collect();
        CoverageReport {
            time,
            events: self.events(),
            gap_threshold: duration_text(opts.gap_threshold),
            sources,
            analytics,
            partner_ip: self.partner_reliability(context),
        }
    }

    fn partner_reliability(&self, context: &Context) -> PartnerIpReliability {
        let partners: Vec<PartnerIpCoverage> = self
            .partners
            .iter()
            .map(|(tenant, tally)| partner_coverage(tenant, tally, context))
            .collect();
        let events: u64 = partners.iter().map(|p| p.events).sum();
        let in_ranges: u64 = partners.iter().map(|p| p.in_ranges).sum();
        let with_ip: u64 = partners.iter().map(|p| p.events - p.without_ip).sum();
        let mut warnings = Vec::new();
        for p in &partners {
            warnings.extend(p.warnings.iter().map(|w| format!("{}: {w}", p.label())));
        }
        if self.partner_overflow > 0 {
            warnings.push(format!(
                "{} partner events of more than {MAX_PARTNERS} partner tenants were counted but not checked",
                self.partner_overflow
            ));
        }
        PartnerIpReliability {
            reliable: events > 0 && warnings.is_empty(),
            events,
            with_ip,
            in_ranges,
            share_in_ranges: share(in_ranges, with_ip),
            partners,
            unconfigured_partners: context
                .partners
                .iter()
                .filter(|p| p.cidrs.is_empty())
                .map(|p| p.name.clone())
                .collect(),
            warnings,
        }
    }
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1000.0).round() / 1000.0)
}

fn partner_coverage(tenant: &str, tally: &PartnerTally, context: &Context) -> PartnerIpCoverage {
    let partner = context.partner_by_tenant(tenant);
    let in_ranges = partner.map_or(0, |p| ips_in_ranges(p, &tally.ips));
    let with_ip = tally.events - tally.without_ip;
    let outside: Vec<String> = tally
        .ips
        .keys()
        .filter(|ip| !partner.is_some_and(|p| ip_owned(p, ip)))
        .take(10)
        .cloned()
        .collect();
    let mut warnings = Vec::new();
    match partner {
        None => warnings.push(
            "partner tenant not in the context: add it under [[partners]] with its cidrs"
                .to_owned(),
        ),
        Some(p) if p.cidrs.is_empty() => warnings.push(
            "no ranges configured: add the partner's cidrs so step 3 can test its IPs".to_owned(),
        ),
        Some(_) if with_ip > in_ranges => warnings.push(format!(
            "{} of {with_ip} events with an IP come from outside the configured ranges",
            with_ip - in_ranges
        )),
        Some(_) => {}
    }
    if tally.without_ip > 0 {
        warnings.push(format!(
            "{} of {} partner events carry no client IP",
            tally.without_ip, tally.events
        ));
    }
    PartnerIpCoverage {
        tenant: tenant.to_owned(),
        name: partner.map(|p| p.name.clone()),
        configured_ranges: partner.map_or(0, |p| p.cidrs.len()),
        events: tally.events,
        without_ip: tally.without_ip,
        in_ranges,
        share_in_ranges: share(in_ranges, with_ip),
        ips_outside_ranges: outside,
        warnings,
    }
}

fn ip_owned(partner: &Partner, ip: &str) -> bool {
    ip.parse::<IpAddr>().is_ok_and(|ip| partner.owns_ip(ip))
}

fn ips_in_ranges(partner: &Partner, ips: &BTreeMap<String, u64>) -> u64 {
    ips.iter()
        .filter(|(ip, _)| ip_owned(partner, ip))
        .map(|(_, n)| n)
        .sum()
}

fn source_coverage(
    kind: SourceKind,
    tally: &SourceTally,
    input: TimeRange,
    opts: &CoverageOptions,
) -> SourceCoverage {
    SourceCoverage {
        source: kind,
        events: tally.events,
        time: tally.time,
        with_ip: tally.fields.get(norm::IP).copied().unwrap_or(0),
        gaps: find_gaps(&tally.hours, input, opts.gap_threshold),
        daily: tally
            .days
            .iter()
            .map(|(day, n)| (day_text(*day), *n))
            .collect(),
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// `YYYY-MM-DD` of a day number (days since the epoch, UTC).
fn day_text(day: i64) -> String {
    Timestamp::from_second(day.saturating_mul(SECONDS_PER_DAY))
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Silences longer than `threshold` between hours with events, and before the first /
/// after the last of them, inside the input's range.
fn find_gaps(hours: &BTreeSet<i64>, input: TimeRange, threshold: SignedDuration) -> Vec<Gap> {
    let (Some(first), Some(last)) = (input.first, input.last) else {
        return Vec::new();
    };
    let first_hour = first.as_second().div_euclid(SECONDS_PER_HOUR);
    let last_hour = last.as_second().div_euclid(SECONDS_PER_HOUR);
    // Silent hours run from `after + 1` to `before - 1`; sentinels bracket the input.
    let mut bounds = Vec::with_capacity(hours.len() + 2);
    bounds.push(first_hour - 1);
    bounds.extend(hours.iter().copied());
    bounds.push(last_hour + 1);
    bounds
        .windows(2)
        .filter_map(|w| {
            let silent_hours = w[1] - w[0] - 1;
            let silence = SignedDuration::from_hours(silent_hours);
            (silent_hours > 0 && silence > threshold).then(|| Gap {
                from: hour_start(w[0] + 1),
                to: hour_start(w[1]),
                hours: silent_hours,
            })
        })
        .collect()
}

fn hour_start(hour: i64) -> Timestamp {
    Timestamp::from_second(hour.saturating_mul(SECONDS_PER_HOUR)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Judges steps and analytics against a collector's tally.
struct Judge<'a> {
    collector: &'a CoverageCollector,
    sources: &'a [SourceCoverage],
    time: TimeRange,
    context: &'a Context,
}

impl Judge<'_> {
    fn analytic(&self, meta: &Metadata) -> AnalyticCoverage {
        let steps: Vec<StepCoverage> = meta
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| self.step(i + 1, step))
            .collect();
        let mut verdict = combine(steps.iter().map(|s| s.verdict));
        let retention = self.retention(meta);
        let mut blind_spots = Vec::new();
        if let Some(r) = retention.as_ref().filter(|r| !r.sufficient) {
            blind_spots.push(BlindSpot {
                kind: BlindSpotKind::Retention,
                what: format!(
                    "the input spans {} but {}'s window is {}: chains longer than the input cannot be seen",
                    r.input_span, meta.id, r.window
                ),
                enable: "Export (or retain) at least one window of logs: raise the audit log retention or the export period".to_owned(),
            });
            if verdict == Verdict::Covered {
                verdict = Verdict::Partial;
            }
        }
        AnalyticCoverage {
            id: meta.id.clone(),
            title: meta.title.clone(),
            technique: meta.technique.clone(),
            technique_name: meta.technique_name.clone(),
            verdict,
            retention,
            blind_spots,
            steps,
        }
    }

    fn retention(&self, meta: &Metadata) -> Option<Retention> {
        let window = analytic_window(&meta.id, self.context)?;
        let span = match (self.time.first, self.time.last) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => SignedDuration::ZERO,
        };
        Some(Retention {
            window: duration_text(window),
            input_span: duration_text(span),
            sufficient: span >= window,
        })
    }

    fn step(&self, number: usize, step: &Step) -> StepCoverage {
        let sources: Vec<StepSource> = step.sources.iter().map(|s| self.step_source(s)).collect();
        let present: Vec<SourceKind> = sources
            .iter()
            .filter(|s| s.events > 0)
            .filter_map(|s| source_kind(&s.source))
            .collect();
        let fields: Vec<FieldCoverage> = step
            .fields
            .iter()
            .map(|f| self.field(f, &present))
            .collect();
        let mut blind_spots = Vec::new();
        let missing_required: Vec<&String> = step
            .required_sources
            .iter()
            .filter(|r| !sources.iter().any(|s| &s.source == *r && s.events > 0))
            .collect();
        let verdict = if !missing_required.is_empty() && !present.is_empty() {
            // The step's main evidence is missing; the other sources it reads are named
            // as present, the missing ones as blind spots.
            self.partial_blind_spots(step, &sources, &fields, &mut blind_spots);
            Verdict::Blind
        } else if present.is_empty() {
            blind_spots.push(BlindSpot {
                kind: BlindSpotKind::MissingSource,
                what: format!(
                    "no {} events in the input: the step cannot fire",
                    step.sources.join(" or ")
                ),
                enable: step.enable.clone(),
            });
            Verdict::Blind
        } else {
            self.partial_blind_spots(step, &sources, &fields, &mut blind_spots);
            let measured: Vec<&FieldCoverage> = fields.iter().filter(|f| f.measured).collect();
            if !measured.is_empty() && measured.iter().all(|f| !f.present) {
                Verdict::Blind
            } else if blind_spots.iter().all(|b| !b.kind.lowers_verdict())
                && mostly_present(&measured)
            {
                Verdict::Covered
            } else {
                Verdict::Partial
            }
        };
        StepCoverage {
            number,
            rule: step.rule.clone(),
            name: step.name.clone(),
            verdict,
            sources,
            fields,
            blind_spots,
        }
    }

    fn partial_blind_spots(
        &self,
        step: &Step,
        sources: &[StepSource],
        fields: &[FieldCoverage],
        out: &mut Vec<BlindSpot>,
    ) {
        for source in sources.iter().filter(|s| s.events == 0) {
            let what = if source_kind(&source.source).is_none() {
                format!(
                    "unknown source kind `{}` in the analytic metadata",
                    source.source
                )
            } else {
                format!("no {} events in the input", source.source)
            };
            out.push(BlindSpot {
                kind: BlindSpotKind::MissingSource,
                what,
                enable: step.enable.clone(),
            });
        }
        let kinds: Vec<&str> = sources
            .iter()
            .filter(|s| s.events > 0)
            .map(|s| s.source.as_str())
            .collect();
        for field in fields.iter().filter(|f| f.measured && !f.present) {
            let (kind, what) = if field.exists {
                (
                    BlindSpotKind::EmptyField,
                    format!(
                        "`{}` is always empty in the {} events",
                        field.field,
                        kinds.join(" and ")
                    ),
                )
            } else {
                (
                    BlindSpotKind::AbsentField,
                    format!(
                        "`{}` never appears in the {} events (one of the renderings the step reads is not collected)",
                        field.field,
                        kinds.join(" and ")
                    ),
                )
            };
            out.push(BlindSpot {
                kind,
                what,
                enable: step.enable.clone(),
            });
        }
        for source in sources.iter().filter(|s| s.events > 0) {
            for gap in &source.gaps {
                out.push(BlindSpot {
                    kind: BlindSpotKind::Gap,
                    what: format!(
                        "no {} events from {} to {} ({}h)",
                        source.source,
                        time_text(gap.from),
                        time_text(gap.to),
                        gap.hours
                    ),
                    enable: format!(
                        "Check the export or collection of {} for that period ({})",
                        source.source, step.enable
                    ),
                });
            }
        }
    }

    fn step_source(&self, name: &str) -> StepSource {
        let found = source_kind(name).and_then(|k| self.sources.iter().find(|s| s.source == k));
        StepSource {
            source: name.to_owned(),
            events: found.map_or(0, |s| s.events),
            time: found.map(|s| s.time).unwrap_or_default(),
            gaps: found.map(|s| s.gaps.clone()).unwrap_or_default(),
        }
    }

    fn field(&self, field: &str, present: &[SourceKind]) -> FieldCoverage {
        let mut by_source = BTreeMap::new();
        let mut exists = false;
        let mut measured = false;
        for kind in present {
            if !self.collector.watched.watches(*kind, field) {
                continue;
            }
            measured = true;
            let tally = self.collector.sources.get(kind);
            let n = tally
                .and_then(|t| t.fields.get(field))
                .copied()
                .unwrap_or(0);
            exists |= tally.is_some_and(|t| t.seen.contains_key(field));
            by_source.insert(kind.as_str().to_owned(), n);
        }
        FieldCoverage {
            field: field.to_owned(),
            present: by_source.values().any(|n| *n > 0),
            exists,
            measured,
            by_source,
        }
    }
}

/// Fewer than half of the measured fields never appear (absent fields are usually
/// alternative renderings; most of them missing means most renderings are).
fn mostly_present(fields: &[&FieldCoverage]) -> bool {
    let absent = fields.iter().filter(|f| !f.exists).count();
    absent * 2 < fields.len()
}

/// The correlation window of an analytic (the tunable its `analytic.toml` names as
/// `coverage_window`), from the context.
fn analytic_window(id: &str, context: &Context) -> Option<SignedDuration> {
    trustpath_analytics::Registry::builtin().coverage_window(id, context)
}

/// covered if all are covered, blind if all are blind, partial otherwise.
fn combine(verdicts: impl Iterator<Item = Verdict>) -> Verdict {
    let all: Vec<Verdict> = verdicts.collect();
    if all.is_empty() {
        Verdict::Blind
    } else if all.iter().all(|v| *v == Verdict::Covered) {
        Verdict::Covered
    } else if all.iter().all(|v| *v == Verdict::Blind) {
        Verdict::Blind
    } else {
        Verdict::Partial
    }
}

/// How well a step or analytic can see what it looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Cannot fire on this input.
    Blind,
    /// Can fire, but part of what it reads is missing.
    Partial,
    /// Everything it reads is there.
    Covered,
}

impl Verdict {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Blind => "blind",
            Verdict::Partial => "partial",
            Verdict::Covered => "covered",
        }
    }
}

/// What kind of blind spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlindSpotKind {
    /// A source kind the step reads is not in the input.
    MissingSource,
    /// A field the step reads exists in the events but is always empty (sign-ins
    /// without IPs): the step runs half-sighted.
    EmptyField,
    /// A field the step reads never appears at all. Step fields often list alternative
    /// renderings (4104 `ScriptBlockText`, 4688 `CommandLine`, MSExchange Management
    /// `Data`), so this is named but lowers the verdict (to partial) only when half or
    /// more of the step's fields never appear; a step none of whose fields appear is blind.
    AbsentField,
    /// A source kind is silent longer than the gap threshold.
    Gap,
    /// The input is shorter than the analytic's window.
    Retention,
}

impl BlindSpotKind {
    /// Whether a blind spot of this kind makes a step partial.
    pub fn lowers_verdict(self) -> bool {
        self != BlindSpotKind::AbsentField
    }
}

/// A named blind spot and what closes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindSpot {
    /// What kind.
    pub kind: BlindSpotKind,
    /// What is missing, in words.
    pub what: String,
    /// What to turn on (or export) to close it.
    pub enable: String,
}

/// One source kind in the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceCoverage {
    /// Source kind.
    pub source: SourceKind,
    /// Events.
    pub events: u64,
    /// Event time range.
    pub time: TimeRange,
    /// Events with a client IP (`tp.ip`).
    pub with_ip: u64,
    /// Silences longer than the gap threshold.
    pub gaps: Vec<Gap>,
    /// Events per UTC day (`YYYY-MM-DD`), days without events left out.
    #[serde(default)]
    pub daily: BTreeMap<String, u64>,
}

/// A silence of a source kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Start of the first silent hour.
    pub from: Timestamp,
    /// End of the last silent hour.
    pub to: Timestamp,
    /// Silent hours.
    pub hours: i64,
}

/// A source kind a step reads, as found in the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSource {
    /// Source kind name from the metadata.
    pub source: String,
    /// Events of that kind (0: missing).
    pub events: u64,
    /// Their time range.
    pub time: TimeRange,
    /// Their gaps.
    pub gaps: Vec<Gap>,
}

/// A field a step reads, as found in the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldCoverage {
    /// Field path.
    pub field: String,
    /// Present and non-empty in at least one event of the step's source kinds.
    pub present: bool,
    /// Exists (maybe empty) in at least one event of the step's source kinds.
    pub exists: bool,
    /// Whether the collector counted it (false for fields of a catalog the collector was
    /// not built for; such fields are not judged).
    pub measured: bool,
    /// Events with the field non-empty, per present source kind.
    pub by_source: BTreeMap<String, u64>,
}

/// One analytic step's coverage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepCoverage {
    /// 1-based step number.
    pub number: usize,
    /// Rule name.
    pub rule: String,
    /// What the step is.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The step's source kinds.
    pub sources: Vec<StepSource>,
    /// The step's fields.
    pub fields: Vec<FieldCoverage>,
    /// Named blind spots with what to turn on.
    pub blind_spots: Vec<BlindSpot>,
}

/// Whether the input is long enough for an analytic's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// The analytic's window.
    pub window: String,
    /// First to last event of the input.
    pub input_span: String,
    /// `input_span >= window`.
    pub sufficient: bool,
}

/// One analytic's coverage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticCoverage {
    /// `AN1350`.
    pub id: String,
    /// Title.
    pub title: String,
    /// ATT&CK technique id.
    pub technique: String,
    /// ATT&CK technique name.
    pub technique_name: String,
    /// Worst-case of its steps, lowered by a short input.
    pub verdict: Verdict,
    /// Window check, for analytics with a window.
    pub retention: Option<Retention>,
    /// Analytic-level blind spots (retention).
    pub blind_spots: Vec<BlindSpot>,
    /// Per step.
    pub steps: Vec<StepCoverage>,
}

impl AnalyticCoverage {
    /// Every blind spot of the analytic and its steps, with the step number (0 for the
    /// analytic itself).
    pub fn all_blind_spots(&self) -> impl Iterator<Item = (usize, &BlindSpot)> {
        self.blind_spots.iter().map(|b| (0, b)).chain(
            self.steps
                .iter()
                .flat_map(|s| s.blind_spots.iter().map(move |b| (s.number, b))),
        )
    }
}

/// One partner tenant's IP context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerIpCoverage {
    /// Partner tenant id.
    pub tenant: String,
    /// Name from the context, if known.
    pub name: Option<String>,
    /// Ranges configured in the context.
    pub configured_ranges: usize,
    /// Events with this partner acting.
    pub events: u64,
    /// Of which without a client IP.
    pub without_ip: u64,
    /// Of which from an IP in the configured ranges.
    pub in_ranges: u64,
    /// `in_ranges` / events with an IP.
    pub share_in_ranges: Option<f64>,
    /// Up to 10 IPs seen outside the configured ranges.
    pub ips_outside_ranges: Vec<String>,
    /// Why the context is not reliable for this partner.
    pub warnings: Vec<String>,
}

impl PartnerIpCoverage {
    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.tenant),
            None => self.tenant.clone(),
        }
    }
}

/// Whether partner IP context (AN1350 step 3) can be trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerIpReliability {
    /// Partner events were seen and no warning was raised.
    pub reliable: bool,
    /// Events with a partner tenant acting (`tp.partner_tenant`).
    pub events: u64,
    /// Of which with a client IP.
    pub with_ip: u64,
    /// Of which from the partner's configured ranges.
    pub in_ranges: u64,
    /// `in_ranges` / `with_ip`.
    pub share_in_ranges: Option<f64>,
    /// Per partner tenant.
    pub partners: Vec<PartnerIpCoverage>,
    /// Partners in the context without ranges.
    pub unconfigured_partners: Vec<String>,
    /// Everything that makes the context unreliable.
    pub warnings: Vec<String>,
}

/// The coverage of an input: `trustpath coverage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Time range of the whole input.
    pub time: TimeRange,
    /// Events in the input.
    pub events: u64,
    /// Gap threshold used.
    pub gap_threshold: String,
    /// Per source kind present.
    pub sources: Vec<SourceCoverage>,
    /// Per analytic.
    pub analytics: Vec<AnalyticCoverage>,
    /// Partner IP context.
    pub partner_ip: PartnerIpReliability,
}

impl CoverageReport {
    /// The coverage of analytic `id`.
    pub fn analytic(&self, id: &str) -> Option<&AnalyticCoverage> {
        self.analytics
            .iter()
            .find(|a| a.id.eq_ignore_ascii_case(id))
    }

    /// An ATT&CK Navigator layer (format 4.5); see [`navigator`](crate::navigator).
    pub fn to_navigator_layer(&self) -> serde_json::Value {
        navigator::layer(self)
    }

    /// A text report: input sources, one row per analytic step, blind spots, partner IPs.
    pub fn write_table(&self, out: &mut dyn Write) -> io::Result<()> {
        crate::coverage_table::write(self, out)
    }
}
