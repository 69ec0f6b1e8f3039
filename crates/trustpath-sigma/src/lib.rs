//! Sigma detection rules for trustpath: the stateless half of **detect**.
//!
//! ```text
//! YAML ──► RuleSet::load ──► Rule (typed, compiled detection, resolved log source)
//!                            CorrelationDoc (untouched, for trustpath-correlate)
//! RuleSet::compile ──► Matcher (immutable, Sync) ──► matches(&Event) -> rule indices
//! ```
//!
//! * Loading ([`RuleSet::load`], [`RuleSet::from_str`]) is partial-success: every bad
//!   document becomes a [`LoadError`] naming file, line, rule and reason; the rest load.
//! * The whole Sigma 2 detection language is supported: field maps, value lists,
//!   keyword searches, `null`, wildcards with escapes, the value modifiers (`contains`,
//!   `startswith`, `endswith`, `all`, `base64`, `base64offset`, `utf16*`/`wide`,
//!   `windash`, `re` with `i`/`m`/`s`, `cidr`, `exists`, `fieldref`, `gt`/`gte`/`lt`/`lte`,
//!   `expand`, `cased`) and conditions with `and`/`or`/`not`, parentheses and
//!   `x of` quantifiers. Sigma 1 aggregations and collections are rejected with a reason.
//! * Log sources are mapped to trustpath source kinds, Windows channels and event ids by
//!   data files (`mappings/*.yml`, see [`LoadOptions::mapping`] to override them).
//! * Semantics worth knowing: strings compare case-insensitively unless `cased`; a
//!   rule number (`EventID: 4688`) matches the number and the string `"4688"`; `null`
//!   matches a missing field or a JSON null, never an empty string; keyword values
//!   without wildcards match as substrings of any value in the event; regexes are
//!   case-sensitive unless `|re|i`, and search (not anchor) the value.

pub mod cache;
mod condition;
mod detection;
mod error;
mod explain;
mod logsource;
mod matcher;
mod rule;
mod ruleset;
mod value;

pub use error::{LoadError, LoadErrorKind};
pub use explain::{Explanation, MAX_PAIRS, MAX_VALUE_CHARS, MatchedValue};
pub use logsource::LogSource;
pub use matcher::Matcher;
pub use rule::{CorrelationDoc, Rule};
pub use ruleset::{LoadOptions, RuleIndex, RuleSet, read_placeholders, validate};
