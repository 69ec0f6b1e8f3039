//! Loading rule files: folders walked in sorted order, multi-document YAML split at `---`
//! lines (each document keeps its start line), partial success with located errors.

use crate::cache::RuleCache;
use crate::error::{LoadError, LoadErrorKind};
use crate::logsource::Mapping;
use crate::matcher::Matcher;
use crate::rule::{Builder, CorrelationDoc, Parsed, Rule, doc_label};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Index of a rule in [`RuleSet::rules`] (what [`Matcher::matches`] reports).
pub type RuleIndex = usize;

/// Options for loading rules.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Values for `|expand` placeholders (`%name%` -> values).
    pub placeholders: BTreeMap<String, Vec<String>>,
    /// A log-source mapping file that replaces or extends the built-in entries.
    pub mapping: Option<PathBuf>,
    /// A file that keeps parsed rule documents between runs ([`crate::cache`]); `None`
    /// parses every document. Rule files loaded from a path use it, text given to
    /// [`RuleSet::from_str`] does not.
    pub cache: Option<PathBuf>,
}

/// Loaded rules and correlation documents.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Detection rules, in load order (files sorted, documents in file order).
    pub rules: Vec<Rule>,
    /// Correlation documents, untouched.
    pub correlations: Vec<CorrelationDoc>,
    /// Rules that loaded with a caveat (unmapped log source), for `validate`.
    pub warnings: Vec<LoadError>,
}

impl LoadOptions {
    /// Adds the `|expand` placeholder values of a placeholder file (see
    /// [`read_placeholders`]); a name already set is replaced.
    pub fn with_placeholder_file(mut self, path: &Path) -> Result<Self, LoadError> {
        self.placeholders.extend(read_placeholders(path)?);
        Ok(self)
    }
}

/// Reads a placeholder file: the values `|expand` substitutes for `%name%`, in the
/// shape of a pySigma placeholder pipeline's `vars` (other pipeline keys are ignored):
///
/// ```yaml
/// name: our placeholders
/// vars:
///   known_cdcs:            # %known_cdcs%
///     - DC01.corp.example
///     - 10.0.0.10
///   admin_tool: psexec.exe # one value
/// ```
///
/// Values are strings, numbers or booleans (written as text); a rule's value with
/// several placeholders expands to every combination. A placeholder with an empty list
/// makes its values match nothing.
pub fn read_placeholders(path: &Path) -> Result<BTreeMap<String, Vec<String>>, LoadError> {
    let error = |reason: String| LoadError::new(path, None, LoadErrorKind::Placeholder, reason);
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(format!("cannot read placeholder file: {e}")))?;
    parse_placeholders(&text).map_err(error)
}

fn parse_placeholders(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let Some(vars) = doc.get("vars") else {
        return Err("a placeholder file needs a top-level `vars:` map (name -> values)".into());
    };
    let Value::Object(vars) = vars else {
        return Err("`vars` must be a map of placeholder name -> value or list of values".into());
    };
    let mut out = BTreeMap::new();
    for (name, values) in vars {
        let list = match values {
            Value::Array(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let mut texts = Vec::with_capacity(list.len());
        for v in list {
            match v {
                Value::String(s) => texts.push(s.clone()),
                Value::Number(n) => texts.push(n.to_string()),
                Value::Bool(b) => texts.push(b.to_string()),
                _ => {
                    return Err(format!(
                        "placeholder `{name}`: values must be strings, numbers or booleans"
                    ));
                }
            }
        }
        out.insert(name.clone(), texts);
    }
    Ok(out)
}

impl RuleSet {
    /// Loads every `.yml`/`.yaml` under the paths (files or folders, recursive, sorted).
    ///
    /// Bad documents become [`LoadError`]s and loading goes on.
    pub fn load(paths: &[PathBuf], opts: &LoadOptions) -> (RuleSet, Vec<LoadError>) {
        use rayon::prelude::*;
        // The folders are walked while the mapping is parsed and the cache read.
        let ((mut loader, cache), (files, file_errors)) = rayon::join(
            || {
                (
                    Loader::new(opts),
                    opts.cache.as_deref().map(RuleCache::open),
                )
            },
            || {
                let mut errors = Vec::new();
                let files = rule_files(paths, &mut errors);
                (files, errors)
            },
        );
        loader.cache = cache;
        loader.errors.extend(file_errors);
        // Files are read, parsed and compiled on every core; what each gave is then
        // taken in file order (duplicate ids, warnings), so the result never depends on
        // the thread count.
        let parsed: Vec<Vec<Outcome>> = files
            .par_iter()
            .map(|file| match std::fs::read(file) {
                Ok(bytes) => loader.parse_text(file, &String::from_utf8_lossy(&bytes)),
                Err(e) => vec![Outcome::Error(LoadError::new(
                    file,
                    None,
                    LoadErrorKind::Io,
                    format!("cannot read rule file: {e}"),
                ))],
            })
            .collect();
        for outcome in parsed.into_iter().flatten() {
            loader.apply(outcome);
        }
        if let Some(cache) = loader.cache.take() {
            cache.save();
        }
        loader.finish()
    }

    /// Loads rules from YAML text; `name` stands for the file name in messages.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(name: &str, yaml: &str, opts: &LoadOptions) -> (RuleSet, Vec<LoadError>) {
        let mut loader = Loader::new(opts);
        loader.load_text(Path::new(name), yaml);
        loader.finish()
    }

    /// Appends another set (built-in rules + user rules). Indices of `self` stay valid.
    pub fn extend(&mut self, other: RuleSet) {
        self.rules.extend(other.rules);
        self.correlations.extend(other.correlations);
        self.warnings.extend(other.warnings);
    }

    /// Compiles the set into a [`Matcher`]. Infallible: rules were compiled at load.
    pub fn compile(&self) -> Matcher {
        Matcher::new(&self.rules)
    }

    /// The first rule whose id or name is `id_or_name`.
    pub fn find(&self, id_or_name: &str) -> Option<RuleIndex> {
        self.rules.iter().position(|r| {
            r.id.as_deref() == Some(id_or_name) || r.name.as_deref() == Some(id_or_name)
        })
    }
}

/// Loads the rules and returns every error and warning, sorted by file and line
/// (what `trustpath validate` prints).
pub fn validate(paths: &[PathBuf], opts: &LoadOptions) -> Vec<LoadError> {
    let (set, mut errors) = RuleSet::load(paths, opts);
    errors.extend(set.warnings);
    errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    errors
}

/// Every rule file under `paths`, sorted within each folder.
fn rule_files(paths: &[PathBuf], errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        if !path.exists() {
            errors.push(LoadError::new(
                path,
                None,
                LoadErrorKind::Io,
                "no such file or folder",
            ));
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            match entry {
                Ok(e) if e.file_type().is_file() && is_yaml(e.path()) => {
                    files.push(e.into_path());
                }
                Ok(_) => {}
                Err(e) => errors.push(LoadError::new(
                    e.path().unwrap_or(path),
                    None,
                    LoadErrorKind::Io,
                    e.to_string(),
                )),
            }
        }
    }
    files
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

struct Loader<'o> {
    opts: &'o LoadOptions,
    mapping: Mapping,
    set: RuleSet,
    errors: Vec<LoadError>,
    ids: HashSet<String>,
    cache: Option<RuleCache>,
}

impl<'o> Loader<'o> {
    fn new(opts: &'o LoadOptions) -> Self {
        let mut errors = Vec::new();
        let mapping = match Mapping::load(opts.mapping.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                errors.push(e);
                Mapping::load(None).unwrap_or_else(|_| Mapping::empty())
            }
        };
        Loader {
            opts,
            mapping,
            set: RuleSet::default(),
            errors,
            ids: HashSet::new(),
            cache: None,
        }
    }

    fn finish(self) -> (RuleSet, Vec<LoadError>) {
        (self.set, self.errors)
    }

    fn load_text(&mut self, file: &Path, text: &str) {
        for outcome in self.parse_text(file, text) {
            self.apply(outcome);
        }
    }

    /// What each document of a file gives; pure, so files can be parsed in parallel.
    fn parse_text(&self, file: &Path, text: &str) -> Vec<Outcome> {
        let docs = split_documents(text);
        let collection = docs
            .iter()
            .find_map(|d| sigma1_action(d.text).map(|a| (d.line, a)));
        let mut out = Vec::with_capacity(docs.len());
        for doc in docs {
            if let Some((line, action)) = &collection
                && doc.line != *line
            {
                out.push(Outcome::Error(LoadError::new(
                    file,
                    Some(doc.line),
                    LoadErrorKind::Unsupported,
                    format!(
                        "part of a Sigma 1.0 rule collection (action: {action} at line {line}); write each rule as a standalone document"
                    ),
                )));
                continue;
            }
            out.push(self.parse_document(file, doc));
        }
        out
    }

    fn apply(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Error(e) => self.errors.push(e),
            Outcome::Parsed(Parsed::Correlation(c)) => self.set.correlations.push(c),
            Outcome::Parsed(Parsed::Rule(rule)) => self.add_rule(*rule),
        }
    }

    /// A document's YAML, parsed (and recorded in the cache, when there is one).
    fn parse_yaml(&self, text: &str) -> Result<Value, serde_norway::Error> {
        let value = serde_norway::from_str(text)?;
        if let Some(cache) = &self.cache {
            cache.put(text, &value);
        }
        Ok(value)
    }

    fn parse_document(&self, file: &Path, doc: Document<'_>) -> Outcome {
        let cached = self.cache.as_ref().and_then(|c| c.get(doc.text));
        let value: Value = match cached.map_or_else(|| self.parse_yaml(doc.text), Ok) {
            Ok(v) => v,
            Err(e) => {
                let line = e.location().map_or(doc.line, |l| doc.line + l.line() - 1);
                return Outcome::Error(LoadError::new(
                    file,
                    Some(line),
                    LoadErrorKind::Yaml,
                    yaml_reason(&e),
                ));
            }
        };
        let Value::Object(map) = value else {
            return Outcome::Error(LoadError::new(
                file,
                Some(doc.line),
                LoadErrorKind::Schema,
                "a Sigma document must be a YAML map",
            ));
        };
        let label = doc_label(&map);
        let builder = Builder {
            mapping: &self.mapping,
            placeholders: &self.opts.placeholders,
        };
        match builder.build(map, file, doc.line) {
            Ok(parsed) => Outcome::Parsed(parsed),
            Err(p) => Outcome::Error(
                LoadError::new(file, Some(doc.line), p.kind, p.reason).with_rule(label),
            ),
        }
    }

    fn add_rule(&mut self, rule: Rule) {
        if let Some(id) = &rule.id
            && !self.ids.insert(id.clone())
        {
            self.errors.push(
                LoadError::new(
                    &rule.file,
                    Some(rule.line),
                    LoadErrorKind::Duplicate,
                    format!("rule id {id} is already used by another rule; this one is skipped"),
                )
                .with_rule(Some(rule.title.clone())),
            );
            return;
        }
        if let Some(warning) = &rule.logsource_warning {
            self.set.warnings.push(
                LoadError::new(
                    &rule.file,
                    Some(rule.line),
                    LoadErrorKind::UnmappedLogSource,
                    warning.clone(),
                )
                .with_rule(Some(rule.label().to_owned())),
            );
        }
        self.set.rules.push(rule);
    }
}

fn yaml_reason(e: &serde_norway::Error) -> String {
    let text = e.to_string();
    // serde_norway appends "at line L column C" relative to the document; the error's
    // line already says where, in file terms.
    match text.find(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// What one document gave.
enum Outcome {
    Parsed(Parsed),
    Error(LoadError),
}

/// One YAML document of a file and the 1-based line its content starts on.
struct Document<'t> {
    text: &'t str,
    line: usize,
}

/// Splits at `---` lines (column 0); drops documents that hold only blanks and comments.
fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "..." {
            docs.push((start, offset, start_line));
            start = offset + line.len();
            start_line = index + 2;
        }
        offset += line.len();
    }
    docs.push((start, text.len(), start_line));
    docs.into_iter()
        .filter_map(|(from, to, line)| {
            let body = &text[from..to];
            let first = body
                .lines()
                .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
            Some(Document {
                text: body,
                line: line + first,
            })
        })
        .collect()
}

/// The `action:` value of a Sigma 1.0 collection document, if it has one at top level.
fn sigma1_action(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("action:")?;
        Some(
            rest.trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .to_owned(),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_start_lines() {
        let text = "# comment\ntitle: a\n---\n\ntitle: b\n---\n# only a comment\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 5);
    }
}
