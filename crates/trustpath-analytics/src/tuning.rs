//! Building findings and tuning them with the organisation's context (DESIGN.md §4).
//!
//! Shared by every analytic: entities from evidence, and the priority rules that raise or
//! lower severity with a stated reason: sensitive mailboxes, first-seen actors, unknown or
//! unapproved partners, changes outside a partner's support window, unexpected admins,
//! and approved changes (kept, marked authorised with the ticket id).

use crate::baseline::FirstSeen;
use crate::{AnalyticInput, rollback};
use jiff::Timestamp;
use std::sync::Arc;
use trustpath_context::{Context, Partner};
use trustpath_event::{Event, norm};
use trustpath_report::{
    Attack, Entities, Evidence, Finding, FindingKind, Level, RuleRef, Severity, Window, anchor_key,
    finding_id,
};

/// Evidence events with the step each one stands for.
pub type Cited<'a> = Vec<(String, &'a Arc<Event>)>;

/// Split cited events into clusters: same key, and each event no more than `gap` after
/// the previous one of its cluster. Events are taken in time order (ties by origin);
/// clusters come out ordered by key, then time.
pub fn clusters<'a, K: Ord>(
    mut items: Vec<(K, String, &'a Arc<Event>)>,
    gap: jiff::SignedDuration,
) -> Vec<Cited<'a>> {
    items.sort_by(|a, b| (a.2.time, &a.2.origin).cmp(&(b.2.time, &b.2.origin)));
    let mut by_key: std::collections::BTreeMap<K, Vec<Cited<'a>>> = Default::default();
    for (key, step, event) in items {
        let runs = by_key.entry(key).or_default();
        let joins = runs
            .last()
            .and_then(|run| run.last())
            .is_some_and(|(_, last)| event.time.duration_since(last.time) <= gap);
        match runs.last_mut() {
            Some(run) if joins => run.push((step, event)),
            _ => runs.push(vec![(step, event)]),
        }
    }
    by_key.into_values().flatten().collect()
}

/// The (mailbox, trustee) pair an event is about.
pub fn mailbox_pair(event: &Event) -> (String, String) {
    (
        event.norm_str(norm::TARGET).unwrap_or("").to_owned(),
        event.norm_str(norm::TRUSTEE).unwrap_or("").to_owned(),
    )
}

/// A finding for `cited` events, with entities filled from them and rollback commands
/// for every permission granted in them. `key` distinguishes findings of the same rule
/// anchored on the same event (usually empty).
///
/// The id hashes the rule, the key and the *earliest* evidence event (the anchor), not
/// all of the evidence: more evidence arriving later (another access, a follow-on) does
/// not change a finding's identity, so a streaming run and a hunt agree on ids.
pub fn new_finding(
    input: &AnalyticInput<'_>,
    rule: RuleRef,
    kind: FindingKind,
    level: Level,
    base_reason: String,
    cited: &Cited<'_>,
    key: &str,
) -> Finding {
    let meta = input.meta;
    // One piece of evidence per record and step, whatever export it came through.
    let mut seen = std::collections::HashSet::new();
    let mut evidence: Vec<Evidence> = cited
        .iter()
        .filter(|(step, event)| seen.insert((step.clone(), event.record_key())))
        .map(|(step, event)| Evidence::from_event(step.clone(), event))
        .collect();
    evidence.sort_by(|a, b| (a.time, &a.origin).cmp(&(b.time, &b.origin)));
    evidence.dedup_by(|a, b| a.origin == b.origin && a.step == b.step);
    let anchor = anchor_key(cited.iter().map(|(_, e)| e.as_ref()));
    let start = evidence.first().map_or(Timestamp::UNIX_EPOCH, |e| e.time);
    let end = evidence.last().map_or(start, |e| e.time);
    let mut rollback = Vec::new();
    for (_, event) in cited {
        rollback::rollbacks_for_event(event, &mut rollback);
    }
    Finding {
        id: finding_id(&rule.id, key, anchor),
        time: start,
        analytic: Some(meta.id.clone()),
        title: meta.title.clone(),
        kind,
        attack: Attack {
            technique: vec![meta.technique.clone()],
            tactics: Vec::new(),
            detection_strategy: Some(meta.strategy.clone()),
        },
        rule,
        severity: Severity::base(level, base_reason),
        authorized: None,
        entities: entities(cited.iter().map(|(_, e)| e.as_ref())),
        window: Window { start, end },
        evidence,
        rollback,
        matched: Vec::new(),
        fields: Vec::new(),
    }
}

/// Entities from events: the first value of each normalized field, every IP.
pub fn entities<'a>(events: impl Iterator<Item = &'a Event> + Clone) -> Entities {
    let first = |key: &str| {
        events
            .clone()
            .find_map(|e| e.norm_str(key).filter(|v| !v.is_empty()))
            .map(str::to_owned)
    };
    let mut ips: Vec<String> = events
        .clone()
        .filter_map(|e| e.ip().map(str::to_owned))
        .collect();
    ips.sort();
    ips.dedup();
    Entities {
        tenant: first(norm::TENANT),
        partner: first(PARTNER_TENANT),
        actor: first(norm::ACTOR),
        trustee: first(norm::TRUSTEE),
        mailbox: first(norm::TARGET),
        ips,
        host: first(norm::HOST),
    }
}

/// The normalized field naming a partner tenant acting in the customer tenant.
pub const PARTNER_TENANT: &str = trustpath_event::norm::PARTNER_TENANT;

/// One granted permission change recorded by an event.
pub struct Grant<'a> {
    /// The event recording it.
    pub event: &'a Arc<Event>,
    /// Mailbox (or scope) the access is on.
    pub mailbox: String,
    /// Cmdlet or mailbox-audit operation.
    pub cmdlet: String,
}

/// Every granted change the events record, in event order. An event can hold several
/// (a script granting on two mailboxes): each counts, not only the first.
pub fn grants<'a>(events: impl IntoIterator<Item = &'a Arc<Event>>) -> Vec<Grant<'a>> {
    let mut out = Vec::new();
    for event in events {
        for change in event.permission_changes() {
            if change.grants() {
                out.push(Grant {
                    event,
                    mailbox: change.mailbox.unwrap_or_default(),
                    cmdlet: change.cmdlet,
                });
            }
        }
    }
    out
}

/// Raise severity for sensitive mailboxes: the finding's own and every granted change's.
pub fn sensitive_mailbox(finding: &mut Finding, context: &Context, grants: &[Grant<'_>]) {
    let mut mailboxes: Vec<String> = finding.entities.mailbox.iter().cloned().collect();
    for grant in grants {
        if !grant.mailbox.is_empty() && !mailboxes.contains(&grant.mailbox) {
            mailboxes.push(grant.mailbox.clone());
        }
    }
    let sensitive: Vec<String> = mailboxes
        .iter()
        .filter_map(|m| context.is_sensitive(m).map(|c| format!("{m} ({c})")))
        .collect();
    if !sensitive.is_empty() {
        let noun = if sensitive.len() == 1 {
            "mailbox"
        } else {
            "mailboxes"
        };
        finding
            .severity
            .raise(format!("sensitive {noun}: {}", sensitive.join(", ")));
    }
}

/// Mark the finding authorised when change tickets cover *every* granted change (one of
/// `actors`, the change's mailbox and cmdlet, its time); lower severity. A ticket that
/// covers only some changes is named, and the finding stays unauthorised. Without
/// granted changes, `fallback` (target, action, time) is matched instead.
pub fn authorise_grants(
    finding: &mut Finding,
    context: &Context,
    actors: &[&str],
    grants: &[Grant<'_>],
    fallback: Option<(&str, &str, Timestamp)>,
) -> bool {
    if grants.is_empty() {
        return match fallback {
            Some((target, action, time)) => {
                authorise(finding, context, actors, target, action, time)
            }
            None => false,
        };
    }
    // An unknown actor can still match a ticket that names no actor.
    let actors: &[&str] = if actors.is_empty() { &[""] } else { actors };
    let tickets: Vec<Option<&trustpath_context::Ticket>> = grants
        .iter()
        .map(|g| {
            actors.iter().find_map(|actor| {
                context.matching_ticket_in(
                    g.event.tenant(),
                    actor,
                    &g.mailbox,
                    &g.cmdlet,
                    g.event.time,
                )
            })
        })
        .collect();
    let mut ids: Vec<&str> = tickets.iter().flatten().map(|t| t.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let covered = tickets.iter().filter(|t| t.is_some()).count();
    if covered == grants.len() {
        let ids = ids.join(", ");
        finding.authorized = Some(ids.clone());
        // Each mailbox once: "5 granted changes on payroll@…", not the address five times.
        let mut mailboxes: Vec<&str> = grants.iter().map(|g| g.mailbox.as_str()).collect();
        mailboxes.sort_unstable();
        mailboxes.dedup();
        finding.severity.lower(format!(
            "matches approved change {ids} ({} granted {} on {})",
            grants.len(),
            if grants.len() == 1 {
                "change"
            } else {
                "changes"
            },
            mailboxes.join(", ")
        ));
        true
    } else {
        if covered > 0 {
            finding.severity.note(format!(
                "change ticket {} covers only {covered} of {} granted changes",
                ids.join(", "),
                grants.len()
            ));
        }
        false
    }
}

/// Raise severity when the acting account has no earlier activity in the finding's
/// tenant, judged only when that tenant's data covers the learning period
/// (`[settings] first_seen_learning`); otherwise say there is no baseline yet.
pub fn first_seen_actor(finding: &mut Finding, input: &AnalyticInput<'_>, actor: Option<&str>) {
    let Some(actor) = actor else {
        return;
    };
    first_seen(finding, input, actor, "actor");
}

/// Raise severity when the principal receiving access has no earlier activity in the
/// finding's tenant (an account nobody has seen before: new, external, or created for the
/// purpose), with the same learning-period rule as [`first_seen_actor`].
pub fn first_seen_trustee(finding: &mut Finding, input: &AnalyticInput<'_>) {
    let Some(trustee) = finding.entities.trustee.clone() else {
        return;
    };
    if finding.entities.actor.as_deref() == Some(trustee.as_str()) {
        return;
    }
    first_seen(finding, input, &trustee, "target");
}

fn first_seen(finding: &mut Finding, input: &AnalyticInput<'_>, who: &str, role: &str) {
    let learning = input.context.settings.first_seen_learning;
    let tenant = finding.entities.tenant.clone();
    let at = finding.window.start;
    match input.baseline.judge(tenant.as_deref(), who, at, learning) {
        FirstSeen::Known => {}
        FirstSeen::New => finding.severity.raise(format!(
            "first-seen {role}: {who} has no earlier activity in this tenant's last {}",
            crate::tuning::human_duration(learning)
        )),
        FirstSeen::NoBaseline => finding.severity.note(format!(
            "no baseline yet for first-seen {role} {who}: this tenant's data starts less than {} before the event",
            crate::tuning::human_duration(learning)
        )),
    }
}

/// A duration as people write it (`7d`, `36h`, `90m`).
pub fn human_duration(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs();
    if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3_600 == 0 {
        format!("{}h", secs / 3_600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Name the partner, and raise severity for an unknown or unapproved partner and for
/// activity outside its support windows. Returns the configured partner, if any.
pub fn partner_priority<'c>(
    finding: &mut Finding,
    context: &'c Context,
    partner_tenant: &str,
    times: &[Timestamp],
) -> Option<&'c Partner> {
    let Some(partner) = context.partner_by_tenant(partner_tenant) else {
        finding.severity.raise(format!(
            "partner tenant {partner_tenant} is not in the context file (unknown partner)"
        ));
        return None;
    };
    finding.entities.partner = Some(format!("{} ({})", partner.name, partner.tenant_id));
    if partner.approved {
        finding
            .severity
            .note(format!("partner {} is approved", partner.name));
    } else {
        finding
            .severity
            .raise(format!("partner {} is not approved", partner.name));
    }
    let outside: Vec<&Timestamp> = times
        .iter()
        .filter(|t| partner.in_support_window(**t) == Some(false))
        .collect();
    if let Some(first) = outside.first() {
        finding.severity.raise(format!(
            "outside the support windows of {} ({} event(s), first at {first})",
            partner.name,
            outside.len()
        ));
    }
    Some(partner)
}

/// Mark the finding authorised when a change ticket covers the change; lower severity.
///
/// `actors` are tried in order (e.g. the technician's UPN, then the partner's name).
pub fn authorise(
    finding: &mut Finding,
    context: &Context,
    actors: &[&str],
    target: &str,
    action: &str,
    time: Timestamp,
) -> bool {
    let actors: &[&str] = if actors.is_empty() { &[""] } else { actors };
    for actor in actors {
        let tenant = finding.entities.tenant.clone();
        let ticket = context.matching_ticket_in(tenant.as_deref(), actor, target, action, time);
        if let Some(ticket) = ticket {
            finding.authorized = Some(ticket.id.clone());
            finding.severity.lower(format!(
                "matches approved change {} ({} on {target} by {actor})",
                ticket.id, ticket.action
            ));
            return true;
        }
    }
    false
}

/// Raise severity when an admin-level change is made by an account not listed as admin.
pub fn unexpected_admin(finding: &mut Finding, context: &Context, actor: Option<&str>) {
    if let Some(actor) = actor
        && !context.is_admin_account(actor)
    {
        finding
            .severity
            .raise(format!("{actor} is not a listed admin account"));
    }
}

/// Times of the cited events.
pub fn times(cited: &Cited<'_>) -> Vec<Timestamp> {
    cited.iter().map(|(_, e)| e.time).collect()
}

/// The action words a ticket is matched against for a change event (its cmdlet or
/// operation).
pub fn action_of(event: &Event) -> String {
    event
        .permission_changes()
        .into_iter()
        .next()
        .map(|c| c.cmdlet)
        .or_else(|| event.operation().map(str::to_owned))
        .unwrap_or_default()
}
