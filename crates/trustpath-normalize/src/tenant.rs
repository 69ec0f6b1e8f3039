//! Tenant attribution: which customer tenant a record belongs to, decided before
//! matching, from the record's own fields.
//!
//! The per-format normalizers set `tp.tenant` from the field that names the resource
//! tenant (UAL `OrganizationId`, sign-in `resourceTenantId`, Sentinel `TenantId` /
//! `AADTenantId`). Graph `directoryAudit` exports name no tenant; for those (and any
//! other record without one) [`TenantCensus::attribute`] decides from what the records
//! delivered *together* with it say — the inputs of one folder in a hunt, the messages of
//! one subject token in `serve` — and never across them:
//!
//! 1. `initiator`: the initiating user's `homeTenantId` is one of the tenants the group
//!    names (the initiator is a member of that resource tenant; a partner's home tenant
//!    is never a tenant of the group unless the group holds its records too);
//! 2. `domain`: the initiating user's UPN domain belongs to exactly one tenant of the
//!    group (learnt from records whose actor acts in its own tenant);
//! 3. `entra_export`: an Entra record, and the group's Entra records (sign-ins name their
//!    `resourceTenantId`, Sentinel rows their `TenantId`) name exactly one tenant — an
//!    Entra export is one tenant's (Graph is tenant-scoped), even when the folder's
//!    unified audit log holds records of several organisations;
//! 4. `folder`: the group names exactly one tenant.
//!
//! Otherwise the record stays unattributed: counted, shown in the summary, never given to
//! a tenant. Attribution re-derives `tp.partner_tenant` (it needs the record's tenant).
//! The way a tenant was found is written to `tp.tenant_attribution`.

use crate::partner::{add_partner_tenant, clear_partner_tenant};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use trustpath_event::{Event, SourceKind, norm};

/// Field recording how `tp.tenant` was decided (absent when the record names it).
pub const TENANT_ATTRIBUTION: &str = trustpath_event::norm::TENANT_ATTRIBUTION;

/// The fields a unified audit log record names its tenant in.
pub(crate) const UAL_TENANT_KEYS: &[&str] = &["OrganizationId"];
/// The fields a Sentinel `OfficeActivity` row names its tenant in (taken as the UAL's).
pub(crate) const SENTINEL_UAL_TENANT_KEYS: &[&str] = &["OfficeTenantId", "TenantId"];
/// The fields an Entra sign-in names its (resource) tenant in.
pub(crate) const SIGNIN_TENANT_KEYS: &[&str] = &["resourceTenantId", "AADTenantId", "TenantId"];
/// The fields an Entra audit record names its tenant in.
pub(crate) const AUDIT_TENANT_KEYS: &[&str] = &["AADTenantId", "TenantId"];
/// The fields any other record names its tenant in.
pub(crate) const GENERIC_TENANT_KEYS: &[&str] =
    &["tenant", "tenantId", "TenantId", "OrganizationId"];

/// Text that every field a record can name its tenant in contains, ASCII
/// case-insensitively (the normalizers' key lists above, and `tp.tenant` itself; a test
/// holds them to it). A text export none of whose bytes hold one of these (nor a JSON
/// escape that could spell one) has no record that names a tenant: no census of it names
/// one, so attributing its host events changes nothing, which a hunt proves before the
/// scan to write their findings while it runs.
pub const TENANT_KEY_MARKERS: &[&str] = &["tenant", "organizationid"];

/// How a record's tenant was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attribution {
    /// The record names its tenant.
    Record,
    /// The initiator's home tenant is a tenant of the group.
    Initiator,
    /// The initiator's UPN domain belongs to one tenant of the group.
    Domain,
    /// The group's Entra records name only this tenant.
    EntraExport,
    /// The group (folder, subject) names only this tenant.
    Group,
}

impl Attribution {
    /// Stable name (`record`, `initiator`, `domain`, `entra_export`, `folder`).
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Record => "record",
            Attribution::Initiator => "initiator",
            Attribution::Domain => "domain",
            Attribution::EntraExport => "entra_export",
            Attribution::Group => "folder",
        }
    }
}

/// Whether a record of this source is expected to name a tenant (cloud records); a host
/// event (Windows) names none by nature and is not counted as unattributed.
pub fn names_tenant(source: SourceKind) -> bool {
    matches!(
        source,
        SourceKind::M365Audit | SourceKind::EntraAudit | SourceKind::EntraSignIn
    )
}

/// Tenants named by the records of one group, and the UPN domains of their own users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantCensus {
    tenants: BTreeSet<String>,
    entra: BTreeSet<String>,
    domains: BTreeMap<String, BTreeSet<String>>,
}

fn is_entra(source: SourceKind) -> bool {
    matches!(source, SourceKind::EntraAudit | SourceKind::EntraSignIn)
}

fn only(set: &BTreeSet<String>) -> Option<String> {
    match set.iter().collect::<Vec<_>>()[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

impl TenantCensus {
    /// Learn from one event that names its tenant (others are ignored).
    pub fn observe(&mut self, event: &Event) {
        // Written by trustpath under exactly this key, and read so like every `tp.` field.
        if event.fields.contains_key(TENANT_ATTRIBUTION) {
            return;
        }
        let Some(tenant) = event.tenant().map(str::to_ascii_lowercase) else {
            return;
        };
        let own = event
            .norm_str(norm::ACTOR_TENANT)
            .is_some_and(|t| t.eq_ignore_ascii_case(&tenant));
        if own && let Some(domain) = event.actor().and_then(domain_of) {
            self.domains
                .entry(domain)
                .or_default()
                .insert(tenant.clone());
        }
        if is_entra(event.source) {
            self.entra.insert(tenant.clone());
        }
        self.tenants.insert(tenant);
    }

    /// Add another census (another input of the same group).
    pub fn merge(&mut self, other: &TenantCensus) {
        self.tenants.extend(other.tenants.iter().cloned());
        self.entra.extend(other.entra.iter().cloned());
        for (domain, tenants) in &other.domains {
            self.domains
                .entry(domain.clone())
                .or_default()
                .extend(tenants.iter().cloned());
        }
    }

    /// The tenants named.
    pub fn tenants(&self) -> &BTreeSet<String> {
        &self.tenants
    }

    /// The tenant of a record that names none, and how it was found (module docs).
    pub fn decide(&self, event: &Event) -> Option<(String, Attribution)> {
        if let Some(t) = event.tenant() {
            return Some((t.to_ascii_lowercase(), Attribution::Record));
        }
        // Every tenant the census knows (by domain, by Entra export) is in `tenants`.
        if self.tenants.is_empty() {
            return None;
        }
        let home = event
            .get("initiatedBy.user.homeTenantId")
            .or_else(|| event.get("InitiatedBy.user.homeTenantId"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase());
        if let Some(home) = home.filter(|h| self.tenants.contains(h)) {
            return Some((home, Attribution::Initiator));
        }
        let upn = event
            .get("initiatedBy.user.userPrincipalName")
            .or_else(|| event.get("InitiatedBy.user.userPrincipalName"))
            .and_then(Value::as_str);
        if let Some(tenants) = upn.and_then(domain_of).and_then(|d| self.domains.get(&d))
            && let [only] = tenants.iter().collect::<Vec<_>>()[..]
        {
            return Some((only.clone(), Attribution::Domain));
        }
        if is_entra(event.source)
            && let Some(tenant) = only(&self.entra)
        {
            return Some((tenant, Attribution::EntraExport));
        }
        only(&self.tenants).map(|t| (t, Attribution::Group))
    }

    /// Attribute `event` (no-op when it names its tenant): sets `tp.tenant` and
    /// `tp.tenant_attribution` and re-derives the partner fields. `None` = unattributed.
    pub fn attribute(&self, event: &mut Event) -> Option<Attribution> {
        if event.tenant().is_some() {
            return Some(Attribution::Record);
        }
        let decided = self.decide(event)?;
        Some(apply_attribution(event, decided))
    }
}

/// Give `event` the tenant [`TenantCensus::decide`] found for it: sets `tp.tenant` and
/// `tp.tenant_attribution` and re-derives the partner fields. For a caller that decided
/// on a shared event before copying it.
pub fn apply_attribution(event: &mut Event, (tenant, how): (String, Attribution)) -> Attribution {
    event
        .fields
        .insert(norm::TENANT.to_owned(), Value::String(tenant));
    event.fields.insert(
        TENANT_ATTRIBUTION.to_owned(),
        Value::String(how.as_str().to_owned()),
    );
    clear_partner_tenant(event);
    add_partner_tenant(event);
    // The tenant is part of the event's keys and record key: those read before (the
    // pipeline reads the record key of a held event to drop duplicates) are stale now.
    event.keys = trustpath_event::KeysCell::default();
    how
}

/// The lower-case domain of a UPN.
fn domain_of(upn: &str) -> Option<String> {
    let (_, domain) = upn.trim().rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_tenant_key_holds_a_marker() {
        let keys = UAL_TENANT_KEYS
            .iter()
            .chain(SENTINEL_UAL_TENANT_KEYS)
            .chain(SIGNIN_TENANT_KEYS)
            .chain(AUDIT_TENANT_KEYS)
            .chain(GENERIC_TENANT_KEYS)
            .chain(&[norm::TENANT]);
        for key in keys {
            let lower = key.to_ascii_lowercase();
            assert!(
                TENANT_KEY_MARKERS.iter().any(|m| lower.contains(m)),
                "{key} names a tenant but holds none of TENANT_KEY_MARKERS"
            );
        }
    }

    use crate::test_event as event;

    fn ual(tenant: &str, actor: &str) -> Event {
        event(
            SourceKind::M365Audit,
            json!({"tp.tenant": tenant, "tp.actor": actor, "tp.actor_tenant": tenant}),
        )
    }

    fn audit(home: Option<&str>, upn: &str) -> Event {
        event(
            SourceKind::EntraAudit,
            json!({"initiatedBy": {"user": {"userPrincipalName": upn, "homeTenantId": home}}}),
        )
    }

    #[test]
    fn one_tenant_in_the_group_takes_its_records() {
        let mut census = TenantCensus::default();
        census.observe(&ual("a", "x@a.example"));
        let mut e = audit(None, "y@elsewhere.example");
        assert_eq!(census.attribute(&mut e), Some(Attribution::Group));
        assert_eq!(e.tenant(), Some("a"));
        assert_eq!(e.get(TENANT_ATTRIBUTION), Some(&json!("folder")));
    }

    #[test]
    fn attribution_drops_keys_read_before_it() {
        // The pipeline reads a held record's key (to drop duplicates) before the record
        // is attributed; its findings' ids must then use the attributed key.
        let mut census = TenantCensus::default();
        census.observe(&ual("a", "x@a.example"));
        let mut e = audit(None, "y@elsewhere.example");
        let before = e.record_key_str().to_owned();
        assert_eq!(e.keys().tenant, None);
        assert_eq!(census.attribute(&mut e), Some(Attribution::Group));
        assert_eq!(e.record_key(), trustpath_event::record_key(&e));
        assert_ne!(e.record_key(), before);
        assert!(e.record_key().starts_with("a/"));
        assert_eq!(e.keys().tenant.as_deref(), Some("a"));
    }

    #[test]
    fn several_tenants_need_the_records_own_evidence() {
        let mut census = TenantCensus::default();
        census.observe(&ual("a", "x@a.example"));
        census.observe(&ual("b", "x@b.example"));
        let mut by_home = audit(Some("B"), "z@unknown.example");
        assert_eq!(census.attribute(&mut by_home), Some(Attribution::Initiator));
        assert_eq!(by_home.tenant(), Some("b"));
        let mut by_domain = audit(None, "q@a.example");
        assert_eq!(census.attribute(&mut by_domain), Some(Attribution::Domain));
        assert_eq!(by_domain.tenant(), Some("a"));
        // A partner's home tenant is not a tenant of the group: unattributed.
        let mut partner = audit(Some("p"), "tech@partner.example");
        assert_eq!(census.attribute(&mut partner), None);
        assert_eq!(partner.tenant(), None);
        // The folder's Entra export names one tenant: an app-initiated audit is its.
        census.observe(&event(
            SourceKind::EntraSignIn,
            json!({"tp.tenant": "b", "tp.actor": "u@b.example"}),
        ));
        let mut by_app = event(
            SourceKind::EntraAudit,
            json!({"initiatedBy": {"app": {"appId": "x"}}}),
        );
        assert_eq!(
            census.attribute(&mut by_app),
            Some(Attribution::EntraExport)
        );
        assert_eq!(by_app.tenant(), Some("b"));
    }

    #[test]
    fn an_empty_group_gives_nothing_and_attributed_records_teach_nothing() {
        let census = TenantCensus::default();
        let mut e = audit(Some("a"), "x@a.example");
        assert_eq!(census.attribute(&mut e), None);
        let mut learnt = TenantCensus::default();
        let mut guessed = ual("a", "x@a.example");
        guessed
            .fields
            .insert(TENANT_ATTRIBUTION.to_owned(), json!("group"));
        learnt.observe(&guessed);
        assert!(learnt.tenants().is_empty());
    }

    #[test]
    fn attribution_derives_the_partner_of_a_foreign_initiator() {
        let mut census = TenantCensus::default();
        census.observe(&ual("6f1d2c3b-8a4e-4b5f-9c7d-1e2f3a4b5c6d", "x@a.example"));
        let mut e = event(
            SourceKind::EntraAudit,
            json!({"activityDisplayName": "Add member to role",
                   "tp.actor_tenant": "3b8e1f0a-6c2d-4e7f-9a1b-2c3d4e5f6a7b",
                   "initiatedBy": {"user": {"userPrincipalName": "t@p.example",
                        "homeTenantId": "3b8e1f0a-6c2d-4e7f-9a1b-2c3d4e5f6a7b"}}}),
        );
        census.attribute(&mut e);
        assert_eq!(
            e.get(crate::PARTNER_TENANT),
            Some(&json!("3b8e1f0a-6c2d-4e7f-9a1b-2c3d4e5f6a7b"))
        );
    }
}
