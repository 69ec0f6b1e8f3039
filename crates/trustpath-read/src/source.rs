//! Dispatch: sniff a stream, unwrap containers, hand text to the right reader.

use crate::sniff::{SNIFF_LEN, Sniffed, describe_bytes, sniff};
use crate::{ReadOptions, Sink};
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::sync::Arc;
use trustpath_event::{ErrorKind, Origin, RawRecord, RecordError};

/// How many containers (gzip, zip) may be nested inside each other.
const MAX_NESTING: u32 = 8;

/// Where the bytes of one input come from.
pub(crate) enum Src<'a> {
    /// A file on disk: seekable, so zip and EVTX are read in place.
    File(File),
    /// Bytes in memory: zip and EVTX are read in place.
    Bytes(&'a [u8]),
    /// A stream (stdin, a decompressor, a zip member): zip and EVTX are buffered.
    Stream(Box<dyn Read + 'a>),
}

type Emit<'e> = &'e mut dyn FnMut(Result<RawRecord, RecordError>);

/// Reads one input named `name` from `src`.
pub(crate) fn read_source(
    name: &Arc<str>,
    src: Src<'_>,
    opts: &ReadOptions,
    emit: Emit<'_>,
    nesting: u32,
) {
    match src {
        Src::Bytes(bytes) => {
            let sniffed = sniff(&bytes[..bytes.len().min(SNIFF_LEN)]);
            match sniffed {
                Sniffed::Zip | Sniffed::Evtx => {
                    read_random_access(name, sniffed, Cursor::new(bytes), opts, emit, nesting);
                }
                other => {
                    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
                    read_sniffed(name, other, head, Box::new(bytes), opts, emit, nesting)
                }
            }
        }
        Src::File(mut file) => {
            let prefix = match read_prefix(&mut file) {
                Ok(p) => p,
                Err(e) => return read_failed(name, emit, &e),
            };
            let sniffed = sniff(&prefix);
            match sniffed {
                Sniffed::Zip | Sniffed::Evtx => {
                    if let Err(e) = file.seek(SeekFrom::Start(0)) {
                        return read_failed(name, emit, &e);
                    }
                    read_random_access_file(name, sniffed, file, opts, emit, nesting);
                }
                other => {
                    let whole = Box::new(Cursor::new(&prefix[..]).chain(file));
                    read_sniffed(name, other, &prefix, whole, opts, emit, nesting)
                }
            }
        }
        Src::Stream(mut stream) => {
            let prefix = match read_prefix(&mut stream) {
                Ok(p) => p,
                Err(e) => return read_failed(name, emit, &e),
            };
            let sniffed = sniff(&prefix);
            match sniffed {
                Sniffed::Zip | Sniffed::Evtx => {
                    // Both need random access: spool the stream, in memory while it is
                    // small and to an unnamed temporary file beyond that, never more
                    // than `max_spool_bytes`.
                    let spooled = match spool(prefix, &mut stream, opts) {
                        Ok(s) => s,
                        Err(e) => return read_failed(name, emit, &e),
                    };
                    match spooled {
                        Spooled::Memory(all) => {
                            read_random_access(name, sniffed, Cursor::new(all), opts, emit, nesting)
                        }
                        Spooled::File(file) => {
                            read_random_access_file(name, sniffed, file, opts, emit, nesting);
                        }
                        Spooled::TooLarge => emit(Err(RecordError::new(
                            Origin::file(name.clone()).with_offset(0),
                            ErrorKind::TooLarge,
                            format!(
                                "{} inside a stream is larger than max_spool_bytes ({} bytes); not read",
                                if sniffed == Sniffed::Zip {
                                    "zip archive"
                                } else {
                                    "EVTX file"
                                },
                                opts.max_spool_bytes
                            ),
                        ))),
                    }
                }
                other => {
                    let whole = Box::new(Cursor::new(&prefix[..]).chain(stream));
                    read_sniffed(name, other, &prefix, whole, opts, emit, nesting)
                }
            }
        }
    }
}

/// Bytes of a stream kept in memory before spooling moves to a temporary file.
const SPOOL_IN_MEMORY: usize = 16 * 1024 * 1024;

/// A stream made seekable.
enum Spooled {
    Memory(Vec<u8>),
    File(std::fs::File),
    TooLarge,
}

/// Copies `stream` (whose first bytes are `prefix`) somewhere seekable: memory up to
/// [`SPOOL_IN_MEMORY`], then an unnamed temporary file (removed when closed), up to
/// `opts.max_spool_bytes` in all.
fn spool(prefix: Vec<u8>, stream: &mut dyn Read, opts: &ReadOptions) -> io::Result<Spooled> {
    let limit = opts.max_spool_bytes;
    let mut head = prefix;
    let in_memory = (SPOOL_IN_MEMORY as u64).min(limit.saturating_add(1));
    stream
        .take(in_memory.saturating_sub(head.len() as u64))
        .read_to_end(&mut head)?;
    if (head.len() as u64) < in_memory {
        return Ok(Spooled::Memory(head));
    }
    if head.len() as u64 > limit {
        return Ok(Spooled::TooLarge);
    }
    let mut file = tempfile::tempfile()?;
    io::Write::write_all(&mut file, &head)?;
    let rest = limit + 1 - head.len() as u64;
    let copied = io::copy(&mut stream.take(rest), &mut file)?;
    if head.len() as u64 + copied > limit {
        return Ok(Spooled::TooLarge);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(Spooled::File(file))
}

fn read_random_access<R: Read + Seek>(
    name: &Arc<str>,
    sniffed: Sniffed,
    r: R,
    opts: &ReadOptions,
    emit: Emit<'_>,
    nesting: u32,
) {
    if sniffed == Sniffed::Zip {
        read_zip(name, r, opts, emit, nesting);
    } else {
        let mut sink = Sink::new(name, emit);
        crate::evtxread::read_evtx(&mut sink, r);
    }
}

/// [`read_random_access`] over a file, behind the read buffer its kind wants: a small one
/// for EVTX ([`crate::evtxread::buffered`]), 64 KiB for a zip.
fn read_random_access_file(
    name: &Arc<str>,
    sniffed: Sniffed,
    file: std::fs::File,
    opts: &ReadOptions,
    emit: Emit<'_>,
    nesting: u32,
) {
    if sniffed == Sniffed::Evtx {
        let file = crate::evtxread::buffered(file);
        read_random_access(name, sniffed, file, opts, emit, nesting);
    } else {
        let file = BufReader::with_capacity(64 * 1024, file);
        read_random_access(name, sniffed, file, opts, emit, nesting);
    }
}

/// Reads the stream `whole`, whose first bytes `head` sniffed as `sniffed`, for every kind
/// but zip and EVTX.
fn read_sniffed<'a>(
    name: &Arc<str>,
    sniffed: Sniffed,
    head: &[u8],
    whole: Box<dyn Read + 'a>,
    opts: &ReadOptions,
    emit: Emit<'_>,
    nesting: u32,
) {
    match sniffed {
        Sniffed::Gzip => {
            if nesting >= MAX_NESTING {
                return too_nested(name, emit);
            }
            let (dec, fault) = crate::gz::TolerantGz::new(whole);
            read_source(name, Src::Stream(Box::new(dec)), opts, emit, nesting + 1);
            let fault = fault.borrow();
            if let Some(reason) = &fault.reason {
                emit(Err(RecordError::new(
                    Origin::file(name.clone()).with_offset(fault.decoded),
                    ErrorKind::Truncated,
                    format!(
                        "{reason}: the records in the first {} decompressed bytes were read, the rest of this file is lost",
                        fault.decoded
                    ),
                )));
            }
        }
        Sniffed::JsonArray(enc) | Sniffed::JsonObjects(enc) => {
            let (mut text, base) = crate::text::utf8_reader(whole, enc);
            let mut sink = Sink::new(name, emit);
            crate::json::read_json(&mut sink, &mut *text, opts, base);
        }
        Sniffed::Csv(enc) => {
            let delimiter = crate::sniff::csv_delimiter_of(head, enc);
            let (mut text, base) = crate::text::csv_reader(whole, enc);
            let mut sink = Sink::new(name, emit);
            crate::csvread::read_csv(&mut sink, &mut *text, opts, base, delimiter);
        }
        Sniffed::Empty => emit(Err(RecordError::new(
            Origin::file(name.clone()).with_offset(0),
            ErrorKind::Unsupported,
            if head.is_empty() {
                "empty input: no records".to_string()
            } else {
                format!(
                    "input holds no records, only blanks or a byte-order mark ({})",
                    describe_bytes(head)
                )
            },
        ))),
        Sniffed::Unknown(what) => emit(Err(RecordError::new(
            Origin::file(name.clone()).with_offset(0),
            ErrorKind::Unsupported,
            format!(
                "not a format trustpath reads (not JSON, CSV with a known header, EVTX, gzip or zip); {what}"
            ),
        ))),
        // Handled by the caller.
        Sniffed::Zip | Sniffed::Evtx => {}
    }
}

fn read_zip<R: Read + Seek>(
    name: &Arc<str>,
    r: R,
    opts: &ReadOptions,
    emit: Emit<'_>,
    nesting: u32,
) {
    if nesting >= MAX_NESTING {
        return too_nested(name, emit);
    }
    let mut archive = match zip::ZipArchive::new(r) {
        Ok(a) => a,
        Err(e) => {
            emit(Err(RecordError::new(
                Origin::file(name.clone()).with_offset(0),
                ErrorKind::Malformed,
                format!("unreadable zip archive: {e}"),
            )));
            return;
        }
    };
    for i in 0..archive.len() {
        let member = match archive.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                let kind = match e {
                    zip::result::ZipError::UnsupportedArchive(_) => ErrorKind::Unsupported,
                    zip::result::ZipError::Io(ref io) => crate::io_kind(io),
                    _ => ErrorKind::Malformed,
                };
                emit(Err(RecordError::new(
                    Origin::file(format!("{name}!#{i}")),
                    kind,
                    format!("zip member {i} cannot be read: {e}"),
                )));
                continue;
            }
        };
        if member.is_dir() {
            continue;
        }
        let member_name = match member.name() {
            Ok(n) => n.into_owned(),
            Err(_) => String::from_utf8_lossy(member.name_raw()).into_owned(),
        };
        let full: Arc<str> = format!("{name}!{member_name}").into();
        read_source(
            &full,
            Src::Stream(Box::new(member)),
            opts,
            emit,
            nesting + 1,
        );
    }
}

/// The input's first bytes, as much as sniffing needs ([`crate::sniff::read_head`]).
fn read_prefix(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    crate::sniff::read_head(r)
}

fn read_failed(name: &Arc<str>, emit: Emit<'_>, e: &io::Error) {
    emit(Err(RecordError::new(
        Origin::file(name.clone()).with_offset(0),
        crate::io_kind(e),
        format!("read error: {e}"),
    )));
}

fn too_nested(name: &Arc<str>, emit: Emit<'_>) {
    emit(Err(RecordError::new(
        Origin::file(name.clone()),
        ErrorKind::Unsupported,
        format!("containers (gzip/zip) nested more than {MAX_NESTING} deep"),
    )));
}
