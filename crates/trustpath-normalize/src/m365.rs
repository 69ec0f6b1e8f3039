//! Unified audit log records: Management Activity API JSON, Purview CSV rows and
//! Sentinel `OfficeActivity` rows, all to the API's field names and value types.
//!
//! * Sentinel columns are aliased to the UAL names (`Client_IPAddress` → `ClientIPAddress`,
//!   `Logon_Type` → `LogonType`, `OfficeWorkload` → `Workload`, `OfficeId` → `Id`,
//!   `OfficeObjectId` → `ObjectId`, `OfficeTenantId`/`TenantId` → `OrganizationId`); the
//!   Sentinel names stay too.
//! * JSON-in-string columns are parsed; `RecordType`, `UserType`, `LogonType`,
//!   `InternalLogonType`, `AzureActiveDirectoryEventType` become numbers (Sentinel's enum
//!   names such as `Regular` or `Owner` map to the documented numbers); `ExternalAccess`
//!   `"True"`/`"False"` becomes a boolean; `OriginatingServer` loses its trailing `\r\n`.
//! * `tp.*`: tenant, actor, actor tenant, IP, operation, target mailbox/object, trustee.

use crate::fields::{
    Fields, alias, bag_value, first_text, non_blank, number_in_string, numberize,
    parse_json_strings, path_text, set_first_ip, set_norm_as_is, text, to_fields,
};
use serde_json::Value;
use trustpath_event::ual::{LOGON_TYPES, USER_TYPES};
use trustpath_event::{ErrorKind, Format, Origin, RecordError, norm};

/// Time fields, most precise first.
pub(crate) const UAL_TIME_FIELDS: &[&str] = &["CreationTime"];
/// Sentinel `OfficeActivity`: the record's own time if exported, else ingestion time.
pub(crate) const OFFICE_ACTIVITY_TIME_FIELDS: &[&str] = &[
    "CreationTime",
    "TimeGenerated",
    "TimeGenerated [UTC]",
    "Start_Time",
];

/// Fields that carry a number in the API and a string in some exports.
const NUMBER_FIELDS: [&str; 2] = ["RecordType", "AzureActiveDirectoryEventType"];

/// The UAL record inside a Purview CSV row: the `AuditData` column (text or already parsed).
///
/// A row without `AuditData` that looks like a UAL record itself (an `-AuditDataOnly`
/// export) is used as is.
pub(crate) fn purview_audit_data(mut row: Fields, origin: &Origin) -> Result<Fields, RecordError> {
    match row.shift_remove("AuditData") {
        Some(Value::Object(map)) => Ok(to_fields(map)),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(to_fields(map)),
            Ok(other) => Err(RecordError::new(
                origin.clone(),
                ErrorKind::Malformed,
                format!(
                    "AuditData column holds JSON {} instead of an object",
                    json_type(&other)
                ),
            )),
            Err(e) => Err(RecordError::new(
                origin.clone(),
                ErrorKind::Malformed,
                format!("AuditData column is not valid JSON: {e}"),
            )),
        },
        Some(other) => Err(RecordError::new(
            origin.clone(),
            ErrorKind::Malformed,
            format!(
                "AuditData column holds {} instead of a JSON object",
                json_type(&other)
            ),
        )),
        None if row.contains_key("CreationTime") && row.contains_key("Operation") => Ok(row),
        None => Err(RecordError::new(
            origin.clone(),
            ErrorKind::MissingField,
            "Purview CSV row has no AuditData column",
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Normalizes a UAL record's values in place and adds its `tp.*` fields.
pub(crate) fn normalize(map: &mut Fields, format: Format) {
    parse_json_strings(map);
    if format == Format::SentinelOfficeActivity {
        add_sentinel_aliases(map);
    }
    normalize_values(map);
    add_norm_fields(map);
}

fn add_sentinel_aliases(map: &mut Fields) {
    alias(map, "Client_IPAddress", "ClientIPAddress");
    alias(map, "Logon_Type", "LogonType");
    alias(map, "OfficeWorkload", "Workload");
    alias(map, "OfficeId", "Id");
    alias(map, "OfficeObjectId", "ObjectId");
    if text(map, "OrganizationId").is_none()
        && let Some(tenant) = first_text(map, crate::tenant::SENTINEL_UAL_TENANT_KEYS)
    {
        let tenant = Value::String(tenant.to_owned());
        map.insert("OrganizationId".to_owned(), tenant);
    }
}

fn normalize_values(map: &mut Fields) {
    for key in NUMBER_FIELDS {
        numberize(map, key);
    }
    enum_number(map, "UserType", &USER_TYPES);
    enum_number(map, "LogonType", &LOGON_TYPES);
    enum_number(map, "InternalLogonType", &LOGON_TYPES);
    if let Some(value) = map.get_mut("ExternalAccess")
        && let Some(flag) = bool_in_string(value)
    {
        *value = Value::Bool(flag);
    }
    if let Some(Value::String(server)) = map.get_mut("OriginatingServer") {
        let trimmed = server.trim_end().len();
        server.truncate(trimmed);
    }
}

/// Numeric strings and enum names (case-insensitive) at `key` become the enum's number.
fn enum_number(map: &mut Fields, key: &str, names: &[&str]) {
    let Some(value) = map.get_mut(key) else {
        return;
    };
    if let Some(number) = number_in_string(value) {
        *value = number;
    } else if let Some(name) = value.as_str()
        && let Some(index) = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name.trim()))
    {
        *value = Value::from(index);
    }
}

fn bool_in_string(value: &Value) -> Option<bool> {
    let s = value.as_str()?.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn add_norm_fields(map: &mut Fields) {
    let tenant = first_text(map, crate::tenant::UAL_TENANT_KEYS).map(str::to_lowercase);
    let actor = text(map, "UserId").map(str::to_lowercase);
    let actor_tenant = first_text(
        map,
        &["ActorContextId", "TokenTenantId", "ExternalUserTenantId"],
    )
    .map(str::to_lowercase);
    let operation = text(map, "Operation").map(str::to_owned);
    let parameters = map.get("Parameters");
    let target = target(map, parameters).map(str::to_lowercase);
    let trustee = trustee(map, parameters).map(str::to_lowercase);
    set_first_ip(
        map,
        &[
            "ClientIP",
            "ClientIPAddress",
            "ActorIpAddress",
            "Client_IPAddress",
        ],
    );
    for (key, value) in [
        (norm::TENANT, tenant),
        (norm::ACTOR, actor),
        (norm::ACTOR_TENANT, actor_tenant),
        (norm::TARGET, target),
        (norm::TRUSTEE, trustee),
        (norm::OPERATION, operation),
    ] {
        if let Some(value) = value {
            set_norm_as_is(map, key, value);
        }
    }
}

/// `Parameters.Identity` | `MailboxOwnerUPN` | `ObjectId`.
fn target<'a>(map: &'a Fields, parameters: Option<&'a Value>) -> Option<&'a str> {
    parameter(parameters, "Identity").or_else(|| first_text(map, &["MailboxOwnerUPN", "ObjectId"]))
}

/// `Parameters.User` | `.Trustee` | `.GrantSendOnBehalfTo` | `Item.ParentFolder.MemberUpn` |
/// `Parameters.Delegate`.
fn trustee<'a>(map: &'a Fields, parameters: Option<&'a Value>) -> Option<&'a str> {
    parameter(parameters, "User")
        .or_else(|| parameter(parameters, "Trustee"))
        .or_else(|| parameter(parameters, "GrantSendOnBehalfTo"))
        .or_else(|| path_text(map, &["Item", "ParentFolder", "MemberUpn"]))
        .or_else(|| parameter(parameters, "Delegate"))
}

/// The non-blank value of the `Parameters` pair `name` (`parameters` is the bag).
fn parameter<'a>(parameters: Option<&'a Value>, name: &str) -> Option<&'a str> {
    non_blank(bag_value(parameters?, name)?)
}
