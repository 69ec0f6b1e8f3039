//! AN1350: partner trust path to mailbox access — findings from the `an1350` chain.
//!
//! A complete chain (relationship → delegation → partner access) is an alert at the
//! analytic's base level; a partial chain (1→2 without access, or 2→3 without a
//! relationship event in the window) is a hunting lead at low. Both are tuned by the
//! context: partner known/approved and support windows, sensitive mailbox,
//! `MailboxDelegateAllowList`, change tickets, first-seen actor.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use trustpath_correlate::CorrelationResult;
use trustpath_report::{Finding, FindingKind, Level, RuleRef};

const STEPS: [&str; 3] = ["1 relationship", "2 delegation", "3 partner access"];

/// Findings of AN1350.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    merge_chains(input)
        .iter()
        .map(|result| chain_finding(input, result))
        .collect()
}

/// The partner a chain result is about: its captured partner tenant, else the first
/// partner tenant seen in its events.
fn partner_of(result: &CorrelationResult) -> String {
    first_capture(result, "partner")
        .or_else(|| {
            result
                .evidence
                .iter()
                .find_map(|e| e.event.norm_str("tp.partner_tenant").map(str::to_owned))
        })
        .unwrap_or_default()
}

/// One finding per customer tenant and partner chain: results of the same tenant and
/// partner that share evidence (a chain that fired, and the later access events that
/// re-started a partial chain from one of its delegation events) are merged; the merged
/// chain is complete if any part was.
fn merge_chains(input: &AnalyticInput<'_>) -> Vec<CorrelationResult> {
    let mut merged: Vec<(String, CorrelationResult)> = Vec::new();
    let mut results = input.results.clone();
    results.sort_by(|a, b| (a.first, &a.id).cmp(&(b.first, &b.id)));
    for result in results {
        let group: Vec<&str> = result.group.values().map(String::as_str).collect();
        let key = format!("{}|{}", group.join(","), partner_of(&result));
        let shares = |chain: &CorrelationResult| {
            result.evidence.iter().any(|e| {
                chain
                    .evidence
                    .iter()
                    .any(|c| c.event.origin == e.event.origin)
            })
        };
        match merged.iter_mut().find(|(k, m)| *k == key && shares(m)) {
            Some((_, chain)) => absorb(chain, result),
            None => merged.push((key, result)),
        }
    }
    merged.into_iter().map(|(_, r)| r).collect()
}

fn absorb(chain: &mut CorrelationResult, other: CorrelationResult) {
    chain.partial = chain.partial && other.partial;
    chain.first = chain.first.min(other.first);
    chain.last = chain.last.max(other.last);
    for (name, values) in other.captures {
        chain.captures.entry(name).or_default().extend(values);
    }
    chain.steps.extend(other.steps);
    chain.steps.sort_unstable();
    chain.steps.dedup();
    for e in other.evidence {
        if !chain
            .evidence
            .iter()
            .any(|c| c.event.origin == e.event.origin)
        {
            chain.evidence.push(e);
        }
    }
    chain
        .evidence
        .sort_by(|a, b| (a.event.time, &a.event.origin).cmp(&(b.event.time, &b.event.origin)));
}

/// The first permission change (in time order) of the delegation step that names `key`.
fn delegation_value(result: &CorrelationResult, key: &str) -> Option<String> {
    result
        .evidence
        .iter()
        .filter(|e| e.step == 1)
        .find_map(|e| {
            e.event
                .get(&format!("tp.permission_change.{key}"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
}

fn first_capture(result: &CorrelationResult, name: &str) -> Option<String> {
    result
        .captures
        .get(name)
        .and_then(|values| values.iter().next())
        .cloned()
}

fn chain_finding(input: &AnalyticInput<'_>, result: &CorrelationResult) -> Finding {
    let cited: Cited<'_> = result
        .evidence
        .iter()
        .map(|e| (STEPS.get(e.step).unwrap_or(&"step").to_string(), &e.event))
        .collect();
    let steps: Vec<String> = result.steps.iter().map(|s| (s + 1).to_string()).collect();
    let (kind, level, reason) = if result.partial {
        (
            FindingKind::HuntingLead,
            Level::Low,
            format!(
                "partial chain: steps {} of 3 within the window",
                steps.join("+")
            ),
        )
    } else {
        (
            FindingKind::Alert,
            Level::from_sigma(Some(&input.meta.base_level)),
            "complete chain: partner relationship change, mailbox delegation, access from the partner".to_owned(),
        )
    };
    let rule = RuleRef {
        id: result.correlation.clone(),
        title: result.title.clone(),
        level: level.as_str().to_owned(),
    };
    let key = if result.partial { "partial" } else { "" };
    let mut finding = tuning::new_finding(input, rule, kind, level, reason, &cited, key);
    let delegation = result
        .evidence
        .iter()
        .find(|e| e.step == 1)
        .map(|e| &e.event);
    if let Some(mailbox) = delegation_value(result, "mailbox") {
        finding.entities.mailbox = Some(mailbox);
    }
    if let Some(trustee) = delegation_value(result, "trustee") {
        finding.entities.trustee = Some(trustee);
    }
    if let Some(actor) = delegation.and_then(|e| e.actor()) {
        finding.entities.actor = Some(actor.to_owned());
    }
    tune(input, &mut finding, result, delegation);
    finding
}

fn tune(
    input: &AnalyticInput<'_>,
    finding: &mut Finding,
    result: &CorrelationResult,
    delegation: Option<&std::sync::Arc<trustpath_event::Event>>,
) {
    let context = input.context;
    let times: Vec<_> = result.evidence.iter().map(|e| e.event.time).collect();
    let partner_tenant = Some(partner_of(result)).filter(|p| !p.is_empty());
    let partner = match &partner_tenant {
        Some(tenant) => {
            finding.entities.partner = Some(tenant.clone());
            tuning::partner_priority(finding, context, tenant, &times)
        }
        None => {
            finding.severity.note(
                "no partner tenant id in the chain's events (partner identified by its IPs only)",
            );
            None
        }
    };
    let delegations: Vec<_> = result
        .evidence
        .iter()
        .filter(|e| e.step == 1)
        .map(|e| &e.event)
        .collect();
    let grants = tuning::grants(delegations.iter().copied());
    tuning::sensitive_mailbox(finding, context, &grants);
    if let (Some(mailbox), Some(p)) = (finding.entities.mailbox.clone(), partner)
        && p.approved
        && context.delegate_allowed(&mailbox)
    {
        finding.severity.lower(format!(
            "{mailbox} is in MailboxDelegateAllowList for approved partners"
        ));
    }
    let actor = finding.entities.actor.clone();
    tuning::first_seen_actor(finding, input, actor.as_deref());
    tuning::first_seen_trustee(finding, input);
    if let Some(change) = delegation {
        let mut actors: Vec<String> = actor.iter().cloned().collect();
        if let Some(p) = partner {
            actors.push(p.name.clone());
            actors.push(p.tenant_id.clone());
        }
        let refs: Vec<&str> = actors.iter().map(String::as_str).collect();
        let target = finding.entities.mailbox.clone().unwrap_or_default();
        let action = tuning::action_of(change);
        let fallback = Some((target.as_str(), action.as_str(), change.time));
        tuning::authorise_grants(finding, context, &refs, &grants, fallback);
    }
}
