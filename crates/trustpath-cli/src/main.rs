//! `trustpath`: detection and assurance for abuse of delegated access to Microsoft 365
//! mailboxes. This binary is thin glue: argument parsing, wiring of the library crates,
//! and terminal output. Every subcommand lives in its own module under `cmd/`.

mod args;
mod cmd;
mod exit;
mod summary;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    if let Some(threads) = cli.threads {
        // Only fails if a pool already exists, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global();
    }
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trustpath: error: {error:#}");
            ExitCode::from(exit::FATAL)
        }
    }
}
