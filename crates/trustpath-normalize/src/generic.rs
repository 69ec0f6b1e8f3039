//! Any other JSON object: fields as they are, a few `tp.*` fields from common names.

use crate::fields::{Fields, first_text, set_first_ip, set_norm, set_norm_as_is};
use trustpath_event::norm;

/// Time fields tried in order when `--time-field` is not given (`Timestamp` is the
/// Microsoft 365 Defender advanced-hunting column).
pub(crate) const TIME_FIELDS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "Timestamp",
    "time",
    "TimeCreated",
    "TimeGenerated",
    "EventTime",
    "eventTime",
    "CreationTime",
    "createdDateTime",
    "date",
    "datetime",
    "ts",
];

/// Adds `tp.*` from common field names, when present.
pub(crate) fn add_norm_fields(map: &mut Fields) {
    let tenant = first_text(map, crate::tenant::GENERIC_TENANT_KEYS).map(str::to_owned);
    let actor =
        first_text(map, &["user", "userPrincipalName", "UserId", "actor"]).map(str::to_owned);
    let operation =
        first_text(map, &["operation", "Operation", "action", "activity"]).map(str::to_owned);
    let host = first_text(map, &["host", "hostname", "Computer"]).map(str::to_owned);
    set_first_ip(map, &["ip", "ipAddress", "ClientIP", "src_ip", "source_ip"]);
    for (key, value) in [
        (norm::TENANT, tenant.map(|t| t.to_lowercase())),
        (norm::ACTOR, actor.map(|a| a.to_lowercase())),
        (norm::HOST, host.map(|h| h.to_lowercase())),
    ] {
        if let Some(value) = value {
            set_norm_as_is(map, key, value);
        }
    }
    if let Some(operation) = operation {
        set_norm(map, norm::OPERATION, operation);
    }
}
