//! `trustpath`: detection and assurance for abuse of delegated access to Microsoft 365
//! mailboxes. This binary is thin glue: argument parsing, wiring of the library crates,
//! and terminal output. Every subcommand lives in its own module under `cmd/`.

mod args;
mod cmd;
mod exit;
mod summary;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: the hunt allocates and frees an event's fields on one thread and another;
/// glibc's allocator spent about a sixth of a SigmaHQ hunt in malloc/free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(matches!(cli.command, args::Command::Serve(_)));
    if let Some(threads) = cli.threads {
        // Only fails if a pool already exists, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global();
    }
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "trustpath: error: {}",
                trustpath_report::terminal_text(&format!("{error:#}"))
            );
            ExitCode::from(exit::FATAL)
        }
    }
}

/// Diagnostics on stderr: `RUST_LOG` when set, else `info` for the long-running service
/// and `warn` for everything else (results and summaries are printed, not logged).
fn init_logging(service: bool) {
    let default = if service {
        "info,async_nats=warn"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: redirected service logs stay plain text.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .try_init();
}
