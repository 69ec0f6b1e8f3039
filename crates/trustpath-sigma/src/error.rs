//! Load errors and warnings: a bad rule document names its file, line, rule and reason.

use std::fmt;
use std::path::PathBuf;

/// The class of a [`LoadError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io,
    /// The document is not valid YAML.
    Yaml,
    /// Valid YAML that is not a valid Sigma document (missing or mistyped keys).
    Schema,
    /// A Sigma feature trustpath does not support (or that the specification deprecated).
    Unsupported,
    /// A rule id already loaded.
    Duplicate,
    /// An `|expand` placeholder with no values in [`crate::LoadOptions::placeholders`].
    Placeholder,
    /// The log-source mapping file is invalid.
    Mapping,
    /// A warning: the rule loaded, but its log source is unknown (it matches nothing, or
    /// every event of its product).
    UnmappedLogSource,
}

impl LoadErrorKind {
    /// The stable snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadErrorKind::Io => "io",
            LoadErrorKind::Yaml => "yaml",
            LoadErrorKind::Schema => "schema",
            LoadErrorKind::Unsupported => "unsupported",
            LoadErrorKind::Duplicate => "duplicate",
            LoadErrorKind::Placeholder => "placeholder",
            LoadErrorKind::Mapping => "mapping",
            LoadErrorKind::UnmappedLogSource => "unmapped_logsource",
        }
    }

    /// Whether this kind is a warning (the rule still loaded) rather than an error.
    pub fn is_warning(self) -> bool {
        matches!(self, LoadErrorKind::UnmappedLogSource)
    }
}

impl fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule document that could not be loaded (or, for warning kinds, loaded with a caveat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file the document is in.
    pub file: PathBuf,
    /// 1-based line of the problem (or of the document start), when known.
    pub line: Option<usize>,
    /// The rule's id, else its title, when the document got that far.
    pub rule: Option<String>,
    /// What is wrong, in words a rule author can act on.
    pub reason: String,
    /// The class of problem.
    pub kind: LoadErrorKind,
}

impl LoadError {
    /// A new error without rule name.
    pub fn new(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        kind: LoadErrorKind,
        reason: impl Into<String>,
    ) -> Self {
        LoadError {
            file: file.into(),
            line,
            rule: None,
            reason: reason.into(),
            kind,
        }
    }

    /// The same error naming the rule.
    pub fn with_rule(mut self, rule: Option<String>) -> Self {
        self.rule = rule;
        self
    }

    /// Whether this is a warning (the rule loaded) rather than an error.
    pub fn is_warning(&self) -> bool {
        self.kind.is_warning()
    }
}

impl fmt::Display for LoadError {
    /// `file:line: [rule] kind: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ": [{rule}]")?;
        }
        write!(f, ": {}: {}", self.kind, self.reason)
    }
}

impl std::error::Error for LoadError {}

/// A problem found while compiling one part of a rule; the loader adds file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleProblem {
    pub kind: LoadErrorKind,
    pub reason: String,
}

impl RuleProblem {
    pub fn schema(reason: impl Into<String>) -> Self {
        RuleProblem {
            kind: LoadErrorKind::Schema,
            reason: reason.into(),
        }
    }

    pub fn unsupported(reason: impl Into<String>) -> Self {
        RuleProblem {
            kind: LoadErrorKind::Unsupported,
            reason: reason.into(),
        }
    }
}
