//! Inventory on small hand-written inputs: host/audit fusion, removals, system noise,
//! tickets, partner relationships and CSV safety.

use serde_json::{Value, json};
use trustpath_assurance::InventoryCollector;
use trustpath_assurance::inventory::{PermissionKind, RelationshipEffect, Seen};
use trustpath_context::Context;
use trustpath_event::{Event, Format, Origin, SourceKind};

fn event(source: SourceKind, time: &str, line: u64, fields: Value) -> Event {
    let format = if source == SourceKind::Windows {
        Format::EvtxJson
    } else {
        Format::UalJson
    };
    Event {
        time: time.parse().expect("time"),
        source,
        format,
        origin: Origin::file("t.json").with_line(line),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    }
}

fn change(
    source: SourceKind,
    time: &str,
    line: u64,
    actor: &str,
    [cmdlet, action, right]: [&str; 3],
    trustee: Option<&str>,
) -> Event {
    event(
        source,
        time,
        line,
        json!({"tp.actor": actor, "Id": format!("rec-{line}"), "tp.permission_change": [{
            "cmdlet": cmdlet, "action": action, "right": right,
            "mailbox": "CEO@contoso.com", "trustee": trustee, "folder": null, "params": {}}]}),
    )
}

fn collect(events: &[Event]) -> InventoryCollector {
    let mut c = InventoryCollector::default();
    for e in events {
        c.observe(e);
    }
    c
}

#[test]
fn host_and_audit_records_of_one_grant_are_one_grant() {
    let host = change(
        SourceKind::Windows,
        "2025-03-10T14:12:30Z",
        1,
        "contoso\\jdoe",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("eve@x.example"),
    );
    let host_again = change(
        SourceKind::Windows,
        "2025-03-10T14:14:27Z",
        2,
        "S-1-5-21-1",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("eve@x.example"),
    );
    let audit = change(
        SourceKind::M365Audit,
        "2025-03-10T14:20:00Z",
        3,
        "jdoe@contoso.com",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("eve@x.example"),
    );
    let host_only = change(
        SourceKind::Windows,
        "2025-03-11T09:00:00Z",
        4,
        "contoso\\mchen",
        ["Add-RecipientPermission", "grant", "SendAs"],
        Some("m@x.example"),
    );
    let inventory = collect(&[host, host_again, audit, host_only]).report(&Context::default());
    assert_eq!(
        inventory.permissions.len(),
        2,
        "{:#?}",
        inventory.permissions
    );
    let full = &inventory.permissions[0];
    let grant = full.granted.as_ref().expect("grant");
    assert_eq!(full.evidence, Some(Seen::Both));
    assert_eq!(grant.records.len(), 3);
    assert_eq!(
        grant.actor.as_deref(),
        Some("jdoe@contoso.com"),
        "audit actor wins"
    );
    assert_eq!(
        grant.time.to_string(),
        "2025-03-10T14:20:00Z",
        "audit time wins"
    );
    assert_eq!(full.mailbox, "ceo@contoso.com");
    assert_eq!(full.kind, PermissionKind::Mailbox);
    let send_as = &inventory.permissions[1];
    assert_eq!(send_as.evidence, Some(Seen::Host));
    assert_eq!(send_as.kind, PermissionKind::SendAs);
    assert!(send_as.standing);
}

#[test]
fn removals_close_grants_and_orphan_removals_are_listed() {
    let grant = change(
        SourceKind::M365Audit,
        "2025-03-04T09:00:00Z",
        1,
        "admin@contoso.com",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("eve@x.example"),
    );
    let regrant_later = change(
        SourceKind::M365Audit,
        "2025-03-09T09:00:00Z",
        2,
        "admin@contoso.com",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("bob@x.example"),
    );
    let removal = change(
        SourceKind::M365Audit,
        "2025-03-07T09:00:00Z",
        3,
        "admin@contoso.com",
        ["Remove-MailboxPermission", "remove", "FullAccess"],
        Some("eve@x.example"),
    );
    let removal_host = change(
        SourceKind::Windows,
        "2025-03-07T09:05:00Z",
        4,
        "contoso\\admin",
        ["Remove-MailboxPermission", "remove", "FullAccess"],
        Some("eve@x.example"),
    );
    let orphan = change(
        SourceKind::M365Audit,
        "2025-03-08T09:00:00Z",
        5,
        "admin@contoso.com",
        ["Remove-RecipientPermission", "remove", "SendAs"],
        Some("old@x.example"),
    );
    let inventory =
        collect(&[regrant_later, removal_host, grant, orphan, removal]).report(&Context::default());
    assert_eq!(
        inventory.permissions.len(),
        3,
        "{:#?}",
        inventory.permissions
    );
    let eve = &inventory.permissions[0];
    assert_eq!(eve.trustee.as_deref(), Some("eve@x.example"));
    assert!(!eve.standing);
    let removed = eve.removed.as_ref().expect("removed");
    assert_eq!(removed.evidence, Seen::Both);
    let orphan = &inventory.permissions[1];
    assert!(orphan.granted.is_none() && orphan.removed.is_some() && !orphan.standing);
    assert!(inventory.permissions[2].standing);
    assert_eq!(inventory.standing_permissions().count(), 1);
}

#[test]
fn system_noise_is_counted_not_listed() {
    let noise = change(
        SourceKind::M365Audit,
        "2025-03-04T09:00:00Z",
        1,
        "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("x@contoso.com"),
    );
    let inventory = collect(&[noise]).report(&Context::default());
    assert!(inventory.permissions.is_empty());
    assert_eq!(inventory.system_noise, 1);
}

#[test]
fn grants_matching_a_change_ticket_are_approved() {
    let dir = tempdir();
    std::fs::write(
        dir.join("tickets.csv"),
        "id,start,end,actor,target,action\nCHG1,2025-03-04T08:00:00Z,2025-03-04T10:00:00Z,admin@contoso.com,ceo@contoso.com,MailboxPermission\n",
    )
    .expect("tickets");
    let context =
        Context::from_toml_str("[change_tickets]\ncsv = \"tickets.csv\"\n", &dir).expect("context");
    let grant = change(
        SourceKind::M365Audit,
        "2025-03-04T09:00:00Z",
        1,
        "admin@contoso.com",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("eve@x.example"),
    );
    let late = change(
        SourceKind::M365Audit,
        "2025-03-05T09:00:00Z",
        2,
        "admin@contoso.com",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("bob@x.example"),
    );
    let inventory = collect(&[grant, late]).report(&context);
    assert_eq!(inventory.permissions[0].approved.as_deref(), Some("CHG1"));
    assert_eq!(inventory.permissions[1].approved, None);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("inventory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn partner_relationships_are_reconstructed_with_gdap_attribution() {
    let p = "c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f";
    let added = event(
        SourceKind::M365Audit,
        "2025-03-11T22:40:51Z",
        1,
        json!({"tp.operation": "Add partner to company.", "tp.actor": "tech@fab.example", "tp.partner_tenant": p}),
    );
    let gdap = event(
        SourceKind::EntraAudit,
        "2025-03-11T22:48:48Z",
        2,
        json!({"tp.operation": "Add member to role", "initiatedBy": {"app": {"appId": "a3475900-ccec-4a69-98f5-a65cd5dc5306"}}}),
    );
    let unrelated_role = event(
        SourceKind::EntraAudit,
        "2025-03-11T22:50:00Z",
        3,
        json!({"tp.operation": "Add member to role", "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.com"}}}),
    );
    let removed = event(
        SourceKind::EntraAudit,
        "2025-03-13T10:00:00Z",
        4,
        json!({"tp.operation": "Remove partner from company", "tp.actor": "admin@contoso.com", "tp.partner_tenant": p}),
    );
    let inventory = collect(&[removed, gdap, added, unrelated_role]).report(&Context::default());
    assert_eq!(inventory.partners.len(), 1, "{:#?}", inventory.partners);
    let rel = &inventory.partners[0];
    assert_eq!(rel.partner_tenant, p);
    assert_eq!(rel.events.len(), 3);
    assert_eq!(rel.events[1].effect, RelationshipEffect::Changed);
    assert_eq!(
        rel.added.as_ref().map(|e| e.actor.clone()),
        Some(Some("tech@fab.example".to_owned()))
    );
    assert!(!rel.standing);
    assert_eq!(
        rel.removed.as_ref().and_then(|e| e.actor.as_deref()),
        Some("admin@contoso.com")
    );
    assert!(!rel.in_context && !rel.approved);
}

#[test]
fn csv_neutralises_formulas_and_json_round_trips() {
    let evil = change(
        SourceKind::M365Audit,
        "2025-03-04T09:00:00Z",
        1,
        "=cmd|' /C calc'!A0",
        ["Add-MailboxPermission", "grant", "FullAccess"],
        Some("@SUM(1)"),
    );
    let inventory = collect(&[evil]).report(&Context::default());
    let mut csv = Vec::new();
    inventory.write_csv(&mut csv).expect("csv");
    let csv = String::from_utf8(csv).expect("utf-8");
    assert!(csv.starts_with("type,target,folder,principal,right,granted_at"));
    assert!(csv.contains("'=cmd|"), "{csv}");
    assert!(csv.contains("'@sum(1)"), "{csv}");
    let mut json = Vec::new();
    inventory.write_json(&mut json).expect("json");
    let back: trustpath_assurance::Inventory = serde_json::from_slice(&json).expect("parse");
    assert_eq!(back, inventory);
}
