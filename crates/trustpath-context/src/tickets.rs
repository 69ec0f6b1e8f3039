//! The change-ticket CSV: `id,start,end,actor,target,action,tenant` with RFC 3339 times
//! (`id,start,end` required; `tenant`, when given, a tenant id GUID).
//!
//! Every bad row is reported with its file and line; all of them, not just the first.

use crate::error::{ContextError, TicketError};
use crate::glob::{Glob, has_wildcards};
use crate::model::Ticket;
use jiff::Timestamp;
use std::collections::HashSet;
use std::path::Path;

/// Columns that must be present in the header.
const REQUIRED: [&str; 3] = ["id", "start", "end"];

/// Reads and validates the ticket CSV at `path`.
pub(crate) fn load(path: &Path) -> Result<Vec<Ticket>, ContextError> {
    let bytes = std::fs::read(path).map_err(|source| ContextError::Io {
        path: path.to_path_buf(),
        what: "change tickets (change_tickets.csv)".into(),
        source,
    })?;
    parse(path, &bytes).map_err(ContextError::Tickets)
}

/// Parses ticket CSV bytes; `path` is only used in messages.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Ticket>, Vec<TicketError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let error = |line: u64, reason: String| TicketError {
        file: path.to_path_buf(),
        line,
        reason,
    };
    let columns = reader
        .headers()
        .map_err(|e| vec![error(1, format!("unreadable header: {e}"))])?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect::<Vec<_>>();
    let index = ColumnIndex::new(&columns).map_err(|reason| vec![error(1, reason)])?;
    let mut tickets = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(bytes, p.byte()));
                errors.push(error(line, format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| line_of(bytes, p.byte()));
        match index.ticket(&row, line) {
            Ok(t) if !seen.insert(t.id.to_ascii_lowercase()) => {
                errors.push(error(line, format!("duplicate ticket id `{}`", t.id)))
            }
            Ok(t) => tickets.push(t),
            Err(reason) => errors.push(error(line, reason)),
        }
    }
    if errors.is_empty() {
        Ok(tickets)
    } else {
        Err(errors)
    }
}

/// 1-based line of the record starting at `offset` (the csv crate's own line counter
/// is off for CRLF files, so count `\n` bytes, skipping the terminator the offset may
/// point at).
fn line_of(bytes: &[u8], offset: u64) -> u64 {
    let mut start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while bytes.get(start).is_some_and(|b| *b == b'\r' || *b == b'\n') {
        start += 1;
    }
    let newlines = bytes
        .get(..start)
        .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
    newlines as u64 + 1
}

/// Where each column is in the header.
struct ColumnIndex {
    id: usize,
    start: usize,
    end: usize,
    actor: Option<usize>,
    target: Option<usize>,
    action: Option<usize>,
    tenant: Option<usize>,
}

impl ColumnIndex {
    fn new(columns: &[String]) -> Result<Self, String> {
        let find = |name: &str| columns.iter().position(|c| c == name);
        if let Some(missing) = REQUIRED.iter().find(|c| find(c).is_none()) {
            return Err(format!(
                "header lacks column `{missing}` (expected id,start,end,actor,target,action,tenant; found {})",
                columns.join(",")
            ));
        }
        Ok(ColumnIndex {
            id: find("id").unwrap_or_default(),
            start: find("start").unwrap_or_default(),
            end: find("end").unwrap_or_default(),
            actor: find("actor"),
            target: find("target"),
            action: find("action"),
            tenant: find("tenant"),
        })
    }

    fn ticket(&self, row: &csv::StringRecord, line: u64) -> Result<Ticket, String> {
        let cell = |i: Option<usize>| i.and_then(|i| row.get(i)).unwrap_or("").to_string();
        let id = cell(Some(self.id));
        if id.is_empty() {
            return Err("column `id` is empty".into());
        }
        let start = time(&cell(Some(self.start)), "start")?;
        let end = time(&cell(Some(self.end)), "end")?;
        if end < start {
            return Err(format!(
                "ticket `{id}`: column `end` ({end}) is before `start` ({start})"
            ));
        }
        let tenant = cell(self.tenant).to_ascii_lowercase();
        if !tenant.is_empty() && !crate::validate::is_guid(&tenant) {
            return Err(format!(
                "ticket `{id}`: column `tenant`: `{tenant}` is not a tenant id (expected a GUID like 00000000-0000-0000-0000-000000000000)"
            ));
        }
        Ok(Ticket {
            id,
            start,
            end,
            actor: cell(self.actor),
            target: cell(self.target),
            action: cell(self.action),
            tenant,
            line,
        })
    }
}

fn time(text: &str, column: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|e| {
        format!(
            "column `{column}`: `{text}` is not an RFC 3339 time (e.g. 2025-03-04T09:00:00Z): {e}"
        )
    })
}

impl Ticket {
    /// Whether this ticket covers `actor` doing `action` on `target` at `time`.
    ///
    /// Actor and target are compared case-insensitively, an empty ticket value matches
    /// anything; the action matches as a case-insensitive glob when the ticket's action
    /// holds `*` or `?`, else as a case-insensitive substring (`MailboxPermission`
    /// covers `Add-MailboxPermission`). The time window is inclusive at both ends. The
    /// tenant is unknown here: a ticket that names a tenant does not cover (see
    /// [`covers_in`](Self::covers_in)).
    pub fn covers(&self, actor: &str, target: &str, action: &str, time: jiff::Timestamp) -> bool {
        self.covers_in(None, actor, target, action, time)
    }

    /// [`covers`](Self::covers) for a change in `tenant` (a tenant id, compared ignoring
    /// case): a ticket without a tenant covers every tenant; a ticket with one covers only
    /// changes known to be in that tenant.
    pub fn covers_in(
        &self,
        tenant: Option<&str>,
        actor: &str,
        target: &str,
        action: &str,
        time: jiff::Timestamp,
    ) -> bool {
        self.covers_actor_in(tenant, actor, time)
            && (self.target.is_empty() || self.target.eq_ignore_ascii_case(target))
            && action_matches(&self.action, action)
    }

    /// Whether this ticket's tenant, window and actor (empty: anyone) cover `actor`
    /// acting at `time` in `tenant`, whatever the target and action.
    pub fn covers_actor_in(
        &self,
        tenant: Option<&str>,
        actor: &str,
        time: jiff::Timestamp,
    ) -> bool {
        let tenant_ok = self.tenant.is_empty()
            || tenant.is_some_and(|t| self.tenant.eq_ignore_ascii_case(t.trim()));
        tenant_ok
            && time >= self.start
            && time <= self.end
            && (self.actor.is_empty() || self.actor.eq_ignore_ascii_case(actor))
    }
}

fn action_matches(pattern: &str, action: &str) -> bool {
    if pattern.is_empty() {
        true
    } else if has_wildcards(pattern) {
        Glob::new(pattern).matches(action)
    } else {
        action.to_lowercase().contains(&pattern.to_lowercase())
    }
}
