//! The batch pipeline: read → normalize → per-event detection over many inputs.
//!
//! [`scan_with`] runs one input per rayon task (inputs are independent; a tenant's export
//! is usually many files) and normalizes every record. A [`Selector`] sees every event:
//! `observe` in record order (per-input state), `select` — the stateless per-event rule
//! matching — then `settle` (more stateless work on what `select` gave) on chunks of
//! [`CHUNK_EVENTS`] events, each chunk one pool job, several chunks of an input at once, so
//! one large file also uses every core, and `keep` in record order decides what stays in
//! memory (the rest, e.g. findings of stateless rules, the selector writes out itself). A
//! full chunk is matched on the pool while the input's reader goes on reading and
//! normalizing the next (at most [`chunks_in_flight`] chunks on the pool and one filling
//! per input; a waiting reader on the pool runs pool jobs, [`InFlight`]). Output is
//! deterministic whatever the thread count: per-input results are concatenated in input
//! order, and within an input in record order.
//!
//! Every skipped record is counted in its [`FileSummary`] and kept (up to
//! [`ScanConfig::max_kept_errors`] per input) with its origin and reason.
//!
//! After the parallel pass, one sequential pass in input order does what needs every
//! input at once, so the result still never depends on thread count:
//!
//! * **Duplicates.** A record is identified by [`trustpath_event::record_key`] (its own
//!   id, else a content hash), not by where it was read: the same record seen again (in
//!   the same input or through an overlapping export) is kept once, where it was first
//!   seen in input order, and counted in [`ScanStats::duplicates`].
//! * **4104 parts across inputs.** Each input's normalizer hands the script-block parts
//!   still waiting at its end to one normalizer for the whole scan, fed in input order,
//!   so a block split over daily or rotated exports is reassembled; the event is counted
//!   and selected with the input that held its part 1 (or the part itself, when
//!   incomplete). What all inputs hand over is bounded by the same bytes limit as one
//!   normalizer (`max_pending_script_block_bytes`): an input whose parts would exceed it
//!   flushes them as incomplete itself (counted as evicted); only then can the result
//!   depend on which inputs finished first.

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
//!
//! What `select` keeps is charged to the run's [`MemoryBudget`] (when one is set): at the
//! limit every input stops reading, the budget records where and why, and the caller
//! reports the run as incomplete with the findings from what was kept (see [`memory`]).

mod identities;
pub mod memory;
mod tenantless;

pub use tenantless::names_no_tenant;

use identities::IdentitySet;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use trustpath_event::{Event, FileSummary, Origin, RecordError};
use trustpath_normalize::{
    NormalizeOptions, NormalizeStats, Normalizer, TenantCensus, names_tenant,
};
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
    /// Record identity digest of each `selected` item.
    selected_keys: Vec<u128>,
    /// Identity digests of this input's events that name a tenant.
    seen: IdentitySet,
    /// Those of events naming no tenant (their identity gains the tenant only once
    /// attributed: across inputs they are compared within their folder's tenants).
    /// Disjoint from `seen`: each identity is kept once.
    tenantless: IdentitySet,
    /// Identities dropped from this input because an earlier input held them.
    earlier_duplicates: IdentitySet,
    /// Script-block parts still waiting at the end of the input.
    pending_parts: Vec<Event>,
    /// The input's normalizer counts.
    normalize: NormalizeStats,
    /// Tenants named by this input's records.
    pub tenants: TenantCensus,
    /// Census for this input's host events: the nearest enclosing folder (among the
    /// scanned inputs) whose records name a tenant.
    pub host_tenants: TenantCensus,
    /// Cloud records naming no tenant, held back for attribution, with their identity.
    held: Vec<(Event, u128)>,
}

/// Counts of the whole scan besides the per-input summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Records seen again (same identity) and kept once.
    pub duplicates: u64,
    /// 4104 reassembly counts over every input and the cross-input pass.
    pub script_blocks: NormalizeStats,
}

/// What a whole scan produced, in input order.
#[derive(Debug)]
pub struct ScanResult<S, T> {
    /// One entry per input.
    pub inputs: Vec<InputResult<S, T>>,
    /// Duplicates and script-block counts.
    pub stats: ScanStats,
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

/// What a scan does with each event. [`Selector::observe`] runs on the input's task in
/// record order (cheap bookkeeping: first-seen actors, coverage counts);
/// [`Selector::select`] is stateless (rule matching) and runs on chunks of
/// [`CHUNK_EVENTS`] events in parallel, even within one input, and [`Selector::settle`]
/// after it over the chunk's items (more stateless work, e.g. building findings); [`Selector::keep`]
/// then takes each selected item in record order and either keeps it in
/// [`InputResult::selected`] (charged to the memory budget) or passes it on (e.g. writes
/// a finding to a spool).
pub trait Selector: Sync {
    /// Per-input state.
    type State: Default + Send;
    /// What `select` returns.
    type Item: Send;

    /// Every event of input `input`, in record order.
    fn observe(&self, _input: usize, _state: &mut Self::State, _event: &Event) {}

    /// Stateless per-event work (may run on any thread, in any order).
    fn select(&self, input: usize, event: &Arc<Event>) -> Option<Self::Item>;

    /// Called on a thread before it selects a chunk of `events` one after another, and
    /// [`Selector::chunk_done`] after (also when selecting panics); the events are alive
    /// in between. A selector may work over the whole chunk here (the hunt's matcher
    /// scans ahead the large field tables most events of the last chunk needed, one
    /// table over every event while it is in cache). Nothing it does may change what
    /// `select` returns.
    fn prepare(&self, _input: usize, _events: &[(Arc<Event>, u128, u64)]) {}

    /// See [`Selector::prepare`].
    fn chunk_done(&self, _input: usize) {}

    /// More stateless work on what `select` returned, done on the pool once every event
    /// of its chunk was selected (a second pass keeps the matcher's tables warm in the
    /// first); the cross-input passes call it right after `select`.
    fn settle(&self, _input: usize, item: Self::Item) -> Self::Item {
        item
    }

    /// In record order: `Some` keeps the item in memory, `None` means the selector
    /// handled it. `key` is the record identity ([`trustpath_event::record_digest`]).
    fn keep(
        &self,
        _input: usize,
        _state: &mut Self::State,
        item: Self::Item,
        _key: u128,
    ) -> Option<Self::Item> {
        Some(item)
    }

    /// The input's reader reached its end (more events may still come from the
    /// cross-input pass: reassembled script blocks, attributed records).
    fn input_done(&self, _input: usize, _state: &mut Self::State) {}
}

/// Events per chunk within one input: one pool job selects and settles them.
pub const CHUNK_EVENTS: usize = 256;

/// Most memory (as [`memory::approx_event_bytes`] counts) one input's events take while
/// they wait for selection: the chunks in flight and the one being filled share it, so a
/// chunk is also handed over once its events take `WAITING_BYTES / (depth + 1)` (24 MiB
/// at the least depth, [`CHUNKS_IN_FLIGHT`]). 256 PowerShell blocks of 10 MiB each are
/// 2.5 GiB, and a chunk holds its events until they are selected.
pub const WAITING_BYTES: u64 = 120 * 1024 * 1024;

/// Chunks of one input handed to the pool, at the least, before its reader waits for the
/// oldest ([`chunks_in_flight`]). With one, the pool idled while the reader normalized
/// and kept (spooled) between chunks: 18 % of two cores over SigmaHQ's Windows rules and
/// 100k events (`perf sched`); with four chunks of 256 events, 8 %, and the hunt took 7 %
/// less time.
pub const CHUNKS_IN_FLIGHT: usize = 4;

/// Chunks of one input on the pool before its reader waits for the oldest:
/// [`CHUNKS_IN_FLIGHT`], or two per pool thread on a larger pool. A chunk is one job, run
/// by one thread (splitting a chunk of 256 events across threads again cost more in
/// wake-ups and stealing than it gained: 5 % of the wall time of a hunt on two cores),
/// so the chunks in flight are what keeps every thread busy on one large input.
pub fn chunks_in_flight() -> usize {
    CHUNKS_IN_FLIGHT.max(2 * rayon::current_num_threads())
}

/// Events waiting to be selected together: each with its identity and its size as
/// [`memory::approx_event_bytes`] counts it (what the budget is charged if it is kept),
/// and their total.
#[derive(Default)]
struct Chunk {
    events: Vec<(Arc<Event>, u128, u64)>,
    bytes: u64,
}

/// One pool job at a time in flight while its caller goes on: the pipeline's reader
/// (a chunk being matched) and the hunt's spool drain (a batch of findings being
/// decided). [`InFlight::hand_over`] starts the next job and gives what the previous one
/// returned, so results come back in the order jobs were handed over.
pub struct InFlight<T> {
    jobs: std::collections::VecDeque<std::sync::mpsc::Receiver<T>>,
    depth: usize,
}

impl<T: Send> Default for InFlight<T> {
    fn default() -> Self {
        InFlight::with_depth(1)
    }
}

impl<T: Send> InFlight<T> {
    /// Up to `depth` jobs in flight (at least one) before [`InFlight::hand_over`] waits.
    pub fn with_depth(depth: usize) -> Self {
        InFlight {
            jobs: std::collections::VecDeque::new(),
            depth: depth.max(1),
        }
    }

    /// Start `job` on `scope`; when more than the depth are then in flight, wait for the
    /// oldest (running pool jobs meanwhile) and return its result. `None` when nothing
    /// had to be waited for, or when that job died: its panic is raised again when its
    /// scope ends.
    pub fn hand_over<'scope>(
        &mut self,
        scope: &rayon::Scope<'scope>,
        job: impl FnOnce() -> T + Send + 'scope,
    ) -> Option<T>
    where
        T: 'scope,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move |_| {
            let _ = tx.send(job());
        });
        self.jobs.push_back(rx);
        if self.jobs.len() <= self.depth {
            return None;
        }
        self.jobs
            .pop_front()
            .and_then(|oldest| wait_helping(&oldest))
    }

    /// Wait for the oldest job in flight and return its result (`None`: nothing is in
    /// flight, or that job died). Call until [`InFlight::is_empty`].
    pub fn finish(&mut self) -> Option<T> {
        self.jobs.pop_front().and_then(|rx| wait_helping(&rx))
    }

    /// Whether no job is in flight.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

/// Wait for what a pool job sends, running other pool jobs meanwhile (a waiting worker
/// thread keeps working; off the pool it just blocks). `None` if the job died before it
/// sent.
fn wait_helping<T>(rx: &std::sync::mpsc::Receiver<T>) -> Option<T> {
    use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
    loop {
        match rx.try_recv() {
            Ok(value) => return Some(value),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    match rx.recv_timeout(std::time::Duration::from_micros(200)) {
                        Ok(value) => return Some(value),
                        Err(RecvTimeoutError::Disconnected) => return None,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                }
            }
        }
    }
}

/// A chunk's events with what `select` returned for each.
type Selected<T> = (Vec<(Arc<Event>, u128, u64)>, Vec<Option<T>>);

/// Where an input's events go once drained: the chunk being filled and, while a reader
/// runs in a rayon scope, the chunks before it being selected on the pool. The reader
/// hands a full chunk over and goes on reading and normalizing while the pool matches
/// it; once more than [`chunks_in_flight`] are on the pool, the oldest one's items are
/// kept (in record order), and the rest at [`Stage::finish`].
struct Stage<'s, 'scope, Sel: Selector> {
    index: usize,
    selector: &'scope Sel,
    scope: Option<&'s rayon::Scope<'scope>>,
    chunk: Chunk,
    /// A chunk's share of [`WAITING_BYTES`].
    chunk_bytes: u64,
    in_flight: InFlight<Selected<Sel::Item>>,
}

impl<'s, 'scope, Sel: Selector> Stage<'s, 'scope, Sel> {
    /// Selects each full chunk before it returns (no scope: the cross-input passes).
    fn inline(index: usize, selector: &'scope Sel) -> Self {
        let depth = chunks_in_flight();
        Stage {
            index,
            selector,
            scope: None,
            chunk: Chunk::default(),
            chunk_bytes: WAITING_BYTES / (depth as u64 + 1),
            in_flight: InFlight::with_depth(depth),
        }
    }

    fn push(
        &mut self,
        event: Arc<Event>,
        key: u128,
        bytes: u64,
        result: &mut InputResult<Sel::State, Sel::Item>,
        config: &ScanConfig,
    ) {
        self.chunk.bytes += bytes;
        self.chunk.events.push((event, key, bytes));
        if self.chunk.events.len() >= CHUNK_EVENTS || self.chunk.bytes >= self.chunk_bytes {
            self.submit(result, config);
        }
    }

    /// Hand the chunk over: selected on the pool while the reader goes on (then the
    /// previous chunk's items are kept), or right here without a scope.
    fn submit(&mut self, result: &mut InputResult<Sel::State, Sel::Item>, config: &ScanConfig) {
        let events = std::mem::take(&mut self.chunk.events);
        self.chunk.bytes = 0;
        if events.is_empty() {
            return;
        }
        let (selector, index) = (self.selector, self.index);
        let Some(scope) = self.scope else {
            let items = select_events(selector, index, &events, true);
            keep_events(index, (events, items), result, config, selector);
            return;
        };
        // The previous chunk's items are kept once this one is on the pool. A chunk
        // whose job panicked is not kept: the scope re-raises the panic when it ends.
        let previous = self.in_flight.hand_over(scope, move || {
            let items = select_events(selector, index, &events, false);
            (events, items)
        });
        if let Some(selected) = previous {
            keep_events(index, selected, result, config, selector);
        }
    }

    /// Select what is still waiting and keep every item handed over.
    fn finish(&mut self, result: &mut InputResult<Sel::State, Sel::Item>, config: &ScanConfig) {
        self.submit(result, config);
        while !self.in_flight.is_empty() {
            if let Some(selected) = self.in_flight.finish() {
                keep_events(self.index, selected, result, config, self.selector);
            }
        }
    }
}

struct FnSelector<F>(F);

impl<T: Send, F: Fn(&Arc<Event>) -> Option<T> + Sync> Selector for FnSelector<F> {
    type State = ();
    type Item = T;
    fn select(&self, _input: usize, event: &Arc<Event>) -> Option<T> {
        (self.0)(event)
    }
}

struct Observer<S, F>(F, std::marker::PhantomData<fn() -> S>);

impl<S: Default + Send, F: Fn(&mut S, &Event) + Sync> Selector for Observer<S, F> {
    type State = S;
    type Item = ();
    fn observe(&self, _input: usize, state: &mut S, event: &Event) {
        (self.0)(state, event)
    }
    fn select(&self, _input: usize, _event: &Arc<Event>) -> Option<()> {
        None
    }
}

/// Scan `inputs` in parallel, keeping what `select` returns for each event.
pub fn scan<T, F>(inputs: &[Input], config: &ScanConfig, select: F) -> ScanResult<(), T>
where
    T: Send,
    F: Fn(&Arc<Event>) -> Option<T> + Sync,
{
    scan_with(inputs, config, &FnSelector(select))
}

/// Scan `inputs` in parallel for per-input state only (`observe` sees every event).
pub fn observe<S, F>(inputs: &[Input], config: &ScanConfig, observe: F) -> ScanResult<S, ()>
where
    S: Default + Send,
    F: Fn(&mut S, &Event) + Sync,
{
    scan_with(inputs, config, &Observer(observe, std::marker::PhantomData))
}

/// Scan `inputs` in parallel with `selector` (one task per input, and matching in parallel
/// chunks within an input).
pub fn scan_with<Sel: Selector>(
    inputs: &[Input],
    config: &ScanConfig,
    selector: &Sel,
) -> ScanResult<Sel::State, Sel::Item> {
    let progress = progress_bar(inputs.len(), config.progress);
    let handed_over = AtomicUsize::new(0);
    let results: Vec<InputResult<Sel::State, Sel::Item>> = inputs
        .par_iter()
        .enumerate()
        .map(|(index, input)| {
            let mut result = scan_partial(index, input, config, &handed_over, selector);
            selector.input_done(index, &mut result.state);
            progress.inc(1);
            result
        })
        .collect();
    progress.finish_and_clear();
    join(inputs, results, config, selector)
}

/// The sequential pass: duplicates across inputs, then 4104 parts across inputs.
fn join<Sel: Selector>(
    inputs: &[Input],
    mut results: Vec<InputResult<Sel::State, Sel::Item>>,
    config: &ScanConfig,
    selector: &Sel,
) -> ScanResult<Sel::State, Sel::Item> {
    let mut stats = ScanStats::default();
    // Tenant attribution: a census per folder (the inputs of one folder are one tenant's
    // export, or several tenants' that the records themselves tell apart).
    let mut folders: BTreeMap<PathBuf, TenantCensus> = BTreeMap::new();
    for (input, result) in inputs.iter().zip(&results) {
        folders
            .entry(folder(input))
            .or_default()
            .merge(&result.tenants);
    }
    // A record naming no tenant is the same record in another input only if both take
    // their tenant from the same tenants (the same record id in two tenants' folders
    // is two records; in one tenant's overlapping exports, one).
    // Per distinct folder: a case folder holds hundreds of inputs in a few folders.
    let mut enclosing_of: HashMap<PathBuf, TenantCensus> = HashMap::new();
    let any_tenant = folders.values().any(|c| !c.tenants().is_empty());
    let mut enclosing_cached = |dir: PathBuf| -> TenantCensus {
        if !any_tenant {
            return TenantCensus::default();
        }
        enclosing_of
            .entry(dir)
            .or_insert_with_key(|dir| enclosing(&folders, dir))
            .clone()
    };
    let scopes: Vec<String> = inputs
        .iter()
        .map(|input| {
            let census = enclosing_cached(folder(input));
            census
                .tenants()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let scope_of = |index: usize| scopes.get(index).map_or("", String::as_str);
    let mut seen = IdentitySet::default();
    let mut normalizer = Normalizer::new(config.normalize.clone());
    let mut holder: HashMap<Origin, usize> = HashMap::new();
    let mut parts = Vec::new();
    for (index, result) in results.iter_mut().enumerate() {
        stats.script_blocks.add(&result.normalize);
        let scope = scope_of(index);
        let named = std::mem::take(&mut result.seen);
        let tenantless = std::mem::take(&mut result.tenantless);
        let before: IdentitySet = named
            .iter()
            .filter(|key| seen.contains(key))
            .chain(
                tenantless
                    .iter()
                    .filter(|key| seen.contains(&trustpath_event::scoped_digest(*key, scope))),
            )
            .collect();
        if !before.is_empty() {
            let selected = std::mem::take(&mut result.selected);
            let keys = std::mem::take(&mut result.selected_keys);
            for (item, key) in selected.into_iter().zip(keys) {
                if !before.contains(&key) {
                    result.selected.push(item);
                    result.selected_keys.push(key);
                }
            }
            result.held.retain(|(_, key)| !before.contains(key));
            result.summary.duplicates += before.len() as u64;
            stats.duplicates += before.len() as u64;
        }
        stats.duplicates += result.summary.duplicates - before.len() as u64;
        // The input's sets become the run's (moved, not copied, when it is the first):
        // a single input of a million records holds one set of identities, not three.
        if seen.is_empty() {
            seen = named;
        } else {
            seen.extend(named);
        }
        seen.extend(
            tenantless
                .into_iter()
                .map(|key| trustpath_event::scoped_digest(key, scope)),
        );
        result.earlier_duplicates = before;
        for part in std::mem::take(&mut result.pending_parts) {
            holder.insert(part.origin.clone(), index);
            parts.push(part);
        }
    }
    for (index, (input, result)) in inputs.iter().zip(results.iter_mut()).enumerate() {
        let dir = folder(input);
        let census = folders.get(&dir).cloned().unwrap_or_default();
        result.host_tenants = enclosing_cached(dir);
        attribute_held(index, result, &census, selector);
    }
    let mut batch = Vec::new();
    let emit = |batch: &mut Vec<Result<Event, RecordError>>,
                results: &mut Vec<InputResult<Sel::State, Sel::Item>>,
                seen: &mut IdentitySet,
                stats: &mut ScanStats| {
        for item in batch.drain(..) {
            let Ok(event) = item else { continue };
            let Some(&index) = holder.get(&event.origin) else {
                continue;
            };
            let Some(result) = results.get_mut(index) else {
                continue;
            };
            result.summary.add_event(&event);
            let key = trustpath_event::record_digest(&event);
            let effective = if event.tenant().is_none() {
                trustpath_event::scoped_digest(key, scope_of(index))
            } else {
                key
            };
            if !seen.insert(effective) {
                result.summary.duplicates += 1;
                stats.duplicates += 1;
                continue;
            }
            select_one(index, result, selector, Arc::new(event), key);
        }
    };
    for part in parts {
        normalizer.push_event(part, &mut batch);
        emit(&mut batch, &mut results, &mut seen, &mut stats);
    }
    normalizer.finish(&mut batch);
    emit(&mut batch, &mut results, &mut seen, &mut stats);
    stats.script_blocks.add(normalizer.stats());
    ScanResult {
        inputs: results,
        stats,
    }
}

/// Observe, select and keep one event outside the chunked path (cross-input pass).
fn select_one<Sel: Selector>(
    index: usize,
    result: &mut InputResult<Sel::State, Sel::Item>,
    selector: &Sel,
    event: Arc<Event>,
    key: u128,
) {
    selector.observe(index, &mut result.state, &event);
    if let Some(item) = selector.select(index, &event)
        && let Some(kept) =
            selector.keep(index, &mut result.state, selector.settle(index, item), key)
    {
        result.selected.push(kept);
        result.selected_keys.push(key);
    }
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

/// Attribute the held-back records of one input and hand them to the selector.
fn attribute_held<Sel: Selector>(
    index: usize,
    result: &mut InputResult<Sel::State, Sel::Item>,
    census: &TenantCensus,
    selector: &Sel,
) {
    for (mut event, key) in std::mem::take(&mut result.held) {
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
        select_one(index, result, selector, Arc::new(event), key);
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

/// Read, normalize and select one input on its own: script blocks still incomplete at
/// its end are flushed as incomplete (see [`scan`] for joining them across inputs), and
/// records repeated inside it are kept once.
pub fn scan_one<Sel: Selector>(
    input: &Input,
    config: &ScanConfig,
    selector: &Sel,
) -> InputResult<Sel::State, Sel::Item> {
    let mut result = scan_partial(0, input, config, &AtomicUsize::new(0), selector);
    let mut normalizer = Normalizer::new(config.normalize.clone());
    let mut batch = Vec::new();
    let mut stage = Stage::inline(0, selector);
    for part in std::mem::take(&mut result.pending_parts) {
        normalizer.push_event(part, &mut batch);
        drain(&mut batch, &mut result, &mut stage, config);
    }
    normalizer.finish(&mut batch);
    drain(&mut batch, &mut result, &mut stage, config);
    stage.finish(&mut result, config);
    result.normalize.add(normalizer.stats());
    let census = result.tenants.clone();
    result.host_tenants = census.clone();
    attribute_held(0, &mut result, &census, selector);
    selector.input_done(0, &mut result.state);
    result
}

/// Read, normalize and select one input, keeping the script-block parts still waiting at
/// its end in `pending_parts`, as long as the parts every input hands over
/// (`handed_over`, in bytes) stay within `max_pending_script_block_bytes`; beyond that
/// this input's parts are flushed as incomplete here (counted as evicted).
fn scan_partial<Sel: Selector>(
    index: usize,
    input: &Input,
    config: &ScanConfig,
    handed_over: &AtomicUsize,
    selector: &Sel,
) -> InputResult<Sel::State, Sel::Item> {
    let mut result = InputResult {
        state: Sel::State::default(),
        summary: FileSummary::new(input.name()),
        errors: Vec::new(),
        selected: Vec::new(),
        selected_keys: Vec::new(),
        seen: IdentitySet::default(),
        tenantless: IdentitySet::default(),
        earlier_duplicates: IdentitySet::default(),
        pending_parts: Vec::new(),
        normalize: NormalizeStats::default(),
        tenants: TenantCensus::default(),
        host_tenants: TenantCensus::default(),
        held: Vec::new(),
    };
    let mut normalizer = Normalizer::new(config.normalize.clone());
    let mut batch = Vec::new();
    let stopped = || config.memory.as_ref().is_some_and(|m| m.is_stopped());
    // Reading and normalizing (here) overlap with matching the previous chunk (pool).
    rayon::in_place_scope(|scope| {
        let mut stage = Stage {
            scope: Some(scope),
            ..Stage::inline(index, selector)
        };
        trustpath_read::read_input(input, &config.read, &mut |item| {
            // Past the memory budget the rest of the input is not analysed (the budget
            // says where it stopped).
            if stopped() {
                return;
            }
            match item {
                Ok(raw) => {
                    normalizer.push(raw, &mut batch);
                    drain(&mut batch, &mut result, &mut stage, config);
                }
                Err(error) => keep_error(&mut result, config, error),
            }
        });
        stage.finish(&mut result, config);
    });
    if stopped() {
        result.normalize = *normalizer.stats();
        return result;
    }
    let bytes = normalizer.pending_bytes();
    let budget = config.normalize.max_pending_script_block_bytes;
    let before = handed_over.fetch_add(bytes, Ordering::Relaxed);
    if bytes > 0 && before.saturating_add(bytes) > budget {
        handed_over.fetch_sub(bytes, Ordering::Relaxed);
        let incomplete = normalizer.stats().script_blocks_incomplete;
        normalizer.finish(&mut batch);
        let mut stage = Stage::inline(index, selector);
        drain(&mut batch, &mut result, &mut stage, config);
        stage.finish(&mut result, config);
        result.normalize = *normalizer.stats();
        result.normalize.script_blocks_evicted +=
            result.normalize.script_blocks_incomplete - incomplete;
    } else {
        result.pending_parts = normalizer.take_pending();
        result.normalize = *normalizer.stats();
    }
    result
}

impl<S, T> InputResult<S, T> {
    /// Normalizer counts for this input (4104 reassembly).
    pub fn normalize_stats(&self) -> &NormalizeStats {
        &self.normalize
    }

    /// Whether the record with identity `key` was dropped from this input because an
    /// earlier input (in input order) held it: what a selector passed on (spooled)
    /// for this input must be dropped too.
    pub fn duplicates_earlier_input(&self, key: u128) -> bool {
        self.earlier_duplicates.contains(&key)
    }
}

/// Bookkeeping for freshly normalized events (in record order): counts, identity,
/// held-back records, the census and `observe`; what is left goes to `stage` for
/// selection.
fn drain<Sel: Selector>(
    batch: &mut Vec<Result<Event, RecordError>>,
    result: &mut InputResult<Sel::State, Sel::Item>,
    stage: &mut Stage<'_, '_, Sel>,
    config: &ScanConfig,
) {
    for item in batch.drain(..) {
        match item {
            Ok(event) => {
                result.summary.add_event(&event);
                let key = trustpath_event::record_digest(&event);
                // The same record has the same content, so the same tenant-ness: each
                // identity goes in exactly one of the two sets.
                let new = if event.tenant().is_none() {
                    result.tenantless.insert(key)
                } else {
                    result.seen.insert(key)
                };
                if !new {
                    result.summary.duplicates += 1;
                    continue;
                }
                if event.tenant().is_none() && names_tenant(event.source) {
                    result.held.push((event, key));
                    continue;
                }
                result.tenants.observe(&event);
                stage
                    .selector
                    .observe(stage.index, &mut result.state, &event);
                let bytes = memory::approx_event_bytes(&event);
                stage.push(Arc::new(event), key, bytes, result, config);
            }
            Err(error) => keep_error(result, config, error),
        }
    }
}

/// `select` over a chunk's events, then `settle` over what they gave: on this thread for
/// a chunk that is a pool job of its own (the other chunks in flight keep the other
/// threads busy, [`chunks_in_flight`]), in parallel when `split` and there are many (the
/// cross-input passes, one chunk at a time).
fn select_events<Sel: Selector>(
    selector: &Sel,
    index: usize,
    events: &[(Arc<Event>, u128, u64)],
    split: bool,
) -> Vec<Option<Sel::Item>> {
    let settle = |item: &mut Option<Sel::Item>| {
        if let Some(selected) = item.take() {
            *item = Some(selector.settle(index, selected));
        }
    };
    if split && events.len() >= 64 {
        let mut items: Vec<Option<Sel::Item>> = events
            .par_iter()
            .with_min_len(16)
            .map(|(event, _, _)| selector.select(index, event))
            .collect();
        items.par_iter_mut().with_min_len(16).for_each(settle);
        items
    } else {
        selector.prepare(index, events);
        let done = ChunkDone(selector, index);
        let mut items: Vec<Option<Sel::Item>> = events
            .iter()
            .map(|(event, _, _)| selector.select(index, event))
            .collect();
        drop(done);
        items.iter_mut().for_each(settle);
        items
    }
}

/// Calls [`Selector::chunk_done`] when dropped, also while unwinding.
struct ChunkDone<'a, Sel: Selector>(&'a Sel, usize);

impl<Sel: Selector> Drop for ChunkDone<'_, Sel> {
    fn drop(&mut self) {
        self.0.chunk_done(self.1);
    }
}

/// `keep` a selected chunk in record order, charging the memory budget.
fn keep_events<Sel: Selector>(
    index: usize,
    (events, items): Selected<Sel::Item>,
    result: &mut InputResult<Sel::State, Sel::Item>,
    config: &ScanConfig,
    selector: &Sel,
) {
    for ((event, key, bytes), item) in events.into_iter().zip(items) {
        let Some(item) = item else { continue };
        let Some(kept) = selector.keep(index, &mut result.state, item, key) else {
            continue;
        };
        if let Some(budget) = &config.memory
            && !budget.charge(bytes, &event.origin)
        {
            break;
        }
        result.selected.push(kept);
        result.selected_keys.push(key);
    }
}

fn keep_error<S, T>(result: &mut InputResult<S, T>, config: &ScanConfig, error: RecordError) {
    result.summary.add_error(&error);
    if result.errors.len() < config.max_kept_errors {
        result.errors.push(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn jobs_in_flight_come_back_in_hand_over_order() {
        // Later jobs finish first; results still come back oldest first, and none is
        // lost between `hand_over` and `finish`.
        for depth in [1, 2, 4] {
            let mut got = Vec::new();
            rayon::in_place_scope(|scope| {
                let mut in_flight = InFlight::with_depth(depth);
                for n in 0..20u64 {
                    let job = move || {
                        std::thread::sleep(std::time::Duration::from_millis(20 - n));
                        n
                    };
                    got.extend(in_flight.hand_over(scope, job));
                }
                while !in_flight.is_empty() {
                    got.extend(in_flight.finish());
                }
            });
            assert_eq!(got, (0..20).collect::<Vec<u64>>(), "depth {depth}");
        }
    }

    /// A fresh folder under the system temp dir for one test.
    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("trustpath-pipeline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_default();
        dir
    }

    /// A flat (NXLog) 4104 part.
    fn part(record: u64, number: u32, text: &str) -> String {
        format!(
            "{{\"EventID\":4104,\"Channel\":\"Microsoft-Windows-PowerShell/Operational\",\
             \"Hostname\":\"WS-LAB-03.tailwind.local\",\"EventTime\":\"2025-05-01T23:59:5{record}Z\",\
             \"RecordNumber\":{record},\"EventRecordID\":{record},\"MessageNumber\":{number},\"MessageTotal\":2,\
             \"ScriptBlockId\":\"0d9c8b7a-6f5e-4d3c-8b2a-190817263544\",\"ScriptBlockText\":\"{text}\"}}\n"
        )
    }

    fn ual(id: &str) -> String {
        format!(
            "{{\"CreationTime\":\"2025-05-01T10:00:00\",\"Id\":\"{id}\",\"Operation\":\"MailItemsAccessed\",\
             \"OrganizationId\":\"2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6\",\"RecordType\":50,\
             \"UserId\":\"j.doe@tailwind.com\",\"Workload\":\"Exchange\"}}\n"
        )
    }

    fn run(inputs: &[Input], config: &ScanConfig) -> (Vec<String>, ScanStats) {
        let result = scan(inputs, config, |e| Some(e.record_key()));
        let stats = result.stats;
        let (mut keys, _) = result.into_parts();
        keys.sort();
        (keys, stats)
    }

    #[test]
    fn duplicates_across_inputs_count_once_and_parts_join_in_any_order() {
        let dir = folder("join");
        let a = dir.join("day1.jsonl");
        let b = dir.join("day2.jsonl");
        std::fs::write(&a, ual("u-1") + &ual("u-2") + &part(1, 1, "Add-Mailbox"))
            .unwrap_or_default();
        std::fs::write(&b, ual("U-2") + &ual("u-3") + &part(2, 2, "Permission x"))
            .unwrap_or_default();
        let config = ScanConfig::default();
        let ab = [Input::File(a.clone()), Input::File(b.clone())];
        let ba = [Input::File(b), Input::File(a)];
        let (keys, stats) = run(&ab, &config);
        assert_eq!(
            keys.len(),
            4,
            "three UAL records and one script block: {keys:?}"
        );
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stats.script_blocks.script_blocks_reassembled, 1);
        assert_eq!(stats.script_blocks.script_blocks_incomplete, 0);
        assert_eq!(run(&ba, &config).0, keys, "input order changes nothing");
        // Over the handed-over bytes budget, parts are flushed as incomplete and counted.
        let tight = ScanConfig {
            normalize: NormalizeOptions {
                max_pending_script_block_bytes: 600,
                ..NormalizeOptions::default()
            },
            ..ScanConfig::default()
        };
        let (keys, stats) = run(&ab, &tight);
        assert_eq!(keys.len(), 5, "{keys:?}");
        assert!(stats.script_blocks.script_blocks_evicted >= 1, "{stats:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// One large input is matched on several threads at once (each chunk is one job, and
    /// [`chunks_in_flight`] of them are on the pool), and its items still come back in
    /// record order.
    #[test]
    fn one_input_is_selected_on_every_thread_in_record_order() {
        let dir = folder("one-input");
        let file = dir.join("big.jsonl");
        let events = 16 * CHUNK_EVENTS;
        let text: String = (0..events).map(|n| ual(&format!("u-{n:05}"))).collect();
        std::fs::write(&file, text).unwrap_or_default();
        let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(4).build() else {
            panic!("no thread pool");
        };
        let threads = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let result = pool.install(|| {
            assert_eq!(chunks_in_flight(), 8);
            scan(&[Input::File(file.clone())], &ScanConfig::default(), |e| {
                if let Ok(mut seen) = threads.lock() {
                    seen.insert(rayon::current_thread_index());
                }
                std::thread::sleep(std::time::Duration::from_micros(20));
                Some(e.record_key())
            })
        });
        let (keys, _) = result.into_parts();
        assert_eq!(keys.len(), events);
        let ids: Vec<String> = (0..events).map(|n| format!("u-{n:05}")).collect();
        assert!(
            keys.iter().zip(&ids).all(|(key, id)| key.contains(id)),
            "record order: {:?}",
            &keys[..3]
        );
        let seen = threads.lock().map(|t| t.len()).unwrap_or(0);
        assert!(seen >= 2, "selected on {seen} thread(s)");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
