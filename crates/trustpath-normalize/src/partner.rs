//! `tp.partner_tenant`: the tenant of a partner acting in, or related to, the customer
//! tenant; `tp.partner_relationship: true` on records that change a partner (DAP/GDAP)
//! relationship and name the partner.
//!
//! Set only on positive evidence, from the documented field shapes
//! (`../shared/reference/logformats.md` §1.4/§1.4a; Microsoft's Management Activity API
//! schema, Entra audit-activity reference, `crossTenantAccessPolicyConfigurationPartner`):
//!
//! * an actor whose home tenant differs from the record's tenant (UAL `ActorContextId`,
//!   `TokenTenantId`, `ExternalUserTenantId`; directory-audit
//!   `initiatedBy.user.homeTenantId`);
//! * a service-provider sign-in (`crossTenantAccessType: serviceProvider`, `homeTenantId`
//!   ≠ `resourceTenantId`);
//! * a record that names the partner: UAL `ModifiedProperties` / Graph
//!   `targetResources[].modifiedProperties[]` / `additionalDetails[]` named
//!   `PartnerTenantId`, `Partner.TenantId`, `TargetTenantId`, and — on cross-tenant access
//!   setting changes only — `tenantId`. Values come as written: a plain GUID, a
//!   JSON-encoded string (`"\"guid\""`) or a JSON-encoded list (`"[\"guid\"]"`);
//! * a GDAP role assignment (`Add member to role.`) made by a partner first-party app or an
//!   actor of another tenant: its `TargetContextId` (the partner's security group lives in
//!   the partner tenant), when it differs from `OrganizationId`.
//!
//! A policy object id (`ObjectId`, `Target[].ID`, `targetResources[].id` of a cross-tenant
//! access setting) is never taken as a tenant id, and only GUID-shaped values are.
//!
//! "Partner" in cross-tenant access is Entra's word for *any* external organisation (B2B
//! included): a cross-tenant access change is a partner *relationship* only when it marks
//! a service provider (`isServiceProvider` true, new or old value), is made by a GDAP
//! first-party app, or is made from the named tenant itself. A B2B setting changed by the
//! tenant's own admin sets neither field.

use serde_json::Value;
use trustpath_event::{Event, Fields, SourceKind, norm};

/// Field naming the partner tenant.
pub const PARTNER_TENANT: &str = trustpath_event::norm::PARTNER_TENANT;
/// `true` on records that add, change or remove a partner (DAP/GDAP) relationship and
/// name the partner (AN1350 step 1).
pub const PARTNER_RELATIONSHIP: &str = trustpath_event::norm::PARTNER_RELATIONSHIP;

/// GDAP first-party apps acting in the customer tenant (Partner Center
/// `gdap-microsoft-led-transition.md`): Partner Customer Delegated Administration,
/// Partner Customer Delegated Admin Offline Processor, Partner Center Delegated Admin
/// Migrate.
pub const GDAP_APP_IDS: [&str; 3] = [
    "2832473f-ec63-45fb-976f-5d45a7d4bb91",
    "a3475900-ccec-4a69-98f5-a65cd5dc5306",
    "b39d63e7-7fa3-4b2b-94ea-ee256fdb8c2f",
];

/// Modified-property / detail names that always name the partner tenant.
const PARTNER_NAMES: [&str; 3] = ["partnertenantid", "partner.tenantid", "targettenantid"];

/// Add `tp.partner_tenant` (and `tp.partner_relationship`) to `event` when the record
/// shows a partner tenant. Idempotent; call again after `tp.tenant` changes (the actor
/// rule needs the record's tenant) after removing both fields.
pub fn add_partner_tenant(event: &mut Event) {
    let from_source = matches!(
        event.source,
        SourceKind::M365Audit | SourceKind::EntraAudit | SourceKind::EntraSignIn
    );
    if !from_source || event.fields.contains_key(PARTNER_TENANT) {
        return;
    }
    let fields = &event.fields;
    let tenant = text(fields, norm::TENANT).map(str::to_lowercase);
    let found = match event.source {
        SourceKind::M365Audit => ual(fields, tenant.as_deref()),
        SourceKind::EntraAudit => directory_audit(fields, tenant.as_deref()),
        SourceKind::EntraSignIn => from_signin(fields, tenant.as_deref())
            .or_else(|| from_actor(fields, tenant.as_deref()))
            .map(|p| (p, false)),
        _ => None,
    };
    let Some((partner, relationship)) = found else {
        return;
    };
    if tenant.as_deref() == Some(partner.as_str()) {
        return;
    }
    event
        .fields
        .insert(PARTNER_TENANT.to_owned(), Value::String(partner));
    if relationship {
        event
            .fields
            .insert(PARTNER_RELATIONSHIP.to_owned(), Value::Bool(true));
    }
}

/// Forget the derived partner fields (before re-deriving them under another tenant).
pub fn clear_partner_tenant(event: &mut Event) {
    event.fields.swap_remove(PARTNER_TENANT);
    event.fields.swap_remove(PARTNER_RELATIONSHIP);
}

fn text<'a>(fields: &'a Fields, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A tenant id: GUID-shaped (8-4-4-4-12 hex), lower-cased.
fn tenant_id(s: &str) -> Option<String> {
    let s = s.trim().trim_matches(|c| c == '{' || c == '}');
    let groups: Vec<&str> = s.split('-').collect();
    let shape = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(shape)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| s.to_ascii_lowercase())
}

/// The actor's home tenant when it differs from a known record tenant.
fn from_actor(fields: &Fields, tenant: Option<&str>) -> Option<String> {
    let tenant = tenant?;
    let actor_tenant = text(fields, norm::ACTOR_TENANT)?;
    (!actor_tenant.eq_ignore_ascii_case(tenant)).then(|| actor_tenant.to_lowercase())
}

fn from_signin(fields: &Fields, tenant: Option<&str>) -> Option<String> {
    let kind =
        text(fields, "crossTenantAccessType").or_else(|| text(fields, "CrossTenantAccessType"))?;
    if !kind.eq_ignore_ascii_case("serviceProvider") {
        return None;
    }
    let home = text(fields, "homeTenantId")
        .or_else(|| text(fields, "HomeTenantId"))?
        .to_lowercase();
    (Some(home.as_str()) != tenant).then_some(home)
}

/// Kind of relationship operation, from the operation / activity name (UAL names end
/// with a period, Entra's don't).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Legacy DAP: `Add partner to company.`, `Set Partnership`, …
    Dap,
    /// Cross-tenant access setting (partner configuration) added, changed or deleted.
    CrossTenant,
    /// A directory role membership (GDAP access assignment on approval).
    RoleMember,
    Other,
}

fn op_kind(op: &str) -> Op {
    let op = op.trim().trim_end_matches('.').to_ascii_lowercase();
    let dap = [
        "add partner to company",
        "remove partner from company",
        "set partnership",
        "promote company to partner",
        "demote partner",
        "set-partnerofrecord",
        "add-delegatedadmin",
    ];
    if dap.contains(&op.as_str()) {
        Op::Dap
    } else if op.contains("cross-tenant access setting") && op.contains("partner") {
        Op::CrossTenant
    } else if op.contains("member to role") || op.contains("member from role") {
        Op::RoleMember
    } else {
        Op::Other
    }
}

/// What a list of modified properties says.
#[derive(Default)]
struct Props {
    /// A property that always names the partner.
    partner: Option<String>,
    /// `tenantId` (the configured organisation of a cross-tenant access setting).
    tenant_id: Option<String>,
    /// `isServiceProvider` true in the new or old value.
    service_provider: bool,
}

impl Props {
    fn add(&mut self, name: &str, new: Option<&Value>, old: Option<&Value>) {
        let name = name.trim().to_ascii_lowercase();
        if PARTNER_NAMES.contains(&name.as_str()) {
            if self.partner.is_none() {
                self.partner = new
                    .and_then(first_tenant)
                    .or_else(|| old.and_then(first_tenant));
            }
        } else if name == "tenantid" {
            if self.tenant_id.is_none() {
                self.tenant_id = new
                    .and_then(first_tenant)
                    .or_else(|| old.and_then(first_tenant));
            }
        } else if name == "isserviceprovider" {
            self.service_provider |= new.is_some_and(is_true) || old.is_some_and(is_true);
        }
    }

    /// The partner named, and whether the change marks a service provider.
    fn named(&self, op: Op) -> Option<String> {
        self.partner.clone().or_else(|| {
            (op == Op::CrossTenant)
                .then(|| self.tenant_id.clone())
                .flatten()
        })
    }
}

/// The first tenant id a property value holds: a plain GUID, a JSON string, or a JSON
/// list whose first string is one.
fn first_tenant(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let s = s.trim();
            match serde_json::from_str::<Value>(s) {
                Ok(Value::String(inner)) => tenant_id(&inner),
                Ok(Value::Array(items)) => items.iter().find_map(first_tenant),
                _ => tenant_id(s.trim_matches('"')),
            }
        }
        Value::Array(items) => items.iter().find_map(first_tenant),
        _ => None,
    }
}

/// `true`, `"true"`, `"[true]"`, `[true]`.
fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                return true;
            }
            serde_json::from_str::<Value>(s).is_ok_and(|v| !v.is_string() && is_true(&v))
        }
        Value::Array(items) => items.first().is_some_and(is_true),
        _ => false,
    }
}

/// Whether any of `values` is a GDAP first-party app id.
fn is_gdap_app<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    values.into_iter().any(|v| {
        GDAP_APP_IDS
            .iter()
            .any(|a| v.trim().eq_ignore_ascii_case(a))
    })
}

/// The value of the Name/Value pair `name` (case-insensitive) in a bag.
fn bag<'a>(list: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    list?.as_array()?.iter().find_map(|pair| {
        let key = pair.get("Name").or_else(|| pair.get("key"))?.as_str()?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| pair.get("Value").or_else(|| pair.get("value")))
            .flatten()
    })
}

/// Unified audit log (AzureActiveDirectory workload and the rest).
fn ual(fields: &Fields, tenant: Option<&str>) -> Option<(String, bool)> {
    let op = op_kind(text(fields, "Operation").unwrap_or(""));
    let actor_partner = from_actor(fields, tenant);
    let actor_ids = fields
        .get("Actor")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("ID").and_then(Value::as_str));
    let app = bag(fields.get("ExtendedProperties"), "actorAppID").and_then(Value::as_str);
    let by_gdap_app = is_gdap_app(actor_ids.chain(app));
    let mut props = Props::default();
    for item in fields
        .get("ModifiedProperties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = item.get("Name").and_then(Value::as_str) {
            props.add(name, item.get("NewValue"), item.get("OldValue"));
        }
    }
    let org = text(fields, "OrganizationId").map(str::to_lowercase);
    let target_context = text(fields, "TargetContextId")
        .and_then(tenant_id)
        .filter(|t| org.as_deref().is_some_and(|o| o != t));
    let named = props.named(op).or_else(|| match op {
        // The partner's group (GDAP) or company (DAP) lives in the partner tenant.
        Op::RoleMember if by_gdap_app || actor_partner.is_some() => target_context.clone(),
        Op::Dap => target_context.clone(),
        _ => None,
    });
    relationship(
        op,
        named,
        actor_partner,
        by_gdap_app,
        props.service_provider,
    )
}

/// Graph `directoryAudit` / Sentinel `AuditLogs`.
fn directory_audit(fields: &Fields, tenant: Option<&str>) -> Option<(String, bool)> {
    let op = op_kind(text(fields, "activityDisplayName").unwrap_or(""));
    let actor_partner = from_actor(fields, tenant);
    let app = fields
        .get("initiatedBy")
        .and_then(|i| i.get("app"))
        .and_then(|a| a.get("appId"))
        .and_then(Value::as_str);
    let by_gdap_app = is_gdap_app(app);
    let mut props = Props::default();
    let targets = fields.get("targetResources").and_then(Value::as_array);
    for target in targets.into_iter().flatten() {
        let list = target.get("modifiedProperties").and_then(Value::as_array);
        for prop in list.into_iter().flatten() {
            if let Some(name) = prop.get("displayName").and_then(Value::as_str) {
                props.add(name, prop.get("newValue"), prop.get("oldValue"));
            }
        }
    }
    let details = fields.get("additionalDetails").and_then(Value::as_array);
    for detail in details.into_iter().flatten() {
        if let Some(name) = detail.get("key").and_then(Value::as_str) {
            props.add(name, detail.get("value"), None);
        }
    }
    relationship(
        op,
        props.named(op),
        actor_partner,
        by_gdap_app,
        props.service_provider,
    )
}

/// The partner and whether the record is a partner relationship change.
fn relationship(
    op: Op,
    named: Option<String>,
    actor_partner: Option<String>,
    by_gdap_app: bool,
    service_provider: bool,
) -> Option<(String, bool)> {
    let Some(named) = named else {
        // Nobody named: an actor from another tenant is still a partner acting here.
        return actor_partner.map(|p| (p, false));
    };
    let from_named = actor_partner.as_deref() == Some(named.as_str());
    let flagged = match op {
        Op::Dap => true,
        Op::CrossTenant => service_provider || by_gdap_app || from_named,
        Op::RoleMember => by_gdap_app || from_named,
        Op::Other => by_gdap_app || from_named,
    };
    if flagged {
        return Some((named, true));
    }
    // A B2B cross-tenant setting by the tenant's own admin names an organisation, not a
    // partner: keep only what the actor says.
    match op {
        Op::CrossTenant => actor_partner.map(|p| (p, false)),
        _ => Some((actor_partner.unwrap_or(named), false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: &str = "6f1d2c3b-8a4e-4b5f-9c7d-1e2f3a4b5c6d";
    const P: &str = "3b8e1f0a-6c2d-4e7f-9a1b-2c3d4e5f6a7b";

    use crate::test_event as event;

    fn derive(source: SourceKind, fields: Value) -> (Option<Value>, Option<Value>) {
        let mut e = event(source, fields);
        add_partner_tenant(&mut e);
        (
            e.get(PARTNER_TENANT).cloned(),
            e.get(PARTNER_RELATIONSHIP).cloned(),
        )
    }

    #[test]
    fn foreign_actor_tenant_is_a_partner() {
        let mut e = event(
            SourceKind::M365Audit,
            json!({"tp.tenant": "a", "tp.actor_tenant": "B"}),
        );
        add_partner_tenant(&mut e);
        assert_eq!(e.get(PARTNER_TENANT), Some(&json!("b")));
        assert_eq!(e.get(PARTNER_RELATIONSHIP), None);
        let mut own = event(
            SourceKind::M365Audit,
            json!({"tp.tenant": "a", "tp.actor_tenant": "A"}),
        );
        add_partner_tenant(&mut own);
        assert_eq!(own.get(PARTNER_TENANT), None);
    }

    #[test]
    fn service_provider_signin_and_partner_targets() {
        let (p, _) = derive(
            SourceKind::EntraSignIn,
            json!({"crossTenantAccessType": "serviceProvider", "homeTenantId": P}),
        );
        assert_eq!(p, Some(json!(P)));
        let (p, r) = derive(
            SourceKind::EntraAudit,
            json!({"activityDisplayName": "Add partner to company", "targetResources": [
                {"id": "x", "modifiedProperties": [{"displayName": "PartnerTenantId", "newValue": format!("\"{P}\"")}]}]}),
        );
        assert_eq!(p, Some(json!(P)));
        assert_eq!(r, Some(json!(true)));
    }

    #[test]
    fn values_in_every_documented_shape() {
        for v in [
            json!(P),
            json!(format!("\"{P}\"")),
            json!(format!("[\"{}\"]", P.to_uppercase())),
            json!([P]),
        ] {
            assert_eq!(first_tenant(&v).as_deref(), Some(P), "{v}");
        }
        for v in [
            json!("Fabrikam"),
            json!("[]"),
            json!(""),
            json!(null),
            json!("[true]"),
        ] {
            assert_eq!(first_tenant(&v), None, "{v}");
        }
        assert!(is_true(&json!("[true]")) && is_true(&json!(true)) && is_true(&json!("True")));
        assert!(!is_true(&json!("[false]")) && !is_true(&json!("[]")));
    }

    #[test]
    fn the_policy_object_id_is_never_the_partner() {
        // Graph: a cross-tenant setting change whose target id is the policy object and
        // whose modified properties name no tenant.
        let (p, r) = derive(
            SourceKind::EntraAudit,
            json!({"tp.tenant": T, "activityDisplayName": "Update a partner cross-tenant access setting",
                "initiatedBy": {"app": {"appId": GDAP_APP_IDS[0]}},
                "targetResources": [{"id": "4e0c4a86-a0a7-4c25-ae50-e8875bb598da", "type": "Policy",
                    "modifiedProperties": [{"displayName": "inboundTrust", "newValue": "[{}]"}]}]}),
        );
        assert_eq!((p, r), (None, None));
        // UAL: ObjectId / Target[].ID are the policy.
        let (p, _) = derive(
            SourceKind::M365Audit,
            json!({"tp.tenant": T, "OrganizationId": T, "Operation": "Update a partner cross-tenant access setting.",
                "ObjectId": "663a5d74-e6cd-4fb2-adb4-997466296927",
                "Target": [{"ID": "663a5d74-e6cd-4fb2-adb4-997466296927", "Type": 2}],
                "TargetContextId": T, "ModifiedProperties": []}),
        );
        assert_eq!(p, None);
    }
}
