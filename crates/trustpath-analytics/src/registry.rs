//! The analytics registry: every analytic folder, read once, and everything derived
//! from its `analytic.toml` — the context's tunables ([`Registry::schema`]), Sigma
//! `|expand` placeholders, fold priority, coverage window, simulator entry, `list` and
//! `explain`.
//!
//! The built-in analytics are embedded by `build.rs`; [`Registry::from_dir`] reads
//! folders of the same shape at run time (the same discovery, `folder.rs`). A folder
//! without `analytic.rs` is an analytic whose findings come from its Sigma rules and
//! correlations ([`sigma_findings`]).

use crate::folder::{self, CODE_FILE, DOC_FILE, METADATA_FILE, RULES_FILE};
use crate::{AnalyticInput, Metadata, builtin::BUILTIN};
use jiff::SignedDuration;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use trustpath_context::{Context, ContextError, Schema, TunableType};
use trustpath_report::{Attack, Finding, FindingKind, single_event_finding};

/// How an analytic's matches and correlation results become findings.
pub type FindingsFn = fn(&AnalyticInput<'_>) -> Vec<Finding>;

/// One analytic folder, loaded.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `analytic.toml`.
    pub meta: Metadata,
    /// `rules.yml`.
    pub rules: String,
    /// The label rules and correlations of `rules.yml` carry (`builtin:AN1350/rules.yml`
    /// or the file's path).
    pub rules_label: String,
    /// `README.md`.
    pub doc: String,
    /// The folder (for the built-in ones, where it was at build time).
    pub dir: PathBuf,
    /// `analytic.rs`'s `findings` (built-in analytics only); `None`: from its Sigma rules.
    pub findings: Option<FindingsFn>,
}

impl Definition {
    /// The function that turns its matches into findings.
    pub fn findings_fn(&self) -> FindingsFn {
        self.findings.unwrap_or(sigma_findings)
    }
}

/// Every analytic, in id order, and what did not load.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    analytics: Vec<Definition>,
    problems: Vec<String>,
}

/// The label of a built-in analytic's rules (its folder is not on the user's disk).
pub(crate) fn builtin_rules_label(id: &str) -> String {
    format!("builtin:{id}/rules.yml")
}

impl Registry {
    /// The built-in analytics (embedded at build time).
    pub fn builtin() -> &'static Registry {
        static BUILTIN_REGISTRY: OnceLock<Registry> = OnceLock::new();
        BUILTIN_REGISTRY.get_or_init(|| {
            let mut registry = Registry::default();
            for b in BUILTIN {
                let file = format!("{}/{METADATA_FILE}", b.dir);
                match Metadata::parse_file(&file, b.metadata) {
                    Ok(meta) => registry.push(Definition {
                        meta,
                        rules: b.rules.to_owned(),
                        rules_label: builtin_rules_label(b.id),
                        doc: b.doc.to_owned(),
                        dir: PathBuf::from(b.dir),
                        findings: b.findings,
                    }),
                    Err(e) => registry.problems.push(e),
                }
            }
            registry
        })
    }

    /// The analytic folders under `root` (each with `analytic.toml`), read the way
    /// `build.rs` reads the built-in ones. Such an analytic has no compiled code: an
    /// `analytic.rs` in it is reported, and its findings come from its Sigma rules.
    pub fn from_dir(root: &Path) -> Registry {
        let mut registry = Registry::default();
        for (_, dir) in folder::analytic_dirs(root) {
            let read = |name: &str| std::fs::read_to_string(dir.join(name));
            let meta_file = dir.join(METADATA_FILE);
            let meta = match read(METADATA_FILE) {
                Ok(text) => Metadata::parse_file(&meta_file.display().to_string(), &text),
                Err(e) => Err(format!("{}: {e}", meta_file.display())),
            };
            let meta = match meta {
                Ok(meta) => meta,
                Err(e) => {
                    registry.problems.push(e);
                    continue;
                }
            };
            if dir.join(CODE_FILE).is_file() {
                registry.problems.push(format!(
                    "{}: analytic code is compiled in only for built-in analytics; this folder's findings come from its Sigma rules",
                    dir.join(CODE_FILE).display()
                ));
            }
            let rules_path = dir.join(RULES_FILE);
            let rules = read(RULES_FILE).unwrap_or_else(|e| {
                registry
                    .problems
                    .push(format!("{}: {e}", rules_path.display()));
                String::new()
            });
            registry.push(Definition {
                meta,
                rules,
                rules_label: rules_path.display().to_string(),
                doc: read(DOC_FILE).unwrap_or_default(),
                dir,
                findings: None,
            });
        }
        registry
    }

    /// This registry with `other`'s analytics added (an id already present is reported
    /// and the first one kept).
    pub fn with(mut self, other: Registry) -> Registry {
        self.problems.extend(other.problems);
        for def in other.analytics {
            self.push(def);
        }
        self
    }

    fn push(&mut self, def: Definition) {
        if self.get(&def.meta.id).is_some() {
            self.problems.push(format!(
                "{}: analytic {} is defined twice",
                def.dir.display(),
                def.meta.id
            ));
            return;
        }
        self.analytics.push(def);
        self.analytics.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    }

    /// The analytics, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Definition> {
        self.analytics.iter()
    }

    /// The analytic with this id (case-insensitive).
    pub fn get(&self, id: &str) -> Option<&Definition> {
        self.analytics
            .iter()
            .find(|d| d.meta.id.eq_ignore_ascii_case(id))
    }

    /// Folders that did not load (a broken `analytic.toml`, an id defined twice).
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The declared tunables, for checking `[analytics.*]` in `trustpath.toml`.
    pub fn schema(&self) -> Schema {
        let mut schema = Schema::default();
        for def in &self.analytics {
            schema.insert(&def.meta.id, def.meta.tunables.clone());
        }
        schema
    }

    /// Load a context file, checking `[analytics.*]` against these analytics.
    pub fn load_context(&self, path: &Path) -> Result<Context, ContextError> {
        Context::load_with(path, &self.schema())
    }

    /// Sigma `|expand` placeholders from the context: every tunable that declares one.
    pub fn placeholders(&self, context: &Context) -> BTreeMap<String, Vec<String>> {
        context.placeholders(&self.schema())
    }

    /// Fold priority of a finding's analytic (lower wins); user rules fold into nothing
    /// and come last.
    pub fn fold_priority(&self, analytic: Option<&str>) -> u16 {
        match analytic {
            None => u16::MAX,
            Some(id) => self
                .get(id)
                .map_or(u16::MAX - 1, |d| u16::from(d.meta.fold_priority)),
        }
    }

    /// The correlation window of an analytic (its `coverage_window` tunable) under
    /// `context`.
    pub fn coverage_window(&self, id: &str, context: &Context) -> Option<SignedDuration> {
        let def = self.get(id)?;
        let key = def.meta.coverage_window.as_deref()?;
        context.analytics.duration(&def.meta.id, key)
    }

    /// What each analytic lacks: documentation (a README with a Contract section),
    /// fixtures (positive per format, benign), snapshots, metadata, or a declaration
    /// that does not check (a default of the wrong type, a coverage window that is not a
    /// duration tunable, a step naming no rule, an unknown context section).
    pub fn check(&self) -> Vec<String> {
        let mut out: Vec<String> = self.problems.clone();
        let mut placeholders = BTreeSet::new();
        for def in &self.analytics {
            let id = &def.meta.id;
            let mut lack = |what: String| out.push(format!("{id} ({}): {what}", def.dir.display()));
            let folder_name = def.dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if folder_name != id {
                lack(format!("folder is named {folder_name:?}, not after its id"));
            }
            if def.doc.trim().is_empty() {
                lack(format!("no {DOC_FILE}"));
            } else if !def.doc.lines().any(|l| {
                l.trim_start().starts_with('#') && l.to_ascii_lowercase().contains("contract")
            }) {
                lack(format!("{DOC_FILE} has no Contract section"));
            }
            if def.rules.trim().is_empty() {
                lack(format!("no {RULES_FILE}"));
            }
            if non_empty_subdirs(&def.dir.join("fixtures/positive")) == 0 {
                lack("no fixtures/positive/<format>/".to_string());
            }
            if files_under(&def.dir.join("fixtures/benign")) == 0 {
                lack("no fixtures/benign/".to_string());
            }
            if files_under(&def.dir.join("snapshots")) == 0 {
                lack("no snapshots/".to_string());
            }
            let m = &def.meta;
            for (field, value) in [
                ("title", &m.title),
                ("platform", &m.platform),
                ("technique", &m.technique),
                ("technique_name", &m.technique_name),
                ("strategy", &m.strategy),
                ("strategy_name", &m.strategy_name),
                ("summary", &m.summary),
            ] {
                if value.trim().is_empty() {
                    lack(format!("metadata field `{field}` is empty"));
                }
            }
            if !["informational", "low", "medium", "high", "critical"]
                .contains(&m.base_level.as_str())
            {
                lack(format!(
                    "base_level `{}` is not a Sigma level",
                    m.base_level
                ));
            }
            if m.steps.is_empty() {
                lack("no [[steps]]".to_string());
            }
            if m.false_positives.is_empty() {
                lack("no false_positives".to_string());
            }
            if m.response.is_empty() {
                lack("no response".to_string());
            }
            for step in &m.steps {
                if !rule_named(&def.rules, &step.rule) {
                    lack(format!("step rule `{}` is not in {RULES_FILE}", step.rule));
                }
                if step.sources.is_empty() || step.fields.is_empty() {
                    lack(format!("step `{}` lists no sources or fields", step.rule));
                }
            }
            for t in &m.tunables {
                if let Err(e) = t.default_value() {
                    lack(format!("tunable {}: {e}", t.name));
                }
                if let Some(p) = &t.placeholder
                    && !placeholders.insert(p.clone())
                {
                    lack(format!("placeholder %{p}% is fed by two tunables"));
                }
            }
            if let Some(key) = &m.coverage_window
                && m.tunable(key).map(|t| t.kind) != Some(TunableType::Duration)
            {
                lack(format!(
                    "coverage_window `{key}` is not one of its duration tunables"
                ));
            }
            for c in &m.context {
                if !crate::metadata::CONTEXT_SECTIONS.contains(&c.section.as_str()) {
                    lack(format!("context section `{}` does not exist", c.section));
                }
            }
        }
        out
    }
}

/// Whether `rules.yml` has a document named `name`.
fn rule_named(rules: &str, name: &str) -> bool {
    rules.lines().any(|l| {
        l.trim_start()
            .strip_prefix("name:")
            .is_some_and(|v| v.trim().trim_matches(['\'', '"']) == name)
    })
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .map(|e| {
                let p = e.path();
                if p.is_dir() { files_under(&p) } else { 1 }
            })
            .sum()
    })
}

fn non_empty_subdirs(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.path().is_dir() && files_under(&e.path()) > 0)
            .count()
    })
}

/// Findings of an analytic without `analytic.rs`: its correlation's results when it
/// declares `correlation`, else one finding per event matched by one of its steps.
pub fn sigma_findings(input: &AnalyticInput<'_>) -> Vec<Finding> {
    let meta = input.meta;
    let attack = Attack {
        technique: vec![meta.technique.clone()],
        detection_strategy: Some(meta.strategy.clone()),
        ..Attack::default()
    };
    let mut out = Vec::new();
    if meta.correlation.is_some() {
        for result in &input.results {
            let mut f = crate::detector::correlation_finding(result);
            f.analytic = Some(meta.id.clone());
            f.attack = attack.clone();
            out.push(f);
        }
        return out;
    }
    for step in &meta.steps {
        for event in input.matched(&step.rule) {
            let mut f = single_event_finding(input.rule(&step.rule), attack.clone(), event);
            f.analytic = Some(meta.id.clone());
            f.kind = FindingKind::Alert;
            out.push(f);
        }
    }
    out
}
