//! Correlation documents → typed, validated [`Correlation`]s (the "compile" step).
//!
//! Input is one JSON value per YAML document that has a top-level `correlation:` key
//! ([`CorrelationDoc`]). Rule references are resolved first against the other
//! correlations (by `id`, then `name`), then through the caller's [`RuleCatalog`].
//! Every problem becomes a [`CorrelationLoadError`] naming the file, line and
//! correlation; a correlation with an error is left out, and so is every correlation
//! that depends on it. Reference cycles are load errors.

use crate::chain::{ChainSpec, parse_chain};
use ipnet::IpNet;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

/// A detection rule as the per-event matcher numbers it (index into its rule list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleRef(pub usize);

/// Resolves the rule ids and names a correlation refers to.
pub trait RuleCatalog {
    /// The detection rule whose `id` or `name` is `id_or_name`.
    fn resolve(&self, id_or_name: &str) -> Option<RuleRef>;
    /// The rule's title, for messages.
    fn title(&self, rule: RuleRef) -> &str;
}

/// One YAML document with a top-level `correlation:` key, converted to JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationDoc {
    /// File the document came from.
    pub file: PathBuf,
    /// 1-based line where the document starts.
    pub line: usize,
    /// The whole document.
    pub doc: Value,
}

/// Named value and CIDR sets from the context file that chain requirements may use
/// (`context:NAME`, `context:NAME[capture]`; see `EXTENSION.md`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextSets {
    /// `context:NAME` in `in_cidrs`.
    pub cidrs: BTreeMap<String, Vec<IpNet>>,
    /// `context:NAME` in `in`.
    pub values: BTreeMap<String, BTreeSet<String>>,
    /// `context:NAME[capture]` in `in_cidrs`: CIDRs per captured key (e.g. per partner tenant).
    pub keyed_cidrs: BTreeMap<String, BTreeMap<String, Vec<IpNet>>>,
}

/// A correlation document that could not be loaded, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CorrelationLoadError {
    /// File of the document.
    pub file: PathBuf,
    /// 1-based line where the document starts.
    pub line: usize,
    /// The correlation's id, name or title, when known.
    pub correlation: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CorrelationLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(c) = &self.correlation {
            write!(f, "correlation {c}: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// The Sigma correlation types (specification 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    /// Number of events in the window.
    EventCount,
    /// Number of distinct values of `condition.field`.
    ValueCount,
    /// Number of distinct referenced rules seen in the window (default: all).
    Temporal,
    /// All referenced rules, in the listed order, within the window.
    TemporalOrdered,
    /// Sum of the numeric values of `condition.field`.
    ValueSum,
    /// Mean of the numeric values of `condition.field`.
    ValueAvg,
    /// The `condition.percentile`-th percentile of `condition.field`.
    ValuePercentile,
    /// The median of `condition.field`.
    ValueMedian,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "value_median" => CorrelationType::ValueMedian,
            _ => return None,
        })
    }

    fn needs_field(self) -> bool {
        !matches!(
            self,
            CorrelationType::EventCount
                | CorrelationType::Temporal
                | CorrelationType::TemporalOrdered
        )
    }
}

/// A correlation condition: every bound given must hold (`gt: 100, lte: 200` is a range).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Greater than.
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
    /// Equal.
    pub eq: Option<f64>,
    /// Not equal.
    pub neq: Option<f64>,
    /// The field `value_*` types aggregate.
    pub field: Option<String>,
    /// The percentile (0–100) `value_percentile` computes.
    pub percentile: Option<f64>,
}

impl Condition {
    /// Whether `v` satisfies every bound.
    pub fn holds(&self, v: f64) -> bool {
        self.gt.is_none_or(|b| v > b)
            && self.gte.is_none_or(|b| v >= b)
            && self.lt.is_none_or(|b| v < b)
            && self.lte.is_none_or(|b| v <= b)
            && self.eq.is_none_or(|b| v == b)
            && self.neq.is_none_or(|b| v != b)
    }

    /// Only lower bounds: once true for a growing window it stays true.
    pub fn is_lower_bound_only(&self) -> bool {
        self.lt.is_none() && self.lte.is_none() && self.eq.is_none() && self.neq.is_none()
    }

    fn has_bound(&self) -> bool {
        [self.gt, self.gte, self.lt, self.lte, self.eq, self.neq]
            .iter()
            .any(Option::is_some)
    }
}

/// What a correlation step refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A detection rule.
    Rule(RuleRef),
    /// Another correlation (index into [`CorrelationSet::correlations`]).
    Correlation(usize),
}

/// One compiled correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// `id`, else `name`, else `file:line` (used in result ids).
    pub id: String,
    /// The `name`, if any.
    pub name: Option<String>,
    /// The `title`.
    pub title: String,
    /// The correlation type.
    pub kind: CorrelationType,
    /// The referenced rules, in order (the steps).
    pub sources: Vec<Source>,
    /// `group-by` fields (or aliases).
    pub group_by: Vec<String>,
    /// alias → step → field name in that step's events.
    pub aliases: BTreeMap<String, BTreeMap<usize, String>>,
    /// `timespan`.
    pub timespan: SignedDuration,
    /// `condition`.
    pub condition: Condition,
    /// `generate`: the referenced rules also report on their own.
    pub generate: bool,
    /// `x-trustpath` chain extension.
    pub chain: Option<ChainSpec>,
    /// File of the document.
    pub file: PathBuf,
    /// Line of the document.
    pub line: usize,
}

impl Correlation {
    /// The field to read for group-by `name` in events of `step` (alias resolution).
    pub fn group_field<'a>(&'a self, name: &'a str, step: usize) -> &'a str {
        self.aliases
            .get(name)
            .and_then(|m| m.get(&step))
            .map_or(name, String::as_str)
    }

    /// Windows fire as soon as the condition holds (monotone metrics with lower bounds);
    /// otherwise they are evaluated when the window anchored at their first event closes.
    pub fn is_eager(&self) -> bool {
        matches!(
            self.kind,
            CorrelationType::EventCount
                | CorrelationType::ValueCount
                | CorrelationType::Temporal
                | CorrelationType::ValueSum
        ) && self.condition.is_lower_bound_only()
    }
}

/// A compiled, validated set of correlations in dependency order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrelationSet {
    /// The correlations; a correlation's inputs always have smaller indices.
    pub correlations: Vec<Correlation>,
    /// rule index → (correlation, step) that consume it.
    pub(crate) rule_consumers: Vec<Vec<(u32, u16)>>,
    /// correlation → (correlation, step) that consume its results.
    pub(crate) corr_consumers: Vec<Vec<(u32, u16)>>,
    /// correlation → whether its results are reported (outermost, or referenced with `generate`).
    pub(crate) reported: Vec<bool>,
    standalone_suppressed: BTreeSet<RuleRef>,
}

/// A parsed document before references are resolved.
struct Draft {
    corr: Correlation,
    refs: Vec<String>,
    aliases: BTreeMap<String, BTreeMap<String, String>>,
    doc: Value,
}

impl CorrelationSet {
    /// Parses, resolves and orders `docs`; returns the usable set and every load error.
    pub fn compile(
        docs: Vec<CorrelationDoc>,
        catalog: &dyn RuleCatalog,
        ctx: &ContextSets,
    ) -> (Self, Vec<CorrelationLoadError>) {
        let mut errors = Vec::new();
        let drafts: Vec<Draft> = docs
            .into_iter()
            .filter_map(|d| match parse_doc(&d) {
                Ok(draft) => Some(draft),
                Err(reason) => {
                    errors.push(load_error(&d.file, d.line, label(&d.doc), reason));
                    None
                }
            })
            .collect();
        let resolved = resolve_all(drafts, catalog, ctx, &mut errors);
        (Self::from_resolved(resolved), errors)
    }

    fn from_resolved(correlations: Vec<Correlation>) -> Self {
        let max_rule = correlations
            .iter()
            .flat_map(|c| c.sources.iter())
            .filter_map(|s| match s {
                Source::Rule(r) => Some(r.0 + 1),
                Source::Correlation(_) => None,
            })
            .max()
            .unwrap_or(0);
        let mut set = CorrelationSet {
            rule_consumers: vec![Vec::new(); max_rule],
            corr_consumers: vec![Vec::new(); correlations.len()],
            reported: vec![true; correlations.len()],
            ..CorrelationSet::default()
        };
        let mut generated_rules = BTreeSet::new();
        let mut generated_corrs = BTreeSet::new();
        for (ci, c) in correlations.iter().enumerate() {
            for (step, s) in c.sources.iter().enumerate() {
                let consumer = (ci as u32, step as u16);
                match *s {
                    Source::Rule(r) => {
                        set.rule_consumers[r.0].push(consumer);
                        set.standalone_suppressed.insert(r);
                        if c.generate {
                            generated_rules.insert(r);
                        }
                    }
                    Source::Correlation(inner) => {
                        set.corr_consumers[inner].push(consumer);
                        set.reported[inner] = false;
                        if c.generate {
                            generated_corrs.insert(inner);
                        }
                    }
                }
            }
        }
        for inner in generated_corrs {
            set.reported[inner] = true;
        }
        for r in generated_rules {
            set.standalone_suppressed.remove(&r);
        }
        set.correlations = correlations;
        set
    }

    /// Whether any correlation consumes matches of `rule` (only those need to reach the engine).
    pub fn uses_rule(&self, rule: RuleRef) -> bool {
        self.rule_consumers
            .get(rule.0)
            .is_some_and(|c| !c.is_empty())
    }

    /// Whether matches of `rule` should also be reported on their own: true unless a
    /// correlation refers to it and none of the referring correlations sets `generate: true`.
    pub fn rule_reports_standalone(&self, rule: RuleRef) -> bool {
        !self.standalone_suppressed.contains(&rule)
    }

    /// Whether results of correlation `index` are reported (the outermost correlation of a
    /// chain, or an inner one referenced with `generate: true`).
    pub fn is_reported(&self, index: usize) -> bool {
        self.reported.get(index).copied().unwrap_or(false)
    }
}

fn load_error(
    file: &std::path::Path,
    line: usize,
    correlation: Option<String>,
    reason: impl Into<String>,
) -> CorrelationLoadError {
    CorrelationLoadError {
        file: file.to_path_buf(),
        line,
        correlation,
        reason: reason.into(),
    }
}

fn label(doc: &Value) -> Option<String> {
    ["id", "name", "title"]
        .iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
}

/// Parses a timespan: a positive integer and one of `s`, `m`, `h`, `d`, `w`.
pub fn parse_timespan(s: &str) -> Result<SignedDuration, String> {
    let s = s.trim();
    let unit = s.chars().last().ok_or("timespan is empty")?;
    let digits = &s[..s.len() - unit.len_utf8()];
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("timespan {s:?}: expected a number and one of s, m, h, d, w"))?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => {
            return Err(format!(
                "timespan {s:?}: unknown unit {unit:?} (s, m, h, d, w)"
            ));
        }
    };
    if n <= 0 {
        return Err(format!("timespan {s:?} must be positive"));
    }
    n.checked_mul(secs)
        .map(SignedDuration::from_secs)
        .ok_or_else(|| format!("timespan {s:?} is too large"))
}

fn parse_doc(d: &CorrelationDoc) -> Result<Draft, String> {
    let doc = d.doc.as_object().ok_or("document is not a mapping")?;
    let corr = doc
        .get("correlation")
        .and_then(Value::as_object)
        .ok_or("`correlation` is not a mapping")?;
    let kind_name = corr
        .get("type")
        .and_then(Value::as_str)
        .ok_or("correlation.type is missing")?;
    let kind = CorrelationType::parse(kind_name)
        .ok_or_else(|| format!("unknown correlation type {kind_name:?}"))?;
    let refs = string_list(corr.get("rules"), "correlation.rules")?;
    if refs.is_empty() {
        return Err("correlation.rules is empty".into());
    }
    let group_by = match corr.get("group-by") {
        None => Vec::new(),
        some => string_list(some, "correlation.group-by")?,
    };
    let timespan = parse_timespan(
        corr.get("timespan")
            .and_then(Value::as_str)
            .ok_or("correlation.timespan is missing")?,
    )?;
    let condition = parse_condition(corr.get("condition"), kind, refs.len())?;
    let aliases = parse_aliases(corr.get("aliases"))?;
    let generate = match doc.get("generate").or_else(|| corr.get("generate")) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("generate must be true or false, not {other}")),
    };
    let name = doc.get("name").and_then(Value::as_str).map(str::to_owned);
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| name.clone())
        .unwrap_or_else(|| format!("{}:{}", d.file.display(), d.line));
    let title = doc
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or(&id)
        .to_owned();
    Ok(Draft {
        corr: Correlation {
            id,
            name,
            title,
            kind,
            sources: Vec::new(),
            group_by,
            aliases: BTreeMap::new(),
            timespan,
            condition,
            generate,
            chain: None,
            file: d.file.clone(),
            line: d.line,
        },
        refs,
        aliases,
        doc: d.doc.clone(),
    })
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{what}: {i} is not a string"))
            })
            .collect(),
        Some(other) => Err(format!("{what} must be a list of strings, not {other}")),
        None => Err(format!("{what} is missing")),
    }
}

fn number(v: &Value, key: &str) -> Result<f64, String> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| format!("condition.{key} must be a number, not {v}"))
}

fn parse_condition(
    v: Option<&Value>,
    kind: CorrelationType,
    steps: usize,
) -> Result<Condition, String> {
    let mut c = Condition::default();
    let empty = Map::new();
    let map = match v {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => return Err(format!("condition must be a mapping, not {other}")),
    };
    for (k, v) in map {
        match k.as_str() {
            "gt" => c.gt = Some(number(v, k)?),
            "gte" => c.gte = Some(number(v, k)?),
            "lt" => c.lt = Some(number(v, k)?),
            "lte" => c.lte = Some(number(v, k)?),
            "eq" => c.eq = Some(number(v, k)?),
            "neq" => c.neq = Some(number(v, k)?),
            "percentile" => c.percentile = Some(number(v, k)?),
            "field" => {
                c.field = Some(
                    v.as_str()
                        .ok_or("condition.field must be a string")?
                        .to_owned(),
                )
            }
            other => return Err(format!("unknown condition key {other:?}")),
        }
    }
    check_condition(&mut c, kind, steps)?;
    Ok(c)
}

fn check_condition(c: &mut Condition, kind: CorrelationType, steps: usize) -> Result<(), String> {
    if kind.needs_field() && c.field.is_none() {
        return Err(format!("{kind:?} needs condition.field"));
    }
    if kind == CorrelationType::ValuePercentile {
        match c.percentile {
            Some(p) if (0.0..=100.0).contains(&p) => {}
            Some(p) => return Err(format!("condition.percentile {p} is not within 0..=100")),
            None => return Err("value_percentile needs condition.percentile".into()),
        }
    }
    let all_steps = steps as f64;
    match kind {
        CorrelationType::Temporal if !c.has_bound() => c.gte = Some(all_steps),
        CorrelationType::TemporalOrdered => {
            let full = c.clone();
            let plain = Condition::default();
            let is_full = full == plain
                || (Condition {
                    gte: Some(all_steps),
                    ..plain.clone()
                } == full)
                || (Condition {
                    eq: Some(all_steps),
                    ..plain
                } == full);
            if !is_full {
                return Err(
                    "temporal_ordered matches the whole ordered chain; use x-trustpath.partial \
                     for fewer steps"
                        .into(),
                );
            }
            *c = Condition {
                gte: Some(all_steps),
                ..Condition::default()
            };
        }
        _ if !c.has_bound() => return Err("condition needs gt, gte, lt, lte, eq or neq".into()),
        _ => {}
    }
    Ok(())
}

fn parse_aliases(v: Option<&Value>) -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let map = v
        .as_object()
        .ok_or("correlation.aliases must be a mapping")?;
    let mut out = BTreeMap::new();
    for (alias, per_rule) in map {
        let per_rule = per_rule
            .as_object()
            .ok_or_else(|| format!("alias {alias:?} must map rule names to fields"))?;
        let mut fields = BTreeMap::new();
        for (rule, field) in per_rule {
            let field = field
                .as_str()
                .ok_or_else(|| format!("alias {alias:?}: field for {rule:?} is not a string"))?;
            fields.insert(rule.clone(), field.to_owned());
        }
        out.insert(alias.clone(), fields);
    }
    Ok(out)
}

/// Resolves references, drops broken and cyclic correlations, and orders the rest so
/// that inputs come first.
fn resolve_all(
    drafts: Vec<Draft>,
    catalog: &dyn RuleCatalog,
    ctx: &ContextSets,
    errors: &mut Vec<CorrelationLoadError>,
) -> Vec<Correlation> {
    let mut by_ref: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        by_ref.entry(d.corr.id.as_str()).or_insert(i);
        if let Some(n) = &d.corr.name {
            by_ref.entry(n.as_str()).or_insert(i);
        }
    }
    // Per draft: Ok(sources with draft indices for correlations) or an error.
    let mut sources: Vec<Option<Vec<Source>>> = Vec::with_capacity(drafts.len());
    for d in &drafts {
        let resolved: Result<Vec<Source>, String> =
            d.refs
                .iter()
                .map(|r| match by_ref.get(r.as_str()) {
                    Some(&i) => Ok(Source::Correlation(i)),
                    None => catalog.resolve(r).map(Source::Rule).ok_or_else(|| {
                        format!("rule {r:?} is neither a known rule nor a correlation")
                    }),
                })
                .collect();
        match resolved {
            Ok(s) => sources.push(Some(s)),
            Err(reason) => {
                errors.push(draft_error(d, reason));
                sources.push(None);
            }
        }
    }
    let order = topo_order(&drafts, &mut sources, errors);
    let mut new_index = vec![usize::MAX; drafts.len()];
    let mut out = Vec::with_capacity(order.len());
    let mut drafts: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    for i in order {
        let (Some(draft), Some(srcs)) = (drafts[i].take(), sources[i].take()) else {
            continue;
        };
        let srcs: Vec<Source> = srcs
            .into_iter()
            .map(|s| match s {
                Source::Correlation(d) => Source::Correlation(new_index[d]),
                rule => rule,
            })
            .collect();
        match finish_draft(draft, srcs, catalog, ctx) {
            Ok(c) => {
                new_index[i] = out.len();
                out.push(c);
            }
            Err(e) => {
                errors.push(e);
                // Dependents were ordered after this one; they must go too.
                drop_dependents(i, &mut sources, &drafts, errors);
            }
        }
    }
    out
}

fn draft_error(d: &Draft, reason: impl Into<String>) -> CorrelationLoadError {
    load_error(&d.corr.file, d.corr.line, Some(d.corr.id.clone()), reason)
}

fn drop_dependents(
    failed: usize,
    sources: &mut [Option<Vec<Source>>],
    drafts: &[Option<Draft>],
    errors: &mut Vec<CorrelationLoadError>,
) {
    let mut stack = vec![failed];
    while let Some(f) = stack.pop() {
        for i in 0..sources.len() {
            let depends = sources[i]
                .as_ref()
                .is_some_and(|s| s.contains(&Source::Correlation(f)));
            if depends {
                sources[i] = None;
                if let Some(d) = &drafts[i] {
                    errors.push(draft_error(
                        d,
                        "depends on a correlation that failed to load",
                    ));
                }
                stack.push(i);
            }
        }
    }
}

/// Depth-first ordering; correlations in or depending on a cycle, or on a broken
/// correlation, get an error and a `None` source list.
fn topo_order(
    drafts: &[Draft],
    sources: &mut [Option<Vec<Source>>],
    errors: &mut Vec<CorrelationLoadError>,
) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
        Bad,
    }
    fn visit(
        i: usize,
        drafts: &[Draft],
        sources: &mut [Option<Vec<Source>>],
        marks: &mut [Mark],
        order: &mut Vec<usize>,
        errors: &mut Vec<CorrelationLoadError>,
    ) -> bool {
        match marks[i] {
            Mark::Done => return true,
            Mark::Bad => return false,
            Mark::Active => {
                errors.push(draft_error(&drafts[i], "correlation reference cycle"));
                marks[i] = Mark::Bad;
                return false;
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        let deps: Vec<usize> = match &sources[i] {
            None => {
                marks[i] = Mark::Bad;
                return false;
            }
            Some(s) => s
                .iter()
                .filter_map(|s| match s {
                    Source::Correlation(d) => Some(*d),
                    Source::Rule(_) => None,
                })
                .collect(),
        };
        let mut ok = true;
        for d in deps {
            ok &= visit(d, drafts, sources, marks, order, errors);
        }
        if !ok || marks[i] == Mark::Bad {
            if marks[i] != Mark::Bad {
                errors.push(draft_error(
                    &drafts[i],
                    "depends on a correlation that failed to load (cycle or error)",
                ));
            }
            marks[i] = Mark::Bad;
            sources[i] = None;
            return false;
        }
        marks[i] = Mark::Done;
        order.push(i);
        true
    }
    let mut marks = vec![Mark::New; drafts.len()];
    let mut order = Vec::new();
    for i in 0..drafts.len() {
        visit(i, drafts, sources, &mut marks, &mut order, errors);
    }
    order
}

fn finish_draft(
    draft: Draft,
    sources: Vec<Source>,
    catalog: &dyn RuleCatalog,
    ctx: &ContextSets,
) -> Result<Correlation, CorrelationLoadError> {
    let Draft {
        mut corr,
        refs,
        aliases,
        doc,
    } = draft;
    let step_of = |name: &str| -> Option<usize> {
        refs.iter().position(|r| r == name).or_else(|| {
            let rule = catalog.resolve(name)?;
            sources.iter().position(|s| *s == Source::Rule(rule))
        })
    };
    for (alias, per_rule) in aliases {
        let mut steps = BTreeMap::new();
        for (rule, field) in per_rule {
            let step = step_of(&rule).ok_or_else(|| {
                draft_error_parts(&corr, format!("alias {alias:?} names rule {rule:?}, which the correlation does not reference"))
            })?;
            steps.insert(step, field);
        }
        corr.aliases.insert(alias, steps);
    }
    if let Some(ext) = doc.get("x-trustpath") {
        if corr.kind != CorrelationType::TemporalOrdered {
            return Err(draft_error_parts(
                &corr,
                "x-trustpath chains need type temporal_ordered",
            ));
        }
        let chain = parse_chain(ext, &step_of, refs.len(), ctx)
            .map_err(|reason| draft_error_parts(&corr, format!("x-trustpath: {reason}")))?;
        corr.chain = Some(chain);
    }
    corr.sources = sources;
    Ok(corr)
}

fn draft_error_parts(c: &Correlation, reason: impl Into<String>) -> CorrelationLoadError {
    load_error(&c.file, c.line, Some(c.id.clone()), reason)
}
