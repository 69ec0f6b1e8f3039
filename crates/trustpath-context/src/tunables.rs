//! Analytic tunables (`[analytics.ANxxxx]`), validated against what each analytic
//! declares in its `analytic.toml` (`[[tunables]]`: name, key, type, default, the
//! `%Placeholder%` it feeds).
//!
//! The declarations are the only place a tunable is defined: [`Schema::builtin`] holds
//! those of the built-in analytics (embedded by `build.rs` from
//! `trustpath-analytics/analytics/*/analytic.toml`), and a caller with other analytics
//! (a folder loaded at run time) passes its own [`Schema`] to
//! [`Context::load_with`](crate::Context::load_with). A key no analytic declares, an
//! analytic id no folder has, or a value of the wrong type is an error naming the file,
//! line and column, so a typo never silently keeps a default.

use crate::duration::parse_duration;
use crate::error::{ContextError, Source};
use crate::glob::Glob;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;
use toml::Spanned;

/// The type of a tunable's value, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunableType {
    /// `"7d"`, `"1h30m"`: units s, m, h, d, w; greater than zero.
    Duration,
    /// A list of strings.
    Strings,
    /// A list of case-insensitive globs (`*`, `?`).
    Globs,
    /// A list of tenant ids (GUIDs), stored lower-case.
    TenantIds,
    /// `true` or `false`.
    Bool,
    /// A list of `{ delegator = "…", delegate = "…" }` tables.
    DelegatePairs,
}

impl TunableType {
    /// How the type is written in messages and docs.
    pub fn describe(self) -> &'static str {
        match self {
            TunableType::Duration => "a duration like \"7d\" or \"1h30m\"",
            TunableType::Strings => "a list of strings",
            TunableType::Globs => "a list of glob patterns",
            TunableType::TenantIds => "a list of tenant ids (GUIDs)",
            TunableType::Bool => "true or false",
            TunableType::DelegatePairs => {
                "a list of { delegator = \"…\", delegate = \"…\" } tables"
            }
        }
    }
}

/// A set the context adds to a tunable's placeholder values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextSet {
    /// Tenant ids of `approved = true` `[[partners]]` (lower-case).
    ApprovedPartnerTenants,
}

/// One tunable as an analytic declares it (`[[tunables]]` in `analytic.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunableSpec {
    /// ATT&CK mutable element name (`TimeWindow`).
    pub name: String,
    /// The key in `[analytics.ANxxxx]` when it differs from `name` (AN1350 `window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: TunableType,
    /// Default value, written as it would be in `trustpath.toml`.
    pub default: toml::Value,
    /// The `%Placeholder%` of Sigma `|expand` its values feed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Context values added to the placeholder's (sorted, de-duplicated, lower-case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placeholder_adds: Vec<ContextSet>,
    /// Validation: the list may not be empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_empty: bool,
    /// What it changes.
    pub effect: String,
}

impl TunableSpec {
    /// The key in `[analytics.ANxxxx]`.
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }

    /// The default, checked (an error here is a defect of the declaration).
    pub fn default_value(&self) -> Result<TunableValue, String> {
        let text = default_text(&self.default);
        let src = Source {
            label: "analytic.toml".to_string(),
            text: &text,
        };
        parse_value(
            &src,
            &format!("default of {}", self.name),
            self,
            value_span(&text),
        )
        .map_err(|e| e.to_string())
    }
}

/// A validated tunable value.
#[derive(Debug, Clone, PartialEq)]
pub enum TunableValue {
    /// A duration.
    Duration(SignedDuration),
    /// Strings as written.
    Strings(Vec<String>),
    /// Globs.
    Globs(Vec<Glob>),
    /// Tenant ids, lower-case.
    TenantIds(Vec<String>),
    /// A flag.
    Bool(bool),
    /// Delegator/delegate pairs.
    DelegatePairs(Vec<crate::DelegatePair>),
}

impl TunableValue {
    /// The values a `%Placeholder%` expands to.
    pub fn placeholder_values(&self) -> Vec<String> {
        match self {
            TunableValue::Duration(d) => vec![format!("{}s", d.as_secs())],
            TunableValue::Strings(v) | TunableValue::TenantIds(v) => v.clone(),
            TunableValue::Globs(v) => v.iter().map(|g| g.as_str().to_string()).collect(),
            TunableValue::Bool(b) => vec![b.to_string()],
            TunableValue::DelegatePairs(v) => v
                .iter()
                .map(|p| format!("{}:{}", p.delegator, p.delegate))
                .collect(),
        }
    }
}

/// The declared tunables of a set of analytics, by analytic id (upper-case).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    analytics: BTreeMap<String, Vec<TunableSpec>>,
}

/// Only the `[[tunables]]` of an `analytic.toml` (the rest is the analytics crate's).
#[derive(Deserialize)]
struct TunablesOnly {
    #[serde(default)]
    tunables: Vec<TunableSpec>,
}

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_tunables.rs"));
}

impl Schema {
    /// The tunables of the built-in analytics (from their `analytic.toml`).
    pub fn builtin() -> &'static Schema {
        static BUILTIN: OnceLock<Schema> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut schema = Schema::default();
            for (id, text) in builtin::ANALYTIC_TOMLS {
                // A broken analytic.toml is reported by the analytics registry (and its
                // test); here the analytic just declares nothing.
                let tunables = toml::from_str::<TunablesOnly>(text)
                    .map(|t| t.tunables)
                    .unwrap_or_default();
                schema.insert(id, tunables);
            }
            schema
        })
    }

    /// Declare (or replace) an analytic's tunables.
    pub fn insert(&mut self, analytic: &str, tunables: Vec<TunableSpec>) {
        self.analytics
            .insert(analytic.to_ascii_uppercase(), tunables);
    }

    /// The analytics, in id order, with their tunables.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[TunableSpec])> {
        self.analytics
            .iter()
            .map(|(id, t)| (id.as_str(), t.as_slice()))
    }

    /// An analytic's declared tunables.
    pub fn tunables(&self, analytic: &str) -> Option<&[TunableSpec]> {
        self.analytics
            .get(&analytic.to_ascii_uppercase())
            .map(Vec::as_slice)
    }

    /// Every tunable at its default (a default that does not check is left out; the
    /// registry test reports it).
    pub fn defaults(&self) -> Tunables {
        let mut values = BTreeMap::new();
        for (id, specs) in &self.analytics {
            let map: &mut BTreeMap<String, TunableValue> = values.entry(id.clone()).or_default();
            for spec in specs {
                if let Ok(v) = spec.default_value() {
                    map.insert(spec.key().to_string(), v);
                }
            }
        }
        Tunables { values }
    }
}

/// Every analytic's tunables (`[analytics.ANxxxx]`), defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Tunables {
    values: BTreeMap<String, BTreeMap<String, TunableValue>>,
}

impl Default for Tunables {
    fn default() -> Self {
        Schema::builtin().defaults()
    }
}

impl Tunables {
    /// The value of `analytic`'s tunable `key` (the key in `[analytics.ANxxxx]`).
    pub fn get(&self, analytic: &str, key: &str) -> Option<&TunableValue> {
        self.values
            .get(&analytic.to_ascii_uppercase())
            .and_then(|m| m.get(key))
    }

    /// A duration tunable.
    pub fn duration(&self, analytic: &str, key: &str) -> Option<SignedDuration> {
        match self.get(analytic, key) {
            Some(TunableValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// A list of strings (or tenant ids); empty when not declared.
    pub fn strings(&self, analytic: &str, key: &str) -> &[String] {
        match self.get(analytic, key) {
            Some(TunableValue::Strings(v) | TunableValue::TenantIds(v)) => v,
            _ => &[],
        }
    }

    /// A list of globs; empty when not declared.
    pub fn globs(&self, analytic: &str, key: &str) -> &[Glob] {
        match self.get(analytic, key) {
            Some(TunableValue::Globs(v)) => v,
            _ => &[],
        }
    }

    /// A flag.
    pub fn flag(&self, analytic: &str, key: &str) -> Option<bool> {
        match self.get(analytic, key) {
            Some(TunableValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// Delegator/delegate pairs; empty when not declared.
    pub fn delegate_pairs(&self, analytic: &str, key: &str) -> &[crate::DelegatePair] {
        match self.get(analytic, key) {
            Some(TunableValue::DelegatePairs(v)) => v,
            _ => &[],
        }
    }
}

/// `[analytics]` as written: analytic id → key → value, all with spans.
pub(crate) type RawTunables =
    BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<toml::Value>>>;

/// Checks `[analytics.*]` against `schema`; everything not written keeps its default.
pub(crate) fn validate(
    src: &Source<'_>,
    raw: &RawTunables,
    schema: &Schema,
) -> Result<Tunables, ContextError> {
    let mut tunables = schema.defaults();
    for (id, table) in raw {
        let Some(specs) = schema.tunables(id.get_ref()) else {
            let known: Vec<&str> = schema.iter().map(|(id, _)| id).collect();
            return Err(src.invalid(
                &format!("analytics.{}", id.get_ref()),
                id.span(),
                format!(
                    "unknown analytic `{}` (known: {})",
                    id.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        let analytic = id.get_ref().to_ascii_uppercase();
        for (key, value) in table {
            let path = format!("analytics.{}.{}", id.get_ref(), key.get_ref());
            let Some(spec) = specs.iter().find(|s| s.key() == key.get_ref()) else {
                let keys: Vec<&str> = specs.iter().map(TunableSpec::key).collect();
                return Err(src.invalid(
                    &path,
                    key.span(),
                    format!(
                        "unknown tunable `{}` for {analytic} (expected {})",
                        key.get_ref(),
                        if keys.is_empty() {
                            "none: it declares no tunables".to_string()
                        } else {
                            format!("one of {}", keys.join(", "))
                        }
                    ),
                ));
            };
            let parsed = parse_value(src, &path, spec, value.span())?;
            tunables
                .values
                .entry(analytic.clone())
                .or_default()
                .insert(spec.key().to_string(), parsed);
        }
    }
    Ok(tunables)
}

/// A TOML value as text (for defaults, which are checked like a written value).
fn default_text(value: &toml::Value) -> String {
    format!("v = {value}")
}

/// The span of `v`'s value in `v = …` text.
fn value_span(text: &str) -> Range<usize> {
    let start = text.find('=').map_or(0, |i| i + 1);
    let start = start + text[start..].len() - text[start..].trim_start().len();
    start..text.trim_end().len()
}

/// `v = <value>` parsed from the value's own text, so list elements keep their spans.
#[derive(Deserialize)]
struct One<T> {
    v: T,
}

/// Where the wrapped text's offsets lie in the source: `source = wrapped + base`.
#[derive(Clone, Copy)]
struct Base(isize);

impl Base {
    fn at(self, offset: usize) -> usize {
        usize::try_from(isize::try_from(offset).unwrap_or(0) + self.0).unwrap_or(0)
    }
}

fn shift(span: Range<usize>, base: Base) -> Range<usize> {
    base.at(span.start)..base.at(span.end)
}

fn reparse<T: serde::de::DeserializeOwned>(
    src: &Source<'_>,
    key: &str,
    spec: &TunableSpec,
    span: Range<usize>,
) -> Result<(T, Base), ContextError> {
    let text = src.text.get(span.clone()).unwrap_or("");
    let prefix = "v = ";
    let wrapped = format!("{prefix}{text}");
    let base =
        Base(isize::try_from(span.start).unwrap_or(0) - isize::try_from(prefix.len()).unwrap_or(0));
    match toml::from_str::<One<T>>(&wrapped) {
        Ok(one) => Ok((one.v, base)),
        Err(e) => {
            let at = e
                .span()
                .map_or(span.start, |s| base.at(s.start))
                .max(span.start);
            Err(src.invalid(
                key,
                at..at,
                format!("expected {} ({})", spec.kind.describe(), e.message().trim()),
            ))
        }
    }
}

fn parse_value(
    src: &Source<'_>,
    key: &str,
    spec: &TunableSpec,
    span: Range<usize>,
) -> Result<TunableValue, ContextError> {
    let value = match spec.kind {
        TunableType::Duration => {
            let (text, base): (Spanned<String>, Base) = reparse(src, key, spec, span)?;
            let at = shift(text.span(), base);
            match parse_duration(text.get_ref()) {
                Ok(d) if d.is_positive() => TunableValue::Duration(d),
                Ok(_) => return Err(src.invalid(key, at, "duration must be greater than zero")),
                Err(reason) => return Err(src.invalid(key, at, reason)),
            }
        }
        TunableType::Bool => {
            let (flag, _): (bool, Base) = reparse(src, key, spec, span)?;
            TunableValue::Bool(flag)
        }
        TunableType::Strings | TunableType::Globs | TunableType::TenantIds => {
            let (items, base): (Vec<Spanned<String>>, Base) =
                reparse(src, key, spec, span.clone())?;
            if spec.non_empty && items.is_empty() {
                return Err(src.invalid(key, span, "the list may not be empty"));
            }
            match spec.kind {
                TunableType::Globs => TunableValue::Globs(
                    items.iter().map(|g| Glob::new(g.get_ref())).collect(),
                ),
                TunableType::TenantIds => TunableValue::TenantIds(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, id)| {
                            let text = id.get_ref().trim();
                            if crate::validate::is_guid(text) {
                                Ok(text.to_ascii_lowercase())
                            } else {
                                Err(src.invalid(
                                    &format!("{key}[{i}]"),
                                    shift(id.span(), base),
                                    format!("`{text}` is not a tenant id (expected a GUID like 00000000-0000-0000-0000-000000000000)"),
                                ))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => TunableValue::Strings(items.into_iter().map(Spanned::into_inner).collect()),
            }
        }
        TunableType::DelegatePairs => {
            let (pairs, _): (Vec<RawPairing>, Base) = reparse(src, key, spec, span.clone())?;
            if spec.non_empty && pairs.is_empty() {
                return Err(src.invalid(key, span, "the list may not be empty"));
            }
            TunableValue::DelegatePairs(
                pairs
                    .into_iter()
                    .map(|p| crate::DelegatePair {
                        delegator: p.delegator,
                        delegate: p.delegate,
                    })
                    .collect(),
            )
        }
    };
    Ok(value)
}

/// One `{ delegator = …, delegate = … }` pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPairing {
    delegator: String,
    delegate: String,
}
