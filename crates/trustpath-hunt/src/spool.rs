//! Matches of stateless rules, held per input until the whole scan has decided duplicates
//! and tenants: in memory up to a shared limit, then in the run's one unnamed temporary
//! file, so memory stays flat whatever the number of matches. An input appends its
//! entries to the file in blocks of about 256 KiB and remembers where they went. Each
//! entry is one MessagePack match (structs as maps) after its length as 4 little-endian
//! bytes: read back in batches and decoded on every core. MessagePack,
//! not JSON text: over SigmaHQ's rules, writing and re-reading JSON text took 9.7 % of a
//! hunt's CPU, MessagePack 8.4 % (most of it is rebuilding the events' maps).

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use trustpath_analytics::Matched;
use trustpath_event::Event;

/// Bytes of spooled matches all inputs may hold in memory together, by default (as
/// [`trustpath_pipeline::memory::approx_event_bytes`] counts them: the heap they take is
/// about half as much again). At 32 MiB, SigmaHQ's Windows rules over a million events
/// peaked above rsigma's memory; the spill is a sequential temp file, cheap to replay.
pub const SPOOL_MEMORY_BYTES: u64 = 16 * 1024 * 1024;

/// Encoded entries an input collects before it appends them to the run's spool file.
const BLOCK_BYTES: usize = 256 * 1024;

#[derive(Serialize, Deserialize)]
struct Entry {
    key: u128,
    rules: Vec<usize>,
    event: Arc<Event>,
}

/// What the spools of one run share: the memory they may hold together, and one
/// temporary file (created on the first spill, unnamed, gone when the run ends). One file
/// per run, not per input: over hayabusa's 593 EVTX samples, creating 367 temporary files
/// took 5 % of the hunt's CPU in the filesystem.
pub struct SpoolShared {
    used: AtomicU64,
    limit: u64,
    file: Mutex<Option<SpoolFile>>,
}

struct SpoolFile {
    file: File,
    /// Bytes written so far: where the next block goes.
    end: u64,
}

impl SpoolShared {
    /// Spools that may hold `limit` bytes of matches in memory together.
    pub fn new(limit: u64) -> Self {
        SpoolShared {
            used: AtomicU64::new(0),
            limit,
            file: Mutex::new(None),
        }
    }

    /// Append `block` to the file (creating it first); where it went.
    fn append(&self, block: &[u8]) -> std::io::Result<(u64, u64)> {
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let spool = match &mut *guard {
            Some(spool) => spool,
            slot @ None => slot.insert(SpoolFile {
                file: tempfile::tempfile()?,
                end: 0,
            }),
        };
        spool.file.seek(SeekFrom::Start(spool.end))?;
        spool.file.write_all(block)?;
        let at = spool.end;
        let len = block.len() as u64;
        spool.end += len;
        Ok((at, len))
    }

    /// The block at `at`, `len` bytes long.
    fn read(&self, at: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let spool = guard
            .as_mut()
            .ok_or_else(|| std::io::Error::other("spool file missing"))?;
        spool.file.seek(SeekFrom::Start(at))?;
        let mut block = Vec::new();
        (&mut spool.file).take(len).read_to_end(&mut block)?;
        if block.len() as u64 != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "spool file ends inside a block",
            ));
        }
        Ok(block)
    }
}

/// Entries of one input that went past memory: blocks of the run's file, in order (or
/// kept in memory when the file could not be written, so nothing is lost).
enum Block {
    File { at: u64, len: u64 },
    Memory(Vec<u8>),
}

/// One input's spooled matches, in record order.
#[derive(Default)]
pub struct Spool {
    memory: Vec<(u128, Matched)>,
    /// Past the memory limit: every later entry is encoded (keeps record order).
    spilled: bool,
    blocks: Vec<Block>,
    /// Encoded entries not yet appended to the file (each after its length).
    pending: Vec<u8>,
    count: u64,
    error: Option<String>,
}

impl Spool {
    /// Add a match; `shared` holds what every spool of the run may keep in memory.
    pub fn push(&mut self, key: u128, matched: Matched, shared: &SpoolShared) {
        self.count += 1;
        if !self.spilled {
            // Sized only while memory may still take it: once an input spills, every later
            // entry is encoded.
            let bytes = trustpath_pipeline::memory::approx_event_bytes(&matched.event);
            if shared.used.fetch_add(bytes, Ordering::Relaxed) + bytes <= shared.limit {
                self.memory.push((key, matched));
                return;
            }
        }
        self.spilled = true;
        if let Err(e) = self.encode(key, &matched) {
            // The entry cannot be encoded: keep it in memory rather than lose it (out of
            // record order); the error is reported with the run.
            self.error.get_or_insert_with(|| e.to_string());
            self.memory.push((key, matched));
            return;
        }
        if self.pending.len() >= BLOCK_BYTES {
            self.flush(shared);
        }
    }

    fn encode(&mut self, key: u128, matched: &Matched) -> std::io::Result<()> {
        let entry = Entry {
            key,
            rules: matched.rules.clone(),
            event: Arc::clone(&matched.event),
        };
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; 4]);
        let encoded = entry
            .serialize(&mut rmp_serde::Serializer::new(&mut self.pending).with_struct_map())
            .map_err(std::io::Error::other)
            .and_then(|()| {
                u32::try_from(self.pending.len() - start - 4).map_err(std::io::Error::other)
            });
        match encoded {
            Ok(len) => {
                self.pending[start..start + 4].copy_from_slice(&len.to_le_bytes());
                Ok(())
            }
            Err(e) => {
                self.pending.truncate(start);
                Err(e)
            }
        }
    }

    /// Append the pending entries to the run's file; when it cannot be written (disk
    /// full), they stay in memory and the error is reported with the run.
    fn flush(&mut self, shared: &SpoolShared) {
        if self.pending.is_empty() {
            return;
        }
        let block = std::mem::take(&mut self.pending);
        match shared.append(&block) {
            Ok((at, len)) => {
                self.blocks.push(Block::File { at, len });
                self.pending = block;
                self.pending.clear();
            }
            Err(e) => {
                self.error.get_or_insert_with(|| e.to_string());
                self.blocks.push(Block::Memory(block));
            }
        }
    }

    /// The input is read: its last entries go to the file.
    pub fn close(&mut self, shared: &SpoolShared) {
        self.flush(shared);
        self.pending = Vec::new();
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
        shared: &SpoolShared,
        batch: usize,
        each: &mut dyn FnMut(Batch) -> std::io::Result<()>,
    ) -> std::io::Result<Option<String>> {
        let batch = batch.max(1);
        self.close(shared);
        let mut memory = std::mem::take(&mut self.memory).into_iter();
        loop {
            let chunk: Vec<(u128, Matched)> = memory.by_ref().take(batch).collect();
            if chunk.is_empty() {
                break;
            }
            each(Batch::Memory(chunk))?;
        }
        let mut number = 0usize;
        let mut raw = Vec::with_capacity(batch);
        for block in std::mem::take(&mut self.blocks) {
            let bytes = match block {
                Block::File { at, len } => shared.read(at, len)?,
                Block::Memory(bytes) => bytes,
            };
            let mut rest = &bytes[..];
            while let Some(frame) = read_frame(&mut rest)? {
                raw.push(frame);
                if raw.len() == batch {
                    let first = number;
                    number += raw.len();
                    let frames = std::mem::replace(&mut raw, Vec::with_capacity(batch));
                    each(Batch::File { first, frames })?;
                }
            }
        }
        if !raw.is_empty() {
            each(Batch::File {
                first: number,
                frames: raw,
            })?;
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
    use super::{Batch, Spool, SpoolShared, read_frame};
    use std::sync::Arc;
    use trustpath_analytics::Matched;
    use trustpath_event::{Event, Format, Origin, SourceKind};

    fn matched(n: u64) -> Matched {
        let mut fields = trustpath_event::Fields::default();
        fields.insert("n".into(), n.into());
        fields.insert("pad".into(), "x".repeat(200).into());
        Matched {
            event: Arc::new(Event {
                time: jiff::Timestamp::UNIX_EPOCH,
                source: SourceKind::Windows,
                format: Format::Evtx,
                origin: Origin::file("test"),
                fields,
                keys: Default::default(),
            }),
            rules: vec![usize::try_from(n % 7).unwrap_or(0)],
        }
    }

    /// Keys and rule numbers drained from `spool`, in order.
    fn drained(spool: Spool, shared: &SpoolShared) -> Vec<(u128, u64)> {
        let mut out = Vec::new();
        let error = spool
            .drain_batches(shared, 100, &mut |batch: Batch| {
                for item in batch.decide(|key, m| (key, m.event.fields["n"].as_u64())) {
                    let (key, n) = item.map_err(std::io::Error::other)?;
                    out.push((key, n.unwrap_or(u64::MAX)));
                }
                Ok(())
            })
            .expect("drain");
        assert_eq!(error, None);
        out
    }

    #[test]
    fn inputs_spilling_together_each_get_their_own_entries_back_in_order() {
        // Room in memory for a few entries only; both inputs then write many blocks to
        // the one file, interleaved.
        let shared = SpoolShared::new(4000);
        let (mut a, mut b) = (Spool::default(), Spool::default());
        for n in 0..3000u64 {
            a.push(u128::from(n), matched(n), &shared);
            b.push(u128::from(n) + 1_000_000, matched(n + 1_000_000), &shared);
        }
        a.close(&shared);
        b.close(&shared);
        assert!(
            a.blocks.len() > 1 && b.blocks.len() > 1,
            "several blocks each"
        );
        let want_a: Vec<(u128, u64)> = (0..3000u64).map(|n| (u128::from(n), n)).collect();
        let want_b: Vec<(u128, u64)> = (0..3000u64)
            .map(|n| (u128::from(n) + 1_000_000, n + 1_000_000))
            .collect();
        assert_eq!(drained(b, &shared), want_b);
        assert_eq!(drained(a, &shared), want_a);
    }

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
