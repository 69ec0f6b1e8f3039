//! AN1051: mailbox delegate or folder permission added (unified audit log).
//!
//! Grants are clustered by (mailbox, delegate) within one hour, so a share of `\Inbox`
//! followed by an update of the same share is one finding. A grant counts when its
//! rights contain a level in `DelegatePermissionLevel` and, for folder permissions, its
//! folder is in `FolderTargetScope`; pairs in `DelegatorToDelegatePairing` are lowered.
//! Grants by listed admins on non-sensitive mailboxes to same-domain delegates are
//! routine administration and not reported (the inventory still lists them).

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use jiff::SignedDuration;
use std::sync::Arc;
use trustpath_event::Event;
use trustpath_report::{Finding, FindingKind, Level};

const RULE: &str = "an1051_delegate_added";
const CLUSTER: SignedDuration = SignedDuration::from_hours(1);

/// Findings of AN1051.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let grants = input
        .matched(RULE)
        .iter()
        .filter(|e| in_scope(input, e))
        .map(|e| {
            let step = e.operation().unwrap_or("grant").to_owned();
            (tuning::mailbox_pair(e), step, e)
        })
        .collect();
    tuning::clusters(grants, CLUSTER)
        .iter()
        .map(|cited| grant_finding(input, cited))
        .collect()
}

fn change_text<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event
        .get(&format!("tp.permission_change.{key}"))
        .and_then(|v| v.as_str())
}

/// Whether the delegate belongs to another domain than the mailbox.
fn external_delegate(event: &Event) -> bool {
    let domain = |key: &str| {
        event
            .norm_str(key)
            .and_then(|v| v.rsplit_once('@'))
            .map(|(_, d)| d.to_owned())
    };
    matches!((domain("tp.target"), domain("tp.trustee")), (Some(m), Some(t)) if m != t)
}

/// Grants by listed admin accounts on non-sensitive mailboxes to delegates of the same
/// domain are routine administration (the inventory lists them); everything else counts.
fn routine_admin_grant(input: &AnalyticInput<'_>, event: &Event) -> bool {
    let context = input.context;
    let by_admin = event.actor().is_some_and(|a| context.is_admin_account(a));
    let sensitive = event
        .norm_str("tp.target")
        .is_some_and(|m| context.is_sensitive(m).is_some());
    by_admin && !sensitive && !external_delegate(event)
}

fn in_scope(input: &AnalyticInput<'_>, event: &Arc<Event>) -> bool {
    if routine_admin_grant(input, event) {
        return false;
    }
    let tuning = &input.context.analytics.an1051;
    let rights = change_text(event, "right").unwrap_or("").to_lowercase();
    let level_ok = tuning
        .delegate_permission_level
        .iter()
        .any(|level| rights.contains(&level.to_lowercase()));
    let folder_ok = match change_text(event, "folder") {
        None | Some("") => true,
        Some(folder) => {
            let folder = folder.trim_start_matches(['\\', '/']).to_lowercase();
            folder.is_empty()
                || tuning
                    .folder_target_scope
                    .iter()
                    .any(|scope| folder == scope.to_lowercase())
        }
    };
    level_ok && folder_ok
}

fn grant_finding(input: &AnalyticInput<'_>, cited: &Cited<'_>) -> Finding {
    let rights: Vec<String> = cited
        .iter()
        .filter_map(|(_, e)| change_text(e, "right").map(str::to_owned))
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
        .an1051
        .delegator_to_delegate_pairing
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
    let grants = tuning::grants(cited.iter().map(|(_, e)| *e));
    tuning::sensitive_mailbox(&mut finding, context, &grants);
    let actor = finding.entities.actor.clone();
    tuning::first_seen_actor(&mut finding, input, actor.as_deref());
    tuning::first_seen_trustee(&mut finding, input);
    let actors: Vec<&str> = actor.as_deref().into_iter().collect();
    tuning::authorise_grants(&mut finding, context, &actors, &grants, None);
    finding
}
