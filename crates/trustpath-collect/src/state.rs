//! Per-tenant state (`<out>/<tenant>/.collect-state.json`) and atomic file writes.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// What has been collected for one tenant.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantState {
    /// Per content type: content ids fetched and written (or published and acknowledged).
    pub content: BTreeMap<String, BTreeSet<String>>,
    /// Per content type: end of the last complete listing (RFC 3339).
    pub listed_until: BTreeMap<String, String>,
    /// Per Graph source (`signins`, `directoryaudits`, …): latest record time written.
    pub graph_last_time: BTreeMap<String, String>,
    /// Per Graph source: record ids written at or after `last_time - overlap`.
    pub graph_recent_ids: BTreeMap<String, BTreeMap<String, String>>,
}

impl TenantState {
    /// Load, or empty when absent.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }
    /// Save atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(path, &bytes)
    }
}

/// Write `bytes` to `path` by temp file + fsync + rename + fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
