//! The `x-trustpath` chain extension: captures from earlier steps and requirements on
//! later ones (value sets and CIDR sets). The YAML shape is documented in `EXTENSION.md`.

use crate::spec::ContextSets;
use ipnet::IpNet;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use trustpath_event::Event;

/// Captured values by capture name.
pub type Captures = BTreeMap<String, BTreeSet<String>>;

/// A compiled `x-trustpath` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    /// Per step: capture name → field read from the step's events.
    pub captures: Vec<BTreeMap<String, String>>,
    /// Per step: what the step's events must satisfy against the chain's captures.
    pub require: Vec<Option<Require>>,
    /// Capture names that split a group into separate chains (e.g. one per partner).
    pub key: Vec<String>,
    /// `partial.min_steps` when partial chains are reported.
    pub partial_min_steps: Option<usize>,
}

/// A requirement on a step's event.
#[derive(Debug, Clone, PartialEq)]
pub enum Require {
    /// Any of the requirements holds.
    Any(Vec<Require>),
    /// All of the requirements hold.
    All(Vec<Require>),
    /// Some value of `field` is in one of the value sets or CIDR sets.
    Test {
        /// Field read from the event.
        field: String,
        /// Value sets (`in:`).
        values: Vec<ValueSet>,
        /// CIDR sets (`in_cidrs:`).
        cidrs: Vec<CidrSet>,
    },
}

/// A value set a field may be tested against.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSet {
    /// Values captured under this name by earlier steps.
    Capture(String),
    /// A named set from the context file.
    Context(BTreeSet<String>),
}

/// A CIDR set an IP field may be tested against.
#[derive(Debug, Clone, PartialEq)]
pub enum CidrSet {
    /// Addresses (or CIDRs) captured under this name.
    Capture(String),
    /// A named CIDR list from the context file.
    Context(Vec<IpNet>),
    /// CIDRs looked up by each value captured under `capture` (e.g. per partner tenant).
    Keyed {
        /// Captured key → CIDRs.
        table: BTreeMap<String, Vec<IpNet>>,
        /// The capture whose values are the keys.
        capture: String,
    },
}

/// Parses the `x-trustpath` value. `step_of` maps a rule reference to its step.
pub(crate) fn parse_chain(
    ext: &Value,
    step_of: &dyn Fn(&str) -> Option<usize>,
    steps: usize,
    ctx: &ContextSets,
) -> Result<ChainSpec, String> {
    let ext = ext.as_object().ok_or("must be a mapping")?;
    let mut spec = ChainSpec {
        captures: vec![BTreeMap::new(); steps],
        require: vec![None; steps],
        key: Vec::new(),
        partial_min_steps: None,
    };
    let step = |name: &str| {
        step_of(name).ok_or_else(|| format!("{name:?} is not a step of this correlation"))
    };
    if let Some(caps) = ext.get("captures") {
        for (rule, fields) in caps.as_object().ok_or("captures must be a mapping")? {
            let s = step(rule)?;
            for (name, field) in fields
                .as_object()
                .ok_or("captures.<rule> must be a mapping")?
            {
                let field = field
                    .as_str()
                    .ok_or_else(|| format!("capture {name:?}: field must be a string"))?;
                spec.captures[s].insert(name.clone(), field.to_owned());
            }
        }
    }
    let known: BTreeSet<&String> = spec.captures.iter().flat_map(|m| m.keys()).collect();
    if let Some(reqs) = ext.get("require") {
        for (rule, req) in reqs.as_object().ok_or("require must be a mapping")? {
            let s = step(rule)?;
            spec.require[s] = Some(parse_require(req, ctx, &known)?);
        }
    }
    if let Some(key) = ext.get("key") {
        for k in key
            .as_array()
            .ok_or("key must be a list of capture names")?
        {
            let k = k.as_str().ok_or("key entries must be strings")?;
            if !known.contains(&k.to_owned()) {
                return Err(format!("key {k:?} is not a capture name"));
            }
            spec.key.push(k.to_owned());
        }
    }
    if let Some(p) = ext.get("partial") {
        let report = p.get("report").and_then(Value::as_bool).unwrap_or(true);
        let min = p.get("min_steps").and_then(Value::as_u64).unwrap_or(2) as usize;
        if min < 1 || min >= steps {
            return Err(format!(
                "partial.min_steps {min} must be between 1 and {}",
                steps - 1
            ));
        }
        spec.partial_min_steps = report.then_some(min);
    }
    Ok(spec)
}

fn parse_require(
    v: &Value,
    ctx: &ContextSets,
    known: &BTreeSet<&String>,
) -> Result<Require, String> {
    let list = |items: &Value| -> Result<Vec<Require>, String> {
        items
            .as_array()
            .ok_or("any/all must be a list")?
            .iter()
            .map(|i| parse_require(i, ctx, known))
            .collect()
    };
    if let Some(items) = v.get("any") {
        return Ok(Require::Any(list(items)?));
    }
    if let Some(items) = v.get("all") {
        return Ok(Require::All(list(items)?));
    }
    let field = v
        .get("field")
        .and_then(Value::as_str)
        .ok_or("a requirement needs `field` (or `any`/`all`)")?
        .to_owned();
    let names = |key: &str| -> Result<Vec<String>, String> {
        match v.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{key}: entries must be strings"))
                })
                .collect(),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(_) => Err(format!("{key} must be a list of names")),
        }
    };
    let values = names("in")?
        .into_iter()
        .map(|n| value_set(&n, ctx, known))
        .collect::<Result<Vec<_>, _>>()?;
    let cidrs = names("in_cidrs")?
        .into_iter()
        .map(|n| cidr_set(&n, ctx, known))
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() && cidrs.is_empty() {
        return Err(format!("requirement on {field:?} needs `in` or `in_cidrs`"));
    }
    Ok(Require::Test {
        field,
        values,
        cidrs,
    })
}

fn value_set(name: &str, ctx: &ContextSets, known: &BTreeSet<&String>) -> Result<ValueSet, String> {
    if let Some(ctx_name) = name.strip_prefix("context:") {
        return ctx
            .values
            .get(ctx_name)
            .cloned()
            .map(ValueSet::Context)
            .ok_or_else(|| format!("context value set {ctx_name:?} is not defined"));
    }
    if known.contains(&name.to_owned()) {
        Ok(ValueSet::Capture(name.to_owned()))
    } else {
        Err(format!(
            "{name:?} is neither a capture name nor context:NAME"
        ))
    }
}

fn cidr_set(name: &str, ctx: &ContextSets, known: &BTreeSet<&String>) -> Result<CidrSet, String> {
    let Some(ctx_name) = name.strip_prefix("context:") else {
        return if known.contains(&name.to_owned()) {
            Ok(CidrSet::Capture(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is neither a capture name nor context:NAME"
            ))
        };
    };
    if let Some((table, rest)) = ctx_name.split_once('[') {
        let capture = rest
            .strip_suffix(']')
            .ok_or_else(|| format!("{name:?}: expected context:NAME[capture]"))?;
        if !known.contains(&capture.to_owned()) {
            return Err(format!("{name:?}: {capture:?} is not a capture name"));
        }
        let table = ctx
            .keyed_cidrs
            .get(table)
            .cloned()
            .ok_or_else(|| format!("keyed context CIDR set {table:?} is not defined"))?;
        return Ok(CidrSet::Keyed {
            table,
            capture: capture.to_owned(),
        });
    }
    ctx.cidrs
        .get(ctx_name)
        .cloned()
        .map(CidrSet::Context)
        .ok_or_else(|| format!("context CIDR set {ctx_name:?} is not defined"))
}

/// A field value as a plain string (numbers and booleans in JSON form; null and
/// containers are not values).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Adds the values `event` yields for the captures of one step.
pub(crate) fn capture_into(fields: &BTreeMap<String, String>, event: &Event, into: &mut Captures) {
    for (name, field) in fields {
        event.for_each_value(field, &mut |v| {
            if let Some(s) = scalar(v) {
                into.entry(name.clone()).or_default().insert(s);
            }
        });
    }
}

impl Require {
    /// Whether `event` satisfies the requirement given the chain's captures.
    pub fn holds(&self, event: &Event, caps: &Captures) -> bool {
        match self {
            Require::Any(rs) => rs.iter().any(|r| r.holds(event, caps)),
            Require::All(rs) => rs.iter().all(|r| r.holds(event, caps)),
            Require::Test {
                field,
                values,
                cidrs,
            } => {
                let mut found = false;
                event.for_each_value(field, &mut |v| {
                    if !found && let Some(s) = scalar(v) {
                        found = values.iter().any(|set| set.contains(&s, caps))
                            || cidrs.iter().any(|set| set.contains(&s, caps));
                    }
                });
                found
            }
        }
    }
}

impl ValueSet {
    fn contains(&self, value: &str, caps: &Captures) -> bool {
        match self {
            ValueSet::Capture(name) => caps.get(name).is_some_and(|s| {
                s.contains(value) || s.iter().any(|c| c.eq_ignore_ascii_case(value))
            }),
            ValueSet::Context(set) => set.contains(value),
        }
    }
}

impl CidrSet {
    fn contains(&self, value: &str, caps: &Captures) -> bool {
        let Ok(ip) = value.parse::<IpAddr>() else {
            return false;
        };
        match self {
            CidrSet::Capture(name) => caps
                .get(name)
                .is_some_and(|s| s.iter().any(|c| net_contains(c, ip))),
            CidrSet::Context(nets) => nets.iter().any(|n| n.contains(&ip)),
            CidrSet::Keyed { table, capture } => caps.get(capture).is_some_and(|keys| {
                keys.iter()
                    .filter_map(|k| table.get(k))
                    .any(|nets| nets.iter().any(|n| n.contains(&ip)))
            }),
        }
    }
}

/// Whether a captured address or CIDR string covers `ip`.
fn net_contains(captured: &str, ip: IpAddr) -> bool {
    if let Ok(addr) = captured.parse::<IpAddr>() {
        return addr == ip;
    }
    captured.parse::<IpNet>().is_ok_and(|n| n.contains(&ip))
}
