//! Bad input: every case gives `RecordError`s naming the file and the line or offset with a
//! reason, the reading goes on with the next record, and nothing panics.

mod common;

use common::{Out, bytes, bytes_with, fixture, gzip, zip};
use trustpath_read::{ErrorKind, ReadOptions, RecordError};

/// Every error names the file and a line or offset, and says why.
fn well_formed(out: &Out, file: &str) {
    for e in &out.errors {
        assert!(e.origin.file.starts_with(file), "{e}");
        assert!(
            e.origin.line.is_some() || e.origin.offset.is_some() || e.origin.record.is_some(),
            "no position: {e}"
        );
        assert!(e.reason.len() > 10, "vague reason: {e}");
        assert!(
            !e.reason.contains("internal error"),
            "a panic was caught: {e}"
        );
    }
}

fn kinds(errors: &[RecordError]) -> Vec<ErrorKind> {
    errors.iter().map(|e| e.kind).collect()
}

#[test]
fn truncated_json_array() {
    let data = fixture("ual_array.json");
    let cut = &data[..data.len() * 2 / 3];
    let out = bytes("cut.json", cut);
    well_formed(&out, "cut.json");
    assert_eq!(out.records.len(), 1, "the complete element before the cut");
    assert_eq!(
        kinds(&out.errors),
        [ErrorKind::Truncated, ErrorKind::Truncated]
    );
    let e = &out.errors[0];
    assert_eq!(e.origin.line, Some(3));
    assert!(e.origin.offset.is_some());
    assert!(e.reason.contains("input ends"), "{e}");
    assert!(out.errors[1].reason.contains("missing ']'"));
}

#[test]
fn truncated_json_lines() {
    // A line cut in the middle (then more lines), and a last line cut at EOF.
    let data = fixture("ual.jsonl");
    let text = String::from_utf8(data).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let broken = format!(
        "{}\n{}\n{}\n{}",
        lines[0],
        &lines[1][..200],
        lines[2],
        &lines[0][..500]
    );
    let out = bytes("cut.jsonl", broken.as_bytes());
    well_formed(&out, "cut.jsonl");
    assert_eq!(out.records.len(), 2);
    assert_eq!(
        out.records[1].origin.line,
        Some(3),
        "reading resumed on the next line"
    );
    assert_eq!(
        kinds(&out.errors),
        [ErrorKind::Truncated, ErrorKind::Truncated]
    );
    assert_eq!(out.errors[0].origin.line, Some(2));
    assert_eq!(out.errors[1].origin.line, Some(4));
    assert_eq!(out.order, [true, false, true, false]);
}

#[test]
fn truncated_pretty_object() {
    let data = fixture("evtx_dump.json");
    let out = bytes("cut.json", &data[..data.len() - 40]);
    well_formed(&out, "cut.json");
    assert_eq!(out.records.len(), 1);
    assert_eq!(kinds(&out.errors), [ErrorKind::Truncated]);
    assert_eq!(out.errors[0].origin.line, Some(55));
}

#[test]
fn invalid_utf8() {
    let mut data = fixture("ual.jsonl");
    // Break the second line with bytes that are not UTF-8.
    let second = data.iter().position(|&b| b == b'\n').expect("newline") + 30;
    data[second] = 0xff;
    data[second + 1] = 0xc3;
    let out = bytes("bad.jsonl", &data);
    well_formed(&out, "bad.jsonl");
    assert_eq!(out.records.len(), 2);
    assert_eq!(kinds(&out.errors), [ErrorKind::Encoding]);
    assert_eq!(out.errors[0].origin.line, Some(2));

    // In a JSON array element, and in a CSV cell.
    let mut arr = fixture("ual_array.json");
    let at = arr.windows(7).position(|w| w == b"UserKey").expect("key");
    arr[at] = 0xfe;
    let out = bytes("bad.json", &arr);
    well_formed(&out, "bad.json");
    assert_eq!(
        (out.records.len(), kinds(&out.errors)),
        (2, vec![ErrorKind::Encoding])
    );
    // A CSV that is not UTF-8 is what Excel writes in Windows-1252: read as such (0x80
    // is €), no row lost (issue 13; `excel_exports.rs`).
    let mut csv = fixture("purview_classic.csv");
    let at = csv.windows(5).position(|w| w == b"admin").expect("user");
    csv[at] = 0x80;
    let out = bytes("bad.csv", &csv);
    well_formed(&out, "bad.csv");
    assert_eq!((out.records.len(), kinds(&out.errors)), (2, vec![]));
    assert!(
        out.records
            .iter()
            .any(|r| r.to_value().to_string().contains("€dmin")),
        "decoded as Windows-1252"
    );
}

#[test]
fn csv_with_missing_columns() {
    let data = b"RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n\
1,9/20/2023 4:05:03 AM,8,Add service principal.,Certificate\r\n\
2,9/20/2023 4:05:04 AM,8,Op,User,\"{\"\"CreationTime\"\":\"\"2023-09-20T04:05:04\"\"}\",,\r\n\
3,9/20/2023 4:05:05 AM,8,Op,User,\"{not json}\",,\r\n";
    let out = bytes("short.csv", data);
    well_formed(&out, "short.csv");
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].origin.line, Some(3));
    assert_eq!(
        kinds(&out.errors),
        [ErrorKind::MissingField, ErrorKind::Malformed]
    );
    assert_eq!(out.errors[0].origin.line, Some(2));
    assert!(
        out.errors[0]
            .reason
            .contains("missing AuditData, AssociatedAdminUnits"),
        "{}",
        out.errors[0]
    );
    assert_eq!(out.errors[1].origin.line, Some(4));
    assert!(
        out.errors[1].reason.contains("AuditData"),
        "{}",
        out.errors[1]
    );
}

#[test]
fn long_single_line_is_skipped_small_limit() {
    let opts = ReadOptions {
        max_record_bytes: 64 * 1024,
        ..ReadOptions::default()
    };
    let mut data = b"{\"a\":1}\n{\"blob\":\"".to_vec();
    data.extend(std::iter::repeat_n(b'x', 5_000_000));
    data.extend_from_slice(b"\"}\n{\"a\":3}\n");
    let out = bytes_with("long.jsonl", &data, &opts);
    well_formed(&out, "long.jsonl");
    assert_eq!(out.records.len(), 2);
    assert_eq!(kinds(&out.errors), [ErrorKind::TooLarge]);
    assert_eq!(out.errors[0].origin.line, Some(2));
    assert_eq!(out.errors[0].origin.offset, Some(8));
    // The same inside an array, and as a CSV row.
    let mut arr = b"[{\"a\":1},{\"blob\":\"".to_vec();
    arr.extend(std::iter::repeat_n(b'x', 1_000_000));
    arr.extend_from_slice(b"\"},{\"a\":3}]");
    let out = bytes_with("long.json", &arr, &opts);
    assert_eq!(
        (out.records.len(), kinds(&out.errors)),
        (2, vec![ErrorKind::TooLarge])
    );
    let mut csv = b"TimeGenerated,Type\nx,OfficeActivity\n\"".to_vec();
    csv.extend(std::iter::repeat_n(b'y', 1_000_000));
    csv.extend_from_slice(b"\",OfficeActivity\nz,OfficeActivity\n");
    let out = bytes_with("long.csv", &csv, &opts);
    well_formed(&out, "long.csv");
    assert_eq!(
        (out.records.len(), kinds(&out.errors)),
        (2, vec![ErrorKind::TooLarge])
    );
    assert_eq!(out.errors[0].origin.line, Some(3));
}

#[test]
fn deeply_nested_json() {
    // 100k '[' as a JSON Lines record between good ones, closed.
    let mut data = b"{\"a\":1}\n{\"deep\":".to_vec();
    data.extend(std::iter::repeat_n(b'[', 100_000));
    data.extend(std::iter::repeat_n(b']', 100_000));
    data.extend_from_slice(b"}\n{\"a\":3}\n");
    let out = bytes("deep.jsonl", &data);
    well_formed(&out, "deep.jsonl");
    assert_eq!(out.records.len(), 2);
    assert_eq!(kinds(&out.errors), [ErrorKind::TooDeep]);
    assert_eq!(out.errors[0].origin.line, Some(2));
    // 100k '[' and nothing else.
    let out = bytes("deep.json", &vec![b'['; 100_000]);
    well_formed(&out, "deep.json");
    assert!(out.records.is_empty());
    assert_eq!(out.errors[0].kind, ErrorKind::TooDeep);
    // 100k '{"a":' unclosed in a JSON Lines file, then a good line.
    let mut data = b"{\"a\":1}\n".to_vec();
    for _ in 0..100_000 {
        data.extend_from_slice(b"{\"a\":");
    }
    data.extend_from_slice(b"\n{\"a\":3}\n");
    let out = bytes("deep2.jsonl", &data);
    well_formed(&out, "deep2.jsonl");
    assert_eq!(out.records.len(), 2);
    assert_eq!(kinds(&out.errors), [ErrorKind::TooDeep]);
}

#[test]
fn empty_bom_only_whitespace_and_garbage() {
    for (name, data) in [
        ("empty.json", &b""[..]),
        ("bom.json", b"\xef\xbb\xbf"),
        ("bom16.json", b"\xff\xfe"),
        ("blank.json", b" \r\n\t\n"),
    ] {
        let out = bytes(name, data);
        well_formed(&out, name);
        assert!(out.records.is_empty(), "{name}");
        assert_eq!(kinds(&out.errors), [ErrorKind::Unsupported], "{name}");
        assert_eq!(out.errors[0].origin.offset, Some(0));
        let expected = if data.is_empty() {
            "empty input"
        } else {
            "only blanks or a byte-order mark"
        };
        assert!(out.errors[0].reason.contains(expected), "{}", out.errors[0]);
    }
    let mut garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    garbage[0] = 0x03;
    for (name, data) in [
        ("garbage.bin", garbage.clone()),
        (
            "exe.json",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec(),
        ),
        (
            "notes.txt",
            b"just some text, with a comma\nand lines\n".to_vec(),
        ),
    ] {
        let out = bytes(name, &data);
        well_formed(&out, name);
        assert_eq!(kinds(&out.errors), [ErrorKind::Unsupported], "{name}");
        assert!(
            out.errors[0].reason.contains("first bytes:"),
            "{}",
            out.errors[0]
        );
    }
    let exe = bytes("exe.json", b"MZ\x90\x00");
    assert!(
        exe.errors[0].reason.contains("4d 5a 90 00"),
        "{}",
        exe.errors[0]
    );
    // Garbage after a JSON start: errors, no panic, and the good lines still come out.
    let mut data = b"{\"a\":1}\n".to_vec();
    data.extend_from_slice(&garbage);
    data.extend_from_slice(b"\n{\"a\":2}\n");
    let out = bytes("mixed.jsonl", &data);
    well_formed(&out, "mixed.jsonl");
    assert!(out.records.len() >= 2);
    assert!(!out.errors.is_empty());
}

#[test]
fn broken_containers() {
    let gz = gzip(&fixture("ual.jsonl"));
    // Truncated gzip: the records before the cut, then an error.
    let out = bytes("cut.jsonl.gz", &gz[..gz.len() - 200]);
    well_formed(&out, "cut.jsonl.gz");
    assert!(!out.errors.is_empty());
    // Corrupted deflate data.
    let mut bad = gz.clone();
    for b in &mut bad[20..60] {
        *b ^= 0x55;
    }
    let out = bytes("bad.gz", &bad);
    well_formed(&out, "bad.gz");
    assert!(!out.errors.is_empty());
    // A zip whose central directory is damaged.
    let archive = zip(&[("a.jsonl", &fixture("ual.jsonl")), ("b.txt", b"not a log")]);
    let mut broken = archive.clone();
    let len = broken.len();
    broken.truncate(len - 10);
    let out = bytes("broken.zip", &broken);
    well_formed(&out, "broken.zip");
    assert_eq!(kinds(&out.errors), [ErrorKind::Malformed]);
    // A good zip with one member that is not a log: that member's error, the other's records.
    let out = bytes("case.zip", &archive);
    well_formed(&out, "case.zip");
    assert_eq!(out.records.len(), 3);
    assert_eq!(kinds(&out.errors), [ErrorKind::Unsupported]);
    assert_eq!(&*out.errors[0].origin.file, "case.zip!b.txt");
    // A member whose compressed data is damaged.
    let mut damaged = archive.clone();
    let at = 60;
    for b in &mut damaged[at..at + 30] {
        *b ^= 0xaa;
    }
    let out = bytes("damaged.zip", &damaged);
    well_formed(&out, "damaged.zip");
    assert!(!out.errors.is_empty());
}

/// A corrupted chunk of a real EVTX sample (copied into a temp dir at test time).
#[test]
fn corrupted_evtx_chunk() {
    let Some(shared) = trustpath_testkit::shared_dir("corrupted_evtx_chunk") else {
        return;
    };
    let sample = shared.join("samples/chainsaw-tests/security_sample.evtx");
    let Ok(original) = std::fs::read(&sample) else {
        eprintln!(
            "SKIPPED corrupted_evtx_chunk: {} not found",
            sample.display()
        );
        return;
    };
    const HEADER: usize = 0x1000;
    const CHUNK: usize = 0x10000;
    assert_eq!(original.len(), HEADER + CHUNK, "a one-chunk sample");
    // Two chunks: the sample's chunk twice (10 records each).
    let mut two = original.clone();
    two.extend_from_slice(&original[HEADER..HEADER + CHUNK]);
    let dir = tempfile::tempdir().expect("tempdir");
    let read = |name: &str, data: &[u8]| -> Out {
        let path = dir.path().join(name);
        std::fs::write(&path, data).expect("write");
        let out = common::file(&path);
        well_formed(&out, &path.display().to_string());
        out
    };
    let ok = read("two.evtx", &two);
    assert!(ok.errors.is_empty());
    assert_eq!(ok.records.len(), 20);

    // 1. The first chunk's header magic overwritten: that chunk is an error (at its offset),
    //    the second chunk's records still come out.
    let mut bad = two.clone();
    bad[HEADER..HEADER + 8].copy_from_slice(b"XXXXXXXX");
    let out = read("bad-magic.evtx", &bad);
    assert_eq!(out.records.len(), 10);
    assert_eq!(kinds(&out.errors), [ErrorKind::Malformed]);
    assert_eq!(out.errors[0].origin.offset, Some(HEADER as u64));
    assert!(out.errors[0].reason.contains("chunk"), "{}", out.errors[0]);

    // 2. The first chunk's data overwritten with garbage.
    let mut bad = two.clone();
    bad[HEADER + 0x200..HEADER + CHUNK].fill(0xa5);
    let out = read("garbage-chunk.evtx", &bad);
    assert_eq!(out.records.len(), 10);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].origin.offset, Some(HEADER as u64));

    // 3. Bytes flipped inside records of the first chunk: those records are errors (with
    //    their record id), the others are read.
    let mut bad = two.clone();
    for b in &mut bad[0x2300..0x2600] {
        *b ^= 0x5a;
    }
    let out = read("flipped.evtx", &bad);
    assert!(!out.errors.is_empty());
    assert!(
        out.records.len() >= 10 && out.records.len() < 20,
        "{}",
        out.records.len()
    );
    assert_eq!(out.records.len() + out.errors.len(), 20);

    // 4. A record header destroyed: an error at its file offset, the rest is read.
    let mut bad = two.clone();
    bad[0x1de8..0x1dec].fill(0xff);
    let out = read("bad-record.evtx", &bad);
    assert_eq!(out.records.len(), 19);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].origin.offset, Some(0x1de8));

    // 5. The file cut inside its second chunk.
    let out = read("cut.evtx", &two[..HEADER + CHUNK + 0x8000]);
    assert_eq!(out.records.len(), 10);
    assert_eq!(kinds(&out.errors), [ErrorKind::Truncated]);
    assert_eq!(out.errors[0].origin.offset, Some((HEADER + CHUNK) as u64));

    // 6. Only the file header, and a file header cut short.
    let out = read("header-only.evtx", &two[..HEADER]);
    assert!(out.records.is_empty());
    let out = read("short.evtx", &two[..100]);
    assert!(out.records.is_empty());
    assert_eq!(kinds(&out.errors), [ErrorKind::Malformed]);

    // 7. The same corruption through a non-seekable path (inside a zip): same result.
    let mut bad = two.clone();
    bad[HEADER..HEADER + 8].copy_from_slice(b"XXXXXXXX");
    let out = bytes("logs.zip", &zip(&[("Security.evtx", &bad)]));
    well_formed(&out, "logs.zip");
    assert_eq!(out.records.len(), 10);
    assert_eq!(&*out.errors[0].origin.file, "logs.zip!Security.evtx");
}

/// A small gzip (its whole content in the first buffer) keeps its records when padding
/// follows the last member, and a truncated one keeps the records before the cut; what
/// was lost is reported with the decompressed offset.
#[test]
fn small_gzip_keeps_what_it_decoded() {
    let lines: String = (0..10)
        .map(|i| format!("{{\"CreationTime\":\"2025-03-06T09:1{i}:38\",\"Id\":\"id-{i}\",\"Operation\":\"MailItemsAccessed\",\"RecordType\":50,\"Workload\":\"Exchange\",\"UserId\":\"a@contoso.com\"}}\n"))
        .collect();
    let mut padded = gzip(lines.as_bytes());
    padded.extend([0u8; 8]);
    let out = bytes("padded.jsonl.gz", &padded);
    assert_eq!(out.records.len(), 10, "{:?}", out.errors);
    assert!(
        out.errors.is_empty(),
        "zero padding loses nothing: {:?}",
        out.errors
    );

    let whole = gzip(lines.as_bytes());
    let out = bytes("cut.jsonl.gz", &whole[..whole.len() - 12]);
    well_formed(&out, "cut.jsonl.gz");
    assert!(out.records.len() >= 8, "{} records kept", out.records.len());
    assert!(
        out.errors
            .iter()
            .any(|e| e.reason.contains("rest of this file is lost")),
        "{:?}",
        out.errors
    );

    let mut junk = gzip(lines.as_bytes());
    junk.extend(b"not gzip");
    let out = bytes("junk.jsonl.gz", &junk);
    assert_eq!(out.records.len(), 10);
    assert!(
        out.errors
            .iter()
            .any(|e| e.reason.contains("8 bytes after the last gzip member"))
    );
}

/// A zip inside a gzip is spooled (memory, then an unnamed temporary file) rather than
/// buffered whole; beyond `max_spool_bytes` it is reported, not read.
#[test]
fn zip_in_a_stream_is_spooled_and_bounded() {
    // Incompressible filler, so the archive itself is larger than the 16 MiB kept in
    // memory and the temporary-file path is taken.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let filler: Vec<u8> = (0..17 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let archive = zip(&[("a.jsonl", &fixture("ual.jsonl")), ("pad.bin", &filler)]);
    assert!(archive.len() > 16 * 1024 * 1024);
    let gz = gzip(&archive);
    let out = bytes("case.zip.gz", &gz);
    well_formed(&out, "case.zip.gz");
    assert_eq!(out.records.len(), 3);
    // The filler member is not a log: its one error.
    assert_eq!(kinds(&out.errors), [ErrorKind::Unsupported]);
    let opts = ReadOptions {
        max_spool_bytes: 1024,
        ..ReadOptions::default()
    };
    let out = bytes_with("case.zip.gz", &gz, &opts);
    assert_eq!(kinds(&out.errors), [ErrorKind::TooLarge]);
    assert!(out.errors[0].reason.contains("max_spool_bytes"));
    assert!(out.records.is_empty());
}
