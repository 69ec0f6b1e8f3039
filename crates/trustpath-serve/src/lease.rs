//! Partition ownership: one live worker per partition, through a lease in the JetStream
//! KV bucket [`crate::worker::LEASES_BUCKET`].
//!
//! A worker takes partition P by creating the key `partition-P` (create fails when the
//! key exists), keeps it by updating it with the revision it holds every third of the
//! lease's time to live, and gives it back by deleting it at shutdown. The bucket's
//! `max_age` is the time to live: a worker that dies stops refreshing and its lease
//! expires. A worker that finds the key held by another waits, saying so, instead of
//! deleting the other's consumer (two workers on one partition used to delete each
//! other's durable consumer in turn). A worker whose refresh fails (the lease expired
//! and another took it) stops serving the partition and waits again.

use crate::worker::Shared;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// A held lease and its refresh task.
pub struct Lease {
    key: String,
    lost: Arc<AtomicBool>,
    refresh: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Whether the lease was lost (another worker holds the partition now).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Completes once the lease is lost (checked every 250 ms).
    pub async fn lost_wait(&self) {
        while !self.lost() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stop refreshing; on a clean stop give the partition back at once.
    pub async fn release(self, shared: &Shared, clean: bool) {
        self.refresh.abort();
        if clean && !self.lost() {
            let _ = shared.leases.delete(&self.key).await;
        }
    }
}

fn key(partition: u32) -> String {
    format!("partition-{partition}")
}

/// Take partition `partition`'s lease, waiting while a live peer holds it. `None` when
/// shutdown came first.
pub async fn acquire(
    shared: &Arc<Shared>,
    partition: u32,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<Option<Lease>> {
    let key = key(partition);
    let mut announced = false;
    loop {
        if *shutdown.borrow() {
            return Ok(None);
        }
        let me = bytes::Bytes::from(shared.worker_id.clone());
        let revision = match shared.leases.create(&key, me.clone()).await {
            Ok(revision) => Some(revision),
            Err(_) => match shared.leases.entry(&key).await {
                // Our own lease from before a restart of this loop: keep it.
                Ok(Some(entry))
                    if entry.value == me
                        && entry.operation == async_nats::jetstream::kv::Operation::Put =>
                {
                    Some(entry.revision)
                }
                Ok(Some(entry)) if entry.operation == async_nats::jetstream::kv::Operation::Put => {
                    if !announced {
                        tracing::warn!(
                            "partition {partition} is held by live worker {} (lease {key} in {}); waiting until it stops or its lease expires ({} s)",
                            String::from_utf8_lossy(&entry.value),
                            crate::worker::LEASES_BUCKET,
                            shared.lease_ttl.as_secs()
                        );
                        announced = true;
                    }
                    None
                }
                // Deleted or expired between our calls: try again at once.
                Ok(_) => continue,
                Err(e) => return Err(anyhow::anyhow!("lease {key}: {e}")),
            },
        };
        if let Some(revision) = revision {
            if announced {
                tracing::info!("partition {partition}: lease taken over, serving it now");
            }
            let lost = Arc::new(AtomicBool::new(false));
            let refresh = tokio::spawn(refresh(
                Arc::clone(shared),
                key.clone(),
                revision,
                Arc::clone(&lost),
            ));
            return Ok(Some(Lease { key, lost, refresh }));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500).max(shared.lease_ttl / 10)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn refresh(shared: Arc<Shared>, key: String, mut revision: u64, lost: Arc<AtomicBool>) {
    let period = (shared.lease_ttl / 3).max(Duration::from_millis(200));
    let me = bytes::Bytes::from(shared.worker_id.clone());
    loop {
        tokio::time::sleep(period).await;
        match shared.leases.update(&key, me.clone(), revision).await {
            Ok(next) => revision = next,
            Err(e) => {
                tracing::warn!("lease {key}: refresh failed ({e}); stopping this partition");
                lost.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
}
