//! The data model every trustpath stage shares.
//!
//! ```text
//! read ──► RawRecord ──► normalize ──► Event ──► detect ──► report
//! ```
//!
//! * [`RawRecord`]: one record exactly as a reader found it (a JSON object's fields), with its
//!   [`Origin`] (file, line, byte offset, record number) and the [`Format`] that was sniffed.
//! * [`Event`]: a normalized record: event time, [`SourceKind`], and a field map in which the
//!   original field names stay addressable, plus the normalized `tp.*` fields
//!   ([`norm`] lists them) that rules can use across formats.
//! * [`RecordError`]: a record that could not be read or normalized, with where and why.
//!   Bad input is never dropped silently: every stage returns or counts these.
//!
//! Field lookup ([`Event::get`], [`Event::for_each_value`]) is what rules see: an exact key
//! first, then a dotted path through objects, arrays (fan-out) and Name/Value bags
//! (`Parameters.Identity` reads `{"Name":"Identity","Value":…}` out of the `Parameters` list).

pub mod identity;
mod keys;
mod lookup;
mod origin;
mod permission;
mod summary;
pub mod ual;

pub use identity::{record_digest, record_key, scoped_digest};
pub use keys::{Keys, KeysCell};
pub use lookup::fan_out;
pub use origin::Origin;
pub use permission::{Params, PermissionAction, PermissionChange};
pub use summary::{FileSummary, RunSummary, ScriptBlockCounts, TimeRange};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Names of the normalized fields that normalization adds to every event where it can.
///
/// They are plain keys of [`Event::fields`], so rules address them like any other field
/// (`tp.actor|endswith: '@contoso.com'`).
pub mod norm {
    /// Customer tenant id the record belongs to (lower-case GUID).
    pub const TENANT: &str = "tp.tenant";
    /// Acting user or principal (UPN lower-cased, or `DOMAIN\user`, or an app id).
    pub const ACTOR: &str = "tp.actor";
    /// Home tenant of the actor when the record says it (partner / guest tenant).
    pub const ACTOR_TENANT: &str = "tp.actor_tenant";
    /// Client IP address, without port, brackets or `::ffff:` prefix.
    pub const IP: &str = "tp.ip";
    /// Operation / activity / cmdlet name as the source names it.
    pub const OPERATION: &str = "tp.operation";
    /// Host name for Windows events.
    pub const HOST: &str = "tp.host";
    /// Mailbox or object the operation targets (lower-cased where it is an address).
    pub const TARGET: &str = "tp.target";
    /// Principal that receives a permission (trustee / delegate / user), lower-cased.
    pub const TRUSTEE: &str = "tp.trustee";
    /// The format the record was read from ([`super::Format`] as a string).
    pub const FORMAT: &str = "tp.format";
    /// The source kind ([`super::SourceKind`] as a string).
    pub const SOURCE: &str = "tp.source";
    /// Mailbox permission changes: a list of [`super::PermissionChange`] objects.
    pub const PERMISSION_CHANGE: &str = "tp.permission_change";
    /// Every cmdlet name found in host PowerShell text.
    pub const PS_CMDLETS: &str = "tp.ps_cmdlets";
    /// The partner (service-provider) tenant a record names (lower-case GUID).
    pub const PARTNER_TENANT: &str = "tp.partner_tenant";
    /// True on a DAP/GDAP relationship change that names the partner.
    pub const PARTNER_RELATIONSHIP: &str = "tp.partner_relationship";
    /// How the tenant of a record naming none was decided.
    pub const TENANT_ATTRIBUTION: &str = "tp.tenant_attribution";
    /// The IANA zone a zone-less local time was placed in (`[host_timezones]`).
    pub const TIME_ZONE: &str = "tp.time_zone";
    /// The zone-less local time as written.
    pub const TIME_LOCAL: &str = "tp.time_local";
    /// True when a zone-less local time was read as UTC for want of a zone.
    pub const TIME_ZONE_MISSING: &str = "tp.time_zone_missing";
    /// 4104 reassembly: how many parts the script block had.
    pub const SCRIPT_BLOCK_PARTS: &str = "tp.script_block_parts";
    /// 4104 reassembly: where the parts came from.
    pub const SCRIPT_BLOCK_ORIGINS: &str = "tp.script_block_origins";
    /// 4104 reassembly: parts were missing.
    pub const SCRIPT_BLOCK_INCOMPLETE: &str = "tp.script_block_incomplete";
    /// 4104 reassembly: two different texts claimed the same part.
    pub const SCRIPT_BLOCK_CONFLICT: &str = "tp.script_block_conflict";
    /// 4104 reassembly: which variant of a conflicting script block this is.
    pub const SCRIPT_BLOCK_VARIANT: &str = "tp.script_block_variant";
    /// `true` on a record that carries no event time in any field its format keeps one
    /// in: it is matched by stateless rules (its [`super::Event::time`] is the Unix epoch,
    /// a placeholder), counted as "no event time", and left out of correlations and
    /// analytics, which need a time.
    pub const TIME_MISSING: &str = "tp.time_missing";
}

/// What kind of log a record is, independent of how it was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Microsoft 365 unified audit log record (any workload: Exchange, Entra, SharePoint …).
    M365Audit,
    /// Entra ID sign-in (interactive, non-interactive, service principal, managed identity).
    #[serde(rename = "entra_signin")]
    EntraSignIn,
    /// Entra ID directory audit (`directoryAudit`, Sentinel `AuditLogs`).
    EntraAudit,
    /// A Windows event log record (any channel).
    Windows,
    /// Any other JSON event.
    Generic,
}

impl SourceKind {
    /// Every source kind, in display order.
    pub const ALL: [SourceKind; 5] = [
        SourceKind::M365Audit,
        SourceKind::EntraSignIn,
        SourceKind::EntraAudit,
        SourceKind::Windows,
        SourceKind::Generic,
    ];

    /// The stable snake_case name used in output and in rule log sources.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::M365Audit => "m365_audit",
            SourceKind::EntraSignIn => "entra_signin",
            SourceKind::EntraAudit => "entra_audit",
            SourceKind::Windows => "windows",
            SourceKind::Generic => "generic",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a record was encoded in its file: what the reader sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Unified audit log records as JSON (array, JSON Lines, Management Activity API blob).
    UalJson,
    /// Purview / `Search-UnifiedAuditLog` CSV export with an `AuditData` column.
    PurviewCsv,
    /// Microsoft Graph `signIn` objects.
    GraphSignIn,
    /// Microsoft Graph `directoryAudit` objects.
    GraphDirectoryAudit,
    /// Sentinel / Log Analytics `OfficeActivity` rows.
    SentinelOfficeActivity,
    /// Sentinel `SigninLogs` or `AADNonInteractiveUserSignInLogs` rows.
    SentinelSignIn,
    /// Sentinel `AuditLogs` rows.
    SentinelAuditLogs,
    /// Sentinel `WindowsEvent` / `SecurityEvent` rows.
    SentinelWindowsEvent,
    /// Binary Windows EVTX read with the `evtx` crate.
    Evtx,
    /// EVTX rendered to JSON by `evtx_dump` / chainsaw (`Event.System…`, `Event.EventData…`).
    EvtxJson,
    /// Winlogbeat / Elastic Agent ECS documents (`winlog.*`).
    Winlogbeat,
    /// Flattened NXLog / HELK ("Mordor") Windows JSON.
    FlatWindowsJson,
    /// Any other JSON object.
    GenericJson,
}

impl Format {
    /// The stable snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::UalJson => "ual_json",
            Format::PurviewCsv => "purview_csv",
            Format::GraphSignIn => "graph_signin",
            Format::GraphDirectoryAudit => "graph_directory_audit",
            Format::SentinelOfficeActivity => "sentinel_office_activity",
            Format::SentinelSignIn => "sentinel_signin",
            Format::SentinelAuditLogs => "sentinel_audit_logs",
            Format::SentinelWindowsEvent => "sentinel_windows_event",
            Format::Evtx => "evtx",
            Format::EvtxJson => "evtx_json",
            Format::Winlogbeat => "winlogbeat",
            Format::FlatWindowsJson => "flat_windows_json",
            Format::GenericJson => "generic_json",
        }
    }

    /// The source kind records of this format normally are.
    pub fn source_kind(self) -> SourceKind {
        match self {
            Format::UalJson | Format::PurviewCsv | Format::SentinelOfficeActivity => {
                SourceKind::M365Audit
            }
            Format::GraphSignIn | Format::SentinelSignIn => SourceKind::EntraSignIn,
            Format::GraphDirectoryAudit | Format::SentinelAuditLogs => SourceKind::EntraAudit,
            Format::SentinelWindowsEvent
            | Format::Evtx
            | Format::EvtxJson
            | Format::Winlogbeat
            | Format::FlatWindowsJson => SourceKind::Windows,
            Format::GenericJson => SourceKind::Generic,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record as a reader produced it, before normalization.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Where the record is in its input.
    pub origin: Origin,
    /// What the reader sniffed the record (or its file) to be.
    pub format: Format,
    /// The record's fields (a JSON object's; a CSV row's keyed by header name).
    pub fields: Fields,
}

/// A record's top-level fields, from the reader through to the event: in the record's
/// order (findings and exports keep it), hashed with foldhash instead of `serde_json`'s
/// SipHash (a hunt hashes about forty keys an event; the switch cut a 100k-event Sigma
/// hunt's CPU by about 7 %). foldhash seeds every map differently, so keys crafted in a
/// log cannot be made to collide without the seed, and a record's size is bounded by the
/// reader's limit. Values, and objects nested in them, are `serde_json`'s.
pub type Fields = indexmap::IndexMap<String, Value, foldhash::fast::RandomState>;

/// What is read the same way from an event's top-level [`Fields`] and from the JSON
/// objects nested in their values (field lookup, format classification).
pub trait FieldMap {
    /// The value at `key` (exact).
    fn field(&self, key: &str) -> Option<&Value>;
    /// Whether `key` is present (exact).
    fn has(&self, key: &str) -> bool {
        self.field(key).is_some()
    }
    /// Every key and value, in order.
    fn entries(&self) -> impl Iterator<Item = (&String, &Value)>;
}

impl FieldMap for Fields {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
    fn entries(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.iter()
    }
}

impl FieldMap for serde_json::Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
    fn entries(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.iter()
    }
}

/// The fields of `value` if it is a JSON object, else none (fixtures, tests, tools).
pub fn fields_from(value: Value) -> Fields {
    match value {
        Value::Object(map) => to_fields(map),
        _ => Fields::default(),
    }
}

/// Empty [`Fields`] with room for `n` entries.
pub fn fields_with_capacity(n: usize) -> Fields {
    Fields::with_capacity_and_hasher(n, Default::default())
}

/// `map`'s entries as [`Fields`] (for an object that becomes an event's fields).
pub fn to_fields(map: serde_json::Map<String, Value>) -> Fields {
    let mut fields = fields_with_capacity(map.len());
    fields.extend(map);
    fields
}

/// A normalized event: what rules match and findings cite as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event time (UTC), from the record itself, never from arrival.
    pub time: Timestamp,
    /// What kind of log this is.
    pub source: SourceKind,
    /// How it was encoded.
    pub format: Format,
    /// Where it came from.
    pub origin: Origin,
    /// Original fields (values normalized where documented) plus the `tp.*` fields.
    #[serde(deserialize_with = "sized_map")]
    pub fields: Fields,
    /// [`Keys`] of `fields`, computed on first use ([`Event::keys`]); a clone starts empty.
    #[serde(skip)]
    pub keys: KeysCell,
}

/// `fields` read back (from the hunt's spool): sized from the length the format gives
/// (MessagePack does), not grown entry by entry; each growth re-hashes every key.
fn sized_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
    d.deserialize_map(SizedMap(0))
}

/// Deserializes a map of fields into [`Fields`] made with room for `.0` entries, or for
/// the length the format gives (MessagePack does; at most 4096 taken from it), whichever
/// is more, instead of growing it entry by entry (each growth re-hashes every key). A
/// key seen twice keeps its last value at its first position, as `serde_json::Value`
/// does.
pub struct SizedMap(pub usize);

impl<'de> serde::de::Visitor<'de> for SizedMap {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of fields")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let room = map.size_hint().unwrap_or(0).min(4096).max(self.0);
        let mut fields = fields_with_capacity(room);
        while let Some((key, value)) = map.next_entry()? {
            fields.insert(key, value);
        }
        Ok(fields)
    }
}

impl RawRecord {
    /// The record's fields as one JSON object (a copy: for tests and tools).
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

impl Event {
    /// A normalized field as a string, if present and a string.
    pub fn norm_str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// Customer tenant id ([`norm::TENANT`]).
    pub fn tenant(&self) -> Option<&str> {
        self.norm_str(norm::TENANT)
    }

    /// Acting principal ([`norm::ACTOR`]).
    pub fn actor(&self) -> Option<&str> {
        self.norm_str(norm::ACTOR)
    }

    /// Client IP ([`norm::IP`]).
    pub fn ip(&self) -> Option<&str> {
        self.norm_str(norm::IP)
    }

    /// Operation name ([`norm::OPERATION`]).
    pub fn operation(&self) -> Option<&str> {
        self.norm_str(norm::OPERATION)
    }

    /// Whether the record had no event time ([`norm::TIME_MISSING`]): its `time` is a
    /// placeholder, so it takes no part in anything ordered by time.
    pub fn time_missing(&self) -> bool {
        self.fields
            .get(norm::TIME_MISSING)
            .is_some_and(|v| v.as_bool() == Some(true))
    }

    /// The keys correlation reads on every run (tenant, actor, IP, failure …), computed
    /// on the first call and kept with the event ([`keys`](crate::Keys)). Change an event
    /// only before detection reads it, or change a clone.
    pub fn keys(&self) -> &Keys {
        self.keys.get_or_init(self)
    }

    /// The identity of the record this event came from ([`identity`]): its own id, else
    /// a content hash; never its origin.
    pub fn record_key(&self) -> String {
        self.record_key_str().to_owned()
    }

    /// [`Event::record_key`], computed on the first call and kept with the event (like
    /// [`Event::keys`]: change an event only before its key is read, or change a clone).
    pub fn record_key_str(&self) -> &str {
        self.keys.record_key(self)
    }

    /// The first value at `path` (see the crate docs for the lookup rules).
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut found = None;
        self.for_each_value(path, &mut |v| {
            if found.is_none() {
                found = Some(v);
            }
        });
        found
    }

    /// Calls `f` with every value at `path`; arrays on the way fan out.
    ///
    /// Returns whether the field exists at all (even if its value is `null`).
    pub fn for_each_value<'a>(&'a self, path: &str, f: &mut dyn FnMut(&'a Value)) -> bool {
        lookup::for_each_value(&self.fields, path, f)
    }

    /// The JSON document `trustpath normalize` prints for this event.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "time": self.time.to_string(),
            "source": self.source.as_str(),
            "format": self.format.as_str(),
            "origin": self.origin,
            "fields": self.fields,
        })
    }
}

/// Why a record could not be read or normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Could not open or read the input.
    Io,
    /// Syntax error (JSON, CSV, EVTX structure).
    Malformed,
    /// The input ended in the middle of a record.
    Truncated,
    /// Bytes that are not valid UTF-8 (or the declared encoding).
    Encoding,
    /// A record larger than the configured limit.
    TooLarge,
    /// Nesting deeper than the configured limit.
    TooDeep,
    /// The record lacks something required (e.g. a timestamp, a CSV column).
    MissingField,
    /// A format or feature trustpath does not read.
    Unsupported,
    /// An event later than the allowed lateness (correlation).
    Late,
    /// State evicted because a memory budget was reached (correlation).
    Evicted,
}

impl ErrorKind {
    /// The stable snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Encoding => "encoding",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Late => "late",
            ErrorKind::Evicted => "evicted",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record that was skipped, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{origin}: {kind}: {reason}")]
pub struct RecordError {
    /// Where the bad record is.
    pub origin: Origin,
    /// The class of problem.
    pub kind: ErrorKind,
    /// A specific, human-readable reason.
    pub reason: String,
}

impl RecordError {
    /// A new error.
    pub fn new(origin: Origin, kind: ErrorKind, reason: impl Into<String>) -> Self {
        RecordError {
            origin,
            kind,
            reason: reason.into(),
        }
    }
}
