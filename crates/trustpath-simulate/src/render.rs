//! Writing records in the real export formats.
//!
//! Unified audit log: JSON Lines, Management-API JSON array, Purview "Audit (new)" CSV
//! (doubled quotes, CRLF, locale `CreationDate`), Sentinel `OfficeActivity` rows.
//! Sign-ins: Graph JSON array with a UTF-8 BOM (as PowerShell `ConvertTo-Json` writes
//! it), Sentinel `SigninLogs` rows. Directory audit: Graph JSON array with BOM, Sentinel
//! `AuditLogs` rows. Windows: evtx_dump JSONL, Winlogbeat JSONL, flat NXLog JSONL.

use crate::record::{Body, Family, Record};
use crate::windows::{to_evtx_dump, to_flat, to_winlogbeat};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::fmt;
use trustpath_event::ual::{LOGON_TYPES, USER_TYPES};

/// An output format: one real-world export shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutFormat {
    /// UAL records, one JSON object per line.
    UalJsonl,
    /// UAL records as one JSON array (Management Activity API content blob).
    UalJsonArray,
    /// Purview "Audit (new)" CSV export.
    PurviewCsv,
    /// Sentinel `OfficeActivity` rows (JSON Lines).
    SentinelOfficeActivity,
    /// Graph `signIn` objects: JSON array with a UTF-8 BOM.
    GraphSignInJson,
    /// Sentinel `SigninLogs` rows (JSON Lines).
    SentinelSigninLogs,
    /// Graph `directoryAudit` objects: JSON array with a UTF-8 BOM.
    GraphDirectoryAuditJson,
    /// Sentinel `AuditLogs` rows (JSON Lines).
    SentinelAuditLogs,
    /// `evtx_dump -o jsonl` output.
    EvtxDumpJsonl,
    /// Winlogbeat / Elastic Agent documents (JSON Lines).
    WinlogbeatJsonl,
    /// Flattened NXLog / HELK Windows JSON (JSON Lines).
    FlatWindowsJsonl,
}

impl OutFormat {
    /// Every format.
    pub const ALL: [OutFormat; 11] = [
        OutFormat::UalJsonl,
        OutFormat::UalJsonArray,
        OutFormat::PurviewCsv,
        OutFormat::SentinelOfficeActivity,
        OutFormat::GraphSignInJson,
        OutFormat::SentinelSigninLogs,
        OutFormat::GraphDirectoryAuditJson,
        OutFormat::SentinelAuditLogs,
        OutFormat::EvtxDumpJsonl,
        OutFormat::WinlogbeatJsonl,
        OutFormat::FlatWindowsJsonl,
    ];

    /// The family of records this format carries.
    pub fn family(self) -> Family {
        match self {
            OutFormat::UalJsonl
            | OutFormat::UalJsonArray
            | OutFormat::PurviewCsv
            | OutFormat::SentinelOfficeActivity => Family::Ual,
            OutFormat::GraphSignInJson | OutFormat::SentinelSigninLogs => Family::SignIn,
            OutFormat::GraphDirectoryAuditJson | OutFormat::SentinelAuditLogs => {
                Family::DirectoryAudit
            }
            OutFormat::EvtxDumpJsonl | OutFormat::WinlogbeatJsonl | OutFormat::FlatWindowsJsonl => {
                Family::Windows
            }
        }
    }

    /// The kebab-case name used on the command line (`ual-jsonl`).
    pub fn name(self) -> &'static str {
        match self {
            OutFormat::UalJsonl => "ual-jsonl",
            OutFormat::UalJsonArray => "ual-json-array",
            OutFormat::PurviewCsv => "purview-csv",
            OutFormat::SentinelOfficeActivity => "sentinel-office-activity",
            OutFormat::GraphSignInJson => "graph-signin-json",
            OutFormat::SentinelSigninLogs => "sentinel-signinlogs",
            OutFormat::GraphDirectoryAuditJson => "graph-directory-audit-json",
            OutFormat::SentinelAuditLogs => "sentinel-auditlogs",
            OutFormat::EvtxDumpJsonl => "evtx-dump-jsonl",
            OutFormat::WinlogbeatJsonl => "winlogbeat-jsonl",
            OutFormat::FlatWindowsJsonl => "flat-windows-jsonl",
        }
    }

    /// Parses a [`OutFormat::name`].
    pub fn from_name(name: &str) -> Option<OutFormat> {
        OutFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for OutFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes the records of `format`'s family (others are skipped) in that format.
/// `tenant_id` fills the Sentinel workspace `TenantId` / `AADTenantId` columns.
pub fn render(records: &[&Record], format: OutFormat, tenant_id: &str) -> Vec<u8> {
    let family = format.family();
    let records: Vec<&Record> = records
        .iter()
        .copied()
        .filter(|r| r.family() == family)
        .collect();
    match format {
        OutFormat::UalJsonl => jsonl(records.iter().map(|r| body_json(r))),
        OutFormat::UalJsonArray => {
            let values: Vec<Value> = records.iter().map(|r| body_json(r)).collect();
            serde_json::to_vec(&values).unwrap_or_default()
        }
        OutFormat::PurviewCsv => purview_csv(&records),
        OutFormat::SentinelOfficeActivity => jsonl(
            records
                .iter()
                .map(|r| sentinel_office(&body_json(r), tenant_id)),
        ),
        OutFormat::GraphSignInJson | OutFormat::GraphDirectoryAuditJson => {
            bom_array(records.iter().map(|r| body_json(r)).collect())
        }
        OutFormat::SentinelSigninLogs => jsonl(
            records
                .iter()
                .map(|r| sentinel_signin(&body_json(r), tenant_id)),
        ),
        OutFormat::SentinelAuditLogs => jsonl(
            records
                .iter()
                .map(|r| sentinel_audit(&body_json(r), tenant_id)),
        ),
        OutFormat::EvtxDumpJsonl => jsonl(records.iter().filter_map(|r| win(r, to_evtx_dump))),
        OutFormat::WinlogbeatJsonl => jsonl(records.iter().filter_map(|r| win(r, to_winlogbeat))),
        OutFormat::FlatWindowsJsonl => jsonl(records.iter().filter_map(|r| win(r, to_flat))),
    }
}

fn win(r: &Record, f: fn(&crate::record::WinEvent, jiff::Timestamp) -> Value) -> Option<Value> {
    match &r.body {
        Body::Windows(w) => Some(f(w, r.time)),
        _ => None,
    }
}

fn body_json(r: &Record) -> Value {
    match &r.body {
        Body::Ual(m) | Body::SignIn(m) | Body::DirectoryAudit(m) => Value::Object(m.clone()),
        Body::Windows(w) => to_evtx_dump(w, r.time),
    }
}

fn jsonl(values: impl Iterator<Item = Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        if serde_json::to_writer(&mut out, &v).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// PowerShell-style pretty JSON array (4-space indent) preceded by a UTF-8 BOM.
fn bom_array(values: Vec<Value>) -> Vec<u8> {
    let mut out = BOM.to_vec();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    let _ = Value::Array(values).serialize(&mut ser);
    out.extend_from_slice(b"\r\n");
    out
}

/// `9/20/2023 4:05:03 AM`: the en-US `CreationDate` of Purview exports.
fn us_locale(t: jiff::Timestamp) -> String {
    let dt = t.to_zoned(jiff::tz::TimeZone::UTC);
    let hour12 = match dt.hour() % 12 {
        0 => 12,
        h => h,
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        dt.month(),
        dt.day(),
        dt.year(),
        hour12,
        dt.minute(),
        dt.second(),
        if dt.hour() < 12 { "AM" } else { "PM" }
    )
}

fn purview_csv(records: &[&Record]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let header = [
        "RecordId",
        "CreationDate",
        "RecordType",
        "Operation",
        "UserId",
        "AuditData",
        "AssociatedAdminUnits",
        "AssociatedAdminUnitsNames",
    ];
    let _ = writer.write_record(header);
    for r in records {
        let v = body_json(r);
        let field = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let row = [
            field("Id"),
            us_locale(r.time),
            field("RecordType"),
            field("Operation"),
            field("UserId"),
            v.to_string(),
            String::new(),
            String::new(),
        ];
        let _ = writer.write_record(&row);
    }
    writer.into_inner().unwrap_or_default()
}

fn enum_name(v: &Value, names: &[&str]) -> Value {
    let name = v
        .as_u64()
        .and_then(|n| names.get(usize::try_from(n).ok()?))
        .map(|s| s.to_string());
    json!(name.unwrap_or_else(|| sentinel_scalar(v)))
}

/// Sentinel stores most OfficeActivity columns as strings; dynamic ones as JSON text.
fn sentinel_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn sentinel_office(v: &Value, tenant_id: &str) -> Value {
    let mut out = Map::new();
    out.insert("TenantId".into(), json!(tenant_id));
    let Some(obj) = v.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in obj {
        let (name, value) = match key.as_str() {
            "CreationTime" => (
                "TimeGenerated".to_string(),
                json!(format!("{}Z", sentinel_scalar(value))),
            ),
            "Id" => ("OfficeId".into(), value.clone()),
            "Workload" => ("OfficeWorkload".into(), value.clone()),
            "ObjectId" => ("OfficeObjectId".into(), value.clone()),
            "ClientIPAddress" => ("Client_IPAddress".into(), value.clone()),
            "LogonType" => ("Logon_Type".into(), enum_name(value, &LOGON_TYPES)),
            "UserType" => ("UserType".into(), enum_name(value, &USER_TYPES)),
            _ => (key.clone(), json!(sentinel_scalar(value))),
        };
        out.insert(name, value);
    }
    if let Some(id) = obj.get("Id") {
        out.insert("SourceRecordId".into(), id.clone());
    }
    out.insert("Type".into(), json!("OfficeActivity"));
    Value::Object(out)
}

fn pascal(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn sentinel_signin(v: &Value, tenant_id: &str) -> Value {
    let mut out = Map::new();
    out.insert("TenantId".into(), json!(tenant_id));
    out.insert("SourceSystem".into(), json!("Azure AD"));
    let Some(obj) = v.as_object() else {
        return Value::Object(out);
    };
    if let Some(t) = obj.get("createdDateTime") {
        out.insert("TimeGenerated".into(), t.clone());
    }
    let interactive = obj
        .get("isInteractive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    out.insert("OperationName".into(), json!("Sign-in activity"));
    out.insert(
        "Category".into(),
        json!(if interactive {
            "SignInLogs"
        } else {
            "NonInteractiveUserSignInLogs"
        }),
    );
    let code = obj
        .get("status")
        .and_then(|st| st.get("errorCode"))
        .map(sentinel_scalar)
        .unwrap_or_default();
    out.insert("ResultType".into(), json!(code));
    for (key, value) in obj {
        let name = match key.as_str() {
            "id" => "Id".to_string(),
            "ipAddress" => "IPAddress".into(),
            "location" => "LocationDetails".into(),
            "resourceId" => "ResourceIdentity".into(),
            "userType" => {
                out.insert("UserType".into(), json!(pascal(&sentinel_scalar(value))));
                continue;
            }
            other => pascal(other),
        };
        let value = match value {
            Value::Object(_) | Value::Array(_) => json!(value.to_string()),
            Value::Number(n) => json!(n.to_string()),
            _ => value.clone(),
        };
        out.insert(name, value);
    }
    out.insert(
        "Type".into(),
        json!(if interactive {
            "SigninLogs"
        } else {
            "AADNonInteractiveUserSignInLogs"
        }),
    );
    Value::Object(out)
}

fn sentinel_audit(v: &Value, tenant_id: &str) -> Value {
    let get = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let text = |k: &str| json!(get(k).to_string());
    json!({
        "TenantId": tenant_id,
        "SourceSystem": "Azure AD",
        "TimeGenerated": get("activityDateTime"),
        "ResourceId": "/tenants/".to_string() + tenant_id + "/providers/Microsoft.aadiam",
        "OperationName": get("activityDisplayName"),
        "OperationVersion": "1.0",
        "Category": get("category"),
        "ResultSignature": "None",
        "Result": get("result"),
        "ResultReason": get("resultReason"),
        "DurationMs": 0,
        "CorrelationId": get("correlationId"),
        "Resource": "Microsoft.aadiam",
        "ResourceGroup": "Microsoft.aadiam",
        "Identity": identity(v),
        "Level": 4,
        "AdditionalDetails": text("additionalDetails"),
        "Id": get("id"),
        "InitiatedBy": text("initiatedBy"),
        "LoggedByService": get("loggedByService"),
        "TargetResources": text("targetResources"),
        "AADTenantId": tenant_id,
        "ActivityDisplayName": get("activityDisplayName"),
        "ActivityDateTime": get("activityDateTime"),
        "AADOperationType": get("operationType"),
        "Type": "AuditLogs"
    })
}

fn identity(v: &Value) -> Value {
    v.pointer("/initiatedBy/user/userPrincipalName")
        .filter(|u| !u.is_null())
        .or_else(|| v.pointer("/initiatedBy/app/displayName"))
        .cloned()
        .unwrap_or(Value::Null)
}
