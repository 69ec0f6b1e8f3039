//! Inventory: partner relationships and mailbox permissions reconstructed from the logs,
//! for periodic access review (`trustpath inventory`).
//!
//! [`InventoryCollector`] keeps the (few) events that change access — every
//! `tp.permission_change` (grants and removals, from the unified audit log and from host
//! PowerShell) and every partner relationship event — and counts Exchange system noise
//! (`NT AUTHORITY\…`, `Microsoft.Exchange.ServiceHost`) without keeping it.
//! [`InventoryCollector::report`] replays them in event-time order:
//!
//! * **Mailbox permissions** are keyed by mailbox, folder, trustee and right. The same
//!   grant seen several times within [`SAME_CHANGE_WINDOW`] (a host script block, its
//!   process start and the Exchange audit record of the same change) is one grant whose
//!   `evidence` is `audit`, `host` or `both`; host-only grants are listed. A removal
//!   closes the standing grants it matches (an empty right or trustee on the removal
//!   matches any); a removal that matches nothing is listed as the removal of a
//!   permission granted before the input began. `approved` is the change ticket that
//!   covers the grant (`Context::matching_ticket`).
//! * **Partner relationships** are keyed by partner tenant: UAL `Add partner to
//!   company.` / `Remove partner from company.`, Entra `Add partner to company`, `Remove
//!   partner from company`, `Set Partnership`, `Demote partner`, partner cross-tenant
//!   access setting changes, and `Add member to role` made by the GDAP service
//!   principals. A GDAP role assignment that does not name the partner tenant is
//!   attributed to the partner of the latest relationship event in the 24 hours before
//!   it. A relationship stands at the end of the input unless its last event is a removal.

use crate::text::time_text;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, Write};
use trustpath_context::Context;
use trustpath_event::PermissionChange as Change;
use trustpath_event::norm::PARTNER_TENANT;
use trustpath_event::{Event, Origin, SourceKind, TimeRange};
use trustpath_report::neutralize_formula;

/// Observations of the same grant (or removal) closer than this are one change.
pub const SAME_CHANGE_WINDOW: SignedDuration = SignedDuration::from_hours(1);
/// How far back a GDAP role assignment without a partner tenant looks for its partner.
const GDAP_ATTRIBUTION_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// App ids of the Partner Center GDAP service principals in customer tenants.
pub const GDAP_APP_IDS: [&str; 3] = [
    "2832473f-ec63-45fb-976f-5d45a7d4bb91",
    "a3475900-ccec-4a69-98f5-a65cd5dc5306",
    "b39d63e7-7fa3-4b2b-94ea-ee256fdb8c2f",
];

/// Mailbox name used for organisation-wide role assignments (no recipient scope).
pub const ORGANIZATION: &str = "(organization)";

/// Where a change was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen {
    /// Only in the Microsoft 365 / Entra audit logs.
    Audit,
    /// Only on a host (PowerShell, process creation, MSExchange Management).
    Host,
    /// In both.
    Both,
}

impl Seen {
    fn of(source: SourceKind) -> Seen {
        if source == SourceKind::Windows {
            Seen::Host
        } else {
            Seen::Audit
        }
    }

    fn with(self, other: Seen) -> Seen {
        if self == other { self } else { Seen::Both }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Seen::Audit => "audit",
            Seen::Host => "host",
            Seen::Both => "both",
        }
    }
}

/// What a permission grants, for grouping in reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionKind {
    /// `Add-MailboxPermission` (FullAccess, ReadPermission …).
    Mailbox,
    /// `Add-RecipientPermission` SendAs.
    SendAs,
    /// `Set-Mailbox -GrantSendOnBehalfTo`.
    SendOnBehalf,
    /// A folder permission or calendar delegation.
    Folder,
    /// `New-ManagementRoleAssignment -Role ApplicationImpersonation`.
    Impersonation,
    /// Another management role assignment.
    Role,
}

impl PermissionKind {
    fn classify(right: &str, folder: Option<&str>, cmdlet: &str) -> PermissionKind {
        let right_lower = right.to_ascii_lowercase();
        if right_lower.starts_with("role:") || right_lower == "role" {
            if right_lower.contains("impersonation") {
                PermissionKind::Impersonation
            } else {
                PermissionKind::Role
            }
        } else if right_lower == "sendas" {
            PermissionKind::SendAs
        } else if right_lower == "sendonbehalf" {
            PermissionKind::SendOnBehalf
        } else if folder.is_some() || cmdlet.to_ascii_lowercase().contains("folder") {
            PermissionKind::Folder
        } else {
            PermissionKind::Mailbox
        }
    }
}

/// A record that shows a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRef {
    /// Event time.
    pub time: Timestamp,
    /// `source/format`.
    pub source: String,
    /// Where the record is.
    pub origin: Origin,
    /// The record's own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

impl RecordRef {
    fn of(event: &Event) -> RecordRef {
        RecordRef {
            time: event.time,
            source: format!("{}/{}", event.source, event.format),
            origin: event.origin.clone(),
            record_id: record_id(event),
        }
    }
}

fn record_id(event: &Event) -> Option<String> {
    ["Id", "id", "EventRecordID", "RecordId"]
        .iter()
        .find_map(|k| event.fields.get(*k))
        .and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// A grant or removal of a permission, with every record that shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionChange {
    /// When (the audit record's time when there is one, else the first host record's).
    pub time: Timestamp,
    /// Who made the change.
    pub actor: Option<String>,
    /// Cmdlet or mailbox operation.
    pub cmdlet: String,
    /// Where it was seen.
    pub evidence: Seen,
    /// The records, in time order.
    pub records: Vec<RecordRef>,
}

impl PermissionChange {
    fn absorb(&mut self, obs: &Observation) {
        let seen = Seen::of(obs.source);
        if seen == Seen::Audit && self.evidence == Seen::Host {
            // The Exchange audit record is the authoritative time and actor.
            self.time = obs.record.time;
            self.cmdlet = obs.change.cmdlet.clone();
            if obs.actor.is_some() {
                self.actor = obs.actor.clone();
            }
        } else if self.actor.is_none() {
            self.actor = obs.actor.clone();
        }
        self.evidence = self.evidence.with(seen);
        self.records.push(obs.record.clone());
    }

    fn last_seen(&self) -> Timestamp {
        self.records
            .iter()
            .map(|r| r.time)
            .max()
            .unwrap_or(self.time)
    }
}

/// One mailbox permission: its grant, its removal, whether it still stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailboxPermission {
    /// Mailbox (lower-case), or [`ORGANIZATION`] for organisation-wide role assignments.
    pub mailbox: String,
    /// Folder (`\Inbox`) for folder permissions.
    pub folder: Option<String>,
    /// Who holds the permission.
    pub trustee: Option<String>,
    /// Right as the change names it (`FullAccess`, `SendAs`, `SendOnBehalf`, `Editor`,
    /// `Role:ApplicationImpersonation` …).
    pub right: String,
    /// What the right is.
    pub kind: PermissionKind,
    /// The grant; `None` when only the removal of an older permission is in the input.
    pub granted: Option<PermissionChange>,
    /// The removal, if the permission was removed.
    pub removed: Option<PermissionChange>,
    /// Still in place at the end of the input.
    pub standing: bool,
    /// Change ticket covering the grant, if any.
    pub approved: Option<String>,
    /// Where the grant was seen (`None` when there is no grant in the input).
    pub evidence: Option<Seen>,
}

/// One event of a partner relationship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipEvent {
    /// Event time.
    pub time: Timestamp,
    /// Operation / activity as logged.
    pub activity: String,
    /// What it does to the relationship.
    pub effect: RelationshipEffect,
    /// Who (user, or GDAP app id).
    pub actor: Option<String>,
    /// The record.
    pub record: RecordRef,
}

/// What a relationship event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipEffect {
    /// The partner was added.
    Added,
    /// The relationship or its access was changed (GDAP role, cross-tenant access).
    Changed,
    /// The partner was removed.
    Removed,
}

/// A partner (DAP / GDAP) relationship reconstructed from the logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerRelationship {
    /// Partner tenant id (lower-case), or `unknown`.
    pub partner_tenant: String,
    /// Name from the context, if the partner is configured.
    pub name: Option<String>,
    /// The partner is configured in the context.
    pub in_context: bool,
    /// The context approves this partner's relationship.
    pub approved: bool,
    /// First event that added (or, failing that, changed) the relationship.
    pub added: Option<RelationshipEvent>,
    /// The removal, when the relationship ends removed.
    pub removed: Option<RelationshipEvent>,
    /// Still in place at the end of the input.
    pub standing: bool,
    /// Every relationship event, in time order.
    pub events: Vec<RelationshipEvent>,
}

/// Access reconstructed from the logs: what `trustpath inventory` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Time range of the input ("standing" means at its end).
    pub time: TimeRange,
    /// Partner relationships, by partner tenant.
    pub partners: Vec<PartnerRelationship>,
    /// Mailbox permissions, in grant (or removal) time order.
    pub permissions: Vec<MailboxPermission>,
    /// Permission cmdlets run by Exchange system accounts: counted, not listed.
    pub system_noise: u64,
}

/// What the inventory keys on, from one [`Change`] (`tp.permission_change`).
#[derive(Debug, Clone, PartialEq)]
struct ChangeFields {
    cmdlet: String,
    grant: bool,
    right: String,
    mailbox: Option<String>,
    trustee: Option<String>,
    folder: Option<String>,
    identity: Option<String>,
}

impl ChangeFields {
    fn parse(change: &Change) -> ChangeFields {
        let text = |value: Option<&str>| {
            value
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let grant = change.grants();
        let right = text(Some(&change.right)).unwrap_or_default();
        let mut mailbox = text(change.mailbox.as_deref()).map(|m| mailbox_name(&m));
        if mailbox.is_none() && grant && right.to_ascii_lowercase().starts_with("role:") {
            // A role assignment without a recipient scope applies to the organisation.
            mailbox = Some(ORGANIZATION.to_owned());
        }
        ChangeFields {
            cmdlet: text(Some(&change.cmdlet)).unwrap_or_default(),
            grant,
            right,
            mailbox,
            trustee: text(change.trustee.as_deref()).map(|t| t.to_lowercase()),
            folder: text(change.folder.as_deref()).map(|f| folder_name(&f)),
            identity: change.params.get("Identity").map(str::to_lowercase),
        }
    }
}

fn mailbox_name(mailbox: &str) -> String {
    let m = mailbox.trim().to_lowercase();
    if m == "*" { ORGANIZATION.to_owned() } else { m }
}

/// `\Inbox` whatever the source wrote (`Inbox`, `\Inbox`, `:\Inbox`).
fn folder_name(folder: &str) -> String {
    let f = folder.trim().trim_start_matches(':');
    if f.starts_with('\\') || f.starts_with('/') {
        f.to_owned()
    } else {
        format!("\\{f}")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Observation {
    source: SourceKind,
    actor: Option<String>,
    change: ChangeFields,
    record: RecordRef,
}

#[derive(Debug, Clone, PartialEq)]
struct RelationshipObservation {
    partner: Option<String>,
    event: RelationshipEvent,
}

/// Streaming inventory tally; see the module docs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryCollector {
    time: TimeRange,
    changes: Vec<Observation>,
    relationships: Vec<RelationshipObservation>,
    system_noise: u64,
}

/// Whether an actor is an Exchange system account (noise, not an access change).
pub fn is_system_actor(actor: &str) -> bool {
    let a = actor.trim().to_ascii_lowercase();
    a.starts_with("nt authority\\") || a.contains("microsoft.exchange.servicehost")
}

impl InventoryCollector {
    /// Look at one event; keeps it only if it changes access.
    pub fn observe(&mut self, event: &Event) {
        self.time.include(event.time);
        let changes = event.permission_changes();
        if !changes.is_empty() {
            self.observe_permission_changes(event, &changes);
        }
        if let Some((activity, effect)) = relationship_activity(event) {
            self.relationships.push(RelationshipObservation {
                partner: event
                    .norm_str(PARTNER_TENANT)
                    .filter(|p| !p.is_empty())
                    .map(str::to_lowercase),
                event: RelationshipEvent {
                    time: event.time,
                    activity,
                    effect,
                    actor: event.actor().map(str::to_owned),
                    record: RecordRef::of(event),
                },
            });
        }
    }

    fn observe_permission_changes(&mut self, event: &Event, changes: &[Change]) {
        let actor = event.actor().filter(|a| !a.is_empty());
        if actor.is_some_and(is_system_actor) {
            self.system_noise += 1;
            return;
        }
        for change in changes.iter().map(ChangeFields::parse) {
            self.changes.push(Observation {
                source: event.source,
                actor: actor.map(str::to_owned),
                change,
                record: RecordRef::of(event),
            });
        }
    }

    /// Add another collector's observations.
    pub fn merge(&mut self, other: InventoryCollector) {
        self.time.merge(&other.time);
        self.changes.extend(other.changes);
        self.relationships.extend(other.relationships);
        self.system_noise += other.system_noise;
    }

    /// Replay the observations in event-time order into the inventory.
    pub fn report(&self, context: &Context) -> Inventory {
        Inventory {
            time: self.time,
            partners: partner_relationships(&self.relationships, context),
            permissions: mailbox_permissions(&self.changes, context),
            system_noise: self.system_noise,
        }
    }
}

/// The activity name and effect when `event` is a partner relationship event.
fn relationship_activity(event: &Event) -> Option<(String, RelationshipEffect)> {
    if !matches!(event.source, SourceKind::M365Audit | SourceKind::EntraAudit) {
        return None;
    }
    let activity = [
        trustpath_event::norm::OPERATION,
        "Operation",
        "activityDisplayName",
        "OperationName",
    ]
    .iter()
    .find_map(|k| event.norm_str(k))
    .map(str::trim)?;
    let name = activity.trim_end_matches('.').to_ascii_lowercase();
    let effect = match name.as_str() {
        "add partner to company" | "promote company to partner" => RelationshipEffect::Added,
        "remove partner from company" => RelationshipEffect::Removed,
        "set partnership" | "demote partner" => RelationshipEffect::Changed,
        n if n.contains("partner cross-tenant access setting") => RelationshipEffect::Changed,
        "add member to role" if initiated_by_gdap(event) => RelationshipEffect::Changed,
        _ => return None,
    };
    Some((activity.to_owned(), effect))
}

fn initiated_by_gdap(event: &Event) -> bool {
    let is_gdap = |s: &str| {
        GDAP_APP_IDS
            .iter()
            .any(|id| s.to_ascii_lowercase().contains(id))
    };
    [
        "initiatedBy.app.appId",
        trustpath_event::norm::ACTOR,
        "InitiatedBy",
    ]
    .iter()
    .filter_map(|k| event.get(k))
    .any(|v| v.as_str().is_some_and(is_gdap))
}

fn partner_relationships(
    observations: &[RelationshipObservation],
    context: &Context,
) -> Vec<PartnerRelationship> {
    let mut sorted: Vec<&RelationshipObservation> = observations.iter().collect();
    sorted.sort_by(|a, b| {
        (a.event.time, &a.event.record.origin).cmp(&(b.event.time, &b.event.record.origin))
    });
    let mut partners: Vec<PartnerRelationship> = Vec::new();
    let mut last_known: Option<(Timestamp, String)> = None;
    for obs in sorted {
        let tenant = match &obs.partner {
            Some(t) => t.clone(),
            None => last_known
                .as_ref()
                .filter(|(t, _)| obs.event.time.duration_since(*t) <= GDAP_ATTRIBUTION_WINDOW)
                .map_or_else(|| "unknown".to_owned(), |(_, p)| p.clone()),
        };
        if obs.partner.is_some() {
            last_known = Some((obs.event.time, tenant.clone()));
        }
        let index = match partners.iter().position(|p| p.partner_tenant == tenant) {
            Some(i) => i,
            None => {
                partners.push(new_relationship(&tenant, context));
                partners.len() - 1
            }
        };
        partners[index].events.push(obs.event.clone());
    }
    for partner in &mut partners {
        settle_relationship(partner);
    }
    partners.sort_by(|a, b| a.partner_tenant.cmp(&b.partner_tenant));
    partners
}

fn new_relationship(tenant: &str, context: &Context) -> PartnerRelationship {
    let known = context.partner_by_tenant(tenant);
    PartnerRelationship {
        partner_tenant: tenant.to_owned(),
        name: known.map(|p| p.name.clone()),
        in_context: known.is_some(),
        approved: known.is_some_and(|p| p.approved),
        added: None,
        removed: None,
        standing: false,
        events: Vec::new(),
    }
}

fn settle_relationship(partner: &mut PartnerRelationship) {
    let events = &partner.events;
    partner.added = events
        .iter()
        .find(|e| e.effect == RelationshipEffect::Added)
        .or_else(|| {
            events
                .iter()
                .find(|e| e.effect == RelationshipEffect::Changed)
        })
        .cloned();
    let last = events.last();
    partner.standing = last.is_some_and(|e| e.effect != RelationshipEffect::Removed);
    partner.removed = last
        .filter(|e| e.effect == RelationshipEffect::Removed)
        .cloned();
}

/// Replay grants and removals in time order.
fn mailbox_permissions(observations: &[Observation], context: &Context) -> Vec<MailboxPermission> {
    let mut sorted: Vec<&Observation> = observations.iter().collect();
    sorted
        .sort_by(|a, b| (a.record.time, &a.record.origin).cmp(&(b.record.time, &b.record.origin)));
    let mut permissions: Vec<MailboxPermission> = Vec::new();
    for obs in sorted {
        if obs.change.grant {
            apply_grant(&mut permissions, obs);
        } else {
            apply_removal(&mut permissions, obs);
        }
    }
    for permission in &mut permissions {
        permission.standing = permission.granted.is_some() && permission.removed.is_none();
        permission.evidence = permission.granted.as_ref().map(|g| g.evidence);
        permission.approved = approval(permission, context);
    }
    permissions.sort_by_key(change_time);
    permissions
}

fn change_time(p: &MailboxPermission) -> Option<Timestamp> {
    p.granted.as_ref().or(p.removed.as_ref()).map(|c| c.time)
}

fn approval(permission: &MailboxPermission, context: &Context) -> Option<String> {
    let grant = permission.granted.as_ref()?;
    let actor = grant.actor.as_deref().unwrap_or("");
    context
        .matching_ticket(actor, &permission.mailbox, &grant.cmdlet, grant.time)
        .map(|t| t.id.clone())
}

fn same_key(p: &MailboxPermission, c: &ChangeFields) -> bool {
    c.mailbox.as_deref().unwrap_or("") == p.mailbox
        && eq_ci(c.folder.as_deref(), p.folder.as_deref())
        && c.trustee == p.trustee
        && c.right.eq_ignore_ascii_case(&p.right)
}

fn eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

fn within(a: Timestamp, b: Timestamp) -> bool {
    a.duration_since(b).abs() <= SAME_CHANGE_WINDOW
}

fn new_change(obs: &Observation) -> PermissionChange {
    PermissionChange {
        time: obs.record.time,
        actor: obs.actor.clone(),
        cmdlet: obs.change.cmdlet.clone(),
        evidence: Seen::of(obs.source),
        records: vec![obs.record.clone()],
    }
}

fn apply_grant(permissions: &mut Vec<MailboxPermission>, obs: &Observation) {
    let c = &obs.change;
    let repeat = permissions.iter_mut().rev().find(|p| {
        same_key(p, c)
            && p.removed.is_none()
            && p.granted
                .as_ref()
                .is_some_and(|g| within(obs.record.time, g.last_seen()))
    });
    if let Some(grant) = repeat.and_then(|p| p.granted.as_mut()) {
        grant.absorb(obs);
        return;
    }
    permissions.push(MailboxPermission {
        mailbox: c.mailbox.clone().unwrap_or_default(),
        folder: c.folder.clone(),
        trustee: c.trustee.clone(),
        right: c.right.clone(),
        kind: PermissionKind::classify(&c.right, c.folder.as_deref(), &c.cmdlet),
        granted: Some(new_change(obs)),
        removed: None,
        standing: true,
        approved: None,
        evidence: None,
    });
}

/// Whether removal `c` takes away permission `p` (empty parts of the removal match any).
fn removal_matches(p: &MailboxPermission, c: &ChangeFields) -> bool {
    let mailbox = c.mailbox.as_deref().is_none_or(|m| m == p.mailbox);
    let folder = c.folder.is_none() || eq_ci(c.folder.as_deref(), p.folder.as_deref());
    let trustee = c.trustee.is_none() || c.trustee == p.trustee;
    let right = if c.right.eq_ignore_ascii_case("role") {
        // Remove-ManagementRoleAssignment names the assignment, not the trustee.
        p.right.to_ascii_lowercase().starts_with("role:") && identity_names_trustee(c, p)
    } else {
        c.right.is_empty() || c.right.eq_ignore_ascii_case(&p.right)
    };
    mailbox && folder && trustee && right
}

fn identity_names_trustee(c: &ChangeFields, p: &MailboxPermission) -> bool {
    let (Some(identity), Some(trustee)) = (c.identity.as_deref(), p.trustee.as_deref()) else {
        return false;
    };
    let local = trustee.split('@').next().unwrap_or(trustee);
    !local.is_empty() && identity.contains(local)
}

fn apply_removal(permissions: &mut Vec<MailboxPermission>, obs: &Observation) {
    let c = &obs.change;
    let mut matched = false;
    for p in permissions.iter_mut().filter(|p| removal_matches(p, c)) {
        match &mut p.removed {
            Some(removal) if within(obs.record.time, removal.last_seen()) => {
                removal.absorb(obs);
                matched = true;
            }
            Some(_) => {}
            None => {
                p.removed = Some(new_change(obs));
                matched = true;
            }
        }
    }
    if !matched {
        permissions.push(MailboxPermission {
            mailbox: c.mailbox.clone().unwrap_or_default(),
            folder: c.folder.clone(),
            trustee: c.trustee.clone(),
            right: c.right.clone(),
            kind: PermissionKind::classify(&c.right, c.folder.as_deref(), &c.cmdlet),
            granted: None,
            removed: Some(new_change(obs)),
            standing: false,
            approved: None,
            evidence: None,
        });
    }
}

impl Inventory {
    /// Mailbox permissions still in place at the end of the input.
    pub fn standing_permissions(&self) -> impl Iterator<Item = &MailboxPermission> {
        self.permissions.iter().filter(|p| p.standing)
    }

    /// CSV for spreadsheets: one row per partner relationship, then one per mailbox
    /// permission. Cells that a spreadsheet would run as a formula are neutralised.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(CSV_HEADER)?;
        for partner in &self.partners {
            writer.write_record(partner_row(partner).iter().map(|c| neutralize_formula(c)))?;
        }
        for permission in &self.permissions {
            writer.write_record(
                permission_row(permission)
                    .iter()
                    .map(|c| neutralize_formula(c)),
            )?;
        }
        writer.flush()?;
        Ok(())
    }

    /// The inventory as pretty JSON.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

const CSV_HEADER: [&str; 15] = [
    "type",
    "target",
    "folder",
    "principal",
    "right",
    "granted_at",
    "granted_by",
    "granted_with",
    "granted_record",
    "evidence",
    "removed_at",
    "removed_by",
    "removed_record",
    "standing",
    "approved",
];

fn record_text(records: &[RecordRef]) -> String {
    records
        .iter()
        .map(|r| match &r.record_id {
            Some(id) => format!("{} ({id})", r.origin),
            None => r.origin.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn change_cells(change: Option<&PermissionChange>) -> [String; 4] {
    match change {
        Some(c) => [
            time_text(c.time),
            c.actor.clone().unwrap_or_default(),
            c.cmdlet.clone(),
            record_text(&c.records),
        ],
        None => Default::default(),
    }
}

fn permission_row(p: &MailboxPermission) -> Vec<String> {
    let [granted_at, granted_by, granted_with, granted_record] = change_cells(p.granted.as_ref());
    let [removed_at, removed_by, _, removed_record] = change_cells(p.removed.as_ref());
    vec![
        "mailbox_permission".to_owned(),
        p.mailbox.clone(),
        p.folder.clone().unwrap_or_default(),
        p.trustee.clone().unwrap_or_default(),
        p.right.clone(),
        granted_at,
        granted_by,
        granted_with,
        granted_record,
        p.evidence.map(Seen::as_str).unwrap_or_default().to_owned(),
        removed_at,
        removed_by,
        removed_record,
        p.standing.to_string(),
        p.approved.clone().unwrap_or_default(),
    ]
}

fn event_cells(event: Option<&RelationshipEvent>) -> [String; 4] {
    match event {
        Some(e) => [
            time_text(e.time),
            e.actor.clone().unwrap_or_default(),
            e.activity.clone(),
            record_text(std::slice::from_ref(&e.record)),
        ],
        None => Default::default(),
    }
}

fn partner_row(p: &PartnerRelationship) -> Vec<String> {
    let [added_at, added_by, added_with, added_record] = event_cells(p.added.as_ref());
    let [removed_at, removed_by, _, removed_record] = event_cells(p.removed.as_ref());
    vec![
        "partner_relationship".to_owned(),
        p.partner_tenant.clone(),
        String::new(),
        p.name.clone().unwrap_or_default(),
        "delegated admin relationship".to_owned(),
        added_at,
        added_by,
        added_with,
        added_record,
        "audit".to_owned(),
        removed_at,
        removed_by,
        removed_record,
        p.standing.to_string(),
        if p.approved {
            "approved partner (context)".to_owned()
        } else {
            String::new()
        },
    ]
}
