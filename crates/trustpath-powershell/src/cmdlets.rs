//! The Exchange cmdlets trustpath cares about: canonical names, parameter names (for
//! resolving abbreviations such as `-Acc` → `-AccessRights`) and the first positional
//! parameter.

/// One known cmdlet.
pub struct KnownCmdlet {
    /// Canonical name.
    pub name: &'static str,
    /// Parameter names, canonical spelling.
    pub params: &'static [&'static str],
    /// Name of the parameter bound by the first positional argument.
    pub positional: Option<&'static str>,
}

const COMMON: &[&str] = &[
    "Confirm",
    "DomainController",
    "WhatIf",
    "ErrorAction",
    "WarningAction",
    "Verbose",
];

/// The cmdlets whose parameters trustpath resolves. Others are still extracted, with
/// their parameters as written.
pub const KNOWN: &[KnownCmdlet] = &[
    KnownCmdlet {
        name: "Add-MailboxPermission",
        params: &[
            "Identity",
            "User",
            "AccessRights",
            "InheritanceType",
            "AutoMapping",
            "Deny",
            "Owner",
            "GroupMailbox",
            "IgnoreDefaultScope",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Remove-MailboxPermission",
        params: &[
            "Identity",
            "User",
            "AccessRights",
            "InheritanceType",
            "Deny",
            "ResetDefault",
            "IgnoreDefaultScope",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Add-RecipientPermission",
        params: &[
            "Identity",
            "Trustee",
            "AccessRights",
            "SkipDomainValidationForMailContact",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Remove-RecipientPermission",
        params: &["Identity", "Trustee", "AccessRights", "Deny"],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Set-Mailbox",
        params: &[
            "Identity",
            "GrantSendOnBehalfTo",
            "ForwardingSmtpAddress",
            "ForwardingAddress",
            "DeliverToMailboxAndForward",
            "Type",
            "HiddenFromAddressListsEnabled",
            "AuditEnabled",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Add-MailboxFolderPermission",
        params: &[
            "Identity",
            "User",
            "AccessRights",
            "SharingPermissionFlags",
            "SendNotificationToUser",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Set-MailboxFolderPermission",
        params: &[
            "Identity",
            "User",
            "AccessRights",
            "SharingPermissionFlags",
            "SendNotificationToUser",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "Remove-MailboxFolderPermission",
        params: &["Identity", "User", "Force", "SendNotificationToUser"],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "New-ManagementRoleAssignment",
        params: &[
            "Name",
            "Role",
            "User",
            "App",
            "SecurityGroup",
            "Policy",
            "Computer",
            "CustomRecipientWriteScope",
            "RecipientOrganizationalUnitScope",
            "RecipientRelativeWriteScope",
            "ExclusiveConfigWriteScope",
            "CustomResourceScope",
            "Delegating",
        ],
        positional: Some("Name"),
    },
    KnownCmdlet {
        name: "Remove-ManagementRoleAssignment",
        params: &["Identity"],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "New-OrganizationRelationship",
        params: &[
            "Name",
            "DomainNames",
            "MailboxMoveEnabled",
            "FreeBusyAccessEnabled",
            "Enabled",
        ],
        positional: Some("Name"),
    },
    KnownCmdlet {
        name: "Set-OrganizationRelationship",
        params: &[
            "Identity",
            "DomainNames",
            "MailboxMoveEnabled",
            "FreeBusyAccessEnabled",
            "Enabled",
        ],
        positional: Some("Identity"),
    },
    KnownCmdlet {
        name: "New-InboxRule",
        params: &[
            "Name",
            "Mailbox",
            "ForwardTo",
            "RedirectTo",
            "DeleteMessage",
        ],
        positional: Some("Name"),
    },
    KnownCmdlet {
        name: "Set-Alias",
        params: &["Name", "Value", "Scope", "Option", "Force"],
        positional: Some("Name"),
    },
    KnownCmdlet {
        name: "New-Alias",
        params: &["Name", "Value", "Scope", "Option", "Force"],
        positional: Some("Name"),
    },
    KnownCmdlet {
        name: "Invoke-Expression",
        params: &["Command"],
        positional: Some("Command"),
    },
];

/// Built-in aliases that matter for reading obfuscated scripts.
pub const BUILTIN_ALIASES: &[(&str, &str)] = &[
    ("sal", "Set-Alias"),
    ("nal", "New-Alias"),
    ("iex", "Invoke-Expression"),
];

/// The known cmdlet with this name (case-insensitive).
pub fn find(name: &str) -> Option<&'static KnownCmdlet> {
    KNOWN.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Resolve a possibly abbreviated parameter name to its canonical spelling.
///
/// PowerShell accepts any unambiguous prefix. An ambiguous or unknown prefix is
/// returned as written.
pub fn resolve_param(cmdlet: &KnownCmdlet, written: &str) -> String {
    let all = cmdlet.params.iter().chain(COMMON.iter());
    if let Some(exact) = all.clone().find(|p| p.eq_ignore_ascii_case(written)) {
        return (*exact).to_owned();
    }
    let lower = written.to_ascii_lowercase();
    let mut candidates = all.filter(|p| p.to_ascii_lowercase().starts_with(&lower));
    match (candidates.next(), candidates.next()) {
        (Some(only), None) if !written.is_empty() => (*only).to_owned(),
        _ => written.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_resolve_when_unique() {
        let Some(c) = find("add-mailboxpermission") else {
            panic!("known cmdlet missing");
        };
        assert_eq!(resolve_param(c, "Acc"), "AccessRights");
        assert_eq!(resolve_param(c, "u"), "User");
        assert_eq!(
            resolve_param(c, "i"),
            "i",
            "Identity/InheritanceType/IgnoreDefaultScope"
        );
        assert_eq!(resolve_param(c, "IDENTITY"), "Identity");
    }
}
