//! One module per subcommand, plus what they share: input expansion and context loading.

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
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use trustpath_context::Context;
use trustpath_event::RecordError;
use trustpath_pipeline::ScanConfig;
use trustpath_read::Input;

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
    }
}

/// The context file to use: `--context`, else a `trustpath.toml` directly inside a folder
/// given as input (announced on stderr), else the defaults.
pub fn load_context(
    explicit: Option<&Path>,
    inputs: &[PathBuf],
) -> anyhow::Result<(Context, Option<PathBuf>)> {
    let found = explicit.map(Path::to_path_buf).or_else(|| {
        inputs
            .iter()
            .filter(|p| p.is_dir())
            .map(|p| p.join("trustpath.toml"))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => {
            let context = Context::load(&path)
                .with_context(|| format!("cannot use context file {}", path.display()))?;
            Ok((context, Some(path)))
        }
        None => Ok((Context::default(), None)),
    }
}

/// Expand input paths, leaving out files that are not logs: documentation (`.md`), TOML
/// (the context file) and the change-ticket CSV the context names. Paths that cannot be
/// used come back as errors to report; ignored files are returned for the summary.
fn expand(
    args: &InputArgs,
    context: Option<&Context>,
) -> (Vec<Input>, Vec<RecordError>, Vec<PathBuf>) {
    let (inputs, errors) = trustpath_read::expand_inputs(&args.paths);
    let tickets = context
        .and_then(|c| c.change_tickets_csv.as_ref())
        .and_then(|p| p.canonicalize().ok());
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for input in inputs {
        match &input {
            Input::File(path) if !is_log_candidate(path, tickets.as_deref()) => {
                ignored.push(path.clone())
            }
            _ => kept.push(input),
        }
    }
    (kept, errors, ignored)
}

fn is_log_candidate(path: &Path, tickets: Option<&Path>) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "md" | "toml") {
        return false;
    }
    match (tickets, path.canonicalize()) {
        (Some(t), Ok(p)) => p != t,
        _ => true,
    }
}

/// Scan the inputs keeping only per-input state (e.g. a collector); returns every
/// input's state and the count of skipped records plus unusable inputs. A note
/// on stderr says where to see the skipped records.
fn collect<S, F>(args: &InputArgs, context: &Context, observe: F) -> (Vec<S>, u64)
where
    S: Default + Send,
    F: Fn(&mut S, &trustpath_event::Event) + Sync,
{
    let (inputs, missing, _ignored) = expand(args, Some(context));
    let config = scan_config(args, Some(context), false);
    let result = trustpath_pipeline::scan(&inputs, &config, |state: &mut S, event| {
        observe(state, &event);
        None::<()>
    });
    let skipped: u64 = result.inputs.iter().map(|r| r.summary.error_count()).sum();
    if !missing.is_empty() || skipped > 0 {
        eprintln!(
            "{} inputs unusable, {skipped} records skipped (run `trustpath hunt` for the list)",
            missing.len()
        );
    }
    let (_, states) = result.into_parts();
    (states, skipped + missing.len() as u64)
}

/// The scan configuration for input arguments; the context's `[host_timezones]` place
/// zone-less local times (NXLog `EventTime`).
fn scan_config(args: &InputArgs, context: Option<&Context>, progress: bool) -> ScanConfig {
    let mut config = ScanConfig {
        progress,
        max_kept_errors: args.show_errors.max(1),
        memory: Some(trustpath_pipeline::MemoryBudget::new(
            args.memory_budget
                .unwrap_or_else(trustpath_pipeline::memory::default_budget),
        )),
        ..ScanConfig::default()
    };
    config.normalize.time_field = args.time_field.clone();
    if let Some(context) = context.filter(|c| !c.host_timezones.is_empty()) {
        let context = context.clone();
        config.normalize.host_time_zones =
            trustpath_normalize::HostTimeZones::new(move |host: &str| {
                context
                    .host_time_zone(host)
                    .map(|z| (z.timezone_name.clone(), z.timezone.clone()))
            });
    }
    config
}
