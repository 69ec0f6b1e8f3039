//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use trustpath_read::{Input, RawRecord, ReadOptions, RecordError, read_bytes, read_input};

/// Records and errors of one read, in order.
#[derive(Debug, Default)]
pub struct Out {
    pub records: Vec<RawRecord>,
    pub errors: Vec<RecordError>,
    /// `true` for a record, `false` for an error, in emission order.
    pub order: Vec<bool>,
}

impl Out {
    pub fn push(&mut self, r: Result<RawRecord, RecordError>) {
        match r {
            Ok(rec) => {
                self.order.push(true);
                self.records.push(rec);
            }
            Err(e) => {
                self.order.push(false);
                self.errors.push(e);
            }
        }
    }
}

pub fn bytes_with(name: &str, bytes: &[u8], opts: &ReadOptions) -> Out {
    let mut out = Out::default();
    read_bytes(name, bytes, opts, &mut |r| out.push(r));
    out
}

pub fn bytes(name: &str, bytes: &[u8]) -> Out {
    bytes_with(name, bytes, &ReadOptions::default())
}

pub fn file(path: &std::path::Path) -> Out {
    let mut out = Out::default();
    read_input(
        &Input::File(path.to_path_buf()),
        &ReadOptions::default(),
        &mut |r| out.push(r),
    );
    out
}

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixture_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip write");
    enc.finish().expect("gzip finish")
}

/// A zip archive holding `members` (name, content), deflated.
pub fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        if name.ends_with('/') {
            w.add_directory(*name, opts).expect("zip dir");
        } else {
            w.start_file(*name, opts).expect("zip start");
            w.write_all(data).expect("zip write");
        }
    }
    w.finish().expect("zip finish").into_inner()
}

/// `text` as UTF-16 little endian with a BOM (Windows PowerShell 5 `Out-File`).
pub fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut v = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v
}

/// `text` as UTF-16 big endian with a BOM.
pub fn utf16be_bom(text: &str) -> Vec<u8> {
    let mut v = vec![0xfe, 0xff];
    for u in text.encode_utf16() {
        v.extend_from_slice(&u.to_be_bytes());
    }
    v
}
