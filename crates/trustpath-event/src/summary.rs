//! Run accounting: what was read, matched, skipped and late, per file and in total.
//!
//! Every stage adds to a [`RunSummary`]; `hunt` prints it and `--json` emits it, so a
//! record can never disappear without being counted somewhere.

use crate::{ErrorKind, Event, RecordError, SourceKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Earliest and latest event time seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Earliest event time.
    pub first: Option<Timestamp>,
    /// Latest event time.
    pub last: Option<Timestamp>,
}

impl TimeRange {
    /// Widen the range to include `t`.
    pub fn include(&mut self, t: Timestamp) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    /// Widen the range to include another range.
    pub fn merge(&mut self, other: &TimeRange) {
        if let Some(t) = other.first {
            self.include(t);
        }
        if let Some(t) = other.last {
            self.include(t);
        }
    }
}

/// What happened to one input file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    /// Path as given.
    pub file: String,
    /// Formats sniffed in the file (an archive can hold several).
    pub formats: Vec<String>,
    /// Records read and normalized into events.
    pub events: u64,
    /// Events per source kind.
    pub by_source: BTreeMap<SourceKind, u64>,
    /// Records skipped, by reason.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Event time range.
    pub time: TimeRange,
    /// Events per host whose time was a local time without a zone and no time zone was
    /// known for the host (`tp.time_zone_missing`; read as if UTC).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zone_less_hosts: BTreeMap<String, u64>,
    /// Events that repeat a record already seen (same identity, see
    /// [`crate::identity`]): counted in `events`, used once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicates: u64,
    /// Cloud records that named no tenant and were attributed from the records delivered
    /// with them, by how (`initiator`, `domain`, `folder`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributed: BTreeMap<String, u64>,
    /// Cloud records that named no tenant and could not be attributed (an input with
    /// several tenants, or none): kept out of every tenant's findings.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unattributed: u64,
    /// Events whose record carried no event time (`tp.time_missing`): matched by the
    /// stateless rules, left out of correlations and analytics and of `time`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_time: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What 4104 script-block reassembly did over a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptBlockCounts {
    /// Multi-part blocks emitted whole.
    pub reassembled: u64,
    /// Blocks emitted part by part because parts were missing (at the end, or evicted).
    pub incomplete: u64,
    /// Of those, blocks evicted early by the pending count or bytes limit.
    pub evicted: u64,
    /// Parts repeated with the same text (dropped) or numbered beyond the block's total.
    pub duplicate_parts: u64,
    /// Parts conflicting with another part of the same number (different text) or with
    /// the block's total: kept and flagged `tp.script_block_conflict`, never dropped.
    pub conflicting_parts: u64,
}

impl ScriptBlockCounts {
    /// Whether anything is worth reporting (something not reassembled cleanly).
    pub fn has_problems(&self) -> bool {
        self.incomplete > 0 || self.duplicate_parts > 0 || self.conflicting_parts > 0
    }
}

impl FileSummary {
    /// A new, empty summary for `file`.
    pub fn new(file: impl Into<String>) -> Self {
        FileSummary {
            file: file.into(),
            ..FileSummary::default()
        }
    }

    /// Count one event.
    pub fn add_event(&mut self, event: &Event) {
        self.events += 1;
        *self.by_source.entry(event.source).or_default() += 1;
        if event.time_missing() {
            self.no_time += 1;
        } else {
            self.time.include(event.time);
        }
        let format = event.format.as_str();
        if !self.formats.iter().any(|f| f == format) {
            self.formats.push(format.to_owned());
        }
        if event
            .fields
            .get(crate::norm::TIME_ZONE_MISSING)
            .is_some_and(|v| v.as_bool() == Some(true))
        {
            let host = event
                .norm_str(crate::norm::HOST)
                .unwrap_or("(no host name)")
                .to_owned();
            *self.zone_less_hosts.entry(host).or_default() += 1;
        }
    }

    /// Count one skipped record.
    pub fn add_error(&mut self, error: &RecordError) {
        *self.errors.entry(error.kind).or_default() += 1;
    }

    /// Total skipped records.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Totals for a whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Per-file summaries, in input order.
    pub files: Vec<FileSummary>,
    /// Events that matched at least one rule.
    pub matched: u64,
    /// Events later than the allowed lateness (counted, listed, never dropped silently).
    pub late: u64,
    /// Correlation state evicted under a memory budget.
    pub evicted: u64,
    /// Findings produced.
    pub findings: u64,
    /// Why the run stopped before the end of its input (memory budget), if it did: the
    /// findings are those of the input read until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// 4104 script-block reassembly.
    #[serde(default)]
    pub script_blocks: ScriptBlockCounts,
    /// Events left out of matching by `--from`/`--to` (read and counted, not matched).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outside_range: u64,
    /// Findings below `--min-level`, not written (counted).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub below_min_level: u64,
}

impl RunSummary {
    /// Events per host whose local time had no known time zone, over all files.
    pub fn zone_less_hosts(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for file in &self.files {
            for (host, n) in &file.zone_less_hosts {
                *all.entry(host.clone()).or_default() += n;
            }
        }
        all
    }

    /// Total events over all files.
    pub fn events(&self) -> u64 {
        self.files.iter().map(|f| f.events).sum()
    }

    /// Records seen again (same identity) over all files, used once.
    pub fn duplicates(&self) -> u64 {
        self.files.iter().map(|f| f.duplicates).sum()
    }

    /// Cloud records that named no tenant and stayed unattributed, over all files.
    pub fn unattributed(&self) -> u64 {
        self.files.iter().map(|f| f.unattributed).sum()
    }

    /// Cloud records attributed to a tenant from the records delivered with them, by how.
    pub fn attributed(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for file in &self.files {
            for (k, n) in &file.attributed {
                *out.entry(k.clone()).or_default() += n;
            }
        }
        out
    }

    /// Events without an event time over all files (matched statelessly only).
    pub fn no_time(&self) -> u64 {
        self.files.iter().map(|f| f.no_time).sum()
    }

    /// Total skipped records over all files.
    pub fn skipped(&self) -> u64 {
        self.files.iter().map(FileSummary::error_count).sum()
    }

    /// Events per source kind over all files.
    pub fn by_source(&self) -> BTreeMap<SourceKind, u64> {
        let mut out = BTreeMap::new();
        for file in &self.files {
            for (k, n) in &file.by_source {
                *out.entry(*k).or_default() += n;
            }
        }
        out
    }

    /// Event time range over all files.
    pub fn time(&self) -> TimeRange {
        let mut range = TimeRange::default();
        for file in &self.files {
            range.merge(&file.time);
        }
        range
    }
}
