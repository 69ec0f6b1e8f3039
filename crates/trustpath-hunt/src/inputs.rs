//! Inputs and contexts of a hunt: which files are logs, which `trustpath.toml` applies to
//! which input, and the scan configuration they give.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use trustpath_context::Context;
use trustpath_event::RecordError;
use trustpath_pipeline::ScanConfig;
use trustpath_read::Input;

/// How inputs are read (the CLI's input arguments, as data).
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// Files, folders, or `-`.
    pub paths: Vec<PathBuf>,
    /// `--time-field`: the field holding the event time for flat records.
    pub time_field: Option<String>,
    /// Skipped records kept per input for listing (all are counted).
    pub show_errors: usize,
    /// Bytes of retained events allowed (`None`: the default budget).
    pub memory_budget: Option<u64>,
}

/// Where the context comes from.
#[derive(Debug, Clone, Default)]
pub enum ContextChoice {
    /// `trustpath.toml` files found in the input folders (see [`load_contexts`]).
    #[default]
    Discover,
    /// `--context FILE`: one context for every input.
    File(PathBuf),
    /// A context already loaded (tests, the service): one for every input.
    Given(Box<Context>),
}

/// The context file to use: `explicit`, else a `trustpath.toml` directly inside a folder
/// given as input, else the defaults.
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
        if self.contexts.iter().all(|(_, _, scope)| scope.is_none()) {
            return 0; // one run-wide context: no path to resolve (a syscall per component)
        }
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

    /// Every context, in order.
    pub fn all(&self) -> Vec<&Context> {
        self.contexts.iter().map(|(c, _, _)| c).collect()
    }
}

/// The contexts of a run for `choice`. Discovered: every `trustpath.toml` in a folder
/// given as input (at any depth): one alone directly inside a folder given as input
/// applies to the whole run; otherwise each applies to its own folder's inputs, inputs
/// outside them get the defaults, and the split is announced, so one tenant's tickets and
/// tuning never judge another tenant's records.
pub fn load_contexts(choice: &ContextChoice, inputs: &[PathBuf]) -> anyhow::Result<RunContexts> {
    match choice {
        ContextChoice::File(path) => {
            let (context, path) = load_context(Some(path), inputs)?;
            return Ok(RunContexts {
                contexts: vec![(context, path, None)],
                notes: Vec::new(),
            });
        }
        ContextChoice::Given(context) => {
            return Ok(RunContexts {
                contexts: vec![((**context).clone(), None, None)],
                notes: Vec::new(),
            });
        }
        ContextChoice::Discover => {}
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
        [] => {
            // Said, not silent: without a context every partner is "unknown" and no
            // ticket authorises anything.
            let mut note = "no context file (trustpath.toml) in the inputs: partners, tickets and \
                            tuning are the defaults"
                .to_owned();
            match nearby_context(inputs) {
                Some(path) => note.push_str(&format!(
                    "; {} is one folder up: give --context {} to use it",
                    path.display(),
                    path.display()
                )),
                None => note.push_str("; give one with --context FILE"),
            }
            Ok(RunContexts {
                contexts: vec![(Context::default(), None, None)],
                notes: vec![note],
            })
        }
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

/// Paths given on the command line that cannot be used at all, each named with why. A
/// typo (`hunt exprts/`) would otherwise read nothing and end with "No findings." and exit
/// 0; this is checked before any work. `-` (stdin) is always usable.
pub fn check_paths(what: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    let unusable: Vec<String> = paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| {
            std::fs::metadata(p)
                .err()
                .map(|e| format!("{} ({e})", p.display()))
        })
        .collect();
    match unusable.as_slice() {
        [] => Ok(()),
        [one] => anyhow::bail!("{what} path not found or not readable: {one}"),
        many => anyhow::bail!(
            "{} {what} paths not found or not readable: {}",
            many.len(),
            many.join(", ")
        ),
    }
}

/// The error for a run whose paths exist but hold nothing to read: empty folders, or only
/// files that are not logs (listed).
pub fn nothing_to_read(paths: &[PathBuf], ignored: &[PathBuf]) -> anyhow::Error {
    let given: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if ignored.is_empty() {
        anyhow::anyhow!("no files to read in {}", given.join(", "))
    } else {
        let names: Vec<String> = ignored.iter().map(|p| p.display().to_string()).collect();
        anyhow::anyhow!(
            "no log files in {}: only files that are not logs ({})",
            given.join(", "),
            names.join(", ")
        )
    }
}

/// Where a context file would have been found had the user pointed one folder higher (or
/// two): `hunt examples/logs` next to `examples/trustpath.toml`. Used to announce that a
/// run goes without context and how to give it one.
pub fn nearby_context(inputs: &[PathBuf]) -> Option<PathBuf> {
    inputs.iter().find_map(|input| {
        let start = if input.is_dir() {
            input.clone()
        } else {
            input.parent()?.to_path_buf()
        };
        let start = start.canonicalize().unwrap_or(start);
        let found = start
            .ancestors()
            .skip(1)
            .take(2)
            .map(|dir| dir.join("trustpath.toml"))
            .find(|p| p.is_file())?;
        // Shown as the user would type it: relative to the working folder when inside it.
        let relative = std::env::current_dir()
            .and_then(|here| here.canonicalize())
            .ok()
            .and_then(|here| found.strip_prefix(here).ok().map(Path::to_path_buf));
        Some(relative.unwrap_or(found))
    })
}

/// Whether a context file sits directly in one of the folders given as input.
fn is_top_level(path: &Path, dirs: &[PathBuf]) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    path.parent()
        .is_some_and(|parent| dirs.iter().any(|d| canon(d) == canon(parent)))
}

/// Inputs under `paths`, leaving out files that are not logs: documentation (`.md`),
/// TOML (the context file), insta snapshots, the change-ticket CSVs the contexts name, and
/// what [`trustpath_read::not_a_log`] recognises (images, PDFs, Office documents, plain
/// text that is not a log).
/// Paths that cannot be used come back as errors to report; ignored files are returned
/// for the summary.
pub fn expand<'a>(
    paths: &[PathBuf],
    contexts: impl IntoIterator<Item = &'a Context>,
) -> (Vec<Input>, Vec<RecordError>, Vec<PathBuf>) {
    let (inputs, errors) = trustpath_read::expand_inputs(paths);
    let tickets: Vec<PathBuf> = contexts
        .into_iter()
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

fn is_log_candidate(path: &Path, tickets: &[PathBuf]) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "md" | "toml" | "snap") {
        return false;
    }
    // `trustpath collect`'s state and configuration facts are not logs
    // (`trustpath_collect::NOT_LOGS`).
    if path
        .file_name()
        .is_some_and(|n| n == ".collect-state.json" || n == "collection.json")
    {
        return false;
    }
    if !tickets.is_empty()
        && let Ok(p) = path.canonicalize()
        && tickets.contains(&p)
    {
        return false;
    }
    // Images, PDFs, Office documents, notes and tool logs in a case folder.
    trustpath_read::not_a_log(path).is_none()
}

/// The scan configuration for `options`; the contexts' `[host_timezones]` place zone-less
/// local times (NXLog `EventTime`); a host's zone is taken from the first context that
/// names it.
pub fn scan_config(options: &InputOptions, contexts: &[&Context], progress: bool) -> ScanConfig {
    let mut config = ScanConfig {
        progress,
        max_kept_errors: options.show_errors.max(1),
        memory: Some(trustpath_pipeline::MemoryBudget::new(
            options
                .memory_budget
                .unwrap_or_else(trustpath_pipeline::memory::default_budget),
        )),
        ..ScanConfig::default()
    };
    config.normalize.time_field = options.time_field.clone();
    config.normalize.host_time_zones = host_time_zones(contexts);
    config
}

/// The normalizer's host time zones from the contexts' `[host_timezones]` (the first
/// context naming a host wins). The service uses the same function.
pub fn host_time_zones(contexts: &[&Context]) -> trustpath_normalize::HostTimeZones {
    let zoned: Vec<Context> = contexts
        .iter()
        .filter(|c| !c.host_timezones.is_empty())
        .map(|c| (*c).clone())
        .collect();
    if zoned.is_empty() {
        return trustpath_normalize::HostTimeZones::default();
    }
    trustpath_normalize::HostTimeZones::new(move |host: &str| {
        zoned.iter().find_map(|context| {
            context
                .host_time_zone(host)
                .map(|z| (z.timezone_name.clone(), z.timezone.clone()))
        })
    })
}
