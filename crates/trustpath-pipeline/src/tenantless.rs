//! Proving before a scan that no record of its inputs can name a tenant.
//!
//! Host events are attributed to a tenant only when a census names one
//! ([`InputResult::host_tenants`](crate::InputResult::host_tenants)), and a census names
//! only what records name in one of the fields
//! [`trustpath_normalize::TENANT_KEY_MARKERS`] covers. When no input's bytes hold a
//! marker, no census will name a tenant and attribution changes nothing, so a caller may
//! write what it decides about an input while the scan runs instead of after it.
//!
//! The proof is literal and conservative: every input must be a plain-text file (JSON or
//! CSV as [`trustpath_read::sniff`] tells it, UTF-8 or Windows-1252; not compressed, not
//! an archive, not EVTX, not UTF-16, not standard input), and none of its bytes may hold
//! a marker (ASCII case-insensitively) or a JSON `\u` escape of an ASCII letter, which
//! could spell one. Anything else is "not proven", never "proven": the caller then does
//! what it does without the proof.
//!
//! The proof reads every byte a second time, which is worth it when the inputs come from
//! memory (the page cache: a case hunted again, an export just written) and not from a
//! cold disk or a network share: past its first [`PACE_GRACE`] bytes, a proof reading
//! slower than [`PACE_MIN`] bytes a second gives up (not proven).
//!
//! The scan waits for the proof, so a large file is proven in parts on several threads
//! at once ([`SPLIT_BYTES`]): one thread proving a 1.25 GB export held the scan back by
//! a quarter of a second after the rules had loaded, with the other core idle.

use aho_corasick::packed::{Config, MatchKind, Searcher};
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use trustpath_read::{Input, Sniffed, TextEncoding};

/// Bytes read at a time.
const BUFFER: usize = 1 << 20;

/// Bytes the format is told from (as `trustpath_read` sniffs it).
const SNIFF_BYTES: u64 = 64 * 1024;

/// Bytes a proof reads before its pace is judged.
pub const PACE_GRACE: u64 = 256 * 1024 * 1024;

/// Bytes a second a proof must read at, past [`PACE_GRACE`] (about a third of what it
/// reads from the page cache on one core of the benchmark machine).
pub const PACE_MIN: u64 = 512 * 1024 * 1024;

/// Files at least this large are proven in parts, one thread per core (up to four).
pub const SPLIT_BYTES: u64 = 64 * 1024 * 1024;

/// Whether no record of `inputs` can name a tenant (module docs). Reads each input once,
/// up to the first that fails; false when an input cannot be read or is read too slowly.
pub fn names_no_tenant(inputs: &[Input]) -> bool {
    let Some(markers) = Markers::new() else {
        return false;
    };
    let pace = Pace::new(PACE_GRACE, PACE_MIN);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as u64;
    inputs.iter().all(|input| match input {
        Input::File(path) => file_proven(path, &markers, &pace, |len| {
            if len >= SPLIT_BYTES { cores } else { 1 }
        })
        .unwrap_or(false),
        Input::Stdin => false,
    })
}

/// Whether the file at `path` holds no marker: its start is plain text, and each of the
/// byte ranges `parts` gives for its length is proven on a thread of its own.
fn file_proven(
    path: &std::path::Path,
    markers: &Markers,
    pace: &Pace,
    parts: impl Fn(u64) -> u64,
) -> std::io::Result<bool> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let parts = parts(len).clamp(1, len.max(1));
    if parts < 2 {
        return file_names_no_tenant(file, markers, pace);
    }
    if plain_text_head(&file)?.is_none() {
        return Ok(false);
    }
    drop(file);
    // Each part reads on past its end by the longest marker less one, so a marker that
    // starts in it is found whole; the last reads to the end of the file, however long
    // it has grown since. A part that finds a marker stops the others.
    let failed = AtomicBool::new(false);
    let part = |i: u64| -> bool {
        let start = len / parts * i;
        let limit = if i + 1 == parts {
            u64::MAX
        } else {
            len / parts + markers.overlap as u64
        };
        let proven = std::fs::File::open(path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(start))?;
                scan_markers(f.take(limit), Vec::new(), markers, pace, &failed)
            })
            .unwrap_or(false);
        if !proven {
            failed.store(true, Ordering::Relaxed);
        }
        proven
    };
    Ok(std::thread::scope(|scope| {
        let others: Vec<_> = (1..parts).map(|i| scope.spawn(move || part(i))).collect();
        let first = part(0);
        // Every part is waited for (each stops early once one failed).
        others
            .into_iter()
            .fold(first, |all, other| other.join().unwrap_or(false) && all)
    }))
}

/// Bytes read so far, by every thread of a proof, and since when: whether the proof
/// keeps up (module docs).
struct Pace {
    started: std::time::Instant,
    read: AtomicU64,
    grace: u64,
    min_per_second: u64,
}

impl Pace {
    fn new(grace: u64, min_per_second: u64) -> Self {
        Pace {
            started: std::time::Instant::now(),
            read: AtomicU64::new(0),
            grace,
            min_per_second,
        }
    }

    /// Count `bytes` more; false once past the grace and slower than the minimum.
    fn keeps_up(&self, bytes: usize) -> bool {
        let read = self
            .read
            .fetch_add(bytes as u64, Ordering::Relaxed)
            .saturating_add(bytes as u64);
        if read < self.grace {
            return true;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        seconds <= 0.0 || read as f64 / seconds >= self.min_per_second as f64
    }
}

/// The markers in lower case, and the `\u` escapes of ASCII letters
/// (`\u0041`–`\u007a`), searched for in text lower-cased first: a few literals in plain
/// bytes, which Teddy finds at gigabytes per second (an ASCII case-insensitive automaton,
/// whose prefilter looks for backslashes, took a quarter of a second over 125 MB).
struct Markers {
    searcher: Searcher,
    /// Bytes carried over between reads (the longest pattern less one), so a pattern
    /// split across two reads is still found.
    overlap: usize,
}

impl Markers {
    /// `None` where Teddy cannot run (no SIMD): then nothing is proven.
    fn new() -> Option<Self> {
        let mut patterns: Vec<String> = trustpath_normalize::TENANT_KEY_MARKERS
            .iter()
            .map(|m| m.to_ascii_lowercase())
            .collect();
        patterns.extend(["\\u004", "\\u005", "\\u006", "\\u007"].map(str::to_owned));
        let overlap = patterns.iter().map(String::len).max()?.saturating_sub(1);
        let searcher = Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .builder()
            .extend(patterns)
            .build()?;
        Some(Markers { searcher, overlap })
    }
}

/// Whether one file, read through `file`, holds no marker and starts as plain text.
fn file_names_no_tenant(
    mut file: impl Read,
    markers: &Markers,
    pace: &Pace,
) -> std::io::Result<bool> {
    let Some(head) = plain_text_head(file.by_ref())? else {
        return Ok(false);
    };
    scan_markers(file, head, markers, pace, &AtomicBool::new(false))
}

/// The first bytes of `file`, when they are plain text: the format is told from the
/// first 64 KiB, as the reader tells it.
fn plain_text_head(file: impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(BUFFER);
    file.take(SNIFF_BYTES).read_to_end(&mut head)?;
    Ok(plain_text(&head).then_some(head))
}

/// Whether `buffer` and the rest of `file` hold no marker: false as soon as one is
/// found, the pace is lost, or another part of the proof `failed`.
fn scan_markers(
    mut file: impl Read,
    mut buffer: Vec<u8>,
    markers: &Markers,
    pace: &Pace,
    failed: &AtomicBool,
) -> std::io::Result<bool> {
    buffer.reserve(BUFFER.saturating_sub(buffer.len()));
    let mut checked = 0;
    loop {
        buffer[checked..].make_ascii_lowercase();
        if markers.searcher.find(&buffer).is_some()
            || !pace.keeps_up(buffer.len() - checked)
            || failed.load(Ordering::Relaxed)
        {
            return Ok(false);
        }
        let kept = markers.overlap.min(buffer.len());
        buffer.drain(..buffer.len() - kept);
        checked = kept;
        if file.by_ref().take(BUFFER as u64).read_to_end(&mut buffer)? == 0 {
            return Ok(true);
        }
    }
}

/// Whether the start of a file is JSON or CSV text in an encoding whose ASCII letters
/// are single bytes.
fn plain_text(head: &[u8]) -> bool {
    let text = |encoding: &TextEncoding| {
        matches!(
            encoding,
            TextEncoding::Utf8 | TextEncoding::Utf8Bom | TextEncoding::Windows1252
        )
    };
    match trustpath_read::sniff(head) {
        Sniffed::JsonArray(e) | Sniffed::JsonObjects(e) | Sniffed::Csv(e) => text(&e),
        Sniffed::Empty => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proven(bytes: &[u8]) -> bool {
        let pace = Pace::new(PACE_GRACE, PACE_MIN);
        Markers::new()
            .map(|m| file_names_no_tenant(bytes, &m, &pace).unwrap_or(false))
            .unwrap_or(false)
    }

    #[test]
    fn only_text_without_a_marker_is_proven() {
        let host = br#"{"EventID":4688,"Channel":"Security","CommandLine":"whoami"}"#;
        assert!(proven(host));
        assert!(proven(b""));
        for named in [
            r#"{"OrganizationId":"2c3d"}"#,
            r#"{"organizationID":"2c3d"}"#,
            r#"{"resourceTenantId":"2c3d"}"#,
            r#"{"tp.tenant":"2c3d"}"#,
            r#"{"T\u0065nantId":"2c3d"}"#,
            "TimeGenerated,OfficeTenantId,Operation\n2025-05-01,2c3d,x\n",
            // Inside a CSV column holding the record's JSON.
            "CreationDate,UserIds,Operations,AuditData\n2025-05-01,a,b,\"{\"\"OrganizationId\"\":\"\"2c3d\"\"}\"\n",
        ] {
            assert!(!proven(named.as_bytes()), "{named}");
        }
        // Nor is a file read too slowly (a cold disk: it would be read twice).
        let Some(m) = Markers::new() else {
            panic!("markers build")
        };
        let slow = Pace::new(0, u64::MAX);
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(file_names_no_tenant(&host[..], &m, &slow).ok(), Some(false));
        // Binary and UTF-16 inputs are never proven.
        assert!(!proven(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
        assert!(!proven(b"ElfFile\0rest"));
        assert!(!proven(&[0xff, 0xfe, b'{', 0, b'}', 0]));
    }

    #[test]
    fn a_marker_across_two_reads_is_found() {
        // A reader that hands over a few bytes at a time splits every marker somewhere.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(5);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let Some(m) = Markers::new() else {
            panic!("markers build")
        };
        let named = br#"{"EventID":1,"x":"y","OrganizationId":"2c3d"}"#;
        for skip in 0..8 {
            let mut bytes = vec![b' '; skip];
            bytes.extend_from_slice(named);
            let pace = Pace::new(PACE_GRACE, PACE_MIN);
            assert_eq!(
                file_names_no_tenant(Trickle(&bytes), &m, &pace).ok(),
                Some(false),
                "offset {skip}"
            );
        }
    }

    #[test]
    fn a_file_proven_in_parts_finds_a_marker_wherever_it_is() {
        let Some(m) = Markers::new() else {
            panic!("markers build")
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let line = br#"{"EventID":4688,"Channel":"Security","CommandLine":"whoami /all"}"#;
        let mut clean = Vec::new();
        while clean.len() < 4000 {
            clean.extend_from_slice(line);
            clean.push(b'\n');
        }
        for parts in [2u64, 3, 4] {
            std::fs::write(&path, &clean).expect("write");
            let pace = Pace::new(PACE_GRACE, PACE_MIN);
            assert_eq!(file_proven(&path, &m, &pace, |_| parts).ok(), Some(true));
            // A marker starting at every place around each boundary between parts, at the
            // start and at the end, is found.
            let marker = b"OrganizationId";
            let len = clean.len();
            let mut places: Vec<usize> = vec![0, len - marker.len()];
            for i in 1..parts {
                let edge = (len as u64 / parts * i) as usize;
                places.extend(edge.saturating_sub(marker.len() + 1)..edge + 2);
            }
            for at in places {
                let mut named = clean.clone();
                named[at..at + marker.len()].copy_from_slice(marker);
                std::fs::write(&path, &named).expect("write");
                let pace = Pace::new(PACE_GRACE, PACE_MIN);
                assert_eq!(
                    file_proven(&path, &m, &pace, |_| parts).ok(),
                    Some(false),
                    "{parts} parts, marker at {at}"
                );
            }
        }
        // A binary start is never proven, in parts or not.
        std::fs::write(&path, [&[0x1f, 0x8b, 8, 0][..], &clean].concat()).expect("write");
        let pace = Pace::new(PACE_GRACE, PACE_MIN);
        assert_eq!(file_proven(&path, &m, &pace, |_| 3).ok(), Some(false));
    }
}
