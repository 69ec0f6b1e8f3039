//! The read stage: input paths in, a stream of [`RawRecord`]s (or [`RecordError`]s) out.
//!
//! ```text
//! paths ─► expand_inputs ─► Input ─► read_input ─► sniff (magic bytes / first character)
//!                                      │
//!          .gz ─► TolerantGz ──────────┤ (sniffed again)
//!          .zip ─► every member ───────┤ (sniffed again, `a.zip!member.json`)
//!          EVTX ─► evtx crate          │
//!          JSON array / JSON Lines / one (pretty) object ─► streaming JSON scanner
//!          CSV with a known header ─► CSV reader (Purview, Log Analytics exports;
//!                                     `,` `;` or tab, sniffed from the header)
//!                                      ▼
//!                      classify(record) ─► RawRecord { origin, format, fields }
//! ```
//!
//! * The format of a file is sniffed from its content, never from its extension; the
//!   [`Format`] of each record is decided from the record's own keys by [`classify`], so a
//!   folder or a file may mix kinds.
//! * Every reader streams: memory stays constant in the input size, apart from one record at
//!   a time (bounded by [`ReadOptions::max_record_bytes`]). Exceptions: a zip archive or an
//!   EVTX file that arrives through a non-seekable stream (stdin, a zip member, a `.gz`) is
//!   buffered into memory first, because both formats need random access.
//! * Nothing here panics on bad input and nothing is dropped silently: every problem is a
//!   [`RecordError`] carrying its [`Origin`] (file, line, byte offset, record index), and
//!   reading goes on with the next record where the format allows it.
//! * Text may be UTF-8 (with or without BOM) or UTF-16 LE/BE with a BOM (PowerShell 5
//!   `Out-File`, Excel "Unicode Text"); UTF-16 is transcoded to UTF-8 on the fly, and byte
//!   offsets then refer to the transcoded UTF-8 stream. A CSV that is not valid UTF-8 is
//!   Windows-1252 (Excel "CSV (Comma delimited)"): decided from the sniffed prefix, or, when
//!   the first invalid byte comes later, from that byte on (offsets after it are those of
//!   the transcoded stream).
//! * [`not_a_log`] tells the files of a case folder that are clearly not logs (images,
//!   PDFs, Office documents, notes and tool logs) so callers list them as ignored instead
//!   of reading them into skipped records.

mod classify;
mod csvread;
mod evtxread;
mod gz;
mod inputs;
mod json;
mod sniff;
mod source;
mod text;

pub use classify::classify;
pub use inputs::{Input, expand_inputs, not_a_log};
pub use sniff::{Sniffed, TextEncoding, sniff};

use std::sync::Arc;
pub use trustpath_event::{ErrorKind, Fields, Format, Origin, RawRecord, RecordError};

/// Limits that keep one bad record from exhausting memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Largest record (JSON value, JSON line, CSV row) that is buffered and parsed; larger
    /// ones are reported as [`ErrorKind::TooLarge`] and skipped without being buffered.
    /// Default 64 MiB.
    pub max_record_bytes: usize,
    /// Deepest nesting of arrays/objects accepted in one record; deeper ones are reported as
    /// [`ErrorKind::TooDeep`]. Default 128. (serde_json refuses more than 127 levels of its
    /// own, which is reported as `TooDeep` too.)
    pub max_depth: usize,
    /// Largest zip archive or EVTX file read from a stream (stdin, a gzip, a zip member):
    /// both need random access, so the stream is spooled (in memory up to 16 MiB, then to
    /// an unnamed temporary file). Larger ones are reported and not read. Default 4 GiB.
    pub max_spool_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_record_bytes: 64 * 1024 * 1024,
            max_depth: 128,
            max_spool_bytes: 4 * 1024 * 1024 * 1024,
        }
    }
}

/// Stream every record of one input to `emit`, in file order.
///
/// Never panics; every problem (unreadable file, unknown content, a bad record) is an `Err`
/// item with its [`Origin`].
pub fn read_input(
    input: &Input,
    opts: &ReadOptions,
    emit: &mut dyn FnMut(Result<RawRecord, RecordError>),
) {
    let name: Arc<str> = input.name().into();
    guarded(&name, emit, &mut |emit| match input {
        Input::File(path) => match std::fs::File::open(path) {
            Ok(file) => source::read_source(&name, source::Src::File(file), opts, emit, 0),
            Err(e) => emit(Err(RecordError::new(
                Origin::file(name.clone()),
                ErrorKind::Io,
                format!("cannot open: {e}"),
            ))),
        },
        Input::Stdin => {
            let stdin = std::io::stdin();
            let lock = stdin.lock();
            source::read_source(&name, source::Src::Stream(Box::new(lock)), opts, emit, 0)
        }
    });
}

/// Stream every record of an in-memory input (tests, stdin payloads, message payloads).
///
/// `name` becomes [`Origin::file`] of every record. Containers (gzip, zip) and EVTX work
/// here too; zip and EVTX are read in place without copying.
pub fn read_bytes(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
    emit: &mut dyn FnMut(Result<RawRecord, RecordError>),
) {
    let name: Arc<str> = name.into();
    guarded(&name, emit, &mut |emit| {
        source::read_source(&name, source::Src::Bytes(bytes), opts, emit, 0)
    });
}

/// Convenience: every item of [`read_bytes`] collected into a `Vec`.
pub fn read_bytes_to_vec(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
) -> Vec<Result<RawRecord, RecordError>> {
    let mut out = Vec::new();
    read_bytes(name, bytes, opts, &mut |r| out.push(r));
    out
}

/// Convenience: every item of [`read_input`] collected into a `Vec`.
pub fn read_input_to_vec(input: &Input, opts: &ReadOptions) -> Vec<Result<RawRecord, RecordError>> {
    let mut out = Vec::new();
    read_input(input, opts, &mut |r| out.push(r));
    out
}

/// Runs `f`, turning a panic (a bug here or in a third-party parser fed hostile input) into
/// a `RecordError` instead of unwinding into the caller.
fn guarded(name: &Arc<str>, emit: Emit<'_>, f: &mut dyn FnMut(Emit<'_>)) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *emit)));
    if let Err(panic) = result {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        emit(Err(RecordError::new(
            Origin::file(name.clone()),
            ErrorKind::Malformed,
            format!("internal error while reading (reading of this input stopped): {what}"),
        )));
    }
}

/// Where read items go.
type Emit<'e> = &'e mut dyn FnMut(Result<RawRecord, RecordError>);

/// Builds errors and records with a shared file name and a running record index.
pub(crate) struct Sink<'a> {
    pub(crate) file: Arc<str>,
    pub(crate) emit: &'a mut dyn FnMut(Result<RawRecord, RecordError>),
    /// Index of the next record (0-based), counting records and errors alike.
    pub(crate) next_record: u64,
    /// Number of fields of the last JSON object read (see `json::parse_sized`).
    pub(crate) last_width: usize,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(
        file: &Arc<str>,
        emit: &'a mut dyn FnMut(Result<RawRecord, RecordError>),
    ) -> Self {
        Sink {
            file: file.clone(),
            emit,
            next_record: 0,
            last_width: 0,
        }
    }

    /// An origin at `line` / `offset` with the next record index (which it takes).
    pub(crate) fn origin(&mut self, line: Option<u64>, offset: Option<u64>) -> Origin {
        let o = Origin {
            file: self.file.clone(),
            line,
            offset,
            record: Some(self.next_record),
        };
        self.next_record += 1;
        o
    }

    pub(crate) fn record(&mut self, origin: Origin, format: Format, fields: Fields) {
        (self.emit)(Ok(RawRecord {
            origin,
            format,
            fields,
        }));
    }

    pub(crate) fn error(&mut self, origin: Origin, kind: ErrorKind, reason: impl Into<String>) {
        (self.emit)(Err(RecordError::new(origin, kind, reason)));
    }
}

/// How an `io::Error` met while reading is classified.
pub(crate) fn io_kind(e: &std::io::Error) -> ErrorKind {
    match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => ErrorKind::Malformed,
        std::io::ErrorKind::UnexpectedEof => ErrorKind::Truncated,
        _ => ErrorKind::Io,
    }
}
