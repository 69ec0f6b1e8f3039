//! A gzip reader that keeps everything it could decode.
//!
//! `flate2`'s multi-member decoder fails the whole read on trailing bytes after the last
//! member (padding some copy and carving tools add, which gzip(1) ignores) and on a
//! truncated or corrupt member, so a reader lost even the records decoded before the
//! fault. Here members are decoded one by one: trailing zero bytes are ignored (nothing
//! is lost), other trailing bytes and decoding faults end the stream cleanly — what was
//! decoded is kept — and the fault is kept in a [`GzFault`] for the caller to report with
//! how much was decoded before it.

use flate2::bufread::GzDecoder;
use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

/// What went wrong in a gzip stream, if anything.
#[derive(Debug, Clone, Default)]
pub(crate) struct GzFault {
    /// The reason, once a fault happened.
    pub reason: Option<String>,
    /// Decompressed bytes delivered before the fault.
    pub decoded: u64,
}

/// Shared handle to the fault of one stream.
pub(crate) type FaultCell = Rc<RefCell<GzFault>>;

enum State<R: Read> {
    Member(GzDecoder<BufReader<R>>),
    Between(BufReader<R>),
    Done,
}

/// Decodes every gzip member of `R`, tolerating trailing padding and keeping what it
/// decoded before a fault.
pub(crate) struct TolerantGz<R: Read> {
    state: State<R>,
    fault: FaultCell,
}

impl<R: Read> TolerantGz<R> {
    pub(crate) fn new(inner: R) -> (Self, FaultCell) {
        let fault = FaultCell::default();
        let reader = BufReader::with_capacity(64 * 1024, inner);
        let gz = TolerantGz {
            state: State::Member(GzDecoder::new(reader)),
            fault: Rc::clone(&fault),
        };
        (gz, fault)
    }

    fn fail(&mut self, reason: String) {
        self.fault.borrow_mut().reason = Some(reason);
        self.state = State::Done;
    }
}

impl<R: Read> Read for TolerantGz<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(0),
                State::Member(mut dec) => match dec.read(buf) {
                    Ok(0) if !buf.is_empty() => self.state = State::Between(dec.into_inner()),
                    Ok(n) => {
                        self.fault.borrow_mut().decoded += n as u64;
                        self.state = State::Member(dec);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        self.state = State::Member(dec);
                    }
                    Err(e) => {
                        self.fail(format!("gzip data is truncated or corrupt ({e})"));
                        return Ok(0);
                    }
                },
                State::Between(mut reader) => {
                    let head = match reader.fill_buf() {
                        Ok(head) => head,
                        Err(e) => {
                            self.fail(format!("read error after a gzip member ({e})"));
                            return Ok(0);
                        }
                    };
                    if head.is_empty() {
                        return Ok(0);
                    }
                    if head.starts_with(&[0x1f, 0x8b]) {
                        self.state = State::Member(GzDecoder::new(reader));
                        continue;
                    }
                    // Trailing bytes: zeros are padding; anything else is reported.
                    let mut trailing = 0u64;
                    let mut all_zero = true;
                    loop {
                        let chunk = match reader.fill_buf() {
                            Ok([]) => break,
                            Ok(c) => c,
                            Err(_) => break,
                        };
                        all_zero &= chunk.iter().all(|b| *b == 0);
                        let n = chunk.len();
                        trailing += n as u64;
                        reader.consume(n);
                    }
                    if !all_zero {
                        self.fail(format!(
                            "{trailing} bytes after the last gzip member are not gzip data and were not read"
                        ));
                    }
                    return Ok(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text.as_bytes()).expect("gzip");
        enc.finish().expect("gzip")
    }

    fn decode(bytes: &[u8]) -> (String, GzFault) {
        let (mut r, fault) = TolerantGz::new(bytes);
        let mut out = String::new();
        r.read_to_string(&mut out).expect("never an error");
        let f = fault.borrow().clone();
        (out, f)
    }

    #[test]
    fn trailing_zeros_are_padding() {
        let mut bytes = gz("a\nb\n");
        bytes.extend([0u8; 8]);
        let (text, fault) = decode(&bytes);
        assert_eq!(text, "a\nb\n");
        assert!(fault.reason.is_none());
    }

    #[test]
    fn members_are_concatenated_and_garbage_is_reported() {
        let mut bytes = gz("a\n");
        bytes.extend(gz("b\n"));
        bytes.extend(b"junk");
        let (text, fault) = decode(&bytes);
        assert_eq!(text, "a\nb\n");
        assert!(
            fault
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("4 bytes"))
        );
    }

    #[test]
    fn a_truncated_member_keeps_what_was_decoded() {
        let body: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let bytes = gz(&body);
        let (text, fault) = decode(&bytes[..bytes.len() - 30]);
        assert!(
            text.len() > 1000 && body.starts_with(&text),
            "{}",
            text.len()
        );
        assert!(fault.reason.is_some());
        assert_eq!(fault.decoded, text.len() as u64);
    }
}
