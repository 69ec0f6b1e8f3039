//! AN1350's contract (analytics/AN1350/README.md), one test per promise, each positive with
//! the look-alike that must stay silent.
//!
//! Records are written here from Microsoft's documented shapes (Office 365 Management
//! Activity API common schema, ExchangeAdmin and mailbox-audit records, the Azure AD
//! schema in the UAL; Graph `signIn` and `directoryAudit`), see
//! `../shared/reference/logformats.md` §1.2–1.4a and §2: UAL `CreationTime` without a
//! zone, `UserType` 9 = PartnerTechnician, the actor's tenant in `ActorContextId` /
//! `TokenTenantId`, the accessing user's tenant in `ExternalUserTenantId`, `LogonType` 6
//! = delegated admin, Graph sign-ins with `crossTenantAccessType: serviceProvider` and
//! `homeTenantId` = the partner, `status.errorCode` 0 = success.

mod common;

use serde_json::{Value, json};
use std::path::Path;
use trustpath_context::Context;
use trustpath_report::{Finding, FindingKind, Level};

const CONTOSO: &str = "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34";
const FABRIKAM: &str = "c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f";
const NORTHWIND: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const FAB_TECH: &str = "tech.ops@fabrikam-msp.com";
const FAB_IP: &str = "203.0.113.45";
const OFFICE_NAT: &str = "198.18.10.33";

fn guid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

/// UAL `Add partner to company.` (AzureActiveDirectory, RecordType 8) by a partner
/// technician; the partner tenant in `ModifiedProperties` `Partner.TenantId`.
fn add_partner(id: u32, time: &str, partner: &str, tech: &str, ip: &str) -> Value {
    json!({"CreationTime": time, "Id": guid(id), "Operation": "Add partner to company.",
        "OrganizationId": CONTOSO, "RecordType": 8, "ResultStatus": "Success",
        "UserKey": "1003BF73CDD8726C", "UserType": 9, "Version": 1,
        "Workload": "AzureActiveDirectory", "ObjectId": "Partner", "UserId": tech,
        "ModifiedProperties": [{"Name": "Partner.TenantId", "NewValue": partner, "OldValue": ""}],
        "Actor": [{"ID": tech, "Type": 5}], "ActorContextId": partner, "ActorIpAddress": ip,
        "Target": [{"ID": "Partner", "Type": 1}], "TargetContextId": CONTOSO})
}

/// UAL ExchangeAdmin (RecordType 1) `Add-MailboxPermission`. `home` is the actor's tenant
/// (`ActorContextId`/`TokenTenantId`; the customer's own for internal admins).
fn grant(
    id: u32,
    time: &str,
    actor: &str,
    home: &str,
    ip: &str,
    mailbox: &str,
    user: &str,
) -> Value {
    let partner = home != CONTOSO;
    json!({"CreationTime": time, "Id": guid(id), "Operation": "Add-MailboxPermission",
        "OrganizationId": CONTOSO, "RecordType": 1, "ResultStatus": "True",
        "UserKey": "1003BF73CDD8726C", "UserType": if partner { 9 } else { 2 }, "Version": 1,
        "Workload": "Exchange", "ClientIP": format!("{ip}:43025"),
        "ObjectId": format!("NAMPR10A011.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/{mailbox}"),
        "UserId": actor, "ExternalAccess": partner, "OrganizationName": "contoso.onmicrosoft.com",
        "Parameters": [{"Name": "Identity", "Value": mailbox}, {"Name": "User", "Value": user},
                       {"Name": "AccessRights", "Value": "FullAccess"}],
        "ActorContextId": home, "TokenTenantId": home})
}

/// UAL mailbox audit `MailItemsAccessed` (RecordType 50) by a non-owner. `external` is the
/// accessing user's tenant when it is not the customer's.
fn read(id: u32, time: &str, user: &str, external: Option<&str>, ip: &str, owner: &str) -> Value {
    let mut record = json!({"CreationTime": time, "Id": guid(id), "Operation": "MailItemsAccessed",
        "OrganizationId": CONTOSO, "RecordType": 50, "ResultStatus": "Succeeded",
        "UserKey": "1003BF73CDD8726D", "UserType": 0, "Version": 1, "Workload": "Exchange",
        "UserId": user, "ClientIPAddress": ip, "ExternalAccess": external.is_some(),
        "InternalLogonType": 0, "LogonType": if external.is_some() { 6 } else { 2 },
        "MailboxOwnerUPN": owner, "OperationCount": 3,
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}],
        "Folders": [{"FolderItems": [{"InternetMessageId": "<a@contoso.com>"}], "Path": "\\Inbox"}]});
    if let (Some(t), Some(map)) = (external, record.as_object_mut()) {
        map.insert("ExternalUserTenantId".into(), json!(t));
    }
    record
}

/// Graph `signIn` of a partner technician into the customer tenant.
fn partner_signin(id: u32, time: &str, error: i64) -> Value {
    json!({"id": guid(id), "createdDateTime": time, "userPrincipalName": FAB_TECH,
        "userDisplayName": "tech.ops", "userId": guid(9000 + id), "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": "Office 365 Exchange Online", "ipAddress": FAB_IP, "isInteractive": true,
        "resourceTenantId": CONTOSO, "homeTenantId": FABRIKAM, "crossTenantAccessType": "serviceProvider",
        "userType": "member", "signInEventTypes": ["interactiveUser"],
        "authenticationRequirement": "multiFactorAuthentication",
        "status": {"errorCode": error, "failureReason": if error == 0 { "Other." } else { "Invalid username or password." }, "additionalDetails": null}})
}

/// Graph `directoryAudit` "Add member to role" by the GDAP offline processor app: the
/// partner's Admin Agents group gets Exchange Administrator (a GDAP access assignment).
/// With `by_user` the same change made by a customer admin instead.
fn gdap_role_assignment(id: u32, time: &str, by_user: Option<&str>) -> Value {
    let initiated = match by_user {
        None => json!({"app": {"appId": "a3475900-ccec-4a69-98f5-a65cd5dc5306",
            "displayName": "Partner Customer Delegated Admin Offline Processor",
            "servicePrincipalId": guid(77), "servicePrincipalName": null}, "user": null}),
        Some(upn) => json!({"app": null, "user": {"id": guid(78), "displayName": "Admin",
            "userPrincipalName": upn, "ipAddress": OFFICE_NAT}}),
    };
    json!({"id": format!("Directory_{}", guid(id)), "category": "RoleManagement",
        "correlationId": guid(id + 1), "result": "success", "resultReason": "",
        "activityDisplayName": "Add member to role", "activityDateTime": time,
        "loggedByService": "Core Directory", "operationType": "Assign", "initiatedBy": initiated,
        "targetResources": [
            {"id": guid(id + 2), "displayName": "Exchange Administrator", "type": "Role",
             "modifiedProperties": [{"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Exchange Administrator\""}]},
            {"id": guid(id + 3), "displayName": "Fabrikam Managed Services Admin Agents", "type": "Group", "modifiedProperties": []}],
        "additionalDetails": []})
}

fn write_lines(dir: &Path, name: &str, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(dir.join(name), text).expect("write fixture");
}

fn hunt(files: &[(&str, Vec<Value>)], context_toml: &str, tickets: Option<&str>) -> Vec<Finding> {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    for (name, records) in files {
        if name.ends_with(".json") {
            // A Graph response page, as the API returns it.
            let kind = if name.contains("signin") {
                "signIns"
            } else {
                "directoryAudits"
            };
            let page = json!({
                "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#auditLogs/{kind}"),
                "value": records,
            });
            std::fs::write(logs.join(name), page.to_string()).expect("write");
        } else {
            write_lines(&logs, name, records);
        }
    }
    if let Some(csv) = tickets {
        std::fs::write(dir.path().join("tickets.csv"), csv).expect("tickets");
    }
    let context = Context::from_toml_str(context_toml, dir.path()).expect("context");
    common::hunt(&[logs], context).findings
}

fn an1350(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.analytic.as_deref() == Some("AN1350"))
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

fn alerts<'a>(findings: &'a [&'a Finding]) -> Vec<&'a Finding> {
    findings
        .iter()
        .copied()
        .filter(|f| f.kind == FindingKind::Alert)
        .collect()
}

/// The partner's own chain: relationship, grant on ceo@ by its technician, read of ceo@.
fn fabrikam_chain() -> (Value, Value, Value) {
    (
        add_partner(1, "2025-03-06T09:00:18", FABRIKAM, FAB_TECH, FAB_IP),
        grant(
            2,
            "2025-03-06T09:55:09",
            FAB_TECH,
            FABRIKAM,
            FAB_IP,
            "ceo@contoso.com",
            FAB_TECH,
        ),
        read(
            3,
            "2025-03-06T11:26:36",
            FAB_TECH,
            Some(FABRIKAM),
            FAB_IP,
            "ceo@contoso.com",
        ),
    )
}

#[test]
fn the_partners_own_chain_is_a_complete_alert() {
    let (rel, g, r) = fabrikam_chain();
    let findings = hunt(
        &[("ual.jsonl", vec![rel.clone(), g.clone(), r.clone()])],
        "",
        None,
    );
    let chains = an1350(&findings);
    let alerts = alerts(&chains);
    assert_eq!(alerts.len(), 1, "{chains:#?}");
    let alert = alerts[0];
    assert!(cites(alert, &rel) && cites(alert, &g) && cites(alert, &r));
    assert!(
        alert
            .entities
            .partner
            .as_deref()
            .is_some_and(|p| p.contains(FABRIKAM))
    );
    assert_eq!(alert.entities.mailbox.as_deref(), Some("ceo@contoso.com"));
}

#[test]
fn an_internal_delegation_used_from_the_office_nat_is_no_partner_chain() {
    let (rel, _, _) = fabrikam_chain();
    let g = grant(
        2,
        "2025-03-08T10:00:00",
        "admin@contoso.com",
        CONTOSO,
        OFFICE_NAT,
        "ceo@contoso.com",
        "ea@contoso.com",
    );
    let r = read(
        3,
        "2025-03-08T10:30:00",
        "ea@contoso.com",
        None,
        OFFICE_NAT,
        "ceo@contoso.com",
    );
    let with_ranges = format!(
        "[[partners]]\nname = \"Fabrikam\"\ntenant_id = \"{FABRIKAM}\"\ncidrs = [\"203.0.113.0/24\"]\napproved = true\n"
    );
    for (records, context) in [
        (vec![rel.clone(), g.clone(), r.clone()], String::new()),
        (vec![rel.clone(), g.clone(), r.clone()], with_ranges),
        (vec![g.clone(), r.clone()], String::new()),
    ] {
        let findings = hunt(&[("ual.jsonl", records)], &context, None);
        let bad: Vec<_> = an1350(&findings)
            .into_iter()
            .filter(|f| cites(f, &g) || cites(f, &r))
            .collect();
        assert!(bad.is_empty(), "AN1350 on an internal delegation: {bad:#?}");
        // The grant itself is still reported, as AN1051, and stays an alert.
        assert!(
            findings
                .iter()
                .any(|f| f.analytic.as_deref() == Some("AN1051")
                    && f.kind == FindingKind::Alert
                    && cites(f, &g))
        );
    }
}

#[test]
fn a_b2b_cross_tenant_setting_by_the_tenants_own_admin_is_not_a_partner_relationship() {
    // Entra "Update a partner cross-tenant access setting": "partner" is Entra's word for
    // any external organisation; here the tenant's own admin edits B2B settings.
    let xtap = json!({"id": "Directory_xtap_1", "category": "CrossTenantAccessSettings",
        "result": "success", "activityDisplayName": "Update a partner cross-tenant access setting",
        "activityDateTime": "2025-03-08T09:00:00Z", "loggedByService": "Core Directory",
        "operationType": "Update",
        "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.com", "ipAddress": OFFICE_NAT, "id": guid(5)}, "app": null},
        "targetResources": [{"id": guid(6), "displayName": null, "type": "Policy",
            "modifiedProperties": [{"displayName": "tenantId", "oldValue": null, "newValue": format!("\"{NORTHWIND}\"")},
                                   {"displayName": "b2bCollaborationInbound", "oldValue": null, "newValue": "\"{}\""}]}]});
    let mut g = grant(
        2,
        "2025-03-08T10:00:00",
        "admin@contoso.com",
        CONTOSO,
        OFFICE_NAT,
        "ceo@contoso.com",
        "ea@contoso.com",
    );
    g["OrganizationId"] = json!(CONTOSO);
    let r = read(
        3,
        "2025-03-08T10:30:00",
        "ea@contoso.com",
        None,
        OFFICE_NAT,
        "ceo@contoso.com",
    );
    let findings = hunt(
        &[("audits.json", vec![xtap]), ("ual.jsonl", vec![g, r])],
        "",
        None,
    );
    assert!(alerts(&an1350(&findings)).is_empty(), "{findings:#?}");
}

#[test]
fn a_second_partner_never_inherits_another_partners_chain() {
    let nw_rel = add_partner(
        10,
        "2025-03-06T08:30:00",
        NORTHWIND,
        "tech@northwind-it.example",
        "198.51.100.7",
    );
    let (rel, g, r) = fabrikam_chain();
    let context = format!(
        "[[partners]]\nname = \"Northwind IT Services\"\ntenant_id = \"{NORTHWIND}\"\ncidrs = [\"198.51.100.0/24\"]\napproved = true\n"
    );
    let findings = hunt(
        &[("ual.jsonl", vec![nw_rel.clone(), rel, g, r])],
        &context,
        None,
    );
    let chains = an1350(&findings);
    assert!(chains.iter().all(|f| !cites(f, &nw_rel)), "{chains:#?}");
    assert!(chains.iter().all(|f| {
        !f.entities
            .partner
            .as_deref()
            .unwrap_or("")
            .contains("Northwind")
    }));
    assert_eq!(alerts(&chains).len(), 1);
}

#[test]
fn a_failed_sign_in_is_not_access() {
    let (rel, g, _) = fabrikam_chain();
    let failed = partner_signin(20, "2025-03-06T11:20:48Z", 50126);
    let findings = hunt(
        &[
            ("ual.jsonl", vec![rel.clone(), g.clone()]),
            ("signins.json", vec![failed.clone()]),
        ],
        "",
        None,
    );
    let chains = an1350(&findings);
    assert!(alerts(&chains).is_empty(), "{chains:#?}");
    assert!(chains.iter().all(|f| !cites(f, &failed)));
    let lead = chains
        .iter()
        .find(|f| cites(f, &rel) && cites(f, &g))
        .expect("the 1+2 lead");
    assert_eq!(lead.kind, FindingKind::HuntingLead);
    // The same sign-in, successful, completes the chain.
    let ok = partner_signin(20, "2025-03-06T11:20:48Z", 0);
    let findings = hunt(
        &[
            ("ual.jsonl", vec![rel, g]),
            ("signins.json", vec![ok.clone()]),
        ],
        "",
        None,
    );
    assert!(alerts(&an1350(&findings)).iter().any(|f| cites(f, &ok)));
}

#[test]
fn a_gdap_access_assignment_is_step_one() {
    let (_, g, r) = fabrikam_chain();
    let approval = gdap_role_assignment(30, "2025-03-06T09:08:02Z", None);
    let findings = hunt(
        &[
            ("audits.json", vec![approval.clone()]),
            ("ual.jsonl", vec![g.clone(), r.clone()]),
        ],
        "",
        None,
    );
    let alerts = alerts(&an1350(&findings))
        .into_iter()
        .filter(|f| cites(f, &approval) && cites(f, &g) && cites(f, &r))
        .count();
    assert_eq!(alerts, 1, "{findings:#?}");
    // The same role assignment made by a customer admin is no partner relationship: only
    // the partner's own 2+3 lead remains.
    let by_admin = gdap_role_assignment(30, "2025-03-06T09:08:02Z", Some("admin@contoso.com"));
    let findings = hunt(
        &[
            ("audits.json", vec![by_admin.clone()]),
            ("ual.jsonl", vec![g, r]),
        ],
        "",
        None,
    );
    let chains = an1350(&findings);
    assert!(
        alerts_of(&chains).is_empty() && chains.iter().all(|f| !cites(f, &by_admin)),
        "{chains:#?}"
    );
}

fn alerts_of<'a>(findings: &'a [&'a Finding]) -> Vec<&'a Finding> {
    alerts(findings)
}

#[test]
fn a_gdap_approval_in_the_unified_audit_log_is_step_one() {
    // The UAL's AzureActiveDirectory record of the same approval: UserType 4, the app id in
    // Actor[] and ExtendedProperties (logformats.md §1.4a).
    let approval = json!({"CreationTime": "2025-03-06T09:08:02", "Id": guid(31), "Operation": "Add member to role.",
        "OrganizationId": CONTOSO, "RecordType": 8, "ResultStatus": "Success", "UserKey": "Not Available",
        "UserType": 4, "Version": 1, "Workload": "AzureActiveDirectory", "ObjectId": "Exchange Administrator",
        "UserId": "ServicePrincipal_a3475900-ccec-4a69-98f5-a65cd5dc5306",
        "Actor": [{"ID": "Partner Customer Delegated Admin Offline Processor", "Type": 1},
                  {"ID": "a3475900-ccec-4a69-98f5-a65cd5dc5306", "Type": 2}, {"ID": "ServicePrincipal", "Type": 2}],
        "ActorContextId": CONTOSO,
        "ExtendedProperties": [{"Name": "actorAppID", "Value": "a3475900-ccec-4a69-98f5-a65cd5dc5306"}],
        "Target": [{"ID": "Role_29232cdf", "Type": 2}, {"ID": "Fabrikam Managed Services Admin Agents", "Type": 1}],
        "TargetContextId": CONTOSO});
    let (_, g, r) = fabrikam_chain();
    let findings = hunt(
        &[("ual.jsonl", vec![approval.clone(), g.clone(), r.clone()])],
        "",
        None,
    );
    assert!(
        alerts(&an1350(&findings))
            .iter()
            .any(|f| cites(f, &approval) && cites(f, &g) && cites(f, &r)),
        "{findings:#?}"
    );
}

#[test]
fn every_later_access_in_the_window_is_evidence() {
    let (rel, g, r1) = fabrikam_chain();
    let r2 = read(
        4,
        "2025-03-06T11:51:02",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let r3 = read(
        5,
        "2025-03-07T02:10:44",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let findings = hunt(
        &[(
            "ual.jsonl",
            vec![rel, g, r1.clone(), r2.clone(), r3.clone()],
        )],
        "",
        None,
    );
    let chains = an1350(&findings);
    assert!(
        chains
            .iter()
            .any(|f| cites(f, &r1) && cites(f, &r2) && cites(f, &r3)),
        "{chains:#?}"
    );
}

#[test]
fn the_window_tunable_drives_the_chain() {
    let rel = add_partner(1, "2025-03-01T09:00:00", FABRIKAM, FAB_TECH, FAB_IP);
    let g = grant(
        2,
        "2025-03-02T09:00:00",
        FAB_TECH,
        FABRIKAM,
        FAB_IP,
        "ceo@contoso.com",
        FAB_TECH,
    );
    let r = read(
        3,
        "2025-03-11T09:00:00",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let records = vec![rel, g, r];
    let wide = hunt(
        &[("ual.jsonl", records.clone())],
        "[analytics.AN1350]\nwindow = \"14d\"\n",
        None,
    );
    assert_eq!(alerts(&an1350(&wide)).len(), 1);
    let default = hunt(&[("ual.jsonl", records)], "", None);
    assert!(alerts(&an1350(&default)).is_empty());
    let (rel, g, r) = fabrikam_chain();
    let narrow = hunt(
        &[("ual.jsonl", vec![rel, g, r])],
        "[analytics.AN1350]\nwindow = \"1h\"\n",
        None,
    );
    assert!(
        alerts(&an1350(&narrow)).is_empty(),
        "steps 2.5 h apart with a 1 h window"
    );
}

#[test]
fn a_lead_never_claims_all_steps_within_the_window() {
    let rel = add_partner(1, "2025-03-01T09:00:18", FABRIKAM, FAB_TECH, FAB_IP);
    let g = grant(
        2,
        "2025-03-02T09:00:00",
        FAB_TECH,
        FABRIKAM,
        FAB_IP,
        "ceo@contoso.com",
        FAB_TECH,
    );
    let exact = read(
        3,
        "2025-03-08T09:00:18",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let late = read(
        3,
        "2025-03-08T09:00:19",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let on_time = hunt(
        &[("ual.jsonl", vec![rel.clone(), g.clone(), exact])],
        "",
        None,
    );
    assert_eq!(
        alerts(&an1350(&on_time)).len(),
        1,
        "the window is inclusive"
    );
    let findings = hunt(&[("ual.jsonl", vec![rel, g, late])], "", None);
    let chains = an1350(&findings);
    assert!(alerts(&chains).is_empty());
    for f in &chains {
        let text = f
            .severity
            .reasons
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(!text.contains("1+2+3"), "{text}");
    }
}

#[test]
fn ten_thousand_internal_grants_neither_evict_nor_slow_a_partner_chain() {
    let (rel, g, r) = fabrikam_chain();
    let mut records = vec![rel.clone()];
    for i in 0..10_000u32 {
        let time = format!("2025-03-06T09:{:02}:{:02}", 10 + (i / 60) % 40, i % 60);
        records.push(grant(
            100 + i,
            &time,
            "admin@contoso.com",
            CONTOSO,
            OFFICE_NAT,
            &format!("shared-{i}@contoso.com"),
            &format!("user{i}@contoso.com"),
        ));
    }
    records.push(g.clone());
    records.push(r.clone());
    // Speed is measured by `cargo bench -p trustpath-cli --bench scale`, not here.
    let findings = hunt(&[("ual.jsonl", records)], "", None);
    let chains = an1350(&findings);
    assert!(
        alerts(&chains)
            .iter()
            .any(|f| cites(f, &rel) && cites(f, &g) && cites(f, &r))
    );
}

#[test]
fn a_partners_ticket_does_not_authorise_another_actors_grant() {
    let rel = add_partner(1, "2025-03-06T09:00:18", FABRIKAM, FAB_TECH, FAB_IP);
    // eve (internal) grants herself on ceo@, and gives the partner's technician access too.
    let eve = grant(
        2,
        "2025-03-06T09:40:00",
        "eve@contoso.com",
        CONTOSO,
        OFFICE_NAT,
        "ceo@contoso.com",
        FAB_TECH,
    );
    let r = read(
        3,
        "2025-03-06T10:10:00",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let context = format!(
        "[[partners]]\nname = \"Fabrikam\"\ntenant_id = \"{FABRIKAM}\"\napproved = true\n[change_tickets]\ncsv = \"tickets.csv\"\n"
    );
    let tickets = "id,start,end,actor,target,action\nCHG-1042,2025-03-06T08:00:00Z,2025-03-06T18:00:00Z,Fabrikam,,\n";
    let findings = hunt(
        &[("ual.jsonl", vec![rel, eve.clone(), r])],
        &context,
        Some(tickets),
    );
    let citing: Vec<_> = findings.iter().filter(|f| cites(f, &eve)).collect();
    assert!(!citing.is_empty());
    assert!(citing.iter().all(|f| f.authorized.is_none()), "{citing:#?}");
}

#[test]
fn a_ticket_for_the_grant_does_not_cover_access_outside_the_support_window() {
    let (rel, g, _) = fabrikam_chain();
    // Saturday 8 March 2025, 02:10 UTC: outside Mon-Fri 08:00-18:00.
    let r = read(
        3,
        "2025-03-08T02:10:00",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let context = format!(
        "[[partners]]\nname = \"Fabrikam\"\ntenant_id = \"{FABRIKAM}\"\napproved = true\n\
         [[partners.support_windows]]\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"]\nstart = \"08:00\"\nend = \"18:00\"\n\
         [change_tickets]\ncsv = \"tickets.csv\"\n"
    );
    let tickets = format!(
        "id,start,end,actor,target,action\nCHG-2001,2025-03-06T09:00:00Z,2025-03-06T10:00:00Z,{FAB_TECH},ceo@contoso.com,Add-MailboxPermission\n"
    );
    let findings = hunt(
        &[("ual.jsonl", vec![rel.clone(), g.clone(), r.clone()])],
        &context,
        Some(&tickets),
    );
    let chain = an1350(&findings)
        .into_iter()
        .find(|f| cites(f, &r))
        .expect("chain");
    assert_eq!(chain.authorized, None);
    // Inside the window the same chain is authorised, by the ticket.
    let r_ok = read(
        3,
        "2025-03-06T11:26:36",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let findings = hunt(
        &[("ual.jsonl", vec![rel, g, r_ok.clone()])],
        &context,
        Some(&tickets),
    );
    let chain = an1350(&findings)
        .into_iter()
        .find(|f| cites(f, &r_ok))
        .expect("chain");
    assert_eq!(chain.authorized.as_deref(), Some("CHG-2001"));
}

#[test]
fn the_allow_list_lowers_only_when_every_delegated_mailbox_is_allowed() {
    let rel = add_partner(1, "2025-03-06T09:00:18", FABRIKAM, FAB_TECH, FAB_IP);
    let shared = grant(
        2,
        "2025-03-06T09:50:00",
        FAB_TECH,
        FABRIKAM,
        FAB_IP,
        "shared-projects@contoso.com",
        FAB_TECH,
    );
    let ceo = grant(
        3,
        "2025-03-06T09:55:09",
        FAB_TECH,
        FABRIKAM,
        FAB_IP,
        "ceo@contoso.com",
        FAB_TECH,
    );
    let r = read(
        4,
        "2025-03-06T11:26:36",
        FAB_TECH,
        Some(FABRIKAM),
        FAB_IP,
        "ceo@contoso.com",
    );
    let context = format!(
        "[[partners]]\nname = \"Fabrikam\"\ntenant_id = \"{FABRIKAM}\"\napproved = true\n\
         [analytics.AN1350]\nMailboxDelegateAllowList = [\"shared-*@contoso.com\"]\n"
    );
    let findings = hunt(
        &[("ual.jsonl", vec![rel, shared, ceo, r.clone()])],
        &context,
        None,
    );
    let chain = an1350(&findings)
        .into_iter()
        .find(|f| cites(f, &r))
        .expect("chain");
    assert_eq!(chain.entities.mailbox.as_deref(), Some("ceo@contoso.com"));
    assert!(
        chain
            .severity
            .reasons
            .iter()
            .all(|x| !x.reason.contains("MailboxDelegateAllowList"))
    );
}

#[test]
fn first_seen_needs_a_week_of_the_same_tenants_history() {
    let g = grant(
        2,
        "2025-03-06T09:55:09",
        "eve@contoso.com",
        CONTOSO,
        OFFICE_NAT,
        "ceo@contoso.com",
        "mallory@contoso.com",
    );
    let mut other = read(
        9,
        "2025-03-06T09:54:00",
        "x@other.example",
        None,
        "192.0.2.1",
        "y@other.example",
    );
    other["OrganizationId"] = json!("11111111-2222-4333-8444-555555555555");
    let alone = hunt(&[("ual.jsonl", vec![g.clone()])], "", None);
    let with_other = hunt(&[("ual.jsonl", vec![other, g.clone()])], "", None);
    let level = |fs: &[Finding]| {
        fs.iter()
            .filter(|f| cites(f, &g))
            .map(|f| f.severity.level)
            .max()
    };
    assert_eq!(level(&alone), level(&with_other));
    // A week of this tenant's own history without eve makes her first-seen.
    let mut history = read(
        8,
        "2025-02-20T09:00:00",
        "bob@contoso.com",
        None,
        OFFICE_NAT,
        "bob@contoso.com",
    );
    history["LogonType"] = json!(0);
    let with_history = hunt(&[("ual.jsonl", vec![history, g.clone()])], "", None);
    let finding = with_history.iter().find(|f| cites(f, &g)).expect("finding");
    assert!(
        finding
            .severity
            .reasons
            .iter()
            .any(|r| r.reason.contains("first-seen actor"))
    );
    assert!(level(&with_history) > level(&alone));
    let _ = Level::Low;
}

// ---- GDAP partner tenants from the documented field shapes (issue 10, contract 1) ----

const PCDA_APP: &str = "2832473f-ec63-45fb-976f-5d45a7d4bb91";
const OFFLINE_APP: &str = "a3475900-ccec-4a69-98f5-a65cd5dc5306";

/// UAL AzureActiveDirectory record by a GDAP first-party app (logformats.md §1.4a):
/// `UserId: ServicePrincipal_<oid>`, `UserType` 4, the app id in `Actor[]` and
/// `ExtendedProperties.actorAppID`, the policy / group object in `ObjectId` and `Target`.
fn ual_by_gdap_app(
    id: u32,
    time: &str,
    op: &str,
    app: &str,
    props: Value,
    target_context: &str,
) -> Value {
    json!({"CreationTime": time, "Id": guid(id), "Operation": op, "OrganizationId": CONTOSO,
        "RecordType": 8, "ResultStatus": "Success", "UserKey": "Not Available", "UserType": 4,
        "Version": 1, "Workload": "AzureActiveDirectory", "ObjectId": guid(id + 500),
        "UserId": format!("ServicePrincipal_{}", guid(id + 600)), "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{}"},
                               {"Name": "actorAppID", "Value": app}],
        "ModifiedProperties": props,
        "Actor": [{"ID": "Partner Customer Delegated Administration", "Type": 1},
                  {"ID": app, "Type": 2}, {"ID": "ServicePrincipal", "Type": 2}],
        "ActorContextId": CONTOSO,
        "Target": [{"ID": guid(id + 500), "Type": 2}, {"ID": "Policy", "Type": 2}],
        "TargetContextId": target_context})
}

/// `tenantId` / `isServiceProvider` of a cross-tenant access partner configuration, as
/// the UAL writes them (JSON-encoded lists).
fn xtap_props(partner: &str) -> Value {
    json!([{"Name": "tenantId", "NewValue": format!("[\"{partner}\"]"), "OldValue": "[]"},
           {"Name": "isServiceProvider", "NewValue": "[true]", "OldValue": "[]"}])
}

#[test]
fn gdap_in_the_unified_audit_log_names_the_partner_from_tenant_id_and_target_context() {
    let xtap = ual_by_gdap_app(
        40,
        "2025-03-06T09:00:02",
        "Add a partner to cross-tenant access setting.",
        PCDA_APP,
        xtap_props(FABRIKAM),
        CONTOSO,
    );
    let role = ual_by_gdap_app(
        41,
        "2025-03-06T09:00:36",
        "Add member to role.",
        OFFLINE_APP,
        json!([{"Name": "Role.DisplayName", "NewValue": "Exchange Administrator", "OldValue": ""}]),
        FABRIKAM,
    );
    let (_, g, r) = fabrikam_chain();
    let findings = hunt(
        &[(
            "ual.jsonl",
            vec![xtap.clone(), role.clone(), g.clone(), r.clone()],
        )],
        "",
        None,
    );
    let chains = an1350(&findings);
    let alert = alerts(&chains)
        .into_iter()
        .find(|f| cites(f, &g) && cites(f, &r))
        .unwrap_or_else(|| panic!("no chain: {chains:#?}"));
    assert!(cites(alert, &xtap) || cites(alert, &role), "{alert:#?}");
    assert_eq!(
        alert.entities.partner.as_deref(),
        Some(FABRIKAM),
        "{alert:#?}"
    );
}

#[test]
fn gdap_records_of_another_partner_are_never_this_partners_step_one() {
    // Northwind (as a partner) gets its own GDAP setting the same morning but never
    // delegates: the Fabrikam chain must not cite it, and Northwind has no finding.
    let other = ual_by_gdap_app(
        42,
        "2025-03-06T08:30:00",
        "Update a partner cross-tenant access setting.",
        PCDA_APP,
        xtap_props(NORTHWIND),
        CONTOSO,
    );
    let other_role = ual_by_gdap_app(
        43,
        "2025-03-06T08:30:40",
        "Add member to role.",
        OFFLINE_APP,
        json!([{"Name": "Role.DisplayName", "NewValue": "Exchange Administrator", "OldValue": ""}]),
        NORTHWIND,
    );
    let (rel, g, r) = fabrikam_chain();
    let findings = hunt(
        &[(
            "ual.jsonl",
            vec![other.clone(), other_role.clone(), rel, g, r],
        )],
        "",
        None,
    );
    let chains = an1350(&findings);
    assert!(
        chains
            .iter()
            .all(|f| !cites(f, &other) && !cites(f, &other_role)),
        "{chains:#?}"
    );
    assert!(
        chains
            .iter()
            .all(|f| f.entities.partner.as_deref() != Some(NORTHWIND)),
        "{chains:#?}"
    );
}

/// Graph `directoryAudit` cross-tenant access change (logformats.md §1.4a: the target id
/// is the policy object; the partner is in `modifiedProperties`).
fn graph_xtap(id: u32, time: &str, initiated: Value, props: Value) -> Value {
    json!({"id": format!("Directory_{}", guid(id)), "category": "CrossTenantAccessSettings",
        "correlationId": guid(id + 1), "result": "success", "resultReason": "",
        "activityDisplayName": "Add a partner to cross-tenant access setting",
        "activityDateTime": time, "loggedByService": "Core Directory", "operationType": "Add",
        "initiatedBy": initiated,
        "targetResources": [{"id": guid(id + 2), "displayName": null, "type": "Policy",
            "userPrincipalName": null, "groupType": null, "modifiedProperties": props}],
        "additionalDetails": []})
}

#[test]
fn gdap_seen_only_in_entra_directory_audits_is_step_one() {
    let by_app = json!({"app": {"appId": PCDA_APP, "displayName": "Partner Customer Delegated Administration",
        "servicePrincipalId": guid(88), "servicePrincipalName": null}, "user": null});
    let xtap = graph_xtap(
        50,
        "2025-03-06T09:00:02Z",
        by_app,
        json!([{"displayName": "tenantId", "oldValue": "[]", "newValue": format!("[\"{FABRIKAM}\"]")},
               {"displayName": "isServiceProvider", "oldValue": "[]", "newValue": "[true]"}]),
    );
    let (_, g, r) = fabrikam_chain();
    let findings = hunt(
        &[
            ("audits.json", vec![xtap.clone()]),
            ("ual.jsonl", vec![g.clone(), r.clone()]),
        ],
        "",
        None,
    );
    let chains = an1350(&findings);
    assert!(
        alerts(&chains)
            .iter()
            .any(|f| cites(f, &xtap) && cites(f, &g) && cites(f, &r)),
        "{chains:#?}"
    );
    // The same setting made by the tenant's own admin for B2B (no isServiceProvider):
    // no relationship, so at most the partner's own 2+3 lead.
    let by_admin = json!({"app": null, "user": {"id": guid(89), "userPrincipalName": "admin@contoso.com",
        "ipAddress": OFFICE_NAT, "homeTenantId": CONTOSO}});
    let b2b = graph_xtap(
        51,
        "2025-03-06T09:00:02Z",
        by_admin,
        json!([{"displayName": "tenantId", "oldValue": "[]", "newValue": format!("[\"{FABRIKAM}\"]")},
               {"displayName": "b2bCollaborationInbound", "oldValue": "[]", "newValue": "[{}]"}]),
    );
    let findings = hunt(
        &[
            ("audits.json", vec![b2b.clone()]),
            ("ual.jsonl", vec![g, r]),
        ],
        "",
        None,
    );
    let chains = an1350(&findings);
    assert!(
        alerts(&chains).is_empty() && chains.iter().all(|f| !cites(f, &b2b)),
        "{chains:#?}"
    );
}

// ---- Tenant attribution before matching (issue 10, contract 2) ----

/// Hunt a tree of tenant folders: `("tenant-a/ual.jsonl", records)`.
fn hunt_tree(files: &[(&str, Vec<Value>)]) -> Vec<Finding> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for (name, records) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        if name.ends_with(".json") {
            let page = json!({"@odata.context":
                "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": records});
            std::fs::write(&path, page.to_string()).expect("write");
        } else {
            let text: String = records.iter().map(|r| format!("{r}\n")).collect();
            std::fs::write(&path, text).expect("write");
        }
        paths.push(path);
    }
    common::hunt(&paths, Context::default()).findings
}

/// Graph "Add partner to company" by the partner's technician, naming the partner in
/// `modifiedProperties` (JSON-encoded string); a Graph export names no tenant.
fn graph_add_partner(id: u32, time: &str) -> Value {
    json!({"id": format!("Directory_{}", guid(id)), "category": "DirectoryManagement",
        "correlationId": guid(id + 1), "result": "success", "resultReason": "",
        "activityDisplayName": "Add partner to company", "activityDateTime": time,
        "loggedByService": "Core Directory", "operationType": "Add",
        "initiatedBy": {"app": null, "user": {"id": guid(id + 2), "userPrincipalName": FAB_TECH,
            "ipAddress": FAB_IP, "homeTenantId": FABRIKAM}},
        "targetResources": [{"id": FABRIKAM, "displayName": "Fabrikam Managed Services", "type": "Other",
            "modifiedProperties": [{"displayName": "PartnerTenantId", "oldValue": null,
                "newValue": format!("\"{FABRIKAM}\"")}]}],
        "additionalDetails": []})
}

fn in_tenant(mut record: Value, tenant: &str) -> Value {
    record["OrganizationId"] = json!(tenant);
    record
}

#[test]
fn another_tenants_directory_audit_is_never_this_tenants_step_one() {
    // tenant-a: the partner delegates and reads, no relationship change in tenant A.
    // tenant-b: only its Graph export (no tenant id in the records) is given.
    let (_, g, r) = fabrikam_chain();
    let audit = graph_add_partner(60, "2025-03-06T09:01:07Z");
    let findings = hunt_tree(&[
        ("tenant-a/ual.jsonl", vec![g.clone(), r.clone()]),
        ("tenant-b/directory-audits.json", vec![audit.clone()]),
    ]);
    let chains = an1350(&findings);
    assert!(alerts(&chains).is_empty(), "{chains:#?}");
    assert!(chains.iter().all(|f| !cites(f, &audit)), "{chains:#?}");
}

#[test]
fn a_tenants_directory_audit_belongs_to_the_tenant_of_its_folder() {
    // As above plus tenant B's own UAL: the partner's full chain in tenant B.
    let (_, g, r) = fabrikam_chain();
    let audit = graph_add_partner(60, "2025-03-06T09:01:07Z");
    let mut g_b = in_tenant(g.clone(), NORTHWIND);
    g_b["Id"] = json!(guid(61));
    let mut r_b = in_tenant(r.clone(), NORTHWIND);
    r_b["Id"] = json!(guid(62));
    let findings = hunt_tree(&[
        ("tenant-a/ual.jsonl", vec![g.clone(), r.clone()]),
        ("tenant-b/directory-audits.json", vec![audit.clone()]),
        ("tenant-b/ual.jsonl", vec![g_b.clone(), r_b.clone()]),
    ]);
    let chains = an1350(&findings);
    let in_b: Vec<&&Finding> = chains
        .iter()
        .filter(|f| f.entities.tenant.as_deref() == Some(NORTHWIND))
        .collect();
    assert!(
        in_b.iter().any(|f| f.kind == FindingKind::Alert
            && cites(f, &audit)
            && cites(f, &g_b)
            && cites(f, &r_b)),
        "{chains:#?}"
    );
    for f in chains
        .iter()
        .filter(|f| f.entities.tenant.as_deref() == Some(CONTOSO))
    {
        assert!(
            f.kind == FindingKind::HuntingLead && !cites(f, &audit) && !cites(f, &g_b),
            "{f:#?}"
        );
    }
}
