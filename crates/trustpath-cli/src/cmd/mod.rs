//! One module per subcommand, plus what they share: input expansion and context loading.

mod collect;
mod coverage;
mod explain;
mod hunt;
mod inventory;
mod list;
mod normalize;
mod respond;
mod serve;
mod simulate;
mod validate;

use crate::args::{Command, InputArgs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use trustpath_context::Context;
use trustpath_event::RecordError;
use trustpath_pipeline::ScanConfig;

/// Run a parsed command.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Hunt(args) => hunt::run(args),
        Command::Normalize(args) => normalize::run(args),
        Command::Validate(args) => validate::run(args),
        Command::List(args) => list::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Coverage(args) => coverage::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Respond(args) => respond::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Collect(args) => collect::run(args),
    }
}

/// The context file to use: `--context`, else a `trustpath.toml` directly inside a folder
/// given as input, else the defaults.
pub fn load_context(
    explicit: Option<&Path>,
    inputs: &[PathBuf],
) -> anyhow::Result<(Context, Option<PathBuf>)> {
    trustpath_hunt::load_context(explicit, inputs)
}

/// Expand input paths, leaving out files that are not logs (see [`trustpath_hunt::expand`]);
/// a path that does not exist, or paths holding nothing to read, are errors naming them.
fn expand(
    args: &InputArgs,
    context: Option<&Context>,
) -> anyhow::Result<(Vec<trustpath_read::Input>, Vec<RecordError>, Vec<PathBuf>)> {
    trustpath_hunt::check_paths("input", &args.paths)?;
    let (inputs, missing, ignored) = trustpath_hunt::expand(&args.paths, context);
    if inputs.is_empty() && missing.is_empty() {
        return Err(trustpath_hunt::nothing_to_read(&args.paths, &ignored));
    }
    Ok((inputs, missing, ignored))
}

/// Scan the inputs keeping only per-input state (e.g. a collector); returns every
/// input's state and the count of skipped records plus unusable inputs. A note
/// on stderr says where to see the skipped records.
fn collect<S, F>(args: &InputArgs, context: &Context, observe: F) -> anyhow::Result<(Vec<S>, u64)>
where
    S: Default + Send,
    F: Fn(&mut S, &trustpath_event::Event) + Sync,
{
    let (inputs, missing, _ignored) = expand(args, Some(context))?;
    let config = scan_config(args, &[context], false);
    let result = trustpath_pipeline::observe(&inputs, &config, observe);
    let skipped: u64 = result.inputs.iter().map(|r| r.summary.error_count()).sum();
    if !missing.is_empty() || skipped > 0 {
        eprintln!(
            "{} inputs unusable, {skipped} records skipped (run `trustpath hunt` for the list)",
            missing.len()
        );
    }
    let (_, states) = result.into_parts();
    Ok((states, skipped + missing.len() as u64))
}

/// The scan configuration for input arguments (see [`trustpath_hunt::scan_config`]).
fn scan_config(args: &InputArgs, contexts: &[&Context], progress: bool) -> ScanConfig {
    trustpath_hunt::scan_config(&hunt::input_options(args), contexts, progress)
}
