//! The batch pipeline: read → normalize → per-event detection over many inputs.
//!
//! [`scan`] runs one input per rayon task (inputs are independent; a tenant's export is
//! usually many files), normalizes every record, hands each event to a caller-supplied
//! `select` function (per-event rule matching, which is stateless) and keeps what it
//! returns. Output is deterministic whatever the thread count: per-input results are
//! concatenated in input order, and within an input in record order.
//!
//! Every skipped record is counted in its [`FileSummary`] and kept (up to
//! [`ScanConfig::max_kept_errors`] per input) with its origin and reason.
//!
//! # Tenant attribution, before matching
//!
//! A cloud record (UAL, Entra) that names no tenant (a Graph `directoryAudit` export) is
//! held back until every input is read, then attributed by [`TenantCensus::attribute`]
//! from the records of the inputs in the *same folder* (a tenant's export folder) — never
//! from another folder, so one tenant's audit never becomes another's — and only then
//! handed to `select`. What stays unattributed is counted in its [`FileSummary`]
//! (`unattributed`). Host events (Windows) name no tenant by nature: they are matched as
//! they stream (their rules do not read a tenant) and [`InputResult::host_tenants`] is
//! the census of the nearest enclosing folder that names a tenant, for the caller to
//! attribute the events it kept with the same function.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trustpath_event::{Event, FileSummary, RecordError};
use trustpath_normalize::{NormalizeOptions, Normalizer, TenantCensus, names_tenant};
use trustpath_read::{Input, ReadOptions};

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Reader limits.
    pub read: ReadOptions,
    /// Normalizer options (`--time-field`).
    pub normalize: NormalizeOptions,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Errors kept per input for listing (all are counted).
    pub max_kept_errors: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            read: ReadOptions::default(),
            normalize: NormalizeOptions::default(),
            progress: false,
            max_kept_errors: 1000,
        }
    }
}

/// What one input produced.
#[derive(Debug)]
pub struct InputResult<S, T> {
    /// Per-input state the caller accumulated (e.g. first-seen actors, coverage).
    pub state: S,
    /// Counts for the input.
    pub summary: FileSummary,
    /// Skipped records (the first `max_kept_errors`).
    pub errors: Vec<RecordError>,
    /// Whatever `select` kept, in record order (records attributed after the scan come
    /// after the input's other records).
    pub selected: Vec<T>,
    /// Tenants named by this input's records.
    pub tenants: TenantCensus,
    /// Census for this input's host events: the nearest enclosing folder (among the
    /// scanned inputs) whose records name a tenant.
    pub host_tenants: TenantCensus,
}

/// What a whole scan produced, in input order.
#[derive(Debug)]
pub struct ScanResult<S, T> {
    /// One entry per input.
    pub inputs: Vec<InputResult<S, T>>,
}

impl<S, T> ScanResult<S, T> {
    /// Per-file summaries.
    pub fn summaries(&self) -> Vec<FileSummary> {
        self.inputs.iter().map(|r| r.summary.clone()).collect()
    }

    /// Every kept error, in input order.
    pub fn errors(&self) -> impl Iterator<Item = &RecordError> {
        self.inputs.iter().flat_map(|r| r.errors.iter())
    }

    /// Everything selected (in input then record order) and every input's state.
    pub fn into_parts(self) -> (Vec<T>, Vec<S>) {
        let mut selected = Vec::new();
        let mut states = Vec::new();
        for input in self.inputs {
            selected.extend(input.selected);
            states.push(input.state);
        }
        (selected, states)
    }
}

/// Scan `inputs` in parallel; `select` sees every event with its input's state and
/// returns what to keep.
pub fn scan<S, T, F>(inputs: &[Input], config: &ScanConfig, select: F) -> ScanResult<S, T>
where
    S: Default + Send,
    T: Send,
    F: Fn(&mut S, Arc<Event>) -> Option<T> + Sync,
{
    let progress = progress_bar(inputs.len(), config.progress);
    let scanned: Vec<(InputResult<S, T>, Vec<Event>)> = inputs
        .par_iter()
        .map(|input| {
            let mut select_one = |state: &mut S, event: Arc<Event>| select(state, event);
            let result = scan_input(input, config, &mut select_one);
            progress.inc(1);
            result
        })
        .collect();
    progress.finish_and_clear();
    // Census per folder (the inputs of one folder are one tenant's export, or several
    // tenants' that the records themselves tell apart).
    let mut folders: BTreeMap<PathBuf, TenantCensus> = BTreeMap::new();
    for (input, (result, _)) in inputs.iter().zip(&scanned) {
        folders
            .entry(folder(input))
            .or_default()
            .merge(&result.tenants);
    }
    let mut results = Vec::with_capacity(scanned.len());
    for (input, (mut result, pending)) in inputs.iter().zip(scanned) {
        let dir = folder(input);
        let census = folders.get(&dir).cloned().unwrap_or_default();
        result.host_tenants = enclosing(&folders, &dir);
        let mut select_one = |state: &mut S, event: Arc<Event>| select(state, event);
        attribute_pending(&mut result, &census, pending, &mut select_one);
        results.push(result);
    }
    ScanResult { inputs: results }
}

/// The folder an input belongs to (`-` for standard input).
fn folder(input: &Input) -> PathBuf {
    match input {
        Input::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        Input::Stdin => PathBuf::from("-"),
    }
}

/// The census of the nearest folder at or above `dir` whose inputs (its own and its
/// sub-folders') name a tenant.
fn enclosing(folders: &BTreeMap<PathBuf, TenantCensus>, dir: &Path) -> TenantCensus {
    let mut at = Some(dir);
    while let Some(d) = at {
        let mut census = TenantCensus::default();
        for (f, c) in folders {
            if f.starts_with(d) || d.as_os_str().is_empty() {
                census.merge(c);
            }
        }
        if !census.tenants().is_empty() {
            return census;
        }
        at = d.parent();
    }
    TenantCensus::default()
}

/// Attribute the held-back records of one input and hand them to `select`.
fn attribute_pending<S, T, F>(
    result: &mut InputResult<S, T>,
    census: &TenantCensus,
    pending: Vec<Event>,
    select: &mut F,
) where
    F: FnMut(&mut S, Arc<Event>) -> Option<T>,
{
    for mut event in pending {
        match census.attribute(&mut event) {
            Some(how) => {
                *result
                    .summary
                    .attributed
                    .entry(how.as_str().to_owned())
                    .or_default() += 1;
            }
            None => result.summary.unattributed += 1,
        }
        if let Some(kept) = select(&mut result.state, Arc::new(event)) {
            result.selected.push(kept);
        }
    }
}

fn progress_bar(len: usize, wanted: bool) -> ProgressBar {
    if !wanted || len == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} inputs")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Read, normalize and select one input on its own (records naming no tenant are
/// attributed from this input's records only).
pub fn scan_one<S, T, F>(input: &Input, config: &ScanConfig, select: &mut F) -> InputResult<S, T>
where
    S: Default,
    F: FnMut(&mut S, Arc<Event>) -> Option<T>,
{
    let (mut result, pending) = scan_input(input, config, select);
    let census = result.tenants.clone();
    result.host_tenants = census.clone();
    attribute_pending(&mut result, &census, pending, select);
    result
}

/// Read, normalize and select one input, holding back cloud records that name no tenant.
fn scan_input<S, T, F>(
    input: &Input,
    config: &ScanConfig,
    select: &mut F,
) -> (InputResult<S, T>, Vec<Event>)
where
    S: Default,
    F: FnMut(&mut S, Arc<Event>) -> Option<T>,
{
    let mut result = InputResult {
        state: S::default(),
        summary: FileSummary::new(input.name()),
        errors: Vec::new(),
        selected: Vec::new(),
        tenants: TenantCensus::default(),
        host_tenants: TenantCensus::default(),
    };
    let mut pending = Vec::new();
    let mut normalizer = Normalizer::new(config.normalize.clone());
    let mut batch = Vec::new();
    trustpath_read::read_input(input, &config.read, &mut |item| match item {
        Ok(raw) => {
            normalizer.push(raw, &mut batch);
            drain(&mut batch, &mut result, &mut pending, config, select);
        }
        Err(error) => keep_error(&mut result, config, error),
    });
    normalizer.finish(&mut batch);
    drain(&mut batch, &mut result, &mut pending, config, select);
    (result, pending)
}

fn drain<S, T, F>(
    batch: &mut Vec<Result<Event, RecordError>>,
    result: &mut InputResult<S, T>,
    pending: &mut Vec<Event>,
    config: &ScanConfig,
    select: &mut F,
) where
    F: FnMut(&mut S, Arc<Event>) -> Option<T>,
{
    for item in batch.drain(..) {
        match item {
            Ok(event) => {
                result.summary.add_event(&event);
                if event.tenant().is_none() && names_tenant(event.source) {
                    pending.push(event);
                    continue;
                }
                result.tenants.observe(&event);
                if let Some(kept) = select(&mut result.state, Arc::new(event)) {
                    result.selected.push(kept);
                }
            }
            Err(error) => keep_error(result, config, error),
        }
    }
}

fn keep_error<S, T>(result: &mut InputResult<S, T>, config: &ScanConfig, error: RecordError) {
    result.summary.add_error(&error);
    if result.errors.len() < config.max_kept_errors {
        result.errors.push(error);
    }
}
