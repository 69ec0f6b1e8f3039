//! Entra ID sign-ins (Graph `signIn`, Sentinel `SigninLogs` / non-interactive) and directory
//! audits (Graph `directoryAudit`, Sentinel `AuditLogs`).
//!
//! Sentinel rows get their JSON-text columns parsed and Graph-named aliases added
//! (`userPrincipalName`, `ipAddress`, `homeTenantId`, `status.errorCode`, `initiatedBy`,
//! `targetResources`, `activityDisplayName` …) so one rule fits both renderings. Empty
//! strings, which Graph writes for missing values, count as absent for `tp.*`.

use crate::fields::{
    Fields, alias, first_text, non_blank, number_in_string, parse_json_strings, path_text,
    set_norm, set_norm_as_is, set_norm_ip, text,
};
use serde_json::{Map, Value};
use trustpath_event::{Format, norm};

/// Graph `signIn` time.
pub(crate) const GRAPH_SIGNIN_TIME_FIELDS: &[&str] = &["createdDateTime"];
/// Sentinel sign-in time: the sign-in's own time, else ingestion time.
pub(crate) const SENTINEL_SIGNIN_TIME_FIELDS: &[&str] = &[
    "CreatedDateTime",
    "createdDateTime",
    "TimeGenerated",
    "TimeGenerated [UTC]",
];
/// Graph `directoryAudit` time.
pub(crate) const GRAPH_AUDIT_TIME_FIELDS: &[&str] = &["activityDateTime"];
/// Sentinel `AuditLogs` time: the activity's own time, else ingestion time.
pub(crate) const SENTINEL_AUDIT_TIME_FIELDS: &[&str] = &[
    "ActivityDateTime",
    "activityDateTime",
    "TimeGenerated",
    "TimeGenerated [UTC]",
];

/// Sentinel sign-in column → Graph property.
const SIGNIN_ALIASES: [(&str, &str); 9] = [
    ("CreatedDateTime", "createdDateTime"),
    ("UserPrincipalName", "userPrincipalName"),
    ("IPAddress", "ipAddress"),
    ("HomeTenantId", "homeTenantId"),
    ("ResourceTenantId", "resourceTenantId"),
    ("CrossTenantAccessType", "crossTenantAccessType"),
    ("AppId", "appId"),
    ("AppDisplayName", "appDisplayName"),
    ("UserId", "userId"),
];

/// Sentinel `AuditLogs` column → Graph property.
const AUDIT_ALIASES: [(&str, &str); 5] = [
    ("ActivityDisplayName", "activityDisplayName"),
    ("OperationName", "activityDisplayName"),
    ("InitiatedBy", "initiatedBy"),
    ("TargetResources", "targetResources"),
    ("ActivityDateTime", "activityDateTime"),
];

/// Normalizes a sign-in record in place and adds its `tp.*` fields.
pub(crate) fn normalize_signin(map: &mut Fields, format: Format) {
    if format == Format::SentinelSignIn {
        parse_json_strings(map);
        for (from, to) in SIGNIN_ALIASES {
            alias(map, from, to);
        }
        add_status_error_code(map);
    }
    let tenant = first_text(map, crate::tenant::SIGNIN_TENANT_KEYS).map(str::to_lowercase);
    let actor = first_text(map, &["userPrincipalName", "appId"]).map(str::to_lowercase);
    let actor_tenant = text(map, "homeTenantId").map(str::to_lowercase);
    if let Some(ip) = text(map, "ipAddress").map(str::to_owned) {
        set_norm_ip(map, &ip);
    }
    for (key, value) in [
        (norm::TENANT, tenant),
        (norm::ACTOR, actor),
        (norm::ACTOR_TENANT, actor_tenant),
    ] {
        if let Some(value) = value {
            set_norm_as_is(map, key, value);
        }
    }
    set_norm_as_is(map, norm::OPERATION, "SignIn".to_owned());
}

/// Graph's `status` object for a Sentinel row: the `Status` column, with `errorCode` from
/// `ResultType` ("0" = success) when it lacks one.
fn add_status_error_code(map: &mut Fields) {
    let Some(code) = map.get("ResultType").and_then(|v| match v {
        Value::Number(_) => Some(v.clone()),
        other => number_in_string(other),
    }) else {
        return;
    };
    if !map.contains_key("status") {
        // Sentinel's parsed `Status` column is Graph's `status` object: start from it.
        let status = match map.get("Status") {
            Some(Value::Object(status)) => status.clone(),
            _ => Map::new(),
        };
        map.insert("status".to_owned(), Value::Object(status));
    }
    let status = map
        .entry("status".to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(status) = status {
        status.entry("errorCode".to_owned()).or_insert(code);
    }
}

/// Normalizes a directory-audit record in place and adds its `tp.*` fields.
pub(crate) fn normalize_audit(map: &mut Fields, format: Format) {
    if format == Format::SentinelAuditLogs {
        parse_json_strings(map);
        for (from, to) in AUDIT_ALIASES {
            alias(map, from, to);
        }
    }
    let operation = text(map, "activityDisplayName").map(str::to_owned);
    let actor = path_text(map, &["initiatedBy", "user", "userPrincipalName"])
        .map(str::to_lowercase)
        .or_else(|| path_text(map, &["initiatedBy", "app", "appId"]).map(str::to_lowercase));
    let actor_tenant =
        path_text(map, &["initiatedBy", "user", "homeTenantId"]).map(str::to_lowercase);
    let ip = path_text(map, &["initiatedBy", "user", "ipAddress"]).map(str::to_owned);
    let tenant = first_text(map, crate::tenant::AUDIT_TENANT_KEYS).map(str::to_lowercase);
    let target = first_target(map);
    if let Some(ip) = ip {
        set_norm_ip(map, &ip);
    }
    for (key, value) in [
        (norm::ACTOR, actor),
        (norm::ACTOR_TENANT, actor_tenant),
        (norm::TENANT, tenant),
        (norm::TARGET, target),
    ] {
        if let Some(value) = value {
            set_norm_as_is(map, key, value);
        }
    }
    if let Some(operation) = operation {
        set_norm(map, norm::OPERATION, operation);
    }
}

/// The first target resource's UPN (lower-cased), else its display name.
fn first_target(map: &Fields) -> Option<String> {
    let resources = map.get("targetResources")?.as_array()?;
    let upn = resources
        .iter()
        .find_map(|r| r.get("userPrincipalName").and_then(non_blank));
    if let Some(upn) = upn {
        return Some(upn.to_lowercase());
    }
    resources
        .iter()
        .find_map(|r| r.get("displayName").and_then(non_blank))
        .map(str::to_owned)
}
