//! `analytic.toml`: what an analytic is, for `list`, `explain` and `coverage`.

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

/// One tunable (ATT&CK mutable element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tunable {
    /// ATT&CK name.
    pub name: String,
    /// Where it lives in `trustpath.toml`.
    pub key: String,
    /// Default value.
    pub default: String,
    /// What it changes.
    pub effect: String,
}

/// An analytic's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The steps.
    pub steps: Vec<Step>,
    /// Tunables.
    #[serde(default)]
    pub tunables: Vec<Tunable>,
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

    /// ATT&CK technique URL.
    pub fn technique_url(&self) -> String {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            self.technique.replace('.', "/")
        )
    }
}
