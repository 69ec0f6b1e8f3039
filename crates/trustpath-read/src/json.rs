//! Streaming JSON: arrays (element by element), JSON Lines, and one or more (pretty printed)
//! objects one after the other, from one byte-level scanner.
//!
//! The scanner finds where each record (a top-level value, or an element of a top-level
//! array) starts and ends by tracking strings, escapes and bracket depth; only the bytes of
//! the current record are buffered, then parsed with serde_json. That gives every record its
//! line and byte offset, lets a broken record be reported and skipped while the rest of the
//! file is read, and bounds memory by [`ReadOptions::max_record_bytes`]: a larger record is
//! scanned to its end without being buffered and reported as `TooLarge`.
//!
//! Outside arrays the scanner also recovers from broken lines of a JSON Lines file: a raw
//! newline inside a string (never valid JSON), or a `{` at the start of a line while a
//! record is still open, ends the open record as `Truncated` and reading resumes on that
//! line. Once the first record of a file has turned out to span several lines (pretty
//! printed JSON), the second rule is switched off for that file.
//!
//! Once the first record has turned out to be one line (JSON Lines), a record whose line
//! is whole in the read buffer is first handed to serde_json as it lies there: when the
//! line is one object within the depth and size limits, the scanner would have framed
//! the same bytes, so the scan and the copy are skipped; anything else is scanned as
//! above (`Scanner::whole_line`; the chunking property test holds both paths to the
//! same answers).

use crate::classify::classify_map;
use crate::{ReadOptions, Sink};
use memchr::{memchr, memchr3};
use serde_json::Value;
use std::io::{self, BufRead};
use trustpath_event::{ErrorKind, Fields, Format, to_fields};

/// Reads every record of a UTF-8 JSON stream into `sink`; `base` is the byte offset of the
/// stream's first byte (after a BOM).
pub(crate) fn read_json(sink: &mut Sink<'_>, r: &mut dyn BufRead, opts: &ReadOptions, base: u64) {
    let mut sc = Scanner::new(opts);
    sc.pos = base;
    loop {
        let data = match r.fill_buf() {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                sc.read_error(sink, &e);
                return;
            }
        };
        if data.is_empty() {
            break;
        }
        let n = data.len();
        sc.feed(data, sink);
        r.consume(n);
    }
    sc.eof(sink);
}

/// Where the scanner is between records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    /// Outside any array: JSON Lines / concatenated values.
    Seq,
    /// Just after a top-level `[`.
    ArrayStart,
    /// After an array element, expecting `,` or `]`.
    ArrayAfterElem,
    /// After a `,` in a top-level array.
    ArrayAfterComma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecKind {
    /// Starts with `{` or `[`.
    Container,
    /// Starts with `"` (only as an array element).
    String,
    /// A number, `true`, `false`, `null` or garbage (only as an array element).
    Literal,
}

/// The record being scanned.
#[derive(Debug)]
struct Rec {
    start_line: u64,
    start_offset: u64,
    in_array: bool,
    kind: RecKind,
    depth: usize,
    in_string: bool,
    escape: bool,
    fresh: bool,
    too_large: bool,
    too_deep: bool,
    len: u64,
}

/// A line of non-JSON text being skipped.
struct Skip {
    start_line: u64,
    start_offset: u64,
    preview: Vec<u8>,
    len: u64,
}

enum End {
    /// The record's last byte was consumed.
    Complete,
    /// The record is broken; the byte that showed it was not consumed.
    Broken(&'static str),
}

struct Scanner<'o> {
    opts: &'o ReadOptions,
    /// Byte offset of the next byte.
    pos: u64,
    /// Line (1-based) of the next byte.
    line: u64,
    /// Whether the next byte starts a line.
    col0: bool,
    top: Top,
    /// Line and offset of the `[` of the open top-level array.
    array_open: (u64, u64),
    rec: Option<Rec>,
    buf: Vec<u8>,
    skip: Option<Skip>,
    /// `Some(true)` once the first record ended on the line it started on (JSON Lines),
    /// `Some(false)` once it spanned lines (pretty printed).
    line_mode: Option<bool>,
}

const NEWLINE_IN_STRING: &str = "the line ends inside a JSON string (JSON Lines record cut short?)";
const NEW_RECORD_STARTS: &str =
    "a new line starts with '{' before this JSON value was complete (JSON Lines record cut short?)";

impl<'o> Scanner<'o> {
    fn new(opts: &'o ReadOptions) -> Self {
        Scanner {
            opts,
            pos: 0,
            line: 1,
            col0: true,
            top: Top::Seq,
            array_open: (1, 0),
            rec: None,
            buf: Vec::new(),
            skip: None,
            line_mode: None,
        }
    }

    fn feed(&mut self, data: &[u8], sink: &mut Sink<'_>) {
        let mut i = 0;
        while i < data.len() {
            if let Some(rec) = self.rec.as_mut() {
                let strict = !rec.in_array && self.line_mode != Some(false);
                let (n, end) = scan(
                    rec,
                    &data[i..],
                    &mut self.line,
                    &mut self.col0,
                    strict,
                    self.opts.max_depth,
                );
                self.append(&data[i..i + n]);
                self.pos += n as u64;
                i += n;
                if let Some(end) = end {
                    self.finish(end, sink);
                }
                continue;
            }
            if let Some(skip) = self.skip.as_mut() {
                let rest = &data[i..];
                let n = memchr(b'\n', rest).unwrap_or(rest.len());
                let want = 40usize.saturating_sub(skip.preview.len()).min(n);
                skip.preview.extend_from_slice(&rest[..want]);
                skip.len += n as u64;
                self.pos += n as u64;
                i += n;
                if i < data.len() {
                    self.finish_skip(sink);
                }
                continue;
            }
            let b = data[i];
            match b {
                b' ' | b'\t' | b'\r' => {
                    self.advance_top(b);
                    i += 1;
                    continue;
                }
                b'\n' => {
                    self.advance_top(b);
                    i += 1;
                    continue;
                }
                _ => {}
            }
            match self.top {
                Top::Seq => match b {
                    b'{' => match self.whole_line(&data[i..], sink) {
                        Some(n) => i += n,
                        None => self.start(false, RecKind::Container),
                    },
                    b'[' => {
                        self.array_open = (self.line, self.pos);
                        self.top = Top::ArrayStart;
                        self.advance_top(b);
                        i += 1;
                    }
                    b',' => {
                        // Tolerated between concatenated objects (`{…},\n{…}`).
                        self.advance_top(b);
                        i += 1;
                    }
                    _ => {
                        self.skip = Some(Skip {
                            start_line: self.line,
                            start_offset: self.pos,
                            preview: Vec::new(),
                            len: 0,
                        });
                    }
                },
                Top::ArrayStart | Top::ArrayAfterComma => match b {
                    b']' => {
                        // `[]`, or a trailing comma before `]` (tolerated).
                        self.top = Top::Seq;
                        self.advance_top(b);
                        i += 1;
                    }
                    b',' => {
                        let origin = sink.origin(Some(self.line), Some(self.pos));
                        sink.error(
                            origin,
                            ErrorKind::Malformed,
                            "invalid JSON: ',' where an array element was expected",
                        );
                        self.advance_top(b);
                        i += 1;
                    }
                    _ => self.start_element(b),
                },
                Top::ArrayAfterElem => match b {
                    b',' => {
                        self.top = Top::ArrayAfterComma;
                        self.advance_top(b);
                        i += 1;
                    }
                    b']' => {
                        self.top = Top::Seq;
                        self.advance_top(b);
                        i += 1;
                    }
                    _ => {
                        let origin = sink.origin(Some(self.line), Some(self.pos));
                        sink.error(
                            origin,
                            ErrorKind::Malformed,
                            format!(
                                "invalid JSON: expected ',' or ']' after an array element, found {}",
                                show_byte(b)
                            ),
                        );
                        self.start_element(b);
                    }
                },
            }
        }
    }

    /// The JSON Lines fast path, for a record starting at `rest` (a `{` outside any
    /// array) once the file has proven to be JSON Lines: when the rest of the line, less
    /// trailing blanks, is one JSON object that serde_json parses, no deeper than
    /// `max_depth` and no larger than `max_record_bytes`, the scanner would have framed
    /// exactly those bytes (it tracks strings and brackets as JSON does, and a line holds
    /// no raw newline), so the record is parsed straight from `rest` and emitted with
    /// the same line and offset, without the byte-by-byte scan and the copy into the
    /// record buffer. Returns how many bytes it consumed. Anything else (a line cut
    /// short, broken, too deep or too large, more than one value, a line not ended in
    /// this buffer) returns `None` before consuming anything and takes the scanner's
    /// path, which reports it as before.
    fn whole_line(&mut self, rest: &[u8], sink: &mut Sink<'_>) -> Option<usize> {
        if self.line_mode != Some(true) {
            return None;
        }
        let mut line = rest.get(..memchr(b'\n', rest)?)?;
        while let [head @ .., b' ' | b'\t' | b'\r'] = line {
            line = head;
        }
        if line.last() != Some(&b'}') || line.len() > self.opts.max_record_bytes {
            return None;
        }
        let text = std::str::from_utf8(line).ok()?;
        let Ok(Parsed::Object(fields)) = parse_sized(text, sink.last_width) else {
            return None;
        };
        if 1 + fields.values().map(nesting).max().unwrap_or(0) > self.opts.max_depth {
            return None;
        }
        emit_parsed_object(sink, fields, Some(self.line), Some(self.pos));
        self.pos += line.len() as u64;
        self.col0 = false;
        Some(line.len())
    }

    fn advance_top(&mut self, b: u8) {
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.col0 = true;
        } else {
            self.col0 = false;
        }
    }

    fn start_element(&mut self, b: u8) {
        let kind = match b {
            b'{' | b'[' => RecKind::Container,
            b'"' => RecKind::String,
            _ => RecKind::Literal,
        };
        self.start(true, kind);
    }

    fn start(&mut self, in_array: bool, kind: RecKind) {
        self.rec = Some(Rec {
            start_line: self.line,
            start_offset: self.pos,
            in_array,
            kind,
            depth: 0,
            in_string: false,
            escape: false,
            fresh: true,
            too_large: false,
            too_deep: false,
            len: 0,
        });
    }

    /// Buffers record bytes, never growing the buffer past `max_record_bytes`.
    fn append(&mut self, bytes: &[u8]) {
        let Some(rec) = self.rec.as_mut() else { return };
        rec.len += bytes.len() as u64;
        if rec.too_large || rec.too_deep {
            return;
        }
        let max = self.opts.max_record_bytes;
        let needed = self.buf.len() + bytes.len();
        if needed > max {
            rec.too_large = true;
            self.buf = Vec::new();
            return;
        }
        if needed > self.buf.capacity() {
            let target = (self.buf.capacity() * 2).max(needed).max(4096).min(max);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }

    fn finish(&mut self, end: End, sink: &mut Sink<'_>) {
        let Some(rec) = self.rec.take() else { return };
        if rec.in_array {
            self.top = Top::ArrayAfterElem;
        } else if self.line_mode.is_none() && matches!(end, End::Complete) {
            self.line_mode = Some(self.line == rec.start_line);
        }
        let bytes = std::mem::take(&mut self.buf);
        match end {
            End::Complete if rec.too_deep => self.too_deep(sink, &rec, ""),
            End::Complete if rec.too_large => self.too_large(sink, &rec, ""),
            End::Complete => parse_record(sink, &rec, &bytes),
            End::Broken(why) if rec.too_deep => self.too_deep(sink, &rec, &format!(" ({why})")),
            End::Broken(why) if rec.too_large => self.too_large(sink, &rec, &format!(" ({why})")),
            End::Broken(why) => {
                let origin = sink.origin(Some(rec.start_line), Some(rec.start_offset));
                sink.error(
                    origin,
                    ErrorKind::Truncated,
                    format!("incomplete JSON value ({} bytes): {why}", rec.len),
                );
            }
        }
        // Keep a modest buffer for the next record; give big ones back.
        self.buf = bytes;
        self.buf.clear();
        if self.buf.capacity() > 4 * 1024 * 1024 {
            self.buf = Vec::new();
        }
    }

    fn too_deep(&self, sink: &mut Sink<'_>, rec: &Rec, extra: &str) {
        let origin = sink.origin(Some(rec.start_line), Some(rec.start_offset));
        sink.error(
            origin,
            ErrorKind::TooDeep,
            format!(
                "JSON nesting deeper than max_depth {}; record skipped{extra}",
                self.opts.max_depth
            ),
        );
    }

    fn too_large(&self, sink: &mut Sink<'_>, rec: &Rec, extra: &str) {
        let origin = sink.origin(Some(rec.start_line), Some(rec.start_offset));
        sink.error(
            origin,
            ErrorKind::TooLarge,
            format!(
                "record of {} bytes exceeds max_record_bytes {}; skipped without buffering{extra}",
                rec.len, self.opts.max_record_bytes
            ),
        );
    }

    fn finish_skip(&mut self, sink: &mut Sink<'_>) {
        let Some(skip) = self.skip.take() else { return };
        if is_record_header(&skip) {
            return;
        }
        let origin = sink.origin(Some(skip.start_line), Some(skip.start_offset));
        sink.error(
            origin,
            ErrorKind::Malformed,
            format!(
                "line {} is not JSON (starts with {:?}); line skipped",
                skip.start_line,
                String::from_utf8_lossy(&skip.preview)
            ),
        );
    }

    fn eof(&mut self, sink: &mut Sink<'_>) {
        if let Some(rec) = self.rec.as_ref() {
            if rec.kind == RecKind::Literal {
                self.finish(End::Complete, sink);
            } else if let Some(rec) = self.rec.take() {
                if rec.in_array {
                    self.top = Top::ArrayAfterElem;
                }
                self.buf.clear();
                let tail = format!(
                    " (and the input ends before it is complete, at byte {})",
                    self.pos
                );
                if rec.too_deep {
                    self.too_deep(sink, &rec, &tail);
                } else if rec.too_large {
                    self.too_large(sink, &rec, &tail);
                } else {
                    let origin = sink.origin(Some(rec.start_line), Some(rec.start_offset));
                    sink.error(
                        origin,
                        ErrorKind::Truncated,
                        format!(
                            "input ends at byte {} (line {}) inside a JSON value that started at line {} ({} bytes read)",
                            self.pos, self.line, rec.start_line, rec.len
                        ),
                    );
                }
            }
        }
        if self.skip.is_some() {
            self.finish_skip(sink);
        }
        if self.top != Top::Seq {
            let origin = sink.origin(Some(self.line), Some(self.pos));
            sink.error(
                origin,
                ErrorKind::Truncated,
                format!(
                    "input ends at byte {} inside the JSON array opened at line {} (byte {}): missing ']'",
                    self.pos, self.array_open.0, self.array_open.1
                ),
            );
            self.top = Top::Seq;
        }
    }

    fn read_error(&mut self, sink: &mut Sink<'_>, e: &io::Error) {
        let lost = match self.rec.take() {
            Some(rec) => format!(
                "; the record that started at line {} is lost",
                rec.start_line
            ),
            None => String::new(),
        };
        let origin = sink.origin(Some(self.line), Some(self.pos));
        sink.error(
            origin,
            crate::io_kind(e),
            format!(
                "read error after byte {}: {e}{lost}; rest of the input skipped",
                self.pos
            ),
        );
    }
}

/// `Record 12`: the line `evtx_dump -o json` prints before each record.
fn is_record_header(skip: &Skip) -> bool {
    if skip.len != skip.preview.len() as u64 {
        return false;
    }
    let line = skip.preview.strip_suffix(b"\r").unwrap_or(&skip.preview);
    line.strip_prefix(b"Record ")
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// Scans record bytes from `s`; returns how many belong to the record and whether it ended.
#[inline]
fn scan(
    rec: &mut Rec,
    s: &[u8],
    line: &mut u64,
    col0: &mut bool,
    strict: bool,
    max_depth: usize,
) -> (usize, Option<End>) {
    let n = s.len();
    let mut i = 0;
    if rec.kind == RecKind::Literal {
        while i < n {
            let b = s[i];
            if !rec.fresh
                && matches!(
                    b,
                    b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n' | b'[' | b'{' | b'"'
                )
            {
                return (i, Some(End::Complete));
            }
            rec.fresh = false;
            *col0 = false;
            i += 1;
        }
        return (i, None);
    }
    while i < n {
        if rec.in_string {
            if rec.escape {
                rec.escape = false;
                if s[i] == b'\n' {
                    if strict {
                        return (i, Some(End::Broken(NEWLINE_IN_STRING)));
                    }
                    *line += 1;
                }
                i += 1;
                continue;
            }
            match memchr3(b'"', b'\\', b'\n', &s[i..]) {
                None => {
                    *col0 = false;
                    return (n, None);
                }
                Some(k) => {
                    let j = i + k;
                    *col0 = false;
                    match s[j] {
                        b'"' => {
                            rec.in_string = false;
                            i = j + 1;
                            if rec.depth == 0 {
                                return (i, Some(End::Complete));
                            }
                        }
                        b'\\' => {
                            rec.escape = true;
                            i = j + 1;
                        }
                        _ => {
                            if strict {
                                return (j, Some(End::Broken(NEWLINE_IN_STRING)));
                            }
                            *line += 1;
                            i = j + 1;
                        }
                    }
                }
            }
            continue;
        }
        let b = s[i];
        match b {
            b'"' => rec.in_string = true,
            b'{' | b'[' => {
                if b == b'{' && *col0 && strict && rec.depth > 0 {
                    return (i, Some(End::Broken(NEW_RECORD_STARTS)));
                }
                rec.depth += 1;
                if rec.depth > max_depth {
                    rec.too_deep = true;
                }
            }
            b'}' | b']' => {
                rec.depth = rec.depth.saturating_sub(1);
                if rec.depth == 0 {
                    *col0 = false;
                    return (i + 1, Some(End::Complete));
                }
            }
            b'\n' => {
                *line += 1;
                *col0 = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        *col0 = false;
        i += 1;
    }
    (i, None)
}

fn show_byte(b: u8) -> String {
    if (0x20..0x7f).contains(&b) {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// Parses one complete record's bytes and emits what they hold.
fn parse_record(sink: &mut Sink<'_>, rec: &Rec, bytes: &[u8]) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let bad_line = rec.start_line + memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64;
            let origin = sink.origin(Some(rec.start_line), Some(rec.start_offset));
            sink.error(
                origin,
                ErrorKind::Encoding,
                format!(
                    "invalid UTF-8 at byte {} (line {bad_line}); record skipped",
                    rec.start_offset + at as u64
                ),
            );
            return;
        }
    };
    match parse_sized(text, sink.last_width) {
        Ok(Parsed::Object(fields)) => {
            emit_parsed_object(sink, fields, Some(rec.start_line), Some(rec.start_offset));
        }
        Ok(Parsed::Other(v)) => {
            emit_value(sink, v, Some(rec.start_line), Some(rec.start_offset));
        }
        Err(e) => {
            let origin = sink.origin(Some(rec.start_line), Some(rec.start_offset));
            let (kind, reason) = json_error(&e, rec.start_line);
            sink.error(origin, kind, reason);
        }
    }
}

/// Fields normalization may add to a record (`tp.*`, `TimeCreated`, `Channel_original`,
/// aliases …): room kept in a top-level object's map so they do not grow it.
const ROOM: usize = 16;

/// Most fields a top-level map is made with room for, whatever the last record had.
const MAX_WIDTH: usize = 256;

/// One JSON text, parsed.
enum Parsed {
    /// A top-level object, parsed straight into an event's [`Fields`].
    Object(Fields),
    /// Anything else (an array of records, or a value that is not a record).
    Other(Value),
}

/// Parses one JSON text as `serde_json::from_str::<Value>` does (same values, same
/// errors), except that a top-level object is parsed straight into [`Fields`] (no second
/// map built from serde_json's), made with room for `last_width` fields (the previous
/// record's) plus [`ROOM`]: grown entry by entry, the map of a Windows event is
/// re-hashed four or five times while parsed and again when normalization adds its
/// fields.
fn parse_sized(text: &str, last_width: usize) -> serde_json::Result<Parsed> {
    if !text
        .trim_start_matches([' ', '\t', '\r', '\n'])
        .starts_with('{')
    {
        return serde_json::from_str(text).map(Parsed::Other);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let map = serde::Deserializer::deserialize_map(
        &mut de,
        trustpath_event::SizedMap(last_width.min(MAX_WIDTH) + ROOM),
    )?;
    de.end()?;
    Ok(Parsed::Object(map))
}

/// How deeply `v` nests arrays and objects (a scalar: 0), as the scanner counts depth.
fn nesting(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// Kind and message for a serde_json error in a record that starts at `start_line`.
pub(crate) fn json_error(e: &serde_json::Error, start_line: u64) -> (ErrorKind, String) {
    let full = e.to_string();
    let msg = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => full.as_str(),
    };
    let kind = if msg.contains("recursion limit exceeded") {
        ErrorKind::TooDeep
    } else if e.is_eof() {
        ErrorKind::Truncated
    } else {
        ErrorKind::Malformed
    };
    let line = start_line + (e.line() as u64).saturating_sub(1);
    (
        kind,
        format!("invalid JSON: {msg} (line {line}, column {})", e.column()),
    )
}

/// Emits a top-level object [`parse_sized`] parsed, and keeps its width for sizing the
/// next one.
fn emit_parsed_object(sink: &mut Sink<'_>, fields: Fields, line: Option<u64>, offset: Option<u64>) {
    sink.last_width = fields.len();
    emit_fields(sink, fields, line, offset);
}

/// Emits a parsed top-level object: a record, or a Graph `{"value":[…]}` page, whose
/// elements are the records.
fn emit_fields(sink: &mut Sink<'_>, mut fields: Fields, line: Option<u64>, offset: Option<u64>) {
    if is_graph_page(&fields) {
        if let Some(Value::Array(items)) = fields.swap_remove("value") {
            for item in items {
                emit_element(sink, item, line, offset);
            }
        }
    } else {
        emit_object(sink, fields, line, offset, None);
    }
}

/// Emits a parsed top-level value: an object is a record (a Graph `{"value":[…]}` page is
/// unwrapped into its elements), an array's elements are records, anything else is an
/// error.
pub(crate) fn emit_value(sink: &mut Sink<'_>, v: Value, line: Option<u64>, offset: Option<u64>) {
    match v {
        Value::Object(map) => emit_fields(sink, to_fields(map), line, offset),
        Value::Array(items) => {
            for item in items {
                emit_element(sink, item, line, offset);
            }
        }
        other => not_a_record(sink, &other, line, offset),
    }
}

fn emit_element(sink: &mut Sink<'_>, v: Value, line: Option<u64>, offset: Option<u64>) {
    match v {
        Value::Object(map) => emit_object(sink, to_fields(map), line, offset, None),
        other => not_a_record(sink, &other, line, offset),
    }
}

fn not_a_record(sink: &mut Sink<'_>, v: &Value, line: Option<u64>, offset: Option<u64>) {
    let what = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "nested array",
        Value::Object(_) => "object",
    };
    let origin = sink.origin(line, offset);
    sink.error(
        origin,
        ErrorKind::Unsupported,
        format!("a JSON {what} is not a record (records are JSON objects)"),
    );
}

/// A Microsoft Graph page: `{"@odata.context": …, "value": [ … ]}`.
fn is_graph_page(map: &Fields) -> bool {
    map.get("value").is_some_and(Value::is_array) && map.keys().any(|k| k.starts_with("@odata."))
}

/// Emits one object, classified by its keys (or as `forced`). A Purview row whose
/// `AuditData` is a JSON string gets it parsed into an object.
pub(crate) fn emit_object(
    sink: &mut Sink<'_>,
    mut map: Fields,
    line: Option<u64>,
    offset: Option<u64>,
    forced: Option<Format>,
) {
    let format = forced.unwrap_or_else(|| classify_map(&map));
    let origin = sink.origin(line, offset);
    if format == Format::PurviewCsv
        && let Some(Value::String(s)) = map.get("AuditData")
    {
        match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(inner)) => {
                map.insert("AuditData".to_string(), Value::Object(inner));
            }
            Ok(_) => {
                sink.error(
                    origin,
                    ErrorKind::Malformed,
                    "AuditData is JSON but not an object",
                );
                return;
            }
            Err(e) => {
                let (_, reason) = json_error(&e, 1);
                sink.error(
                    origin,
                    ErrorKind::Malformed,
                    format!("AuditData column is not valid JSON: {reason}"),
                );
                return;
            }
        }
    }
    sink.record(origin, format, map);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use trustpath_event::{RawRecord, RecordError};

    /// `parse_sized` is `serde_json::from_str::<Value>` with a pre-sized top-level map:
    /// the same values (order, a key seen twice) and the same errors, at any width.
    #[test]
    fn sized_parse_is_serde_jsons_parse() {
        let texts = [
            r#"{"b":1,"a":[1,{"x":null}],"c":"é\u0041"}"#,
            r#"  {"k":1,"k":2,"j":3}"#,
            "\n\t{}",
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":"#,
            r#"{"a":1}{"b":2}"#,
            r#"[{"a":1}]"#,
            r#""text""#,
            "\u{a0}{}",
            &format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200)),
        ];
        for text in texts {
            let want = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
            for width in [0, 3, 10_000] {
                let got = parse_sized(text, width)
                    .map(|parsed| match parsed {
                        Parsed::Object(fields) => Value::Object(fields.into_iter().collect()),
                        Parsed::Other(v) => v,
                    })
                    .map_err(|e| e.to_string());
                assert_eq!(got, want, "{text:?} at width {width}");
                if let (Ok(Value::Object(g)), Ok(Value::Object(w))) = (&got, &want) {
                    let (g, w): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
                    assert_eq!(g, w, "key order of {text:?}");
                }
            }
        }
    }

    fn run_opts(
        input: &[u8],
        opts: &ReadOptions,
        chunk: usize,
    ) -> Vec<Result<RawRecord, RecordError>> {
        let mut out = Vec::new();
        let name: Arc<str> = "t.json".into();
        {
            let mut emit = |r| out.push(r);
            let mut sink = Sink::new(&name, &mut emit);
            let mut r = io::BufReader::with_capacity(chunk.max(1), input);
            read_json(&mut sink, &mut r, opts, 0);
        }
        out
    }

    fn run(input: &[u8]) -> Vec<Result<RawRecord, RecordError>> {
        let all = run_opts(input, &ReadOptions::default(), 64 * 1024);
        // Chunk boundaries anywhere must not change the result.
        for chunk in [1, 2, 3, 7] {
            assert_eq!(
                run_opts(input, &ReadOptions::default(), chunk),
                all,
                "chunk {chunk}"
            );
        }
        all
    }

    fn oks(v: &[Result<RawRecord, RecordError>]) -> Vec<&RawRecord> {
        v.iter().filter_map(|r| r.as_ref().ok()).collect()
    }

    fn errs(v: &[Result<RawRecord, RecordError>]) -> Vec<&RecordError> {
        v.iter().filter_map(|r| r.as_ref().err()).collect()
    }

    #[test]
    fn json_lines_with_positions() {
        let out = run(b"{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":\"}\\\"{\"}\n");
        let recs = oks(&out);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].origin.line, Some(1));
        assert_eq!(recs[1].origin.line, Some(2));
        assert_eq!(recs[1].origin.offset, Some(8));
        assert_eq!(recs[2].origin.line, Some(4));
        assert_eq!(recs[2].origin.record, Some(2));
        assert_eq!(recs[2].to_value()["a"], "}\"{");
    }

    #[test]
    fn array_elements_and_positions() {
        let out = run(b"[\n  {\"a\":1},\n  {\"a\":[1,{\"b\":2}]}\n]\n");
        let recs = oks(&out);
        assert_eq!(recs.len(), 2, "{out:?}");
        assert_eq!(recs[0].origin.line, Some(2));
        assert_eq!(recs[0].origin.offset, Some(4));
        assert_eq!(recs[1].origin.line, Some(3));
    }

    #[test]
    fn pretty_object_spanning_lines() {
        let out = run(b"{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 1\n    }\n  }\n}\n{\n \"b\": 2\n}\n");
        let recs = oks(&out);
        assert_eq!(recs.len(), 2, "{out:?}");
        assert_eq!(recs[0].format, Format::EvtxJson);
        assert_eq!(recs[1].origin.line, Some(8));
    }

    #[test]
    fn broken_array_element_is_skipped() {
        let out = run(b"[{\"a\":1},{\"b\":},{\"c\":3}]");
        assert_eq!(oks(&out).len(), 2);
        let e = errs(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, ErrorKind::Malformed);
        assert_eq!(e[0].origin.offset, Some(9));
        assert_eq!(e[0].origin.record, Some(1));
    }

    #[test]
    fn truncated_array() {
        let out = run(b"[{\"a\":1},{\"b\":[1,2");
        assert_eq!(oks(&out).len(), 1);
        let e = errs(&out);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].kind, ErrorKind::Truncated);
        assert_eq!(e[0].origin.offset, Some(9));
        assert_eq!(e[1].kind, ErrorKind::Truncated);
        assert!(e[1].reason.contains("missing ']'"));
    }

    #[test]
    fn truncated_line_resumes_on_next_line() {
        let out = run(b"{\"a\":1,\"b\":{\"c\":2\n{\"a\":2}\n{\"s\":\"cut\n{\"a\":3}\n");
        let recs = oks(&out);
        assert_eq!(recs.len(), 2, "{out:?}");
        assert_eq!(recs[0].origin.line, Some(2));
        assert_eq!(recs[1].origin.line, Some(4));
        let e = errs(&out);
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|e| e.kind == ErrorKind::Truncated));
        assert_eq!(e[0].origin.line, Some(1));
        assert_eq!(e[1].origin.line, Some(3));
    }

    #[test]
    fn truncated_last_line() {
        let out = run(b"{\"a\":1}\n{\"a\":");
        assert_eq!(oks(&out).len(), 1);
        let e = errs(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, ErrorKind::Truncated);
        assert_eq!(e[0].origin.line, Some(2));
        assert_eq!(e[0].origin.offset, Some(8));
    }

    #[test]
    fn garbage_line_is_reported_and_skipped() {
        let out = run(b"{\"a\":1}\nhello world\n{\"a\":2} trailing\n{\"a\":3}");
        assert_eq!(oks(&out).len(), 3);
        let e = errs(&out);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].origin.line, Some(2));
        assert!(e[0].reason.contains("hello world"), "{}", e[0].reason);
        assert_eq!(e[1].origin.line, Some(3));
    }

    #[test]
    fn evtx_dump_record_headers_are_skipped() {
        let out = run(b"Record 1\n{\n  \"Event\": {\"System\": {}}\n}\nRecord 2\r\n{\n  \"Event\": {\"System\": {}}\n}\nRecord x\n");
        assert_eq!(oks(&out).len(), 2);
        let e = errs(&out);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].origin.line, Some(9));
    }

    #[test]
    fn invalid_utf8_line() {
        let out = run(b"{\"a\":1}\n{\"a\":\"\xff\xfe\"}\n{\"a\":3}\n");
        assert_eq!(oks(&out).len(), 2);
        let e = errs(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, ErrorKind::Encoding);
        assert_eq!(e[0].origin.line, Some(2));
    }

    #[test]
    fn too_large_is_skipped_without_buffering() {
        let mut input = b"{\"a\":1}\n{\"big\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\"}\n{\"a\":3}\n");
        let opts = ReadOptions {
            max_record_bytes: 1000,
            ..ReadOptions::default()
        };
        for chunk in [64, 4096, 1 << 20] {
            let out = run_opts(&input, &opts, chunk);
            assert_eq!(oks(&out).len(), 2);
            let e = errs(&out);
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].kind, ErrorKind::TooLarge);
            assert_eq!(e[0].origin.line, Some(2));
            assert!(e[0].reason.contains("10010 bytes"), "{}", e[0].reason);
        }
    }

    #[test]
    fn too_deep() {
        let mut input = b"[{\"a\":1},".to_vec();
        input.extend(std::iter::repeat_n(b'[', 100_000));
        input.extend(std::iter::repeat_n(b']', 100_000));
        input.extend_from_slice(b",{\"a\":2}]");
        let out = run_opts(&input, &ReadOptions::default(), 8192);
        assert_eq!(oks(&out).len(), 2);
        let e = errs(&out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, ErrorKind::TooDeep);

        // Only opening brackets: one TooDeep, then the array is unterminated.
        let out = run_opts(&vec![b'['; 100_000], &ReadOptions::default(), 8192);
        let e = errs(&out);
        assert!(!e.is_empty());
        assert_eq!(e[0].kind, ErrorKind::TooDeep);
        // Under the limit but past serde's own limit (127).
        let opts = ReadOptions {
            max_depth: 1000,
            ..ReadOptions::default()
        };
        let mut input = b"{\"a\":".to_vec();
        input.extend(std::iter::repeat_n(b'[', 500));
        input.extend(std::iter::repeat_n(b']', 500));
        input.push(b'}');
        let out = run_opts(&input, &opts, 8192);
        assert_eq!(errs(&out)[0].kind, ErrorKind::TooDeep);
    }

    #[test]
    fn graph_page_is_unwrapped() {
        let out = run(br#"{"@odata.context":"https://graph/$metadata#auditLogs/signIns","value":[{"createdDateTime":"x","appId":"a","status":{}},{"activityDisplayName":"y","activityDateTime":"z"}]}"#);
        let recs = oks(&out);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].format, Format::GraphSignIn);
        assert_eq!(recs[1].format, Format::GraphDirectoryAudit);
        assert_eq!(recs[1].origin.record, Some(1));
        // A plain object with a `value` key is just an object.
        let out = run(br#"{"value":[1]}"#);
        assert_eq!(oks(&out).len(), 1);
    }

    #[test]
    fn non_objects_are_errors() {
        let out = run(b"[1, \"s\", true, null, {\"a\":1}, [ {\"b\":2} ]]");
        assert_eq!(oks(&out).len(), 2);
        let e = errs(&out);
        assert_eq!(e.len(), 4);
        assert!(e.iter().all(|e| e.kind == ErrorKind::Unsupported));
    }

    #[test]
    fn concatenated_arrays_and_separators() {
        let out = run(b"[{\"a\":1}][{\"a\":2},]\n{\"a\":3},\n{\"a\":4}");
        assert_eq!(oks(&out).len(), 4, "{out:?}");
        assert!(errs(&out).is_empty());
    }

    #[test]
    fn missing_comma_in_array() {
        let out = run(b"[{\"a\":1} {\"a\":2}]");
        assert_eq!(oks(&out).len(), 2);
        assert_eq!(errs(&out).len(), 1);
        let out = run(b"[,{\"a\":1}]");
        assert_eq!(oks(&out).len(), 1);
        assert_eq!(errs(&out).len(), 1);
    }

    /// The JSON Lines fast path (a whole line in the buffer) and the scanner (a buffer
    /// of one byte) agree at the limits: a record of exactly `max_record_bytes` and one
    /// byte more, nested exactly `max_depth` deep and one level more.
    #[test]
    fn fast_path_limits_are_the_scanners() {
        let line = br#"{"a":{"b":[1]}}"#;
        let input = [&b"{}\n"[..], line, b" \r\n", line, b"\n"].concat();
        for max in [line.len() - 1, line.len(), line.len() + 1] {
            for depth in [2, 3, 4] {
                let opts = ReadOptions {
                    max_record_bytes: max,
                    max_depth: depth,
                    ..ReadOptions::default()
                };
                let fast = run_opts(&input, &opts, 1 << 16);
                assert_eq!(fast, run_opts(&input, &opts, 1), "max {max}, depth {depth}");
                let kept = oks(&fast).len();
                assert_eq!(
                    kept,
                    if max >= line.len() && depth >= 3 {
                        3
                    } else {
                        1
                    }
                );
            }
        }
    }

    #[test]
    fn purview_json_row_audit_data_parsed() {
        let out = run(br#"[{"CreationDate":"d","Operations":"o","AuditData":"{\"CreationTime\":\"2023-01-01T00:00:00\",\"Operation\":\"o\"}"},{"CreationDate":"d","Operations":"o","AuditData":"{bad"}]"#);
        let recs = oks(&out);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].format, Format::PurviewCsv);
        assert_eq!(recs[0].to_value()["AuditData"]["Operation"], "o");
        assert_eq!(errs(&out)[0].kind, ErrorKind::Malformed);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn token() -> impl Strategy<Value = &'static [u8]> {
            prop::sample::select(vec![
                &b"{"[..],
                b"}",
                b"[",
                b"]",
                b",",
                b":",
                b"\"",
                b"\\",
                b"\"k\"",
                b"1",
                b"true",
                b"\n",
                b"\r\n",
                b" ",
                b"\xff",
                b"\xc3\xa4",
                b"{\"a\":[1,{\"b\":\"x\"}]}\n",
                b"Record 7\n",
                b"\"\\\"\"",
                // Whole JSON Lines records: the fast path (`Scanner::whole_line`).
                b"{\"k\":\"v\\\"}\"} \t\r\n",
                b"{\"x\":{\"y\":{\"z\":[]}}}\n",
                b"{}\n",
                b"\x0c",
                b"\t",
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Where the reader's buffer boundaries fall never changes the result. A
            /// buffer of one or two bytes never holds a whole line, so this also holds
            /// the JSON Lines fast path (`Scanner::whole_line`) to the scanner's answers.
            #[test]
            fn chunking_does_not_matter(
                tokens in prop::collection::vec(token(), 0..120),
                max in prop::sample::select(vec![8usize, 64, 1 << 20]),
                depth in prop::sample::select(vec![2usize, 128]),
            ) {
                let data: Vec<u8> = tokens.concat();
                let opts = ReadOptions { max_record_bytes: max, max_depth: depth, ..ReadOptions::default() };
                let whole = run_opts(&data, &opts, 1 << 16);
                for chunk in [1usize, 2, 5, 13] {
                    prop_assert_eq!(&run_opts(&data, &opts, chunk), &whole);
                }
            }
        }
    }
}
