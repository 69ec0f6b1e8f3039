//! Binary Windows EVTX through the `evtx` crate.
//!
//! Records come out as the same JSON `evtx_dump -o json` prints (attributes under
//! `#attributes`, not separated). `Origin.record` is the `EventRecordID` (for errors too,
//! when the crate names the record; otherwise unset). A chunk or record the crate cannot
//! parse becomes a `RecordError` (with the byte offset of the chunk or record, where the
//! crate tells it) and reading goes on with the next one. A file that ends inside a chunk
//! gets a `Truncated` error for that partial chunk.
//!
//! EVTX needs random access: a file is read in place; EVTX arriving through a stream
//! (stdin, a zip member, a `.gz`) is buffered into memory first.

use crate::Sink;
use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};
use std::error::Error as _;
use std::io::{Read, Seek, SeekFrom};
use trustpath_event::{ErrorKind, Format, Origin};

/// An EVTX file buffered for [`read_evtx`]. The parser seeks to each 64 KiB chunk's
/// 512-byte header, then reads whole chunks: a small buffer serves the headers and lets
/// chunk reads go straight through. A 64 KiB buffer, refilled after every seek, read each
/// file twice (196 MB instead of 86 MB over hayabusa's 593 samples).
pub(crate) fn buffered<R: Read>(r: R) -> std::io::BufReader<R> {
    std::io::BufReader::with_capacity(EVTX_BUFFER, r)
}

/// Read buffer of an EVTX file: the 4 KiB file header, or a chunk header and more.
const EVTX_BUFFER: usize = 4096;

/// Size of the EVTX file header; chunk `n` starts at `HEADER + n * CHUNK`.
const EVTX_HEADER: u64 = 0x1000;
const EVTX_CHUNK: u64 = 0x10000;

/// The settings trustpath reads EVTX with (those of `evtx_dump -o json`).
pub(crate) fn parser_settings() -> ParserSettings {
    ParserSettings::new()
        .separate_json_attributes(false)
        .indent(false)
}

pub(crate) fn read_evtx<R: Read + Seek>(sink: &mut Sink<'_>, mut r: R) {
    // The crate reads whole 64 KiB chunks only: say so when the file ends inside one.
    let partial = match r
        .seek(SeekFrom::End(0))
        .and_then(|len| r.seek(SeekFrom::Start(0)).map(|_| len))
    {
        Ok(len) if len > EVTX_HEADER && !(len - EVTX_HEADER).is_multiple_of(EVTX_CHUNK) => {
            Some(len)
        }
        Ok(_) => None,
        Err(e) => {
            let origin = sink.origin(None, Some(0));
            sink.error(
                origin,
                crate::io_kind(&e),
                format!("EVTX: cannot seek: {e}"),
            );
            return;
        }
    };
    let parser = match EvtxParser::from_read_seek(r) {
        Ok(p) => p,
        Err(e) => {
            let origin = sink.origin(None, Some(0));
            sink.error(
                origin,
                ErrorKind::Malformed,
                format!("not a readable EVTX file: {}", full_message(&e)),
            );
            return;
        }
    };
    let mut parser = parser.with_configuration(parser_settings());
    for item in parser.records_json_value() {
        match item {
            Ok(rec) => {
                let origin = Origin {
                    file: sink.file.clone(),
                    line: None,
                    offset: None,
                    record: Some(rec.event_record_id),
                };
                sink.next_record += 1;
                match rec.data {
                    serde_json::Value::Object(map) => {
                        sink.record(origin, Format::Evtx, trustpath_event::to_fields(map));
                    }
                    // The crate renders every record as an object; kept as an error, not
                    // dropped, should one ever not be.
                    _ => sink.error(
                        origin,
                        ErrorKind::Malformed,
                        "EVTX: the record did not render as a JSON object",
                    ),
                }
            }
            Err(e) => {
                let (offset, record) = locate(&e);
                let mut origin = sink.origin(None, offset);
                origin.record = record;
                sink.error(
                    origin,
                    ErrorKind::Malformed,
                    format!("EVTX: {}", full_message(&e)),
                );
            }
        }
    }
    if let Some(len) = partial {
        let chunks = (len - EVTX_HEADER) / EVTX_CHUNK;
        let start = EVTX_HEADER + chunks * EVTX_CHUNK;
        let mut origin = sink.origin(None, Some(start));
        origin.record = None;
        sink.error(
            origin,
            ErrorKind::Truncated,
            format!(
                "EVTX file ends {} bytes into chunk {chunks} (chunks are {EVTX_CHUNK} bytes); the records of that partial chunk are not read",
                len - start
            ),
        );
    }
}

/// Byte offset and record id an error names, where it names them.
fn locate(e: &EvtxError) -> (Option<u64>, Option<u64>) {
    match e {
        EvtxError::FailedToParseChunk { chunk_id, .. } => (
            Some(EVTX_HEADER + chunk_id.saturating_mul(EVTX_CHUNK)),
            None,
        ),
        EvtxError::FailedToParseRecord { record_id, source } => {
            (locate(source).0, Some(*record_id))
        }
        EvtxError::FailedToReadRecordAt {
            chunk: Some(chunk),
            offset,
            ..
        } => (
            Some(
                EVTX_HEADER
                    .saturating_add(chunk.saturating_mul(EVTX_CHUNK))
                    .saturating_add(*offset),
            ),
            None,
        ),
        _ => (None, None),
    }
}

/// The error and all its causes, `: `-separated (the crate's top-level messages are vague).
fn full_message(e: &EvtxError) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A reader that counts the bytes read through it.
    struct Counting<'c, R> {
        inner: R,
        bytes: &'c AtomicU64,
    }

    impl<R: Read> Read for Counting<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Counting<'_, R> {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn an_evtx_file_is_read_about_once() {
        let Some(shared) = trustpath_testkit::shared_dir("an_evtx_file_is_read_about_once") else {
            return;
        };
        let sample = shared.join("samples/chainsaw-tests/security_sample.evtx");
        let Ok(file) = std::fs::File::open(&sample) else {
            panic!("{} missing", sample.display());
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bytes = AtomicU64::new(0);
        let mut records = 0;
        let mut emit = |item: Result<trustpath_event::RawRecord, trustpath_event::RecordError>| {
            records += usize::from(item.is_ok());
        };
        let name: std::sync::Arc<str> = "sample.evtx".into();
        let mut sink = Sink::new(&name, &mut emit);
        read_evtx(
            &mut sink,
            buffered(Counting {
                inner: file,
                bytes: &bytes,
            }),
        );
        assert!(records > 0);
        let chunks = len.saturating_sub(EVTX_HEADER) / EVTX_CHUNK;
        let read = bytes.load(Ordering::Relaxed);
        // The file once, plus one buffer per chunk header and the file header.
        assert!(
            read <= len + (chunks + 2) * EVTX_BUFFER as u64,
            "{read} bytes read of {len}"
        );
    }
}
