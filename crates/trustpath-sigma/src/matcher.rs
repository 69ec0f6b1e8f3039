//! The compiled, immutable rule matcher.
//!
//! Every (rule, log-source target) pair is a *branch*. Branches are indexed by
//! (source kind, `EventID`) when the target or the rule's condition pins event ids, else
//! by (source kind, `Channel`), else by source kind alone, so an event is only tested
//! against its candidates. Per event, the fields candidates read are found by one pass
//! over the event's keys ([`FieldIndex`]), and each field's values are cached for all
//! rules, borrowed from the event (a value's lower-cased form is made only when a pattern
//! needs it and the value is not plain ASCII).
//!
//! The hot path allocates next to nothing: per-event bookkeeping (field positions, literal
//! bits, the candidate list) lives in a per-thread scratch that is reset, not freed;
//! numbers are rendered into an inline buffer; an ASCII value with upper case is
//! lower-cased into a scratch buffer for the (case-sensitive, lower-cased) automatons.
//!
//! Work is shared across rules: every case-insensitive literal test (equals, starts
//! with, ends with, contains) any rule makes on a field gets a bit in that field's
//! [`FieldTable`]; one Aho-Corasick scan of the field's values per event sets the bits of
//! every literal test that holds, and rules then only read bits (a value list's bits
//! folded into word masks, see [`Any`]). Regexes, wildcards,
//! `cased`, `cidr` and comparisons are evaluated per rule; a wildcard pattern's longest
//! literal run gets a bit too, which gates its regex and serves as the rule's prefilter.
//! Besides the one set of bits that makes a rule a candidate, every other literal
//! conjunct of its condition is checked as word masks before its detection is walked.

use crate::condition::Expr;
use crate::detection::{Detection, FieldRefTest, Item, JOIN, Search, Subject, Test, ValueTest};
use crate::logsource::Target;
use crate::rule::Rule;
use crate::ruleset::RuleIndex;
use crate::value::{Pattern, Position, selectivity};
use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, Span};
use serde_json::Value;
use std::cell::{OnceCell, RefCell};
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
    /// Field name -> its id (position in `fields`).
    field_ids: HashMap<String, u32>,
    /// One-segment field names by ASCII lower case, to find them in an event in one pass.
    field_index: FieldIndex,
    branches: Vec<Branch>,
    by_event_id: HashMap<(SourceKind, u64), Candidates>,
    by_channel: HashMap<(SourceKind, u32), Candidates>,
    /// Lower-cased channel names; a channel's id is its position.
    channel_ids: Vec<String>,
    by_source: HashMap<SourceKind, Candidates>,
    event_id_field: u32,
    channel_field: u32,
    provider_field: u32,
    /// Shared literal tests per field id, built on first use.
    tables: Vec<LazyTable>,
    /// Fields whose table has more needles than [`DFA_NEEDLES`] (an NFA larger than the
    /// caches), ascending: what [`Matcher::prepare`] may scan ahead over a chunk.
    heavy: Vec<u32>,
    /// The shortest grouped needle of the keyword tests searched for across an event's
    /// values ([`Ctx::keywords_joined`]): an ASCII value shorter than it holds none of
    /// them, and is left out of the joined values.
    keyword_min: usize,
}

/// A field's [`FieldTable`], built the first time an event needs it: the automatons of
/// fields that no event of the run has (rules of log sources the input does not hold)
/// are never built. Loading SigmaHQ's Windows rules spends about a third of its time
/// building automatons.
///
/// The thread that takes the builder builds the table; a thread that needs it meanwhile
/// waits for it. The large tables an event's candidates need are built side by side
/// ([`Matcher::build_ahead`]).
#[derive(Debug)]
struct LazyTable {
    builder: std::sync::Mutex<Option<TableBuilder>>,
    table: std::sync::OnceLock<Option<FieldTable>>,
}

impl Default for LazyTable {
    /// A field without literal tests: no table, ready.
    fn default() -> Self {
        let table = std::sync::OnceLock::new();
        let _ = table.set(None);
        LazyTable {
            builder: std::sync::Mutex::new(None),
            table,
        }
    }
}

impl LazyTable {
    fn new(builder: TableBuilder) -> Self {
        LazyTable {
            builder: std::sync::Mutex::new(Some(builder)),
            table: std::sync::OnceLock::new(),
        }
    }

    /// The table (`None`: the field has no literal tests, or its automaton failed to
    /// build; its tests then never set bits, as before).
    fn get(&self) -> Option<&FieldTable> {
        if self.table.get().is_none() {
            self.build_unclaimed();
        }
        self.table.wait().as_ref()
    }

    /// Whether the table is built (or known not to exist).
    fn is_ready(&self) -> bool {
        self.table.get().is_some()
    }

    /// Builds the table on this thread unless it is built or another thread took the
    /// builder (and builds it).
    fn build_unclaimed(&self) {
        let builder = self
            .builder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(builder) = builder {
            // Should the build unwind, the table is set to none, so no thread waits for
            // it forever.
            let unwind = SetNoneOnDrop(&self.table);
            let _ = self.table.set(builder.build());
            drop(unwind);
        }
    }
}

/// Sets a table that is still unset to `None` when dropped.
struct SetNoneOnDrop<'a>(&'a std::sync::OnceLock<Option<FieldTable>>);

impl Drop for SetNoneOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

impl Clone for LazyTable {
    fn clone(&self) -> Self {
        let table = std::sync::OnceLock::new();
        let _ = table.set(self.get().cloned());
        LazyTable {
            builder: std::sync::Mutex::new(None),
            table,
        }
    }
}

/// Where the fields rules read are in an event, found by one pass over the event's keys
/// instead of one hashed lookup per field (rules read about a hundred fields of a Windows
/// event, most of them absent, and an absent one-segment field is then also compared with
/// every key, ignoring case). [`Ctx::load`] reads it; the result is the same as
/// [`Event::for_each_value`]'s: the key spelled exactly as the field, else the first key
/// equal to it ignoring ASCII case. Dotted names (nested paths) are looked up as before.
///
/// The positions found for one event are kept for the next (per thread, in [`Scratch`]):
/// events of one log mostly have the same keys in the same order, and then the pass is
/// a comparison of the key lists (see [`index_keys`]).
#[derive(Debug, Clone, Default)]
struct FieldIndex {
    /// Tells indexes apart in a thread's [`Scratch`] (from [`FieldIndex::new`]; 0 for the
    /// empty default). A clone has its original's id: the same fields, the same answers.
    id: u64,
    /// ASCII-lower-cased one-segment field name -> the ids of the fields spelled so in any
    /// case. foldhash: the names are the rules', fixed before any event is read; an event's
    /// keys only look up, so a hostile key costs one probe.
    by_lower: foldhash::HashMap<String, Vec<u32>>,
    /// Per field id: whether it is in `by_lower` (one segment).
    indexed: Vec<bool>,
}

impl FieldIndex {
    fn new(fields: &[String]) -> Self {
        let mut by_lower: foldhash::HashMap<String, Vec<u32>> = foldhash::HashMap::default();
        let mut indexed = Vec::with_capacity(fields.len());
        for (id, name) in fields.iter().enumerate() {
            let one_segment = !name.contains('.');
            if one_segment {
                by_lower
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .push(id as u32);
            }
            indexed.push(one_segment);
        }
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        FieldIndex {
            id,
            by_lower,
            indexed,
        }
    }

    fn is_indexed(&self, id: u32) -> bool {
        self.indexed.get(id as usize).copied().unwrap_or(false)
    }
}

/// The branches one index key leads to, split by prefilter.
#[derive(Debug, Clone, Default)]
struct Candidates {
    /// Every branch of the key (while building).
    all: Vec<u32>,
    /// Branches without a prefilter: always evaluated.
    always: Vec<u32>,
    /// Per field the prefilters of this key read: the branches of each bit.
    fields: Vec<BitLists>,
}

/// Branches by bit of one field's table (compressed rows: `lists[offsets[b]..offsets[b+1]]`).
#[derive(Debug, Clone, Default)]
struct BitLists {
    field: u32,
    offsets: Vec<u32>,
    lists: Vec<u32>,
}

impl Candidates {
    fn index(&mut self, branches: &[Branch]) {
        let mut by_field: Vec<(u32, Vec<(u32, u32)>)> = Vec::new();
        for id in std::mem::take(&mut self.all) {
            match branches.get(id as usize).and_then(|b| b.prefilter.as_ref()) {
                None => self.always.push(id),
                Some(required) => {
                    for &(field, bit) in required {
                        match by_field.iter_mut().find(|(f, _)| *f == field) {
                            Some((_, pairs)) => pairs.push((bit, id)),
                            None => by_field.push((field, vec![(bit, id)])),
                        }
                    }
                }
            }
        }
        for (field, mut pairs) in by_field {
            pairs.sort_unstable();
            pairs.dedup();
            let bits = pairs.last().map_or(0, |(b, _)| *b as usize + 1);
            let mut offsets = vec![0u32; bits + 1];
            for (bit, _) in &pairs {
                offsets[*bit as usize + 1] += 1;
            }
            for i in 1..offsets.len() {
                offsets[i] += offsets[i - 1];
            }
            let lists = pairs.into_iter().map(|(_, id)| id).collect();
            self.fields.push(BitLists {
                field,
                offsets,
                lists,
            });
        }
    }

    /// Adds to `todo` the branches whose prefilter holds for the event (and the others).
    fn collect(&self, ctx: &mut Ctx<'_, '_>, tables: &[LazyTable], todo: &mut Vec<u32>) {
        todo.extend_from_slice(&self.always);
        for lists in &self.fields {
            let (start, end) = ctx.bits(lists.field, tables);
            for w in start..end {
                let mut rest = ctx.scratch.bits.get(w).copied().unwrap_or(0);
                while rest != 0 {
                    let bit = ((w - start) * 64) as u32 + rest.trailing_zeros();
                    rest &= rest - 1;
                    let (Some(&from), Some(&to)) = (
                        lists.offsets.get(bit as usize),
                        lists.offsets.get(bit as usize + 1),
                    ) else {
                        continue;
                    };
                    if let Some(list) = lists.lists.get(from as usize..to as usize) {
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
    automaton: Scanner,
    /// The tests of the empty needle, if a rule has one (it is not in the automaton:
    /// every place in a value would match it).
    empty: Vec<(u32, Option<Position>)>,
    /// Per needle: the tests (bit, position; `None` = equality) that use it.
    tests: Vec<Vec<(u32, Option<Position>)>>,
    /// Number of bits (distinct tests).
    bits: usize,
}

/// Collects the literal tests of one field while branches are built.
///
/// Called for every literal test of every rule while the matcher is built (on one
/// thread, before any event is matched): the needle is looked up by reference, and a
/// test is keyed by its needle's index, so a test seen before allocates nothing.
/// foldhash: the keys are the rules' own needles.
#[derive(Debug, Default)]
struct TableBuilder {
    needles: Vec<String>,
    /// Per bit: the length in bytes of its needle (how selective a test of it is).
    bit_len: Vec<u32>,
    needle_index: foldhash::HashMap<String, usize>,
    tests: Vec<Vec<(u32, Option<Position>)>>,
    bits: foldhash::HashMap<(Option<Position>, usize), u32>,
}

impl TableBuilder {
    fn bit(&mut self, position: Option<Position>, needle: &str) -> u32 {
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
        let next = self.bits.len() as u32;
        let bit = *self.bits.entry((position, n)).or_insert(next);
        if bit == next {
            self.tests[n].push((bit, position));
            self.bit_len.push(needle.len() as u32);
        }
        bit
    }

    fn build(self) -> Option<FieldTable> {
        let mut empty = Vec::new();
        let mut needles = Vec::with_capacity(self.needles.len());
        let mut tests = Vec::with_capacity(self.tests.len());
        for (needle, needle_tests) in self.needles.into_iter().zip(self.tests) {
            if needle.is_empty() {
                empty = needle_tests;
            } else {
                needles.push(needle);
                tests.push(needle_tests);
            }
        }
        Some(FieldTable {
            automaton: Scanner::new(&needles)?,
            empty,
            tests,
            bits: self.bits.len(),
        })
    }
}

/// Needles up to which a table's automaton is a DFA (as `AhoCorasick` itself chooses:
/// a DFA of more needles is larger than the caches and scans slower than the NFA).
const DFA_NEEDLES: usize = 100;

/// A table's automaton: the kind `AhoCorasick` would choose for its needles, held by
/// type so that [`walk`] reports every match from one pass (the crate's overlapping
/// iterator re-enters its search, through a trait object, once per match).
///
/// Needles are lower-cased and so is what is scanned ([`scan`]): a case-sensitive
/// automaton builds in about half the time of an ASCII-case-insensitive one (the build
/// was a third of loading SigmaHQ's Windows rules) and scans as fast.
#[derive(Debug, Clone)]
enum Scanner {
    Dfa(aho_corasick::dfa::DFA),
    Nfa(aho_corasick::nfa::contiguous::NFA),
    /// Needles too many for a contiguous NFA.
    Big(aho_corasick::nfa::noncontiguous::NFA),
}

impl Scanner {
    fn new(needles: &[String]) -> Option<Scanner> {
        if needles.len() <= DFA_NEEDLES
            && let Ok(dfa) = aho_corasick::dfa::DFA::new(needles)
        {
            return Some(Scanner::Dfa(dfa));
        }
        if let Ok(nfa) = aho_corasick::nfa::contiguous::NFA::new(needles) {
            return Some(Scanner::Nfa(nfa));
        }
        aho_corasick::nfa::noncontiguous::NFA::new(needles)
            .ok()
            .map(Scanner::Big)
    }

    /// Calls `each(needle, start, end)` for every occurrence of every needle in `hay`.
    fn find_all(&self, hay: &[u8], each: impl FnMut(usize, usize, usize)) {
        match self {
            Scanner::Dfa(a) => walk(a, hay, each),
            Scanner::Nfa(a) => walk(a, hay, each),
            Scanner::Big(a) => walk(a, hay, each),
        }
    }
}

/// Every occurrence of every pattern of `aut` in `hay` (overlapping), in one pass over
/// its bytes. No pattern is empty, so the start state is never a match. Where the
/// automaton has a prefilter, the walk skips from its start state to the next place a
/// pattern may begin, as the crate's own searches do.
fn walk<A: Automaton>(aut: &A, hay: &[u8], mut each: impl FnMut(usize, usize, usize)) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else {
        return;
    };
    let prefilter = aut.prefilter();
    let mut at = 0;
    while let Some(&byte) = hay.get(at) {
        sid = aut.next_state(Anchored::No, sid, byte);
        if aut.is_special(sid) {
            if aut.is_dead(sid) {
                return;
            }
            if aut.is_match(sid) {
                let end = at + 1;
                for i in 0..aut.match_len(sid) {
                    let pattern = aut.match_pattern(sid, i);
                    each(
                        pattern.as_usize(),
                        end.saturating_sub(aut.pattern_len(pattern)),
                        end,
                    );
                }
            } else if let Some(prefilter) = prefilter {
                // A special state that is neither dead nor a match is the start state.
                match prefilter
                    .find_in(hay, Span::from(at..hay.len()))
                    .into_option()
                {
                    None => return,
                    Some(next) if next > at => {
                        at = next;
                        continue;
                    }
                    Some(_) => {}
                }
            }
        }
        at += 1;
    }
}

/// A value test of one branch with its literal patterns replaced by table bits.
#[derive(Debug, Clone)]
struct SharedValues {
    has_null: bool,
    /// Each must hold: one per group for `|all`, else one for the whole value list (an OR
    /// of its patterns).
    eval: Vec<Any>,
}

/// Checks of which one must hold, with their table bits folded into word masks: a list
/// of fifty `contains` needles is a few AND instructions, not fifty bit tests.
#[derive(Debug, Clone)]
struct Any {
    /// (word of the field's bits, mask): holds when a masked bit is set.
    masks: Box<[(u32, u64)]>,
    /// The checks that are not plain bits, in their order.
    rest: Box<[Check]>,
}

impl Any {
    fn new(checks: impl IntoIterator<Item = Check>) -> Self {
        let mut masks: Vec<(u32, u64)> = Vec::new();
        let mut rest = Vec::new();
        for check in checks {
            match check {
                Check::Bit(bit) => set_bit(&mut masks, bit / 64, bit),
                other => rest.push(other),
            }
        }
        Any {
            masks: masks.into(),
            rest: rest.into(),
        }
    }

    fn holds(&self, words: &[u64], check: impl Fn(&Check) -> bool) -> bool {
        self.masks
            .iter()
            .any(|(w, m)| words.get(*w as usize).is_some_and(|word| word & m != 0))
            || self.rest.iter().any(check)
    }

    /// The (`field`, bit) pairs one of which holds whenever a check holds, if every
    /// check has bits (a pattern evaluated on its own has none).
    fn bits(&self, field: u32) -> Option<Vec<(u32, u32)>> {
        let mut out = Vec::new();
        for (word, mask) in &self.masks {
            out.extend(
                (0..64u32)
                    .filter(|b| mask & (1u64 << b) != 0)
                    .map(|b| (field, word * 64 + b)),
            );
        }
        for check in &self.rest {
            match check {
                Check::Bit(b) => out.push((field, *b)),
                Check::Gated(bits, _) => out.extend(bits.iter().map(|b| (field, *b))),
                Check::Own(_) => return None,
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

/// One pattern of a [`SharedValues`].
#[derive(Debug, Clone)]
enum Check {
    /// A bit of the field's table.
    Bit(u32),
    /// A pattern evaluated on its own.
    Own(Box<Pattern>),
    /// A wildcard or `re` pattern evaluated on its own only when one of the bits of its
    /// anchors (substrings one of which every match contains) is set.
    Gated(Box<[u32]>, Box<Pattern>),
}

/// (field id, word of its bits, mask) triples one of which must hold.
type Clause = Box<[(u32, u32, u64)]>;

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
    /// Every other set of bits of which one must hold (the condition's conjunction, see
    /// [`Prefilter::clauses`]), as (field id, word, mask): checked before the rule is
    /// evaluated. A candidate found by one literal of `Image` is then dropped by its
    /// `CommandLine` literals without walking its detection.
    clauses: Box<[Clause]>,
}

impl Matcher {
    /// Compiles `rules` (indices into the slice are what [`Matcher::matches`] reports).
    pub(crate) fn new(rules: &[Rule]) -> Matcher {
        let mut m = Matcher {
            fields: Vec::new(),
            field_ids: HashMap::new(),
            field_index: FieldIndex::default(),
            branches: Vec::new(),
            by_event_id: HashMap::new(),
            by_channel: HashMap::new(),
            channel_ids: Vec::new(),
            by_source: HashMap::new(),
            event_id_field: 0,
            channel_field: 0,
            provider_field: 0,
            tables: Vec::new(),
            heavy: Vec::new(),
            keyword_min: rules
                .iter()
                .flat_map(|r| &r.detection.searches)
                .flat_map(|s| s.alternatives.iter().flatten())
                .filter_map(|item| match (&item.subject, &item.test) {
                    (Subject::Keywords, Test::Values(t)) if !t.all && t.needles_joinable() => {
                        Some(t.shortest_needle())
                    }
                    _ => None,
                })
                .min()
                .unwrap_or(0),
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
        m.tables = (0..m.fields.len()).map(|_| LazyTable::default()).collect();
        for (field, builder) in builders {
            // Scanned ahead only by the key spelled exactly as the field (a dotted name
            // is a nested path, left to the lookup).
            let one_segment = m
                .fields
                .get(field as usize)
                .is_some_and(|f| !f.contains('.'));
            if builder.needles.len() > DFA_NEEDLES && one_segment {
                m.heavy.push(field);
            }
            if let Some(slot) = m.tables.get_mut(field as usize) {
                *slot = LazyTable::new(builder);
            }
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
        m.heavy.sort_unstable();
        m.field_index = FieldIndex::new(&m.fields);
        m
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.field_ids.get(name) {
            return id;
        }
        let id = self.fields.len() as u32;
        self.fields.push(name.to_owned());
        self.field_ids.insert(name.to_owned(), id);
        id
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
        let derive = Prefilter {
            detection,
            slots: &slots,
            values: &values,
            builders,
        };
        let prefilter = derive.expr(&detection.condition);
        let mut clauses = Vec::new();
        derive.clauses(&detection.condition, &mut clauses);
        let clauses = as_masks(clauses, prefilter.as_ref());
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
                    let c = c.to_lowercase();
                    match self.channel_ids.iter().position(|k| *k == c) {
                        Some(i) => i as u32,
                        None => {
                            self.channel_ids.push(c);
                            (self.channel_ids.len() - 1) as u32
                        }
                    }
                })
                .collect(),
            providers: target.provider.iter().map(|p| p.to_lowercase()).collect(),
            values,
            prefilter,
            clauses,
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
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.matches_in(event, out, &mut scratch),
            // Re-entered on this thread (a matcher called from inside a match): own scratch.
            Err(_) => self.matches_in(event, out, &mut Scratch::default()),
        });
    }

    /// Scans ahead, over every one of `events`, the fields with large tables
    /// ([`Matcher::heavy`]) that matching scanned for at least half of the events of the
    /// previous chunk on this thread, one table at a time, and keeps the bits in this
    /// thread's scratch for [`Matcher::matches`] on those events until
    /// [`Matcher::unprepare`]. Matching one event after another, a large automaton is
    /// out of cache by the time the next event needs it (the `CommandLine` table of
    /// SigmaHQ's Windows rules has thousands of needles); one table over a chunk of
    /// events stays in cache. Only the fields most events need are worth it: scanning a
    /// field no candidate rule reads is pure cost, so the choice follows what matching
    /// did (the first chunk of a thread scans nothing ahead and only counts).
    ///
    /// The bits are the same ([`scan`] of the same values: those of the key spelled
    /// exactly as the field, the one [`Ctx::load`] takes when there is one), so nothing
    /// but the time changes; a field spelled otherwise or absent, a field not chosen,
    /// and an event not prepared are looked up and scanned as before.
    ///
    /// The events must stay alive until [`Matcher::unprepare`] (they are recognised by
    /// address): call both around a chunk on the same thread.
    pub fn prepare<'a>(&self, events: impl Iterator<Item = &'a Event> + Clone) {
        if self.heavy.is_empty() {
            return;
        }
        SCRATCH.with(|cell| {
            if let Ok(mut scratch) = cell.try_borrow_mut() {
                self.prepare_in(events, &mut scratch.pre);
            }
        });
    }

    /// Ends the chunk [`Matcher::prepare`] began on this thread: forgets its bits and
    /// chooses, from what matching scanned in it, the fields to scan ahead next.
    pub fn unprepare(&self) {
        if self.heavy.is_empty() {
            return;
        }
        SCRATCH.with(|cell| {
            if let Ok(mut scratch) = cell.try_borrow_mut() {
                scratch.pre.chunk_done();
            }
        });
    }

    /// The fields this thread scans ahead for this matcher's next chunk (what
    /// [`Matcher::prepare`] chose; for tests and diagnostics).
    pub fn scanning_ahead(&self) -> Vec<&str> {
        SCRATCH.with(|cell| match cell.try_borrow() {
            Ok(scratch) if scratch.pre.owner == self.field_index.id => scratch
                .pre
                .fields
                .iter()
                .filter_map(|&id| self.fields.get(id as usize).map(String::as_str))
                .collect(),
            _ => Vec::new(),
        })
    }

    fn prepare_in<'a>(&self, events: impl Iterator<Item = &'a Event> + Clone, pre: &mut Prescan) {
        pre.begin(self.field_index.id, &self.heavy);
        pre.events.extend(events.clone().map(address));
        let width = pre.fields.len();
        if width == 0 {
            return; // nothing chosen: the chunk's events are only counted
        }
        pre.ranges.resize(pre.events.len() * width, (0, 0));
        // The chosen fields' values, looked up event by event (each event's map is read
        // once, while in cache; field by field, as the scans go, it was read `width`
        // times over a chunk larger than the cache). Only a key spelled exactly as the
        // field: that is the one the lookup takes when there is one. Another spelling,
        // or no key, is left to it.
        let names: Vec<Option<&str>> = pre
            .fields
            .iter()
            .map(|&id| self.fields.get(id as usize).map(String::as_str))
            .collect();
        let mut found: Vec<Option<&'a Value>> = Vec::with_capacity(pre.events.len() * width);
        for event in events {
            found.extend(
                names
                    .iter()
                    .map(|name| name.and_then(|n| event.fields.get(n))),
            );
        }
        let mut vals: Vec<Val<'a>> = Vec::new();
        let mut lower = std::mem::take(&mut pre.lower);
        for f in 0..width {
            let Some(&id) = pre.fields.get(f) else {
                continue;
            };
            let Some(table) = self.tables.get(id as usize).and_then(LazyTable::get) else {
                continue;
            };
            let words = table.bits.div_ceil(64);
            for i in 0..pre.events.len() {
                let Some(&Some(value)) = found.get(i * width + f) else {
                    continue;
                };
                vals.clear();
                trustpath_event::fan_out(value, &mut |v| vals.extend(Val::from_json(v)));
                if vals.is_empty() {
                    continue;
                }
                let start = pre.words.len();
                pre.words.resize(start + words, 0);
                if let Some(bits) = pre.words.get_mut(start..) {
                    scan(table, &vals, bits, &mut lower);
                }
                if let Some(range) = pre.ranges.get_mut(i * width + f) {
                    *range = (start as u32, (start + words) as u32);
                }
            }
        }
        pre.lower = lower;
    }

    /// Builds side by side the large tables ([`Matcher::heavy`]) that the prefilters of
    /// the event's candidates read, that the event has values for and that no thread has
    /// built yet: the first events of a run need them all, and built one after another as
    /// matching asks, each worker would wait in turn for the one building the next. On
    /// threads of their own, not the pool's: a build waits for nothing, so no worker can
    /// end up waiting for a job queued behind it. A table another thread took is left to
    /// it; once every such table is built this is a few flag reads per event.
    fn build_ahead<'c>(&self, ctx: &mut Ctx<'_, '_>, lists: impl Iterator<Item = &'c Candidates>) {
        let mut todo: Vec<&LazyTable> = Vec::new();
        for list in lists {
            for bits in &list.fields {
                let id = bits.field;
                let Some(lazy) = self.tables.get(id as usize) else {
                    continue;
                };
                if lazy.is_ready()
                    || self.heavy.binary_search(&id).is_err()
                    || todo.iter().any(|t| std::ptr::eq(*t, lazy))
                    || !ctx.has_values(id)
                {
                    continue;
                }
                todo.push(lazy);
            }
        }
        // One table alone is built where it is asked for; more take as many threads as
        // the pool has (`--threads`), each taking the next table no thread has taken.
        let helpers = rayon::current_num_threads()
            .saturating_sub(1)
            .min(todo.len().saturating_sub(1));
        if helpers == 0 {
            return;
        }
        let build_all = || todo.iter().for_each(|lazy| lazy.build_unclaimed());
        std::thread::scope(|scope| {
            for _ in 0..helpers {
                let spawned = std::thread::Builder::new()
                    .name("trustpath-table".to_owned())
                    .spawn_scoped(scope, build_all);
                if spawned.is_err() {
                    break; // no thread: the rest is built here
                }
            }
            build_all();
        });
    }

    fn matches_in(&self, event: &Event, out: &mut Vec<RuleIndex>, scratch: &mut Scratch) {
        out.clear();
        let mut todo = std::mem::take(&mut scratch.todo);
        todo.clear();
        let mut ctx = Ctx::new(event, &self.fields, &self.field_index, scratch);
        let event_id = ctx.event_id(self.event_id_field);
        let channel = ctx.channel(self.channel_field, &self.channel_ids);
        let candidates = [
            event_id.and_then(|id| self.by_event_id.get(&(event.source, id))),
            channel.and_then(|c| self.by_channel.get(&(event.source, c))),
            self.by_source.get(&event.source),
        ];
        self.build_ahead(&mut ctx, candidates.iter().flatten().copied());
        for list in candidates.into_iter().flatten() {
            list.collect(&mut ctx, &self.tables, &mut todo);
        }
        todo.sort_unstable();
        todo.dedup();
        for &b in &todo {
            let Some(branch) = self.branches.get(b as usize) else {
                continue;
            };
            if out.last() != Some(&branch.rule)
                && self.branch_matches(branch, &mut ctx, event_id, channel)
            {
                out.push(branch.rule);
            }
        }
        ctx.finish();
        scratch.todo = todo;
        out.sort_unstable();
        out.dedup();
    }

    fn branch_matches(
        &self,
        branch: &Branch,
        ctx: &mut Ctx<'_, '_>,
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
            let pos = ctx.load(self.provider_field);
            let provider = ctx.values(pos).first();
            if !provider.is_some_and(|p| branch.providers.iter().any(|x| p.eq_lower(x))) {
                return false;
            }
        }
        for clause in &branch.clauses {
            let holds = clause.iter().any(|&(field, word, mask)| {
                let (start, end) = ctx.bits(field, &self.tables);
                let at = start + word as usize;
                at < end && ctx.scratch.bits.get(at).is_some_and(|w| w & mask != 0)
            });
            if !holds {
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
struct Eval<'b, 'c, 'e, 's> {
    matcher: &'b Matcher,
    branch: &'b Branch,
    ctx: &'c mut Ctx<'e, 's>,
}

impl Eval<'_, '_, '_, '_> {
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
                let Some(&id) = self.branch.slots.get(slot) else {
                    return false;
                };
                let table = self
                    .matcher
                    .tables
                    .get(id as usize)
                    .and_then(LazyTable::get);
                (self.ctx.load(id), table)
            }
            Subject::Keywords => {
                if let Test::Values(test) = &item.test
                    && !test.all
                    && test.needles_joinable()
                {
                    return self.keywords_joined(test);
                }
                (self.ctx.load_keywords(), None)
            }
        };
        match (
            &item.test,
            self.branch.values.get(item.index).and_then(Option::as_ref),
        ) {
            (Test::Values(_), Some(shared)) => self.shared(field, table, shared),
            (Test::Values(test), None) => values_match(test, self.ctx, field),
            (Test::Exists(want), _) => self.ctx.slot(field).exists == *want,
            (Test::FieldRef(test), _) => self.fieldref(field, test),
        }
    }

    /// A keyword test whose grouped needles can be searched for across values
    /// ([`ValueTest::needles_joinable`], without `all`): the needles are searched for in
    /// all of the event's values at once, joined in one buffer made once per event
    /// straight from its map ([`Ctx::keywords_joined`]); the other patterns, if any, then
    /// value by value. A keyword rule (SigmaHQ's Mimikatz keywords) runs on every
    /// Windows event: one search per value cost it more than the search itself, and
    /// making every value a cached value first, only to copy it into the buffer, was
    /// most of what was left.
    fn keywords_joined(&mut self, test: &ValueTest) -> bool {
        if test.needles_match_lower(self.ctx.keywords_joined(self.matcher.keyword_min)) {
            return true;
        }
        if test.rest.is_empty() {
            return false;
        }
        let field = self.ctx.load_keywords();
        let values = self.ctx.values(field);
        values
            .iter()
            .any(|v| test.rest.iter().any(|p| pattern_match(p, v)))
    }

    fn shared(&mut self, field: usize, table: Option<&FieldTable>, test: &SharedValues) -> bool {
        if !self.ctx.slot(field).exists {
            return test.has_null;
        }
        let bits = match table {
            Some(table) => self.ctx.scanned(field, table),
            None => (0, 0),
        };
        let ctx = &*self.ctx;
        let values = ctx.values(field);
        let words = ctx.scratch.bits.get(bits.0..bits.1).unwrap_or(&[]);
        let set = |bit: &u32| {
            words
                .get(*bit as usize / 64)
                .is_some_and(|w| w & (1 << (bit % 64)) != 0)
        };
        let check = |c: &Check| match c {
            Check::Bit(bit) => set(bit),
            Check::Own(p) => values.iter().any(|v| pattern_match(p, v)),
            Check::Gated(bits, p) => {
                bits.iter().any(set) && values.iter().any(|v| pattern_match(p, v))
            }
        };
        test.eval.iter().all(|any| any.holds(words, check))
    }

    fn fieldref(&mut self, field: usize, test: &FieldRefTest) -> bool {
        for slot in &test.others {
            if let Some(&id) = self.branch.slots.get(*slot) {
                self.ctx.load(id);
            }
        }
        let ctx = &*self.ctx;
        let left = ctx.values(field);
        let one = |slot: &usize| {
            let Some(other) = self
                .branch
                .slots
                .get(*slot)
                .and_then(|id| ctx.position(*id))
            else {
                return false;
            };
            let right = ctx.values(other);
            left.iter().any(|l| {
                right
                    .iter()
                    .any(|r| !l.null && !r.null && refers(l, r, test))
            })
        };
        if test.all {
            test.others.iter().all(one)
        } else {
            test.others.iter().any(one)
        }
    }
}

fn refers(left: &Val<'_>, right: &Val<'_>, test: &FieldRefTest) -> bool {
    let (l, r) = if test.cased {
        (left.text(), right.text())
    } else {
        (left.lower(), right.lower())
    };
    match test.position {
        None => l == r,
        Some(Position::Contains) => l.contains(r),
        Some(Position::Start) => l.starts_with(r),
        Some(Position::End) => l.ends_with(r),
    }
}

fn values_match(test: &ValueTest, ctx: &Ctx<'_, '_>, field: usize) -> bool {
    if !ctx.slot(field).exists {
        return test.has_null;
    }
    let values = ctx.values(field);
    if test.all {
        return test.groups.iter().all(|group| {
            values
                .iter()
                .any(|v| group.iter().any(|p| pattern_match(p, v)))
        });
    }
    values.iter().any(|v| {
        (!v.null && test.needles_match_lower(v.lower().as_bytes()))
            || test.rest.iter().any(|p| pattern_match(p, v))
    })
}

fn pattern_match(pattern: &Pattern, value: &Val<'_>) -> bool {
    if value.null {
        return matches!(pattern, Pattern::Null);
    }
    let lower = match pattern {
        Pattern::Str(s) if !s.cased => value.lower(),
        _ => "",
    };
    pattern.is_match(value.text(), lower, value.number)
}

/// The text of one scalar value: borrowed from the event, or a number rendered inline.
#[derive(Debug)]
enum Text<'e> {
    Borrowed(&'e str),
    /// An integer's decimal digits (at most 20 and a sign).
    Int([u8; 24], u8),
    Owned(String),
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Int(buf, len) => buf
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            Text::Owned(s) => s,
        }
    }

    fn int(mut n: u64, negative: bool) -> Self {
        let mut digits = [0u8; 24];
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if negative {
            digits[len] = b'-';
            len += 1;
        }
        digits[..len].reverse();
        Text::Int(digits, len as u8)
    }
}

/// One scalar value of a field.
#[derive(Debug)]
struct Val<'e> {
    text: Text<'e>,
    /// The lower-cased text, made on first use; `None` when the text has no upper case.
    lower: OnceCell<Option<String>>,
    number: Option<f64>,
    null: bool,
}

impl<'e> Val<'e> {
    fn new(text: Text<'e>, number: Option<f64>, null: bool) -> Self {
        Val {
            text,
            lower: OnceCell::new(),
            number,
            null,
        }
    }

    fn from_json(value: &'e Value) -> Option<Val<'e>> {
        match value {
            Value::String(s) => Some(Val::new(Text::Borrowed(s), None, false)),
            Value::Number(n) => {
                let text = if let Some(u) = n.as_u64() {
                    Text::int(u, false)
                } else if let Some(i) = n.as_i64() {
                    Text::int(i.unsigned_abs(), i < 0)
                } else {
                    Text::Owned(n.to_string())
                };
                Some(Val::new(text, n.as_f64(), false))
            }
            Value::Bool(b) => Some(Val::new(
                Text::Borrowed(if *b { "true" } else { "false" }),
                None,
                false,
            )),
            Value::Null => Some(Val::new(Text::Borrowed(""), None, true)),
            Value::Array(_) | Value::Object(_) => None,
        }
    }

    fn text(&self) -> &str {
        self.text.as_str()
    }

    /// The lower-cased text (made once, only if it differs).
    fn lower(&self) -> &str {
        crate::value::cached_lower(&self.lower, self.text.as_str())
    }

    /// Whether the text equals `lower` (already lower-cased) ignoring case.
    fn eq_lower(&self, lower: &str) -> bool {
        let text = self.text.as_str();
        if text.is_ascii() {
            text.eq_ignore_ascii_case(lower)
        } else {
            self.lower() == lower
        }
    }

    /// What an automaton of lower-cased needles scans: the text itself when it has no
    /// upper case, its ASCII lower case (in `buf`) when it is ASCII, else its lower-cased
    /// form. ASCII lower-casing keeps every byte where it was.
    fn haystack<'a>(&'a self, buf: &'a mut Vec<u8>) -> &'a [u8] {
        let text = self.text.as_str();
        if !text.is_ascii() {
            return self.lower().as_bytes();
        }
        if !text.bytes().any(|b| b.is_ascii_uppercase()) {
            return text.as_bytes();
        }
        buf.clear();
        buf.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        buf
    }
}

/// Where one looked-up field's values and literal bits are, for one event.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The field's id ([`NOT_LOADED`] for the keyword values).
    id: u32,
    exists: bool,
    /// Range of [`Ctx::vals`].
    start: u32,
    end: u32,
    /// Range of [`Scratch::bits`] once scanned.
    bits: Option<(u32, u32)>,
}

/// Per-thread bookkeeping reused from event to event (reset, never freed).
#[derive(Debug, Default)]
struct Scratch {
    /// Field id -> position in `slots`, or [`NOT_LOADED`].
    position: Vec<u32>,
    /// Field ids loaded for the current event (to reset `position`).
    loaded: Vec<u32>,
    slots: Vec<Slot>,
    bits: Vec<u64>,
    /// A value's ASCII lower case, for [`scan`].
    lower: Vec<u8>,
    todo: Vec<u32>,
    /// The value buffer's allocation between events (always empty here).
    vals: Vec<Val<'static>>,
    /// [`Ctx::by_position`]'s allocation between events (always empty here).
    by_position: Vec<&'static Value>,
    /// Field id -> position of the event key spelled exactly as the field, or
    /// [`NOT_LOADED`] (see [`FieldIndex`]).
    exact: Vec<u32>,
    /// Field id -> position of the first event key equal to the field ignoring ASCII
    /// case, or [`NOT_LOADED`].
    folded: Vec<u32>,
    /// Field ids set in `exact` or `folded` (to reset them).
    found: Vec<u32>,
    /// The [`FieldIndex::id`] and the keys, in order, of the event `exact` and `folded`
    /// were filled from: they hold for any event with the same keys in the same order.
    keyed_by: u64,
    keyed: Vec<String>,
    /// An event key's ASCII lower case.
    key: String,
    /// The keyword values' lower case, joined by [`JOIN`] (see [`Ctx::keywords_joined`]).
    joined: Vec<u8>,
    /// What [`Matcher::prepare`] scanned ahead.
    pre: Prescan,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// One thread's scan-ahead ([`Matcher::prepare`]): which large fields to scan ahead and
/// why, and the literal bits of the chunk being matched.
#[derive(Debug, Default)]
struct Prescan {
    /// The [`FieldIndex::id`] of the matcher all this belongs to (0: none yet).
    owner: u64,
    /// That matcher's [`Matcher::heavy`] fields.
    candidates: Vec<u32>,
    /// Per candidate: the events of the current chunk for which matching scanned it.
    used: Vec<u32>,
    /// The candidates scanned ahead in the current chunk (ascending).
    fields: Vec<u32>,
    /// The current chunk's events' addresses, in chunk order.
    events: Vec<usize>,
    /// Per event and field (`event * fields.len() + field`): the range of `words`, or
    /// `(0, 0)` when not scanned.
    ranges: Vec<(u32, u32)>,
    words: Vec<u64>,
    /// Where the next event is expected in `events` (events are matched in order).
    next: usize,
    /// A value's ASCII lower case, for [`scan`].
    lower: Vec<u8>,
}

impl Prescan {
    /// Start a chunk for the matcher `owner` (with large fields `heavy`): another
    /// matcher than the last one's starts over, choosing nothing until it has counted.
    fn begin(&mut self, owner: u64, heavy: &[u32]) {
        if self.owner != owner {
            self.owner = owner;
            self.candidates.clear();
            self.candidates.extend_from_slice(heavy);
            self.used.clear();
            self.used.resize(heavy.len(), 0);
            self.fields.clear();
        }
        self.forget_chunk();
    }

    /// Forget the current chunk's events and bits (the choice of fields stays).
    fn forget_chunk(&mut self) {
        self.events.clear();
        self.ranges.clear();
        self.words.clear();
        self.next = 0;
    }

    /// End the chunk: the fields matching scanned for at least half of its events are
    /// the next chunk's.
    fn chunk_done(&mut self) {
        let events = self.events.len();
        self.fields.clear();
        for (&field, used) in self.candidates.iter().zip(self.used.iter_mut()) {
            if *used > 0 && (*used as usize) * 2 >= events {
                self.fields.push(field);
            }
            *used = 0;
        }
        self.forget_chunk();
    }

    /// Matching scanned field `id` for a prepared event.
    fn note(&mut self, id: u32) {
        if let Ok(c) = self.candidates.binary_search(&id)
            && let Some(used) = self.used.get_mut(c)
        {
            *used += 1;
        }
    }

    /// The position of `event` among the prepared events of the matcher of `index`.
    fn find(&mut self, index: &FieldIndex, event: &Event) -> Option<usize> {
        if self.owner != index.id || self.events.is_empty() || index.id == 0 {
            return None;
        }
        let at = address(event);
        let i = if self.events.get(self.next) == Some(&at) {
            self.next
        } else {
            self.events.iter().position(|e| *e == at)?
        };
        self.next = i + 1;
        Some(i)
    }

    /// The bits scanned ahead for field `id` of the event at `i`.
    fn bits(&self, i: usize, id: u32) -> Option<&[u64]> {
        let f = self.fields.binary_search(&id).ok()?;
        let &(start, end) = self.ranges.get(i * self.fields.len() + f)?;
        (end > start).then(|| self.words.get(start as usize..end as usize))?
    }
}

/// An event's address: what tells the prepared events apart while they are alive.
fn address(event: &Event) -> usize {
    std::ptr::from_ref(event) as usize
}

/// Sets the bit of every literal test of `table` that holds for one of `values`.
fn scan(table: &FieldTable, values: &[Val<'_>], bits: &mut [u64], buf: &mut Vec<u8>) {
    for value in values.iter().filter(|v| !v.null) {
        let hay = value.haystack(buf);
        let len = hay.len();
        let mut set = |tests: &[(u32, Option<Position>)], start: usize, end: usize| {
            for (bit, position) in tests {
                let holds = match position {
                    None => start == 0 && end == len,
                    Some(Position::Start) => start == 0,
                    Some(Position::End) => end == len,
                    Some(Position::Contains) => true,
                };
                if holds && let Some(word) = bits.get_mut(*bit as usize / 64) {
                    *word |= 1 << (bit % 64);
                }
            }
        };
        // The empty needle is at the start of every value and at its end (and equals
        // only the empty value).
        set(&table.empty, 0, 0);
        set(&table.empty, len, len);
        table.automaton.find_all(hay, |needle, start, end| {
            if let Some(tests) = table.tests.get(needle) {
                set(tests, start, end);
            }
        });
    }
}

/// An empty buffer under another lifetime, keeping the allocation (in-place collection
/// of an empty `Vec` into one of the same layout).
#[allow(clippy::unnecessary_filter_map)]
fn recycle<T, U>(vals: Vec<T>) -> Vec<U> {
    vals.into_iter().filter_map(|_| None).collect()
}

/// Fills `scratch.exact` and `scratch.folded` with where each indexed field's key is in
/// `event` (see [`FieldIndex`]): one hashed lookup per event key, unless they already
/// hold the positions of the same keys in the same order (the previous event's, as a
/// log's events mostly are), which costs a comparison of the key lists.
fn index_keys(event: &Event, names: &[String], index: &FieldIndex, scratch: &mut Scratch) {
    let Scratch {
        exact,
        folded,
        found,
        key: lower,
        keyed_by,
        keyed,
        ..
    } = scratch;
    if *keyed_by == index.id && event.fields.keys().eq(keyed.iter()) {
        return;
    }
    for id in found.drain(..) {
        for table in [&mut *exact, &mut *folded] {
            if let Some(p) = table.get_mut(id as usize) {
                *p = NOT_LOADED;
            }
        }
    }
    // A pass that does not finish leaves no key list to be trusted.
    *keyed_by = UNKEYED;
    for (at, key) in event.fields.keys().enumerate() {
        lower.clear();
        lower.push_str(key);
        lower.make_ascii_lowercase();
        let Some(ids) = index.by_lower.get(lower.as_str()) else {
            continue;
        };
        for &id in ids {
            let spelled = names.get(id as usize).is_some_and(|n| n == key);
            let table = if spelled { &mut *exact } else { &mut *folded };
            if let Some(slot) = table.get_mut(id as usize)
                && *slot == NOT_LOADED
            {
                *slot = at as u32;
                found.push(id);
            }
        }
    }
    // The key list kept in place (its strings' room reused) for the next comparison.
    keyed.truncate(event.fields.len());
    for (at, key) in event.fields.keys().enumerate() {
        match keyed.get_mut(at) {
            Some(kept) => {
                kept.clear();
                kept.push_str(key);
            }
            None => keyed.push(key.clone()),
        }
    }
    *keyed_by = index.id;
}

/// [`Scratch::keyed_by`] of no index ([`FieldIndex::new`] counts from 1).
const UNKEYED: u64 = u64::MAX;

/// Cache position meaning "not loaded yet".
const NOT_LOADED: u32 = u32::MAX;

/// Per-event cache of looked-up fields.
struct Ctx<'e, 's> {
    event: &'e Event,
    names: &'e [String],
    index: &'e FieldIndex,
    /// Whether `scratch.exact`/`folded` hold this event's keys yet.
    indexed: bool,
    /// The event's top-level values in key order, once indexed.
    by_position: Vec<&'e Value>,
    vals: Vec<Val<'e>>,
    scratch: &'s mut Scratch,
    keywords: Option<usize>,
    /// Whether `scratch.joined` holds this event's keyword values.
    joined: bool,
    /// The event's position among the prepared events ([`Matcher::prepare`]).
    prepared: Option<usize>,
}

impl<'e, 's> Ctx<'e, 's> {
    fn new(
        event: &'e Event,
        names: &'e [String],
        index: &'e FieldIndex,
        scratch: &'s mut Scratch,
    ) -> Self {
        for table in [
            &mut scratch.position,
            &mut scratch.exact,
            &mut scratch.folded,
        ] {
            if table.len() < names.len() {
                table.resize(names.len(), NOT_LOADED);
            }
        }
        scratch.slots.clear();
        scratch.bits.clear();
        // Reuse the buffer's allocation under this event's lifetime (it is empty).
        let vals = recycle(std::mem::take(&mut scratch.vals));
        let prepared = scratch.pre.find(index, event);
        Ctx {
            event,
            names,
            index,
            indexed: false,
            by_position: recycle(std::mem::take(&mut scratch.by_position)),
            vals,
            scratch,
            keywords: None,
            joined: false,
            prepared,
        }
    }

    /// Resets the scratch for the next event and gives back the value buffer.
    fn finish(mut self) {
        for id in self.scratch.loaded.drain(..) {
            if let Some(p) = self.scratch.position.get_mut(id as usize) {
                *p = NOT_LOADED;
            }
        }
        // `exact` and `folded` stay for the next event (see `index_keys`).
        self.vals.clear();
        self.scratch.vals = recycle(std::mem::take(&mut self.vals));
        self.by_position.clear();
        self.scratch.by_position = recycle(std::mem::take(&mut self.by_position));
    }

    fn slot(&self, pos: usize) -> Slot {
        self.scratch.slots.get(pos).copied().unwrap_or_default()
    }

    fn values(&self, pos: usize) -> &[Val<'e>] {
        let slot = self.slot(pos);
        self.vals
            .get(slot.start as usize..slot.end as usize)
            .unwrap_or(&[])
    }

    /// The cache position of field `id`, if loaded.
    fn position(&self, id: u32) -> Option<usize> {
        self.scratch
            .position
            .get(id as usize)
            .copied()
            .filter(|p| *p != NOT_LOADED)
            .map(|p| p as usize)
    }

    /// The cache position of field `id`, looking it up on first use.
    fn load(&mut self, id: u32) -> usize {
        if let Some(pos) = self.position(id) {
            return pos;
        }
        let start = self.vals.len() as u32;
        let mut exists = false;
        let vals = &mut self.vals;
        let mut push = |v| {
            if let Some(val) = Val::from_json(v) {
                vals.push(val);
            }
        };
        if self.index.is_indexed(id) {
            if !self.indexed {
                index_keys(self.event, self.names, self.index, self.scratch);
                self.by_position.extend(self.event.fields.values());
                self.indexed = true;
            }
            let at = [&self.scratch.exact, &self.scratch.folded]
                .into_iter()
                .filter_map(|table| table.get(id as usize).copied())
                .find(|p| *p != NOT_LOADED);
            if let Some(value) = at.and_then(|at| self.by_position.get(at as usize)) {
                trustpath_event::fan_out(value, &mut push);
                exists = true;
            }
        } else if let Some(name) = self.names.get(id as usize) {
            exists = self.event.for_each_value(name, &mut push);
        }
        self.scratch.slots.push(Slot {
            id,
            exists,
            start,
            end: self.vals.len() as u32,
            bits: None,
        });
        let pos = self.scratch.slots.len() - 1;
        if let Some(p) = self.scratch.position.get_mut(id as usize) {
            *p = pos as u32;
            self.scratch.loaded.push(id);
        }
        pos
    }

    /// The cache position of every scalar value in the event (keyword search).
    fn load_keywords(&mut self) -> usize {
        if let Some(pos) = self.keywords {
            return pos;
        }
        let start = self.vals.len() as u32;
        let vals = &mut self.vals;
        for value in self.event.fields.values() {
            for_each_scalar(value, &mut |scalar| vals.extend(Val::from_json(scalar)));
        }
        self.scratch.slots.push(Slot {
            id: NOT_LOADED,
            exists: true,
            start,
            end: self.vals.len() as u32,
            bits: None,
        });
        let pos = self.scratch.slots.len() - 1;
        self.keywords = Some(pos);
        pos
    }

    /// The event's every scalar value ([`for_each_scalar`], as [`Ctx::load_keywords`]
    /// finds them) but the ASCII ones shorter than `min` bytes
    /// ([`Matcher::keyword_min`]), each in lower case as the grouped needles are searched
    /// for in it ([`push_joined`]), joined by [`JOIN`]: made once per event, from the
    /// event's map (the values are not kept in the event's context).
    fn keywords_joined(&mut self, min: usize) -> &[u8] {
        if !self.joined {
            let joined = &mut self.scratch.joined;
            joined.clear();
            for value in self.event.fields.values() {
                for_each_scalar(value, &mut |scalar| {
                    if let Some(val) = Val::from_json(scalar) {
                        push_joined(joined, val.text(), min);
                    }
                });
            }
            self.joined = true;
        }
        &self.scratch.joined
    }

    /// The range of [`Scratch::bits`] holding the literal bits of the field at `pos`
    /// (scanning it on first use).
    fn scanned(&mut self, pos: usize, table: &FieldTable) -> (usize, usize) {
        if let Some((start, end)) = self.slot(pos).bits {
            return (start as usize, end as usize);
        }
        let start = self.scratch.bits.len();
        let end = start + table.bits.div_ceil(64);
        self.scratch.bits.resize(end, 0);
        let slot = self.slot(pos);
        let values = self
            .vals
            .get(slot.start as usize..slot.end as usize)
            .unwrap_or(&[]);
        let Scratch {
            bits, lower, pre, ..
        } = &mut *self.scratch;
        if let Some(words) = bits.get_mut(start..end) {
            match self.prepared {
                Some(i) => {
                    pre.note(slot.id);
                    match pre.bits(i, slot.id) {
                        Some(ahead) if ahead.len() == words.len() => {
                            words.copy_from_slice(ahead);
                        }
                        _ => scan(table, values, words, lower),
                    }
                }
                None => scan(table, values, words, lower),
            }
        }
        if let Some(s) = self.scratch.slots.get_mut(pos) {
            s.bits = Some((start as u32, end as u32));
        }
        (start, end)
    }

    /// The range of [`Scratch::bits`] of field `id`'s literal tests (empty without a table).
    fn bits(&mut self, id: u32, tables: &[LazyTable]) -> (usize, usize) {
        let pos = self.load(id);
        let slot = self.slot(pos);
        if slot.start == slot.end {
            return (0, 0); // no values: no literal test can hold (and no table to build)
        }
        match tables.get(id as usize).and_then(LazyTable::get) {
            Some(table) => self.scanned(pos, table),
            None => (0, 0),
        }
    }

    /// Whether the event has a value in field `id`.
    fn has_values(&mut self, id: u32) -> bool {
        let pos = self.load(id);
        !self.values(pos).is_empty()
    }

    fn event_id(&mut self, id: u32) -> Option<u64> {
        let pos = self.load(id);
        self.values(pos).first().and_then(|v| {
            v.number
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .map(|n| n as u64)
                .or_else(|| v.text().trim().parse().ok())
        })
    }

    /// The id of the event's channel among `channels` (lower-cased names).
    fn channel(&mut self, id: u32, channels: &[String]) -> Option<u32> {
        let pos = self.load(id);
        let first = self.values(pos).first()?;
        channels
            .iter()
            .position(|c| first.eq_lower(c))
            .map(|i| i as u32)
    }
}

/// Derives a branch's prefilter: literal bits of which one must hold for the condition
/// to be true (`None` when no such set exists, e.g. under `not` or with regexes).
struct Prefilter<'a> {
    detection: &'a Detection,
    slots: &'a [u32],
    values: &'a [Option<SharedValues>],
    builders: &'a HashMap<u32, TableBuilder>,
}

impl Prefilter<'_> {
    fn expr(&self, expr: &Expr) -> Option<Vec<(u32, u32)>> {
        match expr {
            Expr::Search(i) => self.search(self.detection.searches.get(*i)?),
            Expr::Not(_) => None,
            Expr::And(list) => self.most_selective(list.iter().filter_map(|e| self.expr(e))),
            Expr::Or(list) => union(list.iter().map(|e| self.expr(e))),
            Expr::AtLeast(_, list) => union(list.iter().map(|i| self.expr(&Expr::Search(*i)))),
        }
    }

    /// Adds to `out` sets of (field, bit) of which one must hold, every set, for `expr`
    /// to be true: each conjunct of an `and`, each item of a one-alternative search (each
    /// group of an `|all` item), for a disjunction (`1 of selection_*`, a search of
    /// several maps) the unions of one set of each disjunct ([`either`]), and
    /// [`Prefilter::expr`]'s set for anything else. What cannot be reduced to literal
    /// bits (`not`, regexes without anchors, `null`) adds nothing, so a set is only ever
    /// a necessary condition.
    fn clauses(&self, expr: &Expr, out: &mut Vec<Vec<(u32, u32)>>) {
        match expr {
            Expr::And(list) => list.iter().for_each(|e| self.clauses(e, out)),
            Expr::Search(i) => {
                let Some(search) = self.detection.searches.get(*i) else {
                    return;
                };
                match search.alternatives.as_slice() {
                    [items] => items.iter().for_each(|item| self.item_clauses(item, out)),
                    alternatives => {
                        let parts = alternatives.iter().map(|items| {
                            let mut sets = Vec::new();
                            items
                                .iter()
                                .for_each(|item| self.item_clauses(item, &mut sets));
                            sets
                        });
                        if !either(parts.collect(), out) {
                            out.extend(self.search(search));
                        }
                    }
                }
            }
            Expr::Or(list) => self.disjunction(expr, list, out),
            Expr::AtLeast(1, list) => {
                let list: Vec<Expr> = list.iter().map(|i| Expr::Search(*i)).collect();
                self.disjunction(expr, &list, out);
            }
            other => out.extend(self.expr(other)),
        }
    }

    /// [`Prefilter::clauses`] of `expr`, the disjunction of `list`.
    fn disjunction(&self, expr: &Expr, list: &[Expr], out: &mut Vec<Vec<(u32, u32)>>) {
        let parts = list
            .iter()
            .map(|e| {
                let mut sets = Vec::new();
                self.clauses(e, &mut sets);
                sets
            })
            .collect();
        if !either(parts, out) {
            out.extend(self.expr(expr));
        }
    }

    fn item_clauses(&self, item: &Item, out: &mut Vec<Vec<(u32, u32)>>) {
        let Some((field, shared)) = self.shared(item) else {
            return;
        };
        out.extend(shared.eval.iter().filter_map(|any| any.bits(field)));
    }

    /// The field and shared literal tests of a field item that holds only through them
    /// (not one that also holds on a missing field).
    fn shared(&self, item: &Item) -> Option<(u32, &SharedValues)> {
        let Subject::Field(slot) = item.subject else {
            return None;
        };
        let field = *self.slots.get(slot)?;
        let shared = self.values.get(item.index)?.as_ref()?;
        (!shared.has_null).then_some((field, shared))
    }

    fn search(&self, search: &Search) -> Option<Vec<(u32, u32)>> {
        union(
            search
                .alternatives
                .iter()
                .map(|items| self.most_selective(items.iter().filter_map(|item| self.item(item)))),
        )
    }

    fn item(&self, item: &Item) -> Option<Vec<(u32, u32)>> {
        let (field, shared) = self.shared(item)?;
        self.most_selective(shared.eval.iter().filter_map(|any| any.bits(field)))
    }

    /// Of sets of bits each of which must hold (one bit of each), the one fewest events
    /// are likely to have a bit of, by the lengths of their needles ([`selectivity`]:
    /// `.exe` ends most images, `\edrfreeze` few). Whichever is taken is a necessary
    /// condition: the choice changes which branches are evaluated, never what matches.
    fn most_selective(
        &self,
        sets: impl Iterator<Item = Vec<(u32, u32)>>,
    ) -> Option<Vec<(u32, u32)>> {
        let score = |set: &Vec<(u32, u32)>| {
            selectivity(set.iter().map(|&(field, bit)| {
                self.builders
                    .get(&field)
                    .and_then(|b| b.bit_len.get(bit as usize))
                    .map_or(0, |&len| len as usize)
            }))
        };
        // The first of equally selective sets.
        sets.map(|set| (score(&set), set))
            .reduce(|best, next| if next.0 > best.0 { next } else { best })
            .map(|(_, set)| set)
    }
}

/// Most sets one disjunction adds ([`either`]).
const MAX_EITHER: usize = 16;

/// The sets of a disjunction from each disjunct's `parts` (sets each of which must hold
/// for it): every union of one set of each disjunct, added to `out` (`(a1 and a2) or b`
/// needs `a1 or b` and `a2 or b`: `1 of selection_*` where `selection_1` pairs a common
/// `Image` needle with rare `CommandLine` ones is then dropped on its `CommandLine`
/// bits). False, adding nothing, when a disjunct has no set (it may hold on any event)
/// or there would be more than [`MAX_EITHER`] unions.
fn either(parts: Vec<Vec<Vec<(u32, u32)>>>, out: &mut Vec<Vec<(u32, u32)>>) -> bool {
    if parts.is_empty() || parts.iter().any(Vec::is_empty) {
        return false;
    }
    let count = parts
        .iter()
        .try_fold(1usize, |n, part| n.checked_mul(part.len()));
    if count.is_none_or(|n| n > MAX_EITHER) {
        return false;
    }
    let mut unions: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
    for part in &parts {
        unions = unions
            .iter()
            .flat_map(|u| {
                part.iter().map(move |set| {
                    let mut next = u.clone();
                    next.extend_from_slice(set);
                    next.sort_unstable();
                    next.dedup();
                    next
                })
            })
            .collect();
    }
    out.extend(unions);
    true
}

/// [`Prefilter::clauses`] as word masks, without the sets that hold the prefilter's
/// own (it held for the branch to be a candidate), empty sets and repeats.
fn as_masks(clauses: Vec<Vec<(u32, u32)>>, prefilter: Option<&Vec<(u32, u32)>>) -> Box<[Clause]> {
    let mut out: Vec<Clause> = Vec::new();
    for mut clause in clauses {
        clause.sort_unstable();
        clause.dedup();
        // A clause holding every bit of the prefilter holds for every candidate.
        let implied = prefilter.is_some_and(|p| p.iter().all(|b| clause.binary_search(b).is_ok()));
        if clause.is_empty() || implied {
            continue;
        }
        let mut masks: Vec<((u32, u32), u64)> = Vec::new();
        for (field, bit) in clause {
            set_bit(&mut masks, (field, bit / 64), bit);
        }
        let masks: Clause = masks
            .into_iter()
            .map(|((field, word), mask)| (field, word, mask))
            .collect();
        if !out.contains(&masks) {
            out.push(masks);
        }
    }
    out.into()
}

/// Sets `bit`'s place (`bit % 64`) in the mask kept under `word` (a word of a field's
/// bits, identified as the caller needs), adding the word when it is new.
fn set_bit<K: PartialEq>(masks: &mut Vec<(K, u64)>, word: K, bit: u32) {
    let mask = 1u64 << (bit % 64);
    match masks.iter_mut().find(|(w, _)| *w == word) {
        Some((_, m)) => *m |= mask,
        None => masks.push((word, mask)),
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
                    .map(|p| {
                        let literal = match p {
                            Pattern::Str(s) => s.literal(),
                            _ => None,
                        };
                        if let Some((position, needle)) = literal {
                            return Check::Bit(builder.bit(position, needle));
                        }
                        match p.anchors() {
                            [] => Check::Own(Box::new(p.clone())),
                            anchors => Check::Gated(
                                anchors
                                    .iter()
                                    .map(|a| builder.bit(Some(Position::Contains), a))
                                    .collect(),
                                Box::new(p.clone()),
                            ),
                        }
                    })
                    .collect()
            })
            .collect();
        let groups: Vec<Vec<Check>> = groups;
        let eval = if test.all {
            groups.into_iter().map(Any::new).collect()
        } else {
            vec![Any::new(groups.into_iter().flatten())]
        };
        if let Some(slot) = out.get_mut(item.index) {
            *slot = Some(SharedValues {
                has_null: test.has_null,
                eval,
            });
        }
    }
    out
}

/// Calls `f` with every scalar below `value`, arrays and objects walked in order, nulls
/// left out: the keyword values of an event ([`Ctx::load_keywords`],
/// [`Ctx::keywords_joined`]).
fn for_each_scalar<'e>(value: &'e Value, f: &mut impl FnMut(&'e Value)) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| for_each_scalar(v, f)),
        Value::Object(map) => map.values().for_each(|v| for_each_scalar(v, f)),
        Value::Null => {}
        scalar => f(scalar),
    }
}

/// Appends [`JOIN`] and `text` in lower case, as [`Val::lower`] gives it (ASCII text
/// lower-cased in place), unless `text` is ASCII and shorter than `min` bytes: no needle
/// that long is in it, and a needle found in the buffer lies within one value (none
/// holds [`JOIN`]). A text that is not ASCII is always kept: lower-casing can change
/// its length.
fn push_joined(joined: &mut Vec<u8>, text: &str, min: usize) {
    if text.is_ascii() {
        if text.len() < min {
            return;
        }
        joined.push(JOIN);
        let from = joined.len();
        joined.extend_from_slice(text.as_bytes());
        if let Some(added) = joined.get_mut(from..) {
            added.make_ascii_lowercase();
        }
    } else {
        joined.push(JOIN);
        joined.extend_from_slice(text.to_lowercase().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::{LoadOptions, RuleSet};

    fn matcher(detection: &str) -> super::Matcher {
        let body: String = detection.lines().map(|l| format!("  {l}\n")).collect();
        let yaml = format!("title: t\nid: r1\nlogsource:\n  product: windows\ndetection:\n{body}");
        let (set, errors) = RuleSet::from_str("test.yml", &yaml, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        set.compile()
    }

    /// The prefilter's (field name, bit) pairs of the only branch.
    fn prefilter(m: &super::Matcher) -> Vec<(&str, u32)> {
        let branch = m.branches.first().unwrap();
        let set = branch.prefilter.as_ref().unwrap();
        set.iter()
            .map(|&(field, bit)| (m.fields[field as usize].as_str(), bit))
            .collect()
    }

    #[test]
    fn a_disjunction_of_conjunctions_is_checked_on_every_conjunct() {
        // SigmaHQ's path-traversal rule: `selection_1` pairs `Image|contains: \Windows\`
        // (most processes) with rare `CommandLine` needles, `selection_2` is one rare
        // `CommandLine` needle. The prefilter alone (one set per selection) let 74 % of
        // the corpus through; the clause `CommandLine` (either selection's needles)
        // drops them before the rule is evaluated.
        let m = matcher(
            "selection_1:\n  Image|contains: '\\Windows\\'\n  CommandLine|contains:\n    - '\\..\\Windows\\'\n    - '\\..\\System32\\'\n    - '\\..\\..\\'\nselection_2:\n  CommandLine|contains: '.exe\\..\\'\nfilter:\n  CommandLine|contains: 'googledrivesync'\ncondition: 1 of selection_* and not filter",
        );
        let branch = m.branches.first().unwrap();
        let command_line = m.field_ids["CommandLine"];
        let only_command_line: Vec<u32> = branch
            .clauses
            .iter()
            .filter(|clause| clause.iter().all(|&(field, ..)| field == command_line))
            .map(|clause| clause.iter().map(|&(.., mask)| mask.count_ones()).sum())
            .collect();
        assert_eq!(only_command_line, [4], "{:?}", branch.clauses);
        // A disjunct that may hold on any event (a filter under `not`) leaves no clause.
        let m = matcher(
            "selection:\n  CommandLine|contains: 'abcdef'\nfilter:\n  Image|endswith: '\\x.exe'\ncondition: selection or not filter",
        );
        let branch = m.branches.first().unwrap();
        assert!(branch.clauses.is_empty() && branch.prefilter.is_none());
    }

    #[test]
    fn prefilter_takes_the_longest_needles_of_a_conjunction_not_the_fewest() {
        // SigmaHQ's EDR-Freeze rule: `Image|endswith: .exe` is one bit, set for nearly
        // every process; the two `contains` needles are two bits, rarely set. Taking the
        // fewest bits made the rule a candidate on 98.6 % of events.
        let m = matcher(
            "selection_img:\n  Image|contains:\n    - '\\EDR-Freeze'\n    - '\\EDRFreeze'\n  Image|endswith: '.exe'\nselection_hash:\n  Hashes|contains: 'IMPHASH=1195F7935954A2CD'\ncondition: 1 of selection_*",
        );
        let mut fields: Vec<&str> = prefilter(&m).iter().map(|(f, _)| *f).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["Hashes", "Image", "Image"]);
        // Equally long shortest needles: the fewer bits.
        let m = matcher(
            "selection:\n  Image|endswith:\n    - '\\aaaa.exe'\n    - '\\bbbb.exe'\n  CommandLine|contains: ' --zzzzz '\ncondition: selection",
        );
        assert_eq!(prefilter(&m).len(), 1);
        assert_eq!(prefilter(&m)[0].0, "CommandLine");
    }
}
