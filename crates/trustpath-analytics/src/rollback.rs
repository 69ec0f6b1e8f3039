//! Rollback: the exact PowerShell that reverses a permission change.
//!
//! Input is a [`PermissionChange`] (`tp.permission_change`, built by normalization). Every value is
//! written as a single-quoted PowerShell literal by `trustpath_powershell::quote`, so no
//! mailbox or user name can inject code (quotes, backticks, `$()`, semicolons, newlines
//! and Unicode quote look-alikes are all plain text inside it).

use trustpath_event::PermissionChange;
use trustpath_powershell::{command_line, quote};

/// The command that reverses one granted permission, if trustpath knows how.
pub fn rollback_for(change: &PermissionChange) -> Option<String> {
    fn text(value: Option<&str>) -> Option<&str> {
        value.filter(|s| !s.is_empty())
    }
    if !change.grants() {
        return None;
    }
    let cmdlet = text(Some(change.cmdlet.as_str()))?;
    let mailbox = text(change.mailbox.as_deref());
    let trustee = text(change.trustee.as_deref());
    let right = text(Some(change.right.as_str()));
    let folder = text(change.folder.as_deref());
    // A value the script took from a variable trustpath could not resolve names nothing
    // to remove: no command rather than a wrong one.
    let param = |key: &str| {
        change
            .params
            .get(key)
            .filter(|s| !s.is_empty() && !trustpath_normalize::is_unresolved(s))
    };
    match cmdlet {
        "Add-MailboxPermission" => {
            // The removal must name the same entry: InheritanceType only when the grant
            // gave one (its default matches the grant's default).
            let mut params = vec![
                ("Identity", Some(param("Identity").or(mailbox)?)),
                ("User", Some(param("User").or(trustee)?)),
                ("AccessRights", Some(right.unwrap_or("FullAccess"))),
            ];
            if let Some(inheritance) = param("InheritanceType") {
                params.push(("InheritanceType", Some(inheritance)));
            }
            params.push(("Confirm:$false", None));
            Some(command_line("Remove-MailboxPermission", &params))
        }
        "Add-RecipientPermission" => Some(command_line(
            "Remove-RecipientPermission",
            &[
                ("Identity", Some(param("Identity").or(mailbox)?)),
                ("Trustee", Some(param("Trustee").or(trustee)?)),
                ("AccessRights", Some(right.unwrap_or("SendAs"))),
                ("Confirm:$false", None),
            ],
        )),
        "Set-Mailbox" => {
            let identity = param("Identity").or(mailbox)?;
            Some(format!(
                "Set-Mailbox -Identity {} -GrantSendOnBehalfTo @{{remove={}}}",
                quote(identity),
                quote(trustee?)
            ))
        }
        "Add-MailboxFolderPermission"
        | "Set-MailboxFolderPermission"
        | "AddFolderPermissions"
        | "UpdateFolderPermissions"
        | "ModifyFolderPermissions"
        | "UpdateCalendarDelegation" => {
            let identity = match (param("Identity"), mailbox, folder) {
                (Some(identity), _, _) => identity.to_owned(),
                (None, Some(m), Some(folder)) => {
                    let folder = folder.trim_start_matches('\\');
                    format!("{m}:\\{folder}")
                }
                (None, Some(m), None) => m.to_owned(),
                (None, None, _) => return None,
            };
            let user = param("User").or(trustee)?;
            let removal = command_line(
                "Remove-MailboxFolderPermission",
                &[
                    ("Identity", Some(&identity)),
                    ("User", Some(user)),
                    ("Confirm:$false", None),
                ],
            );
            if cmdlet.starts_with("Add") {
                return Some(removal);
            }
            // A changed entry: the earlier rights are not in the record, and removing the
            // entry also removes access the delegate had before the change.
            let restore = command_line(
                "Set-MailboxFolderPermission",
                &[("Identity", Some(&identity)), ("User", Some(user))],
            );
            // The comment carries values from the log: neutralised so that no line break
            // in a folder or user name can end it (the command itself is quoted).
            Some(format!(
                "# {} changed an existing entry; its earlier rights are unknown. To restore them instead of removing all access: {} -AccessRights <earlier rights>\n{removal}",
                trustpath_powershell::comment_text(cmdlet),
                trustpath_powershell::comment_text(&restore)
            ))
        }
        "New-ManagementRoleAssignment" => {
            if let Some(name) = param("Name") {
                return Some(command_line(
                    "Remove-ManagementRoleAssignment",
                    &[("Identity", Some(name)), ("Confirm:$false", None)],
                ));
            }
            let role = param("Role")?;
            let assignee = param("User").or(param("App")).or(param("SecurityGroup"))?;
            Some(format!(
                "Get-ManagementRoleAssignment -Role {} -RoleAssignee {} | Remove-ManagementRoleAssignment -Confirm:$false",
                quote(role),
                quote(assignee)
            ))
        }
        _ => None,
    }
}

/// Rollback commands for every granted change an event records (deduplicated, in order).
pub fn rollbacks_for_event(event: &trustpath_event::Event, out: &mut Vec<String>) {
    for change in event.permission_changes() {
        if let Some(command) = rollback_for(&change)
            && !out.contains(&command)
        {
            out.push(command);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rollback_for(change: &Value) -> Option<String> {
        super::rollback_for(&PermissionChange::from_value(change)?)
    }

    #[test]
    fn full_access_rollback() {
        let change = json!({"cmdlet": "Add-MailboxPermission", "action": "grant",
            "right": "FullAccess", "mailbox": "ceo@contoso.com", "trustee": "eve@contoso.com",
            "params": {"Identity": "CEO@contoso.com", "User": "eve@contoso.com"}});
        assert_eq!(
            rollback_for(&change).as_deref(),
            Some(
                "Remove-MailboxPermission -Identity 'CEO@contoso.com' -User 'eve@contoso.com' -AccessRights 'FullAccess' -Confirm:$false"
            )
        );
    }

    #[test]
    fn changed_folder_entries_say_earlier_rights_are_unknown() {
        let change = json!({"cmdlet": "Set-MailboxFolderPermission", "action": "grant",
            "right": "Owner", "mailbox": "cfo@contoso.com", "trustee": "x@fabrikam.com",
            "folder": "Inbox", "params": {"Identity": "cfo@contoso.com:\\Inbox", "User": "x@fabrikam.com"}});
        let rollback = rollback_for(&change).unwrap_or_default();
        let lines: Vec<&str> = rollback.lines().collect();
        assert_eq!(lines.len(), 2, "{rollback}");
        assert!(lines[0].starts_with("# Set-MailboxFolderPermission changed an existing entry"));
        assert!(
            lines[1]
                .starts_with("Remove-MailboxFolderPermission -Identity 'cfo@contoso.com:\\Inbox'")
        );
    }

    #[test]
    fn hostile_names_are_quoted() {
        let change = json!({"cmdlet": "Set-Mailbox", "action": "grant", "right": "SendOnBehalf",
            "mailbox": "o'brien'; Remove-Mailbox ceo; '", "trustee": "$(calc)", "params": {}});
        let cmd = rollback_for(&change).unwrap_or_default();
        let parsed = trustpath_powershell::commands(&cmd);
        assert_eq!(parsed.len(), 1, "{cmd}");
        assert_eq!(
            parsed[0].param("Identity"),
            Some("o'brien'; Remove-Mailbox ceo; '")
        );
    }

    #[test]
    fn unresolved_variables_give_no_rollback() {
        let change = json!({"cmdlet": "Add-MailboxPermission", "action": "grant",
            "right": "FullAccess", "mailbox": null, "trustee": "eve@contoso.com",
            "params": {"Identity": "$target", "User": "eve@contoso.com"}});
        assert_eq!(rollback_for(&change), None);
    }

    #[test]
    fn removals_have_no_rollback() {
        let change = json!({"cmdlet": "Remove-MailboxPermission", "action": "remove"});
        assert_eq!(rollback_for(&change), None);
    }
}
