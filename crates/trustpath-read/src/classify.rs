//! Deciding a record's [`Format`] from its own keys.

use serde_json::Value;
use trustpath_event::{FieldMap, Format};

/// The [`Format`] of one record, judged by its keys alone (never by the file it came from).
///
/// Rules, first match wins:
///
/// | rule | format |
/// |---|---|
/// | `Type` is `OfficeActivity` / `SigninLogs`, `AADNonInteractiveUserSignInLogs` (and the service-principal / managed-identity sign-in tables) / `AuditLogs` / `WindowsEvent`, `SecurityEvent`, `Event` (with `EventID`) | the matching Sentinel format |
/// | `CreationTime` + `Operation` + `RecordType` | [`Format::UalJson`] |
/// | `AuditData` + one of `CreationDate`, `Operations`, `Operation`, `UserIds`, `RecordId` | [`Format::PurviewCsv`] (a Purview / `Search-UnifiedAuditLog` row, also when exported as JSON) |
/// | `OfficeWorkload` | [`Format::SentinelOfficeActivity`] |
/// | `EventData_dynamic`, or `TimeGenerated` + `EventID` + `Computer` | [`Format::SentinelWindowsEvent`] |
/// | `OperationName` + `InitiatedBy` + `TargetResources` | [`Format::SentinelAuditLogs`] |
/// | `UserPrincipalName` + `IPAddress` + `ResultType` | [`Format::SentinelSignIn`] |
/// | `createdDateTime` + (`userPrincipalName` or `appId`) + (`status` or `ipAddress`) | [`Format::GraphSignIn`] |
/// | `activityDisplayName` + `activityDateTime` | [`Format::GraphDirectoryAudit`] |
/// | `Event` object holding `System`, or `Event_attributes` | [`Format::EvtxJson`] |
/// | `winlog` object, or a flattened `winlog.event_id` key | [`Format::Winlogbeat`] |
/// | `EventID` + `Channel` | [`Format::FlatWindowsJson`] |
/// | anything else (and non-objects) | [`Format::GenericJson`] |
pub fn classify(value: &Value) -> Format {
    match value.as_object() {
        Some(map) => classify_map(map),
        None => Format::GenericJson,
    }
}

pub(crate) fn classify_map(m: &impl FieldMap) -> Format {
    let has = |k: &str| m.has(k);

    if let Some(t) = m.field("Type").and_then(Value::as_str) {
        match t {
            "OfficeActivity" => return Format::SentinelOfficeActivity,
            "SigninLogs"
            | "AADNonInteractiveUserSignInLogs"
            | "AADServicePrincipalSignInLogs"
            | "AADManagedIdentitySignInLogs" => return Format::SentinelSignIn,
            "AuditLogs" => return Format::SentinelAuditLogs,
            "WindowsEvent" | "SecurityEvent" => return Format::SentinelWindowsEvent,
            // The Log Analytics agent's `Event` table (channel in `EventLog`).
            "Event" if has("EventID") => return Format::SentinelWindowsEvent,
            _ => {}
        }
    }
    if has("CreationTime") && has("Operation") && has("RecordType") {
        return Format::UalJson;
    }
    if has("AuditData")
        && [
            "CreationDate",
            "Operations",
            "Operation",
            "UserIds",
            "RecordId",
        ]
        .iter()
        .any(|k| has(k))
    {
        return Format::PurviewCsv;
    }
    if has("OfficeWorkload") {
        return Format::SentinelOfficeActivity;
    }
    if has("EventData_dynamic") || (has("TimeGenerated") && has("EventID") && has("Computer")) {
        return Format::SentinelWindowsEvent;
    }
    if has("OperationName") && has("InitiatedBy") && has("TargetResources") {
        return Format::SentinelAuditLogs;
    }
    if has("UserPrincipalName") && has("IPAddress") && has("ResultType") {
        return Format::SentinelSignIn;
    }
    if has("createdDateTime")
        && (has("userPrincipalName") || has("appId"))
        && (has("status") || has("ipAddress"))
    {
        return Format::GraphSignIn;
    }
    if has("activityDisplayName") && has("activityDateTime") {
        return Format::GraphDirectoryAudit;
    }
    if m.field("Event").is_some_and(|e| e.get("System").is_some()) || has("Event_attributes") {
        return Format::EvtxJson;
    }
    if m.field("winlog").is_some_and(Value::is_object) || has("winlog.event_id") {
        return Format::Winlogbeat;
    }
    if has("EventID") && has("Channel") {
        return Format::FlatWindowsJson;
    }
    Format::GenericJson
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(v: Value) -> Format {
        classify(&v)
    }

    #[test]
    fn ual() {
        assert_eq!(
            c(
                json!({"CreationTime":"2023-09-26T01:56:15","Operation":"New-InboxRule","RecordType":1,"Workload":"Exchange","OrganizationId":"x"})
            ),
            Format::UalJson
        );
        // Without RecordType it is not UAL.
        assert_eq!(
            c(json!({"CreationTime":"2023-09-26T01:56:15","Operation":"x"})),
            Format::GenericJson
        );
    }

    #[test]
    fn purview_row_as_json() {
        assert_eq!(
            c(
                json!({"CreationDate":"9/20/2023 4:05:03 AM","UserIds":"a","Operations":"b","AuditData":"{}"})
            ),
            Format::PurviewCsv
        );
        assert_eq!(c(json!({"AuditData":"{}"})), Format::GenericJson);
    }

    #[test]
    fn graph() {
        assert_eq!(
            c(
                json!({"createdDateTime":"2025-05-02T10:38:07Z","userPrincipalName":"","appId":"a","status":{"errorCode":0}})
            ),
            Format::GraphSignIn
        );
        assert_eq!(
            c(json!({"createdDateTime":"x","appId":"a","ipAddress":"1.2.3.4"})),
            Format::GraphSignIn
        );
        assert_eq!(
            c(json!({"createdDateTime":"x","status":{}})),
            Format::GenericJson
        );
        assert_eq!(
            c(json!({"activityDisplayName":"Add user","activityDateTime":"x","initiatedBy":{}})),
            Format::GraphDirectoryAudit
        );
    }

    #[test]
    fn sentinel_by_type() {
        assert_eq!(
            c(json!({"Type":"OfficeActivity","Operation":"x","RecordType":"50"})),
            Format::SentinelOfficeActivity
        );
        assert_eq!(c(json!({"Type":"SigninLogs"})), Format::SentinelSignIn);
        assert_eq!(
            c(json!({"Type":"AADNonInteractiveUserSignInLogs"})),
            Format::SentinelSignIn
        );
        assert_eq!(c(json!({"Type":"AuditLogs"})), Format::SentinelAuditLogs);
        assert_eq!(
            c(json!({"Type":"WindowsEvent","EventID":4624,"Channel":"Security"})),
            Format::SentinelWindowsEvent
        );
        assert_eq!(
            c(json!({"Type":"SecurityEvent"})),
            Format::SentinelWindowsEvent
        );
        assert_eq!(
            c(json!({"Type":"Event","EventID":7036,"EventLog":"System"})),
            Format::SentinelWindowsEvent
        );
        assert_eq!(c(json!({"Type":"Event"})), Format::GenericJson);
        // An unknown Type falls through to the key rules.
        assert_eq!(c(json!({"Type":"Other"})), Format::GenericJson);
    }

    #[test]
    fn sentinel_by_keys() {
        assert_eq!(
            c(json!({"OfficeWorkload":"Exchange","Operation":"MailItemsAccessed"})),
            Format::SentinelOfficeActivity
        );
        assert_eq!(
            c(json!({"EventData_dynamic":"[]","EventID":412})),
            Format::SentinelWindowsEvent
        );
        assert_eq!(
            c(json!({"TimeGenerated":"x","EventID":5156,"Computer":"h"})),
            Format::SentinelWindowsEvent
        );
        assert_eq!(
            c(json!({"OperationName":"Add user","InitiatedBy":"{}","TargetResources":"[]"})),
            Format::SentinelAuditLogs
        );
        assert_eq!(
            c(json!({"UserPrincipalName":"a@b","IPAddress":"1.2.3.4","ResultType":"0"})),
            Format::SentinelSignIn
        );
    }

    #[test]
    fn windows_renderings() {
        assert_eq!(
            c(json!({"Event":{"System":{"EventID":1},"EventData":{}}})),
            Format::EvtxJson
        );
        assert_eq!(
            c(json!({"Event_attributes":{"xmlns":"x"},"Event":{"System":{}}})),
            Format::EvtxJson
        );
        assert_eq!(c(json!({"Event":"not windows"})), Format::GenericJson);
        assert_eq!(
            c(json!({"@timestamp":"x","winlog":{"event_id":"4104"}})),
            Format::Winlogbeat
        );
        assert_eq!(c(json!({"winlog.event_id":"4104"})), Format::Winlogbeat);
        assert_eq!(
            c(json!({"EventID":4688,"Channel":"Security","Hostname":"h"})),
            Format::FlatWindowsJson
        );
        assert_eq!(c(json!({"EventID":4688})), Format::GenericJson);
    }

    #[test]
    fn non_objects_are_generic() {
        assert_eq!(c(json!([1, 2])), Format::GenericJson);
        assert_eq!(c(json!("x")), Format::GenericJson);
        assert_eq!(c(json!({})), Format::GenericJson);
    }
}
