//! AN1347: partner access outside trust in Entra ID.
//!
//! Untrusted service-provider sign-ins, partner sign-ins without MFA (when
//! `RequiredMFA`), and delegated role assignments of roles outside `RoleScopeAllowList`
//! (or the partner's `approved_roles`). Events of one tenant no more than a day apart
//! form one finding.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use jiff::SignedDuration;
use std::sync::Arc;
use trustpath_event::Event;
use trustpath_report::{Finding, FindingKind, Level};

const UNTRUSTED: &str = "an1347_untrusted_partner_signin";
const NO_MFA: &str = "an1347_partner_signin_without_mfa";
const ROLE: &str = "an1347_delegated_role_assignment";
const CLUSTER: SignedDuration = SignedDuration::from_hours(24);

/// Findings of AN1347.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let tuning = &input.context.analytics.an1347;
    let mut items: Vec<(String, &Arc<Event>)> = Vec::new();
    for e in input.matched(UNTRUSTED) {
        items.push(("untrusted partner sign-in".to_owned(), e));
    }
    if tuning.required_mfa {
        for e in input.matched(NO_MFA) {
            if !input.matched(UNTRUSTED).iter().any(|u| Arc::ptr_eq(u, e)) {
                items.push(("partner sign-in without MFA".to_owned(), e));
            }
        }
    }
    for e in input.matched(ROLE) {
        if let Some(role) = role_name(e)
            && !role_allowed(input, e, &role)
        {
            items.push((format!("role {role} assigned"), e));
        }
    }
    let keyed = items
        .into_iter()
        .map(|(step, e)| (e.tenant().unwrap_or("").to_owned(), step, e))
        .collect();
    tuning::clusters(keyed, CLUSTER)
        .iter()
        .map(|cited| cluster_finding(input, cited))
        .collect()
}

/// The role a role-assignment record names.
fn role_name(event: &Event) -> Option<String> {
    let mut role = None;
    event.for_each_value("targetResources", &mut |target| {
        if role.is_none()
            && target.get("type").and_then(|t| t.as_str()) == Some("Role")
            && let Some(name) = target.get("displayName").and_then(|n| n.as_str())
        {
            role = Some(name.to_owned());
        }
    });
    role.or_else(|| {
        let mut found = None;
        event.for_each_value("targetResources.modifiedProperties", &mut |p| {
            let is_role = p.get("displayName").and_then(|d| d.as_str()) == Some("Role.DisplayName");
            if found.is_none()
                && is_role
                && let Some(v) = p.get("newValue").and_then(|v| v.as_str())
            {
                found = Some(v.trim_matches('"').to_owned());
            }
        });
        found
    })
}

fn role_allowed(input: &AnalyticInput<'_>, event: &Event, role: &str) -> bool {
    let context = input.context;
    let allowed = |r: &String| r.eq_ignore_ascii_case(role);
    if context
        .analytics
        .an1347
        .role_scope_allow_list
        .iter()
        .any(allowed)
    {
        return true;
    }
    event
        .norm_str("tp.partner_tenant")
        .and_then(|t| context.partner_by_tenant(t))
        .is_some_and(|p| p.approved && p.approved_roles.iter().any(allowed))
}

fn cluster_finding(input: &AnalyticInput<'_>, cited: &Cited<'_>) -> Finding {
    let steps: Vec<&str> = cited.iter().map(|(s, _)| s.as_str()).collect();
    let mut unique = steps.clone();
    unique.sort();
    unique.dedup();
    let rule = if steps.iter().any(|s| s.starts_with("role")) {
        ROLE
    } else if steps.iter().any(|s| s.starts_with("untrusted")) {
        UNTRUSTED
    } else {
        NO_MFA
    };
    let mut finding = tuning::new_finding(
        input,
        input.rule(rule),
        FindingKind::Alert,
        Level::from_sigma(Some(&input.meta.base_level)),
        unique.join("; "),
        cited,
        "",
    );
    // Directory targets are roles and groups, not mailboxes.
    finding.entities.mailbox = None;
    finding.entities.trustee = None;
    let context = input.context;
    if unique.len() > 1 {
        finding
            .severity
            .raise("several kinds of partner access outside trust within a day");
    }
    if let Some(partner) = finding.entities.partner.clone() {
        let times = tuning::times(cited);
        tuning::partner_priority(&mut finding, context, &partner, &times);
    }
    finding
}
