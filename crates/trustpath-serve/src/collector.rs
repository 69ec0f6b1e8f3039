//! The collector mode (`[collect]`): every `interval`, `trustpath collect` for each tenant,
//! publishing to `trustpath.events.<tenant>.<source>` on the service's own NATS server.
//! The partitions consume those messages like any other publisher's, so what the service
//! finds is what `hunt` finds over the same records.
//!
//! One tenant's failure (token refused, API down) is logged with the tenant and retried at
//! the next interval; it never stops the service or the other tenants. State per tenant
//! lives in `<store>.collect/<tenant>/` (the content ids and record times fetched), so a
//! restart neither loses nor refetches. Secrets are never logged.

use crate::config::CollectMode;
use std::path::PathBuf;
use trustpath_collect::collect::Destination;
use trustpath_collect::{CollectOptions, Collector};

/// Where the collector keeps its per-tenant state for a store file.
pub fn state_dir(store: &std::path::Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".collect");
    store.with_file_name(name)
}

/// Collect every tenant now, then every `interval`, until `stop` turns true.
pub async fn run(
    mode: CollectMode,
    nats_url: String,
    state_dir: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        for tenant in &mode.tenants {
            if *stop.borrow() {
                return;
            }
            // Shutdown does not wait for a collection in flight: it stops like a killed
            // `trustpath collect`, which loses and duplicates nothing on the next run.
            tokio::select! {
                _ = collect_once(&mode, tenant, &nats_url, &state_dir) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(mode.interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn collect_once(
    mode: &CollectMode,
    tenant: &str,
    nats_url: &str,
    state_dir: &std::path::Path,
) {
    let opts = CollectOptions {
        tenant: tenant.to_owned(),
        destination: Destination::Nats {
            url: nats_url.to_owned(),
            state_dir: state_dir.to_path_buf(),
        },
        now: None,
    };
    let mut collector = match Collector::new(mode.config.clone(), opts) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(tenant, config = %mode.config_path.display(), "collect: cannot start: {e}");
            return;
        }
    };
    match collector.run().await {
        Ok(s) => tracing::info!(
            tenant,
            blobs = s.blobs,
            blobs_already_fetched = s.blobs_skipped,
            audit_records = s.ual_records,
            graph_records = s.graph_records.values().sum::<u64>(),
            throttled = s.throttled,
            "collect: published"
        ),
        Err(e) => tracing::warn!(tenant, "collect: failed, retried next interval: {e}"),
    }
}
