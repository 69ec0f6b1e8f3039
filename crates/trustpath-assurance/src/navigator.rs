//! ATT&CK Navigator layer (layer format 4.5) colouring each technique by coverage.
//!
//! One entry per technique. Several analytics detect the same technique (T1199: AN1350
//! and AN1347; T1098.002: AN1052 and AN1051); the technique's score is the **best** of
//! their verdicts (covered 100, partial 50, blind 0): the layer answers "can we detect
//! this technique at all with these logs", and the comment and metadata list every
//! analytic's own verdict and blind spots so that a partial sibling is not hidden.

use crate::coverage::{AnalyticCoverage, CoverageReport, Verdict};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const COLOR_BLIND: &str = "#e8706a";
const COLOR_PARTIAL: &str = "#f5c542";
const COLOR_COVERED: &str = "#5bb974";

/// The Navigator score of a verdict.
pub fn score(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Blind => 0,
        Verdict::Partial => 50,
        Verdict::Covered => 100,
    }
}

fn color(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Blind => COLOR_BLIND,
        Verdict::Partial => COLOR_PARTIAL,
        Verdict::Covered => COLOR_COVERED,
    }
}

/// The layer for a coverage report.
pub(crate) fn layer(report: &CoverageReport) -> Value {
    let mut by_technique: BTreeMap<&str, Vec<&AnalyticCoverage>> = BTreeMap::new();
    for analytic in &report.analytics {
        by_technique
            .entry(analytic.technique.as_str())
            .or_default()
            .push(analytic);
    }
    let mut techniques: Vec<Value> = by_technique
        .iter()
        .map(|(technique, analytics)| technique_entry(technique, analytics))
        .collect();
    techniques.extend(parents_of_subtechniques(by_technique.keys().copied()));
    let range = match (report.time.first, report.time.last) {
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => "empty input".to_owned(),
    };
    json!({
        "name": "trustpath coverage",
        "versions": {"attack": "18", "navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": format!(
            "Log-source coverage of the trustpath analytics over {} events ({range}). \
             Score: best verdict of the analytics detecting the technique (covered 100, partial 50, blind 0).",
            report.events
        ),
        "sorting": 3,
        "hideDisabled": false,
        "techniques": techniques,
        "gradient": {
            "colors": [COLOR_BLIND, COLOR_PARTIAL, COLOR_COVERED],
            "minValue": 0,
            "maxValue": 100
        },
        "legendItems": [
            {"label": "covered: every step has its logs and fields", "color": COLOR_COVERED},
            {"label": "partial: some logs, fields or periods missing", "color": COLOR_PARTIAL},
            {"label": "blind: the logs the analytic needs are absent", "color": COLOR_BLIND}
        ],
        "showTacticRowBackground": false,
        "selectTechniquesAcrossTactics": true,
        "selectSubtechniquesWithParent": false
    })
}

fn technique_entry(technique: &str, analytics: &[&AnalyticCoverage]) -> Value {
    let best = analytics
        .iter()
        .map(|a| a.verdict)
        .max()
        .unwrap_or(Verdict::Blind);
    let mut comment: Vec<String> = Vec::new();
    let mut metadata: Vec<Value> = Vec::new();
    for analytic in analytics {
        comment.push(format!(
            "{} {}: {}",
            analytic.id,
            analytic.title,
            analytic.verdict.as_str()
        ));
        metadata.push(json!({"name": analytic.id, "value": analytic.verdict.as_str()}));
        for (step, spot) in analytic.all_blind_spots() {
            let place = if step == 0 {
                analytic.id.clone()
            } else {
                format!("{} step {step}", analytic.id)
            };
            metadata.push(json!({
                "name": format!("{place} blind spot"),
                "value": format!("{} — enable: {}", spot.what, spot.enable)
            }));
        }
    }
    json!({
        "techniqueID": technique,
        "score": score(best),
        "color": color(best),
        "comment": comment.join("; "),
        "enabled": true,
        "metadata": metadata
    })
}

/// Parent entries that make the Navigator show the scored sub-techniques expanded.
fn parents_of_subtechniques<'a>(techniques: impl Iterator<Item = &'a str>) -> Vec<Value> {
    let mut parents: Vec<&str> = techniques
        .filter_map(|t| t.split_once('.').map(|(parent, _)| parent))
        .collect();
    parents.sort_unstable();
    parents.dedup();
    parents
        .into_iter()
        .map(|parent| json!({"techniqueID": parent, "showSubtechniques": true, "enabled": true}))
        .collect()
}
