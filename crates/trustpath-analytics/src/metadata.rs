//! `analytic.toml`: what an analytic is, for `list`, `explain`, `coverage`, the
//! context's tunables, folding and `simulate`.

use serde::{Deserialize, Serialize};

/// One step of an analytic (one Sigma detection rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Rule name in `rules.yml`.
    pub rule: String,
    /// What the step is.
    pub name: String,
    /// Source kinds that can carry it (`m365_audit`, `entra_signin`, `entra_audit`, `windows`).
    pub sources: Vec<String>,
    /// Source kinds without which the step is blind even if another of `sources` is
    /// present (the step's main evidence lives there).
    #[serde(default)]
    pub required_sources: Vec<String>,
    /// Fields the step reads.
    pub fields: Vec<String>,
    /// What to turn on when the step is blind.
    pub enable: String,
}

/// One tunable (ATT&CK mutable element): declared here, validated by
/// `trustpath-context` from this declaration.
pub use trustpath_context::TunableSpec as Tunable;

/// A section of `trustpath.toml` besides its own tunables that the analytic reads
/// (`partners`, `admins`, `sensitive_mailboxes`, `change_tickets`, `host_timezones`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextUse {
    /// The top-level section.
    pub section: String,
    /// What it changes for this analytic.
    pub effect: String,
}

/// The top-level sections of `trustpath.toml` an analytic may name in `[[context]]`.
pub const CONTEXT_SECTIONS: [&str; 6] = [
    "settings",
    "partners",
    "sensitive_mailboxes",
    "admins",
    "change_tickets",
    "host_timezones",
];

/// An analytic's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// `AN1350`.
    pub id: String,
    /// Short title.
    pub title: String,
    /// ATT&CK platform.
    pub platform: String,
    /// Technique id.
    pub technique: String,
    /// Technique name.
    pub technique_name: String,
    /// Detection strategy id.
    pub strategy: String,
    /// Detection strategy name.
    pub strategy_name: String,
    /// What it detects.
    pub summary: String,
    /// Base severity of a complete detection.
    pub base_level: String,
    /// Name of the correlation that produces its main finding, if any.
    #[serde(default)]
    pub correlation: Option<String>,
    /// Fold priority: a finding whose evidence a finding of an analytic with a lower
    /// number wholly cites is folded into it (AN1350 0 > AN1052 1 > AN1347 2 > AN1051 3).
    pub fold_priority: u8,
    /// The key of the duration tunable that is the analytic's correlation window, if
    /// any: coverage calls a step partial when the data spans less than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage_window: Option<String>,
    /// The `trustpath simulate` generator of a complete chain (a name in
    /// `trustpath_simulate::GENERATORS`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<String>,
    /// The steps.
    pub steps: Vec<Step>,
    /// Tunables (`[analytics.ID]` in `trustpath.toml`).
    #[serde(default)]
    pub tunables: Vec<Tunable>,
    /// Other sections of `trustpath.toml` the analytic reads.
    #[serde(default)]
    pub context: Vec<ContextUse>,
    /// Known false positives and how to tune them.
    #[serde(default)]
    pub false_positives: Vec<String>,
    /// Response steps.
    #[serde(default)]
    pub response: Vec<String>,
}

impl Metadata {
    /// Parse `analytic.toml`.
    pub fn parse(text: &str) -> Result<Metadata, toml::de::Error> {
        toml::from_str(text)
    }

    /// Parse `analytic.toml` read from `file`; the error names `file:line:column`.
    pub fn parse_file(file: &str, text: &str) -> Result<Metadata, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let offset = e.span().map_or(0, |s| s.start).min(text.len());
            let before = text.get(..offset).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{file}:{line}:{column}: {}", e.message().trim())
        })
    }

    /// The tunable with this key (`[analytics.ID] key`).
    pub fn tunable(&self, key: &str) -> Option<&Tunable> {
        self.tunables.iter().find(|t| t.key() == key)
    }

    /// ATT&CK technique URL.
    pub fn technique_url(&self) -> String {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            self.technique.replace('.', "/")
        )
    }
}
