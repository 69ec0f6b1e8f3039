//! Why a user Sigma rule fired, for its finding: [`trustpath_sigma::Rule::explain`]
//! (the selections that held and the values that made them hold) and the rule's
//! `fields:` with the event's values. Called only when a finding is built, never while
//! matching.

use trustpath_event::Event;
use trustpath_report::{FieldValue, Finding, MatchedField};
use trustpath_sigma::Rule;

/// `base` (the single-event finding of `rule` on `event`) with why it matched.
pub(crate) fn sigma_finding(base: Finding, rule: &Rule, event: &Event) -> Finding {
    base.with_match(matched_fields(rule, event), rule_fields(rule, event))
}

/// The (selection, field, value) triples that made `rule` match `event`.
pub fn matched_fields(rule: &Rule, event: &Event) -> Vec<MatchedField> {
    rule.explain_match(event)
        .values
        .into_iter()
        .map(|v| MatchedField {
            selection: v.selection,
            field: v.field,
            value: v.value,
        })
        .collect()
}

/// The rule's `fields:` with the event's values.
pub fn rule_fields(rule: &Rule, event: &Event) -> Vec<FieldValue> {
    rule.output_values(event)
        .into_iter()
        .map(|(field, value)| FieldValue { field, value })
        .collect()
}
