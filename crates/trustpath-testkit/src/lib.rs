//! Helpers for trustpath's tests (dev-dependency only).
//!
//! Tests that use the external suites in `../shared` (real samples, SigmaHQ rules and
//! regression data) call [`shared_dir`]; when it returns `None` the test prints a
//! `SKIPPED` line naming itself and returns. `scripts/test` prints one summary line too.

use std::path::{Path, PathBuf};

/// The `shared/` folder beside the project (or `$TRUSTPATH_SHARED`), if present.
///
/// `who` names the test, for the skip notice printed when the folder is missing.
pub fn shared_dir(who: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os("TRUSTPATH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    if candidate.is_dir() {
        Some(candidate)
    } else {
        eprintln!(
            "SKIPPED {who}: {} not found (set TRUSTPATH_SHARED to run it)",
            candidate.display()
        );
        None
    }
}

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}
