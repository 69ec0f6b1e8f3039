//! The embedded store (redb): one record per partition holding its whole state and the
//! stream sequence it reflects, written in one durable transaction per processed batch.

use redb::{Database, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};

/// partition number → JSON snapshot of its [`crate::state::PartitionState`].
const PARTITIONS: TableDefinition<u32, &[u8]> = TableDefinition::new("partitions");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("state store {path}: {message}")]
pub struct StoreError {
    /// The store file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The state store.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Open or create the store file (its folder is created when missing).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create folder: {e}")))?;
        }
        let db = Database::create(path).map_err(|e| fail(e.to_string()))?;
        Ok(Store {
            db,
            path: path.to_path_buf(),
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// The stored snapshot of `partition`, if any.
    pub fn load(&self, partition: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = match txn.open_table(PARTITIONS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let value = table.get(partition).map_err(|e| self.error(e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Durably replace the snapshot of `partition`.
    pub fn save(&self, partition: u32, snapshot: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        {
            let mut table = txn.open_table(PARTITIONS).map_err(|e| self.error(e))?;
            table
                .insert(partition, snapshot)
                .map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn saved_snapshot_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.redb");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.load(3).unwrap(), None);
            store.save(3, b"{\"a\":1}").unwrap();
            store.save(3, b"{\"a\":2}").unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load(3).unwrap().as_deref(), Some(&b"{\"a\":2}"[..]));
        assert_eq!(store.load(0).unwrap(), None);
    }
}
