//! AN1052: PowerShell grants mailbox permissions.
//!
//! **Host side.** Client host events (4104, 4103, 800, 4688, Sysmon 1) are grouped per
//! host, in time order: an event joins the latest group of its host whose
//! last event is no more than `TimeWindow` before it and that is *compatible* with it —
//! the same cmdlet with the same mailbox and trustee where both sides name them (a value
//! PowerShell takes from a variable trustpath could not resolve names nothing and so
//! matches any), and the same actor where both sides name one. Events of different hosts
//! never share a finding, so a script that passes mailboxes through variables
//! (`foreach ($m in …) { Add-MailboxPermission -Identity $m … }`) is grouped by host,
//! actor and time instead of merging with every other such script in the window.
//!
//! **Server and audit side.** An MSExchange Management event (the Exchange server's
//! own record of a remote cmdlet) and each ExchangeAdmin record join at most one host
//! group: one with the same cmdlet whose resolved mailbox and trustee equal the
//! record's (the strongest join), or, where the host side left them unresolved, one of
//! the same actor (or an actor the host log does not name); within `TimeWindow` either
//! way, nearest first. An MSExchange Management event that joins nothing is a group of
//! the Exchange server; an audit record that joins no host group is AN1051's: without
//! the host side the change is not known to be PowerShell (the admin center writes the
//! same record).
//!
//! Priority is raised for an unexpected parent process (`ExecutionParent`), an account
//! that is not a listed admin, a sensitive mailbox, a first-seen actor, and a follow-on
//! SendAs / SendOnBehalf / MailItemsAccessed by the new trustee within `TimeWindow`; a
//! matching change ticket marks it authorised. Unresolved values never name a mailbox or
//! trustee and never get a rollback (normalization leaves them out of the change).
//! Host events whose local time carried no zone (`tp.time_zone_missing`) are kept and
//! the finding says that their time may be off.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use jiff::SignedDuration;
use std::collections::HashMap;
use std::sync::Arc;
use trustpath_event::{Event, SourceKind, norm};
use trustpath_report::{Finding, FindingKind, Level};

const HOST: &str = "an1052_host_cmdlet";
const AUDIT: &str = "an1052_exchange_audit";
const FOLLOW_ON: &str = "an1052_trustee_activity";

/// Field normalization sets on host events whose local time had no zone.
const TIME_ZONE_MISSING: &str = trustpath_event::norm::TIME_ZONE_MISSING;

/// One granted change, as the join compares it (empty = not named / unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
struct GrantKey {
    cmdlet: String,
    mailbox: String,
    trustee: String,
}

/// A permission-change event with what the join needs.
struct Change<'a> {
    event: &'a Arc<Event>,
    grants: Vec<GrantKey>,
    actor: Option<String>,
    tenant: Option<&'a str>,
}

impl<'a> Change<'a> {
    fn new(event: &'a Arc<Event>) -> Self {
        Change {
            event,
            grants: grant_keys(event),
            actor: event.actor().map(account_name).filter(|a| !a.is_empty()),
            tenant: event.tenant().filter(|t| !t.is_empty()),
        }
    }
}

/// Every granted change of an event (`tp.permission_change`, action `grant`).
fn grant_keys(event: &Event) -> Vec<GrantKey> {
    event
        .permission_changes()
        .into_iter()
        .filter(|c| c.grants())
        .map(|c| {
            let text = |v: Option<&str>| {
                v.map(|s| s.trim().to_lowercase())
                    .filter(|s| !trustpath_normalize_unresolved(s))
                    .unwrap_or_default()
            };
            GrantKey {
                cmdlet: text(Some(&c.cmdlet)),
                mailbox: text(c.mailbox.as_deref()),
                trustee: text(c.trustee.as_deref()),
            }
        })
        .collect()
}

/// `$x` values (normalization already drops them; checked again so the join never
/// treats one as a name).
fn trustpath_normalize_unresolved(value: &str) -> bool {
    value.starts_with('$')
}

/// The account part of an actor: `CONTOSO\jdoe`, `jdoe@contoso.com` and `jdoe` all give
/// `jdoe` (host logs name Windows accounts, the audit log UPNs).
fn account_name(actor: &str) -> String {
    let actor = actor.trim().to_lowercase();
    let actor = actor
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(&actor)
        .to_owned();
    match actor.split_once('@') {
        Some((user, _)) => user.to_owned(),
        None => actor,
    }
}

/// Two names of a mailbox or trustee that may be the same: equal, one not named, or
/// the same account written as a UPN and as an alias (`eve` / `eve@contoso.com`).
fn same_or_unnamed(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() || a == b {
        return true;
    }
    let local = |s: &str| {
        s.split_once('@')
            .map_or(s.to_owned(), |(u, _)| u.to_owned())
    };
    (!a.contains('@') || !b.contains('@')) && local(a) == local(b)
}

/// How well two grants agree: `None` when they cannot be the same change, else the
/// number of values both name and agree on (0 to 2).
fn agreement(a: &GrantKey, b: &GrantKey) -> Option<u8> {
    if a.cmdlet != b.cmdlet
        || !same_or_unnamed(&a.mailbox, &b.mailbox)
        || !same_or_unnamed(&a.trustee, &b.trustee)
    {
        return None;
    }
    let named = |x: &str, y: &str| u8::from(!x.is_empty() && !y.is_empty());
    Some(named(&a.mailbox, &b.mailbox) + named(&a.trustee, &b.trustee))
}

fn best_agreement<'g>(a: &[GrantKey], b: impl Iterator<Item = &'g GrantKey>) -> Option<u8> {
    b.flat_map(|y| a.iter().filter_map(move |x| agreement(x, y)))
        .max()
}

fn compatible<T: PartialEq + ?Sized>(a: Option<&T>, b: Option<&T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Host events of one host that are one change (or one script run).
struct HostGroup<'a> {
    changes: Vec<Change<'a>>,
    audit: Vec<&'a Arc<Event>>,
    /// Earliest and latest time of `changes`.
    first: jiff::Timestamp,
    last: jiff::Timestamp,
}

impl<'a> HostGroup<'a> {
    fn new(change: Change<'a>) -> Self {
        let time = change.event.time;
        HostGroup {
            changes: vec![change],
            audit: Vec::new(),
            first: time,
            last: time,
        }
    }

    fn push(&mut self, change: Change<'a>) {
        self.first = self.first.min(change.event.time);
        self.last = self.last.max(change.event.time);
        self.changes.push(change);
    }

    /// Whether `t` is within `window` of the group's time span (a cheap first test).
    fn near(&self, t: jiff::Timestamp, window: SignedDuration) -> bool {
        self.first.duration_since(t) <= window && t.duration_since(self.last) <= window
    }

    fn actors(&self) -> impl Iterator<Item = &str> {
        self.changes.iter().filter_map(|c| c.actor.as_deref())
    }

    fn accepts_actor(&self, actor: Option<&str>) -> bool {
        match actor {
            None => true,
            Some(a) => self.actors().all(|x| x == a),
        }
    }

    fn accepts_tenant(&self, tenant: Option<&str>) -> bool {
        self.changes.iter().all(|c| compatible(c.tenant, tenant))
    }

    fn grants(&self) -> impl Iterator<Item = &GrantKey> {
        self.changes.iter().flat_map(|c| c.grants.iter())
    }

    /// The closest host event to `t`.
    fn distance(&self, t: jiff::Timestamp) -> Option<SignedDuration> {
        self.changes
            .iter()
            .map(|c| t.duration_since(c.event.time).abs())
            .min()
    }
}

fn host_of(event: &Event) -> String {
    event
        .norm_str(norm::HOST)
        .or_else(|| event.get("Computer").and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_lowercase()
}

/// Findings of AN1052.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let window = input.duration("TimeWindow");
    let mut host_events: Vec<&Arc<Event>> = input.matched(HOST).iter().collect();
    host_events.sort_by(|a, b| (a.time, &a.origin).cmp(&(b.time, &b.origin)));
    // The MSExchange Management log is the Exchange server's record of a cmdlet a client
    // ran (remote PowerShell): like the audit log it joins the client's group; alone it
    // is a group of the server.
    let (server, client): (Vec<_>, Vec<_>) = host_events
        .into_iter()
        .partition(|e| is_exchange_server_log(e));
    let mut groups: Vec<HostGroup<'_>> = Vec::new();
    let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
    for event in client {
        place_on_host(&mut groups, &mut by_host, Change::new(event), window);
    }
    for event in server {
        let change = Change::new(event);
        match best_join(&groups, &change, window) {
            Some(i) => groups[i].push(change),
            None => place_on_host(&mut groups, &mut by_host, change, window),
        }
    }
    let mut audit_events: Vec<&Arc<Event>> = input.matched(AUDIT).iter().collect();
    audit_events.sort_by(|a, b| (a.time, &a.origin).cmp(&(b.time, &b.origin)));
    for event in audit_events {
        if let Some(i) = best_join(&groups, &Change::new(event), window) {
            groups[i].audit.push(event);
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let mut cited: Cited<'_> = group
                .changes
                .iter()
                .map(|c| ("host".to_owned(), c.event))
                .collect();
            cited.extend(
                group
                    .audit
                    .iter()
                    .map(|e| ("exchange audit".to_owned(), *e)),
            );
            change_finding(input, cited, window)
        })
        .collect()
}

fn is_exchange_server_log(event: &Event) -> bool {
    event
        .get("Channel")
        .and_then(|v| v.as_str())
        .is_some_and(|c| c.eq_ignore_ascii_case("MSExchange Management"))
}

/// Adds a host event to the latest compatible group of its host within `window`, or
/// starts a group.
fn place_on_host<'a>(
    groups: &mut Vec<HostGroup<'a>>,
    by_host: &mut HashMap<String, Vec<usize>>,
    change: Change<'a>,
    window: SignedDuration,
) {
    let host = host_of(change.event);
    let time = change.event.time;
    let of_host = by_host.entry(host).or_default();
    let joins = of_host.iter().rev().copied().find(|&i| {
        let g = &groups[i];
        time.duration_since(g.last) <= window
            && g.accepts_actor(change.actor.as_deref())
            && g.accepts_tenant(change.tenant)
            && best_agreement(&change.grants, g.grants()).is_some()
    });
    match joins {
        Some(i) => groups[i].push(change),
        None => {
            of_host.push(groups.len());
            groups.push(HostGroup::new(change));
        }
    }
}

/// The group a record of the change made elsewhere (ExchangeAdmin, MSExchange
/// Management) belongs to: within `window` of one of its events, the same cmdlet with no
/// disagreeing value; unless mailbox and trustee both agree, the same actor (or one not
/// named). Most agreeing values first, then the nearest in time.
fn best_join(
    groups: &[HostGroup<'_>],
    record: &Change<'_>,
    window: SignedDuration,
) -> Option<usize> {
    groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.near(record.event.time, window) && g.accepts_tenant(record.tenant))
        .filter_map(|(i, g)| {
            let distance = g.distance(record.event.time).filter(|d| *d <= window)?;
            let agreed = best_agreement(&record.grants, g.grants())?;
            // Without both values to compare, the actor and the time must say it.
            if agreed < 2 && !g.accepts_actor(record.actor.as_deref()) {
                return None;
            }
            Some((agreed, std::cmp::Reverse(distance), std::cmp::Reverse(i)))
        })
        .max()
        .map(|(_, _, std::cmp::Reverse(i))| i)
}

fn change_finding<'a>(
    input: &'a AnalyticInput<'_>,
    mut cited: Cited<'a>,
    window: jiff::SignedDuration,
) -> Finding {
    let has_audit = cited.iter().any(|(k, _)| k == "exchange audit");
    let zone_less = cited
        .iter()
        .any(|(_, e)| e.fields.get(TIME_ZONE_MISSING).is_some_and(|v| v == true));
    let reason = match (has_audit, zone_less) {
        (true, _) => "host PowerShell and the ExchangeAdmin record of the same change",
        (false, false) => {
            "permission cmdlet in host PowerShell logs (no ExchangeAdmin record seen)"
        }
        (false, true) => {
            "permission cmdlet in host PowerShell logs (no ExchangeAdmin record seen; the host's local time has no time zone, so it may be offset: set [host_timezones])"
        }
    };
    let rule_name = HOST;
    let follow_on = follow_on_events(input, &cited, window);
    cited.extend(follow_on.iter().map(|e| ("follow-on".to_owned(), *e)));
    let level = Level::from_sigma(Some(&input.meta.base_level));
    let mut finding = tuning::new_finding(
        input,
        input.rule(rule_name),
        FindingKind::Alert,
        level,
        reason.to_owned(),
        &cited,
        "",
    );
    let change_events: Vec<&Arc<Event>> = cited
        .iter()
        .filter(|(k, _)| k != "follow-on")
        .map(|(_, e)| *e)
        .collect();
    let audit_actor = change_events
        .iter()
        .filter(|e| e.source == SourceKind::M365Audit)
        .find_map(|e| e.actor());
    let host_actor = change_events
        .iter()
        .filter(|e| e.source == SourceKind::Windows)
        .find_map(|e| e.actor());
    finding.entities.actor = audit_actor.or(host_actor).map(str::to_owned);
    tune(
        input,
        &mut finding,
        &change_events,
        host_actor,
        audit_actor,
        &follow_on,
    );
    finding
}

/// Trustee activity within `window` after the change: every trustee the change names
/// (host or audit side), from the earliest change event on.
fn follow_on_events<'a>(
    input: &'a AnalyticInput<'_>,
    cited: &Cited<'_>,
    window: jiff::SignedDuration,
) -> Vec<&'a Arc<Event>> {
    let Some(start) = cited.iter().map(|(_, e)| e.time).min() else {
        return Vec::new();
    };
    let trustees: Vec<&str> = cited
        .iter()
        .filter_map(|(_, e)| e.norm_str(norm::TRUSTEE))
        .filter(|t| !t.is_empty())
        .collect();
    if trustees.is_empty() {
        return Vec::new();
    }
    input
        .matched(FOLLOW_ON)
        .iter()
        .filter(|e| e.actor().is_some_and(|a| trustees.contains(&a)))
        .filter(|e| e.time >= start && e.time.duration_since(start) <= window)
        .collect()
}

fn parent_name(event: &Event) -> Option<String> {
    let parent = [
        "ParentImage",
        "ParentProcessName",
        "process.parent.executable",
    ]
    .iter()
    .find_map(|k| event.get(k).and_then(|v| v.as_str()))?;
    let name = parent.rsplit(['\\', '/']).next().unwrap_or(parent);
    (!name.is_empty()).then(|| name.to_lowercase())
}

fn tune(
    input: &AnalyticInput<'_>,
    finding: &mut Finding,
    changes: &[&Arc<Event>],
    host_actor: Option<&str>,
    audit_actor: Option<&str>,
    follow_on: &[&Arc<Event>],
) {
    let context = input.context;
    let expected = input.strings("ExecutionParent");
    let parents: Vec<String> = changes.iter().filter_map(|e| parent_name(e)).collect();
    if let Some(parent) = parents
        .iter()
        .find(|p| !expected.iter().any(|x| x.eq_ignore_ascii_case(p)))
    {
        finding.severity.raise(format!(
            "PowerShell started by unexpected parent {parent} (ExecutionParent: {})",
            expected.join(", ")
        ));
    }
    let actor = host_actor.or(audit_actor);
    let is_admin = |a: &str| context.is_admin_account(a);
    if let Some(a) = actor
        && !(is_admin(a) || audit_actor.is_some_and(is_admin))
    {
        finding
            .severity
            .raise(format!("run by {a}, which is not a listed admin account"));
    }
    let grants = tuning::grants(changes.iter().copied());
    tuning::sensitive_mailbox(finding, context, &grants);
    tuning::first_seen_actor(finding, input, audit_actor.or(host_actor));
    tuning::first_seen_trustee(finding, input);
    if let Some(first) = follow_on.first() {
        finding.severity.raise(format!(
            "the new trustee used the access within TimeWindow ({} at {})",
            first.operation().unwrap_or("access"),
            first.time
        ));
    }
    let actors: Vec<&str> = [audit_actor, host_actor].into_iter().flatten().collect();
    tuning::authorise_grants(finding, context, &actors, &grants, None);
}
