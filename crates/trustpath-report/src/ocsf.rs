//! OCSF 1.3 Detection Finding (class_uid 2004) rendering.

use crate::{Finding, Level};
use serde_json::{Value, json};
use std::io::{self, Write};

const OCSF_VERSION: &str = "1.3.0";

fn severity_id(level: Level) -> u8 {
    match level {
        Level::Informational => 1,
        Level::Low => 2,
        Level::Medium => 3,
        Level::High => 4,
        Level::Critical => 5,
    }
}

/// One finding as an OCSF Detection Finding object.
pub(crate) fn to_ocsf(finding: &Finding) -> Value {
    let attacks: Vec<Value> = finding
        .attack
        .technique
        .iter()
        .map(|t| json!({"technique": {"uid": t}, "version": "v18"}))
        .collect();
    let evidences: Vec<Value> = finding
        .evidence
        .iter()
        .map(|e| {
            json!({
                "data": {"step": e.step, "summary": e.summary, "origin": e.origin.to_string(),
                         "source": e.source, "record_id": e.record_id},
                "time": e.time.as_millisecond(),
            })
        })
        .collect();
    let e = &finding.entities;
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": finding.window.start.as_millisecond(),
        "severity_id": severity_id(finding.severity.level),
        "severity": finding.severity.level.as_str(),
        "status_id": 1,
        "status": "New",
        "message": finding.title,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": finding.id,
            "product": {"name": "trustpath", "vendor_name": "trustpath", "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": {
            "uid": finding.id,
            "title": finding.title,
            "types": [finding.analytic.clone().unwrap_or_else(|| "sigma".to_owned())],
            "analytic": {"uid": finding.rule.id, "name": finding.rule.title, "type_id": 1, "type": "Rule"},
            "attacks": attacks,
            "first_seen_time": finding.window.start.as_millisecond(),
            "last_seen_time": finding.window.end.as_millisecond(),
        },
        "evidences": evidences,
        "actor": {"user": {"name": e.actor}},
        "src_endpoint": {"ip": e.ips.first()},
        "cloud": {"provider": "Microsoft", "account": {"uid": e.tenant}},
        "unmapped": {
            "kind": finding.kind,
            "authorized": finding.authorized,
            "severity_reasons": finding.severity.reasons,
            "entities": finding.entities,
            "rollback": finding.rollback,
        },
    })
}

/// Write OCSF objects, one per line.
pub(crate) fn write_ocsf(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for finding in findings {
        serde_json::to_writer(&mut *out, &to_ocsf(finding))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
