//! Property tests for every reader: arbitrary bytes, and arbitrary mutations of valid inputs
//! (JSON array, JSON Lines, pretty JSON, CSV, UTF-16, gzip, zip, EVTX), never panic, and
//! every item is a well-formed `RawRecord` (an object) or `RecordError` (file + reason).
//!
//! `read_bytes` turns a panic into a `RecordError` saying "internal error"; these tests fail
//! on such an error, so a panic anywhere in the readers is caught here.

mod common;

use common::{fixture, gzip, utf16le_bom, zip};
use proptest::prelude::*;
use std::collections::HashMap;
use trustpath_read::{Format, RawRecord, ReadOptions, RecordError, read_bytes};

/// Reads `data` and checks the invariants every read must keep.
fn check(name: &str, data: &[u8], opts: &ReadOptions) -> Result<(), TestCaseError> {
    let mut items: Vec<Result<RawRecord, RecordError>> = Vec::new();
    read_bytes(name, data, opts, &mut |r| items.push(r));
    // Lines and offsets only move forward within one file (EVTX has neither).
    let mut last: HashMap<String, (u64, u64)> = HashMap::new();
    for item in &items {
        let origin = match item {
            Ok(rec) => {
                prop_assert!(
                    rec.to_value().is_object(),
                    "record is not an object: {}",
                    rec.to_value()
                );
                &rec.origin
            }
            Err(e) => {
                prop_assert!(!e.reason.is_empty());
                prop_assert!(
                    !e.reason.contains("internal error"),
                    "a panic was caught: {e}"
                );
                &e.origin
            }
        };
        prop_assert!(origin.file.starts_with(name), "{origin}");
        if let (Some(line), Some(offset)) = (origin.line, origin.offset) {
            let prev = last.entry(origin.file.to_string()).or_insert((0, 0));
            prop_assert!(
                line >= prev.0 && offset >= prev.1,
                "position went back: {origin}"
            );
            *prev = (line, offset);
        }
    }
    if let Some(Ok(first)) = items.first()
        && first.format == Format::Evtx
    {
        prop_assert!(first.origin.record.is_some());
    }
    Ok(())
}

fn small_limits() -> ReadOptions {
    ReadOptions {
        max_record_bytes: 2048,
        max_depth: 16,
        ..ReadOptions::default()
    }
}

/// A random edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let special = prop::sample::select(vec![
        b'{', b'}', b'[', b']', b'"', b'\\', b',', b':', b'\n', b'\r', 0u8, 0xff, 0xc3, b'#',
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        (any::<usize>(), special.clone()).prop_map(|(p, b)| Edit::Set(p, b)),
        (any::<usize>(), prop::collection::vec(special, 1..8))
            .prop_map(|(p, v)| Edit::Insert(p, v)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, v)| Edit::Insert(p, v)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..256).prop_map(|(p, n)| Edit::Duplicate(p, n)),
    ]
}

fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let len = v.len().max(1);
        match e {
            Edit::Flip(p, b) => {
                if !v.is_empty() {
                    let i = p % v.len();
                    v[i] ^= b | 1;
                }
            }
            Edit::Set(p, b) => {
                if !v.is_empty() {
                    let i = p % v.len();
                    v[i] = *b;
                }
            }
            Edit::Insert(p, bytes) => {
                let i = p % (v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(p, n) => {
                let i = p % len;
                let end = (i + n).min(v.len());
                if i < end {
                    v.drain(i..end);
                }
            }
            Edit::Truncate(p) => v.truncate(p % len),
            Edit::Duplicate(p, n) => {
                let i = p % len;
                let end = (i + n).min(v.len());
                if i < end {
                    let copy = v[i..end].to_vec();
                    v.splice(end..end, copy);
                }
            }
        }
    }
    v
}

/// Text inputs of every reader, with their names.
fn text_bases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ual_array.json", fixture("ual_array.json")),
        ("ual.jsonl", fixture("ual.jsonl")),
        ("blob.json", fixture("ual_management_api_blob.json")),
        ("page.json", fixture("graph_signins_page.json")),
        ("bom.json", fixture("graph_signins_bom.json")),
        ("evtx_dump.json", fixture("evtx_dump.json")),
        ("mordor.jsonl", fixture("mordor_flat.jsonl")),
        ("purview.csv", fixture("purview_new.csv")),
        ("sual.csv", fixture("purview_search_unifiedauditlog.csv")),
        ("signins.csv", fixture("sentinel_signinlogs.csv")),
    ]
}

fn text_base() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    prop::sample::select(text_bases())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        check("any.bin", &data, &ReadOptions::default())?;
        check("any.bin", &data, &small_limits())?;
    }

    /// Arbitrary bytes behind every reader's entry point (first byte, BOM, magic, header).
    #[test]
    fn arbitrary_bytes_behind_each_sniff(
        lead in prop::sample::select(vec![
            &b"["[..], b"{", b"\xef\xbb\xbf[", b"\xff\xfe", b"\xfe\xff", b"{\x00", b"Record 1\n{",
            b"CreationDate,UserIds,Operations,AuditData\r\n",
            b"#TYPE x\r\n\"TimeGenerated [UTC]\",\"Type\"\n",
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", b"PK\x03\x04", b"PK\x05\x06", b"ElfFile\0",
        ]),
        tail in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut data = lead.to_vec();
        data.extend_from_slice(&tail);
        check("lead.bin", &data, &ReadOptions::default())?;
        check("lead.bin", &data, &small_limits())?;
    }

    /// Structured garbage: JSON-ish token soup.
    #[test]
    fn json_token_soup(
        open in prop::sample::select(vec![&b"["[..], b"{", b""]),
        tokens in prop::collection::vec(prop::sample::select(vec![
            &b"{"[..], b"}", b"[", b"]", b",", b":", b"\"", b"\\", b"\"k\"", b"1", b"-2.5e3",
            b"true", b"null", b"\n", b"\r\n", b" ", b"\xff", b"\xc3\xa4", b"\"\\u00e4\"", b"{\"a\":1}\n",
        ]), 0..200),
    ) {
        let mut data = open.to_vec();
        for t in tokens {
            data.extend_from_slice(t);
        }
        check("soup.json", &data, &ReadOptions::default())?;
        check("soup.json", &data, &small_limits())?;
    }

    #[test]
    fn mutated_text_inputs(
        (name, base) in text_base(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let data = apply(&base, &edits);
        check(name, &data, &ReadOptions::default())?;
        check(name, &data, &small_limits())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_utf16(
        (name, base) in text_base(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let text = String::from_utf8_lossy(&base).into_owned();
        let data = apply(&utf16le_bom(&text), &edits);
        check(name, &data, &ReadOptions::default())?;
    }

    #[test]
    fn mutated_gzip(
        (name, base) in text_base(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let data = apply(&gzip(&base), &edits);
        check(name, &data, &ReadOptions::default())?;
    }

    #[test]
    fn mutated_zip(edits in prop::collection::vec(edit(), 1..4)) {
        let archive = zip(&[
            ("a/ual.jsonl", &fixture("ual.jsonl")),
            ("b.csv", &fixture("purview_new.csv")),
            ("c.json.gz", &gzip(&fixture("graph_signins_bom.json"))),
        ]);
        let data = apply(&archive, &edits);
        check("case.zip", &data, &ReadOptions::default())?;
    }
}

/// The real EVTX samples from `shared/`, when present.
fn evtx_samples() -> Vec<Vec<u8>> {
    let Some(shared) = trustpath_testkit::shared_dir("proptests::mutated_evtx") else {
        return Vec::new();
    };
    [
        "samples/chainsaw-tests/security_sample.evtx",
        "samples/evtx-to-mitre-attack/ID800-4103-4104-Domain group discovery via PowerShell.evtx",
        "samples/evtx-to-mitre-attack/ID6-Failed to install an Exchange transport agent.evtx",
    ]
    .iter()
    .filter_map(|p| std::fs::read(shared.join(p)).ok())
    .collect()
}

#[test]
fn mutated_evtx() {
    let samples = evtx_samples();
    if samples.is_empty() {
        eprintln!("SKIPPED mutated_evtx: no EVTX samples");
        return;
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(96));
    let strategy = (
        0..samples.len(),
        prop::collection::vec(edit(), 1..12),
        // Where most edits land: the chunk header, the string/template tables, the records.
        prop::sample::select(vec![0usize, 0x1000, 0x1080, 0x1200, 0x1400, 0x2000]),
    );
    let result = runner.run(&strategy, |(i, edits, focus)| {
        let base = &samples[i];
        // Aim the edits: positions taken modulo a window after `focus`.
        let edits: Vec<Edit> = edits
            .into_iter()
            .map(|e| match e {
                Edit::Flip(p, b) => Edit::Flip(focus + p % 0x800, b),
                Edit::Set(p, b) => Edit::Set(focus + p % 0x800, b),
                other => other,
            })
            .collect();
        let data = apply(base, &edits);
        check("mutated.evtx", &data, &ReadOptions::default())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
