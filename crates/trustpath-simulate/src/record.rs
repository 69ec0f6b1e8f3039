//! A generated record in its family's canonical shape, before it is written out.
//!
//! Unified-audit, sign-in and directory-audit records are built as the JSON their
//! native API returns; Windows events as [`WinEvent`], rendered later as evtx_dump,
//! Winlogbeat or flat JSON.

use jiff::Timestamp;
use serde_json::{Map, Value};

/// The kind of log a record belongs to (what a format can carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Unified audit log (Management Activity API record).
    Ual,
    /// Entra sign-in (Graph `signIn`).
    SignIn,
    /// Entra directory audit (Graph `directoryAudit`).
    DirectoryAudit,
    /// Windows event.
    Windows,
}

impl Family {
    /// Human name used in errors and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ual => "unified audit log",
            Family::SignIn => "Entra sign-in",
            Family::DirectoryAudit => "Entra directory audit",
            Family::Windows => "Windows event",
        }
    }
}

/// A Windows event in neutral form.
#[derive(Debug, Clone, PartialEq)]
pub struct WinEvent {
    /// Computer name (FQDN).
    pub computer: String,
    /// Channel (`Security`, `Microsoft-Windows-PowerShell/Operational`, …).
    pub channel: String,
    /// Provider name.
    pub provider: String,
    /// Provider GUID (with braces), if the provider has one.
    pub provider_guid: Option<String>,
    /// Event id.
    pub event_id: u32,
    /// Event version.
    pub version: u32,
    /// Level.
    pub level: u32,
    /// Task.
    pub task: u32,
    /// Opcode.
    pub opcode: u32,
    /// Keywords (hex string).
    pub keywords: String,
    /// Record number; assigned per computer and channel when a data set is finalised.
    pub record_id: u64,
    /// `Execution ProcessID`.
    pub process_id: u32,
    /// `Execution ThreadID`.
    pub thread_id: u32,
    /// `Security UserID`, when the event carries one.
    pub user_sid: Option<String>,
    /// Named `EventData` values, in order.
    pub data: Vec<(String, Value)>,
}

/// The body of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Unified audit log record (Management Activity API JSON).
    Ual(Map<String, Value>),
    /// Graph `signIn`.
    SignIn(Map<String, Value>),
    /// Graph `directoryAudit`.
    DirectoryAudit(Map<String, Value>),
    /// Windows event.
    Windows(WinEvent),
}

/// One generated record: when, what, and which planted chain (if any) it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Event time.
    pub time: Timestamp,
    /// The attack step it implements (`AN1350 step 2: Add-MailboxPermission`), or empty.
    pub step: String,
    /// Index of the planted chain in the ground truth, if any.
    pub plant: Option<usize>,
    /// The record.
    pub body: Body,
}

impl Record {
    /// The family of the record.
    pub fn family(&self) -> Family {
        match self.body {
            Body::Ual(_) => Family::Ual,
            Body::SignIn(_) => Family::SignIn,
            Body::DirectoryAudit(_) => Family::DirectoryAudit,
            Body::Windows(_) => Family::Windows,
        }
    }

    /// The record's own identifier: UAL `Id`, Graph `id`, or
    /// `Computer/Channel/EventRecordID` for Windows events.
    pub fn ident(&self) -> String {
        let field = |m: &Map<String, Value>, k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match &self.body {
            Body::Ual(m) => field(m, "Id"),
            Body::SignIn(m) | Body::DirectoryAudit(m) => field(m, "id"),
            Body::Windows(w) => format!("{}/{}/{}", w.computer, w.channel, w.record_id),
        }
    }
}

/// UAL `CreationTime`: UTC without a `Z` (as real exports write it).
pub fn ual_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Graph / Sentinel time: UTC with `Z`.
pub fn iso_z(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// EVTX `SystemTime`: UTC with microseconds and `Z`.
pub fn evtx_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
