//! Tenant attribution before matching: a record that names no tenant (a Graph
//! `directoryAudit` export) takes the tenant of its folder's records, or stays
//! unattributed and counted; it is never given to another folder's tenant.

use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use trustpath_event::Event;
use trustpath_pipeline::{ScanConfig, scan};
use trustpath_read::Input;

const A: &str = "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34";
const B: &str = "0b0b0b0b-1111-4222-8333-444455556666";
const DEV: &str = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60";

fn ual(id: u32, tenant: &str, user: &str) -> Value {
    json!({"CreationTime": "2025-03-06T10:00:00", "Id": format!("{id:08x}-0000-4000-8000-000000000000"),
        "Operation": "UserLoggedIn", "OrganizationId": tenant, "RecordType": 15,
        "ResultStatus": "Success", "UserType": 0, "Version": 1, "Workload": "AzureActiveDirectory",
        "UserId": user, "ActorContextId": tenant, "ClientIP": "198.18.0.10"})
}

fn audit(id: u32, upn: Option<&str>) -> Value {
    let initiated = match upn {
        Some(u) => json!({"app": null, "user": {"userPrincipalName": u, "homeTenantId": null}}),
        None => json!({"app": {"appId": "2832473f-ec63-45fb-976f-5d45a7d4bb91"}, "user": null}),
    };
    json!({"id": format!("Directory_{id}"), "category": "UserManagement", "result": "success",
        "activityDisplayName": "Update user", "activityDateTime": "2025-03-06T10:05:00Z",
        "loggedByService": "Core Directory", "operationType": "Update", "initiatedBy": initiated,
        "targetResources": [], "additionalDetails": []})
}

fn write(root: &Path, name: &str, records: &[Value]) -> Input {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let text = if name.ends_with(".json") {
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": records}).to_string()
    } else {
        records.iter().map(|r| format!("{r}\n")).collect()
    };
    std::fs::write(&path, text).expect("write");
    Input::File(path)
}

fn run(inputs: &[Input]) -> (Vec<Arc<Event>>, u64, u64) {
    let result = scan(inputs, &ScanConfig::default(), |e| Some(Arc::clone(e)));
    let unattributed = result.inputs.iter().map(|r| r.summary.unattributed).sum();
    let attributed = result
        .inputs
        .iter()
        .flat_map(|r| r.summary.attributed.values())
        .sum();
    let (events, _) = result.into_parts();
    (events, attributed, unattributed)
}

fn tenant_of(events: &[Arc<Event>], id: &str) -> Option<String> {
    events
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|e| e.tenant().map(str::to_owned))
}

#[test]
fn a_folder_naming_one_tenant_attributes_its_audits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = [
        write(dir.path(), "a/ual.jsonl", &[ual(1, A, "x@a.example")]),
        write(dir.path(), "a/audits.json", &[audit(2, None)]),
    ];
    let (events, attributed, unattributed) = run(&inputs);
    assert_eq!(tenant_of(&events, "Directory_2").as_deref(), Some(A));
    assert_eq!((attributed, unattributed), (1, 0));
}

#[test]
fn another_folders_tenant_is_never_borrowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = [
        write(dir.path(), "a/ual.jsonl", &[ual(1, A, "x@a.example")]),
        write(dir.path(), "b/audits.json", &[audit(2, None)]),
    ];
    let (events, attributed, unattributed) = run(&inputs);
    assert_eq!(tenant_of(&events, "Directory_2"), None);
    assert_eq!((attributed, unattributed), (0, 1));
    // With tenant B's own records in its folder, the audit is B's.
    let more = [
        inputs[0].clone(),
        inputs[1].clone(),
        write(dir.path(), "b/ual.jsonl", &[ual(3, B, "y@b.example")]),
    ];
    let (events, _, unattributed) = run(&more);
    assert_eq!(tenant_of(&events, "Directory_2").as_deref(), Some(B));
    assert_eq!(unattributed, 0);
}

#[test]
fn a_folder_with_several_tenants_needs_the_records_own_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = [
        write(
            dir.path(),
            "t/ual.jsonl",
            &[ual(1, A, "x@a.example"), ual(2, DEV, "x@dev.example")],
        ),
        write(
            dir.path(),
            "t/audits.json",
            &[audit(3, Some("admin@dev.example")), audit(4, None)],
        ),
    ];
    let (events, attributed, unattributed) = run(&inputs);
    // The initiator's domain belongs to the Dev tenant only.
    assert_eq!(tenant_of(&events, "Directory_3").as_deref(), Some(DEV));
    // An app-initiated audit in a folder of two tenants: unattributed, counted.
    assert_eq!(tenant_of(&events, "Directory_4"), None);
    assert_eq!((attributed, unattributed), (1, 1));
}

#[test]
fn the_same_tenantless_record_in_two_tenants_folders_is_kept_for_each() {
    // The same audit export placed in two tenants' case folders (a copied file, a test
    // tenant): once attributed these are two records, so the second folder must not
    // lose its copy as a duplicate of the first.
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = [
        write(dir.path(), "a/ual.jsonl", &[ual(1, A, "x@a.example")]),
        write(dir.path(), "a/audits.json", &[audit(2, None)]),
        write(dir.path(), "b/ual.jsonl", &[ual(3, B, "y@b.example")]),
        write(dir.path(), "b/audits.json", &[audit(2, None)]),
    ];
    let (events, attributed, unattributed) = run(&inputs);
    let mut tenants: Vec<String> = events
        .iter()
        .filter(|e| e.get("id").and_then(Value::as_str) == Some("Directory_2"))
        .filter_map(|e| e.tenant().map(str::to_owned))
        .collect();
    tenants.sort();
    assert_eq!(tenants, vec![B.to_owned(), A.to_owned()]);
    assert_eq!((attributed, unattributed), (2, 0));

    // Within one tenant's folders (two overlapping exports) the copy is one record.
    let inputs = [
        write(dir.path(), "c/ual.jsonl", &[ual(4, A, "x@a.example")]),
        write(dir.path(), "c/jan/audits.json", &[audit(5, None)]),
        write(dir.path(), "c/feb/audits.json", &[audit(5, None)]),
    ];
    let result = scan(&inputs, &ScanConfig::default(), |e| Some(Arc::clone(e)));
    assert_eq!(result.stats.duplicates, 1);
    let (events, _) = result.into_parts();
    let copies = events
        .iter()
        .filter(|e| e.get("id").and_then(Value::as_str) == Some("Directory_5"))
        .count();
    assert_eq!(copies, 1);
}
