//! Typed Sigma documents: detection [`Rule`]s and untouched [`CorrelationDoc`]s, built
//! from one parsed YAML document.

use crate::detection::{self, Detection};
use crate::error::{LoadErrorKind, RuleProblem};
use crate::logsource::{LogSource, Mapping, Target};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A Sigma detection rule, parsed and compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `id` (a UUID in SigmaHQ rules).
    pub id: Option<String>,
    /// `name` (Sigma 2: a unique name correlations can reference).
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level` (informational, low, medium, high, critical).
    pub level: Option<String>,
    /// `status` (stable, test, experimental, deprecated, unsupported).
    pub status: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `tags` (e.g. `attack.t1098.002`).
    pub tags: Vec<String>,
    /// `logsource`.
    pub logsource: LogSource,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `references`.
    pub references: Vec<String>,
    /// The file the rule is in.
    pub file: PathBuf,
    /// 1-based line where the rule's document starts.
    pub line: usize,
    /// The whole document, for custom keys.
    pub raw: Value,
    /// The compiled detection.
    pub(crate) detection: Arc<Detection>,
    /// What the log source resolved to.
    pub(crate) targets: Vec<Target>,
    /// Why the log-source resolution is not exact, if it is not.
    pub(crate) logsource_warning: Option<String>,
}

impl Rule {
    /// The rule's id, else its name, else its title: what messages call it.
    pub fn label(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.title)
    }

    /// The field names the rule's detection reads (before log-source renames).
    pub fn fields(&self) -> &[String] {
        &self.detection.fields
    }
}

/// A YAML document with a top-level `correlation:` key, passed on untouched to
/// trustpath-correlate.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationDoc {
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based line where the document starts.
    pub line: usize,
    /// The whole document.
    pub doc: Value,
}

/// What one YAML document turned into.
pub(crate) enum Parsed {
    Rule(Box<Rule>),
    Correlation(CorrelationDoc),
}

/// Context for building rules from documents.
pub(crate) struct Builder<'a> {
    pub mapping: &'a Mapping,
    pub placeholders: &'a BTreeMap<String, Vec<String>>,
}

/// The rule label a document would have (id, name, or title), for error messages.
pub(crate) fn doc_label(doc: &Map<String, Value>) -> Option<String> {
    ["id", "name", "title"]
        .iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_str).map(str::to_owned))
}

impl Builder<'_> {
    /// Builds a rule or correlation from a document (already known to be a map).
    pub fn build(
        &self,
        doc: Map<String, Value>,
        file: &std::path::Path,
        line: usize,
    ) -> Result<Parsed, RuleProblem> {
        if let Some(action) = doc.get("action") {
            return Err(RuleProblem::unsupported(format!(
                "Sigma 1.0 rule collections (action: {}) are not supported; write each rule as a standalone document",
                value_text(action)
            )));
        }
        if doc.contains_key("correlation") {
            return Ok(Parsed::Correlation(CorrelationDoc {
                file: file.to_path_buf(),
                line,
                doc: Value::Object(doc),
            }));
        }
        if doc.contains_key("filter") && !doc.contains_key("detection") {
            return Err(RuleProblem::unsupported(
                "Sigma filter documents (meta filters) are not supported; put the exclusion in the rule's detection",
            ));
        }
        self.rule(doc, file, line)
            .map(|r| Parsed::Rule(Box::new(r)))
    }

    fn rule(
        &self,
        doc: Map<String, Value>,
        file: &std::path::Path,
        line: usize,
    ) -> Result<Rule, RuleProblem> {
        let title = match doc.get("title") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
            Some(_) => return Err(RuleProblem::schema("'title' must be a non-empty string")),
            None => return Err(RuleProblem::schema("missing 'title'")),
        };
        let logsource = match doc.get("logsource") {
            Some(Value::Object(map)) => parse_logsource(map)?,
            Some(_) => return Err(RuleProblem::schema("'logsource' must be a map")),
            None => return Err(RuleProblem::schema("missing 'logsource'")),
        };
        let detection = match doc.get("detection") {
            Some(Value::Object(map)) => detection::compile(map, self.placeholders)?,
            Some(_) => return Err(RuleProblem::schema("'detection' must be a map")),
            None => return Err(RuleProblem::schema("missing 'detection'")),
        };
        let mut resolution = self.mapping.resolve(&logsource);
        if resolution.warning.is_none() {
            resolution.warning = unreachable_event_ids(&detection, &resolution.targets, &logsource);
        }
        Ok(Rule {
            id: opt_string(&doc, "id")?,
            name: opt_string(&doc, "name")?,
            title,
            level: opt_string(&doc, "level")?,
            status: opt_string(&doc, "status")?,
            description: opt_string(&doc, "description")?,
            tags: string_list(&doc, "tags")?,
            logsource,
            falsepositives: string_list(&doc, "falsepositives")?,
            references: string_list(&doc, "references")?,
            file: file.to_path_buf(),
            line,
            detection: Arc::new(detection),
            targets: resolution.targets,
            logsource_warning: resolution.warning,
            raw: Value::Object(doc),
        })
    }
}

/// A warning when the detection pins `EventID`s that none of the targets has.
fn unreachable_event_ids(
    detection: &Detection,
    targets: &[Target],
    logsource: &LogSource,
) -> Option<String> {
    let required = detection.required_event_ids.as_ref()?;
    let reachable = targets
        .iter()
        .any(|t| t.event_id.is_empty() || t.event_id.iter().any(|id| required.contains(id)));
    (!targets.is_empty() && !reachable).then(|| {
        format!(
            "the detection requires EventID {required:?}, which log source {logsource} never has: the rule matches nothing"
        )
    })
}

fn parse_logsource(map: &Map<String, Value>) -> Result<LogSource, RuleProblem> {
    let get = |key: &str| -> Result<Option<String>, RuleProblem> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.to_lowercase())),
            Some(_) => Err(RuleProblem::schema(format!(
                "logsource '{key}' must be a string"
            ))),
        }
    };
    Ok(LogSource {
        product: get("product")?,
        category: get("category")?,
        service: get("service")?,
        definition: map.get("definition").map(value_text),
    })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn opt_string(doc: &Map<String, Value>, key: &str) -> Result<Option<String>, RuleProblem> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(RuleProblem {
            kind: LoadErrorKind::Schema,
            reason: format!("'{key}' must be a string"),
        }),
    }
}

fn string_list(doc: &Map<String, Value>, key: &str) -> Result<Vec<String>, RuleProblem> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .filter(|v| !v.is_null())
            .map(value_text)
            .collect()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(_) => Err(RuleProblem::schema(format!(
            "'{key}' must be a list of strings"
        ))),
    }
}
