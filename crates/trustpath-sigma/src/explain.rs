//! Why a rule matched an event: the selections (search identifiers) that held and the
//! (field, value) pairs that made them hold, plus the values of the rule's `fields:`.
//!
//! This is the slow, readable re-evaluation of one rule against one event, made only
//! when a finding is built — never in the matching path ([`crate::Matcher`] stays the
//! only hot code). It reads the compiled detection (same patterns, same modifiers, same
//! log-source field renames), so what it reports is what the matcher tested.

use crate::condition::Expr;
use crate::detection::{FieldRefTest, Item, Search, Subject, Test, ValueTest};
use crate::rule::Rule;
use crate::value::{Pattern, Position};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use trustpath_event::Event;

/// Longest value text kept in an explanation (longer values end with `…`).
pub const MAX_VALUE_CHARS: usize = 1024;

/// Most (field, value) pairs kept per explanation.
pub const MAX_PAIRS: usize = 32;

/// One field value that made a selection hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedValue {
    /// The search identifier (`selection`, `selection_img` …).
    pub selection: String,
    /// The field as named in the event (after the log source's renames); for a keyword
    /// search, the path of the value that contained the keyword.
    pub field: String,
    /// The value as text (cut at [`MAX_VALUE_CHARS`]); `(absent)` for a test that held
    /// because the field is missing (`null`, `exists: false`).
    pub value: String,
}

/// The explanation of one rule against one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// Whether the rule's condition holds for the event.
    pub matched: bool,
    /// Selections that held and count towards the condition (not those under `not`),
    /// in document order.
    pub selections: Vec<String>,
    /// The values that made those selections hold (at most [`MAX_PAIRS`]).
    pub values: Vec<MatchedValue>,
}

impl Rule {
    /// Why this rule matches (or not) `event`: see [`Explanation`].
    ///
    /// A log source can map to several targets of the event's source kind (Security 4688
    /// reads `Image` from `NewProcessName`, Sysmon 1 from `Image`): the first target
    /// that can apply to the event (its `Channel` and `EventID`, as the matcher checks
    /// them) and under which the rule matches explains it.
    pub fn explain(&self, event: &Event) -> Explanation {
        self.explain_among(event, &self.renames_for(event))
    }

    /// [`Rule::explain`] over the renames of the targets that can apply.
    fn explain_among(
        &self,
        event: &Event,
        targets: &[Option<&BTreeMap<String, String>>],
    ) -> Explanation {
        let mut first = None;
        for &renames in targets {
            let why = self.explain_with(event, renames, false);
            if why.matched {
                return why;
            }
            first.get_or_insert(why);
        }
        first.unwrap_or_default()
    }

    /// [`Rule::explain`] for an event the matcher found this rule to match (a finding).
    /// When exactly one of the rule's targets can apply to the event (its source kind,
    /// and its `Channel` and `EventID` where the event has them), that target is the one
    /// the matcher matched under: the condition is not evaluated again, so searches
    /// under `not` (SigmaHQ's filters, often the larger part of a rule) are skipped. With
    /// several candidate targets it is [`Rule::explain`]. The matcher and `explain` are
    /// held to the same answers by the semantics tests.
    pub fn explain_match(&self, event: &Event) -> Explanation {
        let targets = self.renames_for(event);
        match targets[..] {
            [Some(renames)] => self.explain_with(event, Some(renames), true),
            _ => self.explain_among(event, &targets),
        }
    }

    /// The field renames of each target that can apply to the event (its source kind,
    /// [`Pins::may_apply`]); at least one entry: no renames.
    fn renames_for(&self, event: &Event) -> Vec<Option<&BTreeMap<String, String>>> {
        let pins = Pins::of(event);
        let mut out: Vec<Option<&BTreeMap<String, String>>> = self
            .targets
            .iter()
            .filter(|t| t.source == event.source && pins.may_apply(t))
            .map(|t| Some(&t.rename))
            .collect();
        if out.is_empty() {
            out.push(None);
        }
        out
    }

    /// The explanation under one target's `renames`; `matched` says the rule is known to
    /// match under it (only the searches that count towards the condition are tested).
    fn explain_with<'a>(
        &'a self,
        event: &'a Event,
        renames: Option<&'a BTreeMap<String, String>>,
        matched: bool,
    ) -> Explanation {
        let detection = &self.detection;
        let field_name = |slot: usize| -> &'a str {
            let name = detection.fields.get(slot).map_or("", String::as_str);
            renames
                .and_then(|r| r.get(name))
                .map_or(name, String::as_str)
        };
        let mut fields = FieldCache::new(event);
        let positive = &detection.positive;
        // Every search's pairs in one list: a search that holds has its range of it.
        let mut pairs: Vec<Pair<'a>> = Vec::new();
        let results: Vec<Option<std::ops::Range<usize>>> = detection
            .searches
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if matched && positive.binary_search(&i).is_err() {
                    return None;
                }
                search(s, &mut fields, &field_name, &mut pairs)
            })
            .collect();
        let holds = |i: usize| results.get(i).is_some_and(Option::is_some);
        let matched = matched || eval(&detection.condition, &holds);
        let mut out = Explanation {
            matched,
            ..Explanation::default()
        };
        for &i in positive {
            let (Some(Some(range)), Some(name)) = (results.get(i), detection.names.get(i)) else {
                continue;
            };
            out.selections.push(name.clone());
            for (field, value) in pairs.get(range.clone()).unwrap_or(&[]) {
                if out.values.len() >= MAX_PAIRS {
                    break;
                }
                let seen = out
                    .values
                    .iter()
                    .any(|p| p.value == *value && p.field == *field && p.selection == *name);
                if !seen {
                    out.values.push(MatchedValue {
                        selection: name.clone(),
                        field: field.to_string(),
                        value: value.to_string(),
                    });
                }
            }
        }
        out
    }

    /// The rule's `fields:` list (the fields its author says an analyst wants to see).
    pub fn output_fields(&self) -> Vec<String> {
        match self.raw.get("fields") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// The rule's `fields:` with the event's values (fields the event lacks are left
    /// out; several values are joined with `, `). Names are looked up as written and
    /// through the log source's renames.
    pub fn output_values(&self, event: &Event) -> Vec<(String, String)> {
        let names = self.output_fields();
        if names.is_empty() {
            return Vec::new();
        }
        let targets = self.renames_for(event);
        let mut out = Vec::new();
        for name in names {
            let (_, mut values) = field_values(event, &name);
            for renamed in targets.iter().flatten().filter_map(|r| r.get(&name)) {
                if !values.is_empty() {
                    break;
                }
                values = field_values(event, renamed).1;
            }
            let texts: Vec<&str> = values
                .iter()
                .filter(|v| !v.null)
                .map(|v| v.text.as_ref())
                .collect();
            if !texts.is_empty() {
                out.push((name, cut(&texts.join(", ")).into_owned()));
            }
        }
        out
    }
}

/// A (field, value) pair of an explanation, borrowed from the rule and the event where
/// it can be (the explanation copies only the pairs it keeps).
type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// A scalar value of a field, as the matcher sees it, borrowed from the event (a number's
/// text is made; the lower case only when a test needs it and it differs).
struct Val<'a> {
    text: Cow<'a, str>,
    lower: std::cell::OnceCell<Option<String>>,
    number: Option<f64>,
    null: bool,
}

impl<'a> Val<'a> {
    fn from_json(value: &'a Value) -> Option<Val<'a>> {
        let (text, number, null) = match value {
            Value::String(s) => (Cow::Borrowed(s.as_str()), None, false),
            Value::Number(n) => (Cow::Owned(n.to_string()), n.as_f64(), false),
            Value::Bool(b) => (
                Cow::Borrowed(if *b { "true" } else { "false" }),
                None,
                false,
            ),
            Value::Null => (Cow::Borrowed(""), None, true),
            Value::Array(_) | Value::Object(_) => return None,
        };
        Some(Val {
            text,
            lower: std::cell::OnceCell::new(),
            number,
            null,
        })
    }

    /// The lower-cased text (made once, only if it differs).
    fn lower(&self) -> &str {
        crate::value::cached_lower(&self.lower, &self.text)
    }

    fn matches(&self, pattern: &Pattern) -> bool {
        if self.null {
            return matches!(pattern, Pattern::Null);
        }
        let lower = match pattern {
            Pattern::Str(s) if !s.cased => self.lower(),
            _ => "",
        };
        pattern.is_match(&self.text, lower, self.number)
    }

    /// Whether the value matches one of the patterns of `test` (of any group, with
    /// `all`): when matching has built the list's needle searcher (lists without `all`),
    /// its grouped substring needles in one search of the lower case, then the other
    /// patterns, as the matcher tests a value list; else each pattern (an explanation
    /// does not build searchers).
    fn matches_any(&self, test: &ValueTest) -> bool {
        if test.all || !test.needles_built() {
            return test.groups.iter().flatten().any(|p| self.matches(p));
        }
        (!self.null && test.needles_match_lower(self.lower().as_bytes()))
            || test.rest.iter().any(|p| self.matches(p))
    }
}

/// The fields one explanation reads, each looked up (and its values lower-cased where
/// needed) once: a rule's searches often test the same field many times. The values of
/// every field are kept in one list.
struct FieldCache<'a> {
    event: &'a Event,
    /// Per field read: its name, whether it exists, and its values' range in `vals`.
    seen: Vec<(&'a str, bool, std::ops::Range<usize>)>,
    vals: Vec<Val<'a>>,
}

impl<'a> FieldCache<'a> {
    fn new(event: &'a Event) -> Self {
        FieldCache {
            event,
            seen: Vec::new(),
            vals: Vec::new(),
        }
    }

    /// The field's place in the cache, looking it up on first use.
    fn load(&mut self, name: &'a str) -> usize {
        if let Some(at) = self.seen.iter().position(|(n, ..)| *n == name) {
            return at;
        }
        let start = self.vals.len();
        let exists = read_field(self.event, name, &mut self.vals);
        self.seen.push((name, exists, start..self.vals.len()));
        self.seen.len() - 1
    }

    /// Whether the field at `at` (from [`FieldCache::load`]) exists, and its values.
    fn found(&self, at: usize) -> (bool, &[Val<'a>]) {
        match self.seen.get(at) {
            Some((_, exists, range)) => (*exists, self.vals.get(range.clone()).unwrap_or(&[])),
            None => (false, &[]),
        }
    }
}

/// The event's `Channel` (when a plain ASCII string) and `EventID` (when a plain number
/// or numeric string), read once per explanation.
struct Pins<'e> {
    channel: Option<&'e str>,
    event_id: Option<u64>,
}

impl<'e> Pins<'e> {
    fn of(event: &'e Event) -> Self {
        Pins {
            channel: match event.fields.get("Channel") {
                Some(Value::String(c)) if c.is_ascii() => Some(c.trim()),
                _ => None,
            },
            event_id: match event.fields.get("EventID") {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            },
        }
    }

    /// Whether `target` can apply: no `Channel` or `EventID` of the event rules it out.
    /// Loose on purpose (a value that is not a plain string or number rules nothing out):
    /// a target kept wrongly only sends [`Rule::explain_match`] to the full
    /// re-evaluation.
    fn may_apply(&self, target: &crate::logsource::Target) -> bool {
        let channel_fits = match self.channel {
            Some(channel) if !target.channel.is_empty() => target
                .channel
                .iter()
                .any(|c| c.trim().eq_ignore_ascii_case(channel)),
            _ => true,
        };
        let event_id_fits = match self.event_id {
            Some(id) if !target.event_id.is_empty() => target.event_id.contains(&id),
            _ => true,
        };
        channel_fits && event_id_fits
    }
}

/// Whether the field exists, and its scalar values.
fn field_values<'a>(event: &'a Event, name: &str) -> (bool, Vec<Val<'a>>) {
    let mut values = Vec::new();
    let exists = read_field(event, name, &mut values);
    (exists, values)
}

/// Appends the field's scalar values to `out`; whether the field exists.
fn read_field<'a>(event: &'a Event, name: &str, out: &mut Vec<Val<'a>>) -> bool {
    event.for_each_value(name, &mut |v| out.extend(Val::from_json(v)))
}

fn cut(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_VALUE_CHARS {
        return Cow::Borrowed(text); // no more characters than bytes
    }
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
        None => Cow::Borrowed(text),
    }
}

/// [`cut`] keeping a borrow from the event.
fn cut_val<'a>(text: &Cow<'a, str>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(t) => cut(t),
        Cow::Owned(t) => Cow::Owned(cut(t).into_owned()),
    }
}

const ABSENT: &str = "(absent)";

/// Appends to `out` the pairs of the first alternative of `search` whose items all
/// hold, and returns their range of `out`, if one does (`out` is left as it was if not).
fn search<'a>(
    search: &Search,
    fields: &mut FieldCache<'a>,
    field_name: &dyn Fn(usize) -> &'a str,
    out: &mut Vec<Pair<'a>>,
) -> Option<std::ops::Range<usize>> {
    let start = out.len();
    search.alternatives.iter().find_map(|items| {
        if items
            .iter()
            .all(|item| self::item(item, fields, field_name, out))
        {
            Some(start..out.len())
        } else {
            out.truncate(start);
            None
        }
    })
}

/// Appends to `out` the pairs that make `item` hold; whether it holds.
fn item<'a>(
    item: &Item,
    fields: &mut FieldCache<'a>,
    field_name: &dyn Fn(usize) -> &'a str,
    out: &mut Vec<Pair<'a>>,
) -> bool {
    match item.subject {
        Subject::Keywords => keywords(&item.test, fields.event, out),
        Subject::Field(slot) => {
            let name = field_name(slot);
            let at = fields.load(name);
            match &item.test {
                Test::Values(test) => {
                    let (exists, values) = fields.found(at);
                    value_hits(test, exists, values, name, out)
                }
                Test::Exists(want) => {
                    let (exists, values) = fields.found(at);
                    let holds = exists == *want;
                    if holds {
                        push_pairs(name, values.iter().filter(|v| !v.null).take(1), out);
                    }
                    holds
                }
                Test::FieldRef(test) => {
                    let others: Vec<usize> = test
                        .others
                        .iter()
                        .map(|s| fields.load(field_name(*s)))
                        .collect();
                    let values = fields.found(at).1;
                    let others: Vec<&[Val]> = others.iter().map(|o| fields.found(*o).1).collect();
                    let holds = fieldref(test, values, &others);
                    if holds {
                        push_pairs(name, values.iter().filter(|v| !v.null).take(1), out);
                    }
                    holds
                }
            }
        }
    }
}

/// Appends a pair of `name` for each of `hits`, or one `(absent)` pair when there are none.
fn push_pairs<'v, 'a: 'v>(
    name: &'a str,
    hits: impl Iterator<Item = &'v Val<'a>>,
    out: &mut Vec<Pair<'a>>,
) {
    let start = out.len();
    out.extend(hits.map(|v| pair(name, v)));
    if out.len() == start {
        out.push((Cow::Borrowed(name), Cow::Borrowed(ABSENT)));
    }
}

/// The pair of `name` and a value that made a test hold.
fn pair<'a>(name: &'a str, value: &Val<'a>) -> Pair<'a> {
    let text = if value.null {
        Cow::Borrowed(ABSENT)
    } else {
        cut_val(&value.text)
    };
    (Cow::Borrowed(name), text)
}

/// Whether a value test holds; appends the pairs of the values that make it hold (one
/// `(absent)` pair when it holds by absence).
fn value_hits<'a>(
    test: &ValueTest,
    exists: bool,
    values: &[Val<'a>],
    name: &'a str,
    out: &mut Vec<Pair<'a>>,
) -> bool {
    if !exists {
        if test.has_null {
            push_pairs(name, std::iter::empty(), out);
        }
        return test.has_null;
    }
    let hit = |v: &Val| v.matches_any(test);
    if test.all {
        let every = test
            .groups
            .iter()
            .all(|group| values.iter().any(|v| group.iter().any(|p| v.matches(p))));
        if every {
            push_pairs(name, values.iter().filter(|v| hit(v)), out);
        }
        return every;
    }
    let start = out.len();
    out.extend(values.iter().filter(|v| hit(v)).map(|v| pair(name, v)));
    out.len() > start
}

fn fieldref(test: &FieldRefTest, left: &[Val<'_>], others: &[&[Val<'_>]]) -> bool {
    let one = |right: &&[Val]| {
        left.iter().any(|l| {
            right.iter().any(|r| {
                if l.null || r.null {
                    return false;
                }
                let (l, r): (&str, &str) = if test.cased {
                    (&l.text, &r.text)
                } else {
                    (l.lower(), r.lower())
                };
                match test.position {
                    None => l == r,
                    Some(Position::Contains) => l.contains(r),
                    Some(Position::Start) => l.starts_with(r),
                    Some(Position::End) => l.ends_with(r),
                }
            })
        })
    };
    if test.all {
        others.iter().all(one)
    } else {
        others.iter().any(one)
    }
}

/// Keyword search: whether it holds; appends the (path, value) pairs of the event's
/// scalar values that match.
fn keywords<'a>(test: &Test, event: &'a Event, out: &mut Vec<Pair<'a>>) -> bool {
    let Test::Values(test) = test else {
        return false;
    };
    let mut scalars: Vec<(String, Val<'a>)> = Vec::new();
    for (key, value) in &event.fields {
        collect(key, value, &mut scalars);
    }
    let hit = |v: &Val| v.matches_any(test);
    let holds = if test.all {
        test.groups
            .iter()
            .all(|g| scalars.iter().any(|(_, v)| g.iter().any(|p| v.matches(p))))
    } else {
        scalars.iter().any(|(_, v)| hit(v))
    };
    if holds {
        out.extend(
            scalars
                .iter()
                .filter(|(_, v)| hit(v))
                .map(|(path, v)| (Cow::Owned(path.clone()), cut_val(&v.text))),
        );
    }
    holds
}

fn collect<'a>(path: &str, value: &'a Value, out: &mut Vec<(String, Val<'a>)>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect(path, v, out)),
        Value::Object(map) => {
            let nested: BTreeMap<&String, &Value> = map.iter().collect();
            for (k, v) in nested {
                collect(&format!("{path}.{k}"), v, out);
            }
        }
        Value::Null => {}
        other => {
            if let Some(v) = Val::from_json(other) {
                out.push((path.to_owned(), v));
            }
        }
    }
}

fn eval(expr: &Expr, holds: &dyn Fn(usize) -> bool) -> bool {
    match expr {
        Expr::Search(i) => holds(*i),
        Expr::Not(inner) => !eval(inner, holds),
        Expr::And(list) => list.iter().all(|e| eval(e, holds)),
        Expr::Or(list) => list.iter().any(|e| eval(e, holds)),
        Expr::AtLeast(n, list) => list.iter().filter(|i| holds(**i)).count() >= *n,
    }
}
