//! A real 50 MB single-line JSON record, read from a file. Quick: the file is written in
//! 1 MiB pieces and read once per case (about a second in a debug build).
//!
//! With a limit below the line's size the line is reported `TooLarge` and skipped without
//! being buffered: the test checks the process's peak resident memory (Linux
//! `/proc/self/status` `VmHWM`, reset through `/proc/self/clear_refs`) grows by much less
//! than 50 MB. Kept alone in this file so no other test shares the process.

use std::io::Write;
use trustpath_read::{ErrorKind, Input, ReadOptions, read_input};

const LINE_MB: usize = 50;

fn write_file(path: &std::path::Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    f.write_all(
        b"{\"CreationTime\":\"2024-01-01T00:00:00\",\"Operation\":\"a\",\"RecordType\":1}\n",
    )
    .expect("write");
    f.write_all(b"{\"CreationTime\":\"2024-01-01T00:00:01\",\"Operation\":\"big\",\"RecordType\":1,\"blob\":\"")
        .expect("write");
    let piece = vec![b'x'; 1024 * 1024];
    for _ in 0..LINE_MB {
        f.write_all(&piece).expect("write");
    }
    f.write_all(
        b"\"}\n{\"CreationTime\":\"2024-01-01T00:00:02\",\"Operation\":\"c\",\"RecordType\":1}\n",
    )
    .expect("write");
    f.flush().expect("flush");
}

/// Peak resident set size in KiB, after resetting it; `None` where that is not possible.
fn reset_peak_rss() -> Option<()> {
    std::fs::write("/proc/self/clear_refs", "5").ok()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn fifty_megabyte_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.jsonl");
    write_file(&path);
    let input = Input::File(path.clone());

    // 1. Limit 8 MiB: reported and skipped, neighbours read, memory stays bounded.
    let opts = ReadOptions {
        max_record_bytes: 8 * 1024 * 1024,
        ..ReadOptions::default()
    };
    let measured = reset_peak_rss().and_then(|()| peak_rss_kib());
    let mut ops = Vec::new();
    let mut errors = Vec::new();
    read_input(&input, &opts, &mut |r| match r {
        Ok(rec) => ops.push(
            rec.to_value()["Operation"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ),
        Err(e) => errors.push(e),
    });
    assert_eq!(ops, ["a", "c"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, ErrorKind::TooLarge);
    assert_eq!(errors[0].origin.line, Some(2));
    assert_eq!(errors[0].origin.offset, Some(70));
    assert!(errors[0].reason.contains("52428"), "{}", errors[0].reason);
    match (measured, peak_rss_kib()) {
        (Some(before), Some(after)) => {
            let grown_mib = after.saturating_sub(before) / 1024;
            eprintln!("peak RSS grew by {grown_mib} MiB while skipping a {LINE_MB} MB line");
            assert!(
                grown_mib < 24,
                "peak RSS grew by {grown_mib} MiB: the line was buffered"
            );
        }
        _ => eprintln!("peak RSS not measurable here; memory bound not checked"),
    }

    // 2. Default limit (64 MiB): the 50 MB record is read whole.
    let mut sizes = Vec::new();
    read_input(&input, &ReadOptions::default(), &mut |r| {
        let rec = r.expect("no errors under the default limit");
        sizes.push(
            rec.to_value()
                .get("blob")
                .and_then(|b| b.as_str())
                .map_or(0, str::len),
        );
    });
    assert_eq!(sizes, [0, LINE_MB * 1024 * 1024, 0]);
}
