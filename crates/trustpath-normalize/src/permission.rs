//! Mailbox permission changes, read the same way from every source.
//!
//! A permission change is the heart of AN1350 step 2, AN1052 and AN1051, and of the
//! permission inventory. It appears as an Exchange cmdlet in the unified audit log
//! (`Operation` + `Parameters`), as a mailbox-audit action (`AddFolderPermissions` …), in
//! PowerShell script blocks (4104), module logs (4103 `Payload`, 800), process command
//! lines (4688, Sysmon 1) and the MSExchange Management channel. This module turns each
//! into `tp.permission_change`: a list of [`PermissionChange`]s (the typed hand-off the
//! analytics' tuning, rollback and the inventory read back with
//! `Event::permission_changes`), serialised as
//!
//! ```json
//! {"cmdlet": "Add-MailboxPermission", "action": "grant", "right": "FullAccess",
//!  "mailbox": "ceo@contoso.com", "trustee": "eve@contoso.com", "folder": null,
//!  "params": {"Identity": "ceo@contoso.com", "User": "eve@contoso.com", …}}
//! ```
//!
//! and sets `tp.target` / `tp.trustee` from the first change (and `tp.operation` for host
//! events, which have none). PowerShell text is read with `trustpath-powershell`, so
//! case, backticks, abbreviations, splatting and aliases do not hide a change. Every
//! cmdlet found in host PowerShell text is listed in `tp.ps_cmdlets`.

use serde_json::Value;
#[cfg(test)]
use serde_json::json;
use trustpath_event::{
    Event, Fields, Params, PermissionAction, PermissionChange, SourceKind, norm,
};
use trustpath_powershell::Invocation;

/// Field with the list of permission changes.
pub const PERMISSION_CHANGE: &str = norm::PERMISSION_CHANGE;
/// Field with every cmdlet name found in host PowerShell text.
pub const PS_CMDLETS: &str = norm::PS_CMDLETS;

/// Add `tp.permission_change` (and friends) to `event` when it records permission changes.
pub fn add_permission_changes(event: &mut Event) {
    let (changes, cmdlets) = match event.source {
        SourceKind::M365Audit => (audit_changes(&event.fields), Vec::new()),
        SourceKind::Windows => host_changes(&event.fields),
        _ => return,
    };
    if !cmdlets.is_empty() {
        let names = cmdlets.into_iter().map(Value::String).collect();
        event
            .fields
            .insert(PS_CMDLETS.to_owned(), Value::Array(names));
    }
    if changes.is_empty() {
        return;
    }
    let first = &changes[0];
    let fill = [
        (norm::TARGET, first.mailbox.as_ref()),
        (norm::TRUSTEE, first.trustee.as_ref()),
        (norm::OPERATION, Some(&first.cmdlet)),
    ];
    // The change's own mailbox and trustee are more precise than what the per-format
    // normalization guessed (e.g. `Identity` `ceo@contoso.com:\Inbox`); the operation is
    // only filled in where the format had none (host events).
    let mut updates = Vec::new();
    for (key, value) in fill {
        let has = event.fields.get(key).is_some_and(|v| v.is_string());
        let replace = key != norm::OPERATION || !has;
        if let Some(v) = value
            && replace
        {
            updates.push((key, v.clone()));
        }
    }
    for (key, value) in updates {
        event.fields.insert(key.to_owned(), Value::String(value));
    }
    let changes = changes.iter().map(PermissionChange::to_value).collect();
    event
        .fields
        .insert(PERMISSION_CHANGE.to_owned(), Value::Array(changes));
}

/// Changes recorded by a unified-audit-log record.
fn audit_changes(fields: &Fields) -> Vec<PermissionChange> {
    let Some(operation) = fields.get("Operation").and_then(Value::as_str) else {
        return Vec::new();
    };
    if let Some(change) = folder_audit_change(operation, fields) {
        return vec![change];
    }
    // Exports and SIEM pipelines do not always keep the cmdlet's case.
    let Some(cmdlet) = permission_cmdlet(operation) else {
        return Vec::new();
    };
    let params = parameter_bag(fields.get("Parameters"));
    let invocation = Invocation {
        name: cmdlet.to_owned(),
        params,
        positional: Vec::new(),
    };
    changes_of(&invocation)
}

/// Cmdlets [`change_of`] understands, canonical spelling (checked before any allocation:
/// most records are not one of these).
const PERMISSION_CMDLETS: [&str; 10] = [
    "Add-MailboxPermission",
    "Remove-MailboxPermission",
    "Add-RecipientPermission",
    "Remove-RecipientPermission",
    "Set-Mailbox",
    "Add-MailboxFolderPermission",
    "Set-MailboxFolderPermission",
    "Remove-MailboxFolderPermission",
    "New-ManagementRoleAssignment",
    "Remove-ManagementRoleAssignment",
];

/// The canonical name of a permission cmdlet written in any case.
fn permission_cmdlet(name: &str) -> Option<&'static str> {
    PERMISSION_CMDLETS
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .copied()
}

/// `Parameters` as name/value pairs (list of `{Name, Value}` or an object).
fn parameter_bag(value: Option<&Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match value {
        Some(Value::Array(items)) => {
            for item in items {
                let name = item.get("Name").and_then(Value::as_str);
                if let Some(name) = name {
                    out.push((name.to_owned(), value_text(item.get("Value"))));
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, v) in map {
                out.push((k.clone(), value_text(Some(v))));
            }
        }
        _ => {}
    }
    out
}

/// A parameter value as text; a list of strings (as some exports write multi-valued
/// parameters) is joined with commas, as PowerShell would take it.
fn value_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Mailbox-audit delegate actions made from Outlook or other clients.
fn folder_audit_change(operation: &str, fields: &Fields) -> Option<PermissionChange> {
    use PermissionAction::{Grant, Remove};
    const ACTIONS: [(&str, PermissionAction); 6] = [
        ("AddFolderPermissions", Grant),
        ("UpdateFolderPermissions", Grant),
        ("ModifyFolderPermissions", Grant),
        ("UpdateCalendarDelegation", Grant),
        ("RemoveFolderPermissions", Remove),
        ("RemoveCalendarDelegation", Remove),
    ];
    let (operation, action) = ACTIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(operation))
        .copied()?;
    let folder = fields.get("Item").and_then(|i| i.get("ParentFolder"));
    let text = |key: &str| {
        folder
            .and_then(|f| f.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mailbox = fields
        .get("MailboxOwnerUPN")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let trustee = text("MemberUpn").map(|s| s.to_lowercase());
    let path =
        text("Path").or_else(|| (operation.contains("Calendar")).then(|| "\\Calendar".to_owned()));
    Some(PermissionChange {
        cmdlet: operation.to_owned(),
        action,
        right: text("MemberRights").unwrap_or_else(|| "Delegate".to_owned()),
        mailbox,
        trustee,
        folder: path,
        params: Params::default(),
    })
}

/// Changes in PowerShell text carried by a Windows event, and every cmdlet seen.
fn host_changes(fields: &Fields) -> (Vec<PermissionChange>, Vec<String>) {
    let mut invocations = Vec::new();
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    // Text that cannot name a cmdlet (`notepad.exe C:\notes.txt`: no dash, `+` or
    // built-in alias) is not tokenized: `commands` would find no cmdlet in it, so
    // neither `tp.ps_cmdlets` nor `tp.permission_change` would change.
    let powershell = |key: &str| text(key).filter(|t| trustpath_powershell::may_name_cmdlet(t));
    if let Some(script) = powershell("ScriptBlockText") {
        invocations.extend(trustpath_powershell::commands(script));
    }
    if let Some(payload) = text("Payload") {
        let failed = failed_in_payload(payload);
        invocations.extend(
            trustpath_powershell::pipeline_details(payload)
                .into_iter()
                .filter(|inv| !failed.iter().any(|f| f.eq_ignore_ascii_case(&inv.name))),
        );
    }
    if let Some(command_line) = powershell("CommandLine") {
        invocations.extend(trustpath_powershell::commands(command_line));
    }
    if let Some(Value::Array(data)) = fields.get("Data") {
        invocations.extend(data_invocations(fields, data));
    }
    let mut cmdlets: Vec<String> = Vec::new();
    for inv in &invocations {
        let verb_noun = inv.name.contains('-') && !inv.name.contains(['\\', '/', '.', ' ']);
        if verb_noun && !cmdlets.contains(&inv.name) {
            cmdlets.push(inv.name.clone());
        }
    }
    // MSExchange Management event 6 records a cmdlet that failed: nothing changed.
    if exchange_cmdlet_failed(fields) {
        return (Vec::new(), cmdlets);
    }
    let changes = invocations.iter().flat_map(changes_of).collect();
    (changes, cmdlets)
}

/// MSExchange Management writes event 1 for a cmdlet that succeeded and 6 for one that
/// failed.
fn exchange_cmdlet_failed(fields: &Fields) -> bool {
    let channel = fields.get("Channel").and_then(Value::as_str).unwrap_or("");
    channel.eq_ignore_ascii_case("MSExchange Management")
        && fields.get("EventID").and_then(Value::as_u64) == Some(6)
}

/// Commands module logging (4103) reports as failed: `TerminatingError(<cmdlet>): …`
/// and `NonTerminatingError(<cmdlet>): …` lines of the payload.
fn failed_in_payload(payload: &str) -> Vec<String> {
    payload
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("TerminatingError(")
                .or_else(|| line.strip_prefix("NonTerminatingError("))?;
            let (name, _) = rest.split_once(')')?;
            Some(name.trim().to_owned())
        })
        .collect()
}

/// Unnamed `Data` of the MSExchange Management channel (cmdlet, parameters) and of
/// classic PowerShell event 800 (pipeline details).
fn data_invocations(fields: &Fields, data: &[Value]) -> Vec<Invocation> {
    let strings: Vec<&str> = data.iter().filter_map(Value::as_str).collect();
    let channel = fields.get("Channel").and_then(Value::as_str).unwrap_or("");
    if channel.eq_ignore_ascii_case("MSExchange Management") {
        if let [cmdlet, params, ..] = strings.as_slice() {
            return trustpath_powershell::commands(&format!("{cmdlet} {params}"));
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in strings {
        if s.contains("CommandInvocation(") || s.contains("ParameterBinding(") {
            out.extend(trustpath_powershell::pipeline_details(s));
        }
    }
    out
}

/// The permission changes an invocation makes (`Set-Mailbox -GrantSendOnBehalfTo` can
/// add and remove several delegates at once; every other cmdlet makes at most one).
fn changes_of(inv: &Invocation) -> Vec<PermissionChange> {
    if inv.name != "Set-Mailbox" {
        return change_of(inv).into_iter().collect();
    }
    let Some(delegates) = inv.param("GrantSendOnBehalfTo") else {
        return Vec::new();
    };
    let mailbox = inv.param("Identity").map(|s| s.trim().to_lowercase());
    send_on_behalf_changes(delegates)
        .into_iter()
        .map(|(action, who)| {
            let action = if action == "remove" {
                PermissionAction::Remove
            } else {
                PermissionAction::Grant
            };
            change_value(inv, action, "SendOnBehalf", mailbox.clone(), who, None)
        })
        .collect()
}

/// The permission change an invocation of any cmdlet but `Set-Mailbox` makes, if any.
fn change_of(inv: &Invocation) -> Option<PermissionChange> {
    let p = |name: &str| inv.param(name).map(str::to_owned);
    // A variable the script never assigned (`-Identity $t`) names no mailbox or user:
    // it stays in `params` as written but is not taken as an entity.
    let lower = |v: Option<String>| {
        v.map(|s| s.trim().to_lowercase())
            .filter(|s| !is_unresolved(s))
    };
    let (action, right, mailbox, trustee, folder) = match inv.name.as_str() {
        "Add-MailboxPermission" | "Remove-MailboxPermission" => (
            grant_or_remove(&inv.name),
            p("AccessRights").unwrap_or_else(|| "FullAccess".to_owned()),
            lower(p("Identity")),
            lower(p("User")),
            None,
        ),
        "Add-RecipientPermission" | "Remove-RecipientPermission" => (
            grant_or_remove(&inv.name),
            p("AccessRights").unwrap_or_else(|| "SendAs".to_owned()),
            lower(p("Identity")),
            lower(p("Trustee")),
            None,
        ),
        "Add-MailboxFolderPermission"
        | "Set-MailboxFolderPermission"
        | "Remove-MailboxFolderPermission" => {
            let identity = p("Identity").unwrap_or_default();
            let (mailbox, folder) = match identity.split_once(':') {
                Some((m, f)) => (m.to_owned(), Some(f.to_owned())),
                None => (identity, None),
            };
            (
                grant_or_remove(&inv.name),
                p("AccessRights").unwrap_or_default(),
                lower(Some(mailbox)),
                lower(p("User")),
                folder,
            )
        }
        "New-ManagementRoleAssignment" => {
            let role = p("Role")?;
            let trustee = p("User")
                .or_else(|| p("App"))
                .or_else(|| p("SecurityGroup"));
            // Org-wide unless a write scope narrows it: no single mailbox.
            let scope = p("CustomRecipientWriteScope").map(|s| s.to_lowercase());
            (
                PermissionAction::Grant,
                format!("Role:{role}"),
                scope,
                lower(trustee),
                None,
            )
        }
        "Remove-ManagementRoleAssignment" => (
            PermissionAction::Remove,
            "Role".to_owned(),
            None,
            None,
            None,
        ),
        _ => return None,
    };
    Some(change_value(inv, action, &right, mailbox, trustee, folder))
}

/// One `tp.permission_change` entry.
fn change_value(
    inv: &Invocation,
    action: PermissionAction,
    right: &str,
    mailbox: Option<String>,
    trustee: Option<String>,
    folder: Option<String>,
) -> PermissionChange {
    PermissionChange {
        cmdlet: inv.name.clone(),
        action,
        right: right.to_owned(),
        mailbox,
        trustee,
        folder,
        params: Params(inv.params.clone()),
    }
}

fn grant_or_remove(cmdlet: &str) -> PermissionAction {
    if cmdlet.starts_with("Remove-") {
        PermissionAction::Remove
    } else {
        PermissionAction::Grant
    }
}

/// A value PowerShell would take from a variable or expression trustpath could not
/// resolve (`$t`, `$($x)`).
pub fn is_unresolved(value: &str) -> bool {
    value.trim_start().starts_with('$')
}

/// `-GrantSendOnBehalfTo` takes a user, a list (`'a','b'`), a hashtable of changes
/// (`@{Add='a','b'; Remove='c'}`) or `$null` (remove everyone). One (action, delegate)
/// per delegate named; only a `Remove` key removes.
fn send_on_behalf_changes(value: &str) -> Vec<(&'static str, Option<String>)> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("$null") {
        return vec![("remove", None)];
    }
    let names = |list: &str| -> Vec<Option<String>> {
        list.split(',')
            .map(|n| n.trim().trim_matches(['"', '\'']).trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .map(|n| Some(n).filter(|n| !is_unresolved(n)))
            .collect()
    };
    let Some(body) = v.strip_prefix("@{") else {
        return names(v).into_iter().map(|n| ("grant", n)).collect();
    };
    let body = body.strip_suffix('}').unwrap_or(body);
    let mut out = Vec::new();
    for entry in body.split([';', '\n']) {
        let Some((key, list)) = entry.split_once('=') else {
            continue;
        };
        let action = if key.trim().eq_ignore_ascii_case("remove") {
            "remove"
        } else {
            "grant"
        };
        out.extend(names(list).into_iter().map(|n| (action, n)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_event as event;

    #[test]
    fn unassigned_variables_name_no_entity() {
        let mut e = event(
            SourceKind::Windows,
            json!({"EventID": 4104, "ScriptBlockText": "Add-MailboxPermission -Identity $t -User eve@contoso.com"}),
        );
        add_permission_changes(&mut e);
        assert_eq!(e.get("tp.permission_change.mailbox"), Some(&Value::Null));
        assert_eq!(
            e.get("tp.permission_change.params.Identity"),
            Some(&json!("$t"))
        );
        assert_eq!(e.get("tp.target"), None);
        assert_eq!(e.get("tp.trustee"), Some(&json!("eve@contoso.com")));
    }

    #[test]
    fn exchange_admin_record() {
        let mut e = event(
            SourceKind::M365Audit,
            json!({"Operation": "Add-MailboxPermission", "Parameters": [
                {"Name": "Identity", "Value": "CEO@contoso.com"},
                {"Name": "User", "Value": "eve@contoso.com"},
                {"Name": "AccessRights", "Value": "FullAccess"}]}),
        );
        add_permission_changes(&mut e);
        assert_eq!(e.get("tp.permission_change.action"), Some(&json!("grant")));
        assert_eq!(e.get("tp.target"), Some(&json!("ceo@contoso.com")));
        assert_eq!(e.get("tp.trustee"), Some(&json!("eve@contoso.com")));
    }

    #[test]
    fn obfuscated_script_block() {
        let mut e = event(
            SourceKind::Windows,
            json!({"EventID": 4104, "ScriptBlockText":
                "$p=@{Identity='ceo@contoso.com'}; ADD-mailbox`Permission @p -u eve@contoso.com -acc FullAccess"}),
        );
        add_permission_changes(&mut e);
        assert_eq!(
            e.get("tp.permission_change.cmdlet"),
            Some(&json!("Add-MailboxPermission"))
        );
        assert_eq!(e.get("tp.trustee"), Some(&json!("eve@contoso.com")));
        assert_eq!(e.get("tp.operation"), Some(&json!("Add-MailboxPermission")));
    }

    /// The `may_name_cmdlet` pre-check in front of the tokenizer keeps every obfuscated
    /// form (the cases of the `trustpath-powershell` tests) and still skips plain
    /// process command lines.
    #[test]
    fn obfuscated_host_text_passes_the_pre_check() {
        let script: Vec<u8> = "Add-MailboxPermission -Identity ceo -User eve"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let encoded = base64_standard(&script);
        let cases = [
            (
                "CommandLine",
                format!("cmd.exe /c powershell -enc {encoded}"),
            ),
            (
                "CommandLine",
                r#"powershell.exe -NoP -c "Add-MailboxPermission -Identity ceo -User eve""#
                    .to_owned(),
            ),
            (
                "ScriptBlockText",
                "aDd-mA`Il`BoxPeRmIssIoN 'ceo@contoso.com' -u eve -Acc FullAccess".to_owned(),
            ),
            (
                "ScriptBlockText",
                "$p = @{Identity='ceo'; User='eve'}\nSet-Alias amp Add-MailboxPermission\namp @p"
                    .to_owned(),
            ),
            (
                "ScriptBlockText",
                "$c = 'Add-Recipient' + 'Permission'; & $c -Identity ceo -Trustee eve".to_owned(),
            ),
            (
                "ScriptBlockText",
                "i`ex 'Set-Mailbox ceo -GrantSendOnBehalfTo eve'".to_owned(),
            ),
        ];
        for (field, text) in cases {
            let mut e = event(SourceKind::Windows, json!({ field: text }));
            add_permission_changes(&mut e);
            let found = e
                .fields
                .get(PERMISSION_CHANGE)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            assert!(found > 0, "{text}");
        }
        // Same result as tokenizing unconditionally, also where the pre-check decides.
        for text in [
            r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoP -c "Add-MailboxPermission -Identity ceo -User eve""#,
            "Add\u{2013}MailboxPermission ceo \u{2013}User eve",
            r#""C:\x.exe"; Add-MailboxPermission ceo -User eve"#,
            "notepad.exe C:\\notes.txt",
        ] {
            let mut e = event(SourceKind::Windows, json!({ "CommandLine": text }));
            add_permission_changes(&mut e);
            let direct = trustpath_powershell::commands(text);
            let expected = direct.iter().filter_map(change_of).count();
            let found = e
                .fields
                .get(PERMISSION_CHANGE)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            assert_eq!(found, expected, "{text}");
            let cmdlets = direct.iter().filter(|i| i.name.contains('-')).count();
            let listed = e
                .fields
                .get(PS_CMDLETS)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            assert_eq!(listed, cmdlets, "{text}");
        }
        let mut plain = event(
            SourceKind::Windows,
            json!({"CommandLine": r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --single-argument https://contoso.sharepoint.com/"#}),
        );
        add_permission_changes(&mut plain);
        assert!(!plain.fields.contains_key(PS_CMDLETS));
        assert!(!plain.fields.contains_key(PERMISSION_CHANGE));
    }

    /// Standard base64 (the test's own, to keep base64 out of this crate's dependencies).
    fn base64_standard(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn send_on_behalf_and_folder_forms() {
        assert_eq!(
            send_on_behalf_changes("@{add=\"Eve@contoso.com\"}"),
            vec![("grant", Some("eve@contoso.com".to_owned()))]
        );
        assert_eq!(send_on_behalf_changes("$null"), vec![("remove", None)]);
        assert_eq!(
            send_on_behalf_changes("@{Add='a@x','b@x'; Remove='c@x'}"),
            vec![
                ("grant", Some("a@x".to_owned())),
                ("grant", Some("b@x".to_owned())),
                ("remove", Some("c@x".to_owned())),
            ]
        );
        assert_eq!(
            send_on_behalf_changes("remover@contoso.com"),
            vec![("grant", Some("remover@contoso.com".to_owned()))]
        );
        let mut e = event(
            SourceKind::Windows,
            json!({"Channel": "MSExchange Management", "Data": [
                "Add-MailboxFolderPermission",
                "-Identity \"ceo@contoso.com:\\Inbox\" -User \"eve@contoso.com\" -AccessRights \"Reviewer\"",
                "contoso.com/Users/admin"]}),
        );
        add_permission_changes(&mut e);
        assert_eq!(
            e.get("tp.permission_change.folder"),
            Some(&json!("\\Inbox"))
        );
        assert_eq!(e.get("tp.target"), Some(&json!("ceo@contoso.com")));
    }

    #[test]
    fn failed_cmdlets_change_nothing() {
        let mut e = event(
            SourceKind::Windows,
            json!({"Channel": "MSExchange Management", "EventID": 6, "Data": [
                "Add-MailboxPermission",
                "-Identity \"ceo@contoso.com\" -User \"eve@contoso.com\" -AccessRights \"FullAccess\"",
                "contoso.com/Users/admin"]}),
        );
        add_permission_changes(&mut e);
        assert!(!e.fields.contains_key(PERMISSION_CHANGE));
        assert_eq!(
            e.fields.get(PS_CMDLETS),
            Some(&json!(["Add-MailboxPermission"]))
        );
        let mut e = event(
            SourceKind::Windows,
            json!({"EventID": 4103, "Payload": "CommandInvocation(Add-MailboxPermission): \"Add-MailboxPermission\"\nParameterBinding(Add-MailboxPermission): name=\"Identity\"; value=\"ceo@contoso.com\"\nParameterBinding(Add-MailboxPermission): name=\"User\"; value=\"eve@contoso.com\"\nNonTerminatingError(Add-MailboxPermission): \"The operation couldn't be performed because object 'ceo@contoso.com' couldn't be found.\""}),
        );
        add_permission_changes(&mut e);
        assert!(!e.fields.contains_key(PERMISSION_CHANGE));
    }
}
