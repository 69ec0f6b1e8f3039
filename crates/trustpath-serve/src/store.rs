//! The embedded store (redb): a partition's state as rows keyed by partition and tenant,
//! written incrementally. Per processed batch one durable transaction writes the stream
//! position together with only the rows the batch changed — new and evicted retained
//! events, changed first-seen times and published findings, the meta row of a changed
//! tenant, census witnesses, the pending 4104 parts of a subject whose parts changed —
//! so a commit costs what the batch changed, not what the partition retains.
//!
//! | table | key | value |
//! |---|---|---|
//! | `positions` | partition | (last stream sequence, value bytes stored) |
//! | `tenants` | (partition, tenant) | [`TenantMeta`] (JSON) |
//! | `events` | (partition, tenant, record digest) | retained matched event (JSON) |
//! | `first_seen` | (partition, tenant, actor) | first-seen time (JSON) |
//! | `published` | (partition, tenant, finding id) | [`PublishedFinding`] (JSON) |
//! | `census` | (partition, tenant, n) | n-th census witness event (JSON) |
//! | `pending` | (partition, tenant, source) | pending 4104 parts of the subject (JSON list) |
//!
//! A store written by an earlier version (one JSON document per partition in the
//! `partitions` table) is read once and rewritten in this layout by the first commit.

use crate::state::{PartitionState, PublishedFinding, StoredPartition, TenantChanges, TenantMeta};
use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};
use std::path::{Path, PathBuf};
use trustpath_event::Event;

/// The earlier layout: partition number → JSON snapshot of the whole partition.
const LEGACY: TableDefinition<u32, &[u8]> = TableDefinition::new("partitions");
const POSITIONS: TableDefinition<u32, (u64, u64)> = TableDefinition::new("positions");
const TENANTS: TableDefinition<(u32, &str), &[u8]> = TableDefinition::new("tenants");
const EVENTS: TableDefinition<(u32, &str, u128), &[u8]> = TableDefinition::new("events");
const FIRST_SEEN: TableDefinition<(u32, &str, &str), &[u8]> = TableDefinition::new("first_seen");
const PUBLISHED: TableDefinition<(u32, &str, &str), &[u8]> = TableDefinition::new("published");
const CENSUS: TableDefinition<(u32, &str, u64), &[u8]> = TableDefinition::new("census");
const PENDING: TableDefinition<(u32, &str, &str), &[u8]> = TableDefinition::new("pending");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("state store {path}: {message}")]
pub struct StoreError {
    /// The store file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// What one commit wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Rows inserted or replaced.
    pub rows_written: u64,
    /// Rows deleted.
    pub rows_deleted: u64,
    /// Value bytes written.
    pub bytes_written: u64,
    /// Value bytes the partition holds after the commit.
    pub stored_bytes: u64,
}

/// What a partition's stored state holds, read back from the store.
pub enum Loaded {
    /// Nothing stored yet.
    Empty,
    /// The per-row layout.
    Rows(StoredPartition),
    /// A document of the earlier one-document layout.
    Legacy(Vec<u8>),
}

/// The state store.
pub struct Store {
    db: Database,
    path: PathBuf,
}

/// Value bytes added and removed by one transaction.
#[derive(Default)]
struct Tally {
    stats: CommitStats,
    removed_bytes: u64,
}

impl Tally {
    fn wrote(&mut self, new: usize, old: Option<usize>) {
        self.stats.rows_written += 1;
        self.stats.bytes_written += new as u64;
        self.removed_bytes += old.unwrap_or(0) as u64;
    }

    fn deleted(&mut self, old: Option<usize>) {
        if let Some(old) = old {
            self.stats.rows_deleted += 1;
            self.removed_bytes += old as u64;
        }
    }
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

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| self.error(format!("unreadable {what} row: {e}")))
    }

    /// The stored state of `partition`.
    pub fn load(&self, partition: u32) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let position = match txn.open_table(POSITIONS) {
            Ok(table) => table
                .get(partition)
                .map_err(|e| self.error(e))?
                .map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.error(e)),
        };
        let Some((last_seq, stored_bytes)) = position else {
            return match txn.open_table(LEGACY) {
                Ok(table) => Ok(table
                    .get(partition)
                    .map_err(|e| self.error(e))?
                    .map_or(Loaded::Empty, |v| Loaded::Legacy(v.value().to_vec()))),
                Err(redb::TableError::TableDoesNotExist(_)) => Ok(Loaded::Empty),
                Err(e) => Err(self.error(e)),
            };
        };
        let mut stored = StoredPartition {
            last_seq,
            stored_bytes,
            ..StoredPartition::default()
        };
        macro_rules! rows {
            ($table:expr, $start:expr, |$key:ident, $value:ident| $body:block) => {
                match txn.open_table($table) {
                    Ok(table) => {
                        for row in table.range($start..).map_err(|e| self.error(e))? {
                            let (k, v) = row.map_err(|e| self.error(e))?;
                            let $key = k.value();
                            if $key.0 != partition {
                                break;
                            }
                            let $value = v.value();
                            $body
                        }
                    }
                    Err(redb::TableError::TableDoesNotExist(_)) => {}
                    Err(e) => return Err(self.error(e)),
                }
            };
        }
        rows!(TENANTS, (partition, ""), |key, value| {
            let meta: TenantMeta = self.decode("tenant", value)?;
            stored.tenants.entry(key.1.to_owned()).or_default().meta = meta;
        });
        rows!(EVENTS, (partition, "", 0u128), |key, value| {
            let event: Event = self.decode("event", value)?;
            stored
                .tenants
                .entry(key.1.to_owned())
                .or_default()
                .events
                .push(event);
        });
        rows!(FIRST_SEEN, (partition, "", ""), |key, value| {
            let time: jiff::Timestamp = self.decode("first_seen", value)?;
            stored
                .tenants
                .entry(key.1.to_owned())
                .or_default()
                .first_seen
                .insert(key.2.to_owned(), time);
        });
        rows!(PUBLISHED, (partition, "", ""), |key, value| {
            let published: PublishedFinding = self.decode("published", value)?;
            stored
                .tenants
                .entry(key.1.to_owned())
                .or_default()
                .published
                .insert(key.2.to_owned(), published);
        });
        rows!(CENSUS, (partition, "", 0u64), |key, value| {
            let event: Event = self.decode("census", value)?;
            stored
                .tenants
                .entry(key.1.to_owned())
                .or_default()
                .witnesses
                .push(event);
        });
        rows!(PENDING, (partition, "", ""), |key, value| {
            let parts: Vec<Event> = self.decode("pending", value)?;
            stored
                .pending
                .insert((key.1.to_owned(), key.2.to_owned()), parts);
        });
        Ok(Loaded::Rows(stored))
    }

    /// Durably write what changed in `state` since the last commit, with its stream
    /// position, in one transaction; the change lists are emptied. On an error the
    /// in-memory state is no longer what the store holds: reload it.
    pub fn commit(
        &self,
        partition: u32,
        state: &mut PartitionState,
    ) -> Result<CommitStats, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let mut tally = Tally::default();
        self.write_changes(&txn, partition, state, &mut tally)
            .map_err(|e| self.error(e))?;
        let stored =
            (state.stored_bytes + tally.stats.bytes_written).saturating_sub(tally.removed_bytes);
        {
            let mut positions = txn.open_table(POSITIONS).map_err(|e| self.error(e))?;
            positions
                .insert(partition, (state.last_seq, stored))
                .map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))?;
        state.stored_bytes = stored;
        state.legacy = false;
        tally.stats.stored_bytes = stored;
        Ok(tally.stats)
    }

    fn write_changes(
        &self,
        txn: &WriteTransaction,
        partition: u32,
        state: &mut PartitionState,
        tally: &mut Tally,
    ) -> Result<(), Box<dyn std::error::Error>> {
        if state.legacy {
            let mut legacy = txn.open_table(LEGACY)?;
            let old = legacy.remove(partition)?.map(|v| v.value().len());
            tally.deleted(old);
        }
        let mut tenants = txn.open_table(TENANTS)?;
        let mut events = txn.open_table(EVENTS)?;
        let mut first_seen = txn.open_table(FIRST_SEEN)?;
        let mut published = txn.open_table(PUBLISHED)?;
        let mut census = txn.open_table(CENSUS)?;
        let mut pending = txn.open_table(PENDING)?;
        for (id, tenant) in state.tenants.iter_mut() {
            if tenant.changes.is_empty() {
                continue;
            }
            let changes = std::mem::take(&mut tenant.changes);
            let TenantChanges {
                meta,
                added,
                removed,
                first_seen: actors,
                published: ids,
                witnesses,
            } = changes;
            let id = id.as_str();
            if meta {
                let bytes = serde_json::to_vec(&tenant.meta)?;
                let old = tenants
                    .insert((partition, id), bytes.as_slice())?
                    .map(|v| v.value().len());
                tally.wrote(bytes.len(), old);
            }
            for event in added {
                let digest = trustpath_event::record_digest(&event);
                let bytes = serde_json::to_vec(&*event)?;
                let old = events
                    .insert((partition, id, digest), bytes.as_slice())?
                    .map(|v| v.value().len());
                tally.wrote(bytes.len(), old);
            }
            for digest in removed {
                let old = events
                    .remove((partition, id, digest))?
                    .map(|v| v.value().len());
                tally.deleted(old);
            }
            for actor in actors {
                if let Some(time) = tenant.first_seen.get(&actor) {
                    let bytes = serde_json::to_vec(time)?;
                    let old = first_seen
                        .insert((partition, id, actor.as_str()), bytes.as_slice())?
                        .map(|v| v.value().len());
                    tally.wrote(bytes.len(), old);
                }
            }
            for finding in ids {
                let key = (partition, id, finding.as_str());
                match tenant.published.get(&finding) {
                    Some(p) => {
                        let bytes = serde_json::to_vec(p)?;
                        let old = published
                            .insert(key, bytes.as_slice())?
                            .map(|v| v.value().len());
                        tally.wrote(bytes.len(), old);
                    }
                    None => {
                        let old = published.remove(key)?.map(|v| v.value().len());
                        tally.deleted(old);
                    }
                }
            }
            let first_witness = tenant.meta.witnesses - witnesses.len() as u64;
            for (n, event) in witnesses.iter().enumerate() {
                let bytes = serde_json::to_vec(&**event)?;
                let old = census
                    .insert((partition, id, first_witness + n as u64), bytes.as_slice())?
                    .map(|v| v.value().len());
                tally.wrote(bytes.len(), old);
            }
        }
        for ((tenant, source), subject) in state.normalizers.iter_mut() {
            if !subject.changed {
                continue;
            }
            subject.changed = false;
            let key = (partition, tenant.as_str(), source.as_str());
            let parts = subject.pending_parts();
            if parts.is_empty() {
                let old = pending.remove(key)?.map(|v| v.value().len());
                tally.deleted(old);
            } else {
                let bytes = serde_json::to_vec(&parts)?;
                let old = pending
                    .insert(key, bytes.as_slice())?
                    .map(|v| v.value().len());
                tally.wrote(bytes.len(), old);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::{Inbound, Processor, TenantSetup};
    use jiff::SignedDuration;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use trustpath_analytics::{Detector, DetectorOptions};

    fn processor() -> Processor {
        let (detector, _) = Detector::build(DetectorOptions {
            builtin: true,
            ..Default::default()
        });
        Processor {
            default: TenantSetup::new(Arc::new(detector), SignedDuration::from_hours(12)),
            tenants: BTreeMap::new(),
            max_window: SignedDuration::from_hours(24),
            max_future_skew: SignedDuration::from_hours(24),
            max_publish_bytes: 64 * 1024,
        }
    }

    fn grant(time: &str, id: &str) -> Vec<u8> {
        format!(
            "{{\"CreationTime\":\"{time}\",\"Id\":\"{id}\",\"Operation\":\"Add-MailboxPermission\",\
             \"OrganizationId\":\"t1\",\"RecordType\":1,\"ResultStatus\":\"True\",\
             \"UserId\":\"helpdesk@adatum.com\",\"UserType\":2,\"Workload\":\"Exchange\",\"ObjectId\":\"payroll@adatum.com\",\
             \"Parameters\":[{{\"Name\":\"Identity\",\"Value\":\"payroll@adatum.com\"}},\
             {{\"Name\":\"User\",\"Value\":\"temp.contractor@adatum.com\"}},\
             {{\"Name\":\"AccessRights\",\"Value\":\"FullAccess\"}}]}}\n"
        )
        .into_bytes()
    }

    fn part(number: u32, text: &str) -> Vec<u8> {
        format!(
            "{{\"EventID\":4104,\"Channel\":\"Microsoft-Windows-PowerShell/Operational\",\
             \"Hostname\":\"WS-LAB-03.tailwind.local\",\"EventTime\":\"2025-05-01T23:59:5{number}Z\",\
             \"RecordNumber\":{number},\"EventRecordID\":{number},\"MessageNumber\":{number},\"MessageTotal\":2,\
             \"ScriptBlockId\":\"0d9c8b7a-6f5e-4d3c-8b2a-190817263544\",\"ScriptBlockText\":\"{text}\"}}\n"
        )
        .into_bytes()
    }

    fn ingest(p: &Processor, state: &mut PartitionState, seq: u64, source: &str, payload: &[u8]) {
        let mut out = Vec::new();
        p.ingest(
            state,
            Inbound {
                tenant: "t1",
                source,
                seq,
                payload,
                received: None,
            },
            &mut out,
        );
        state.last_seq = seq;
        p.tick(state, false, &mut out);
    }

    fn reload(store: &Store, p: &Processor) -> PartitionState {
        match store.load(0).unwrap() {
            Loaded::Rows(rows) => PartitionState::restore(rows, p),
            _ => panic!("no rows"),
        }
    }

    #[test]
    fn a_commit_writes_what_changed_and_reload_gives_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sub/state.redb")).unwrap();
        assert!(matches!(store.load(0).unwrap(), Loaded::Empty));
        let p = processor();
        let mut state = PartitionState::default();
        for i in 0..50 {
            let time = format!("2025-04-02T10:{i:02}:00");
            ingest(
                &p,
                &mut state,
                i + 1,
                "ual",
                &grant(&time, &format!("id-{i}")),
            );
        }
        let first = store.commit(0, &mut state).unwrap();
        assert!(first.rows_written >= 50, "{first:?}");
        // One more event: the commit writes that event and the rows it changed only.
        ingest(
            &p,
            &mut state,
            51,
            "ual",
            &grant("2025-04-02T11:00:00", "id-50"),
        );
        let second = store.commit(0, &mut state).unwrap();
        assert!(second.rows_written <= 5, "{second:?}");
        assert!(
            second.bytes_written * 10 < first.bytes_written,
            "{first:?} {second:?}"
        );
        // Nothing new: only the position.
        let idle = store.commit(0, &mut state).unwrap();
        assert_eq!((idle.rows_written, idle.rows_deleted), (0, 0));
        let back = reload(&store, &p);
        assert_eq!(back.last_seq, 51);
        assert_eq!(back.stored_bytes, state.stored_bytes);
        let (a, b) = (&back.tenants["t1"], &state.tenants["t1"]);
        assert_eq!(a.matched.len(), b.matched.len());
        assert_eq!(a.meta, b.meta);
        assert_eq!(a.first_seen, b.first_seen);
        assert_eq!(a.published, b.published);
        assert_eq!(a.census, b.census);
        assert!(a.dirty);
    }

    #[test]
    fn evicted_events_are_deleted_and_pending_parts_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.redb")).unwrap();
        let p = processor();
        let mut state = PartitionState::default();
        ingest(
            &p,
            &mut state,
            1,
            "ual",
            &grant("2025-04-02T10:00:00", "old"),
        );
        ingest(&p, &mut state, 2, "winlogbeat", &part(1, "Add-Mailbox"));
        store.commit(0, &mut state).unwrap();
        // Far later: the old grant leaves the retention horizon.
        ingest(
            &p,
            &mut state,
            3,
            "ual",
            &grant("2025-04-20T10:00:00", "new"),
        );
        let stats = store.commit(0, &mut state).unwrap();
        assert!(stats.rows_deleted >= 1, "{stats:?}");
        let mut back = reload(&store, &p);
        assert_eq!(back.tenants["t1"].matched.len(), 1);
        assert!(
            back.pending_script_block_bytes() > 0,
            "the lone part was stored"
        );
        // The second part, after the "crash": the block is joined.
        let second = part(
            2,
            "Permission -Identity ceo@tailwind.com -User x -AccessRights FullAccess",
        );
        let mut out = Vec::new();
        let report = p.ingest(
            &mut back,
            Inbound {
                tenant: "t1",
                source: "winlogbeat",
                seq: 4,
                payload: &second,
                received: None,
            },
            &mut out,
        );
        assert_eq!(report.script_blocks.script_blocks_reassembled, 1);
        store.commit(0, &mut back).unwrap();
        let again = reload(&store, &p);
        assert_eq!(
            again.pending_script_block_bytes(),
            0,
            "the joined parts are gone"
        );
    }

    #[test]
    fn a_store_of_the_earlier_layout_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let p = processor();
        let legacy = serde_json::json!({"last_seq": 7, "tenants": {}}).to_string();
        {
            let store = Store::open(&path).unwrap();
            let txn = store.db.begin_write().unwrap();
            txn.open_table(LEGACY)
                .unwrap()
                .insert(0, legacy.as_bytes())
                .unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let Loaded::Legacy(bytes) = store.load(0).unwrap() else {
            panic!("legacy row not found");
        };
        let mut state = PartitionState::from_legacy_bytes(&bytes, &p).unwrap();
        assert_eq!(state.last_seq, 7);
        store.commit(0, &mut state).unwrap();
        assert_eq!(reload(&store, &p).last_seq, 7);
    }
}
