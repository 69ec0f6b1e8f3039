//! Errors of the context file and the change-ticket CSV, each with its location.
//!
//! Every error names the file, the line (and column where known) and, for semantic
//! problems, the key path (`partners[0].support_windows[1].timezone`) and why the value
//! was rejected, so a typo never silently disables tuning.

use std::ops::Range;
use std::path::PathBuf;

/// Why a context file (or its change-ticket CSV) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A file could not be read.
    #[error("{}: cannot read {what}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// What the file is (`context file`, `change tickets (change_tickets.csv)`).
        what: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// TOML syntax errors, wrong value types, unknown or missing keys.
    #[error("{file}:{line}:{column}: {message}{}", in_line_suffix(.line_text))]
    Syntax {
        /// The context file (or a label for text that did not come from a file).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the TOML parser reported.
        message: String,
        /// The offending source line, trimmed (it shows the key).
        line_text: String,
    },
    /// A value parsed but is not valid (bad CIDR, unknown time zone or weekday, …).
    #[error("{file}:{line}:{column}: `{key}`: {reason}")]
    Invalid {
        /// The context file.
        file: String,
        /// Key path of the rejected value, e.g. `partners[0].cidrs[1]`.
        key: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Why the value was rejected.
        reason: String,
    },
    /// One or more rows of the change-ticket CSV are bad.
    #[error("{}", join_ticket_errors(.0))]
    Tickets(Vec<TicketError>),
}

/// One bad row (or header) of the change-ticket CSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub struct TicketError {
    /// The CSV file.
    pub file: PathBuf,
    /// 1-based line of the row.
    pub line: u64,
    /// Why the row was rejected (names the column).
    pub reason: String,
}

fn in_line_suffix(line_text: &str) -> String {
    if line_text.is_empty() {
        String::new()
    } else {
        format!(" (in `{line_text}`)")
    }
}

fn join_ticket_errors(errors: &[TicketError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(
        "{} bad change-ticket row(s):\n  {}",
        errors.len(),
        lines.join("\n  ")
    )
}

/// The text of a context file with its label, for turning byte spans into locations.
pub(crate) struct Source<'a> {
    /// Label used in messages (the file path, or `trustpath.toml` for in-memory text).
    pub label: String,
    /// The TOML text.
    pub text: &'a str,
}

impl Source<'_> {
    /// 1-based line and column of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    /// The trimmed text of the line holding a byte offset.
    pub fn line_text(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let start = self
            .text
            .get(..offset)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let rest = self.text.get(start..).unwrap_or("");
        rest.lines().next().unwrap_or("").trim().to_string()
    }

    /// A semantic validation error at `span` for `key`.
    pub fn invalid(
        &self,
        key: &str,
        span: Range<usize>,
        reason: impl Into<String>,
    ) -> ContextError {
        let (line, column) = self.line_column(span.start);
        ContextError::Invalid {
            file: self.label.clone(),
            key: key.to_string(),
            line,
            column,
            reason: reason.into(),
        }
    }

    /// A TOML parser error, located.
    pub fn syntax(&self, err: &toml::de::Error) -> ContextError {
        let offset = err.span().map_or(0, |s| s.start);
        let (line, column) = self.line_column(offset);
        ContextError::Syntax {
            file: self.label.clone(),
            line,
            column,
            message: err.message().trim().to_string(),
            line_text: self.line_text(offset),
        }
    }
}
