//! Which folders under `analytics/` are analytics. Shared by `build.rs` (which embeds
//! the built-in ones), `trustpath-context`'s `build.rs` (which embeds their tunables)
//! and [`crate::Registry::from_dir`] (which loads a folder at run time), so the three
//! can never disagree.

use std::path::{Path, PathBuf};

/// The file that makes a folder an analytic.
pub const METADATA_FILE: &str = "analytic.toml";
/// The Sigma documents.
pub const RULES_FILE: &str = "rules.yml";
/// The documentation page.
pub const DOC_FILE: &str = "README.md";
/// The Rust code turning matches into findings (optional: without it the analytic's
/// findings come from its Sigma rules and correlations).
pub const CODE_FILE: &str = "analytic.rs";

/// The analytic folders under `root` (those holding `analytic.toml`), as (folder name,
/// path), sorted by name. A missing or unreadable `root` has none.
pub fn analytic_dirs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join(METADATA_FILE).is_file())
                .filter_map(|p| {
                    let name = p.file_name()?.to_string_lossy().into_owned();
                    Some((name, p))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// For the build scripts that embed the built-in analytics: the analytic folders of
/// `analytics/` of trustpath-analytics, reached by `from_package` from the folder of
/// the package whose build script runs. Asks Cargo to rerun the script when that folder
/// changes, and stops the build when it holds no analytic.
///
/// The package's folder is the one Cargo gives this run of the script, not the one it
/// had when the script was compiled: a compiled build script can be reused for another
/// checkout of the workspace built into the same target folder (seen: a release build
/// after one of a git worktree embedded the worktree's analytics, and none at all once
/// the worktree was removed, with no error).
#[allow(dead_code)] // used by the build scripts only
pub fn builtin_dirs(from_package: &str) -> Vec<(String, PathBuf)> {
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let root = Path::new(&manifest).join(from_package);
    println!("cargo::rerun-if-changed={}", root.display());
    let dirs = analytic_dirs(&root);
    if dirs.is_empty() {
        panic!("no analytic folders under {}", root.display());
    }
    dirs
}
