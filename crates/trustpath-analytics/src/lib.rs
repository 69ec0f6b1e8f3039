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
//! | `analytic.rs` | how matches and correlation results become [`Finding`]s, with the analytic's own tuning |
//! | `fixtures/positive`, `fixtures/benign` | inputs in every format the analytic reads, checked by the snapshot tests |
//!
//! [`Detector`] compiles the built-in and user Sigma rules with the context's tunables as
//! placeholders, matches events (stateless, any thread), and turns the matches of a whole
//! hunt into findings ([`Detector::findings`]): correlation in event time, the analytics'
//! own logic, context tuning ([`tuning`]), rollback commands ([`rollback`]) and fusion of
//! findings that cite the same change.

mod baseline;
mod detector;
mod metadata;
pub mod rollback;
pub mod tuning;
pub mod why;

pub use baseline::{Baseline, FirstSeen};
pub use detector::{Detector, DetectorOptions, HuntOutcome, LoadProblems, Matched};
pub use metadata::{Metadata, Step, Tunable};

use std::collections::BTreeMap;
use std::sync::Arc;
use trustpath_context::Context;
use trustpath_correlate::CorrelationResult;
use trustpath_event::Event;
use trustpath_report::Finding;

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
    /// `analytic.toml`.
    pub metadata: &'static str,
    /// `rules.yml`.
    pub rules: &'static str,
    /// `README.md`.
    pub doc: &'static str,
    /// `analytic.rs`'s `findings`.
    pub findings: fn(&AnalyticInput<'_>) -> Vec<Finding>,
}

mod builtin {
    use super::Builtin;
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// Metadata and documentation of every built-in analytic, in id order.
pub fn catalog() -> Vec<(Metadata, &'static str)> {
    builtin::BUILTIN
        .iter()
        .filter_map(|b| Metadata::parse(b.metadata).ok().map(|m| (m, b.doc)))
        .collect()
}

/// The Sigma documents of a built-in analytic.
pub fn rules_source(id: &str) -> Option<&'static str> {
    builtin::BUILTIN
        .iter()
        .find(|b| b.id.eq_ignore_ascii_case(id))
        .map(|b| b.rules)
}
