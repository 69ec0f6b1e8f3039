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
//! What `select` keeps is charged to the run's [`MemoryBudget`] (when one is set): at the
//! limit every input stops reading, the budget records where and why, and the caller
//! reports the run as incomplete with the findings from what was kept (see [`memory`]).

pub mod memory;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Bytes of kept events allowed over the whole scan (`None`: no limit).
    pub memory: Option<Arc<MemoryBudget>>,
}

/// Bytes of kept events a scan may hold, shared by its parallel inputs.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    stopped: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            reason: Mutex::new(None),
        })
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Why the scan stopped early, if it did.
    pub fn exhausted(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Charge `bytes` for an event kept at `origin`; false when the budget is spent.
    fn charge(&self, bytes: u64, origin: &trustpath_event::Origin) -> bool {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if used <= self.limit {
            return true;
        }
        if !self.stopped.swap(true, Ordering::Relaxed)
            && let Ok(mut reason) = self.reason.lock()
        {
            *reason = Some(format!(
                "memory budget of {} for retained events reached at {origin}: the rest of the input was not analysed (raise it with --memory-budget)",
                memory::human_bytes(self.limit)
            ));
        }
        false
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            read: ReadOptions::default(),
            normalize: NormalizeOptions::default(),
            progress: false,
            max_kept_errors: 1000,
            memory: None,
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
    let stopped = || config.memory.as_ref().is_some_and(|m| m.is_stopped());
    trustpath_read::read_input(input, &config.read, &mut |item| {
        // Past the memory budget the rest of the input is not analysed (the budget
        // says where it stopped).
        if stopped() {
            return;
        }
        match item {
            Ok(raw) => {
                normalizer.push(raw, &mut batch);
                drain(&mut batch, &mut result, config, select);
            }
            Err(error) => keep_error(&mut result, config, error),
        }
    });
    if stopped() {
        return result;
    }
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
                let event = Arc::new(event);
                if let Some(kept) = select(&mut result.state, Arc::clone(&event)) {
                    if let Some(budget) = &config.memory
                        && !budget.charge(memory::approx_event_bytes(&event), &event.origin)
                    {
                        break;
                    }
                    result.selected.push(kept);
                }
            }
            Err(error) => keep_error(result, config, error),
        }
    }
    batch.clear();
}

fn keep_error<S, T>(result: &mut InputResult<S, T>, config: &ScanConfig, error: RecordError) {
    result.summary.add_error(&error);
    if result.errors.len() < config.max_kept_errors {
        result.errors.push(error);
    }
}
