//! AN1051: mailbox delegate or folder permission added (unified audit log).
//!
//! Grants are clustered by (tenant, mailbox, delegate) within one hour, so a share of
//! `\Inbox` followed by an update of the same share is one finding, and two customers'
//! grants never share a finding. A grant counts when it succeeded and its rights reach a
//! level in `DelegatePermissionLevel` (role names, or the `MemberRights` flag lists
//! Exchange writes, read as the role they amount to), or when it lets an outsider or
//! everyone read the folder; for folder permissions its folder (or a parent of it,
//! localised names included) must be in `FolderTargetScope`. Pairs in
//! `DelegatorToDelegatePairing` are lowered. Grants by listed admins are lowered on
//! sensitive mailboxes and for outside delegates, never suppressed there; only routine
//! ones (non-sensitive mailbox, same-domain delegate) are left to the inventory.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use jiff::SignedDuration;
use std::sync::Arc;
use trustpath_context::Context;
use trustpath_event::{Event, norm};
use trustpath_report::{Finding, FindingKind, Level};

/// This analytic's id (its `[analytics.AN1051]` tunables).
const ID: &str = "AN1051";
const RULE: &str = "an1051_delegate_added";
const CLUSTER: SignedDuration = SignedDuration::from_hours(1);

/// Findings of AN1051.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let grants = input
        .matched(RULE)
        .iter()
        .filter(|e| !failed(e) && in_scope(input, e))
        .map(|e| {
            let step = e.operation().unwrap_or("grant").to_owned();
            let (mailbox, trustee) = tuning::mailbox_pair(e);
            let tenant = e.tenant().unwrap_or("").to_lowercase();
            ((tenant, mailbox, trustee), step, e)
        })
        .collect();
    tuning::clusters(grants, CLUSTER)
        .iter()
        .map(|cited| grant_finding(input, cited))
        .collect()
}

fn change_text<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event
        .get(&format!("{}.{key}", norm::PERMISSION_CHANGE))
        .and_then(|v| v.as_str())
}

/// Whether the record says the operation failed: `ResultStatus` `False` / `Failed`
/// (ExchangeAdmin and mailbox-audit records), `Succeeded` false, or a Graph-style
/// `result` of `failure`.
pub(crate) fn failed(event: &Event) -> bool {
    let text = |key: &str| {
        event.get(key).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.trim().to_lowercase()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    };
    let status = text("ResultStatus").unwrap_or_default();
    let succeeded = text("Succeeded").unwrap_or_default();
    let result = text("result").unwrap_or_default();
    matches!(status.as_str(), "false" | "failed" | "failure")
        || succeeded == "false"
        || matches!(result.as_str(), "failure" | "failed")
}

/// Outlook's `MemberRights` flags (PidTagMemberRights, MS-OXCPERM 2.2.7) and the
/// individual `-AccessRights` names of the folder cmdlets, as one bit each.
const FLAGS: [(&[&str], u16); 12] = [
    (&["readany", "readitems"], 0x1),
    (&["create", "createitems"], 0x2),
    (&["editowned", "editowneditems"], 0x8),
    (&["deleteowned", "deleteowneditems"], 0x10),
    (&["editany", "editallitems"], 0x20),
    (&["deleteany", "deleteallitems"], 0x40),
    (&["createsubfolder", "createsubfolders"], 0x80),
    (&["folderowner", "owner"], 0x100),
    (&["foldercontact", "contact"], 0x200),
    (&["visible", "foldervisible"], 0x400),
    (&["freebusysimple"], 0x800),
    (&["freebusydetailed"], 0x1000),
];

/// The roles Exchange defines as flag sets, strongest first (Set-MailboxFolderPermission
/// `-AccessRights` documentation).
const ROLES: [(&str, u16); 10] = [
    ("Owner", 0x7FB),
    ("PublishingEditor", 0x4FB),
    ("Editor", 0x47B),
    ("PublishingAuthor", 0x49B),
    ("Author", 0x41B),
    ("NonEditingAuthor", 0x413),
    ("Reviewer", 0x401),
    ("Contributor", 0x402),
    ("LimitedDetails", 0x1800),
    ("AvailabilityOnly", 0x800),
];

/// The flag bits of a rights text written as a flag list (`ReadAny, Create, …`) or as
/// the number Exchange stores; `None` when it names no flag (a role name, `FullAccess`).
fn member_flags(rights: &str) -> Option<u16> {
    let trimmed = rights.trim();
    if let Ok(n) = trimmed.parse::<u32>() {
        return u16::try_from(n & 0x1FFF).ok();
    }
    let mut bits = 0u16;
    let mut any = false;
    for word in trimmed
        .split([',', ';', ' ', '|'])
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if let Some((_, bit)) = FLAGS
            .iter()
            .find(|(names, _)| names.contains(&word.as_str()))
        {
            bits |= bit;
            any = true;
        }
    }
    any.then_some(bits)
}

/// The strongest role whose every flag the rights hold (`Editor` for
/// `ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny, Visible`).
fn role_of_flags(bits: u16) -> Option<&'static str> {
    ROLES
        .iter()
        .find(|(_, need)| bits & need == *need)
        .map(|(name, _)| *name)
}

/// The permission levels a change's rights amount to: the role names written, and the
/// role a flag list or number amounts to.
fn levels(rights: &str) -> (Vec<String>, bool) {
    let mut out = vec![rights.to_lowercase()];
    let reads = if let Some(bits) = member_flags(rights) {
        if let Some(role) = role_of_flags(bits) {
            out.push(role.to_lowercase());
        }
        bits & 0x1 != 0
    } else {
        let lower = rights.to_lowercase();
        [
            "owner",
            "editor",
            "author",
            "reviewer",
            "fullaccess",
            "readpermission",
        ]
        .iter()
        .any(|r| lower.contains(r))
    };
    (out, reads)
}

/// Principals that stand for everyone in the organisation (or anyone) on a folder.
fn everyone(trustee: &str) -> bool {
    let t = trustee.trim().to_lowercase();
    matches!(
        t.as_str(),
        "everyone" | "default" | "anonymous" | "all users" | "authenticated users"
    )
}

/// Localised names of the well-known folders Outlook and OWA create (the folder paths
/// audit records and cmdlets carry are in the mailbox's language).
const LOCALISED: [(&str, &[&str]); 3] = [
    (
        "inbox",
        &[
            "posteingang",
            "boîte de réception",
            "boite de reception",
            "bandeja de entrada",
            "posta in arrivo",
            "postvak in",
            "caixa de entrada",
            "skrzynka odbiorcza",
            "inkorgen",
            "indbakke",
            "innboks",
            "saapuneet",
            "doručená pošta",
            "beérkezett üzenetek",
            "gelen kutusu",
            "входящие",
            "受信トレイ",
            "收件箱",
            "받은 편지함",
        ],
    ),
    (
        "calendar",
        &[
            "kalender",
            "calendrier",
            "calendario",
            "calendário",
            "agenda",
            "kalendarz",
            "kalenteri",
            "kalendář",
            "naptár",
            "takvim",
            "календарь",
            "予定表",
            "日历",
            "일정",
        ],
    ),
    (
        "top of information store",
        &[
            "oberste ebene des informationsspeichers",
            "partie supérieure de la banque d'informations",
            "parte superior del almacén de información",
        ],
    ),
];

/// A folder name in English when it is a localised well-known folder.
fn canonical_folder(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    LOCALISED
        .iter()
        .find(|(_, names)| names.contains(&lower.as_str()))
        .map_or(lower, |(english, _)| (*english).to_owned())
}

/// Whether a folder path is in scope: the folder, or any folder above it, is one of the
/// scope's folders (in any of the languages Outlook names them); the mailbox root is
/// `Top of Information Store`.
pub(crate) fn folder_in_scope(folder: &str, scope: &[String]) -> bool {
    let parts: Vec<String> = folder
        .split(['\\', '/'])
        .filter(|p| !p.trim().is_empty())
        .map(canonical_folder)
        .collect();
    let scope: Vec<String> = scope.iter().map(|s| canonical_folder(s)).collect();
    // The well-known folders are at the top; `\Inbox\Payments` is under the Inbox.
    parts.first().is_none_or(|top| scope.contains(top))
}

/// Whether the delegate belongs to another domain than the mailbox.
fn external_delegate(event: &Event) -> bool {
    let domain = |key: &str| {
        event
            .norm_str(key)
            .and_then(|v| v.rsplit_once('@'))
            .map(|(_, d)| d.to_lowercase())
    };
    matches!((domain(norm::TARGET), domain(norm::TRUSTEE)), (Some(m), Some(t)) if m != t)
}

/// The alias an identity names: the local part of a UPN, the user of `DOMAIN\user`, the
/// last segment of an Exchange object path (`…/contoso.onmicrosoft.com/ceo`), or the
/// identity itself.
fn alias_of(identity: &str) -> String {
    let id = identity.trim().trim_matches(['"', '\'']);
    let id = id.rsplit(['/', '\\']).next().unwrap_or(id);
    let id = id.split_once('@').map_or(id, |(local, _)| local);
    id.trim().to_lowercase()
}

/// The listed admin account `actor` is: the same UPN or `DOMAIN\user`, or, when the
/// record names the actor without a domain (alias, `DOMAIN\user`, object path), the
/// listed account with that alias. A UPN of another domain is another person.
pub(crate) fn listed_admin<'c>(context: &'c Context, actor: &str) -> Option<&'c str> {
    let actor = actor.trim();
    if let Some(a) = context
        .admins
        .accounts
        .iter()
        .find(|a| a.eq_ignore_ascii_case(actor))
    {
        return Some(a.as_str());
    }
    if actor.contains('@') || actor.is_empty() {
        return None;
    }
    let alias = alias_of(actor);
    context
        .admins
        .accounts
        .iter()
        .find(|a| alias_of(a) == alias)
        .map(String::as_str)
}

/// The sensitive category of a mailbox named by address, or by alias / object path
/// (`ceo`, `…/contoso.onmicrosoft.com/ceo`): the alias is tried at every domain the
/// record and the context name for this organisation.
fn sensitive_mailbox(context: &Context, event: &Event, mailbox: &str) -> Option<(String, String)> {
    if mailbox.is_empty() {
        return None;
    }
    if mailbox.contains('@') {
        return context
            .is_sensitive(mailbox)
            .map(|c| (mailbox.to_owned(), c.to_owned()));
    }
    let alias = alias_of(mailbox);
    if alias.is_empty() {
        return None;
    }
    let mut domains: Vec<String> = Vec::new();
    let mut push = |d: &str| {
        let d = d.trim().to_lowercase();
        if !d.is_empty() && !d.contains('*') && !domains.contains(&d) {
            domains.push(d);
        }
    };
    for category in &context.sensitive_mailboxes {
        for glob in &category.patterns {
            if let Some((_, d)) = glob.as_str().rsplit_once('@') {
                push(d);
            }
        }
    }
    for account in &context.admins.accounts {
        if let Some((_, d)) = account.rsplit_once('@') {
            push(d);
        }
    }
    for key in ["OrganizationName", norm::ACTOR] {
        if let Some((_, d)) = event
            .norm_str(key)
            .map(|v| v.rsplit_once('@').unwrap_or(("", v)))
        {
            push(d);
        }
    }
    if let Some(path) = event.norm_str("ObjectId") {
        for seg in path.split('/') {
            if seg.contains('.') && !seg.contains('@') {
                push(seg);
            }
        }
    }
    domains.iter().find_map(|d| {
        let address = format!("{alias}@{d}");
        context
            .is_sensitive(&address)
            .map(|c| (address.clone(), c.to_owned()))
    })
}

fn in_scope(input: &AnalyticInput<'_>, event: &Arc<Event>) -> bool {
    let context = input.context;
    let mailbox = event.norm_str(norm::TARGET).unwrap_or("");
    let admin = event.actor().and_then(|a| listed_admin(context, a));
    let sensitive = sensitive_mailbox(context, event, mailbox).is_some();
    // Routine administration (the inventory lists it): a listed admin, a mailbox nobody
    // marked sensitive, a delegate of the mailbox's own domain.
    if admin.is_some() && !sensitive && !external_delegate(event) {
        return false;
    }
    let tunables = &context.analytics;
    let rights = change_text(event, "right").unwrap_or("");
    let cmdlet = change_text(event, "cmdlet").unwrap_or("");
    // Send As / Send on Behalf: the delegate sends as the owner; always counts.
    let sends = matches!(cmdlet, "Add-RecipientPermission" | "Set-Mailbox")
        || rights.to_lowercase().starts_with("send");
    let (levels, reads) = levels(rights);
    let level_ok = tunables
        .strings(ID, "DelegatePermissionLevel")
        .iter()
        .any(|level| {
            let level = level.to_lowercase();
            levels.iter().any(|l| l.contains(&level))
        });
    // Reading a folder is what a mailbox thief wants: a read right given to someone
    // outside the mailbox's domain, or to everyone, counts whatever its role.
    let trustee = change_text(event, "trustee").unwrap_or("");
    let open_read = reads && (external_delegate(event) || everyone(trustee));
    let folder_ok = match change_text(event, "folder") {
        None | Some("") => true,
        Some(folder) => folder_in_scope(folder, tunables.strings(ID, "FolderTargetScope")),
    };
    (sends || level_ok || open_read) && folder_ok
}

fn grant_finding(input: &AnalyticInput<'_>, cited: &Cited<'_>) -> Finding {
    let rights: Vec<String> = cited
        .iter()
        .filter_map(|(_, e)| change_text(e, "right"))
        .map(|r| match member_flags(r).and_then(role_of_flags) {
            Some(role) if !r.eq_ignore_ascii_case(role) => format!("{r} = {role}"),
            _ => r.to_owned(),
        })
        .collect();
    let mut finding = tuning::new_finding(
        input,
        input.rule(RULE),
        FindingKind::Alert,
        Level::from_sigma(Some(&input.meta.base_level)),
        format!("delegate permission granted ({})", rights.join(", ")),
        cited,
        "",
    );
    let context = input.context;
    let mailbox = finding.entities.mailbox.clone().unwrap_or_default();
    let trustee = finding.entities.trustee.clone().unwrap_or_default();
    let expected_pair = context
        .analytics
        .delegate_pairs(ID, "DelegatorToDelegatePairing")
        .iter()
        .any(|p| {
            p.delegator.eq_ignore_ascii_case(&mailbox) && p.delegate.eq_ignore_ascii_case(&trustee)
        });
    if expected_pair {
        finding.severity.lower(format!(
            "{mailbox} → {trustee} is an expected pairing (DelegatorToDelegatePairing)"
        ));
    }
    if cited.iter().any(|(_, e)| external_delegate(e)) {
        finding.severity.raise(format!(
            "delegate {trustee} is outside the mailbox's domain"
        ));
    }
    if cited
        .iter()
        .any(|(_, e)| change_text(e, "trustee").is_some_and(everyone))
    {
        finding
            .severity
            .raise(format!("{mailbox} folder opened to everyone ({trustee})"));
    }
    let grants = tuning::grants(cited.iter().map(|(_, e)| *e));
    let before = finding.severity.reasons.len();
    tuning::sensitive_mailbox(&mut finding, context, &grants);
    let raised_sensitive = finding.severity.reasons.len() > before;
    if !raised_sensitive
        && let Some((_, first)) = cited.first()
        && let Some((address, category)) = sensitive_mailbox(context, first, &mailbox)
    {
        finding.severity.raise(format!(
            "sensitive mailbox: {mailbox} is {address} ({category})"
        ));
    }
    let actor = finding.entities.actor.clone();
    if let Some(listed) = actor.as_deref().and_then(|a| listed_admin(context, a)) {
        finding.severity.lower(format!(
            "granted by {listed}, a listed admin account ([admins] accounts allow list); \
             reported because the mailbox is sensitive or the delegate is outside its domain"
        ));
    }
    tuning::first_seen_actor(&mut finding, input, actor.as_deref());
    tuning::first_seen_trustee(&mut finding, input);
    let actors: Vec<&str> = actor.as_deref().into_iter().collect();
    tuning::authorise_grants(&mut finding, context, &actors, &grants, None);
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_lists_read_as_roles() {
        let editor = "ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny, Visible";
        assert_eq!(member_flags(editor).and_then(role_of_flags), Some("Editor"));
        let owner = "ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny, \
                     CreateSubfolder, FolderOwner, FolderContact, FolderVisible";
        assert_eq!(member_flags(owner).and_then(role_of_flags), Some("Owner"));
        assert_eq!(
            member_flags("ReadAny, Visible").and_then(role_of_flags),
            Some("Reviewer")
        );
        assert_eq!(
            member_flags("ReadItems,CreateItems,EditOwnedItems,DeleteOwnedItems,EditAllItems,DeleteAllItems,FolderVisible")
                .and_then(role_of_flags),
            Some("Editor")
        );
        assert_eq!(member_flags("1147").and_then(role_of_flags), Some("Editor"));
        assert_eq!(member_flags("Editor"), None);
        assert_eq!(
            member_flags("FreeBusySimple").and_then(role_of_flags),
            Some("AvailabilityOnly")
        );
    }

    #[test]
    fn folders_in_scope_include_subfolders_and_languages() {
        let scope = vec!["Inbox".to_owned(), "Calendar".to_owned()];
        assert!(folder_in_scope("\\Inbox", &scope));
        assert!(folder_in_scope("\\Inbox\\Payments", &scope));
        assert!(folder_in_scope("\\Posteingang", &scope));
        assert!(folder_in_scope("\\Boîte de réception\\Factures", &scope));
        assert!(folder_in_scope("/Bandeja de entrada", &scope));
        assert!(folder_in_scope("\\Kalender", &scope));
        assert!(!folder_in_scope("\\Contacts", &scope));
        assert!(!folder_in_scope("\\Projects\\Inbox", &scope));
        assert!(folder_in_scope("\\", &scope));
    }

    #[test]
    fn aliases_resolve_to_the_same_person_only() {
        assert_eq!(alias_of("helpdesk@contoso.com"), "helpdesk");
        assert_eq!(alias_of("CONTOSO\\helpdesk"), "helpdesk");
        assert_eq!(
            alias_of(
                "NAMPR10A011.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/ceo"
            ),
            "ceo"
        );
    }
}
