//! Log-source mapping: which events a rule's `logsource` (product / category / service)
//! stands for, and how its field names read in each of them.
//!
//! The mapping is data, shipped as YAML in `mappings/` (embedded at build time) and
//! overridable with a user file ([`crate::LoadOptions::mapping`]) in the same format:
//!
//! ```yaml
//! logsources:
//!   - product: windows
//!     category: process_creation
//!     targets:
//!       - source: windows                 # trustpath source kind
//!         channel: ['Microsoft-Windows-Sysmon/Operational']
//!         event_id: [1]
//!       - source: windows
//!         channel: ['Security']
//!         event_id: [4688]
//!         rename: {Image: NewProcessName}  # Sigma field -> field in this log
//! ```
//!
//! A rule resolves to the most specific entries whose keys all equal the rule's (an
//! entry may leave out category/service; it may not name one the rule lacks). A user
//! entry with the same product/category/service as a built-in one replaces it.

use crate::error::{LoadError, LoadErrorKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use trustpath_event::SourceKind;

/// The embedded mapping files, with their names for error messages.
const BUILTIN: [(&str, &str); 2] = [
    (
        "mappings/windows.yml",
        include_str!("../mappings/windows.yml"),
    ),
    ("mappings/cloud.yml", include_str!("../mappings/cloud.yml")),
];

/// A rule's `logsource` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    /// `product` (e.g. `windows`, `m365`, `azure`), lower-cased.
    pub product: Option<String>,
    /// `category` (e.g. `process_creation`), lower-cased.
    pub category: Option<String>,
    /// `service` (e.g. `security`), lower-cased.
    pub service: Option<String>,
    /// `definition`, as written.
    pub definition: Option<String>,
}

impl std::fmt::Display for LogSource {
    /// `product=windows category=process_creation`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ];
        let text: Vec<String> = parts
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        if text.is_empty() {
            f.write_str("(empty logsource)")
        } else {
            f.write_str(&text.join(" "))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    logsources: Vec<MappingEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingEntry {
    product: Option<String>,
    category: Option<String>,
    service: Option<String>,
    targets: Vec<Target>,
    /// `product`, `category` and `service` lower-cased, made once by [`parse`] (every
    /// rule's log source is compared with every entry).
    #[serde(skip)]
    key: [Option<String>; 3],
}

impl MappingEntry {
    fn keyed(mut self) -> Self {
        self.key = [&self.product, &self.category, &self.service]
            .map(|k| k.as_ref().map(|s| s.to_lowercase()));
        self
    }

    fn key(&self) -> &[Option<String>; 3] {
        &self.key
    }
}

/// The events one log-source target covers, and its field renames.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    /// Source kind of the events (its `as_str` name, e.g. `entra_signin`).
    #[serde(deserialize_with = "source_kind")]
    pub source: SourceKind,
    /// `Channel` must be one of these (case-insensitive); empty = any.
    #[serde(default)]
    pub channel: Vec<String>,
    /// `EventID` must be one of these; empty = any.
    #[serde(default)]
    pub event_id: Vec<u64>,
    /// `Provider_Name` must be one of these (case-insensitive); empty = any.
    #[serde(default)]
    pub provider: Vec<String>,
    /// Sigma field name -> field name in this log.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
}

/// Reads a source kind by [`SourceKind::as_str`] (the names rules and output use).
fn source_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SourceKind, D::Error> {
    let name = String::deserialize(d)?;
    SourceKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = SourceKind::ALL.iter().map(|k| k.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown source '{name}', expected one of {}",
                known.join(", ")
            ))
        })
}

/// What a rule's log source resolved to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolution {
    /// The targets (empty: the rule matches nothing).
    pub targets: Vec<Target>,
    /// Why the resolution is not exact, for `validate`.
    pub warning: Option<String>,
}

/// The log-source mapping in force.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    entries: Vec<MappingEntry>,
}

impl Mapping {
    /// A mapping with no entries (every rule matches nothing).
    pub fn empty() -> Mapping {
        Mapping {
            entries: Vec::new(),
        }
    }

    /// The built-in mapping, extended/overridden by the user file if given.
    pub fn load(user: Option<&Path>) -> Result<Mapping, LoadError> {
        let mut entries = Vec::new();
        for (name, text) in BUILTIN {
            entries.extend(parse(Path::new(name), text)?);
        }
        let mut mapping = Mapping { entries };
        if let Some(path) = user {
            let text = std::fs::read_to_string(path).map_err(|e| {
                LoadError::new(
                    path,
                    None,
                    LoadErrorKind::Io,
                    format!("cannot read mapping file: {e}"),
                )
            })?;
            mapping.overlay(parse(path, &text)?);
        }
        Ok(mapping)
    }

    fn overlay(&mut self, user: Vec<MappingEntry>) {
        for entry in user {
            match self.entries.iter_mut().find(|e| e.key() == entry.key()) {
                Some(existing) => *existing = entry,
                None => self.entries.push(entry),
            }
        }
    }

    /// The targets of a rule's log source.
    pub fn resolve(&self, ls: &LogSource) -> Resolution {
        let wanted = [&ls.product, &ls.category, &ls.service];
        let mut best: Vec<&MappingEntry> = Vec::new();
        let mut best_score = 0;
        for entry in &self.entries {
            let Some(score) = score(entry.key(), &wanted) else {
                continue;
            };
            if score > best_score {
                best_score = score;
                best.clear();
            }
            if score == best_score {
                best.push(entry);
            }
        }
        if best.is_empty() {
            return Resolution {
                targets: Vec::new(),
                warning: Some(format!(
                    "log source {ls} is not mapped to any trustpath source: the rule matches nothing"
                )),
            };
        }
        let wanted_count = wanted.iter().filter(|k| k.is_some()).count();
        let warning = (best_score < wanted_count).then(|| {
            format!(
                "log source {ls} is only partly mapped: the rule is tested against every {} event",
                ls.product.as_deref().unwrap_or("?")
            )
        });
        let mut targets: Vec<Target> = Vec::new();
        for entry in best {
            for t in &entry.targets {
                if !targets.contains(t) {
                    targets.push(t.clone());
                }
            }
        }
        Resolution { targets, warning }
    }
}

/// How many keys of `entry` the rule matches, or `None` if one differs or the entry names
/// a key the rule lacks. The product must be named by both.
fn score(entry: &[Option<String>; 3], wanted: &[&Option<String>; 3]) -> Option<usize> {
    entry[0].as_ref()?;
    let mut n = 0;
    for (e, w) in entry.iter().zip(wanted) {
        match (e, w) {
            (Some(e), Some(w)) if e.eq_ignore_ascii_case(w) => n += 1,
            (Some(_), _) => return None,
            (None, _) => {}
        }
    }
    Some(n)
}

fn parse(path: &Path, text: &str) -> Result<Vec<MappingEntry>, LoadError> {
    serde_norway::from_str::<MappingFile>(text)
        .map(|f| f.logsources.into_iter().map(MappingEntry::keyed).collect())
        .map_err(|e| {
            let line = e.location().map(|l| l.line());
            LoadError::new(path, line, LoadErrorKind::Mapping, e.to_string())
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ls(product: &str, category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource {
            product: Some(product.into()),
            category: category.map(Into::into),
            service: service.map(Into::into),
            definition: None,
        }
    }

    #[test]
    fn builtin_mapping_parses_and_resolves() {
        let m = Mapping::load(None).unwrap();
        let r = m.resolve(&ls("windows", Some("process_creation"), None));
        assert_eq!(r.targets.len(), 2);
        assert!(r.warning.is_none());
        assert_eq!(r.targets[1].event_id, vec![4688]);
        let r = m.resolve(&ls("windows", None, Some("security")));
        assert_eq!(r.targets[0].channel, vec!["Security".to_owned()]);
        let r = m.resolve(&ls("windows", Some("no_such_category"), None));
        assert_eq!(r.targets.len(), 1);
        assert!(r.targets[0].channel.is_empty());
        assert!(r.warning.is_some());
        let r = m.resolve(&ls("linux", Some("process_creation"), None));
        assert!(r.targets.is_empty() && r.warning.is_some());
        let r = m.resolve(&ls("azure", None, Some("signinlogs")));
        assert_eq!(r.targets[0].source, SourceKind::EntraSignIn);
    }

    /// A user file's entry replaces the built-in one with the same keys in any case, a new
    /// one is added, and rules name log sources in any case.
    #[test]
    fn user_mapping_overlays_by_keys_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapping.yml");
        std::fs::write(
            &path,
            "logsources:\n\
             \x20 - product: Windows\n\
             \x20   category: PROCESS_CREATION\n\
             \x20   targets:\n\
             \x20     - source: windows\n\
             \x20       event_id: [1]\n\
             \x20 - product: linux\n\
             \x20   category: process_creation\n\
             \x20   targets:\n\
             \x20     - source: windows\n\
             \x20       event_id: [7]\n",
        )
        .unwrap();
        let m = Mapping::load(Some(&path)).unwrap();
        let r = m.resolve(&ls("windows", Some("process_creation"), None));
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.targets[0].event_id, vec![1]);
        let r = m.resolve(&ls("LINUX", Some("Process_Creation"), None));
        assert!(r.warning.is_none());
        assert_eq!(r.targets[0].event_id, vec![7]);
    }
}
