//! OCSF 1.3.0 Detection Finding (class_uid 2004), valid against the strict schema the
//! `ocsf-json-schema` package generates (`tests/data/ocsf/`, checked by
//! `tests/ocsf_schema.rs`).
//!
//! * Profiles are declared in `metadata.profiles` as used: `cloud` (the `cloud` object:
//!   the Microsoft 365 tenant), `host` (`actor`, `device`), `security_control`
//!   (`action_id`, `disposition_id`) — always.
//! * The Detection Finding class has no `src_endpoint`: each evidence carries its own
//!   (`evidences[].src_endpoint.ip`); evidence objects have no `time` either, so the
//!   event time is `evidences[].data.time` (epoch milliseconds, like every OCSF
//!   timestamp) next to its ISO text.
//! * ATT&CK: `T1098.002` is `sub_technique` with `T1098` as its `technique`.
//! * Rollback commands are the `remediation`.

use crate::{Finding, FindingKind, Level};
use serde_json::{Map, Value, json};
use std::net::IpAddr;

/// The OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.3.0";

/// Every profile a trustpath finding can declare, in the order they are listed.
pub const OCSF_PROFILES: [&str; 3] = ["cloud", "host", "security_control"];

/// ATT&CK version the technique ids refer to.
const ATTACK_VERSION: &str = "v18";

fn severity_id(level: Level) -> u8 {
    match level {
        Level::Informational => 1,
        Level::Low => 2,
        Level::Medium => 3,
        Level::High => 4,
        Level::Critical => 5,
    }
}

fn severity_caption(level: Level) -> &'static str {
    match level {
        Level::Informational => "Informational",
        Level::Low => "Low",
        Level::Medium => "Medium",
        Level::High => "High",
        Level::Critical => "Critical",
    }
}

/// Enterprise ATT&CK tactic ids by the names Sigma tags use.
fn tactic_uid(name: &str) -> Option<&'static str> {
    Some(match name {
        "reconnaissance" => "TA0043",
        "resource-development" => "TA0042",
        "initial-access" => "TA0001",
        "execution" => "TA0002",
        "persistence" => "TA0003",
        "privilege-escalation" => "TA0004",
        "defense-evasion" => "TA0005",
        "credential-access" => "TA0006",
        "discovery" => "TA0007",
        "lateral-movement" => "TA0008",
        "collection" => "TA0009",
        "command-and-control" => "TA0011",
        "exfiltration" => "TA0010",
        "impact" => "TA0040",
        _ => return None,
    })
}

fn tactic(name: &str) -> Value {
    let mut t = Map::new();
    t.insert("name".into(), json!(name));
    if let Some(uid) = tactic_uid(name) {
        t.insert("uid".into(), json!(uid));
    }
    Value::Object(t)
}

/// One OCSF `attack` per technique: a sub-technique (`T1098.002`) is `sub_technique`
/// with its parent (`T1098`) as `technique`.
fn attacks(finding: &Finding) -> Vec<Value> {
    let tactics: Vec<Value> = finding.attack.tactics.iter().map(|t| tactic(t)).collect();
    finding
        .attack
        .technique
        .iter()
        .map(|id| {
            let mut a = Map::new();
            match id.split_once('.') {
                Some((parent, _)) => {
                    a.insert("technique".into(), json!({ "uid": parent }));
                    a.insert("sub_technique".into(), json!({ "uid": id }));
                }
                None => {
                    a.insert("technique".into(), json!({ "uid": id }));
                }
            }
            if let Some(first) = tactics.first() {
                a.insert("tactic".into(), first.clone());
            }
            if !tactics.is_empty() {
                a.insert("tactics".into(), Value::Array(tactics.clone()));
            }
            a.insert("version".into(), json!(ATTACK_VERSION));
            Value::Object(a)
        })
        .collect()
}

fn evidences(finding: &Finding) -> Vec<Value> {
    let matched: Vec<Value> = finding
        .matched
        .iter()
        .map(|m| json!({"selection": m.selection, "field": m.field, "value": m.value}))
        .collect();
    let fields: Map<String, Value> = finding
        .fields
        .iter()
        .map(|f| (f.field.clone(), json!(f.value)))
        .collect();
    finding
        .evidence
        .iter()
        .map(|e| {
            let mut data = Map::new();
            data.insert("time".into(), json!(e.time.as_millisecond()));
            data.insert("time_text".into(), json!(e.time.to_string()));
            data.insert("step".into(), json!(e.step));
            data.insert("source".into(), json!(e.source));
            data.insert("summary".into(), json!(e.summary));
            data.insert("origin".into(), json!(e.origin.to_string()));
            if let Some(id) = &e.record_id {
                data.insert("record_id".into(), json!(id));
            }
            if !matched.is_empty() {
                data.insert("matched".into(), Value::Array(matched.clone()));
            }
            if !fields.is_empty() {
                data.insert("fields".into(), Value::Object(fields.clone()));
            }
            let mut evidence = Map::new();
            evidence.insert("data".into(), Value::Object(data));
            // `ip_t` is an address; anything else stays in the summary.
            if let Some(ip) = e.ip.as_deref().filter(|ip| ip.parse::<IpAddr>().is_ok()) {
                evidence.insert("src_endpoint".into(), json!({ "ip": ip }));
            }
            Value::Object(evidence)
        })
        .collect()
}

fn observables(finding: &Finding) -> Vec<Value> {
    let e = &finding.entities;
    let mut out = Vec::new();
    for ip in &e.ips {
        out.push(json!({"name": "evidences.src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip}));
    }
    if let Some(actor) = &e.actor {
        out.push(
            json!({"name": "actor.user.name", "type_id": 4, "type": "User Name", "value": actor}),
        );
    }
    if let Some(host) = &e.host {
        out.push(
            json!({"name": "device.hostname", "type_id": 1, "type": "Hostname", "value": host}),
        );
    }
    if let Some(mailbox) = &e.mailbox {
        out.push(json!({"name": "resources.name", "type_id": 5, "type": "Email Address", "value": mailbox}));
    }
    out
}

/// The description: why the rule fired (Sigma) and why this severity.
fn description(finding: &Finding) -> String {
    let mut lines = Vec::new();
    let details = finding.details();
    if !details.is_empty() {
        lines.push(format!("Matched: {details}"));
    }
    for r in &finding.severity.reasons {
        lines.push(r.reason.clone());
    }
    lines.join("\n")
}

/// One finding as an OCSF 1.3.0 Detection Finding object.
pub fn to_ocsf(finding: &Finding) -> Value {
    let e = &finding.entities;
    let level = finding.severity.level;
    let cloud = e.tenant.is_some();
    let host = e.actor.is_some() || e.host.is_some();
    let profiles: Vec<&str> = OCSF_PROFILES
        .iter()
        .copied()
        .filter(|p| match *p {
            "cloud" => cloud,
            "host" => host,
            _ => true,
        })
        .collect();
    let mut sources: Vec<&str> = finding.evidence.iter().map(|e| e.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();

    let mut metadata = json!({
        "version": OCSF_VERSION,
        "uid": finding.id,
        "product": {"name": "trustpath", "vendor_name": "trustpath", "version": env!("CARGO_PKG_VERSION")},
        "profiles": profiles,
    });
    if let (Some(tenant), Some(m)) = (&e.tenant, metadata.as_object_mut()) {
        m.insert("tenant_uid".into(), json!(tenant));
    }
    let mut finding_info = json!({
        "uid": finding.id,
        "title": finding.title,
        "types": [finding.analytic.clone().unwrap_or_else(|| "Sigma rule".to_owned())],
        "analytic": {"uid": finding.rule.id, "name": finding.rule.title, "type_id": 1, "type": "Rule"},
        "first_seen_time": finding.window.start.as_millisecond(),
        "last_seen_time": finding.window.end.as_millisecond(),
        "data_sources": sources,
    });
    if let Some(m) = finding_info.as_object_mut() {
        let attacks = attacks(finding);
        if !attacks.is_empty() {
            m.insert("attacks".into(), Value::Array(attacks));
        }
        let desc = description(finding);
        if !desc.is_empty() {
            m.insert("desc".into(), json!(desc));
        }
    }
    let (disposition_id, disposition) = match (&finding.authorized, finding.kind) {
        (Some(_), _) => (8, "Approved"),
        (None, FindingKind::Alert) => (19, "Alert"),
        (None, FindingKind::HuntingLead) => (15, "Detected"),
    };
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_owned(), v);
    };
    put("class_uid", json!(2004));
    put("class_name", json!("Detection Finding"));
    put("category_uid", json!(2));
    put("category_name", json!("Findings"));
    put("activity_id", json!(1));
    put("activity_name", json!("Create"));
    put("type_uid", json!(200401));
    put("type_name", json!("Detection Finding: Create"));
    put("time", json!(finding.window.start.as_millisecond()));
    put("start_time", json!(finding.window.start.as_millisecond()));
    put("end_time", json!(finding.window.end.as_millisecond()));
    put("count", json!(finding.evidence.len()));
    put("severity_id", json!(severity_id(level)));
    put("severity", json!(severity_caption(level)));
    put("status_id", json!(1));
    put("status", json!("New"));
    put("message", json!(finding.title));
    // security_control: the activity was not blocked (trustpath reads logs); the
    // disposition says whether a ticket approved it.
    put("action_id", json!(1));
    put("action", json!("Allowed"));
    put("disposition_id", json!(disposition_id));
    put("disposition", json!(disposition));
    put("metadata", metadata);
    put("finding_info", finding_info);
    put("evidences", Value::Array(evidences(finding)));
    let observables = observables(finding);
    if !observables.is_empty() {
        put("observables", Value::Array(observables));
    }
    if let Some(mailbox) = &e.mailbox {
        put(
            "resources",
            json!([{"name": mailbox, "type": "Mailbox", "uid": mailbox}]),
        );
    }
    if let Some(tenant) = &e.tenant {
        put(
            "cloud",
            json!({"provider": "Microsoft", "account": {"uid": tenant, "type_id": 6, "type": "Azure AD Account"}}),
        );
    }
    if let Some(actor) = &e.actor {
        put("actor", json!({"user": {"name": actor}}));
    }
    if let Some(host) = &e.host {
        put(
            "device",
            json!({"hostname": host, "name": host, "type_id": 0, "type": "Unknown"}),
        );
    }
    if !finding.rollback.is_empty() {
        let mut desc = String::from(
            "Reverse the change with these PowerShell commands (review them first; \
             `trustpath respond` writes them as a script):",
        );
        for line in &finding.rollback {
            desc.push('\n');
            desc.push_str(line);
        }
        put("remediation", json!({ "desc": desc }));
    }
    put(
        "unmapped",
        json!({
            "kind": finding.kind,
            "authorized": finding.authorized,
            "severity_reasons": finding.severity.reasons,
            "entities": finding.entities,
            "rollback": finding.rollback,
        }),
    );
    Value::Object(o)
}
