//! `tp.partner_tenant` / `tp.partner_relationship` from the documented record shapes,
//! each positive next to the look-alike that must not become a partner relationship.
//!
//! Shapes (written here, not copied): the UAL Azure AD schema (Management Activity API:
//! `ModifiedProperties` `{Name, NewValue, OldValue}`, `Actor`/`Target` `{ID, Type}`,
//! `ActorContextId`, `TargetContextId`, `ExtendedProperties` `actorAppID`), Graph
//! `directoryAudit` (`targetResources[].modifiedProperties[]` with JSON-encoded
//! `newValue`, `initiatedBy.app.appId`, `additionalDetails[]`) and the cross-tenant access
//! partner configuration (`tenantId`, `isServiceProvider`); logformats.md §1.4 / §1.4a.

use serde_json::{Value, json};
use trustpath_event::{Event, Format, Origin, RawRecord};
use trustpath_normalize::{NormalizeOptions, Normalizer, PARTNER_RELATIONSHIP, PARTNER_TENANT};

const CUSTOMER: &str = "5e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b";
const PARTNER: &str = "d00dfeed-1234-4abc-9def-0123456789ab";
const B2B_ORG: &str = "0a0b0c0d-1e1f-4a2b-8c3d-4e5f6a7b8c9d";
const POLICY: &str = "7c1a9e55-2b3d-4f60-a1b2-c3d4e5f6a7b8";
const PCDA: &str = "2832473f-ec63-45fb-976f-5d45a7d4bb91";
const OFFLINE: &str = "a3475900-ccec-4a69-98f5-a65cd5dc5306";

fn normalize(format: Format, value: Value) -> Event {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    n.push(
        RawRecord {
            origin: Origin::file("t.json"),
            format,
            fields: trustpath_event::fields_from(value),
        },
        &mut out,
    );
    n.finish(&mut out);
    match out.pop() {
        Some(Ok(event)) => event,
        other => panic!("not normalized: {other:?}"),
    }
}

fn partner_of(event: &Event) -> (Option<&str>, bool) {
    (
        event.get(PARTNER_TENANT).and_then(Value::as_str),
        event.get(PARTNER_RELATIONSHIP) == Some(&json!(true)),
    )
}

/// A UAL AzureActiveDirectory (RecordType 8) record made by a service principal.
fn ual_by_app(op: &str, app: &str, props: Value, target_context: &str) -> Value {
    json!({"CreationTime": "2026-05-04T10:00:02", "Id": "4f0e6a52-0c1b-4a3e-9d21-7b6c5a4d3e2f",
        "Operation": op, "OrganizationId": CUSTOMER, "RecordType": 8, "ResultStatus": "Success",
        "UserKey": "Not Available", "UserType": 4, "Version": 1, "Workload": "AzureActiveDirectory",
        "ObjectId": POLICY, "UserId": "ServicePrincipal_1b2c3d4e-0000-4000-8000-00000000abcd",
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{}"},
                               {"Name": "actorAppID", "Value": app}],
        "ModifiedProperties": props,
        "Actor": [{"ID": "Partner app", "Type": 1}, {"ID": app, "Type": 2}, {"ID": "ServicePrincipal", "Type": 2}],
        "ActorContextId": CUSTOMER,
        "Target": [{"ID": POLICY, "Type": 2}, {"ID": "Policy", "Type": 2}],
        "TargetContextId": target_context})
}

/// The same record made by the customer's own admin.
fn ual_by_admin(op: &str, props: Value, target_context: &str) -> Value {
    let mut record = ual_by_app(op, PCDA, props, target_context);
    record["UserId"] = json!("it.admin@customer.example");
    record["UserType"] = json!(0);
    record["Actor"] = json!([{"ID": "it.admin@customer.example", "Type": 5}]);
    record["ExtendedProperties"] = json!([{"Name": "additionalDetails", "Value": "{}"}]);
    record
}

fn xtap_props(tenant: &str, service_provider: bool) -> Value {
    let mut props =
        vec![json!({"Name": "tenantId", "NewValue": format!("[\"{tenant}\"]"), "OldValue": "[]"})];
    if service_provider {
        props.push(json!({"Name": "isServiceProvider", "NewValue": "[true]", "OldValue": "[]"}));
    } else {
        props.push(json!({"Name": "b2bCollaborationInbound", "NewValue": "[{\"usersAndGroups\": {}}]", "OldValue": "[]"}));
    }
    Value::Array(props)
}

#[test]
fn ual_service_provider_setting_by_the_gdap_app_names_the_partner() {
    for op in [
        "Add a partner to cross-tenant access setting.",
        "Update a partner cross-tenant access setting.",
        "Update a partner cross-tenant access setting",
    ] {
        let e = normalize(
            Format::UalJson,
            ual_by_app(op, PCDA, xtap_props(PARTNER, true), CUSTOMER),
        );
        assert_eq!(partner_of(&e), (Some(PARTNER), true), "{op}");
    }
    // Made by the customer's admin it is still a service-provider relationship.
    let e = normalize(
        Format::UalJson,
        ual_by_admin(
            "Update a partner cross-tenant access setting.",
            xtap_props(PARTNER, true),
            CUSTOMER,
        ),
    );
    assert_eq!(partner_of(&e), (Some(PARTNER), true));
}

#[test]
fn ual_b2b_setting_by_the_own_admin_is_no_partner_and_the_policy_is_never_a_tenant() {
    let e = normalize(
        Format::UalJson,
        ual_by_admin(
            "Add a partner to cross-tenant access setting.",
            xtap_props(B2B_ORG, false),
            CUSTOMER,
        ),
    );
    assert_eq!(partner_of(&e), (None, false));
    // No tenantId property at all: the policy object (ObjectId, Target) is not a tenant.
    let e = normalize(
        Format::UalJson,
        ual_by_app(
            "Update a partner cross-tenant access setting.",
            PCDA,
            json!([{"Name": "inboundTrust", "NewValue": "[{\"isMfaAccepted\": true}]", "OldValue": "[]"}]),
            CUSTOMER,
        ),
    );
    assert_eq!(partner_of(&e), (None, false));
}

#[test]
fn ual_gdap_role_assignment_names_the_partner_by_target_context() {
    let role =
        json!([{"Name": "Role.DisplayName", "NewValue": "Exchange Administrator", "OldValue": ""}]);
    let e = normalize(
        Format::UalJson,
        ual_by_app("Add member to role.", OFFLINE, role.clone(), PARTNER),
    );
    assert_eq!(partner_of(&e), (Some(PARTNER), true));
    // An internal admin adding a member (of the customer's own directory) to a role.
    let e = normalize(
        Format::UalJson,
        ual_by_admin("Add member to role.", role.clone(), CUSTOMER),
    );
    assert_eq!(partner_of(&e), (None, false));
    // An internal admin whose target sits in another tenant is not a GDAP approval either.
    let e = normalize(
        Format::UalJson,
        ual_by_admin("Add member to role.", role, B2B_ORG),
    );
    assert_eq!(partner_of(&e), (None, false));
}

#[test]
fn ual_dap_partner_tenant_in_any_value_shape() {
    for value in [
        json!(PARTNER),
        json!(format!("\"{PARTNER}\"")),
        json!(format!("[\"{}\"]", PARTNER.to_uppercase())),
    ] {
        for name in ["PartnerTenantId", "Partner.TenantId", "TargetTenantId"] {
            let record = ual_by_admin(
                "Add partner to company.",
                json!([{"Name": name, "NewValue": value, "OldValue": ""}]),
                CUSTOMER,
            );
            let e = normalize(Format::UalJson, record);
            assert_eq!(partner_of(&e), (Some(PARTNER), true), "{name} = {value}");
        }
    }
    // A display name where an id should be is not taken as a tenant.
    let record = ual_by_admin(
        "Add partner to company.",
        json!([{"Name": "PartnerTenantId", "NewValue": "Fabrikam", "OldValue": ""}]),
        CUSTOMER,
    );
    assert_eq!(
        partner_of(&normalize(Format::UalJson, record)),
        (None, false)
    );
}

fn graph_xtap(initiated: Value, props: Value) -> Value {
    json!({"id": "Directory_9f8e7d6c-0000-4000-8000-0000000000aa_1A2B3_12345678",
        "category": "CrossTenantAccessSettings", "correlationId": "9f8e7d6c-0000-4000-8000-0000000000aa",
        "result": "success", "resultReason": "",
        "activityDisplayName": "Add a partner to cross-tenant access setting",
        "activityDateTime": "2026-05-04T10:00:02.1234567Z", "loggedByService": "Core Directory",
        "operationType": "Add", "initiatedBy": initiated,
        "targetResources": [{"id": POLICY, "displayName": null, "type": "Policy", "userPrincipalName": null,
            "groupType": null, "modifiedProperties": props}],
        "additionalDetails": []})
}

#[test]
fn graph_service_provider_setting_names_the_partner_not_the_policy() {
    let by_app = json!({"app": {"appId": PCDA, "displayName": "Partner Customer Delegated Administration",
        "servicePrincipalId": "11112222-3333-4444-8555-666677778888", "servicePrincipalName": null}, "user": null});
    let props = json!([
        {"displayName": "tenantId", "oldValue": "[]", "newValue": format!("[\"{PARTNER}\"]")},
        {"displayName": "isServiceProvider", "oldValue": "[]", "newValue": "[true]"}]);
    let e = normalize(Format::GraphDirectoryAudit, graph_xtap(by_app, props));
    assert_eq!(partner_of(&e), (Some(PARTNER), true));
    assert_ne!(e.get(PARTNER_TENANT), Some(&json!(POLICY)));
}

#[test]
fn graph_b2b_setting_by_the_own_admin_is_no_partner() {
    let by_admin = json!({"app": null, "user": {"id": "22223333-4444-4555-8666-777788889999",
        "userPrincipalName": "it.ops@customer.example", "ipAddress": "198.18.120.5",
        "homeTenantId": CUSTOMER}});
    let props = json!([
        {"displayName": "tenantId", "oldValue": "[]", "newValue": format!("[\"{B2B_ORG}\"]")},
        {"displayName": "b2bCollaborationInbound", "oldValue": "[]", "newValue": "[{}]"}]);
    let e = normalize(Format::GraphDirectoryAudit, graph_xtap(by_admin, props));
    assert_eq!(partner_of(&e), (None, false));
}

#[test]
fn graph_partner_in_additional_details_and_deleted_service_provider() {
    let by_admin = json!({"app": null, "user": {"userPrincipalName": "it.ops@customer.example"}});
    let mut record = graph_xtap(by_admin.clone(), json!([]));
    record["activityDisplayName"] = json!("Add partner to company");
    record["additionalDetails"] = json!([{"key": "PartnerTenantId", "value": PARTNER}]);
    let e = normalize(Format::GraphDirectoryAudit, record);
    assert_eq!(partner_of(&e), (Some(PARTNER), true));
    // Deleting a service-provider configuration: the old value says what it was.
    let props = json!([
        {"displayName": "tenantId", "oldValue": format!("[\"{PARTNER}\"]"), "newValue": "[]"},
        {"displayName": "isServiceProvider", "oldValue": "[true]", "newValue": "[]"}]);
    let mut record = graph_xtap(by_admin, props);
    record["activityDisplayName"] = json!("Delete partner specific cross-tenant access setting");
    let e = normalize(Format::GraphDirectoryAudit, record);
    assert_eq!(partner_of(&e), (Some(PARTNER), true));
}

#[test]
fn graph_gdap_role_assignment_names_no_tenant_by_itself() {
    // The directoryAudit of a GDAP approval carries no tenant id; AN1350 binds it to the
    // partner that delegates next (analytic.rs), normalize does not invent one.
    let record = json!({"id": "Directory_x", "category": "RoleManagement", "result": "success",
        "activityDisplayName": "Add member to role", "activityDateTime": "2026-05-04T10:00:36Z",
        "initiatedBy": {"app": {"appId": OFFLINE}, "user": null},
        "targetResources": [{"id": "aa38995d-45dd-4bbb-9508-699506937633", "displayName": "Partner AdminAgents",
            "type": "Group", "modifiedProperties": [
                {"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Exchange Administrator\""}]}],
        "additionalDetails": []});
    let e = normalize(Format::GraphDirectoryAudit, record);
    assert_eq!(partner_of(&e), (None, false));
}
