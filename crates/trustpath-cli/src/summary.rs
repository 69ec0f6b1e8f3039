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
    writeln!(
        out,
        "skipped {}{}, matched {}, late {}, evicted {}, findings {}",
        summary.skipped(),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        summary.matched,
        summary.late,
        summary.evicted,
        summary.findings
    )?;
    for error in errors.iter().take(show_errors) {
        writeln!(out, "  skipped {error}")?;
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
