//! AN1350: partner trust path to mailbox access, bound to one partner across all steps.
//!
//! Flow, per customer tenant (`tp.tenant`; records naming no tenant are never guessed):
//! 1. Attribute every matched event to the partner acting in it, if any: the actor's home
//!    tenant (`tp.actor_tenant` ≠ the tenant, `tp.partner_tenant` on access records), a
//!    configured partner domain, or an account already seen acting from that partner's
//!    tenant. IPs of a partner's own principals become that partner's IPs, unless a
//!    customer-side actor used them too (an office NAT is never a "partner IP").
//! 2. Step 1: relationship changes naming partner P (DAP and GDAP). A GDAP approval made
//!    by the partner first-party apps that names no partner tenant is bound to P only when
//!    P is the only partner delegating in the window after it (or its target names P).
//! 3. Step 2: successful delegations made by, or granted to, a principal of P.
//! 4. Step 3: successful access by P (its principals or home tenant, its configured
//!    ranges, or its principals' IPs) — on a mailbox P delegated, when it is mailbox access.
//! 5. Chains per (tenant, P) within `[analytics.AN1350] window` from the relationship
//!    change: complete (1→2→3) = alert with every access in the window as evidence;
//!    1→2, or 2→3 with no relationship change, = hunting lead. Another partner never
//!    inherits evidence.
//!
//! Cost is linear in the matched events (hash lookups; per-partner sorted lists), so no
//! volume of internal grants slows or evicts a partner's chain.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use foldhash::{HashMap, HashSet};
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use trustpath_context::{Context, Partner};
use trustpath_event::{Event, SourceKind, norm};
use trustpath_report::{Finding, FindingKind, Level, RuleRef};

const RELATIONSHIP: &str = "an1350_partner_relationship";
const DELEGATION: &str = "an1350_mailbox_delegation";
const ACCESS: &str = "an1350_partner_access";

/// The chain's rule identity (kept from the former correlation document).
const CHAIN_ID: &str = "5682de50-aa1b-4b2a-9514-cc0c4dafbf31";
const CHAIN_TITLE: &str = "AN1350 partner trust path to mailbox access";

/// GDAP first-party service principals acting in the customer tenant.
const GDAP_APPS: [&str; 3] = [
    "2832473f-ec63-45fb-976f-5d45a7d4bb91",
    "a3475900-ccec-4a69-98f5-a65cd5dc5306",
    "b39d63e7-7fa3-4b2b-94ea-ee256fdb8c2f",
];

const STEP1: &str = "1 relationship";
const STEP2: &str = "2 delegation";
const STEP3: &str = "3 partner access";

type Ev = Arc<Event>;

/// Findings of AN1350.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let window = input.duration("window");
    // Every chain and every lead has a delegation: a tenant with no successful delegation
    // gives nothing, so its relationship changes and accesses are not looked at (the
    // service re-runs this over a tenant's retained accesses; most have no delegation).
    // Tenants, actors, IPs and outcomes come from each event's cached keys: the service
    // re-runs this for every batch that changes a tenant, over all it retains.
    let mut tenants: BTreeMap<&str, [Vec<&Ev>; 3]> = BTreeMap::new();
    for event in input.matched(DELEGATION) {
        let keys = event.keys();
        if let Some(tenant) = keys.tenant.as_deref()
            && !keys.failed
        {
            tenants.entry(tenant).or_default()[1].push(event);
        }
    }
    if tenants.is_empty() {
        return Vec::new();
    }
    for (step, rule) in [(0, RELATIONSHIP), (2, ACCESS)] {
        for event in input.matched(rule) {
            let keys = event.keys();
            let Some(tenant) = keys.tenant.as_deref() else {
                continue;
            };
            if let Some(steps) = tenants.get_mut(tenant)
                && !keys.failed
            {
                steps[step].push(event);
            }
        }
    }
    let mut out = Vec::new();
    for (tenant, mut steps) in tenants {
        for list in &mut steps {
            list.sort_by(|a, b| (a.time, &a.origin).cmp(&(b.time, &b.origin)));
            list.dedup_by(|a, b| Arc::ptr_eq(a, b));
        }
        let world = Partners::learn(input.context, tenant, &steps);
        for (partner, lists) in world.bind(&steps, window) {
            for chain in chains(&lists, window) {
                out.push(chain_finding(
                    input, tenant, partner, &world, &chain, window,
                ));
            }
        }
    }
    out
}

fn lower(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}

/// The GDAP first-party app that initiated the record, if any.
fn gdap_app(event: &Event) -> bool {
    let mut found = false;
    for path in [
        "initiatedBy.app.appId",
        "Actor.ID",
        "ExtendedProperties.actorAppID",
        "InitiatedBy.app.appId",
    ] {
        event.for_each_value(path, &mut |v| {
            if let Some(s) = v.as_str() {
                found |= GDAP_APPS.iter().any(|a| s.trim().eq_ignore_ascii_case(a));
            }
        });
    }
    found
}

/// Mailboxes compare by address, or by local part when one side is an alias.
fn same_mailbox(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_lowercase(), b.trim().to_lowercase());
    if a == b {
        return true;
    }
    let local = |s: &str| s.split('@').next().unwrap_or("").to_owned();
    (!a.contains('@') || !b.contains('@')) && !a.is_empty() && local(&a) == local(&b)
}

/// Granted changes of a delegation event: (mailbox, trustee), lower-case.
fn granted(event: &Event) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for change in event.permission_changes() {
        let text = |v: Option<&str>| v.unwrap_or("").to_lowercase();
        if change.grants() {
            out.push((
                text(change.mailbox.as_deref()),
                text(change.trustee.as_deref()),
            ));
        }
    }
    if out.is_empty() {
        let mailbox = lower(event.norm_str(norm::TARGET)).unwrap_or_default();
        let trustee = lower(event.norm_str(norm::TRUSTEE)).unwrap_or_default();
        out.push((mailbox, trustee));
    }
    out
}

/// The mailbox an access record opened (None for tenant access such as sign-ins).
fn accessed_mailbox(event: &Event) -> Option<String> {
    if event.source != SourceKind::M365Audit {
        return None;
    }
    event
        .get("MailboxOwnerUPN")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| event.norm_str(norm::TARGET).map(str::to_owned))
        .and_then(|m| lower(Some(&m)))
}

/// Who is a principal of which partner in one tenant, and which IPs are partners'
/// (borrowed from the events' keys and the context: nothing is copied per event).
struct Partners<'a> {
    context: &'a Context,
    tenant: &'a str,
    /// Account (lower-case) → partner tenant it acts from.
    principals: HashMap<&'a str, &'a str>,
    /// IP → partners whose principals used it.
    partner_ips: HashMap<&'a str, BTreeSet<&'a str>>,
    /// IPs used by customer-side actors.
    customer_ips: HashSet<&'a str>,
    /// Actor → the configured partner whose domains hold it (looked up once per actor).
    configured: HashMap<&'a str, Option<&'a str>>,
    /// Each step event's home partner ([`Partners::home_partner`]), by step and position.
    homes: [Vec<Option<&'a str>>; 3],
}

/// One partner's step events in a tenant.
#[derive(Default)]
struct Bound<'a> {
    relationships: Vec<&'a Ev>,
    delegations: Vec<&'a Ev>,
    accesses: Vec<&'a Ev>,
}

impl<'a> Partners<'a> {
    fn learn(context: &'a Context, tenant: &'a str, steps: &'a [Vec<&'a Ev>; 3]) -> Self {
        let mut world = Partners {
            context,
            tenant,
            principals: HashMap::default(),
            partner_ips: HashMap::default(),
            customer_ips: HashSet::default(),
            configured: HashMap::default(),
            homes: Default::default(),
        };
        if context.partners.iter().any(|p| !p.domains.is_empty()) {
            for event in steps.iter().flatten() {
                if let Some(actor) = event.keys().actor.as_deref()
                    && !world.configured.contains_key(actor)
                {
                    let owner = world.configured_owner(actor);
                    world.configured.insert(actor, owner);
                }
            }
        }
        for (step, list) in steps.iter().enumerate() {
            for event in list {
                let keys = event.keys();
                let home = world.home_partner(event, step);
                world.homes[step].push(home);
                let ip = keys.ip.as_deref();
                match (home, keys.actor.as_deref()) {
                    (Some(p), Some(a)) => {
                        world.principals.insert(a, p);
                    }
                    (None, Some(_)) => {
                        if let Some(ip) = ip {
                            world.customer_ips.insert(ip);
                        }
                    }
                    _ => {}
                }
                if let (Some(p), Some(ip)) = (home, ip) {
                    world.partner_ips.entry(ip).or_default().insert(p);
                }
            }
        }
        world
    }

    /// The partner tenant the event's actor belongs to (not the partner a relationship
    /// record names: for step 1 only an actor from the partner's own tenant counts here).
    fn home_partner(&self, event: &'a Event, step: usize) -> Option<&'a str> {
        let keys = event.keys();
        if let Some(home) = keys.actor_tenant.as_deref().filter(|t| *t != self.tenant) {
            return Some(home);
        }
        if step == 2
            && let Some(p) = keys.partner_tenant.as_deref()
            && p != self.tenant
        {
            return Some(p);
        }
        let actor = keys.actor.as_deref()?;
        self.configured_owner(actor)
    }

    /// The configured partner whose domains hold `account`.
    fn configured_owner(&self, account: &str) -> Option<&'a str> {
        if let Some(owner) = self.configured.get(account) {
            return *owner;
        }
        self.context
            .partners
            .iter()
            .find(|p| p.owns_account(account))
            .map(|p| p.tenant_id.as_str())
    }

    /// The partner an account belongs to: seen acting from its tenant, or in its domains.
    fn partner_of_account(&self, account: &str) -> Option<&'a str> {
        let account = account.trim();
        if account.is_empty() {
            return None;
        }
        let account = match account
            .bytes()
            .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
        {
            true => std::borrow::Cow::Owned(account.to_lowercase()),
            false => std::borrow::Cow::Borrowed(account),
        };
        if let Some(p) = self.principals.get(account.as_ref()) {
            return Some(p);
        }
        self.configured_owner(&account)
    }

    /// Partners an event's actor acts for (home tenant, domain, or a known principal).
    fn acting_partner(&self, event: &'a Event, step: usize) -> Option<&'a str> {
        self.acting_partner_from(self.home_partner(event, step), event)
    }

    /// [`Partners::acting_partner`] given the event's home partner.
    fn acting_partner_from(&self, home: Option<&'a str>, event: &'a Event) -> Option<&'a str> {
        home.or_else(|| {
            let actor = event.keys().actor.as_deref()?;
            self.partner_of_account(actor)
        })
    }

    /// The partner an event's IP belongs to: one partner's configured range, or used by
    /// exactly one partner's principals and by no customer-side actor.
    fn partner_of_ip(&self, event: &Event) -> Option<&'a str> {
        let keys = event.keys();
        if let Some(addr) = keys.ip_addr {
            let mut owners = self.context.partners.iter().filter(|p| p.owns_ip(addr));
            if let (Some(only), None) = (owners.next(), owners.next()) {
                return Some(only.tenant_id.as_str());
            }
        }
        let ip = keys.ip.as_deref()?;
        if self.customer_ips.contains(ip) {
            return None;
        }
        match self.partner_ips.get(ip) {
            Some(set) if set.len() == 1 => set.iter().next().copied(),
            _ => None,
        }
    }

    /// The partner a relationship record names and is about, if it is a partner
    /// relationship change at all.
    fn relationship_partner(&self, event: &'a Event) -> Option<&'a str> {
        let keys = event.keys();
        let named = keys
            .partner_tenant
            .as_deref()
            .filter(|p| *p != self.tenant)?;
        let flagged = event
            .get(norm::PARTNER_RELATIONSHIP)
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
        let by_partner = keys.actor_tenant.as_deref() == Some(named);
        let op = event.operation().unwrap_or("").to_ascii_lowercase();
        let dap = op.contains("partner to company")
            || op.contains("partner from company")
            || op.contains("partnership")
            || op.contains("promote company to partner")
            || op.contains("demote partner");
        (flagged || by_partner || dap || gdap_app(event)).then_some(named)
    }

    /// Each partner's step events in this tenant.
    fn bind(
        &self,
        steps: &'a [Vec<&'a Ev>; 3],
        window: SignedDuration,
    ) -> BTreeMap<&'a str, Bound<'a>> {
        let mut bound: BTreeMap<&'a str, Bound<'a>> = BTreeMap::new();
        let mut unnamed = Vec::new();
        for event in &steps[0] {
            match self.relationship_partner(event) {
                Some(p) => bound.entry(p).or_default().relationships.push(event),
                None if gdap_app(event) => unnamed.push(*event),
                None => {}
            }
        }
        for (event, home) in steps[1].iter().zip(&self.homes[1]) {
            let mut partners: BTreeSet<&'a str> = BTreeSet::new();
            if let Some(p) = self.acting_partner_from(*home, event) {
                partners.insert(p);
            }
            for (_, trustee) in granted(event) {
                if let Some(p) = self.partner_of_account(&trustee) {
                    partners.insert(p);
                }
            }
            for p in partners.into_iter().filter(|p| *p != self.tenant) {
                bound.entry(p).or_default().delegations.push(event);
            }
        }
        for (event, home) in steps[2].iter().zip(&self.homes[2]) {
            let partner = self
                .acting_partner_from(*home, event)
                .or_else(|| self.partner_of_ip(event));
            if let Some(p) = partner.filter(|p| *p != self.tenant) {
                bound.entry(p).or_default().accesses.push(event);
            }
        }
        for event in unnamed {
            let end = event.time.checked_add(window).unwrap_or(Timestamp::MAX);
            let by_name: Vec<&'a str> = self
                .context
                .partners
                .iter()
                .filter(|p| names_partner(event, p))
                .map(|p| p.tenant_id.as_str())
                .collect();
            let candidates: Vec<&'a str> = if by_name.is_empty() {
                bound
                    .iter()
                    .filter(|(_, b)| {
                        b.delegations
                            .iter()
                            .any(|d| d.time >= event.time && d.time <= end)
                    })
                    .map(|(p, _)| *p)
                    .collect()
            } else {
                by_name
            };
            if let [only] = candidates[..] {
                bound.entry(only).or_default().relationships.push(event);
            }
        }
        for b in bound.values_mut() {
            for list in [&mut b.relationships, &mut b.delegations, &mut b.accesses] {
                list.sort_by(|x, y| (x.time, &x.origin).cmp(&(y.time, &y.origin)));
            }
        }
        bound
    }
}

/// Whether a record's targets name a configured partner (e.g. "Fabrikam … Admin Agents").
fn names_partner(event: &Event, partner: &Partner) -> bool {
    if partner.name == partner.tenant_id {
        return false;
    }
    let name = partner.name.to_lowercase();
    let mut found = false;
    for path in ["targetResources.displayName", "Target.ID"] {
        event.for_each_value(path, &mut |v| {
            if let Some(s) = v.as_str() {
                found |= s.to_lowercase().contains(&name);
            }
        });
    }
    found
}

/// One chain of one partner.
struct Chain<'a> {
    relationships: Vec<&'a Ev>,
    delegations: Vec<&'a Ev>,
    accesses: Vec<&'a Ev>,
}

impl Chain<'_> {
    fn complete(&self) -> bool {
        !self.relationships.is_empty() && !self.delegations.is_empty() && !self.accesses.is_empty()
    }
}

fn end_of(start: Timestamp, window: SignedDuration) -> Timestamp {
    start.checked_add(window).unwrap_or(Timestamp::MAX)
}

/// Whether a delegation reaches every mailbox: the ApplicationImpersonation role or an
/// application permission (`full_access_as_app`).
fn tenant_wide(event: &Event) -> bool {
    let op = event.operation().unwrap_or("").to_ascii_lowercase();
    op.contains("managementroleassignment")
        || op.contains("app role assignment")
        || op.contains("delegated permission grant")
}

/// Whether `access` is on a mailbox one of `delegations` (before it) delegated — any
/// mailbox after impersonation or an application permission — or is tenant access (a
/// sign-in).
fn access_fits(access: &Event, delegations: &[&Ev]) -> bool {
    match accessed_mailbox(access) {
        None => true,
        Some(mailbox) => delegations.iter().any(|d| {
            d.time <= access.time
                && (tenant_wide(d) || granted(d).iter().any(|(m, _)| same_mailbox(m, &mailbox)))
        }),
    }
}

/// A partner's chains: anchored on relationship changes, then leads from delegations
/// followed by access without a relationship change.
fn chains<'a>(bound: &Bound<'a>, window: SignedDuration) -> Vec<Chain<'a>> {
    let mut out = Vec::new();
    let mut used_access = vec![false; bound.accesses.len()];
    let mut next_relationship = 0;
    let rels = &bound.relationships;
    while next_relationship < rels.len() {
        let anchor = rels[next_relationship];
        let end = end_of(anchor.time, window);
        let from = bound.delegations.partition_point(|d| d.time < anchor.time);
        let to = bound.delegations.partition_point(|d| d.time <= end);
        let delegations: Vec<&Ev> = bound.delegations[from..to].to_vec();
        let Some(first) = delegations.first() else {
            next_relationship += 1;
            continue;
        };
        let a_from = bound.accesses.partition_point(|a| a.time < first.time);
        let a_to = bound.accesses.partition_point(|a| a.time <= end);
        let mut accesses = Vec::new();
        let candidates = bound.accesses[a_from..a_to].iter();
        for (access, used) in candidates.zip(&mut used_access[a_from..a_to]) {
            if !*used && access_fits(access, &delegations) {
                *used = true;
                accesses.push(*access);
            }
        }
        let last = delegations.last().map_or(anchor.time, |d| d.time);
        let r_to = rels.partition_point(|r| r.time <= last);
        out.push(Chain {
            relationships: rels[next_relationship..r_to.max(next_relationship + 1)].to_vec(),
            delegations,
            accesses,
        });
        next_relationship = r_to.max(next_relationship + 1);
    }
    // Access left over: a lead with the latest delegation (within the window before it)
    // that it fits, one lead per delegation.
    let mut leads: BTreeMap<usize, Vec<&'a Ev>> = BTreeMap::new();
    for (i, access) in bound.accesses.iter().enumerate() {
        if used_access[i] {
            continue;
        }
        let upto = bound.delegations.partition_point(|d| d.time <= access.time);
        let found = (0..upto).rev().find(|&j| {
            let d = bound.delegations[j];
            end_of(d.time, window) >= access.time && access_fits(access, &[d])
        });
        if let Some(j) = found {
            leads.entry(j).or_default().push(access);
        }
    }
    for (j, accesses) in leads {
        out.push(Chain {
            relationships: Vec::new(),
            delegations: vec![bound.delegations[j]],
            accesses,
        });
    }
    out
}

fn chain_finding(
    input: &AnalyticInput<'_>,
    tenant: &str,
    partner_tenant: &str,
    world: &Partners<'_>,
    chain: &Chain<'_>,
    window: SignedDuration,
) -> Finding {
    let mut cited: Cited<'_> = Vec::new();
    cited.extend(chain.relationships.iter().map(|e| (STEP1.to_owned(), *e)));
    cited.extend(chain.delegations.iter().map(|e| (STEP2.to_owned(), *e)));
    cited.extend(chain.accesses.iter().map(|e| (STEP3.to_owned(), *e)));
    let span = tuning::human_duration(window);
    let (kind, level, reason, key) = if chain.complete() {
        (
            FindingKind::Alert,
            Level::from_sigma(Some(&input.meta.base_level)),
            format!(
                "complete chain within {span}: partner {partner_tenant} changed the relationship, \
                 delegated mailbox access, and accessed it"
            ),
            partner_tenant.to_owned(),
        )
    } else if chain.accesses.is_empty() {
        (
            FindingKind::HuntingLead,
            Level::Low,
            format!(
                "partial chain (steps 1+2): partner {partner_tenant} changed the relationship and \
                 delegated mailbox access; no access by the partner within {span} of the change"
            ),
            format!("partial|{partner_tenant}"),
        )
    } else {
        (
            FindingKind::HuntingLead,
            Level::Low,
            format!(
                "partial chain (steps 2+3): partner {partner_tenant} delegated mailbox access and \
                 used it; no relationship change by the partner within {span} before the access"
            ),
            format!("partial|{partner_tenant}"),
        )
    };
    let rule = RuleRef {
        id: CHAIN_ID.to_owned(),
        title: CHAIN_TITLE.to_owned(),
        level: level.as_str().to_owned(),
    };
    let mut finding = tuning::new_finding(input, rule, kind, level, reason, &cited, &key);
    finding.entities.tenant = Some(tenant.to_owned());
    finding.entities.partner = Some(partner_tenant.to_owned());
    let grants: Vec<(String, String)> = chain.delegations.iter().flat_map(|d| granted(d)).collect();
    let accessed: Vec<String> = chain
        .accesses
        .iter()
        .filter_map(|a| accessed_mailbox(a))
        .collect();
    let mailbox = accessed
        .iter()
        .find_map(|m| {
            grants
                .iter()
                .find(|(g, _)| same_mailbox(g, m))
                .map(|(g, _)| {
                    if g.contains('@') {
                        g.clone()
                    } else {
                        m.clone()
                    }
                })
        })
        .or_else(|| {
            grants
                .iter()
                .map(|(m, _)| m.clone())
                .find(|m| !m.is_empty())
        });
    finding.entities.mailbox = mailbox;
    finding.entities.trustee = grants
        .iter()
        .map(|(_, t)| t.clone())
        .find(|t| !t.is_empty());
    finding.entities.actor = chain
        .delegations
        .first()
        .and_then(|d| d.actor())
        .map(str::to_owned);
    tune(input, &mut finding, partner_tenant, world, chain);
    finding
}

fn tune(
    input: &AnalyticInput<'_>,
    finding: &mut Finding,
    partner_tenant: &str,
    world: &Partners<'_>,
    chain: &Chain<'_>,
) {
    let context = input.context;
    let times: Vec<Timestamp> = finding.evidence.iter().map(|e| e.time).collect();
    let partner = tuning::partner_priority(finding, context, partner_tenant, &times);
    let grants = tuning::grants(chain.delegations.iter().copied());
    tuning::sensitive_mailbox(finding, context, &grants);
    let granted_mailboxes: Vec<String> = chain
        .delegations
        .iter()
        .flat_map(|d| granted(d))
        .map(|(m, _)| m)
        .filter(|m| !m.is_empty())
        .collect();
    if let Some(p) = partner
        && p.approved
        && !granted_mailboxes.is_empty()
        && granted_mailboxes
            .iter()
            .all(|m| context.delegate_allowed(m))
    {
        finding.severity.lower(format!(
            "every delegated mailbox ({}) is in MailboxDelegateAllowList for approved partners",
            granted_mailboxes.join(", ")
        ));
    }
    let actor = finding.entities.actor.clone();
    tuning::first_seen_actor(finding, input, actor.as_deref());
    tuning::first_seen_trustee(finding, input);
    authorise(finding, context, partner, partner_tenant, world, chain);
}

/// Authorisation per change and per actor: the relationship change (an approved partner,
/// or a ticket), every granted change (a ticket naming its actor — or the partner, when
/// the actor is the partner's own principal), every access (an approved partner inside
/// its support window, or a ticket). The finding is authorised only when all are.
fn authorise(
    finding: &mut Finding,
    context: &Context,
    partner: Option<&Partner>,
    partner_tenant: &str,
    world: &Partners<'_>,
    chain: &Chain<'_>,
) {
    let approved = partner.filter(|p| p.approved);
    let partner_names: Vec<String> = match partner {
        Some(p) => vec![p.name.clone(), p.tenant_id.clone()],
        None => vec![partner_tenant.to_owned()],
    };
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut missing: Vec<String> = Vec::new();
    // A ticket that names a tenant covers only that tenant's changes.
    let ticket_for = |actors: &[String], target: &str, action: &str, event: &Event| {
        actors
            .iter()
            .find_map(|a| context.matching_ticket_in(event.tenant(), a, target, action, event.time))
            .map(|t| t.id.clone())
    };
    let own_actor = |event: &Event, step: usize| -> Vec<String> {
        let mut actors: Vec<String> = event.actor().map(str::to_owned).into_iter().collect();
        if world.acting_partner(event, step) == Some(partner_tenant) {
            actors.extend(partner_names.iter().cloned());
        }
        if actors.is_empty() {
            actors.push(String::new());
        }
        actors
    };
    for r in &chain.relationships {
        if let Some(p) = approved {
            covered.insert(format!("approved partner {}", p.name));
            continue;
        }
        let mut actors = own_actor(r, 0);
        actors.extend(partner_names.iter().cloned());
        match ticket_for(&actors, "", r.operation().unwrap_or(""), r) {
            Some(id) => {
                covered.insert(id);
            }
            None => missing.push(format!("relationship change at {}", r.time)),
        }
    }
    for d in &chain.delegations {
        let actors = own_actor(d, 1);
        let action = tuning::action_of(d);
        let by_partner = world.acting_partner(d, 1) == Some(partner_tenant);
        for (mailbox, _) in granted(d) {
            // A ticket first: it is what a reviewer looks up.
            if let Some(id) = ticket_for(&actors, &mailbox, &action, d) {
                covered.insert(id);
                continue;
            }
            // The approved partner's own technician, inside its support window (or, with no
            // windows configured, on a mailbox partners may manage).
            if let Some(p) = approved
                && by_partner
                && match p.in_support_window(d.time) {
                    Some(inside) => inside,
                    None => context.delegate_allowed(&mailbox),
                }
            {
                covered.insert(format!("approved partner {} (support window)", p.name));
                continue;
            }
            missing.push(format!(
                "{action} on {mailbox} by {} at {}",
                d.actor().unwrap_or("an unknown actor"),
                d.time
            ));
        }
    }
    for a in &chain.accesses {
        if let Some(p) = approved
            && p.in_support_window(a.time) != Some(false)
        {
            covered.insert(format!("approved partner {} (support window)", p.name));
            continue;
        }
        let mut actors = own_actor(a, 2);
        actors.extend(partner_names.iter().cloned());
        let mailbox = accessed_mailbox(a).unwrap_or_default();
        match ticket_for(&actors, &mailbox, a.operation().unwrap_or(""), a) {
            Some(id) => {
                covered.insert(id);
            }
            None => {
                let outside = partner.and_then(|p| p.in_support_window(a.time)) == Some(false);
                missing.push(format!(
                    "{} at {}{}",
                    a.operation().unwrap_or("access"),
                    a.time,
                    if outside {
                        " (outside the support window)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    let covered: Vec<String> = covered.into_iter().collect();
    if missing.is_empty() && !covered.is_empty() {
        let by = covered.join(", ");
        // `authorized` names the tickets (what a reviewer looks up); approvals alone are
        // named when no ticket was needed.
        let tickets: Vec<&str> = covered
            .iter()
            .filter(|c| !c.starts_with("approved partner "))
            .map(String::as_str)
            .collect();
        finding.authorized = Some(if tickets.is_empty() {
            by.clone()
        } else {
            tickets.join(", ")
        });
        finding
            .severity
            .lower(format!("every change and access is covered: {by}"));
    } else if !covered.is_empty() {
        let shown: Vec<&str> = missing.iter().take(3).map(String::as_str).collect();
        let more = missing.len().saturating_sub(shown.len());
        finding.severity.note(format!(
            "partly covered by {} — not covered: {}{}",
            covered.join(", "),
            shown.join("; "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
}
