//! AN1051's and AN1347's contracts (analytics/AN1051/README.md, analytics/AN1347/README.md):
//! one test per promise, each positive with the look-alike that must stay silent.
//!
//! Records are written here from Microsoft's documented shapes: UAL mailbox-audit folder
//! actions (`Item.ParentFolder.MemberRights` as PidTagMemberRights flag names, MS-OXCPERM
//! 2.2.7), ExchangeAdmin cmdlet records (`Parameters` as typed, `ResultStatus`
//! `True`/`False`), Graph `signIn` (`crossTenantAccessType`, `homeTenantId`,
//! `authenticationRequirement`, `authenticationDetails`, `status.errorCode`) and Graph
//! `directoryAudit` (`initiatedBy.user.homeTenantId`, `targetResources`), see
//! `../shared/reference/logformats.md`.

mod common;

use serde_json::{Value, json};
use std::path::Path;
use trustpath_context::Context;
use trustpath_report::{Finding, FindingKind};

const CONTOSO: &str = "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34";
const FABRIKAM_CUSTOMER: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const NORTHWIND: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const UNKNOWN: &str = "deadbeef-0000-4000-8000-00000000beef";
const OTHER_UNKNOWN: &str = "feedface-0000-4000-8000-0000000face0";

fn guid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

fn write(dir: &Path, name: &str, records: &[Value]) {
    let text = if name.ends_with(".json") {
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs", "value": records}).to_string()
    } else {
        records.iter().map(|r| format!("{r}\n")).collect()
    };
    std::fs::write(dir.join(name), text).expect("write fixture");
}

fn hunt(files: &[(&str, Vec<Value>)], context_toml: &str) -> Vec<Finding> {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    for (name, records) in files {
        write(&logs, name, records);
    }
    let context = Context::from_toml_str(context_toml, dir.path()).expect("context");
    common::hunt(&[logs], context).findings
}

fn of<'a>(findings: &'a [Finding], analytic: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.analytic.as_deref() == Some(analytic))
        .collect()
}

fn cites(finding: &Finding, record: &Value) -> bool {
    let id = record
        .get("Id")
        .or_else(|| record.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    finding
        .evidence
        .iter()
        .any(|e| e.record_id.as_deref() == Some(id))
}

fn cited_by_any(findings: &[&Finding], record: &Value) -> bool {
    findings.iter().any(|f| cites(f, record))
}

fn reasons(f: &Finding) -> String {
    f.severity
        .reasons
        .iter()
        .map(|r| r.reason.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

// ------------------------------------------------------------------------------ AN1051

/// Mailbox-audit `AddFolderPermissions` (RecordType 2) by the owner, from Outlook.
fn folder_share(id: u32, time: &str, owner: &str, path: &str, rights: &str, member: &str) -> Value {
    json!({"CreationTime": time, "Id": guid(id), "Operation": "AddFolderPermissions",
        "OrganizationId": CONTOSO, "RecordType": 2, "ResultStatus": "Succeeded",
        "UserKey": "1003BBC86B7BFBD2", "UserType": 0, "Version": 1, "Workload": "Exchange",
        "UserId": owner, "ClientIPAddress": "198.18.10.33", "ClientInfoString": "Client=MSExchangeRPC",
        "ExternalAccess": false, "LogonType": 0, "MailboxOwnerUPN": owner,
        "OrganizationName": "contoso.onmicrosoft.com",
        "Item": {"Id": "RgAAAA1", "ParentFolder": {"Id": "LgAAAA1", "Path": path,
            "MemberRights": rights, "MemberUpn": member, "MemberSid": "S-1-5-21-1-2-3-4"}}})
}

/// ExchangeAdmin `Add-MailboxPermission` (RecordType 1), `Parameters` as typed.
fn admin_grant(
    id: u32,
    time: &str,
    org: &str,
    actor: &str,
    identity: &str,
    user: &str,
    status: &str,
) -> Value {
    json!({"CreationTime": time, "Id": guid(id), "Operation": "Add-MailboxPermission",
        "OrganizationId": org, "RecordType": 1, "ResultStatus": status,
        "UserKey": "1003BF73CDD8726C", "UserType": 2, "Version": 1, "Workload": "Exchange",
        "ClientIP": "198.18.10.33:5000",
        "ObjectId": format!("NAMPR10A011.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/{identity}"),
        "UserId": actor, "ExternalAccess": false, "OrganizationName": "contoso.onmicrosoft.com",
        "Parameters": [{"Name": "Identity", "Value": identity}, {"Name": "User", "Value": user},
                       {"Name": "AccessRights", "Value": "FullAccess"}],
        "TokenTenantId": org, "ActorContextId": org})
}

const AN1051_CONTEXT: &str = r#"
[sensitive_mailboxes]
executive = ["ceo@contoso.com"]

[admins]
accounts = ["helpdesk@contoso.com"]
"#;

#[test]
fn an1051_reads_memberrights_flag_lists() {
    let editor = folder_share(
        1,
        "2025-03-06T09:00:18",
        "ceo@contoso.com",
        "\\Inbox",
        "ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny, Visible",
        "attacker@evil.example",
    );
    let reviewer_out = folder_share(
        2,
        "2025-03-06T09:10:18",
        "ceo@contoso.com",
        "\\Inbox",
        "ReadAny, Visible",
        "reader@evil.example",
    );
    let everyone = folder_share(
        3,
        "2025-03-06T09:20:18",
        "ceo@contoso.com",
        "\\Posteingang\\Rechnungen",
        "ReadAny, Visible",
        "Everyone",
    );
    // Look-alikes: a colleague gets Reviewer on the calendar (not a delegate level), a
    // free/busy share with an outsider (no read right), an Editor share of a folder outside
    // FolderTargetScope.
    let colleague = folder_share(
        4,
        "2025-03-06T10:00:18",
        "bob@contoso.com",
        "\\Calendar",
        "ReadAny, Visible",
        "alice@contoso.com",
    );
    let freebusy = folder_share(
        5,
        "2025-03-06T10:10:18",
        "bob@contoso.com",
        "\\Calendar",
        "FreeBusySimple",
        "partner@other.example",
    );
    let contacts = folder_share(
        6,
        "2025-03-06T10:20:18",
        "bob@contoso.com",
        "\\Contacts",
        "ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny, Visible",
        "alice@contoso.com",
    );
    let records = vec![
        editor.clone(),
        reviewer_out.clone(),
        everyone.clone(),
        colleague.clone(),
        freebusy.clone(),
        contacts.clone(),
    ];
    let findings = hunt(&[("ual.jsonl", records)], AN1051_CONTEXT);
    let an1051 = of(&findings, "AN1051");
    for r in [&editor, &reviewer_out, &everyone] {
        assert!(
            cited_by_any(&an1051, r),
            "no AN1051 finding for {r}\n{an1051:#?}"
        );
    }
    for r in [&colleague, &freebusy, &contacts] {
        assert!(!cited_by_any(&an1051, r), "look-alike reported: {r}");
    }
}

#[test]
fn an1051_listed_admin_by_alias_is_lowered_not_suppressed() {
    let alias = admin_grant(
        10,
        "2025-03-06T09:55:09",
        CONTOSO,
        "helpdesk@contoso.com",
        "ceo",
        "eve",
        "True",
    );
    let findings = hunt(&[("alias.jsonl", vec![alias.clone()])], AN1051_CONTEXT);
    let an1051 = of(&findings, "AN1051");
    let f = an1051
        .iter()
        .find(|f| cites(f, &alias))
        .expect("finding for the admin's grant by alias");
    let why = reasons(f);
    assert!(
        why.contains("ceo@contoso.com"),
        "alias not resolved to the sensitive mailbox: {why}"
    );
    assert!(
        why.contains("allow list"),
        "lowering does not name the allow list: {why}"
    );
    // The same admin typed as DOMAIN\user is the same person (lowered); another domain's
    // `helpdesk@` is not (no admin reason); a routine grant (non-sensitive mailbox,
    // same-domain delegate) by the admin stays with the inventory.
    let same = admin_grant(
        11,
        "2025-03-07T09:55:09",
        CONTOSO,
        "CONTOSO\\helpdesk",
        "ceo",
        "eve",
        "True",
    );
    let other = admin_grant(
        12,
        "2025-03-08T09:55:09",
        CONTOSO,
        "helpdesk@evil.example",
        "ceo@contoso.com",
        "eve@contoso.com",
        "True",
    );
    let routine = admin_grant(
        13,
        "2025-03-09T09:55:09",
        CONTOSO,
        "helpdesk@contoso.com",
        "sales@contoso.com",
        "bob@contoso.com",
        "True",
    );
    let findings = hunt(
        &[(
            "more.jsonl",
            vec![same.clone(), other.clone(), routine.clone()],
        )],
        AN1051_CONTEXT,
    );
    let an1051 = of(&findings, "AN1051");
    let f = an1051
        .iter()
        .find(|f| cites(f, &same))
        .expect("DOMAIN\\user form");
    assert!(reasons(f).contains("listed admin"), "{}", reasons(f));
    let f = an1051
        .iter()
        .find(|f| cites(f, &other))
        .expect("another domain's helpdesk@");
    assert!(
        !reasons(f).contains("listed admin"),
        "a different person was taken for the admin: {}",
        reasons(f)
    );
    assert!(
        !cited_by_any(&an1051, &routine),
        "routine admin grant reported"
    );
}

#[test]
fn an1051_one_finding_per_tenant_and_failures_excluded() {
    let a = admin_grant(
        20,
        "2025-03-06T09:55:00",
        CONTOSO,
        "tech@msp.example",
        "info",
        "tech@msp.example",
        "True",
    );
    let b = admin_grant(
        21,
        "2025-03-06T10:20:00",
        FABRIKAM_CUSTOMER,
        "tech@msp.example",
        "info",
        "tech@msp.example",
        "True",
    );
    let failed = admin_grant(
        22,
        "2025-03-06T11:00:00",
        CONTOSO,
        "tech@msp.example",
        "ceo@contoso.com",
        "tech@msp.example",
        "False",
    );
    let system = json!({"CreationTime": "2025-03-06T07:42:10", "Id": guid(23), "Operation": "Add-MailboxPermission",
        "OrganizationId": CONTOSO, "RecordType": 1, "ResultStatus": "True",
        "UserKey": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", "UserType": 3, "Version": 1,
        "Workload": "Exchange", "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
        "ObjectId": "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}",
        "Parameters": [{"Name": "Identity", "Value": "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}"},
                       {"Name": "User", "Value": "Discovery Management"}, {"Name": "AccessRights", "Value": "FullAccess"}]});
    let findings = hunt(
        &[
            ("a.jsonl", vec![a.clone(), failed.clone(), system.clone()]),
            ("b.jsonl", vec![b.clone()]),
        ],
        AN1051_CONTEXT,
    );
    let an1051 = of(&findings, "AN1051");
    for (r, tenant) in [(&a, CONTOSO), (&b, FABRIKAM_CUSTOMER)] {
        assert!(
            an1051
                .iter()
                .any(|f| cites(f, r) && f.entities.tenant.as_deref() == Some(tenant)),
            "no finding of tenant {tenant}: {an1051:#?}"
        );
    }
    assert!(
        !an1051.iter().any(|f| cites(f, &a) && cites(f, &b)),
        "tenants merged"
    );
    assert!(!cited_by_any(&an1051, &failed), "failed grant reported");
    let alerts: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Alert)
        .collect();
    assert!(
        !cited_by_any(&alerts, &system),
        "ServiceHost record cited by an alert"
    );
}

// ------------------------------------------------------------------------------ AN1347

/// Graph `signIn` of a partner technician into the customer (service provider).
fn sp_signin(id: u32, time: &str, home: &str, requirement: &str, error: i64) -> Value {
    json!({"id": guid(id), "createdDateTime": time, "userPrincipalName": format!("tech{id}@partner.example"),
        "userId": guid(id + 1000), "appDisplayName": "Microsoft Office 365 Portal",
        "ipAddress": "203.0.113.45", "crossTenantAccessType": "serviceProvider",
        "homeTenantId": home, "resourceTenantId": CONTOSO,
        "authenticationRequirement": requirement,
        "status": {"errorCode": error, "failureReason": if error == 0 { "Other." } else { "Strong Authentication is required." }}})
}

/// Graph `directoryAudit` "Add member to role" by a user of `home`.
fn role_by_user(id: u32, time: &str, home: &str, role: &str, result: &str) -> Value {
    json!({"id": format!("Directory_{}", guid(id)), "category": "RoleManagement",
        "correlationId": guid(id), "result": result, "activityDisplayName": "Add member to role",
        "activityDateTime": time, "loggedByService": "Core Directory", "operationType": "Assign",
        "initiatedBy": {"app": null, "user": {"id": guid(id + 1), "userPrincipalName": "admin@partner.example",
            "ipAddress": "192.0.2.99", "homeTenantId": home}},
        "targetResources": [
            {"id": guid(id + 2), "displayName": role, "type": "Role",
             "modifiedProperties": [{"displayName": "Role.DisplayName", "oldValue": null, "newValue": format!("\"{role}\"")}]},
            {"id": guid(id + 3), "displayName": "Admin Agents", "type": "Group", "modifiedProperties": []}],
        "additionalDetails": []})
}

const AN1347_CONTEXT: &str = r#"
[[partners]]
name = "Northwind IT Services"
tenant_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
approved = true
"#;

#[test]
fn an1347_one_finding_per_tenant_and_partner() {
    let nw = sp_signin(
        30,
        "2025-03-06T09:00:00Z",
        NORTHWIND,
        "singleFactorAuthentication",
        0,
    );
    let unk = sp_signin(
        31,
        "2025-03-06T10:00:00Z",
        UNKNOWN,
        "multiFactorAuthentication",
        0,
    );
    let unk2 = sp_signin(
        32,
        "2025-03-06T10:30:00Z",
        OTHER_UNKNOWN,
        "multiFactorAuthentication",
        0,
    );
    // Look-alikes: the approved partner with MFA; a failed sign-in of a third unknown tenant.
    let nw_mfa = sp_signin(
        33,
        "2025-03-07T09:00:00Z",
        NORTHWIND,
        "multiFactorAuthentication",
        0,
    );
    let failed = sp_signin(
        34,
        "2025-03-06T11:00:00Z",
        "abad1dea-0000-4000-8000-000000000bad",
        "singleFactorAuthentication",
        50076,
    );
    let findings = hunt(
        &[(
            "signins.json",
            vec![
                nw.clone(),
                unk.clone(),
                unk2.clone(),
                nw_mfa.clone(),
                failed.clone(),
            ],
        )],
        AN1347_CONTEXT,
    );
    let an1347 = of(&findings, "AN1347");
    let nw_f = an1347
        .iter()
        .find(|f| cites(f, &nw))
        .expect("Northwind without MFA");
    assert!(
        nw_f.entities
            .partner
            .as_deref()
            .is_some_and(|p| p.contains(NORTHWIND))
    );
    for (r, tenant) in [(&unk, UNKNOWN), (&unk2, OTHER_UNKNOWN)] {
        let f = an1347
            .iter()
            .find(|f| cites(f, r))
            .expect("unknown partner finding");
        assert_eq!(f.entities.partner.as_deref(), Some(tenant));
        assert!(
            reasons(f).contains(tenant),
            "unknown tenant not named: {}",
            reasons(f)
        );
    }
    assert!(
        !an1347
            .iter()
            .any(|f| (cites(f, &nw) as u8 + cites(f, &unk) as u8 + cites(f, &unk2) as u8) > 1),
        "partners merged: {an1347:#?}"
    );
    assert!(
        !cited_by_any(&an1347, &nw_mfa),
        "approved partner with MFA reported"
    );
    assert!(!cited_by_any(&an1347, &failed), "failed sign-in reported");
}

#[test]
fn an1347_unknown_partner_role_never_allowed_by_default_list() {
    // Graph directoryAudit export: no tenant id on the record; the actor's home tenant names
    // the partner. Exchange Administrator is in the default RoleScopeAllowList.
    let exch = role_by_user(
        40,
        "2025-03-06T09:08:02Z",
        UNKNOWN,
        "Exchange Administrator",
        "success",
    );
    let reader = role_by_user(
        41,
        "2025-03-06T09:09:02Z",
        UNKNOWN,
        "Security Reader",
        "success",
    );
    // Look-alikes: the approved partner given an allowed role; a failed assignment.
    let nw = role_by_user(
        42,
        "2025-03-06T09:10:02Z",
        NORTHWIND,
        "Exchange Administrator",
        "success",
    );
    let failed = role_by_user(
        43,
        "2025-03-06T09:11:02Z",
        OTHER_UNKNOWN,
        "Global Administrator",
        "failure",
    );
    let findings = hunt(
        &[(
            "audits.json",
            vec![exch.clone(), reader.clone(), nw.clone(), failed.clone()],
        )],
        AN1347_CONTEXT,
    );
    let an1347 = of(&findings, "AN1347");
    for r in [&exch, &reader] {
        let f = an1347
            .iter()
            .find(|f| cites(f, r))
            .expect("unknown partner's role assignment");
        assert!(reasons(f).contains(UNKNOWN), "{}", reasons(f));
    }
    assert!(
        !cited_by_any(&an1347, &nw),
        "approved partner's allowed role reported"
    );
    assert!(
        !cited_by_any(&an1347, &failed),
        "failed role assignment reported"
    );
}

#[test]
fn an1347_mfa_satisfied_by_home_tenant_is_mfa() {
    let mut claim = sp_signin(
        50,
        "2025-03-06T09:00:00Z",
        NORTHWIND,
        "multiFactorAuthentication",
        0,
    );
    if let Some(map) = claim.as_object_mut() {
        map.insert(
            "authenticationDetails".into(),
            json!([{"authenticationStepDateTime": "2025-03-06T09:00:00Z",
            "authenticationMethod": "Previously satisfied", "succeeded": true,
            "authenticationStepResultDetail": "MFA requirement satisfied by claim in the token"}]),
        );
    }
    let mut password = sp_signin(51, "2025-03-06T12:00:00Z", NORTHWIND, "", 0);
    if let Some(map) = password.as_object_mut() {
        map.remove("authenticationRequirement");
        map.insert(
            "authenticationDetails".into(),
            json!([{"authenticationMethod": "Password",
            "succeeded": true, "authenticationStepResultDetail": "Correct password"}]),
        );
    }
    let findings = hunt(
        &[("signins.json", vec![claim.clone(), password.clone()])],
        AN1347_CONTEXT,
    );
    let an1347 = of(&findings, "AN1347");
    assert!(
        !cited_by_any(&an1347, &claim),
        "MFA by the partner's home tenant taken as no MFA"
    );
    assert!(
        cited_by_any(&an1347, &password),
        "password-only partner sign-in not reported"
    );
}

/// Graph `directoryAudit` written by a GDAP approval: the partner's cross-tenant access
/// setting (Partner Customer Delegated Administration app, `tenantId` modified property),
/// or a role assignment by the Offline Processor, which names no partner.
fn gdap_policy(id: u32, time: &str, partner: &str) -> Value {
    json!({"id": format!("Directory_{}", guid(id)), "category": "CrossTenantAccessSettings",
        "correlationId": guid(id), "result": "success",
        "activityDisplayName": "Add a partner to cross-tenant access setting",
        "activityDateTime": time, "loggedByService": "Core Directory", "operationType": "Add",
        "initiatedBy": {"app": {"appId": "2832473f-ec63-45fb-976f-5d45a7d4bb91",
            "displayName": "Partner Customer Delegated Administration"}, "user": null},
        "targetResources": [{"id": guid(id + 1), "displayName": null, "type": "Policy",
            "modifiedProperties": [
                {"displayName": "tenantId", "oldValue": null, "newValue": format!("[\"{partner}\"]")},
                {"displayName": "isServiceProvider", "oldValue": null, "newValue": "[true]"}]}],
        "additionalDetails": []})
}

fn gdap_role(id: u32, time: &str, role: &str) -> Value {
    json!({"id": format!("Directory_{}", guid(id)), "category": "RoleManagement",
        "correlationId": guid(id), "result": "success", "activityDisplayName": "Add member to role",
        "activityDateTime": time, "loggedByService": "Core Directory", "operationType": "Assign",
        "initiatedBy": {"app": {"appId": "a3475900-ccec-4a69-98f5-a65cd5dc5306",
            "displayName": "Partner Customer Delegated Admin Offline Processor"}, "user": null},
        "targetResources": [
            {"id": guid(id + 2), "displayName": "Partner AdminAgents", "type": "Group", "modifiedProperties": [
                {"displayName": "Role.DisplayName", "oldValue": null, "newValue": format!("\"{role}\"")}]},
            {"id": guid(id + 3), "displayName": role, "type": "Role", "modifiedProperties": []}],
        "additionalDetails": []})
}

#[test]
fn an1347_gdap_role_takes_the_partner_of_its_approval() {
    // The unknown partner's approval, then its Exchange Administrator role seconds later.
    let policy = gdap_policy(60, "2025-03-06T10:00:02Z", UNKNOWN);
    let role = gdap_role(61, "2025-03-06T10:00:36Z", "Exchange Administrator");
    // Look-alike: the approved partner's approval and an allowed role (silent); an
    // unnamed role assignment an hour after any approval is not given a partner.
    let nw_policy = gdap_policy(62, "2025-03-07T10:00:02Z", NORTHWIND);
    let nw_role = gdap_role(63, "2025-03-07T10:00:30Z", "Exchange Administrator");
    let late = gdap_role(64, "2025-03-07T11:30:00Z", "Global Administrator");
    let findings = hunt(
        &[(
            "audits.json",
            vec![
                policy,
                role.clone(),
                nw_policy,
                nw_role.clone(),
                late.clone(),
            ],
        )],
        AN1347_CONTEXT,
    );
    let an1347 = of(&findings, "AN1347");
    let f = an1347
        .iter()
        .find(|f| cites(f, &role))
        .expect("unknown partner's GDAP role");
    assert_eq!(f.entities.partner.as_deref(), Some(UNKNOWN));
    assert!(
        !cited_by_any(&an1347, &nw_role),
        "approved partner's allowed role reported"
    );
    let f = an1347
        .iter()
        .find(|f| cites(f, &late))
        .expect("unnamed GDAP role still reported");
    assert_eq!(f.entities.partner, None);
}
