//! One script block, two grants: the second (on a sensitive mailbox) must count for
//! priority, and a ticket that covers only the first must not authorise the finding.

mod common;

use serde_json::json;
use trustpath_context::Context;

fn script_block(text: &str) -> String {
    json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell"}},
            "EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational",
            "Computer": "WS-FIN-07.contoso.local", "EventRecordID": 4711,
            "TimeCreated": {"#attributes": {"SystemTime": "2025-03-06T10:00:00.000000Z"}},
            "Security": {"#attributes": {"UserID": "S-1-5-21-1-2-3-1104"}}
        },
        "EventData": {"MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": text,
                      "ScriptBlockId": "9b4a1c2e-0000-4000-8000-000000000001", "Path": ""}
    }})
    .to_string()
}

#[test]
fn every_grant_counts_for_priority_and_authorisation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(
        logs.join("host.jsonl"),
        script_block(
            "Add-MailboxPermission -Identity payroll@contoso.com -User bob@contoso.com -AccessRights ReadPermission; \
             Add-MailboxPermission -Identity ceo@contoso.com -User eve@contoso.com -AccessRights FullAccess",
        ) + "\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("tickets.csv"),
        "id,start,end,actor,target,action\nCHG1,2025-03-06T09:00:00Z,2025-03-06T11:00:00Z,,payroll@contoso.com,Add-MailboxPermission\n",
    )
    .expect("tickets");
    let context = Context::from_toml_str(
        "[sensitive_mailboxes]\nexecutive = [\"ceo@contoso.com\"]\n[change_tickets]\ncsv = \"tickets.csv\"\n",
        dir.path(),
    )
    .expect("context");
    let hunt = common::hunt(&[logs], context);
    assert_eq!((hunt.events, hunt.skipped), (1, 0));
    let finding = hunt
        .findings
        .iter()
        .find(|f| f.analytic.as_deref() == Some("AN1052"))
        .expect("an AN1052 finding");
    assert_eq!(
        finding.authorized, None,
        "the ticket covers only the payroll grant"
    );
    let reasons: Vec<&str> = finding
        .severity
        .reasons
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("ceo@contoso.com (executive)")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("covers only 1 of 2")),
        "{reasons:?}"
    );
    assert_eq!(finding.rollback.len(), 2);
}
