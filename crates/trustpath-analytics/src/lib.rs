//! trustpath's built-in MITRE ATT&CK® analytics and the detector that runs them.
//!
//! Each analytic is one folder under `analytics/` (found by `build.rs`, so adding an
//! analytic touches nothing else):
//!
//! | file | what |
//! |---|---|
//! | `analytic.toml` | metadata: ids, steps with their log sources and fields, tunables, false positives, response ([`Metadata`]) |
//! | `rules.yml` | the Sigma documents (detection rules and correlations) |
//! | `README.md` | the documentation page (`trustpath explain ID`) |
//! | `analytic.rs` | how matches and correlation results become [`Finding`]s, with the analytic's own tuning (optional: without it, [`sigma_findings`]) |
//! | `fixtures/positive`, `fixtures/benign` | inputs in every format the analytic reads, checked by the snapshot tests |
//!
//! [`Detector`] compiles the built-in and user Sigma rules with the context's tunables as
//! placeholders, matches events (stateless, any thread), and turns the matches of a whole
//! hunt into findings ([`Detector::findings`]): correlation in event time, the analytics'
//! own logic, context tuning ([`tuning`]), rollback commands ([`rollback`]) and fusion of
//! findings that cite the same change.

mod baseline;
mod detector;
mod folder;
mod metadata;
mod registry;
pub mod rollback;
pub mod tuning;
pub mod why;

pub use baseline::{Baseline, FirstSeen};
pub use detector::{Detector, DetectorOptions, HuntOutcome, LoadProblems, Matched};
pub use metadata::{CONTEXT_SECTIONS, ContextUse, Metadata, Step, Tunable};
pub use registry::{Definition, FindingsFn, Registry, sigma_findings};

use std::collections::BTreeMap;
use std::sync::Arc;
use trustpath_context::Context;
use trustpath_correlate::CorrelationResult;
use trustpath_event::Event;

/// What an analytic's `findings` function gets.
pub struct AnalyticInput<'a> {
    /// The analytic's metadata.
    pub meta: &'a Metadata,
    /// The organisation's context and tuning.
    pub context: &'a Context,
    /// First-seen times of actors per tenant.
    pub baseline: &'a Baseline,
    /// Events matched by each of the analytic's rules (by rule name), in event-time order.
    pub matches: BTreeMap<String, Vec<Arc<Event>>>,
    /// Results of the analytic's correlations, in event-time order.
    pub results: Vec<CorrelationResult>,
    /// Rule id, title and level by rule name.
    pub rules: BTreeMap<String, trustpath_report::RuleRef>,
}

impl AnalyticInput<'_> {
    /// Events matched by `rule`.
    pub fn matched(&self, rule: &str) -> &[Arc<Event>] {
        self.matches.get(rule).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The analytic's tunable `key` (`[analytics.ID] key`): the context's value, else
    /// the default its `analytic.toml` declares (a context loaded with another schema).
    pub fn tunable(&self, key: &str) -> Option<trustpath_context::TunableValue> {
        self.context
            .analytics
            .get(&self.meta.id, key)
            .cloned()
            .or_else(|| self.meta.tunable(key)?.default_value().ok())
    }

    /// The analytic's duration tunable `key` (zero if it declares no such duration).
    pub fn duration(&self, key: &str) -> jiff::SignedDuration {
        match self.tunable(key) {
            Some(trustpath_context::TunableValue::Duration(d)) => d,
            _ => jiff::SignedDuration::ZERO,
        }
    }

    /// The analytic's list tunable `key` (empty if it declares no such list).
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.tunable(key) {
            Some(
                trustpath_context::TunableValue::Strings(v)
                | trustpath_context::TunableValue::TenantIds(v),
            ) => v,
            _ => Vec::new(),
        }
    }

    /// The analytic's flag tunable `key` (false if it declares no such flag).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.tunable(key),
            Some(trustpath_context::TunableValue::Bool(true))
        )
    }

    /// The rule reference for `name` (or a placeholder if the rule is missing).
    pub fn rule(&self, name: &str) -> trustpath_report::RuleRef {
        self.rules
            .get(name)
            .cloned()
            .unwrap_or_else(|| trustpath_report::RuleRef {
                id: name.to_owned(),
                title: name.to_owned(),
                level: "medium".to_owned(),
            })
    }
}

/// One built-in analytic's files, compiled in.
pub(crate) struct Builtin {
    /// Folder name = analytic id.
    pub id: &'static str,
    /// The folder at build time.
    pub dir: &'static str,
    /// `analytic.toml`.
    pub metadata: &'static str,
    /// `rules.yml`.
    pub rules: &'static str,
    /// `README.md`.
    pub doc: &'static str,
    /// `analytic.rs`'s `findings`, if the folder has one.
    pub findings: Option<FindingsFn>,
}

mod builtin {
    use super::Builtin;
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// Metadata and documentation of every built-in analytic, in id order.
pub fn catalog() -> Vec<(Metadata, &'static str)> {
    Registry::builtin()
        .iter()
        .map(|d| (d.meta.clone(), d.doc.as_str()))
        .collect()
}

/// The Sigma documents of a built-in analytic.
pub fn rules_source(id: &str) -> Option<&'static str> {
    Registry::builtin().get(id).map(|d| d.rules.as_str())
}
