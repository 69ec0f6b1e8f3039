//! `trustpath collect`: thin glue over `trustpath_collect`.

use crate::args::CollectArgs;
use std::process::ExitCode;
use trustpath_collect::collect::Destination;
use trustpath_collect::{CollectConfig, CollectOptions, Collector};

/// Collect once and report what was fetched.
pub fn run(args: CollectArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => CollectConfig::load(path)?,
        None => CollectConfig::default(),
    };
    let destination = match args.nats {
        Some(url) => Destination::Nats {
            url,
            state_dir: args.out.clone(),
        },
        None => Destination::Folder(args.out.clone()),
    };
    let opts = CollectOptions {
        tenant: args.tenant.clone(),
        destination,
        now: None,
    };
    let mut collector = Collector::new(config, opts)?;
    let bar = trustpath_collect::spinner();
    let shown = bar.clone();
    collector.progress = Box::new(move |line| shown.set_message(line.to_owned()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(collector.run());
    bar.finish_and_clear();
    let summary = summary?;
    eprintln!(
        "collected {}: {} blobs ({} already fetched), {} audit records, graph {:?} ({} already collected), {} throttled retries",
        args.tenant,
        summary.blobs,
        summary.blobs_skipped,
        summary.ual_records,
        summary.graph_records,
        summary.graph_skipped,
        summary.throttled
    );
    Ok(ExitCode::SUCCESS)
}
