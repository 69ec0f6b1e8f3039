//! The compiled, immutable rule matcher.
//!
//! Every (rule, log-source target) pair is a *branch*. Branches are indexed by
//! (source kind, `EventID`) when the target or the rule's condition pins event ids, else
//! by (source kind, `Channel`), else by source kind alone, so an event is only tested
//! against its candidates. Per event, each field a candidate reads is looked up once and
//! its values (and their lower-cased forms) are cached for all rules.
//!
//! Work is shared across rules: every case-insensitive literal test (equals, starts
//! with, ends with, contains) any rule makes on a field gets a bit in that field's
//! [`FieldTable`]; one Aho-Corasick scan of the field's values per event sets the bits of
//! every literal test that holds, and rules then only read bits. Regexes, wildcards,
//! `cased`, `cidr` and comparisons are evaluated per rule.

use crate::condition::Expr;
use crate::detection::{Detection, FieldRefTest, Item, Search, Subject, Test, ValueTest};
use crate::logsource::Target;
use crate::rule::Rule;
use crate::ruleset::RuleIndex;
use crate::value::{Pattern, Position};
use aho_corasick::AhoCorasick;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use trustpath_event::{Event, SourceKind};

const EVENT_ID: &str = "EventID";
const CHANNEL: &str = "Channel";
const PROVIDER: &str = "Provider_Name";

/// Compiled rules, ready to match events. Immutable, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Matcher {
    fields: Vec<String>,
    branches: Vec<Branch>,
    by_event_id: HashMap<(SourceKind, u64), Candidates>,
    by_channel: HashMap<(SourceKind, u32), Candidates>,
    /// Lower-cased channel name -> id.
    channel_ids: HashMap<String, u32>,
    by_source: HashMap<SourceKind, Candidates>,
    event_id_field: u32,
    channel_field: u32,
    provider_field: u32,
    /// Shared literal tests per field id (`None`: the field has none).
    tables: Vec<Option<FieldTable>>,
}

/// The branches one index key leads to, split by prefilter.
#[derive(Debug, Clone, Default)]
struct Candidates {
    /// Every branch of the key (while building).
    all: Vec<u32>,
    /// Branches without a prefilter: always evaluated.
    always: Vec<u32>,
    /// Fields the prefilters of this key read.
    fields: Vec<u32>,
    /// (field, bit) -> branches whose prefilter contains it.
    by_bit: HashMap<(u32, u32), Vec<u32>>,
}

impl Candidates {
    fn index(&mut self, branches: &[Branch]) {
        for id in std::mem::take(&mut self.all) {
            match branches.get(id as usize).and_then(|b| b.prefilter.as_ref()) {
                None => self.always.push(id),
                Some(required) => {
                    for &(field, bit) in required {
                        self.by_bit.entry((field, bit)).or_default().push(id);
                        if !self.fields.contains(&field) {
                            self.fields.push(field);
                        }
                    }
                }
            }
        }
    }

    /// Adds to `todo` the branches whose prefilter holds for the event (and the others).
    fn collect(&self, ctx: &mut Ctx<'_>, tables: &[Option<FieldTable>], todo: &mut Vec<u32>) {
        todo.extend_from_slice(&self.always);
        for &field in &self.fields {
            for (w, word) in ctx.bits(field, tables).iter().enumerate() {
                let mut rest = *word;
                while rest != 0 {
                    let bit = (w * 64) as u32 + rest.trailing_zeros();
                    rest &= rest - 1;
                    if let Some(list) = self.by_bit.get(&(field, bit)) {
                        todo.extend_from_slice(list);
                    }
                }
            }
        }
    }
}

/// The literal tests every rule makes on one field, found with one automaton scan.
#[derive(Debug, Clone)]
struct FieldTable {
    automaton: AhoCorasick,
    /// Per needle: the tests (bit, position; `None` = equality) that use it.
    tests: Vec<Vec<(u32, Option<Position>)>>,
    /// Number of bits (distinct tests).
    bits: usize,
}

/// Collects the literal tests of one field while branches are built.
#[derive(Debug, Default)]
struct TableBuilder {
    needles: Vec<String>,
    needle_index: HashMap<String, usize>,
    tests: Vec<Vec<(u32, Option<Position>)>>,
    bits: HashMap<(Option<Position>, String), u32>,
}

impl TableBuilder {
    fn bit(&mut self, position: Option<Position>, needle: &str) -> u32 {
        let key = (position, needle.to_owned());
        if let Some(bit) = self.bits.get(&key) {
            return *bit;
        }
        let bit = self.bits.len() as u32;
        self.bits.insert(key, bit);
        let n = match self.needle_index.get(needle) {
            Some(n) => *n,
            None => {
                self.needles.push(needle.to_owned());
                self.tests.push(Vec::new());
                self.needle_index
                    .insert(needle.to_owned(), self.needles.len() - 1);
                self.needles.len() - 1
            }
        };
        self.tests[n].push((bit, position));
        bit
    }

    fn build(self) -> Option<FieldTable> {
        let automaton = AhoCorasick::new(&self.needles).ok()?;
        Some(FieldTable {
            automaton,
            tests: self.tests,
            bits: self.bits.len(),
        })
    }
}

/// A value test of one branch with its literal patterns replaced by table bits.
#[derive(Debug, Clone)]
struct SharedValues {
    groups: Vec<Vec<Check>>,
    all: bool,
    has_null: bool,
}

/// One pattern of a [`SharedValues`].
#[derive(Debug, Clone)]
enum Check {
    /// A bit of the field's table.
    Bit(u32),
    /// A pattern evaluated on its own.
    Own(Box<Pattern>),
}

/// One rule under one log-source target.
#[derive(Debug, Clone)]
struct Branch {
    rule: RuleIndex,
    detection: Arc<Detection>,
    /// Rule field slot -> global field id (after the target's renames).
    slots: Vec<u32>,
    event_ids: Vec<u64>,
    /// Channel ids (see [`Matcher::channel_ids`]); empty = any channel.
    channels: Vec<u32>,
    providers: Vec<String>,
    /// Per item index: the value test with shared literal bits, for field items.
    values: Vec<Option<SharedValues>>,
    /// (field id, bit) pairs of which at least one must hold for the branch to match,
    /// when the condition implies such a set: a cheap test before evaluating the rule.
    prefilter: Option<Vec<(u32, u32)>>,
}

impl Matcher {
    /// Compiles `rules` (indices into the slice are what [`Matcher::matches`] reports).
    pub(crate) fn new(rules: &[Rule]) -> Matcher {
        let mut m = Matcher {
            fields: Vec::new(),
            branches: Vec::new(),
            by_event_id: HashMap::new(),
            by_channel: HashMap::new(),
            channel_ids: HashMap::new(),
            by_source: HashMap::new(),
            event_id_field: 0,
            channel_field: 0,
            provider_field: 0,
            tables: Vec::new(),
        };
        let mut builders: HashMap<u32, TableBuilder> = HashMap::new();
        m.event_id_field = m.intern(EVENT_ID);
        m.channel_field = m.intern(CHANNEL);
        m.provider_field = m.intern(PROVIDER);
        for (index, rule) in rules.iter().enumerate() {
            for target in &rule.targets {
                m.add_branch(index, &rule.detection, target, &mut builders);
            }
        }
        m.tables = vec![None; m.fields.len()];
        for (field, builder) in builders {
            m.tables[field as usize] = builder.build();
        }
        let branches = &m.branches;
        let lists = m
            .by_event_id
            .values_mut()
            .chain(m.by_channel.values_mut())
            .chain(m.by_source.values_mut());
        for list in lists {
            list.index(branches);
        }
        m
    }

    fn intern(&mut self, name: &str) -> u32 {
        match self.fields.iter().position(|f| f == name) {
            Some(i) => i as u32,
            None => {
                self.fields.push(name.to_owned());
                (self.fields.len() - 1) as u32
            }
        }
    }

    fn add_branch(
        &mut self,
        rule: RuleIndex,
        detection: &Arc<Detection>,
        target: &Target,
        builders: &mut HashMap<u32, TableBuilder>,
    ) {
        let event_ids = match (&detection.required_event_ids, target.event_id.is_empty()) {
            (Some(required), true) => required.clone(),
            (Some(required), false) => {
                let both: Vec<u64> = target
                    .event_id
                    .iter()
                    .copied()
                    .filter(|id| required.contains(id))
                    .collect();
                if both.is_empty() {
                    return; // the rule's EventIDs are not in this target: never matches
                }
                both
            }
            (None, _) => target.event_id.clone(),
        };
        let slots: Vec<u32> = detection
            .fields
            .iter()
            .map(|f| {
                let name = target.rename.get(f).map_or(f.as_str(), String::as_str);
                self.intern(name)
            })
            .collect();
        let values = shared_values(detection, &slots, builders);
        let prefilter = Prefilter {
            detection,
            slots: &slots,
            values: &values,
        }
        .expr(&detection.condition);
        let id = self.branches.len() as u32;
        let branch = Branch {
            rule,
            detection: Arc::clone(detection),
            slots,
            event_ids,
            channels: target
                .channel
                .iter()
                .map(|c| {
                    let next = self.channel_ids.len() as u32;
                    *self.channel_ids.entry(c.to_lowercase()).or_insert(next)
                })
                .collect(),
            providers: target.provider.iter().map(|p| p.to_lowercase()).collect(),
            values,
            prefilter,
        };
        let source = target.source;
        if !branch.event_ids.is_empty() {
            for eid in &branch.event_ids {
                self.by_event_id
                    .entry((source, *eid))
                    .or_default()
                    .all
                    .push(id);
            }
        } else if !branch.channels.is_empty() {
            for channel in &branch.channels {
                self.by_channel
                    .entry((source, *channel))
                    .or_default()
                    .all
                    .push(id);
            }
        } else {
            self.by_source.entry(source).or_default().all.push(id);
        }
        self.branches.push(branch);
    }

    /// Number of (rule, log-source target) branches compiled.
    pub fn branch_count(&self) -> usize {
        self.branches.len()
    }

    /// Number of branches with a literal prefilter (the others are always evaluated).
    pub fn prefiltered_count(&self) -> usize {
        self.branches
            .iter()
            .filter(|b| b.prefilter.is_some())
            .count()
    }

    /// Fills `out` (cleared first) with the indices of the rules that match `event`,
    /// ascending and without duplicates.
    pub fn matches(&self, event: &Event, out: &mut Vec<RuleIndex>) {
        out.clear();
        let mut ctx = Ctx::new(event, &self.fields);
        let event_id = ctx.event_id(self.event_id_field);
        let channel = ctx
            .first_lower(self.channel_field)
            .and_then(|c| self.channel_ids.get(c.as_ref()).copied());
        let candidates = [
            event_id.and_then(|id| self.by_event_id.get(&(event.source, id))),
            channel.and_then(|c| self.by_channel.get(&(event.source, c))),
            self.by_source.get(&event.source),
        ];
        let mut todo = Vec::new();
        for list in candidates.into_iter().flatten() {
            list.collect(&mut ctx, &self.tables, &mut todo);
        }
        todo.sort_unstable();
        todo.dedup();
        for b in todo {
            let Some(branch) = self.branches.get(b as usize) else {
                continue;
            };
            if out.last() != Some(&branch.rule)
                && self.branch_matches(branch, &mut ctx, event_id, channel)
            {
                out.push(branch.rule);
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    fn branch_matches(
        &self,
        branch: &Branch,
        ctx: &mut Ctx<'_>,
        event_id: Option<u64>,
        channel: Option<u32>,
    ) -> bool {
        if !branch.event_ids.is_empty()
            && !event_id.is_some_and(|id| branch.event_ids.contains(&id))
        {
            return false;
        }
        if !branch.channels.is_empty() && !channel.is_some_and(|c| branch.channels.contains(&c)) {
            return false;
        }
        if !branch.providers.is_empty() {
            let provider = ctx.first_lower(self.provider_field);
            if !provider.is_some_and(|p| branch.providers.iter().any(|x| *x == *p)) {
                return false;
            }
        }
        let eval = Eval {
            matcher: self,
            branch,
            ctx,
        };
        eval.expr(&branch.detection.condition)
    }
}

/// Evaluates one branch's detection against the cached event.
struct Eval<'b, 'c, 'e> {
    matcher: &'b Matcher,
    branch: &'b Branch,
    ctx: &'c mut Ctx<'e>,
}

impl Eval<'_, '_, '_> {
    fn expr(mut self, expr: &Expr) -> bool {
        self.eval(expr)
    }

    fn eval(&mut self, expr: &Expr) -> bool {
        match expr {
            Expr::Search(i) => self
                .branch
                .detection
                .searches
                .get(*i)
                .is_some_and(|s| self.search(s)),
            Expr::Not(inner) => !self.eval(inner),
            Expr::And(list) => list.iter().all(|e| self.eval(e)),
            Expr::Or(list) => list.iter().any(|e| self.eval(e)),
            Expr::AtLeast(n, list) => {
                let mut hits = 0;
                for i in list {
                    if self.eval(&Expr::Search(*i)) {
                        hits += 1;
                        if hits >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }

    fn search(&mut self, search: &Search) -> bool {
        search
            .alternatives
            .iter()
            .any(|items| items.iter().all(|item| self.item(item)))
    }

    fn item(&mut self, item: &Item) -> bool {
        let (field, table) = match item.subject {
            Subject::Field(slot) => {
                let id = self.branch.slots[slot];
                let table = self
                    .matcher
                    .tables
                    .get(id as usize)
                    .and_then(Option::as_ref);
                (self.ctx.load(id), table)
            }
            Subject::Keywords => (self.ctx.load_keywords(), None),
        };
        match (
            &item.test,
            self.branch.values.get(item.index).and_then(Option::as_ref),
        ) {
            (Test::Values(_), Some(shared)) => self.shared(field, table, shared),
            (Test::Values(test), None) => values_match(test, &self.ctx.cache[field]),
            (Test::Exists(want), _) => self.ctx.cache[field].exists == *want,
            (Test::FieldRef(test), _) => self.fieldref(field, test),
        }
    }

    fn shared(&mut self, field: usize, table: Option<&FieldTable>, test: &SharedValues) -> bool {
        let vals = &mut self.ctx.cache[field];
        if !vals.exists {
            return test.has_null;
        }
        if vals.bits.is_none()
            && let Some(table) = table
        {
            vals.bits = Some(scan(table, &vals.values));
        }
        let vals = &*vals;
        let check = |c: &Check| match c {
            Check::Bit(bit) => vals.bits.as_ref().is_some_and(|b| {
                b.get(*bit as usize / 64)
                    .is_some_and(|w| w & (1 << (bit % 64)) != 0)
            }),
            Check::Own(p) => vals.values.iter().any(|v| pattern_match(p, v)),
        };
        if test.all {
            test.groups.iter().all(|g| g.iter().any(check))
        } else {
            test.groups.iter().flatten().any(check)
        }
    }

    fn fieldref(&mut self, field: usize, test: &FieldRefTest) -> bool {
        let others: Vec<usize> = test
            .others
            .iter()
            .map(|slot| self.ctx.load(self.branch.slots[*slot]))
            .collect();
        let left = &self.ctx.cache[field];
        let one = |other: &usize| {
            let right = &self.ctx.cache[*other];
            left.values.iter().any(|l| {
                right
                    .values
                    .iter()
                    .any(|r| !l.null && !r.null && refers(l, r, test))
            })
        };
        if test.all {
            others.iter().all(one)
        } else {
            others.iter().any(one)
        }
    }
}

fn refers(left: &Val<'_>, right: &Val<'_>, test: &FieldRefTest) -> bool {
    let (l, r) = if test.cased {
        (&left.text, &right.text)
    } else {
        (&left.lower, &right.lower)
    };
    match test.position {
        None => l == r,
        Some(Position::Contains) => l.contains(r.as_ref()),
        Some(Position::Start) => l.starts_with(r.as_ref()),
        Some(Position::End) => l.ends_with(r.as_ref()),
    }
}

fn values_match(test: &ValueTest, field: &FieldVals<'_>) -> bool {
    if !field.exists {
        return test.has_null;
    }
    if test.all {
        return test.groups.iter().all(|group| {
            field
                .values
                .iter()
                .any(|v| group.iter().any(|p| pattern_match(p, v)))
        });
    }
    field.values.iter().any(|v| {
        test.needles
            .as_ref()
            .is_some_and(|ac| !v.null && ac.is_match(v.lower.as_ref()))
            || test.rest.iter().any(|p| pattern_match(p, v))
    })
}

fn pattern_match(pattern: &Pattern, value: &Val<'_>) -> bool {
    if value.null {
        return matches!(pattern, Pattern::Null);
    }
    pattern.is_match(&value.text, &value.lower, value.number)
}

/// One scalar value of a field, with its text forms.
#[derive(Debug)]
struct Val<'e> {
    text: Cow<'e, str>,
    lower: Cow<'e, str>,
    number: Option<f64>,
    null: bool,
}

impl<'e> Val<'e> {
    fn from_json(value: &'e Value) -> Option<Val<'e>> {
        match value {
            Value::String(s) => Some(Val {
                lower: lower(s),
                text: Cow::Borrowed(s),
                number: None,
                null: false,
            }),
            Value::Number(n) => {
                let text = n.to_string();
                Some(Val {
                    lower: Cow::Owned(text.clone()),
                    text: Cow::Owned(text),
                    number: n.as_f64(),
                    null: false,
                })
            }
            Value::Bool(b) => Some(Val {
                text: Cow::Borrowed(if *b { "true" } else { "false" }),
                lower: Cow::Borrowed(if *b { "true" } else { "false" }),
                number: None,
                null: false,
            }),
            Value::Null => Some(Val {
                text: Cow::Borrowed(""),
                lower: Cow::Borrowed(""),
                number: None,
                null: true,
            }),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The values of one field in one event.
#[derive(Debug, Default)]
struct FieldVals<'e> {
    exists: bool,
    values: Vec<Val<'e>>,
    /// Bits of the field's [`FieldTable`] that hold, once scanned.
    bits: Option<Vec<u64>>,
}

/// Sets the bit of every literal test of `table` that holds for one of `values`.
fn scan(table: &FieldTable, values: &[Val<'_>]) -> Vec<u64> {
    let mut bits = vec![0u64; table.bits.div_ceil(64)];
    for value in values.iter().filter(|v| !v.null) {
        let hay = value.lower.as_ref();
        for m in table.automaton.find_overlapping_iter(hay) {
            for (bit, position) in &table.tests[m.pattern().as_usize()] {
                let holds = match position {
                    None => m.start() == 0 && m.end() == hay.len(),
                    Some(Position::Start) => m.start() == 0,
                    Some(Position::End) => m.end() == hay.len(),
                    Some(Position::Contains) => true,
                };
                if holds && let Some(word) = bits.get_mut(*bit as usize / 64) {
                    *word |= 1 << (bit % 64);
                }
            }
        }
    }
    bits
}

/// Cache position meaning "not loaded yet".
const NOT_LOADED: u32 = u32::MAX;

/// Per-event cache of looked-up fields.
struct Ctx<'e> {
    event: &'e Event,
    names: &'e [String],
    /// Field id -> position in `cache`, or [`NOT_LOADED`].
    position: Vec<u32>,
    cache: Vec<FieldVals<'e>>,
    keywords: Option<usize>,
}

impl<'e> Ctx<'e> {
    fn new(event: &'e Event, names: &'e [String]) -> Self {
        Ctx {
            event,
            names,
            position: vec![NOT_LOADED; names.len()],
            cache: Vec::with_capacity(32),
            keywords: None,
        }
    }

    /// The cache position of field `id`, looking it up on first use.
    fn load(&mut self, id: u32) -> usize {
        let known = self
            .position
            .get(id as usize)
            .copied()
            .unwrap_or(NOT_LOADED);
        if known != NOT_LOADED {
            return known as usize;
        }
        let mut vals = FieldVals::default();
        if let Some(name) = self.names.get(id as usize) {
            vals.exists = self.event.for_each_value(name, &mut |v| {
                if let Some(val) = Val::from_json(v) {
                    vals.values.push(val);
                }
            });
        }
        self.cache.push(vals);
        let pos = self.cache.len() - 1;
        if let Some(slot) = self.position.get_mut(id as usize) {
            *slot = pos as u32;
        }
        pos
    }

    /// The cache position of every scalar value in the event (keyword search).
    fn load_keywords(&mut self) -> usize {
        if let Some(pos) = self.keywords {
            return pos;
        }
        let mut vals = FieldVals {
            exists: true,
            ..FieldVals::default()
        };
        for value in self.event.fields.values() {
            collect_scalars(value, &mut vals.values);
        }
        self.cache.push(vals);
        self.keywords = Some(self.cache.len() - 1);
        self.cache.len() - 1
    }

    /// The bits of field `id`'s literal tests that hold (scanning it on first use).
    fn bits(&mut self, id: u32, tables: &[Option<FieldTable>]) -> &[u64] {
        let pos = self.load(id);
        let vals = &mut self.cache[pos];
        if vals.bits.is_none()
            && let Some(Some(table)) = tables.get(id as usize)
        {
            vals.bits = Some(scan(table, &vals.values));
        }
        vals.bits.as_deref().unwrap_or(&[])
    }

    fn event_id(&mut self, id: u32) -> Option<u64> {
        let pos = self.load(id);
        self.cache[pos].values.first().and_then(|v| {
            v.number
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .map(|n| n as u64)
                .or_else(|| v.text.trim().parse().ok())
        })
    }

    fn first_lower(&mut self, id: u32) -> Option<Cow<'e, str>> {
        let pos = self.load(id);
        self.cache[pos].values.first().map(|v| v.lower.clone())
    }
}

/// Derives a branch's prefilter: literal bits of which one must hold for the condition
/// to be true (`None` when no such set exists, e.g. under `not` or with regexes).
struct Prefilter<'a> {
    detection: &'a Detection,
    slots: &'a [u32],
    values: &'a [Option<SharedValues>],
}

impl Prefilter<'_> {
    fn expr(&self, expr: &Expr) -> Option<Vec<(u32, u32)>> {
        match expr {
            Expr::Search(i) => self.search(self.detection.searches.get(*i)?),
            Expr::Not(_) => None,
            Expr::And(list) => list
                .iter()
                .filter_map(|e| self.expr(e))
                .min_by_key(Vec::len),
            Expr::Or(list) => union(list.iter().map(|e| self.expr(e))),
            Expr::AtLeast(_, list) => union(list.iter().map(|i| self.expr(&Expr::Search(*i)))),
        }
    }

    fn search(&self, search: &Search) -> Option<Vec<(u32, u32)>> {
        union(search.alternatives.iter().map(|items| {
            items
                .iter()
                .filter_map(|item| self.item(item))
                .min_by_key(Vec::len)
        }))
    }

    fn item(&self, item: &Item) -> Option<Vec<(u32, u32)>> {
        let Subject::Field(slot) = item.subject else {
            return None;
        };
        let field = *self.slots.get(slot)?;
        let shared = self.values.get(item.index)?.as_ref()?;
        if shared.has_null {
            return None;
        }
        let bits = |group: &Vec<Check>| -> Option<Vec<(u32, u32)>> {
            group
                .iter()
                .map(|c| match c {
                    Check::Bit(b) => Some((field, *b)),
                    Check::Own(_) => None,
                })
                .collect()
        };
        if shared.all {
            shared.groups.iter().filter_map(bits).min_by_key(Vec::len)
        } else {
            union(shared.groups.iter().map(bits))
        }
    }
}

fn union(parts: impl Iterator<Item = Option<Vec<(u32, u32)>>>) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for part in parts {
        out.extend(part?);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Replaces the literal patterns of every field value test of `detection` with bits of
/// the field's shared table (indexed by item).
fn shared_values(
    detection: &Detection,
    slots: &[u32],
    builders: &mut HashMap<u32, TableBuilder>,
) -> Vec<Option<SharedValues>> {
    let mut out = vec![None; detection.item_count];
    let items = detection
        .searches
        .iter()
        .flat_map(|s| s.alternatives.iter().flatten());
    for item in items {
        let (Subject::Field(slot), Test::Values(test)) = (&item.subject, &item.test) else {
            continue;
        };
        let Some(&field) = slots.get(*slot) else {
            continue;
        };
        let builder = builders.entry(field).or_default();
        let groups = test
            .groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|p| match p {
                        Pattern::Str(s) => match s.literal() {
                            Some((position, needle)) => Check::Bit(builder.bit(position, needle)),
                            None => Check::Own(Box::new(p.clone())),
                        },
                        other => Check::Own(Box::new(other.clone())),
                    })
                    .collect()
            })
            .collect();
        if let Some(slot) = out.get_mut(item.index) {
            *slot = Some(SharedValues {
                groups,
                all: test.all,
                has_null: test.has_null,
            });
        }
    }
    out
}

fn collect_scalars<'e>(value: &'e Value, out: &mut Vec<Val<'e>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_scalars(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_scalars(v, out)),
        Value::Null => {}
        other => out.extend(Val::from_json(other)),
    }
}
