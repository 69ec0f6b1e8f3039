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

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::sync::Arc;
use trustpath_event::{Event, FileSummary, RecordError};
use trustpath_normalize::{NormalizeOptions, Normalizer};
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
    /// Whatever `select` kept, in record order.
    pub selected: Vec<T>,
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
    let results = inputs
        .par_iter()
        .map(|input| {
            let mut select_one = |state: &mut S, event: Arc<Event>| select(state, event);
            let result = scan_one(input, config, &mut select_one);
            progress.inc(1);
            result
        })
        .collect();
    progress.finish_and_clear();
    ScanResult { inputs: results }
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

/// Read, normalize and select one input.
pub fn scan_one<S, T, F>(input: &Input, config: &ScanConfig, select: &mut F) -> InputResult<S, T>
where
    S: Default,
    F: FnMut(&mut S, Arc<Event>) -> Option<T>,
{
    let mut result = InputResult {
        state: S::default(),
        summary: FileSummary::new(input.name()),
        errors: Vec::new(),
        selected: Vec::new(),
    };
    let mut normalizer = Normalizer::new(config.normalize.clone());
    let mut batch = Vec::new();
    trustpath_read::read_input(input, &config.read, &mut |item| match item {
        Ok(raw) => {
            normalizer.push(raw, &mut batch);
            drain(&mut batch, &mut result, config, select);
        }
        Err(error) => keep_error(&mut result, config, error),
    });
    normalizer.finish(&mut batch);
    drain(&mut batch, &mut result, config, select);
    result
}

fn drain<S, T, F>(
    batch: &mut Vec<Result<Event, RecordError>>,
    result: &mut InputResult<S, T>,
    config: &ScanConfig,
    select: &mut F,
) where
    F: FnMut(&mut S, Arc<Event>) -> Option<T>,
{
    for item in batch.drain(..) {
        match item {
            Ok(event) => {
                result.summary.add_event(&event);
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
