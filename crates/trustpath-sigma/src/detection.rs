//! The `detection` section of a rule, compiled: search identifiers become [`Search`]es
//! (an OR of AND-groups of field tests), the `condition` becomes an [`Expr`].
//!
//! Field names are collected into a per-rule slot table ([`Detection::fields`]) so one
//! compiled detection serves every log-source target: a target only maps slots to the
//! field names of its log (Security 4688 reads `Image` from `NewProcessName`).

use crate::condition::{self, Expr};
use crate::error::RuleProblem;
use crate::value::{self, Modifiers, Pattern, Position, StrKind};
use aho_corasick::AhoCorasick;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Keys of the detection map that are not search identifiers.
const RESERVED: [&str; 2] = ["condition", "timeframe"];

/// A compiled `detection` section.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    /// Field names the searches read; a [`Subject::Field`] indexes this.
    pub fields: Vec<String>,
    /// Search identifiers, in document order.
    pub searches: Vec<Search>,
    /// The name of each search (same order as `searches`), for explanations.
    pub names: Vec<String>,
    /// The condition over `searches`.
    pub condition: Expr,
    /// The searches the condition reads outside any `not`, sorted, each once (what an
    /// explanation reports).
    pub positive: Vec<usize>,
    /// Event ids the condition requires `EventID` to be one of, when it does.
    pub required_event_ids: Option<Vec<u64>>,
    /// Number of items over all searches.
    pub item_count: usize,
}

/// One search identifier: any alternative (a map) whose items all hold.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    /// OR of AND-groups.
    pub alternatives: Vec<Vec<Item>>,
}

/// One test: a subject and what must hold for it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Position of the item in the detection (0..[`Detection::item_count`]), for
    /// per-branch compiled data.
    pub index: usize,
    /// What is tested.
    pub subject: Subject,
    /// The test.
    pub test: Test,
}

/// What an item tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A field by slot in [`Detection::fields`].
    Field(usize),
    /// Every string value anywhere in the event (keyword search).
    Keywords,
}

/// The test of an item.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// Value patterns.
    Values(ValueTest),
    /// `|exists: true/false`.
    Exists(bool),
    /// `|fieldref`: the value equals (or contains / starts / ends with) another field's.
    FieldRef(FieldRefTest),
}

/// Patterns of one item. Without `all`, any pattern matching any value is enough; with
/// `all`, every group (one per value written in the rule) needs a match.
#[derive(Debug, Clone)]
pub(crate) struct ValueTest {
    /// One group per written value (transformations can give several alternatives).
    pub groups: Vec<Vec<Pattern>>,
    /// `all` modifier.
    pub all: bool,
    /// Without `all`: the plain case-insensitive substring needles, in one automaton
    /// built on first use (see [`ValueTest::needles_match_lower`]).
    needles: Needles,
    /// Without `all`: the patterns not in `needles`.
    pub rest: Vec<Pattern>,
    /// Whether a `null` pattern is among the values (matches a missing field).
    pub has_null: bool,
}

/// A `fieldref` test.
#[derive(Debug, Clone)]
pub(crate) struct FieldRefTest {
    /// Slots of the referenced fields (one per written value).
    pub others: Vec<usize>,
    /// `all` modifier.
    pub all: bool,
    /// `contains` / `startswith` / `endswith`, or equality.
    pub position: Option<Position>,
    /// `cased`.
    pub cased: bool,
}

/// Compiles a `detection` map.
pub(crate) fn compile(
    detection: &Map<String, Value>,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Detection, RuleProblem> {
    let mut builder = Builder {
        fields: Vec::new(),
        items: 0,
        placeholders,
    };
    let mut names = Vec::new();
    let mut searches = Vec::new();
    for (name, body) in detection {
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let search = builder.search(body).map_err(|p| RuleProblem {
            reason: format!("search '{name}': {}", p.reason),
            ..p
        })?;
        names.push(name.clone());
        searches.push(search);
    }
    if searches.is_empty() {
        return Err(RuleProblem::schema("detection has no search identifiers"));
    }
    let condition = compile_condition(detection.get("condition"), &names)?;
    let required_event_ids = required_ids(&condition, &searches, &builder.fields);
    let positive = condition.positive_searches();
    Ok(Detection {
        fields: builder.fields,
        searches,
        names,
        condition,
        positive,
        required_event_ids,
        item_count: builder.items,
    })
}

fn compile_condition(condition: Option<&Value>, names: &[String]) -> Result<Expr, RuleProblem> {
    match condition {
        Some(Value::String(text)) => condition::parse(text, names),
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut alternatives = Vec::with_capacity(list.len());
            for item in list {
                let Value::String(text) = item else {
                    return Err(RuleProblem::schema("condition list items must be strings"));
                };
                alternatives.push(condition::parse(text, names)?);
            }
            Ok(if alternatives.len() == 1 {
                alternatives.remove(0)
            } else {
                Expr::Or(alternatives)
            })
        }
        Some(_) => Err(RuleProblem::schema(
            "condition must be a string or a list of strings",
        )),
        None => Err(RuleProblem::schema("detection has no condition")),
    }
}

struct Builder<'p> {
    fields: Vec<String>,
    items: usize,
    placeholders: &'p BTreeMap<String, Vec<String>>,
}

impl Builder<'_> {
    fn next_index(&mut self) -> usize {
        self.items += 1;
        self.items - 1
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.fields.iter().position(|f| f == name) {
            return i;
        }
        self.fields.push(name.to_owned());
        self.fields.len() - 1
    }

    fn search(&mut self, body: &Value) -> Result<Search, RuleProblem> {
        match body {
            Value::Object(map) => Ok(Search {
                alternatives: vec![self.map(map)?],
            }),
            Value::Array(list) if list.iter().all(Value::is_object) && !list.is_empty() => {
                let mut alternatives = Vec::with_capacity(list.len());
                for item in list {
                    if let Value::Object(map) = item {
                        alternatives.push(self.map(map)?);
                    }
                }
                Ok(Search { alternatives })
            }
            Value::Array(list) if list.iter().any(Value::is_object) => Err(RuleProblem::schema(
                "a list mixes maps and plain values (keywords)",
            )),
            Value::Array(list) if list.is_empty() => Err(RuleProblem::schema("empty list")),
            Value::Array(_) | Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                let item = self.keywords(&[], body)?;
                Ok(Search {
                    alternatives: vec![vec![item]],
                })
            }
            Value::Null => Err(RuleProblem::schema("empty search (null)")),
        }
    }

    fn map(&mut self, map: &Map<String, Value>) -> Result<Vec<Item>, RuleProblem> {
        let mut items = Vec::with_capacity(map.len());
        for (key, value) in map {
            let mut parts = key.split('|');
            let field = parts.next().unwrap_or_default();
            let modifiers: Vec<&str> = parts.collect();
            let item = if field.is_empty() {
                self.keywords(&modifiers, value)
            } else {
                self.field_item(field, &modifiers, value)
            }
            .map_err(|p| RuleProblem {
                reason: format!("'{key}': {}", p.reason),
                ..p
            })?;
            items.push(item);
        }
        if items.is_empty() {
            return Err(RuleProblem::schema("empty map"));
        }
        Ok(items)
    }

    fn keywords(&mut self, modifiers: &[&str], value: &Value) -> Result<Item, RuleProblem> {
        let mut mods = Modifiers::parse(modifiers)?;
        if mods.exists || mods.fieldref {
            return Err(RuleProblem::schema("exists/fieldref need a field name"));
        }
        mods.default_contains();
        Ok(Item {
            index: self.next_index(),
            subject: Subject::Keywords,
            test: Test::Values(self.values(value, &mods)?),
        })
    }

    fn field_item(
        &mut self,
        field: &str,
        modifiers: &[&str],
        value: &Value,
    ) -> Result<Item, RuleProblem> {
        let mods = Modifiers::parse(modifiers)?;
        let subject = Subject::Field(self.slot(field));
        let test = if mods.exists {
            match value {
                Value::Bool(b) => Test::Exists(*b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Test::Exists(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Test::Exists(false),
                _ => return Err(RuleProblem::schema("|exists needs true or false")),
            }
        } else if mods.fieldref {
            let mut others = Vec::new();
            for name in as_list(value) {
                let Value::String(name) = name else {
                    return Err(RuleProblem::schema("|fieldref values must be field names"));
                };
                others.push(self.slot(name));
            }
            Test::FieldRef(FieldRefTest {
                others,
                all: mods.all,
                position: mods.position(),
                cased: mods.cased(),
            })
        } else {
            Test::Values(self.values(value, &mods)?)
        };
        Ok(Item {
            index: self.next_index(),
            subject,
            test,
        })
    }

    fn values(&self, value: &Value, mods: &Modifiers) -> Result<ValueTest, RuleProblem> {
        let list = as_list(value);
        if list.is_empty() {
            return Err(RuleProblem::schema("empty value list"));
        }
        let mut groups = Vec::with_capacity(list.len());
        for v in list {
            groups.push(value::compile_value(v, mods, self.placeholders)?);
        }
        Ok(ValueTest::new(groups, mods.all))
    }
}

/// The grouped needles of a [`ValueTest`] and their automaton, built when first needed.
///
/// Most value tests never need it: the matcher replaces literal tests by bits of its
/// shared per-field tables, and only tests it cannot share scan their own needles.
/// Building thousands of these eagerly was about a tenth of the CPU time of loading
/// SigmaHQ's Windows rules.
#[derive(Debug, Clone)]
struct Needles {
    needles: Vec<Vec<u8>>,
    /// No needle holds [`JOIN`].
    joinable: bool,
    search: std::sync::OnceLock<NeedleSearch>,
}

/// The byte between values searched for at once ([`ValueTest::needles_joinable`]).
pub(crate) const JOIN: u8 = 0;

/// How a value list's grouped needles are searched for.
#[derive(Debug, Clone)]
enum NeedleSearch {
    /// SIMD (Teddy) over the haystack's ASCII lower case (the needles are lower-cased
    /// when compiled, see `StrPattern::contains_needle`): a keyword
    /// rule such as SigmaHQ's Mimikatz keywords tests every value of every Windows event,
    /// and its ASCII-case-insensitive DFA was 3.4 % of a hunt.
    Packed(aho_corasick::packed::Searcher),
    /// One ASCII-case-insensitive DFA (where Teddy is not available).
    Automaton(AhoCorasick),
    /// Each needle alone (should no automaton build).
    Each,
}

impl ValueTest {
    /// Whether the grouped needles' searcher is built (by an earlier
    /// [`ValueTest::needles_match_lower`]): for a caller that wants it only when it costs
    /// nothing more. Building one takes microseconds to milliseconds; an explanation
    /// that built one for every value list of every rule it explains spent 15 % of a
    /// hunt of the hayabusa EVTX samples doing so.
    pub fn needles_built(&self) -> bool {
        self.needles.search.get().is_some()
    }

    /// Without `all`: whether any of the grouped case-insensitive substring needles is
    /// in `lower`, a value's lower case (the needles are lower-cased). The searcher
    /// ([`NeedleSearch`]) is built on first use, once per value list.
    pub fn needles_match_lower(&self, lower: &[u8]) -> bool {
        let n = &self.needles;
        if n.needles.is_empty() {
            return false;
        }
        let search = n.search.get_or_init(|| {
            if let Some(packed) = aho_corasick::packed::Config::new()
                .builder()
                .extend(&n.needles)
                .build()
            {
                return NeedleSearch::Packed(packed);
            }
            AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .build(&n.needles)
                .map_or(NeedleSearch::Each, NeedleSearch::Automaton)
        });
        match search {
            NeedleSearch::Packed(packed) => packed.find(lower).is_some(),
            NeedleSearch::Automaton(ac) => ac.is_match(lower),
            NeedleSearch::Each => n
                .needles
                .iter()
                .any(|needle| memchr::memmem::find(lower, needle).is_some()),
        }
    }

    /// Whether the grouped needles may be searched for in several values at once, the
    /// values joined by [`JOIN`]: there are needles, and none holds that byte (so no
    /// needle can be found across two values).
    pub fn needles_joinable(&self) -> bool {
        !self.needles.needles.is_empty() && self.needles.joinable
    }

    /// The length in bytes of the shortest grouped needle (0 without needles).
    pub fn shortest_needle(&self) -> usize {
        self.needles.needles.iter().map(Vec::len).min().unwrap_or(0)
    }

    fn new(groups: Vec<Vec<Pattern>>, all: bool) -> ValueTest {
        let has_null = groups.iter().flatten().any(|p| matches!(p, Pattern::Null));
        let mut needles = Vec::new();
        let mut rest = Vec::new();
        if !all {
            for p in groups.iter().flatten() {
                match p {
                    Pattern::Str(s) => match s.contains_needle() {
                        Some(n) => needles.push(n.to_vec()),
                        None => rest.push(p.clone()),
                    },
                    other => rest.push(other.clone()),
                }
            }
        }
        // Grouping pays off from two needles; one needle keeps its memmem finder.
        let grouped = needles.len() >= 2 && !all;
        if !grouped && !all {
            rest = groups.iter().flatten().cloned().collect();
        }
        ValueTest {
            groups,
            all,
            needles: Needles {
                joinable: needles.iter().all(|n| !n.contains(&JOIN)),
                needles: if grouped { needles } else { Vec::new() },
                search: std::sync::OnceLock::new(),
            },
            rest,
            has_null,
        }
    }

    /// The exact numeric values this test accepts, if it is a plain equality on numbers.
    fn exact_numbers(&self) -> Option<Vec<u64>> {
        if self.all && self.groups.len() > 1 {
            return None;
        }
        let mut out = Vec::new();
        for p in self.groups.iter().flatten() {
            match p {
                Pattern::Str(s) => match &s.kind {
                    StrKind::Exact(text) => out.push(text.parse::<u64>().ok()?),
                    _ => return None,
                },
                _ => return None,
            }
        }
        Some(out)
    }
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// The `EventID` values the condition cannot match without (used to index rules).
fn required_ids(expr: &Expr, searches: &[Search], fields: &[String]) -> Option<Vec<u64>> {
    let mut ids = match expr {
        Expr::Search(i) => search_ids(searches.get(*i)?, fields),
        Expr::Not(_) => None,
        Expr::And(list) => list
            .iter()
            .filter_map(|e| required_ids(e, searches, fields))
            .min_by_key(Vec::len),
        Expr::Or(list) => union(list.iter().map(|e| required_ids(e, searches, fields))),
        Expr::AtLeast(_, list) => union(
            list.iter()
                .map(|i| searches.get(*i).and_then(|s| search_ids(s, fields))),
        ),
    }?;
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

fn union(parts: impl Iterator<Item = Option<Vec<u64>>>) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    for part in parts {
        out.extend(part?);
    }
    Some(out)
}

fn search_ids(search: &Search, fields: &[String]) -> Option<Vec<u64>> {
    union(search.alternatives.iter().map(|items| {
        items
            .iter()
            .find_map(|item| match (&item.subject, &item.test) {
                (Subject::Field(slot), Test::Values(v)) if fields.get(*slot)? == "EventID" => {
                    v.exact_numbers()
                }
                _ => None,
            })
    }))
}
