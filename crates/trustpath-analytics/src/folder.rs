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
