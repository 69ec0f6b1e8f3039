//! AN1052: PowerShell grants mailbox permissions.
//!
//! Host events and ExchangeAdmin records of permission grants are clustered by
//! (mailbox, trustee): events of the same pair no more than `TimeWindow` apart are one
//! change, so the 4104, 4103, 4688, Sysmon 1 and UAL records of one
//! `Add-MailboxPermission` make one finding with all of them as evidence. Priority is
//! raised for an unexpected parent process (`ExecutionParent`), an account that is not a
//! listed admin, a sensitive mailbox, a first-seen actor, and a follow-on SendAs /
//! SendOnBehalf / MailItemsAccessed by the new trustee within `TimeWindow`; a matching
//! change ticket marks it authorised. A change seen only in the unified audit log is left
//! to AN1051: without the host side it is not known to be PowerShell.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use std::sync::Arc;
use trustpath_event::Event;
use trustpath_report::{Finding, FindingKind, Level};

const HOST: &str = "an1052_host_cmdlet";
const AUDIT: &str = "an1052_exchange_audit";
const FOLLOW_ON: &str = "an1052_trustee_activity";

/// Findings of AN1052.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let window = input.context.analytics.an1052.time_window;
    let tagged = |rule: &str, step: &str| -> Vec<_> {
        input
            .matched(rule)
            .iter()
            .map(|e| (tuning::mailbox_pair(e), step.to_owned(), e))
            .collect()
    };
    let mut changes = tagged(HOST, "host");
    changes.extend(tagged(AUDIT, "exchange audit"));
    // A change seen only in the unified audit log is AN1051's (it may come from the
    // admin center, not PowerShell); AN1052 needs the host side.
    tuning::clusters(changes, window)
        .into_iter()
        .filter(|cluster| cluster.iter().any(|(kind, _)| kind == "host"))
        .map(|cluster| change_finding(input, cluster, window))
        .collect()
}

fn change_finding<'a>(
    input: &'a AnalyticInput<'_>,
    mut cited: Cited<'a>,
    window: jiff::SignedDuration,
) -> Finding {
    let has_audit = cited.iter().any(|(k, _)| k == "exchange audit");
    let reason = if has_audit {
        "host PowerShell and the ExchangeAdmin record of the same change"
    } else {
        "permission cmdlet in host PowerShell logs (no ExchangeAdmin record seen)"
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
        .filter(|e| e.source == trustpath_event::SourceKind::M365Audit)
        .find_map(|e| e.actor());
    let host_actor = change_events
        .iter()
        .filter(|e| e.source == trustpath_event::SourceKind::Windows)
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

/// Trustee activity within `window` after the change.
fn follow_on_events<'a>(
    input: &'a AnalyticInput<'_>,
    cited: &Cited<'_>,
    window: jiff::SignedDuration,
) -> Vec<&'a Arc<Event>> {
    let Some((_, first)) = cited.first() else {
        return Vec::new();
    };
    let trustee = first.norm_str("tp.trustee").unwrap_or("");
    let start = first.time;
    if trustee.is_empty() {
        return Vec::new();
    }
    input
        .matched(FOLLOW_ON)
        .iter()
        .filter(|e| e.actor() == Some(trustee))
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
    let expected = &context.analytics.an1052.execution_parent;
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
