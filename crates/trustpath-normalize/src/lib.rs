//! The normalize stage: every [`RawRecord`] becomes an [`Event`].
//!
//! ```text
//! RawRecord { origin, format, fields } ──► Normalizer::push ──► Event { time, source, fields, …, keys: Default::default(),  }
//! ```
//!
//! * **Time** comes from the record, never from arrival ([`parse_time`] reads every shape
//!   the sources write); a cloud record without one is a [`RecordError`] naming the fields
//!   looked at. A Windows record without one (a flat export that dropped the System time
//!   and has no Sysmon `UtcTime`) is kept for the stateless rules, flagged
//!   [`norm::TIME_MISSING`](trustpath_event::norm::TIME_MISSING) with the Unix epoch as a
//!   placeholder time, and left out of correlations and analytics. `--time-field` ([`NormalizeOptions::time_field`]) is tried first for every format.
//!   A Windows record whose only time is a local time without a zone (NXLog `EventTime`)
//!   is placed in the host's zone ([`NormalizeOptions::host_time_zones`]) or kept, read as
//!   if UTC and flagged [`TIME_ZONE_MISSING`] — never silently taken as UTC.
//! * **Fields keep their original names**; values are normalized only where documented
//!   (string-typed numbers of known fields, JSON-in-string columns, Sentinel enum names);
//!   Sentinel renderings get the native API's names as aliases; Windows renderings are
//!   flattened to one layout ([`windows`](crate#windows-events)).
//! * **`tp.*` fields** ([`trustpath_event::norm`]) mean the same in every format: tenant,
//!   actor, actor tenant, IP ([`normalize_ip`]), operation, host, target, trustee, source
//!   and format. UPN-like values are lower-cased.
//! * **Tenant**: `tp.tenant` comes from the record's own tenant field; records that name
//!   none are attributed from the records delivered with them ([`TenantCensus`]), never
//!   across tenants' folders, or stay unattributed.
//! * **4104 script blocks** split over several events are reassembled into one event
//!   (see [`SCRIPT_BLOCK_PARTS`]); that is the only state a [`Normalizer`] keeps. Parts
//!   repeated with the same text are dropped and counted; parts that conflict (same number,
//!   different text: a forged part 1 sent first) are all kept, the block is emitted once
//!   per variant with [`SCRIPT_BLOCK_CONFLICT`] and counted. Pending parts are bounded by
//!   count and bytes, evictions counted. [`Normalizer::take_pending`] and
//!   [`Normalizer::push_event`] let the pipeline join parts across the files of one hunt.
//!
//! # Windows events
//!
//! EVTX, evtx_dump / chainsaw JSON, Winlogbeat, flat NXLog and Sentinel `WindowsEvent`
//! records all become: `EventID` (number), `Channel` (canonical case), `Provider_Name`,
//! `Provider_Guid`, `Computer`, `EventRecordID`, `Level`, `Task`, `Opcode`, `Keywords`,
//! `Version`, `TimeCreated`, `ProcessID`, `ThreadID`, `UserID`, every named EventData /
//! UserData field, and unnamed `<Data>` as the string array `Data`. An EventData name that
//! clashes with a System name is kept under its original path (`EventData.<Name>`).

mod entra;
mod fields;
mod generic;
mod ip;
mod localtime;
mod m365;
mod partner;
mod permission;
mod scriptblock;
mod tenant;
mod time;
mod windows;

/// An event with the given source and fields, for unit tests of the `tp.*` derivations.
#[cfg(test)]
pub(crate) fn test_event(
    source: trustpath_event::SourceKind,
    fields: serde_json::Value,
) -> trustpath_event::Event {
    trustpath_event::Event {
        time: jiff::Timestamp::UNIX_EPOCH,
        source,
        format: trustpath_event::Format::GenericJson,
        origin: trustpath_event::Origin::file("t"),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    }
}

pub use ip::normalize_ip;
pub use localtime::{HostTimeZones, TIME_LOCAL, TIME_ZONE, TIME_ZONE_MISSING};
pub use partner::{
    GDAP_APP_IDS, PARTNER_RELATIONSHIP, PARTNER_TENANT, add_partner_tenant, clear_partner_tenant,
};
pub use permission::{PERMISSION_CHANGE, PS_CMDLETS, add_permission_changes, is_unresolved};
pub use scriptblock::{
    MAX_VARIANTS, SCRIPT_BLOCK_CONFLICT, SCRIPT_BLOCK_INCOMPLETE, SCRIPT_BLOCK_ORIGINS,
    SCRIPT_BLOCK_PARTS, SCRIPT_BLOCK_VARIANT,
};
pub use tenant::{
    Attribution, TENANT_ATTRIBUTION, TENANT_KEY_MARKERS, TenantCensus, apply_attribution,
    names_tenant,
};
pub use time::parse_time;

use fields::Fields;
use jiff::Timestamp;
use scriptblock::ScriptBlocks;
use serde_json::Value;
use trustpath_event::{ErrorKind, Event, Format, Origin, RawRecord, RecordError, SourceKind, norm};

/// Default for [`NormalizeOptions::max_pending_script_blocks`].
pub const DEFAULT_MAX_PENDING_SCRIPT_BLOCKS: usize = 10_000;
/// Default for [`NormalizeOptions::max_pending_script_block_bytes`]: 256 MiB.
pub const DEFAULT_MAX_PENDING_SCRIPT_BLOCK_BYTES: usize = 256 << 20;

/// How records are normalized.
#[derive(Debug, Clone)]
pub struct NormalizeOptions {
    /// Field holding the event time (`--time-field`): a top-level key or a dotted object
    /// path. Tried first for every format; the format's usual fields are the fallback.
    pub time_field: Option<String>,
    /// Most multi-part 4104 script blocks waiting for their other parts at once; beyond
    /// that the oldest is emitted as incomplete. Default 10 000; 0 is read as 1.
    pub max_pending_script_blocks: usize,
    /// Time zones of hosts whose records carry only a zone-less local time (NXLog
    /// `EventTime`): such a time is placed in the host's zone, or kept as if UTC and
    /// flagged [`TIME_ZONE_MISSING`] when the host has none.
    pub host_time_zones: HostTimeZones,
    /// Most bytes of pending script-block parts (their text plus a fixed overhead per
    /// part); beyond that the oldest block is emitted as incomplete (counted as evicted).
    /// Default 256 MiB.
    pub max_pending_script_block_bytes: usize,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            time_field: None,
            max_pending_script_blocks: DEFAULT_MAX_PENDING_SCRIPT_BLOCKS,
            host_time_zones: HostTimeZones::default(),
            max_pending_script_block_bytes: DEFAULT_MAX_PENDING_SCRIPT_BLOCK_BYTES,
        }
    }
}

/// What a [`Normalizer`] did besides emitting events, for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeStats {
    /// Multi-part script blocks emitted as one event.
    pub script_blocks_reassembled: u64,
    /// Script blocks emitted part by part because parts were missing (at `finish`, or
    /// evicted when more than `max_pending_script_blocks` were waiting).
    pub script_blocks_incomplete: u64,
    /// Script-block parts ignored: duplicates (same text again), or numbered beyond the
    /// block's total.
    pub script_block_parts_ignored: u64,
    /// Script-block parts that conflict with another part of the same number (different
    /// text) or with the block's total; none is dropped (see the module docs).
    pub script_block_parts_conflicting: u64,
    /// Incomplete blocks emitted early because the pending count or bytes limit was
    /// reached (also counted in `script_blocks_incomplete`).
    pub script_blocks_evicted: u64,
}

impl NormalizeStats {
    /// Adds another normalizer's counts.
    pub fn add(&mut self, other: &NormalizeStats) {
        self.script_blocks_reassembled += other.script_blocks_reassembled;
        self.script_blocks_incomplete += other.script_blocks_incomplete;
        self.script_block_parts_ignored += other.script_block_parts_ignored;
        self.script_block_parts_conflicting += other.script_block_parts_conflicting;
        self.script_blocks_evicted += other.script_blocks_evicted;
    }
}

/// Normalizes one input stream. Holds the 4104 reassembly state, so use one per stream.
pub struct Normalizer {
    opts: NormalizeOptions,
    script_blocks: ScriptBlocks,
    stats: NormalizeStats,
}

impl Normalizer {
    /// A normalizer with the given options.
    pub fn new(opts: NormalizeOptions) -> Self {
        let script_blocks = ScriptBlocks::new(
            opts.max_pending_script_blocks,
            opts.max_pending_script_block_bytes,
        );
        Normalizer {
            opts,
            script_blocks,
            stats: NormalizeStats::default(),
        }
    }

    /// Normalize one record; may emit 0..n items (0 while a multi-part script block is
    /// pending, several when an evicted block is flushed).
    pub fn push(&mut self, raw: RawRecord, out: &mut Vec<Result<Event, RecordError>>) {
        let start = out.len();
        match normalize(raw, &self.opts) {
            Ok(event) if event.source == SourceKind::Windows => {
                self.script_blocks.push(event, out, &mut self.stats);
            }
            other => out.push(other),
        }
        enrich(&mut out[start..]);
    }

    /// End of stream: emits the parts of incomplete script blocks, each with
    /// `tp.script_block_incomplete: true`.
    pub fn finish(&mut self, out: &mut Vec<Result<Event, RecordError>>) {
        let start = out.len();
        self.script_blocks.finish(out, &mut self.stats);
        enrich(&mut out[start..]);
    }

    /// Takes the parts of every script block still waiting for other parts, instead of
    /// flushing them with [`finish`](Self::finish): hand them to another normalizer's
    /// [`push_event`](Self::push_event) to join parts spread over several inputs.
    pub fn take_pending(&mut self) -> Vec<Event> {
        self.script_blocks.take_pending()
    }

    /// Feeds an already normalized event (a part from [`take_pending`](Self::take_pending)
    /// of another normalizer) through script-block reassembly and enrichment.
    pub fn push_event(&mut self, event: Event, out: &mut Vec<Result<Event, RecordError>>) {
        let start = out.len();
        self.script_blocks.push(event, out, &mut self.stats);
        enrich(&mut out[start..]);
    }

    /// Bytes held by pending script-block parts.
    pub fn pending_bytes(&self) -> usize {
        self.script_blocks.pending_bytes()
    }

    /// Counters so far.
    pub fn stats(&self) -> &NormalizeStats {
        &self.stats
    }
}

/// Cross-format enrichment of finished events (after script blocks are whole):
/// `tp.permission_change` / `tp.ps_cmdlets` and `tp.partner_tenant`.
fn enrich(items: &mut [Result<Event, RecordError>]) {
    for event in items.iter_mut().flatten() {
        add_permission_changes(event);
        add_partner_tenant(event);
    }
}

/// Normalizes one record without script-block reassembly (stateless) and without the
/// cross-format enrichment that [`Normalizer`] adds.
pub fn normalize(raw: RawRecord, opts: &NormalizeOptions) -> Result<Event, RecordError> {
    let RawRecord {
        origin,
        format,
        fields: map,
    } = raw;
    let (mut fields, time) = normalize_fields(map, format, &origin, opts)?;
    fields.insert(
        norm::SOURCE.to_owned(),
        Value::String(format.source_kind().as_str().to_owned()),
    );
    fields.insert(
        norm::FORMAT.to_owned(),
        Value::String(format.as_str().to_owned()),
    );
    Ok(Event {
        time,
        source: format.source_kind(),
        format,
        origin,
        fields,
        keys: Default::default(),
    })
}

/// The per-format work: field layout, values, `tp.*`, and the event time.
fn normalize_fields(
    map: Fields,
    format: Format,
    origin: &Origin,
    opts: &NormalizeOptions,
) -> Result<(Fields, Timestamp), RecordError> {
    let mut map = match format {
        Format::PurviewCsv => m365::purview_audit_data(map, origin)?,
        f if f.source_kind() == SourceKind::Windows => windows::flatten(map, f),
        _ => map,
    };
    let windows = format.source_kind() == SourceKind::Windows;
    let (mut time, time_missing) = match event_time(&map, format, origin, opts) {
        Ok(time) => (time, false),
        // A host record without any time field still matches stateless rules: kept,
        // flagged, counted as "no event time", left out of correlations and analytics.
        Err(e) if windows && e.kind == ErrorKind::MissingField => {
            map.insert(norm::TIME_MISSING.to_owned(), Value::Bool(true));
            (Timestamp::UNIX_EPOCH, true)
        }
        Err(e) => return Err(e),
    };
    if windows && !time_missing {
        let mut tried: Vec<&str> = opts.time_field.iter().map(String::as_str).collect();
        tried.extend_from_slice(time_fields(format));
        time = localtime::place(&mut map, &tried, time, &opts.host_time_zones);
    }
    match format {
        Format::UalJson | Format::PurviewCsv | Format::SentinelOfficeActivity => {
            m365::normalize(&mut map, format);
        }
        Format::GraphSignIn | Format::SentinelSignIn => entra::normalize_signin(&mut map, format),
        Format::GraphDirectoryAudit | Format::SentinelAuditLogs => {
            entra::normalize_audit(&mut map, format);
        }
        Format::GenericJson => generic::add_norm_fields(&mut map),
        Format::SentinelWindowsEvent
        | Format::Evtx
        | Format::EvtxJson
        | Format::Winlogbeat
        | Format::FlatWindowsJson => {
            if !time_missing && !map.get("TimeCreated").is_some_and(Value::is_string) {
                map.insert("TimeCreated".to_owned(), Value::String(time.to_string()));
            }
            windows::add_norm_fields(&mut map);
        }
    }
    Ok((map, time))
}

/// The fields a format keeps its event time in, most precise first.
fn time_fields(format: Format) -> &'static [&'static str] {
    match format {
        Format::UalJson | Format::PurviewCsv => m365::UAL_TIME_FIELDS,
        Format::SentinelOfficeActivity => m365::OFFICE_ACTIVITY_TIME_FIELDS,
        Format::GraphSignIn => entra::GRAPH_SIGNIN_TIME_FIELDS,
        Format::SentinelSignIn => entra::SENTINEL_SIGNIN_TIME_FIELDS,
        Format::GraphDirectoryAudit => entra::GRAPH_AUDIT_TIME_FIELDS,
        Format::SentinelAuditLogs => entra::SENTINEL_AUDIT_TIME_FIELDS,
        Format::GenericJson => generic::TIME_FIELDS,
        windows_format => windows::time_fields(windows_format),
    }
}

fn event_time(
    map: &Fields,
    format: Format,
    origin: &Origin,
    opts: &NormalizeOptions,
) -> Result<Timestamp, RecordError> {
    let defaults = time_fields(format);
    let Some(field) = opts.time_field.as_deref() else {
        return time::find_time(map, defaults, origin);
    };
    if let Some(value) = dotted(map, field) {
        return parse_time(value).ok_or_else(|| {
            RecordError::new(
                origin.clone(),
                ErrorKind::Malformed,
                format!(
                    "time field `{field}` is not a timestamp: {}",
                    time::excerpt(value)
                ),
            )
        });
    }
    let mut all = Vec::with_capacity(defaults.len() + 1);
    all.push(field);
    all.extend_from_slice(defaults);
    time::find_time(map, &all, origin)
}

/// The value at a top-level key, else at a dotted object path.
fn dotted<'a>(map: &'a Fields, path: &str) -> Option<&'a Value> {
    if let Some(value) = map.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let mut value = map.get(segments.next()?)?;
    for segment in segments {
        value = value.as_object()?.get(segment)?;
    }
    Some(value)
}
