//! The checked-in `examples/` folder is exactly what the generator writes.
//!
//! Text files are compared byte for byte; `.gz` files by their decompressed bytes (the
//! compressed bytes depend on the flate2 backend, the data does not), and the gzip
//! header must carry no name and no timestamp.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;
use trustpath_simulate::{ExampleConfig, generate_example};

fn content(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        assert_eq!(
            &bytes[..4],
            &[0x1f, 0x8b, 8, 0],
            "{}: gzip header has no FNAME",
            path.display()
        );
        assert_eq!(
            &bytes[4..8],
            &[0, 0, 0, 0],
            "{}: gzip mtime is 0",
            path.display()
        );
        let mut out = Vec::new();
        GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        bytes
    }
}

#[test]
fn examples_match_the_generator() {
    let checked_in = trustpath_testkit::workspace_root().join("examples");
    if !checked_in.join("ground-truth.toml").exists() {
        eprintln!(
            "SKIPPED examples_match_the_generator: {} not generated",
            checked_in.display()
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let truth = generate_example(dir.path(), &ExampleConfig::default()).expect("generate");
    let total: usize = truth.files.iter().map(|f| f.records).sum();
    assert!(total >= 50_000, "only {total} records");
    let mut written = vec![
        "trustpath.toml".to_string(),
        "tickets.csv".into(),
        "ground-truth.toml".into(),
    ];
    written.extend(truth.files.iter().map(|f| f.path.clone()));
    let mut size = 0;
    for rel in &written {
        let fresh = content(&dir.path().join(rel));
        let old = content(&checked_in.join(rel));
        assert!(
            fresh == old,
            "examples/{rel} differs from the generator output: run `cargo run -p trustpath-simulate --example generate-examples -- examples/`"
        );
        size += std::fs::metadata(checked_in.join(rel))
            .map(|m| m.len())
            .unwrap_or(0);
    }
    assert!(size < 8 * 1024 * 1024, "examples/ data is {size} bytes");
}

#[test]
fn generated_context_file_loads_with_its_tickets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let truth = generate_example(dir.path(), &ExampleConfig::default()).expect("generate");
    let context = trustpath_context::Context::load(&dir.path().join("trustpath.toml"))
        .expect("valid context");
    assert_eq!(context.partners.len(), 2);
    let loaded = trustpath_simulate::GroundTruth::load(&dir.path().join("ground-truth.toml"))
        .expect("ground truth");
    assert_eq!(loaded.plants.len(), truth.plants.len());
    assert_eq!(loaded.grants.len(), truth.grants.len());
    for plant in truth.plants.iter().filter(|p| p.expected_ticket.is_some()) {
        let id = plant.expected_ticket.as_deref();
        assert!(
            context.tickets.iter().any(|t| Some(t.id.as_str()) == id),
            "ticket {id:?} missing"
        );
    }
}
