//! The run summary on stderr: files, records per source kind, time range, skipped records
//! (with where and why), matched, late and evicted counts.

use std::io::{self, Write};
use trustpath_event::{RecordError, RunSummary};

/// Print the summary and the first `show_errors` skipped records.
pub fn print(
    out: &mut dyn Write,
    summary: &RunSummary,
    errors: &[&RecordError],
    show_errors: usize,
) -> io::Result<()> {
    let by_source: Vec<String> = summary
        .by_source()
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(
        out,
        "read {} inputs, {} events ({})",
        summary.files.len(),
        summary.events(),
        if by_source.is_empty() {
            "none".to_owned()
        } else {
            by_source.join(", ")
        }
    )?;
    let time = summary.time();
    if let (Some(first), Some(last)) = (time.first, time.last) {
        writeln!(out, "event time {first} .. {last}")?;
    }
    let attributed = summary.attributed();
    let unattributed = summary.unattributed();
    if !attributed.is_empty() || unattributed > 0 {
        let how: Vec<String> = attributed.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "tenant: {} records naming no tenant attributed from their folder's records ({}), \
             unattributed {unattributed} (their folder names several tenants or none; not given \
             to any tenant)",
            attributed.values().sum::<u64>(),
            if how.is_empty() {
                "none".to_owned()
            } else {
                how.join(", ")
            },
        )?;
    }
    let mut skipped_by_kind = std::collections::BTreeMap::new();
    for file in &summary.files {
        for (kind, n) in &file.errors {
            *skipped_by_kind.entry(*kind).or_insert(0u64) += n;
        }
    }
    let kinds: Vec<String> = skipped_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    // Plain words; the rare counts (late, evicted) only when they happened.
    let mut line = format!(
        "{} events matched a rule, {} findings; skipped {} unreadable records{}",
        summary.matched,
        summary.findings,
        summary.skipped(),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
    );
    if summary.late > 0 {
        line.push_str(&format!(
            "; {} events arrived after their correlation window had closed (counted, not correlated)",
            summary.late
        ));
    }
    if summary.evicted > 0 {
        line.push_str(&format!(
            "; {} partial correlations were dropped at the memory limit",
            summary.evicted
        ));
    }
    writeln!(out, "{line}")?;
    for (host, n) in summary.zone_less_hosts() {
        writeln!(
            out,
            "warning: host {host}: {n} events have a local time without a time zone (NXLog EventTime); \
             read as UTC and flagged tp.time_zone_missing - name the host's zone in [host_timezones]"
        )?;
    }
    if summary.no_time() > 0 {
        writeln!(
            out,
            "no event time {} (records without a time field: matched by single-event rules, \
             left out of correlations and analytics; name the field with --time-field)",
            summary.no_time()
        )?;
    }
    if summary.outside_range > 0 {
        writeln!(
            out,
            "outside --from/--to {} (events read and counted, not matched)",
            summary.outside_range
        )?;
    }
    if summary.below_min_level > 0 {
        writeln!(
            out,
            "below --min-level {} (findings not written)",
            summary.below_min_level
        )?;
    }
    if summary.duplicates() > 0 {
        writeln!(
            out,
            "duplicates {} (records seen again, e.g. through overlapping exports; each used once)",
            summary.duplicates()
        )?;
    }
    let sb = &summary.script_blocks;
    if sb.reassembled > 0 || sb.has_problems() {
        writeln!(
            out,
            "script blocks (4104): {} reassembled, {} incomplete ({} evicted by the pending limit), \
             {} duplicate parts, {} conflicting parts{}",
            sb.reassembled,
            sb.incomplete,
            sb.evicted,
            sb.duplicate_parts,
            sb.conflicting_parts,
            if sb.conflicting_parts > 0 {
                " (kept and flagged tp.script_block_conflict)"
            } else {
                ""
            }
        )?;
    }
    for error in errors.iter().take(show_errors) {
        writeln!(
            out,
            "  skipped {}",
            trustpath_report::terminal_text(&error.to_string())
        )?;
    }
    let listed = errors.len().min(show_errors) as u64;
    if summary.skipped() > listed {
        writeln!(
            out,
            "  … {} more skipped records (use --show-errors N to list more)",
            summary.skipped() - listed
        )?;
    }
    Ok(())
}

/// A writer for stderr lines that may quote paths and values from logs: every character
/// a terminal would act on (see `trustpath_report::is_unsafe_for_terminal`) is written as
/// a visible `\u{…}` escape, except the line feeds that end our own lines.
pub struct TerminalSafe<W: Write>(pub W);

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c != '\n' && trustpath_report::is_unsafe_for_terminal(c) {
                out.push_str(&format!("\\u{{{:X}}}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        self.0.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::TerminalSafe;
    use std::io::Write;

    #[test]
    fn controls_become_visible_and_lines_stay_lines() {
        let mut out = TerminalSafe(Vec::new());
        write!(out, "ignored a\u{1b}[2J.txt\u{202E}\nnext\n").expect("write");
        let text = String::from_utf8(out.0).expect("utf8");
        assert_eq!(text, "ignored a\\u{1B}[2J.txt\\u{202E}\nnext\n");
    }
}
