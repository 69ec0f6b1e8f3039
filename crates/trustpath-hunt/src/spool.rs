//! Matches of stateless rules, held per input until the whole scan has decided duplicates
//! and tenants: in memory up to a shared limit, then in an unnamed-on-close temporary
//! file, so memory stays flat whatever the number of matches. The file holds one
//! MessagePack entry per match (structs as maps), each after its length as 4
//! little-endian bytes: read back in batches and decoded on every core. MessagePack,
//! not JSON text: over SigmaHQ's rules, writing and re-reading JSON text took 9.7 % of a
//! hunt's CPU, MessagePack 8.4 % (most of it is rebuilding the events' maps).

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
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
    key: u128,
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
    /// One entry being encoded (its length goes first), reused from entry to entry.
    frame: Vec<u8>,
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
            key,
            rules: matched.rules.clone(),
            event: Arc::clone(&matched.event),
        };
        let frame = &mut self.frame;
        frame.clear();
        frame.extend_from_slice(&[0; 4]);
        entry
            .serialize(&mut rmp_serde::Serializer::new(&mut *frame).with_struct_map())
            .map_err(std::io::Error::other)?;
        let len = u32::try_from(frame.len() - 4).map_err(std::io::Error::other)?;
        frame[..4].copy_from_slice(&len.to_le_bytes());
        if let Some(writer) = self.writer.as_mut() {
            writer.write_all(frame)?;
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
    /// only starts when memory is full), then the first error met, if any. File entries
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
        let mut file = BufReader::with_capacity(256 * 1024, File::open(path)?);
        let mut number = 0usize;
        loop {
            let mut raw = Vec::with_capacity(batch);
            while raw.len() < batch {
                let Some(frame) = read_frame(&mut file)? else {
                    break;
                };
                raw.push(frame);
            }
            if raw.is_empty() {
                break;
            }
            let first = number;
            number += raw.len();
            each(Batch::File { first, frames: raw })?;
        }
        Ok(self.error.take())
    }
}

/// Spooled matches handed over together, in record order.
pub enum Batch {
    /// Matches held in memory.
    Memory(Vec<(u128, Matched)>),
    /// Entries of the spool file; `first` is the number of entries before them.
    File {
        /// Entries of the file before these.
        first: usize,
        /// One encoded match each.
        frames: Vec<Vec<u8>>,
    },
}

impl Batch {
    /// `decide` for every match, on every core, in record order; a file entry that
    /// cannot be read back is an error naming the entry.
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
            Batch::File { first, frames } => frames
                .par_iter()
                .enumerate()
                .map(|(i, frame)| {
                    let entry: Entry = rmp_serde::from_slice(frame)
                        .map_err(|e| format!("spool entry {}: {e}", first + i + 1))?;
                    let matched = Matched {
                        event: entry.event,
                        rules: entry.rules,
                    };
                    Ok(decide(entry.key, matched))
                })
                .collect(),
        }
    }
}

/// The next length-prefixed entry, `None` at the end of the file (a cut-off last entry
/// is an error).
fn read_frame(file: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match file.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u64::from(u32::from_le_bytes(len));
    let mut frame = Vec::new();
    file.take(len).read_to_end(&mut frame)?;
    if frame.len() as u64 != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "spool file ends inside an entry",
        ));
    }
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::read_frame;

    #[test]
    fn frames_end_cleanly_or_say_they_were_cut() {
        let mut bytes = Vec::new();
        for body in [&b"abc"[..], b""] {
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(body);
        }
        let mut r = &bytes[..];
        assert_eq!(read_frame(&mut r).ok().flatten(), Some(b"abc".to_vec()));
        assert_eq!(read_frame(&mut r).ok().flatten(), Some(Vec::new()));
        assert!(matches!(read_frame(&mut r), Ok(None)));
        let cut = [5u8, 0, 0, 0, b'x'];
        assert!(read_frame(&mut &cut[..]).is_err());
    }
}
