//! Contexts per tenant folder, tickets scoped to a tenant, finding ids from record identity
//! (not the path as typed, not overlapping exports), and 4104 script blocks split over the
//! files of one hunt. Fixtures are written here from the documented record shapes (unified
//! audit log `ExchangeAdmin` records, evtx_dump JSON of PowerShell 4104).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TENANT_A: &str = "3a1f0c52-6d7e-4b8a-9c0d-1e2f3a4b5c6d";
const TENANT_B: &str = "7b2e1d63-8f9a-4c0b-ad1e-2f3a4b5c6d7e";
const PARTNER: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";

fn trustpath(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run trustpath")
}

fn findings(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(path: &Path, content: &str) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, content).expect("write");
    path.to_path_buf()
}

fn cites(f: &Value, record_id: &str) -> bool {
    f["evidence"].as_array().is_some_and(|ev| {
        ev.iter().any(|e| {
            e["record_id"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case(record_id))
        })
    })
}

fn ids(out: &Output) -> Vec<String> {
    let mut ids: Vec<String> = findings(out)
        .iter()
        .map(|f| format!("{} {}", f["analytic"], f["id"]))
        .collect();
    ids.sort();
    ids
}

/// A partner technician granting himself FullAccess on a mailbox (UAL, ExchangeAdmin).
fn grant(id: &str, tenant: &str, time: &str, mailbox: &str) -> String {
    json!({
        "CreationTime": time,
        "Id": id,
        "Operation": "Add-MailboxPermission",
        "OrganizationId": tenant,
        "RecordType": 1,
        "ResultStatus": "True",
        "UserType": 9,
        "Version": 1,
        "Workload": "Exchange",
        "ClientIP": "198.51.100.23:50112",
        "ObjectId": mailbox,
        "UserId": "ops.tech@northbridge-msp.com",
        "ExternalAccess": true,
        "Parameters": [
            {"Name": "Identity", "Value": mailbox},
            {"Name": "User", "Value": "ops.tech@northbridge-msp.com"},
            {"Name": "AccessRights", "Value": "FullAccess"}
        ],
        "TokenTenantId": PARTNER,
        "ActorContextId": PARTNER
    })
    .to_string()
        + "\n"
}

fn authorised(f: &Value) -> bool {
    f["authorized"].as_str().is_some_and(|s| !s.is_empty()) || f["authorized"] == json!(true)
}

#[test]
fn each_tenant_folder_is_judged_with_its_own_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let a_id = "0a5b6c7d-1111-4e2f-8a3b-4c5d6e7f8091";
    let b_id = "0b5b6c7d-2222-4e2f-8a3b-4c5d6e7f8092";
    write(
        &root.join("tenant-a/ual.jsonl"),
        &grant(a_id, TENANT_A, "2025-04-02T10:15:00", "payroll@adatum.com"),
    );
    write(
        &root.join("tenant-a/trustpath.toml"),
        "[change_tickets]\ncsv = \"tickets.csv\"\n",
    );
    write(
        &root.join("tenant-a/tickets.csv"),
        "id,start,end,actor,target,action\nCHG-A-1,2025-04-02T00:00:00Z,2025-04-02T23:59:59Z,ops.tech@northbridge-msp.com,,MailboxPermission\n",
    );
    write(
        &root.join("tenant-b/ual.jsonl"),
        &grant(
            b_id,
            TENANT_B,
            "2025-04-02T11:40:00",
            "treasury@wingtip.com",
        ),
    );
    write(
        &root.join("tenant-b/trustpath.toml"),
        "[sensitive_mailboxes]\nfinance = [\"treasury@wingtip.com\"]\n",
    );
    let alone = trustpath(root, &["hunt", "tenant-b", "--format", "jsonl"]);
    let alone_b: Vec<Value> = findings(&alone)
        .into_iter()
        .filter(|f| cites(f, b_id))
        .collect();
    assert!(!alone_b.is_empty(), "tenant B alone: {}", stderr(&alone));

    let both = trustpath(root, &["hunt", "tenant-a", "tenant-b", "--format", "jsonl"]);
    let err = stderr(&both);
    let fb: Vec<Value> = findings(&both)
        .into_iter()
        .filter(|f| cites(f, b_id))
        .collect();
    assert!(!fb.is_empty(), "{err}");
    assert!(
        fb.iter().all(|f| !authorised(f)),
        "tenant A's ticket authorised tenant B's grant: {fb:?}"
    );
    let level = |fs: &[Value]| {
        fs.iter()
            .map(|f| f["severity"]["level"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(level(&fb), level(&alone_b), "tenant B judged as when alone");
    // The look-alike that must stay authorised: tenant A's own grant, covered by its ticket.
    let fa: Vec<Value> = findings(&both)
        .into_iter()
        .filter(|f| cites(f, a_id))
        .collect();
    assert!(!fa.is_empty() && fa.iter().all(authorised), "{fa:?}");
    assert!(
        err.lines().any(|l| l.contains("tenant-b")
            && l.contains("trustpath.toml")
            && l.contains("one context per folder")),
        "the split is announced: {err}"
    );
    assert!(
        !err.contains(
            "non-log files: tenant-a/tickets.csv, tenant-a/trustpath.toml, tenant-b/trustpath.toml"
        ) || err.contains("one context per folder")
    );
}

#[test]
fn a_ticket_naming_a_tenant_never_authorises_another_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let a_id = "1a5b6c7d-1111-4e2f-8a3b-4c5d6e7f8091";
    let b_id = "1b5b6c7d-2222-4e2f-8a3b-4c5d6e7f8092";
    let mut ual = grant(a_id, TENANT_A, "2025-04-02T10:15:00", "payroll@adatum.com");
    ual.push_str(&grant(
        b_id,
        TENANT_B,
        "2025-04-02T11:40:00",
        "treasury@wingtip.com",
    ));
    write(&root.join("msp/ual.jsonl"), &ual);
    write(
        &root.join("msp/trustpath.toml"),
        "[change_tickets]\ncsv = \"tickets.csv\"\n",
    );
    write(
        &root.join("msp/tickets.csv"),
        &format!(
            "id,start,end,actor,target,action,tenant\nCHG-A-2,2025-04-02T00:00:00Z,2025-04-02T23:59:59Z,ops.tech@northbridge-msp.com,,MailboxPermission,{}\n",
            TENANT_A.to_uppercase()
        ),
    );
    let out = trustpath(root, &["hunt", "msp", "--format", "jsonl"]);
    let all = findings(&out);
    let fa: Vec<&Value> = all.iter().filter(|f| cites(f, a_id)).collect();
    let fb: Vec<&Value> = all.iter().filter(|f| cites(f, b_id)).collect();
    assert!(!fa.is_empty() && !fb.is_empty(), "{}", stderr(&out));
    assert!(
        fa.iter().all(|f| authorised(f)),
        "tenant A's grant is its ticket's: {fa:?}"
    );
    assert!(
        fb.iter().all(|f| !authorised(f)),
        "tenant B's grant: {fb:?}"
    );

    // A bad tenant value is an error naming the file and line.
    write(
        &root.join("msp/tickets.csv"),
        "id,start,end,actor,target,action,tenant\nCHG-X,2025-04-02T00:00:00Z,2025-04-02T23:59:59Z,,,MailboxPermission,contoso\n",
    );
    let bad = trustpath(root, &["hunt", "msp", "--format", "jsonl"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("tickets.csv:2"), "{}", stderr(&bad));
}

#[test]
fn finding_ids_come_from_records_not_paths_and_overlaps_count_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let ids_in = [
        "2a5b6c7d-1111-4e2f-8a3b-4c5d6e7f8091",
        "2b5b6c7d-2222-4e2f-8a3b-4c5d6e7f8092",
    ];
    let day = grant(
        ids_in[0],
        TENANT_A,
        "2025-04-02T10:15:00",
        "payroll@adatum.com",
    ) + &grant(
        ids_in[1],
        TENANT_A,
        "2025-04-02T10:16:30",
        "board@adatum.com",
    );
    write(&root.join("exports/ual-2025-04-02.jsonl"), &day);
    // A second export covering an overlapping range: the same records, written in
    // another key order, plus nothing new.
    let overlap: String = day
        .lines()
        .map(|l| {
            let v: serde_json::Map<String, Value> = serde_json::from_str(l).expect("json");
            let mut keys: Vec<_> = v.into_iter().collect();
            keys.reverse();
            Value::Object(keys.into_iter().collect()).to_string() + "\n"
        })
        .collect();
    write(&root.join("overlap/ual-week-14.jsonl"), &overlap);
    let abs = root.join("exports");
    let abs = abs.to_string_lossy();
    let runs = [
        trustpath(root, &["hunt", "exports/", "--format", "jsonl"]),
        trustpath(root, &["hunt", "./exports", "--format", "jsonl"]),
        trustpath(root, &["hunt", &abs, "--format", "jsonl"]),
        trustpath(root, &["hunt", "exports/", "overlap/", "--format", "jsonl"]),
        trustpath(root, &["hunt", "overlap/", "exports/", "--format", "jsonl"]),
    ];
    let reference = ids(&runs[0]);
    assert!(!reference.is_empty(), "{}", stderr(&runs[0]));
    for run in &runs[1..] {
        assert_eq!(ids(run), reference, "{}", stderr(run));
    }
    for run in &runs[3..] {
        for f in findings(run) {
            let rids: Vec<&str> = f["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["record_id"].as_str())
                .collect();
            let mut unique = rids.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                rids.len(),
                unique.len(),
                "evidence cites a record twice: {f}"
            );
        }
        assert!(stderr(run).contains("duplicates 2"), "{}", stderr(run));
    }
    // `respond` finds the id whatever the spelling of the path.
    let id = findings(&runs[0])[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let respond = trustpath(root, &["respond", &id, "./exports"]);
    assert_eq!(respond.status.code(), Some(0), "{}", stderr(&respond));
}

/// One 4104 part as evtx_dump writes it (JSON Lines).
fn part(record: u64, time: &str, id: &str, number: u32, total: u32, text: &str) -> String {
    json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell",
                                          "Guid": "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}"}},
            "EventID": 4104, "Version": 1, "Level": 5, "Task": 2, "Opcode": 15,
            "Keywords": "0x0",
            "TimeCreated": {"#attributes": {"SystemTime": time}},
            "EventRecordID": record,
            "Execution": {"#attributes": {"ProcessID": 7312, "ThreadID": 7401}},
            "Channel": "Microsoft-Windows-PowerShell/Operational",
            "Computer": "WS-ACCT-11.adatum.local",
            "Security": {"#attributes": {"UserID": "S-1-5-21-1004336348-1177238915-682003330-2113"}}
        },
        "EventData": {"MessageNumber": number, "MessageTotal": total, "ScriptBlockText": text,
                      "ScriptBlockId": id, "Path": ""}
    }})
    .to_string()
        + "\n"
}

const SBID: &str = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f";

fn an1052_for(out: &Output, mailbox: &str) -> bool {
    findings(out).iter().any(|f| {
        f["analytic"] == "AN1052"
            && f["entities"]["host"]
                .as_str()
                .is_some_and(|h| h.to_ascii_lowercase().contains("ws-acct-11"))
            && f["entities"]["mailbox"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
    })
}

#[test]
fn a_script_block_split_over_two_daily_files_is_reassembled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let p1 = part(
        4410,
        "2025-04-02T23:59:58.900Z",
        SBID,
        1,
        2,
        "$target = 'controller@adatum.com'\nAdd-Mailbox",
    );
    let p2 = part(
        4411,
        "2025-04-03T00:00:00.100Z",
        SBID,
        2,
        2,
        "Permission -Identity $target -User 'ext.audit@contoso-review.net' -AccessRights FullAccess\n",
    );
    write(&root.join("ws-acct-11-2025-04-02.jsonl"), &p1);
    write(&root.join("ws-acct-11-2025-04-03.jsonl"), &p2);
    let one = trustpath(
        root,
        &[
            "hunt",
            "ws-acct-11-2025-04-02.jsonl",
            "ws-acct-11-2025-04-03.jsonl",
            "-f",
            "jsonl",
        ],
    );
    assert!(
        an1052_for(&one, "controller@adatum.com"),
        "{}",
        stderr(&one)
    );
    assert!(stderr(&one).contains("1 reassembled"), "{}", stderr(&one));
    // Input order does not matter.
    let rev = trustpath(
        root,
        &[
            "hunt",
            "ws-acct-11-2025-04-03.jsonl",
            "ws-acct-11-2025-04-02.jsonl",
            "-f",
            "jsonl",
        ],
    );
    assert_eq!(ids(&rev), ids(&one));

    // Look-alike: part 2 of another script block (another id) joins nothing and stays silent.
    write(
        &root.join("other/ws-acct-11-2025-04-03.jsonl"),
        &part(
            4411,
            "2025-04-03T00:00:00.100Z",
            "99999999-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
            2,
            2,
            "Permission -Identity $target -User 'ext.audit@contoso-review.net' -AccessRights FullAccess\n",
        ),
    );
    let apart = trustpath(
        root,
        &[
            "hunt",
            "ws-acct-11-2025-04-02.jsonl",
            "other/ws-acct-11-2025-04-03.jsonl",
            "-f",
            "jsonl",
        ],
    );
    assert!(
        !an1052_for(&apart, "controller@adatum.com"),
        "{}",
        stderr(&apart)
    );
    assert!(
        stderr(&apart).contains("2 incomplete"),
        "{}",
        stderr(&apart)
    );
}

#[test]
fn a_forged_part_one_sent_first_is_counted_and_the_real_script_still_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let decoy = part(
        4400,
        "2025-04-02T09:00:00Z",
        SBID,
        1,
        2,
        "Get-Service | Out-Null\n# ",
    );
    let real1 = part(
        4401,
        "2025-04-02T09:00:01Z",
        SBID,
        1,
        2,
        "Add-MailboxPermission -Identity controller@adatum.com -User ",
    );
    let real2 = part(
        4402,
        "2025-04-02T09:00:01Z",
        SBID,
        2,
        2,
        "ext.audit@contoso-review.net -AccessRights FullAccess\n",
    );
    write(&root.join("ps.jsonl"), &(decoy + &real1 + &real2));
    let out = trustpath(root, &["hunt", "ps.jsonl", "-f", "jsonl"]);
    assert!(
        an1052_for(&out, "controller@adatum.com"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("1 conflicting parts"),
        "{}",
        stderr(&out)
    );
}
