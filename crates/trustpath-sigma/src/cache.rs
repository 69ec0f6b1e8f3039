//! Parsed rule documents kept between runs, so a hunt does not parse the same YAML again.
//!
//! Parsing YAML is the largest single part of loading SigmaHQ's Windows rules: about
//! 80 ms CPU for its 2,407 documents, where decoding the same values from MessagePack
//! takes 16 ms and hashing the texts 3 ms.
//!
//! Flow:
//! ```text
//! open(file) ── read whole, check the header, keep each entry by its digest (the file
//!               itself is freed before the rules compile)
//!     │
//!     ├─ get(document text)  on every core: SHA-256 of the text → the value, decoded
//!     ├─ put(document text, value)  a document parsed fresh (a miss) is recorded
//!     │
//! save() ── only when there were misses: the old entries (unless the file grew past
//!           MAX_FILE_BYTES) and the new ones, written to a temporary file in the same
//!           folder and renamed over the cache file
//! ```
//!
//! Guarantees:
//! - The cache never changes what a rule means: an entry is the exact value the YAML
//!   parser gave for a text whose SHA-256 is its key, and only documents that parsed are
//!   kept (a document with a YAML error is parsed every run, so its error and line come
//!   from the parser).
//! - A cache that is missing, unreadable, written by another version or cut short is as
//!   good as empty: every document is parsed again and the file is rewritten. An entry
//!   that does not decode is a miss.
//! - A reader never sees half a file (rename), and two runs saving at once leave one of
//!   their files whole. A cache that cannot be written costs speed only; it is logged at
//!   debug level.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// First line of a cache file: the format and the version that wrote it (a new version
/// may parse YAML differently, so it starts afresh).
const HEADER: &str = concat!("trustpath rule cache 1 ", env!("CARGO_PKG_VERSION"), "\n");

/// Past this size the old entries are dropped when new ones are saved (the cache holds
/// the rule sets of recent runs; SigmaHQ's whole repository takes about 3 MB).
const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

type Key = [u8; 32];

/// Encoded values by the digest of their text.
type Entries = HashMap<Key, Box<[u8]>>;

/// The name of the cache file in a cache folder.
pub const FILE_NAME: &str = "sigma-documents.mpk";

/// Parsed rule documents by the SHA-256 of their text.
#[derive(Debug, Default)]
pub struct RuleCache {
    path: PathBuf,
    entries: Entries,
    /// Size of the file as it was read.
    bytes: usize,
    fresh: Mutex<Vec<(Key, Vec<u8>)>>,
}

impl RuleCache {
    /// The cache kept in `path` (which need not exist yet).
    pub fn open(path: &Path) -> RuleCache {
        let mut cache = RuleCache {
            path: path.to_path_buf(),
            ..RuleCache::default()
        };
        match read_entries(path) {
            Ok(Some((entries, bytes))) => {
                cache.entries = entries;
                cache.bytes = bytes;
            }
            Ok(None) => tracing::debug!(
                "rule cache {}: not a cache of this version; starting afresh",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::debug!("rule cache {}: {e}", path.display()),
        }
        cache
    }

    /// The value `text` parsed to in an earlier run, if the cache has it.
    pub fn get(&self, text: &str) -> Option<Value> {
        rmp_serde::from_slice(self.entries.get(&key(text))?).ok()
    }

    /// Records what `text` parsed to, for [`save`](Self::save).
    pub fn put(&self, text: &str, value: &Value) {
        if let Ok(bytes) = rmp_serde::to_vec(value) {
            self.fresh
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((key(text), bytes));
        }
    }

    /// Documents parsed fresh since [`open`](Self::open).
    pub fn misses(&self) -> usize {
        self.fresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Writes the cache back when documents were parsed fresh; a cache that cannot be
    /// written is logged at debug level and otherwise ignored.
    pub fn save(self) {
        let fresh = self
            .fresh
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if fresh.is_empty() {
            return;
        }
        let mut entries: Vec<(&Key, &[u8])> = Vec::new();
        if self.bytes <= MAX_FILE_BYTES {
            entries.extend(self.entries.iter().map(|(k, v)| (k, &v[..])));
        }
        entries.extend(fresh.iter().map(|(k, v)| (k, v.as_slice())));
        if let Err(e) = write(&self.path, &entries) {
            tracing::debug!("rule cache {}: not saved: {e}", self.path.display());
        }
    }
}

fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

/// Entries of a cache file and its size: the header, then per entry its key, the length
/// of its value (4 bytes, little-endian) and the value. Read entry by entry, never whole
/// (the file would stay in the heap the rules compile in). `None` when the header is not
/// this version's or the file is cut short.
fn read_entries(path: &Path) -> std::io::Result<Option<(Entries, usize)>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let size = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    let mut file = std::io::BufReader::new(file);
    let mut header = vec![0u8; HEADER.len()];
    if file.read_exact(&mut header).is_err() || header != HEADER.as_bytes() {
        return Ok(None);
    }
    let mut entries = HashMap::new();
    let mut at = HEADER.len();
    while at < size {
        let mut head = [0u8; 36];
        let mut len = [0u8; 4];
        if file.read_exact(&mut head).is_err() {
            return Ok(None);
        }
        let (key, len_bytes) = head.split_at(32);
        len.copy_from_slice(len_bytes);
        let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
        if len > size.saturating_sub(at + 36) {
            return Ok(None);
        }
        let mut value = vec![0u8; len];
        if file.read_exact(&mut value).is_err() {
            return Ok(None);
        }
        let key: Key = key.try_into().unwrap_or([0; 32]);
        entries.insert(key, value.into_boxed_slice());
        at += 36 + len;
    }
    Ok(Some((entries, size)))
}

fn write(path: &Path, entries: &[(&Key, &[u8])]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        out.write_all(HEADER.as_bytes())?;
        for (key, bytes) in entries {
            let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
            out.write_all(*key)?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(bytes)?;
        }
        out.flush()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_document_comes_back_and_a_damaged_file_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join(FILE_NAME);
        let text = "title: t\ndetection:\n  sel:\n    A: 1\n  condition: sel\n";
        let value: Value = serde_norway::from_str(text).expect("yaml");

        let cache = RuleCache::open(&path);
        assert_eq!(cache.get(text), None);
        cache.put(text, &value);
        assert_eq!(cache.misses(), 1);
        cache.save();

        let cache = RuleCache::open(&path);
        assert_eq!(cache.get(text), Some(value.clone()));
        assert_eq!(cache.get("title: other\n"), None);
        cache.save(); // nothing new: the file is left as it is

        // Cut short, or written by another version: as good as empty.
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
        assert_eq!(RuleCache::open(&path).get(text), None);
        std::fs::write(&path, b"trustpath rule cache 0 0.0.0\n").expect("write");
        assert_eq!(RuleCache::open(&path).get(text), None);
    }
}
