//! Matches of stateless rules, held per input until the whole scan has decided duplicates
//! and tenants: in memory up to a shared limit, then in an unnamed-on-close temporary
//! file (JSON Lines), so memory stays flat whatever the number of matches.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tempfile::TempPath;
use trustpath_analytics::Matched;
use trustpath_event::Event;

/// Bytes of spooled matches all inputs may hold in memory together, by default (as
/// [`trustpath_pipeline::memory::approx_event_bytes`] counts them: the heap they take is
/// about half as much again). At 32 MiB, SigmaHQ's Windows rules over a million events
/// peaked above rsigma's memory; the spill is a sequential temp file, cheap to replay.
pub const SPOOL_MEMORY_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    rules: Vec<usize>,
    event: Arc<Event>,
}

/// One input's spooled matches, in record order.
#[derive(Default)]
pub struct Spool {
    memory: Vec<(u128, Matched)>,
    writer: Option<BufWriter<File>>,
    path: Option<TempPath>,
    count: u64,
    error: Option<String>,
}

impl Spool {
    /// Add a match; `used` is the in-memory bytes of every spool of the run, `limit` what
    /// they may hold together.
    pub fn push(&mut self, key: u128, matched: Matched, used: &AtomicU64, limit: u64) {
        self.count += 1;
        let bytes = trustpath_pipeline::memory::approx_event_bytes(&matched.event);
        if self.path.is_none() && used.fetch_add(bytes, Ordering::Relaxed) + bytes <= limit {
            self.memory.push((key, matched));
            return;
        }
        if let Err(e) = self.write(key, &matched) {
            // The spool file cannot be written (disk full): keep the match in memory
            // rather than lose it; the error is reported with the run.
            self.error.get_or_insert_with(|| e.to_string());
            self.memory.push((key, matched));
        }
    }

    fn write(&mut self, key: u128, matched: &Matched) -> std::io::Result<()> {
        if self.writer.is_none() {
            let file = match &self.path {
                Some(path) => OpenOptions::new().append(true).open(path)?,
                None => {
                    let named = tempfile::Builder::new()
                        .prefix("trustpath-spool-")
                        .tempfile()?;
                    let (file, path) = named.into_parts();
                    self.path = Some(path);
                    file
                }
            };
            self.writer = Some(BufWriter::with_capacity(256 * 1024, file));
        }
        let entry = Entry {
            key: format!("{key:032x}"),
            rules: matched.rules.clone(),
            event: Arc::clone(&matched.event),
        };
        if let Some(writer) = self.writer.as_mut() {
            serde_json::to_writer(&mut *writer, &entry)?;
            writer.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Close the file between the input's end and the emission (one open file per input
    /// being read, not per input of the run).
    pub fn close(&mut self) {
        if let Some(mut writer) = self.writer.take()
            && let Err(e) = writer.flush()
        {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// Matches spooled.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was spooled.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every match, in record order, in batches of up to `batch` (memory first: the file
    /// only starts when memory is full), then the first error met, if any. File lines
    /// are handed over unparsed: [`Batch::decide`] parses them where the batch is
    /// decided (on the pool).
    pub fn drain_batches(
        mut self,
        batch: usize,
        each: &mut dyn FnMut(Batch) -> std::io::Result<()>,
    ) -> std::io::Result<Option<String>> {
        let batch = batch.max(1);
        self.close();
        let mut memory = std::mem::take(&mut self.memory).into_iter();
        loop {
            let chunk: Vec<(u128, Matched)> = memory.by_ref().take(batch).collect();
            if chunk.is_empty() {
                break;
            }
            each(Batch::Memory(chunk))?;
        }
        let Some(path) = &self.path else {
            return Ok(self.error.take());
        };
        let mut lines = BufReader::with_capacity(256 * 1024, File::open(path)?).lines();
        let mut number = 0usize;
        loop {
            let mut raw = Vec::with_capacity(batch);
            for line in lines.by_ref().take(batch) {
                raw.push(line?);
            }
            if raw.is_empty() {
                break;
            }
            let first = number;
            number += raw.len();
            each(Batch::File { first, lines: raw })?;
        }
        Ok(self.error.take())
    }
}

/// Spooled matches handed over together, in record order.
pub enum Batch {
    /// Matches held in memory.
    Memory(Vec<(u128, Matched)>),
    /// Lines of the spool file; `first` is the number of lines before them.
    File {
        /// Lines of the file before these.
        first: usize,
        /// One match per line.
        lines: Vec<String>,
    },
}

impl Batch {
    /// `decide` for every match, on every core, in record order; a file line that
    /// cannot be read back is an error naming the line.
    pub fn decide<T: Send>(
        self,
        decide: impl Fn(u128, Matched) -> T + Sync,
    ) -> Vec<Result<T, String>> {
        use rayon::prelude::*;
        match self {
            Batch::Memory(matches) => matches
                .into_par_iter()
                .map(|(key, m)| Ok(decide(key, m)))
                .collect(),
            Batch::File { first, lines } => lines
                .par_iter()
                .enumerate()
                .map(|(i, line)| {
                    let entry: Entry = serde_json::from_str(line)
                        .map_err(|e| format!("spool line {}: {e}", first + i + 1))?;
                    let key = u128::from_str_radix(&entry.key, 16).unwrap_or_default();
                    let matched = Matched {
                        event: entry.event,
                        rules: entry.rules,
                    };
                    Ok(decide(key, matched))
                })
                .collect(),
        }
    }
}
