//! Text streams: BOM removal and UTF-16 / Windows-1252 → UTF-8 transcoding, streaming;
//! for CSV, a UTF-8 stream that turns out not to be UTF-8 further on (an Excel export
//! whose first non-ASCII name comes after the sniffed prefix) is read as Windows-1252
//! from its first invalid byte on.

use crate::sniff::TextEncoding;
use encoding_rs::{CoderResult, Decoder};
use std::io::{self, BufRead, BufReader, Read};

/// Buffer size of the readers the JSON and CSV parsers read from.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// A UTF-8 `BufRead` over `raw` (whose encoding is `encoding`), without a leading BOM,
/// and the number of input bytes the BOM took (so UTF-8 offsets stay file offsets; for
/// UTF-16, offsets are those of the transcoded UTF-8 stream).
pub(crate) fn utf8_reader<'a>(
    raw: Box<dyn Read + 'a>,
    encoding: TextEncoding,
) -> (Box<dyn BufRead + 'a>, u64) {
    text_reader(raw, encoding, false)
}

/// [`utf8_reader`] for CSV: UTF-8 that stops being UTF-8 further on continues as
/// Windows-1252 (offsets after that point are those of the transcoded stream).
pub(crate) fn csv_reader<'a>(
    raw: Box<dyn Read + 'a>,
    encoding: TextEncoding,
) -> (Box<dyn BufRead + 'a>, u64) {
    text_reader(raw, encoding, true)
}

fn text_reader<'a>(
    raw: Box<dyn Read + 'a>,
    encoding: TextEncoding,
    fallback: bool,
) -> (Box<dyn BufRead + 'a>, u64) {
    match encoding {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom if fallback => {
            let mut r = BufReader::with_capacity(BUF_SIZE, Utf8Fallback::new(raw));
            let skipped = skip_utf8_bom(&mut r);
            (Box::new(r), skipped)
        }
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => {
            let mut r = BufReader::with_capacity(BUF_SIZE, raw);
            let skipped = skip_utf8_bom(&mut r);
            (Box::new(r), skipped)
        }
        TextEncoding::Windows1252 => (
            Box::new(BufReader::with_capacity(
                BUF_SIZE,
                Transcode::new(
                    raw,
                    encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling(),
                ),
            )),
            0,
        ),
        TextEncoding::Utf16Le => (
            Box::new(BufReader::with_capacity(
                BUF_SIZE,
                Transcode::new(raw, encoding_rs::UTF_16LE.new_decoder_with_bom_removal()),
            )),
            0,
        ),
        TextEncoding::Utf16Be => (
            Box::new(BufReader::with_capacity(
                BUF_SIZE,
                Transcode::new(raw, encoding_rs::UTF_16BE.new_decoder_with_bom_removal()),
            )),
            0,
        ),
    }
}

/// Consumes a UTF-8 BOM at the start of `r`, if there is one; returns the bytes consumed.
/// Read errors are left for the parser to meet again.
fn skip_utf8_bom<R: BufRead>(r: &mut R) -> u64 {
    let mut seen = 0usize;
    while seen < 3 {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(_) => return seen as u64,
        };
        if buf.is_empty() {
            return seen as u64;
        }
        const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
        let n = buf.len().min(3 - seen);
        if buf[..n] != BOM[seen..seen + n] {
            // Only possible on the first call (a partial BOM cannot be put back), and only
            // when there is no BOM: nothing consumed yet.
            return seen as u64;
        }
        r.consume(n);
        seen += n;
    }
    seen as u64
}

/// Passes UTF-8 through unchanged until the first byte sequence that is not UTF-8, then
/// decodes everything from there on as Windows-1252 (every byte is a character there, so
/// nothing is lost).
struct Utf8Fallback<'a> {
    inner: Option<Box<dyn Read + 'a>>,
    /// Bytes read but not yet handed out: a sequence cut at a read boundary waits here.
    held: Vec<u8>,
    /// Once switched: the Windows-1252 transcoder over `held` then the rest of `inner`.
    latin: Option<Transcode<Rest<'a>>>,
}

/// The bytes held at the switch, then the rest of the stream.
type Rest<'a> = std::io::Chain<std::io::Cursor<Vec<u8>>, Box<dyn Read + 'a>>;

impl<'a> Utf8Fallback<'a> {
    fn new(inner: Box<dyn Read + 'a>) -> Self {
        Utf8Fallback {
            inner: Some(inner),
            held: Vec::new(),
            latin: None,
        }
    }
}

impl Read for Utf8Fallback<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(latin) = self.latin.as_mut() {
            return latin.read(buf);
        }
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        // Top up what is held with fresh bytes.
        let mut chunk = vec![0u8; buf.len().max(4)];
        let n = loop {
            match inner.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.held.extend_from_slice(&chunk[..n]);
        let at_end = n == 0;
        let (valid, invalid) = match std::str::from_utf8(&self.held) {
            Ok(_) => (self.held.len(), false),
            Err(e) if e.error_len().is_some() => (e.valid_up_to(), true),
            // A sequence cut at the read boundary: wait for its rest, unless the stream
            // ended (then it is invalid).
            Err(e) => (e.valid_up_to(), at_end),
        };
        if invalid && valid == 0 {
            // Switch: the held bytes and the rest of the stream are Windows-1252.
            let rest = std::mem::take(&mut self.held);
            let inner = self
                .inner
                .take()
                .ok_or_else(|| io::Error::other("reader gone"))?;
            let source = std::io::Cursor::new(rest).chain(inner);
            let latin = self.latin.insert(Transcode::new(
                source,
                encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling(),
            ));
            return latin.read(buf);
        }
        let give = valid.min(buf.len());
        buf[..give].copy_from_slice(&self.held[..give]);
        self.held.drain(..give);
        if give == 0 && at_end {
            self.inner = None;
        }
        if give == 0 && !at_end {
            // Only a partial sequence so far: read more.
            return self.read(buf);
        }
        Ok(give)
    }
}

/// Decodes a byte stream with an `encoding_rs` decoder, producing UTF-8. Malformed
/// sequences (unpaired surrogates) become U+FFFD.
pub(crate) struct Transcode<R> {
    inner: R,
    decoder: Decoder,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    inner_eof: bool,
    outbuf: Vec<u8>,
    out_start: usize,
    out_end: usize,
    finished: bool,
}

impl<R: Read> Transcode<R> {
    pub(crate) fn new(inner: R, decoder: Decoder) -> Self {
        Transcode {
            inner,
            decoder,
            inbuf: vec![0; 64 * 1024],
            in_start: 0,
            in_end: 0,
            inner_eof: false,
            outbuf: vec![0; 128 * 1024 + 16],
            out_start: 0,
            out_end: 0,
            finished: false,
        }
    }
}

impl<R: Read> Read for Transcode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = buf.len().min(self.out_end - self.out_start);
                buf[..n].copy_from_slice(&self.outbuf[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished || buf.is_empty() {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.inner_eof {
                self.in_start = 0;
                self.in_end = 0;
                let n = loop {
                    match self.inner.read(&mut self.inbuf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                if n == 0 {
                    self.inner_eof = true;
                } else {
                    self.in_end = n;
                }
            }
            let last = self.inner_eof;
            let (result, read, written, _replaced) = self.decoder.decode_to_utf8(
                &self.inbuf[self.in_start..self.in_end],
                &mut self.outbuf,
                last,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if last && result == CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = Vec::new();
        if bom {
            v.extend_from_slice(&[0xff, 0xfe]);
        }
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    fn read_all((mut r, _): (Box<dyn BufRead + '_>, u64)) -> String {
        let mut s = String::new();
        r.read_to_string(&mut s).expect("utf-8");
        s
    }

    #[test]
    fn utf16_roundtrip_large() {
        let text: String = (0..20_000)
            .map(|i| format!("{{\"n\":{i},\"s\":\"ä€😀\"}}\n"))
            .collect();
        let bytes = utf16le(&text, true);
        let out = read_all(utf8_reader(Box::new(&bytes[..]), TextEncoding::Utf16Le));
        assert_eq!(out, text);
    }

    #[test]
    fn utf16be_and_bom_removal() {
        let mut bytes = vec![0xfe, 0xff];
        for u in "[1]".encode_utf16() {
            bytes.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(
            read_all(utf8_reader(Box::new(&bytes[..]), TextEncoding::Utf16Be)),
            "[1]"
        );
    }

    #[test]
    fn utf8_bom_stripped() {
        let bytes = b"\xef\xbb\xbf[1]";
        assert_eq!(
            read_all(utf8_reader(Box::new(&bytes[..]), TextEncoding::Utf8Bom)),
            "[1]"
        );
        assert_eq!(
            read_all(utf8_reader(Box::new(&b"[1]"[..]), TextEncoding::Utf8)),
            "[1]"
        );
    }

    #[test]
    fn odd_trailing_byte_is_replaced() {
        let mut bytes = utf16le("ab", true);
        bytes.push(0x41);
        let out = read_all(utf8_reader(Box::new(&bytes[..]), TextEncoding::Utf16Le));
        assert_eq!(out, "ab\u{fffd}");
    }
}
