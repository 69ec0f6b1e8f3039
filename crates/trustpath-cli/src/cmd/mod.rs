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
        Command::Collect(args) => collect::run(args),
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
    expand_with(args, context.into_iter())
}

/// [`expand`] with the ticket files of several contexts left out.
fn expand_with<'a>(
    args: &InputArgs,
    contexts: impl Iterator<Item = &'a Context>,
) -> (Vec<Input>, Vec<RecordError>, Vec<PathBuf>) {
    let (inputs, errors) = trustpath_read::expand_inputs(&args.paths);
    let tickets: Vec<PathBuf> = contexts
        .filter_map(|c| c.change_tickets_csv.as_ref())
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for input in inputs {
        match &input {
            Input::File(path) if !is_log_candidate(path, &tickets) => ignored.push(path.clone()),
            _ => kept.push(input),
        }
    }
    (kept, errors, ignored)
}

/// Every context of a run and which input each one applies to.
pub struct RunContexts {
    /// Contexts with the file they came from (none for the defaults) and the folder they
    /// apply to (none: every input not under another context's folder).
    pub contexts: Vec<(Context, Option<PathBuf>, Option<PathBuf>)>,
    /// Lines to announce on stderr (which context applies where).
    pub notes: Vec<String>,
}

impl RunContexts {
    /// The index in `contexts` of the context for `input`: the one whose folder holds it
    /// most closely, else the run-wide one.
    pub fn for_input(&self, input: &Input) -> usize {
        let Input::File(path) = input else {
            return 0;
        };
        let path = path.canonicalize().unwrap_or_else(|_| path.clone());
        self.contexts
            .iter()
            .enumerate()
            .filter_map(|(i, (_, _, scope))| {
                let scope = scope.as_ref()?;
                path.starts_with(scope)
                    .then_some((scope.components().count(), i))
            })
            .max()
            .map_or(0, |(_, i)| i)
    }
}

/// The contexts of a run. `--context` applies to everything. Otherwise every
/// `trustpath.toml` in a folder given as input (at any depth): one alone directly inside
/// a folder given as input applies to the whole run (as it always did); otherwise each
/// applies to its own folder's inputs, inputs
/// outside them get the defaults, and the split is announced, so one tenant's tickets and
/// tuning never judge another tenant's records.
pub fn load_contexts(explicit: Option<&Path>, inputs: &[PathBuf]) -> anyhow::Result<RunContexts> {
    if explicit.is_some() {
        let (context, path) = load_context(explicit, inputs)?;
        return Ok(RunContexts {
            contexts: vec![(context, path, None)],
            notes: Vec::new(),
        });
    }
    let dirs: Vec<PathBuf> = inputs.iter().filter(|p| p.is_dir()).cloned().collect();
    let (files, _) = trustpath_read::expand_inputs(&dirs);
    let mut found: Vec<PathBuf> = Vec::new();
    for input in files {
        if let Input::File(path) = input
            && path.file_name().is_some_and(|n| n == "trustpath.toml")
            && !found.contains(&path)
        {
            found.push(path);
        }
    }
    let load = |path: &PathBuf| {
        Context::load(path).with_context(|| format!("cannot use context file {}", path.display()))
    };
    match found.as_slice() {
        [] => Ok(RunContexts {
            contexts: vec![(Context::default(), None, None)],
            notes: Vec::new(),
        }),
        [one] if is_top_level(one, &dirs) => Ok(RunContexts {
            contexts: vec![(load(one)?, Some(one.clone()), None)],
            notes: Vec::new(),
        }),
        several => {
            let mut contexts = vec![(Context::default(), None, None)];
            let mut notes = Vec::new();
            for path in several {
                let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
                let scope = folder.canonicalize().unwrap_or_else(|_| folder.clone());
                notes.push(format!(
                    "context {} applies to {} only (one context per folder: its tickets and tuning \
                     never judge another folder's records)",
                    path.display(),
                    folder.display()
                ));
                contexts.push((load(path)?, Some(path.clone()), Some(scope)));
            }
            notes.push(
                "inputs outside those folders use the default context (give --context to use one for all)"
                    .to_owned(),
            );
            Ok(RunContexts { contexts, notes })
        }
    }
}

/// Whether a context file sits directly in one of the folders given as input.
fn is_top_level(path: &Path, dirs: &[PathBuf]) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    path.parent()
        .is_some_and(|parent| dirs.iter().any(|d| canon(d) == canon(parent)))
}

fn is_log_candidate(path: &Path, tickets: &[PathBuf]) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "md" | "toml") {
        return false;
    }
    // `trustpath collect`'s state and configuration facts are not logs.
    if path
        .file_name()
        .is_some_and(|n| trustpath_collect::NOT_LOGS.iter().any(|x| n == *x))
    {
        return false;
    }
    if tickets.is_empty() {
        return true;
    }
    match path.canonicalize() {
        Ok(p) => !tickets.contains(&p),
        Err(_) => true,
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
    let config = scan_config(args, &[context], false);
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
/// `contexts`: every context of the run; a host's time zone is taken from the first that
/// names it.
fn scan_config(args: &InputArgs, contexts: &[&Context], progress: bool) -> ScanConfig {
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
    let zoned: Vec<Context> = contexts
        .iter()
        .filter(|c| !c.host_timezones.is_empty())
        .map(|c| (*c).clone())
        .collect();
    if !zoned.is_empty() {
        config.normalize.host_time_zones =
            trustpath_normalize::HostTimeZones::new(move |host: &str| {
                zoned.iter().find_map(|context| {
                    context
                        .host_time_zone(host)
                        .map(|z| (z.timezone_name.clone(), z.timezone.clone()))
                })
            });
    }
    config
}
