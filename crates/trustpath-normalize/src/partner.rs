//! `tp.partner_tenant`: the tenant of a partner acting in the customer tenant.
//!
//! Set only on positive evidence that another tenant acts here: an actor whose home
//! tenant differs from the record's tenant (UAL `ActorContextId`, `TokenTenantId`,
//! `ExternalUserTenantId`; directory-audit `initiatedBy.user.homeTenantId`), a
//! service-provider sign-in (`crossTenantAccessType: serviceProvider`), or a partner
//! relationship record that names the partner (`Partner.TenantId` / `PartnerTenantId`
//! modified properties, the target of a partner cross-tenant access setting).
//! Chain correlation (AN1350) keys on it.

use serde_json::{Map, Value};
use trustpath_event::{Event, SourceKind, norm};

/// Field naming the partner tenant.
pub const PARTNER_TENANT: &str = "tp.partner_tenant";

/// Add `tp.partner_tenant` to `event` when the record shows a partner tenant acting.
pub fn add_partner_tenant(event: &mut Event) {
    let from_source = matches!(
        event.source,
        SourceKind::M365Audit | SourceKind::EntraAudit | SourceKind::EntraSignIn
    );
    if !from_source || event.fields.contains_key(PARTNER_TENANT) {
        return;
    }
    let partner = match event.source {
        SourceKind::M365Audit => from_actor(&event.fields).or_else(|| from_modified(&event.fields)),
        SourceKind::EntraAudit => from_actor(&event.fields).or_else(|| from_targets(&event.fields)),
        SourceKind::EntraSignIn => from_signin(&event.fields).or_else(|| from_actor(&event.fields)),
        _ => None,
    };
    if let Some(partner) = partner {
        event
            .fields
            .insert(PARTNER_TENANT.to_owned(), Value::String(partner));
    }
}

fn text<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The actor's home tenant when it differs from a known record tenant.
fn from_actor(fields: &Map<String, Value>) -> Option<String> {
    let tenant = text(fields, norm::TENANT)?;
    let actor_tenant = text(fields, norm::ACTOR_TENANT)?;
    (!actor_tenant.eq_ignore_ascii_case(tenant)).then(|| actor_tenant.to_lowercase())
}

fn from_signin(fields: &Map<String, Value>) -> Option<String> {
    let kind = fields
        .get("crossTenantAccessType")
        .or_else(|| fields.get("CrossTenantAccessType"))
        .and_then(Value::as_str)?;
    if !kind.eq_ignore_ascii_case("serviceProvider") {
        return None;
    }
    fields
        .get("homeTenantId")
        .or_else(|| fields.get("HomeTenantId"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

/// UAL `ModifiedProperties` `Partner.TenantId` (partner relationship records).
fn from_modified(fields: &Map<String, Value>) -> Option<String> {
    let items = fields.get("ModifiedProperties")?.as_array()?;
    items.iter().find_map(|item| {
        let name = item.get("Name")?.as_str()?;
        if !name.eq_ignore_ascii_case("Partner.TenantId") {
            return None;
        }
        unquote(item.get("NewValue")?)
    })
}

/// Directory-audit targets: a `PartnerTenantId` modified property, or the target of a
/// partner cross-tenant access setting.
fn from_targets(fields: &Map<String, Value>) -> Option<String> {
    let targets = fields.get("targetResources")?.as_array()?;
    for target in targets {
        let props = target.get("modifiedProperties").and_then(Value::as_array);
        for prop in props.into_iter().flatten() {
            let name = prop
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.eq_ignore_ascii_case("PartnerTenantId")
                && let Some(v) = prop.get("newValue").and_then(unquote)
            {
                return Some(v);
            }
        }
    }
    let activity = text(fields, "activityDisplayName").unwrap_or("");
    if activity
        .to_ascii_lowercase()
        .contains("partner cross-tenant")
    {
        return targets
            .first()
            .and_then(|t| t.get("id"))
            .and_then(Value::as_str)
            .map(str::to_lowercase);
    }
    None
}

/// A modified-property value, which Graph writes JSON-encoded (`"\"guid\""`).
/// A string may hold a JSON string or a JSON list of strings: the first one counts.
fn unquote(value: &Value) -> Option<String> {
    let s = value.as_str()?.trim();
    let inner = match serde_json::from_str::<Value>(s) {
        Ok(Value::String(inner)) => inner,
        Ok(Value::Array(items)) => items.first()?.as_str()?.to_owned(),
        _ => s.trim_matches('"').to_owned(),
    };
    let inner = inner.trim();
    (!inner.is_empty()).then(|| inner.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trustpath_event::{Format, Origin};

    fn event(source: SourceKind, fields: Value) -> Event {
        Event {
            time: jiff::Timestamp::UNIX_EPOCH,
            source,
            format: Format::GenericJson,
            origin: Origin::file("t"),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn foreign_actor_tenant_is_a_partner() {
        let mut e = event(
            SourceKind::M365Audit,
            json!({"tp.tenant": "a", "tp.actor_tenant": "B"}),
        );
        add_partner_tenant(&mut e);
        assert_eq!(e.get(PARTNER_TENANT), Some(&json!("b")));
        let mut own = event(
            SourceKind::M365Audit,
            json!({"tp.tenant": "a", "tp.actor_tenant": "A"}),
        );
        add_partner_tenant(&mut own);
        assert_eq!(own.get(PARTNER_TENANT), None);
    }

    #[test]
    fn service_provider_signin_and_partner_targets() {
        let mut s = event(
            SourceKind::EntraSignIn,
            json!({"crossTenantAccessType": "serviceProvider", "homeTenantId": "P"}),
        );
        add_partner_tenant(&mut s);
        assert_eq!(s.get(PARTNER_TENANT), Some(&json!("p")));
        let mut a = event(
            SourceKind::EntraAudit,
            json!({"activityDisplayName": "Add partner to company", "targetResources": [
                {"id": "x", "modifiedProperties": [{"displayName": "PartnerTenantId", "newValue": "\"P2\""}]}]}),
        );
        add_partner_tenant(&mut a);
        assert_eq!(a.get(PARTNER_TENANT), Some(&json!("p2")));
    }
}
