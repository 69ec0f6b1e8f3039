//! AN1347: partner access outside trust in Entra ID.
//!
//! Successful service-provider sign-ins from partner tenants that are not trusted, that
//! did not satisfy MFA (when `RequiredMFA`), or that fall outside a configured partner's
//! support windows; and delegated role assignments of roles outside what the partner is
//! allowed (`RoleScopeAllowList` and `approved_roles` apply to trusted partners only; an
//! unknown partner is never allowed). Events of one tenant *and one partner* no more than
//! a day apart form one finding; another partner never shares it.

use crate::AnalyticInput;
use crate::tuning::{self, Cited};
use jiff::SignedDuration;
use serde_json::Value;
use std::sync::Arc;
use trustpath_event::Event;
use trustpath_report::{Finding, FindingKind, Level};

/// This analytic's id (its `[analytics.AN1347]` tunables).
const ID: &str = "AN1347";
const UNTRUSTED: &str = "an1347_untrusted_partner_signin";
const NO_MFA: &str = "an1347_partner_signin_without_mfa";
const SIGNIN: &str = "an1347_partner_signin";
const ROLE: &str = "an1347_delegated_role_assignment";
const POLICY: &str = "an1347_gdap_partner_policy";
const CLUSTER: SignedDuration = SignedDuration::from_hours(24);
/// How long before a GDAP role assignment the approval's partner policy may be written.
const APPROVAL: SignedDuration = SignedDuration::from_mins(10);

/// Findings of AN1347.
pub(crate) fn findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let context = input.context;
    let required_mfa = input.flag("RequiredMFA");
    let mut items: Vec<((String, String), String, &Arc<Event>)> = Vec::new();
    let mut seen: Vec<&Arc<Event>> = Vec::new();
    let signins = input
        .matched(UNTRUSTED)
        .iter()
        .chain(input.matched(NO_MFA))
        .chain(input.matched(SIGNIN));
    for e in signins {
        if seen.iter().any(|s| Arc::ptr_eq(s, e)) || !signin_succeeded(e) {
            continue;
        }
        seen.push(e);
        let partner = partner_of(e).unwrap_or_default();
        let step = if !context.is_trusted_partner_tenant(&partner) {
            "untrusted partner sign-in"
        } else if required_mfa && matches!(mfa(e), Mfa::Single) {
            "partner sign-in without MFA"
        } else if context
            .partner_by_tenant(&partner)
            .is_some_and(|p| p.in_support_window(e.time) == Some(false))
            // Ticketed work outside the window (a ticket naming this technician) is
            // covered.
            && e.actor().is_none_or(|actor| {
                context
                    .ticket_for_session(e.tenant(), actor, e.time)
                    .is_none()
            })
        {
            "partner sign-in outside its support window"
        } else {
            continue;
        };
        items.push((key(e, &partner), step.to_owned(), e));
    }
    let policies: Vec<(Option<String>, jiff::Timestamp, String)> = input
        .matched(POLICY)
        .iter()
        .filter(|e| !role_failed(e))
        .filter_map(|e| policy_partner(e).map(|p| (e.tenant().map(str::to_lowercase), e.time, p)))
        .collect();
    let mut attributed: Vec<(&Arc<Event>, String)> = Vec::new();
    for e in input.matched(ROLE) {
        if role_failed(e) {
            continue;
        }
        let Some(mut partner) = role_partner(e) else {
            continue;
        };
        if partner.is_empty() {
            // A GDAP approval writes the partner's cross-tenant access setting, then the
            // Offline Processor assigns the roles: the same approval names the partner.
            let tenant = e.tenant().map(str::to_lowercase);
            if let Some((_, _, p)) = policies
                .iter()
                .filter(|(t, at, _)| {
                    *t == tenant && *at <= e.time && e.time.duration_since(*at) <= APPROVAL
                })
                .max_by_key(|(_, at, _)| *at)
            {
                partner = p.clone();
                attributed.push((e, p.clone()));
            }
        }
        if let Some(role) = role_name(e)
            && !role_allowed(input, &partner, &role)
        {
            items.push((key(e, &partner), format!("role {role} assigned"), e));
        }
    }
    tuning::clusters(items, CLUSTER)
        .iter()
        .map(|cited| cluster_finding(input, cited, &attributed))
        .collect()
}

/// The partner tenant a GDAP partner policy (cross-tenant access setting written by the
/// Partner Customer Delegated Administration app) is for: the `tenantId` modified
/// property (`["<guid>"]`; the target's own id is the policy object, not the partner),
/// else `tp.partner_tenant`.
fn policy_partner(event: &Event) -> Option<String> {
    let mut found = None;
    event.for_each_value("targetResources.modifiedProperties", &mut |p| {
        let is_tenant = p
            .get("displayName")
            .and_then(|d| d.as_str())
            .is_some_and(|d| d.eq_ignore_ascii_case("tenantId"));
        if found.is_none()
            && is_tenant
            && let Some(v) = p.get("newValue").and_then(|v| v.as_str())
        {
            let id = v.trim_matches(|c: char| matches!(c, '[' | ']' | '"' | ' ' | '\\'));
            if id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                found = Some(id.to_lowercase());
            }
        }
    });
    found.or_else(|| {
        event
            .norm_str(tuning::PARTNER_TENANT)
            .filter(|p| !p.is_empty())
            .map(str::to_lowercase)
    })
}

fn key(event: &Event, partner: &str) -> (String, String) {
    (
        event.tenant().unwrap_or("").to_lowercase(),
        partner.to_lowercase(),
    )
}

fn text(event: &Event, key: &str) -> Option<String> {
    event.get(key).and_then(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The partner tenant of an event: `tp.partner_tenant`, else the sign-in's
/// `homeTenantId` when it is not the customer tenant.
fn partner_of(event: &Event) -> Option<String> {
    if let Some(p) = event
        .norm_str(tuning::PARTNER_TENANT)
        .filter(|p| !p.is_empty())
    {
        return Some(p.to_lowercase());
    }
    let home = text(event, "homeTenantId")?.to_lowercase();
    let tenant = event
        .tenant()
        .map(str::to_lowercase)
        .or_else(|| text(event, "resourceTenantId").map(|t| t.to_lowercase()));
    (tenant.as_deref() != Some(home.as_str())).then_some(home)
}

/// A sign-in succeeded: Graph `status.errorCode` 0 (or absent), Sentinel `ResultType` 0.
fn signin_succeeded(event: &Event) -> bool {
    let ok = |v: Option<String>| v.is_none_or(|c| c == "0");
    ok(text(event, "status.errorCode")) && ok(text(event, "ResultType"))
}

fn role_failed(event: &Event) -> bool {
    text(event, "result")
        .or_else(|| text(event, "Result"))
        .is_some_and(|r| matches!(r.to_lowercase().as_str(), "failure" | "failed" | "timeout"))
}

/// The partner behind a role assignment: `tp.partner_tenant`, else the home tenant of
/// the initiating user when it differs from the customer tenant; `""` (unnamed partner)
/// for the GDAP first-party apps, which act for a partner the record does not name.
/// `None` for an assignment by a principal of the customer itself.
fn role_partner(event: &Event) -> Option<String> {
    if let Some(p) = event
        .norm_str(tuning::PARTNER_TENANT)
        .filter(|p| !p.is_empty())
    {
        return Some(p.to_lowercase());
    }
    if let Some(home) = text(event, "initiatedBy.user.homeTenantId").map(|h| h.to_lowercase()) {
        let tenant = event.tenant().map(str::to_lowercase);
        return match tenant {
            Some(t) if t == home => None,
            _ => Some(home),
        };
    }
    Some(String::new())
}

/// Whether a partner sign-in satisfied multi-factor authentication, and where.
#[derive(Debug, PartialEq)]
enum Mfa {
    /// MFA satisfied; `Some(tenant)` when the partner's home tenant did it (claim in the
    /// token, accepted through the inbound cross-tenant trust).
    Satisfied(Option<String>),
    /// A single factor satisfied the sign-in.
    Single,
    /// The record does not say.
    Unknown,
}

/// MFA from the fields that say so (README "MFA semantics"): `authenticationRequirement`
/// (what the sign-in had to satisfy), `authenticationDetails` (the steps and whether MFA
/// was satisfied by a claim from the home tenant), and `homeTenantId` for a
/// service-provider sign-in.
fn mfa(event: &Event) -> Mfa {
    let requirement = text(event, "authenticationRequirement").map(|r| r.to_lowercase());
    let mut details: Vec<String> = Vec::new();
    event.for_each_value("authenticationDetails", &mut |v| match v {
        Value::Object(_) => details.push(v.to_string().to_lowercase()),
        Value::String(s) => details.push(s.to_lowercase()),
        _ => {}
    });
    let by_claim = details
        .iter()
        .any(|d| d.contains("satisfied by claim in the token") || d.contains("claim in the token"));
    let mfa_step = details.iter().any(|d| {
        d.contains("mfa requirement satisfied")
            || d.contains("mfa successfully completed")
            || d.contains("mfa completed")
    });
    let home = text(event, "homeTenantId").map(|h| h.to_lowercase());
    match requirement.as_deref() {
        Some("multifactorauthentication") => Mfa::Satisfied(if by_claim { home } else { None }),
        Some("singlefactorauthentication") if by_claim => Mfa::Satisfied(home),
        Some("singlefactorauthentication") => Mfa::Single,
        _ if by_claim => Mfa::Satisfied(home),
        _ if mfa_step => Mfa::Satisfied(None),
        _ if !details.is_empty() => Mfa::Single,
        _ => Mfa::Unknown,
    }
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

/// Allow lists apply to trusted partners only: `RoleScopeAllowList` for a trusted
/// partner, `approved_roles` for an approved one. An unknown partner (or one the record
/// does not name) is never allowed a role.
fn role_allowed(input: &AnalyticInput<'_>, partner: &str, role: &str) -> bool {
    let context = input.context;
    if partner.is_empty() || !context.is_trusted_partner_tenant(partner) {
        return false;
    }
    let allowed = |r: &String| r.eq_ignore_ascii_case(role);
    context
        .analytics
        .strings(ID, "RoleScopeAllowList")
        .iter()
        .any(allowed)
        || context
            .partner_by_tenant(partner)
            .is_some_and(|p| p.approved && p.approved_roles.iter().any(allowed))
}

fn cluster_finding(
    input: &AnalyticInput<'_>,
    cited: &Cited<'_>,
    attributed: &[(&Arc<Event>, String)],
) -> Finding {
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
    let from_approval = cited.iter().find_map(|(_, e)| {
        attributed
            .iter()
            .find(|(a, _)| Arc::ptr_eq(a, e))
            .map(|(_, p)| p.clone())
    });
    let partner = from_approval.clone().or_else(|| {
        cited.iter().find_map(|(s, e)| {
            if s.starts_with("role") {
                role_partner(e)
            } else {
                partner_of(e)
            }
            .filter(|p| !p.is_empty())
        })
    });
    if let Some(p) = &from_approval {
        finding.severity.note(format!(
            "partner {p} from the GDAP approval's cross-tenant access setting written just before the role assignment"
        ));
    }
    match partner {
        Some(partner) => {
            finding.entities.partner = Some(partner.clone());
            let times = tuning::times(cited);
            tuning::partner_priority(&mut finding, context, &partner, &times);
        }
        None => {
            finding.entities.partner = None;
            finding.severity.raise(
                "the record names no partner tenant (GDAP first-party app acting for an unnamed partner): \
                 no allow list applies",
            );
        }
    }
    for (step, e) in cited {
        if step.contains("without MFA") {
            continue;
        }
        if let Mfa::Satisfied(Some(home)) = mfa(e) {
            finding.severity.note(format!(
                "MFA satisfied by the partner's home tenant {home} (claim in the token, accepted through cross-tenant access settings)"
            ));
            break;
        }
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustpath_event::{Format, Origin, SourceKind};

    fn event(fields: Value) -> Event {
        Event {
            time: jiff::Timestamp::UNIX_EPOCH,
            source: SourceKind::EntraSignIn,
            format: Format::GenericJson,
            origin: Origin::file("t"),
            fields: trustpath_event::fields_from(fields),
            keys: Default::default(),
        }
    }

    #[test]
    fn mfa_semantics() {
        let single =
            event(serde_json::json!({"authenticationRequirement": "singleFactorAuthentication"}));
        assert_eq!(mfa(&single), Mfa::Single);
        let multi =
            event(serde_json::json!({"authenticationRequirement": "multiFactorAuthentication"}));
        assert_eq!(mfa(&multi), Mfa::Satisfied(None));
        let home = event(serde_json::json!({
            "authenticationRequirement": "multiFactorAuthentication",
            "homeTenantId": "AAAA",
            "authenticationDetails": [{"authenticationStepResultDetail": "MFA requirement satisfied by claim in the token", "succeeded": true}]
        }));
        assert_eq!(mfa(&home), Mfa::Satisfied(Some("aaaa".to_owned())));
        let password_only = event(serde_json::json!({
            "authenticationDetails": [{"authenticationMethod": "Password", "authenticationStepResultDetail": "Correct password", "succeeded": true}]
        }));
        assert_eq!(mfa(&password_only), Mfa::Single);
        assert_eq!(mfa(&event(serde_json::json!({}))), Mfa::Unknown);
    }
}
