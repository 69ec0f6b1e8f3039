//! Facts `trustpath collect` read from the APIs (`<case>/<tenant>/collection.json`):
//! Management Activity subscription status per content type, whether content arrived,
//! Graph audit log availability (licence errors), and what the APIs cannot tell.
//! `coverage` reports them as facts next to what the records themselves show.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One tenant's `collection.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectionFacts {
    /// The file it came from.
    #[serde(skip_deserializing)]
    pub file: PathBuf,
    /// Tenant.
    pub tenant: String,
    /// When collected.
    pub collected_at: String,
    /// Content type → subscription status.
    pub subscriptions: BTreeMap<String, String>,
    /// Content type → whether content blobs were listed.
    pub content_arrives: BTreeMap<String, bool>,
    /// Graph source → `available` or the API's refusal.
    pub graph: BTreeMap<String, String>,
    /// What the APIs do not expose.
    pub not_observable: Vec<String>,
}

/// Every `collection.json` under the given paths (folders walked).
pub fn read_collection_facts(paths: &[PathBuf]) -> Vec<CollectionFacts> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, 0);
    }
    out
}

fn walk(path: &Path, out: &mut Vec<CollectionFacts>, depth: usize) {
    if depth > 8 {
        return;
    }
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out, depth + 1);
        }
    } else if path.file_name().is_some_and(|n| n == "collection.json")
        && let Ok(bytes) = std::fs::read(path)
        && let Ok(mut facts) = serde_json::from_slice::<CollectionFacts>(&bytes)
    {
        facts.file = path.to_path_buf();
        out.push(facts);
    }
}

/// The facts as a text section.
pub fn write_facts(facts: &[CollectionFacts], out: &mut dyn Write) -> io::Result<()> {
    for f in facts {
        writeln!(out)?;
        writeln!(
            out,
            "Collection facts for tenant {} (read from the APIs at {}, {}):",
            f.tenant,
            f.collected_at,
            f.file.display()
        )?;
        for (ct, status) in &f.subscriptions {
            let arrives = match f.content_arrives.get(ct) {
                Some(true) => "content arrives",
                Some(false) => "NO content in the window",
                None => "content not listed",
            };
            writeln!(
                out,
                "  Management Activity {ct}: subscription {status}, {arrives}"
            )?;
        }
        for (source, state) in &f.graph {
            writeln!(out, "  Graph {source}: {state}")?;
        }
        for n in &f.not_observable {
            writeln!(out, "  not observable: {n}")?;
        }
    }
    Ok(())
}
