//! `trustpath serve --config FILE`: the streaming service on NATS JetStream.

use crate::args::ServeArgs;
use std::process::ExitCode;

/// Run the service until SIGINT / SIGTERM; then flush, commit and stop.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = trustpath_serve::ServeConfig::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(trustpath_serve::serve(config, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
