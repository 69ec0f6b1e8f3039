//! CSV exports: Purview / `Search-UnifiedAuditLog` (an `AuditData` column holding the UAL
//! record as JSON) and Log Analytics "Export to CSV" (Sentinel tables).
//!
//! Each row becomes an object keyed by the header names (a ` [UTC]` suffix stripped);
//! values stay strings, except `AuditData`, which is parsed into an object. A leading
//! `#TYPE …` line (old `Export-Csv`) is skipped. Rows are parsed with `csv-core`, fed by
//! hand so every row's first line and byte offset are exact (CRLF, quoted newlines, blank
//! lines) and a row larger than `max_record_bytes` (say, after an unbalanced quote) is
//! scanned to its end without being buffered.

use crate::json::emit_object;
use crate::sniff::clean_header;
use crate::{ReadOptions, Sink};
use csv_core::ReadRecordResult;
use serde_json::Value;
use std::io::{self, BufRead};
use trustpath_event::{ErrorKind, Format};

/// Most columns a row may have.
const MAX_COLUMNS: usize = 100_000;

/// Reads every row of a UTF-8 CSV stream split by `delimiter` (`,`, `;` or tab, sniffed
/// from the header) into `sink`; `base` is the byte offset of the stream's first byte
/// (after a BOM).
pub(crate) fn read_csv(
    sink: &mut Sink<'_>,
    r: &mut dyn BufRead,
    opts: &ReadOptions,
    base: u64,
    delimiter: u8,
) {
    let mut rows = Rows::new(opts, delimiter);
    rows.pos = base;
    let mut table = Table::default();
    loop {
        match rows.next(r) {
            Ok(Some(row)) => table.row(sink, &row, opts),
            Ok(None) => break,
            Err(e) => {
                let origin = sink.origin(Some(rows.line), Some(rows.pos));
                sink.error(
                    origin,
                    crate::io_kind(&e),
                    format!(
                        "read error after byte {}: {e}; rest of the file skipped",
                        rows.pos
                    ),
                );
                return;
            }
        }
    }
    if table.headers.is_none() {
        let origin = sink.origin(Some(1), Some(0));
        sink.error(origin, ErrorKind::MissingField, "CSV without a header line");
    }
}

/// One row as `csv-core` split it.
struct Row<'a> {
    line: u64,
    offset: u64,
    /// Bytes of the row in the input, when it was too large to keep.
    too_large: Option<u64>,
    fields: Vec<&'a [u8]>,
}

/// Splits a byte stream into rows with exact positions.
struct Rows {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    max: usize,
    /// Line (1-based) and byte offset of the next input byte.
    line: u64,
    pos: u64,
}

impl Rows {
    fn new(opts: &ReadOptions, delimiter: u8) -> Self {
        Rows {
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            out: vec![0; 64 * 1024.min(opts.max_record_bytes.max(1))],
            ends: vec![0; 64],
            max: opts.max_record_bytes.max(1),
            line: 1,
            pos: 0,
        }
    }

    /// The next row, `None` at the end of the input.
    fn next(&mut self, r: &mut dyn BufRead) -> io::Result<Option<Row<'_>>> {
        // Skip line breaks between rows so the row starts where its first byte is.
        loop {
            let buf = fill(r)?;
            if buf.is_empty() {
                break;
            }
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            self.line += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            self.pos += n as u64;
            let more = n == buf.len();
            r.consume(n);
            if !more {
                break;
            }
        }
        let (line, offset) = (self.line, self.pos);
        let (mut outlen, mut endlen) = (0usize, 0usize);
        let mut dropped: Option<u64> = None;
        loop {
            let input = fill(r)?;
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.out[outlen..], &mut self.ends[endlen..]);
            self.line += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.pos += nin as u64;
            r.consume(nin);
            outlen += nout;
            endlen += nend;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if dropped.is_some() || self.out.len() >= self.max {
                        // Too large: keep scanning to the end of the row, keep nothing.
                        *dropped.get_or_insert(0) += outlen as u64;
                        outlen = 0;
                        endlen = 0;
                    } else {
                        let len = (self.out.len() * 2).min(self.max);
                        self.out.resize(len, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if dropped.is_some() || self.ends.len() >= MAX_COLUMNS {
                        *dropped.get_or_insert(0) += outlen as u64;
                        outlen = 0;
                        endlen = 0;
                    } else {
                        let len = self.ends.len() * 2;
                        self.ends.resize(len, 0);
                    }
                }
                ReadRecordResult::Record => {
                    let too_large = dropped.map(|d| d + outlen as u64);
                    let mut fields = Vec::new();
                    if too_large.is_none() {
                        let mut start = 0;
                        for &end in &self.ends[..endlen] {
                            fields.push(&self.out[start..end]);
                            start = end;
                        }
                    }
                    return Ok(Some(Row {
                        line,
                        offset,
                        too_large,
                        fields,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

fn fill(r: &mut dyn BufRead) -> io::Result<&[u8]> {
    r.fill_buf()
}

/// The header and what has been learnt from it.
#[derive(Default)]
struct Table {
    headers: Option<Vec<String>>,
    purview: bool,
    seen_type_line: bool,
}

impl Table {
    fn row(&mut self, sink: &mut Sink<'_>, row: &Row<'_>, opts: &ReadOptions) {
        let (line, offset) = (row.line, row.offset);
        if let Some(size) = row.too_large {
            let origin = sink.origin(Some(line), Some(offset));
            sink.error(
                origin,
                ErrorKind::TooLarge,
                format!(
                    "CSV row of {size} bytes exceeds max_record_bytes {} (unbalanced quote?); skipped without buffering",
                    opts.max_record_bytes
                ),
            );
            return;
        }
        // A line of blanks is no row.
        if row.fields.len() == 1 && row.fields[0].iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Some(names) = self.headers.as_ref() else {
            // `#TYPE …` before the header (old `Export-Csv`): not a row.
            if !self.seen_type_line && row.fields.first().is_some_and(|f| f.starts_with(b"#TYPE")) {
                self.seen_type_line = true;
                return;
            }
            let mut names = Vec::with_capacity(row.fields.len());
            for (i, field) in row.fields.iter().enumerate() {
                let name = clean_header(&String::from_utf8_lossy(field));
                names.push(if name.is_empty() {
                    format!("column{}", i + 1)
                } else {
                    name
                });
            }
            self.purview = names.iter().any(|n| n == "AuditData");
            self.headers = Some(names);
            return;
        };
        // A quote left open swallows the rows after it into one field: each line inside
        // a field that has a whole row's worth of separators is a row lost, counted.
        let swallowed = swallowed_rows(&row.fields, names.len());
        if !swallowed.is_empty() {
            let origin = sink.origin(Some(line), Some(offset));
            sink.error(
                origin,
                ErrorKind::Malformed,
                format!(
                    "CSV row holds {} more row(s) inside a quoted field (unbalanced quote?); row skipped",
                    swallowed.len()
                ),
            );
            for inner in swallowed {
                let origin = sink.origin(Some(line + inner), None);
                sink.error(
                    origin,
                    ErrorKind::Malformed,
                    format!("CSV row swallowed by the unbalanced quote of the row at line {line}"),
                );
            }
            return;
        }
        if row.fields.len() < names.len() {
            let missing: Vec<&str> = names[row.fields.len()..]
                .iter()
                .map(String::as_str)
                .collect();
            let origin = sink.origin(Some(line), Some(offset));
            sink.error(
                origin,
                ErrorKind::MissingField,
                format!(
                    "CSV row has {} of {} columns; missing {}",
                    row.fields.len(),
                    names.len(),
                    missing.join(", ")
                ),
            );
            return;
        }
        if row.fields.len() > names.len() {
            let origin = sink.origin(Some(line), Some(offset));
            sink.error(
                origin,
                ErrorKind::Malformed,
                format!(
                    "CSV row has {} columns, the header has {}",
                    row.fields.len(),
                    names.len()
                ),
            );
            return;
        }
        let mut map = trustpath_event::fields_with_capacity(names.len());
        for (name, field) in names.iter().zip(&row.fields) {
            match std::str::from_utf8(field) {
                Ok(s) => {
                    map.insert(name.clone(), Value::String(s.to_string()));
                }
                Err(e) => {
                    let origin = sink.origin(Some(line), Some(offset));
                    sink.error(
                        origin,
                        ErrorKind::Encoding,
                        format!(
                            "invalid UTF-8 in column {name} (after {} valid bytes); row skipped",
                            e.valid_up_to()
                        ),
                    );
                    return;
                }
            }
        }
        if self.purview
            && map
                .get("AuditData")
                .and_then(Value::as_str)
                .is_some_and(|s| s.trim().is_empty())
        {
            let origin = sink.origin(Some(line), Some(offset));
            sink.error(origin, ErrorKind::MissingField, "AuditData column is empty");
            return;
        }
        emit_object(
            sink,
            map,
            Some(line),
            Some(offset),
            self.purview.then_some(Format::PurviewCsv),
        );
    }
}

/// Lines (counted from the row's first line) inside quoted fields that look like whole
/// rows: at least as many separators as the header has minus one. Pretty-printed JSON in
/// an `AuditData` field holds at most a separator or two per line, never a row's worth,
/// for tables of three or more columns (narrower tables are not checked).
fn swallowed_rows(fields: &[&[u8]], columns: usize) -> Vec<u64> {
    let mut found = Vec::new();
    if columns < 3 {
        return found;
    }
    let mut lines_before = 0u64;
    for field in fields {
        let mut parts = field.split(|&b| b == b'\n');
        let _ = parts.next();
        for (i, part) in parts.enumerate() {
            if part.iter().filter(|&&b| b == b',').count() + 1 >= columns {
                found.push(lines_before + i as u64 + 1);
            }
        }
        lines_before += memchr::memchr_iter(b'\n', field).count() as u64;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use trustpath_event::{RawRecord, RecordError};

    fn run_opts(input: &[u8], opts: &ReadOptions) -> Vec<Result<RawRecord, RecordError>> {
        run_chunked(input, opts, 16)
    }

    fn run_chunked(
        input: &[u8],
        opts: &ReadOptions,
        chunk: usize,
    ) -> Vec<Result<RawRecord, RecordError>> {
        let mut out = Vec::new();
        let name: Arc<str> = "t.csv".into();
        {
            let mut emit = |r| out.push(r);
            let mut sink = Sink::new(&name, &mut emit);
            let mut r = io::BufReader::with_capacity(chunk, input);
            read_csv(&mut sink, &mut r, opts, 0, b',');
        }
        out
    }

    fn run(input: &[u8]) -> Vec<Result<RawRecord, RecordError>> {
        run_opts(input, &ReadOptions::default())
    }

    #[test]
    fn crlf_lines_and_offsets() {
        let input = b"CreationDate,UserIds,Operations,AuditData\r\n1/1/2024,a,op,\"{\"\"CreationTime\"\":\"\"x\"\"}\"\r\n2/1/2024,b,op,\"{\r\n}\"\r\n3/1/2024,c,op,\"{}\"\r\n";
        let out = run(input);
        let recs: Vec<_> = out.iter().map(|r| r.as_ref().expect("ok")).collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].origin.line, Some(2));
        assert_eq!(recs[0].origin.offset, Some(43));
        assert_eq!(recs[1].origin.line, Some(3));
        assert_eq!(recs[2].origin.line, Some(5));
        assert_eq!(recs[0].format, Format::PurviewCsv);
        assert_eq!(recs[0].to_value()["AuditData"]["CreationTime"], "x");
        assert_eq!(recs[2].origin.record, Some(2));
    }

    #[test]
    fn type_line_and_utc_suffix() {
        let input = b"#TYPE System.Data.DataRow\n\"TimeGenerated [UTC]\",\"UserPrincipalName\",\"IPAddress\",\"ResultType\"\n\"2024-01-01T00:00:00Z\",\"a@b\",\"1.2.3.4\",\"0\"\n";
        let out = run(input);
        let r = out[0].as_ref().expect("ok");
        assert_eq!(r.origin.line, Some(3));
        assert_eq!(r.format, Format::SentinelSignIn);
        assert_eq!(r.to_value()["TimeGenerated"], "2024-01-01T00:00:00Z");
    }

    #[test]
    fn missing_and_extra_columns() {
        let input = b"CreationDate,UserIds,Operations,AuditData\na,b\na,b,c,{},x\na,b,c,{}\n";
        let out = run(input);
        let e0 = out[0].as_ref().expect_err("missing");
        assert_eq!(e0.kind, ErrorKind::MissingField);
        assert_eq!(e0.origin.line, Some(2));
        assert!(e0.reason.contains("Operations, AuditData"), "{}", e0.reason);
        let e1 = out[1].as_ref().expect_err("extra");
        assert_eq!(e1.kind, ErrorKind::Malformed);
        assert_eq!(e1.origin.line, Some(3));
        assert!(out[2].is_ok());
    }

    #[test]
    fn bad_audit_data() {
        let input =
            b"CreationDate,UserIds,Operations,AuditData\na,b,c,{not json\na,b,c,\na,b,c,[1]\n";
        let out = run(input);
        let kinds: Vec<_> = out
            .iter()
            .map(|r| r.as_ref().expect_err("err").kind)
            .collect();
        assert_eq!(
            kinds,
            [
                ErrorKind::Malformed,
                ErrorKind::MissingField,
                ErrorKind::Malformed
            ]
        );
        assert_eq!(out[0].as_ref().expect_err("e").origin.line, Some(2));
    }

    #[test]
    fn invalid_utf8_cell() {
        let input = b"TimeGenerated,Type\nx\xff,OfficeActivity\ny,OfficeActivity\n";
        let out = run(input);
        assert_eq!(out[0].as_ref().expect_err("e").kind, ErrorKind::Encoding);
        assert_eq!(
            out[1].as_ref().expect("ok").format,
            Format::SentinelOfficeActivity
        );
    }

    #[test]
    fn rows_swallowed_by_an_unbalanced_quote_are_counted() {
        let input = b"CreationDate,UserIds,Operations,AuditData\n\
2025-03-11T10:00:00,a@x.com,Send,\"{\"\"Id\"\":\"\"1\"\"}\"\n\
2025-03-11T10:01:00,\"b@x.com,Send,{}\n\
2025-03-11T10:02:00,c@x.com,Send,{}\n\
2025-03-11T10:03:00,d@x.com,Send,\"{}\"\n";
        let out = run_opts(input, &ReadOptions::default());
        let errors: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
        // The row with the open quote, and the two rows it swallowed (the quote that
        // closes it opens the last row's AuditData).
        assert_eq!(errors.len(), 3, "{out:?}");
        assert!(errors[0].reason.contains("unbalanced quote"));
        assert_eq!(errors[1].origin.line, Some(4));
        assert_eq!(errors[2].origin.line, Some(5));
        assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 1);
    }

    #[test]
    fn unbalanced_quote_is_bounded() {
        let mut input = b"TimeGenerated,Type\n\"never closed,".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1_000_000));
        let opts = ReadOptions {
            max_record_bytes: 10_000,
            ..ReadOptions::default()
        };
        let out = run_opts(&input, &opts);
        assert_eq!(out.len(), 1);
        let e = out[0].as_ref().expect_err("too large");
        assert_eq!(e.kind, ErrorKind::TooLarge);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Where the reader's buffer boundaries fall never changes the result.
            #[test]
            fn chunking_does_not_matter(
                tokens in prop::collection::vec(prop::sample::select(vec![
                    &b","[..], b"\"", b"\"\"", b"\r\n", b"\n", b"\r", b"x", b"{}", b"{\"\"a\"\":1}", b"\xff", b" ",
                ]), 0..80),
                max in prop::sample::select(vec![4usize, 1 << 20]),
            ) {
                let mut data = b"#TYPE x\r\nTimeGenerated,AuditData,Operations\r\n".to_vec();
                data.extend(tokens.concat());
                let opts = ReadOptions { max_record_bytes: max, ..ReadOptions::default() };
                let whole = run_chunked(&data, &opts, 1 << 16);
                for chunk in [1usize, 3, 7] {
                    prop_assert_eq!(&run_chunked(&data, &opts, chunk), &whole);
                }
            }
        }
    }
}
