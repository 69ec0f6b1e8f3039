//! Sigma values and modifiers, compiled to value tests ([`Pattern`]).
//!
//! A detection item `Field|mod1|mod2: value(s)` becomes a value test
//! (`detection::ValueTest`): the value transformations (`expand`, `windash`,
//! `utf16*`/`wide`, `base64`, `base64offset`) are applied in the order written, the
//! match modifiers (`contains`, `startswith`, `endswith`) wrap the result in wildcards,
//! and the final wildcard string is compiled to the cheapest test that implements it
//! (exact, prefix, suffix, substring with a precompiled `memmem` finder, or an anchored
//! regex for general wildcards). Strings are
//! case-insensitive unless `cased`: needles are lower-cased once here and compared with
//! the per-event lower-cased field values.

use crate::error::RuleProblem;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ipnet::IpNet;
use memchr::memmem;
use regex::{Regex, RegexBuilder};
use serde_json::Value;
use std::collections::BTreeMap;

/// One character of a Sigma wildcard string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    /// A literal character.
    Char(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Parses Sigma string escapes: `\*`, `\?`, `\\` are literals; any other `\` is literal.
fn parse_glob(s: &str) -> Vec<Glob> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push(Glob::Char(next));
                }
                _ => out.push(Glob::Char('\\')),
            },
            '*' => out.push(Glob::Star),
            '?' => out.push(Glob::One),
            other => out.push(Glob::Char(other)),
        }
    }
    out
}

/// The text of a glob with wildcards rendered as their characters (for encoders).
fn glob_text(glob: &[Glob]) -> String {
    glob.iter()
        .map(|g| match g {
            Glob::Char(c) => *c,
            Glob::Star => '*',
            Glob::One => '?',
        })
        .collect()
}

fn literal(s: &str) -> Vec<Glob> {
    s.chars().map(Glob::Char).collect()
}

/// A value in the middle of the transformation chain.
#[derive(Debug, Clone)]
enum Working {
    Glob(Vec<Glob>),
    Bytes(Vec<u8>),
}

impl Working {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Working::Glob(g) => glob_text(g).into_bytes(),
            Working::Bytes(b) => b.clone(),
        }
    }

    fn text(&self) -> String {
        match self {
            Working::Glob(g) => glob_text(g),
            Working::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    fn into_glob(self) -> Vec<Glob> {
        match self {
            Working::Glob(g) => g,
            Working::Bytes(b) => literal(&String::from_utf8_lossy(&b)),
        }
    }
}

/// A comparison operator for `gt`/`gte`/`lt`/`lte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Gt => left > right,
            CmpOp::Gte => left >= right,
            CmpOp::Lt => left < right,
            CmpOp::Lte => left <= right,
        }
    }
}

/// How a string needle is compared.
#[derive(Debug, Clone)]
pub(crate) enum StrKind {
    /// Whole value equals the needle.
    Exact(String),
    /// Value starts with the needle.
    Prefix(String),
    /// Value ends with the needle.
    Suffix(String),
    /// Value contains the needle.
    Contains(Box<memmem::Finder<'static>>),
    /// Any value (`*`).
    Any,
    /// General wildcard pattern, compiled to an anchored regex.
    Glob(Regex),
}

/// A compiled string test.
#[derive(Debug, Clone)]
pub(crate) struct StrPattern {
    /// Compare with the original text instead of the lower-cased one.
    pub cased: bool,
    /// The comparison.
    pub kind: StrKind,
    /// For a general wildcard pattern that is not `cased`: its longest run of literal
    /// characters (lower-cased, at least [`MIN_ANCHOR`] bytes), which every matching
    /// value contains. The matcher tests it with the field's shared automaton before it
    /// runs the pattern's regex, and uses it as the rule's prefilter.
    pub anchor: Option<String>,
}

/// Shortest glob anchor worth a needle in a shared automaton (shorter ones match
/// nearly every value and would only slow the scan).
const MIN_ANCHOR: usize = 3;

impl StrPattern {
    /// Whether `text` (already lower-cased unless `cased`) matches.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.kind {
            StrKind::Exact(n) => text == n,
            StrKind::Prefix(n) => text.starts_with(n.as_str()),
            StrKind::Suffix(n) => text.ends_with(n.as_str()),
            StrKind::Contains(f) => f.find(text.as_bytes()).is_some(),
            StrKind::Any => true,
            StrKind::Glob(re) => re.is_match(text),
        }
    }

    /// The case-insensitive literal test this is, if it is one with a non-empty needle:
    /// (position, needle), where position `None` means whole-value equality.
    pub fn literal(&self) -> Option<(Option<Position>, &str)> {
        if self.cased {
            return None;
        }
        let (position, needle) = match &self.kind {
            StrKind::Exact(n) => (None, n.as_str()),
            StrKind::Prefix(n) => (Some(Position::Start), n.as_str()),
            StrKind::Suffix(n) => (Some(Position::End), n.as_str()),
            StrKind::Contains(f) => (
                Some(Position::Contains),
                std::str::from_utf8(f.needle()).ok()?,
            ),
            StrKind::Any | StrKind::Glob(_) => return None,
        };
        (!needle.is_empty()).then_some((position, needle))
    }

    /// The needle of a plain substring test, for grouping into one automaton.
    pub fn contains_needle(&self) -> Option<&[u8]> {
        match &self.kind {
            StrKind::Contains(f) if !self.cased => Some(f.needle()),
            _ => None,
        }
    }
}

/// One compiled value test.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// `null`: field missing or null.
    Null,
    /// A (wildcard) string, also matching numbers and booleans by their text.
    Str(StrPattern),
    /// `re`: a regular expression searched in the original text.
    Regex(Box<RegexTest>),
    /// `cidr`: an IP network containing the value.
    Cidr(IpNet),
    /// `gt`/`gte`/`lt`/`lte` against a number (numeric strings count).
    Cmp(CmpOp, f64),
}

impl Pattern {
    /// Substrings (lower-cased) one of which every value this pattern matches contains,
    /// when the pattern is evaluated on its own: a wildcard's [`StrPattern::anchor`], a
    /// regex's [`RegexTest::anchors`]; empty when there are none.
    pub fn anchors(&self) -> &[String] {
        match self {
            Pattern::Str(s) => s.anchor.as_slice(),
            Pattern::Regex(re) => re.anchors.as_deref().unwrap_or_default(),
            Pattern::Null | Pattern::Cidr(_) | Pattern::Cmp(..) => &[],
        }
    }

    /// Whether a present, non-null value matches, given its text, its lower-cased text
    /// and, for JSON numbers, its number (numeric strings are parsed when compared).
    pub fn is_match(&self, text: &str, lower: &str, number: Option<f64>) -> bool {
        match self {
            Pattern::Null => false,
            Pattern::Str(s) => s.is_match(if s.cased { text } else { lower }),
            Pattern::Regex(re) => re.regex.is_match(text),
            Pattern::Cidr(net) => text
                .trim()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| net.contains(&ip)),
            Pattern::Cmp(op, right) => number
                .or_else(|| text.trim().parse::<f64>().ok())
                .is_some_and(|left| op.holds(left, *right)),
        }
    }
}

/// The parsed modifier chain of a detection item.
#[derive(Debug, Clone, Default)]
pub(crate) struct Modifiers {
    /// Value transformations in the order written.
    transforms: Vec<Transform>,
    /// `contains` / `startswith` / `endswith`.
    position: Option<Position>,
    /// `all`: every value must match.
    pub all: bool,
    /// `cased`.
    cased: bool,
    /// `re` with its flags.
    regex: Option<RegexFlags>,
    /// `cidr`.
    cidr: bool,
    /// `gt` and friends.
    cmp: Option<CmpOp>,
    /// `exists`.
    pub exists: bool,
    /// `fieldref`.
    pub fieldref: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    Expand,
    Windash,
    Utf16Le,
    Utf16Be,
    Utf16Bom,
    Base64,
    Base64Offset,
}

/// Where a needle must be found in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Position {
    Contains,
    Start,
    End,
}

#[derive(Debug, Clone, Copy, Default)]
struct RegexFlags {
    insensitive: bool,
    multiline: bool,
    dotall: bool,
}

impl Modifiers {
    /// Parses the modifier names after a field (`contains`, `all`, …).
    pub fn parse(names: &[&str]) -> Result<Modifiers, RuleProblem> {
        let mut m = Modifiers::default();
        for name in names {
            m.add(name)?;
        }
        m.check()?;
        Ok(m)
    }

    fn add(&mut self, name: &str) -> Result<(), RuleProblem> {
        let mut set_position = |p: Position| {
            if self.position.replace(p).is_some() {
                return Err(RuleProblem::schema(
                    "more than one of contains/startswith/endswith on one field",
                ));
            }
            Ok(())
        };
        match name {
            "contains" => set_position(Position::Contains)?,
            "startswith" => set_position(Position::Start)?,
            "endswith" => set_position(Position::End)?,
            "all" => self.all = true,
            "cased" => self.cased = true,
            "re" => self.regex = Some(RegexFlags::default()),
            "i" | "ignorecase" => self.regex_flags()?.insensitive = true,
            "m" | "multiline" => self.regex_flags()?.multiline = true,
            "s" | "dotall" => self.regex_flags()?.dotall = true,
            "cidr" => self.cidr = true,
            "gt" => self.cmp = Some(CmpOp::Gt),
            "gte" => self.cmp = Some(CmpOp::Gte),
            "lt" => self.cmp = Some(CmpOp::Lt),
            "lte" => self.cmp = Some(CmpOp::Lte),
            "exists" => self.exists = true,
            "fieldref" => self.fieldref = true,
            "expand" => self.transforms.push(Transform::Expand),
            "windash" => self.transforms.push(Transform::Windash),
            "utf16le" | "wide" => self.transforms.push(Transform::Utf16Le),
            "utf16be" => self.transforms.push(Transform::Utf16Be),
            "utf16" => self.transforms.push(Transform::Utf16Bom),
            "base64" => self.transforms.push(Transform::Base64),
            "base64offset" => self.transforms.push(Transform::Base64Offset),
            other => {
                return Err(RuleProblem::unsupported(format!(
                    "unknown value modifier '{other}'"
                )));
            }
        }
        Ok(())
    }

    fn regex_flags(&mut self) -> Result<&mut RegexFlags, RuleProblem> {
        self.regex
            .as_mut()
            .ok_or_else(|| RuleProblem::schema("regex flags i/m/s must follow the 're' modifier"))
    }

    /// Rejects combinations that have no meaning.
    fn check(&self) -> Result<(), RuleProblem> {
        let kinds = [
            self.regex.is_some(),
            self.cidr,
            self.cmp.is_some(),
            self.exists,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds > 1 {
            return Err(RuleProblem::schema(
                "re, cidr, gt/gte/lt/lte and exists cannot be combined",
            ));
        }
        if kinds == 1 && (self.position.is_some() || !self.transforms.is_empty()) {
            return Err(RuleProblem::schema(
                "re, cidr, gt/gte/lt/lte and exists cannot be combined with string modifiers",
            ));
        }
        Ok(())
    }

    /// Keyword searches match substrings unless a position or value kind was given.
    pub fn default_contains(&mut self) {
        if self.position.is_none() && self.regex.is_none() && !self.cidr && self.cmp.is_none() {
            self.position = Some(Position::Contains);
        }
    }

    /// Where a `fieldref` value must be found in the field.
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// Whether `cased` was given.
    pub fn cased(&self) -> bool {
        self.cased
    }
}

/// Compiles one YAML value under `mods` into patterns (transformations can fan one value
/// out into several alternatives, which are OR-ed).
pub(crate) fn compile_value(
    value: &Value,
    mods: &Modifiers,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Pattern>, RuleProblem> {
    if value.is_null() {
        return Ok(vec![Pattern::Null]);
    }
    let text = scalar_text(value)?;
    if let Some(flags) = mods.regex {
        let regex = compile_regex(&text, flags)?;
        let anchors = regex_anchors(&text, flags);
        return Ok(vec![Pattern::Regex(Box::new(RegexTest { regex, anchors }))]);
    }
    if mods.cidr {
        let net = text.trim().parse::<IpNet>().map_err(|e| {
            RuleProblem::schema(format!("'{text}' is not a CIDR network for |cidr: {e}"))
        })?;
        return Ok(vec![Pattern::Cidr(net)]);
    }
    if let Some(op) = mods.cmp {
        let number = text.trim().parse::<f64>().map_err(|_| {
            RuleProblem::schema(format!("'{text}' is not a number for |gt/gte/lt/lte"))
        })?;
        return Ok(vec![Pattern::Cmp(op, number)]);
    }
    let start = if value.is_string() {
        Working::Glob(parse_glob(&text))
    } else {
        Working::Glob(literal(&text))
    };
    let mut values = vec![start];
    for transform in &mods.transforms {
        values = apply_transform(*transform, values, placeholders)?;
    }
    values
        .into_iter()
        .map(|w| compile_glob(w.into_glob(), mods.position, mods.cased).map(Pattern::Str))
        .collect()
}

/// The text of a scalar YAML value (numbers and booleans as written).
pub(crate) fn scalar_text(value: &Value) -> Result<String, RuleProblem> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        Value::Array(_) | Value::Object(_) => Err(RuleProblem::schema(
            "a value must be a string, number, boolean or null, not a list or map",
        )),
    }
}

/// A `re` value test.
#[derive(Debug, Clone)]
pub(crate) struct RegexTest {
    /// The compiled expression.
    pub regex: Regex,
    /// Literals one of which every match contains (lower-cased ASCII, at least
    /// [`MIN_ANCHOR`] bytes each): the more selective of the expression's prefix
    /// literals and the literals it requires further on (see `regex_anchors`). The
    /// matcher tests them with the field's shared automaton before it runs the
    /// expression, and uses them as the rule's prefilter.
    pub anchors: Option<Vec<String>>,
}

/// The anchors of a `re` pattern (see [`RegexTest::anchors`]): the better of its prefix
/// literals and the literals one of which it requires anywhere ([`required_literals`]).
/// Both come from the expression parsed with the same flags as the compiled one: with
/// `i`, `(?i)k` also matches the Kelvin sign and `(?i)s` the long s, so a prefix set
/// with a non-ASCII variant gives no anchors, and such a letter is no literal for
/// `required_literals`. The haystack the anchors are searched in is the value
/// lower-cased, so a literal found in the original text is found there.
fn regex_anchors(pattern: &str, flags: RegexFlags) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::Extractor;
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.insensitive)
        .multi_line(flags.multiline)
        .dot_matches_new_line(flags.dotall)
        .build()
        .parse(pattern)
        .ok()?;
    let prefixes = Extractor::new()
        .extract(&hir)
        .literals()
        .and_then(|literals| {
            let mut anchors: Vec<String> = Vec::new();
            for literal in literals {
                let bytes = literal.as_bytes();
                if !bytes.is_ascii() {
                    return None;
                }
                anchors.push(String::from_utf8_lossy(bytes).to_ascii_lowercase());
            }
            Some(anchors)
        });
    let best = [prefixes, required_literals(&hir)]
        .into_iter()
        .flatten()
        .map(|mut set| {
            set.sort_unstable();
            set.dedup();
            set
        })
        .filter(|set| {
            !set.is_empty() && set.len() <= MAX_ANCHORS && set.iter().all(|a| a.len() >= MIN_ANCHOR)
        })
        .reduce(better_anchors)?;
    Some(best)
}

/// The more selective of two anchor sets ([`selectivity`]); `a` when they are equal.
fn better_anchors(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    let score = |set: &[String]| selectivity(set.iter().map(String::len));
    if score(&b) > score(&a) { b } else { a }
}

/// How selective a set of literals one of which must be found is, from their lengths
/// (greater is more selective): the longer its shortest literal (`.exe` is in most
/// command lines, `werfaultsecure` in few), then the fewer literals. A regex's anchors
/// and the matcher's prefilter are chosen by it.
pub(crate) fn selectivity(
    lengths: impl IntoIterator<Item = usize>,
) -> (usize, std::cmp::Reverse<usize>) {
    let (shortest, count) = lengths
        .into_iter()
        .fold((usize::MAX, 0), |(shortest, count), len| {
            (shortest.min(len), count + 1)
        });
    (
        if count == 0 { 0 } else { shortest },
        std::cmp::Reverse(count),
    )
}

/// Literals (ASCII, lower-cased) one of which every match of `hir` contains, wherever
/// in the match: the longest run of literal characters of a concatenation, or what one
/// of its parts requires; for an alternation, the union of what each branch requires.
/// `None` when nothing is required (an empty match, an optional part, a branch without
/// a literal). A character counts as literal when it is one ASCII character or, under
/// `i`, exactly its two ASCII cases (`[Ee]`); `(?i)s` (`[Ssſ]`) breaks a run.
fn required_literals(hir: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(_) | HirKind::Class(_) => hir_literal(hir).map(|t| vec![t]),
        HirKind::Repetition(rep) if rep.min >= 1 => required_literals(&rep.sub),
        HirKind::Repetition(_) => None,
        HirKind::Capture(cap) => required_literals(&cap.sub),
        HirKind::Concat(items) => {
            let mut best: Option<Vec<String>> = None;
            let mut run = String::new();
            let keep = |best: &mut Option<Vec<String>>, set: Vec<String>| {
                *best = Some(match best.take() {
                    Some(old) => better_anchors(old, set),
                    None => set,
                });
            };
            for item in items {
                if let Some(text) = hir_literal(item) {
                    run.push_str(&text);
                    continue;
                }
                if !run.is_empty() {
                    keep(&mut best, vec![std::mem::take(&mut run)]);
                }
                if let Some(set) = required_literals(item) {
                    keep(&mut best, set);
                }
            }
            if !run.is_empty() {
                keep(&mut best, vec![run]);
            }
            best
        }
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(required_literals(branch)?);
            }
            all.sort_unstable();
            all.dedup();
            (all.len() <= MAX_ANCHORS).then_some(all)
        }
    }
}

/// The lower-cased text of a literal or of a class that is one ASCII character or
/// exactly the two ASCII cases of a letter (see [`required_literals`]).
fn hir_literal(hir: &regex_syntax::hir::Hir) -> Option<String> {
    use regex_syntax::hir::{Class, HirKind};
    let pair = |chars: &[(u32, u32)]| -> Option<String> {
        let one = |(a, b): (u32, u32)| (a == b && a < 0x80).then_some(a as u8);
        match chars {
            [single] => one(*single).map(|c| char::from(c).to_ascii_lowercase().to_string()),
            [x, y] => {
                let (x, y) = (one(*x)?, one(*y)?);
                (x.is_ascii_alphabetic() && x != y && x.eq_ignore_ascii_case(&y))
                    .then(|| char::from(x).to_ascii_lowercase().to_string())
            }
            _ => None,
        }
    };
    match hir.kind() {
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0).ok()?;
            text.is_ascii().then(|| text.to_ascii_lowercase())
        }
        HirKind::Class(Class::Unicode(class)) => pair(&ranges(class.ranges(), |r| {
            (u32::from(r.start()), u32::from(r.end()))
        })),
        HirKind::Class(Class::Bytes(class)) => pair(&ranges(class.ranges(), |r| {
            (u32::from(r.start()), u32::from(r.end()))
        })),
        _ => None,
    }
}

/// A class's ranges as (first, last) code points.
fn ranges<R>(ranges: &[R], bounds: impl Fn(&R) -> (u32, u32)) -> Vec<(u32, u32)> {
    ranges.iter().map(bounds).collect()
}

/// `text` lower-cased, when that differs from `text` (upper case or any non-ASCII
/// character): what the matcher and explanations cache per value.
fn lower_if_differs(text: &str) -> Option<String> {
    text.bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
        .then(|| text.to_lowercase())
}

/// `text` lower-cased, made once into `cell` and only when it differs
/// ([`lower_if_differs`]): the matcher's and explanations' per-value cache.
pub(crate) fn cached_lower<'a>(
    cell: &'a std::cell::OnceCell<Option<String>>,
    text: &'a str,
) -> &'a str {
    match cell.get_or_init(|| lower_if_differs(text)) {
        Some(lower) => lower,
        None => text,
    }
}

/// Most anchors a regex may have (beyond, the gate costs more than it saves).
const MAX_ANCHORS: usize = 16;

fn compile_regex(pattern: &str, flags: RegexFlags) -> Result<Regex, RuleProblem> {
    RegexBuilder::new(pattern)
        .case_insensitive(flags.insensitive)
        .multi_line(flags.multiline)
        .dot_matches_new_line(flags.dotall)
        .size_limit(1 << 23)
        .build()
        .map_err(|e| {
            RuleProblem::unsupported(format!(
                "regular expression '{pattern}' is not supported by the regex engine: {}",
                first_line(&e.to_string())
            ))
        })
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_owned()
}

fn apply_transform(
    transform: Transform,
    values: Vec<Working>,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Working>, RuleProblem> {
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        match transform {
            Transform::Expand => out.extend(expand(&value.text(), placeholders)?),
            Transform::Windash => out.extend(windash(value.into_glob())),
            Transform::Utf16Le => out.push(Working::Bytes(utf16(&value, false, false))),
            Transform::Utf16Be => out.push(Working::Bytes(utf16(&value, true, false))),
            Transform::Utf16Bom => out.push(Working::Bytes(utf16(&value, false, true))),
            Transform::Base64 => out.push(Working::Glob(literal(&STANDARD.encode(value.bytes())))),
            Transform::Base64Offset => out.extend(
                base64_offsets(&value.bytes())
                    .into_iter()
                    .map(|s| Working::Glob(literal(&s))),
            ),
        }
    }
    Ok(out)
}

/// `%name%` placeholders replaced by every combination of their configured values.
fn expand(
    text: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Working>, RuleProblem> {
    let mut results = vec![String::new()];
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        let values = placeholders.get(name).ok_or_else(|| RuleProblem {
            kind: crate::LoadErrorKind::Placeholder,
            reason: format!("unknown placeholder %{name}% (no values configured for |expand)"),
        })?;
        let prefix = &rest[..start];
        results = results
            .iter()
            .flat_map(|r| values.iter().map(move |v| format!("{r}{prefix}{v}")))
            .collect();
        rest = &rest[start + len + 2..];
    }
    Ok(results
        .into_iter()
        .map(|r| Working::Glob(parse_glob(&format!("{r}{rest}"))))
        .collect())
}

/// The dash characters `windash` substitutes for a leading `-` or `/`.
const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
/// At most this many dash positions are expanded (5^n alternatives).
const WINDASH_MAX_POSITIONS: usize = 4;

/// Every variant with each option dash (a `-`/`/` after a non-word character and before a
/// word character, as pySigma's `\B[-/]\b`) replaced by each Windows dash character.
fn windash(glob: Vec<Glob>) -> Vec<Working> {
    let is_word =
        |g: Option<&Glob>| matches!(g, Some(Glob::Char(c)) if c.is_alphanumeric() || *c == '_');
    let positions: Vec<usize> = (0..glob.len())
        .filter(|&i| matches!(glob[i], Glob::Char('-' | '/')))
        .filter(|&i| {
            !is_word(i.checked_sub(1).and_then(|p| glob.get(p))) && is_word(glob.get(i + 1))
        })
        .take(WINDASH_MAX_POSITIONS)
        .collect();
    let mut variants = vec![glob];
    for pos in positions {
        variants = variants
            .into_iter()
            .flat_map(|v| {
                WINDASH.iter().map(move |dash| {
                    let mut copy = v.clone();
                    copy[pos] = Glob::Char(*dash);
                    copy
                })
            })
            .collect();
    }
    variants.into_iter().map(Working::Glob).collect()
}

fn utf16(value: &Working, big_endian: bool, bom: bool) -> Vec<u8> {
    let text = value.text();
    let mut out = Vec::with_capacity(text.len() * 2 + 2);
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in text.encode_utf16() {
        let bytes = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

/// The three base64 renderings of `value` at byte offsets 0, 1 and 2 of an encoded
/// stream, trimmed to the characters that do not depend on neighbouring bytes.
pub(crate) fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|shift| {
            let mut padded = vec![b' '; shift];
            padded.extend_from_slice(value);
            let encoded = STANDARD.encode(&padded);
            let end = encoded
                .len()
                .saturating_sub(END_TRIM[(value.len() + shift) % 3]);
            encoded.get(START[shift]..end).unwrap_or("").to_owned()
        })
        .collect()
}

/// Compiles a wildcard string (plus the position modifier) to the cheapest test.
fn compile_glob(
    mut glob: Vec<Glob>,
    position: Option<Position>,
    cased: bool,
) -> Result<StrPattern, RuleProblem> {
    match position {
        Some(Position::Contains) => {
            glob.insert(0, Glob::Star);
            glob.push(Glob::Star);
        }
        Some(Position::Start) => glob.push(Glob::Star),
        Some(Position::End) => glob.insert(0, Glob::Star),
        None => {}
    }
    glob.dedup_by(|a, b| *a == Glob::Star && *b == Glob::Star);
    let fold = |s: String| if cased { s } else { s.to_lowercase() };
    let kind = classify(&glob, fold)?;
    let anchor = match kind {
        StrKind::Glob(_) if !cased => longest_run(&glob)
            .map(|run| run.to_lowercase())
            .filter(|run| run.len() >= MIN_ANCHOR),
        _ => None,
    };
    Ok(StrPattern {
        cased,
        kind,
        anchor,
    })
}

/// The longest run of literal characters of a glob (between `*` and `?`).
fn longest_run(glob: &[Glob]) -> Option<String> {
    glob.split(|g| !matches!(g, Glob::Char(_)))
        .max_by_key(|run| run.len())
        .filter(|run| !run.is_empty())
        .and_then(literal_text)
}

/// The text of a glob made only of literal characters (`None` if it has a `*` or `?`).
fn literal_text(glob: &[Glob]) -> Option<String> {
    glob.iter()
        .map(|g| match g {
            Glob::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn classify(glob: &[Glob], fold: impl Fn(String) -> String) -> Result<StrKind, RuleProblem> {
    let lead = glob.first() == Some(&Glob::Star);
    let trail = glob.len() > usize::from(lead) && glob.last() == Some(&Glob::Star);
    let inner = &glob[usize::from(lead)..glob.len() - usize::from(trail)];
    if inner.is_empty() && (lead || trail) {
        return Ok(StrKind::Any);
    }
    if let Some(text) = literal_text(inner) {
        let text = fold(text);
        return Ok(match (lead, trail) {
            (false, false) => StrKind::Exact(text),
            (false, true) => StrKind::Prefix(text),
            (true, false) => StrKind::Suffix(text),
            (true, true) => {
                StrKind::Contains(Box::new(memmem::Finder::new(text.as_bytes()).into_owned()))
            }
        });
    }
    glob_regex(glob, fold).map(StrKind::Glob)
}

fn glob_regex(glob: &[Glob], fold: impl Fn(String) -> String) -> Result<Regex, RuleProblem> {
    let mut pattern = String::from("(?s)^");
    let mut run = String::new();
    let flush = |run: &mut String, pattern: &mut String| {
        if !run.is_empty() {
            pattern.push_str(&regex::escape(&fold(std::mem::take(run))));
        }
    };
    for g in glob {
        match g {
            Glob::Char(c) => run.push(*c),
            Glob::Star => {
                flush(&mut run, &mut pattern);
                pattern.push_str(".*");
            }
            Glob::One => {
                flush(&mut run, &mut pattern);
                pattern.push('.');
            }
        }
    }
    flush(&mut run, &mut pattern);
    pattern.push('$');
    Regex::new(&pattern).map_err(|e| {
        RuleProblem::unsupported(format!("wildcard pattern too large to compile: {e}"))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn anchors(pattern: &str, insensitive: bool) -> Option<Vec<String>> {
        let flags = RegexFlags {
            insensitive,
            ..RegexFlags::default()
        };
        regex_anchors(pattern, flags)
    }

    fn set(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn regex_anchors_are_the_most_selective_required_literals() {
        // A prefix when it is the best literal (lower-cased).
        assert_eq!(anchors("Set-Mailbox\\s", false), set(&["set-mailbox"]));
        assert_eq!(
            anchors("(?:netsh|route)\\s+pr", false),
            set(&["netsh", "route"])
        );
        // Of two sets as selective, the one of fewer literals.
        assert_eq!(anchors("(?:netsh|route)\\s+print", false), set(&["print"]));
        // A longer literal further on beats a short prefix; `(?i)s` breaks a run.
        assert_eq!(
            anchors(r#"(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe"#, false),
            set(&["ecure.exe"])
        );
        assert_eq!(
            anchors(
                r#"(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&.*""#,
                false
            ),
            set(&["environment", "input", "invo"])
        );
        assert_eq!(anchors("(?:\\d+|foo)barbaz", false), set(&["barbaz"]));
        assert_eq!(anchors("(abc)?defg", false), set(&["defg"]));
        assert_eq!(anchors("(?:abcd){2,}x", false), set(&["abcdabcd"]));
        assert_eq!(anchors("\\w(?:abcd){1,3}x", false), set(&["abcd"]));
        // Nothing required, too short, or not ASCII: no anchors.
        assert_eq!(anchors("^$", false), None);
        assert_eq!(anchors("(?:abc)*", false), None);
        assert_eq!(anchors("a.b.c", false), None);
        assert_eq!(anchors("kkkk", true), None);
        assert_eq!(anchors("Δράση\\d+", false), None);
    }

    fn strs(value: &str, mods: &[&str]) -> Vec<StrPattern> {
        let m = Modifiers::parse(mods).unwrap();
        compile_value(&Value::String(value.into()), &m, &BTreeMap::new())
            .unwrap()
            .into_iter()
            .map(|p| match p {
                Pattern::Str(s) => s,
                other => panic!("not a string pattern: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn escapes() {
        let p = &strs(r"a\*b\?c\\d\e", &[])[0];
        assert!(p.is_match(r"a*b?c\d\e"));
        assert!(!p.is_match(r"axb?c\d\e"));
    }

    #[test]
    fn base64offset_matches_every_alignment() {
        let needle = b"http://";
        let alts = base64_offsets(needle);
        assert_eq!(alts, vec!["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]);
        for prefix in ["", "x", "xy"] {
            let data = format!("{prefix}http://evil");
            let encoded = STANDARD.encode(data.as_bytes());
            assert!(
                alts.iter().any(|a| encoded.contains(a.as_str())),
                "{prefix}"
            );
        }
    }

    #[test]
    fn windash_expands_option_dashes_only() {
        let variants = windash(parse_glob(" -enc x-y"));
        assert_eq!(variants.len(), 5);
        let texts: Vec<String> = variants.iter().map(Working::text).collect();
        assert!(texts.contains(&" /enc x-y".to_owned()));
        assert!(texts.contains(&" \u{2015}enc x-y".to_owned()));
    }
}
