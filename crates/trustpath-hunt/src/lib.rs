//! The one hunt: read → normalize (tenant attribution, 4104 reassembly across inputs) →
//! match → correlate → tune → findings. `trustpath hunt`, `respond`, the tests and the
//! benches call [`hunt`] or [`hunt_collect`]; nothing else orchestrates these stages.
//!
//! # Flow
//!
//! 1. Contexts ([`inputs::load_contexts`]) and one [`Detector`] per context.
//! 2. [`trustpath_pipeline::scan_with`] reads every input (one task per input, matching
//!    in parallel chunks within an input) with a selector that observes first-seen
//!    actors and coverage, matches every event and splits each match
//!    ([`Detector::split`]): what an analytic or a correlation needs is **retained**
//!    (charged to the memory budget); matches of stateless user rules go to a per-input
//!    [`spool::Spool`] (memory up to a shared limit, then the run's temporary file).
//! 3. Per input, in input order: spooled matches that an earlier input already held are
//!    dropped, host events are attributed to their folder's tenant (re-matched under it),
//!    and their findings go to the caller's [`FindingSink`] — before the correlation, so
//!    memory never holds them all.
//!
//!    The first input needs neither: no input comes before it, and when no input can name
//!    a tenant ([`trustpath_pipeline::names_no_tenant`], proven from the inputs' bytes
//!    while the rules load) attribution changes nothing. Its stateless findings are then
//!    built on the pool as its chunks are matched and written by the calling thread while
//!    the scan runs (a bounded channel), in the order the spool would have given them:
//!    one big export streams its findings with no spool and no drain after the scan.
//!    When the sink writes a line format ([`FindingSink::encoder`]), the findings are
//!    also encoded on the pool and dropped there; the calling thread copies their bytes.
//!    `jsonl` lines are written from the findings' parts without building them
//!    ([`Detector::stateless_jsonl`], the same bytes: `tests/stateless_jsonl.rs` in
//!    trustpath-analytics).
//! 4. The retained matches of each context go through [`Detector::findings`]
//!    (correlations, the analytics' tuning, folding); those findings, sorted, go to the
//!    sink last.
//!
//! # Guarantees
//!
//! * Same records, same findings and ids, whatever the thread count, the order of inputs
//!   or how the records were split into files (ids hash record identities, never paths).
//! * Memory: retained matches are bounded by the budget (exit "incomplete" past it);
//!   stateless matches are spooled; nothing grows with the number of stateless matches.
//! * Nothing is lost silently: skipped records, unusable inputs, duplicates, unattributed
//!   records, spool errors are all in [`HuntRun`].

pub mod inputs;
pub mod spool;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use trustpath_analytics::{Baseline, Detector, DetectorOptions, LoadProblems, Matched};
use trustpath_assurance::{CoverageCollector, CoverageOptions, CoverageReport};
use trustpath_event::{Event, FileSummary, RecordError, RunSummary, ScriptBlockCounts};
use trustpath_pipeline::Selector;
use trustpath_report::{Encoder, Finding, FindingKind, Level};

pub use inputs::{
    ContextChoice, InputOptions, RunContexts, check_paths, expand, host_time_zones, load_context,
    load_contexts, nearby_context, nothing_to_read, scan_config,
};

/// What to hunt with.
#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    /// Inputs and how to read them.
    pub input: InputOptions,
    /// The context (tickets, partners, tunables).
    pub context: ContextChoice,
    /// User Sigma rule files or folders.
    pub rules: Vec<PathBuf>,
    /// Leave the built-in analytics out.
    pub no_builtin: bool,
    /// A user log-source mapping file.
    pub mapping: Option<PathBuf>,
    /// A placeholder file for `|expand` (`--placeholders`).
    pub placeholders: Option<PathBuf>,
    /// Progress bar on stderr.
    pub progress: bool,
    /// Tally coverage (for the HTML report).
    pub coverage: bool,
    /// Bytes of stateless matches held in memory before spooling to a temporary file
    /// (`None`: [`spool::SPOOL_MEMORY_BYTES`]).
    pub spool_memory: Option<u64>,
    /// Match only events in this time range (`--from`, `--to`; end exclusive). Events
    /// outside it are still read, counted and learned from (first-seen baselines), not
    /// matched; events without a time are left out when a range is given.
    pub range: MatchRange,
    /// Load only user Sigma rules with one of these statuses (`--status`; empty: all).
    pub statuses: Vec<String>,
    /// A file that keeps the parsed YAML of the rule files between runs
    /// (`trustpath_sigma::cache`; the CLI's default, unless `--no-rule-cache`); `None`
    /// parses every file.
    pub rule_cache: Option<PathBuf>,
}

/// `--from` / `--to`: a half-open range of event time; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchRange {
    /// First time matched (inclusive).
    pub from: Option<jiff::Timestamp>,
    /// First time no longer matched (exclusive).
    pub to: Option<jiff::Timestamp>,
}

impl MatchRange {
    /// Whether no bound is set.
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether an event is inside the range (every event, when it is open).
    pub fn contains(&self, event: &Event) -> bool {
        if self.is_open() {
            return true;
        }
        if event.time_missing() {
            return false;
        }
        let time = event.time;
        self.from.is_none_or(|from| time >= from) && self.to.is_none_or(|to| time < to)
    }
}

/// Where findings go as they are decided.
pub trait FindingSink {
    /// One finding.
    fn finding(&mut self, finding: Finding) -> std::io::Result<()>;

    /// The [`Encoder`] of a sink that writes each finding as bytes of its own (JSON
    /// Lines, OCSF): the findings written while the scan runs are then encoded on the
    /// pool, where they were built, and the sink gets their bytes
    /// ([`FindingSink::encoded`]). `None` (the default): the sink gets every finding.
    fn encoder(&self) -> Option<Encoder> {
        None
    }

    /// The bytes this sink's [`encoder`](FindingSink::encoder) made for one finding, with
    /// what its counts and thresholds read from it. Called only when `encoder` gave one.
    fn encoded(&mut self, meta: FindingMeta, bytes: &[u8]) -> std::io::Result<()> {
        let _ = (meta, bytes);
        Err(std::io::Error::other(
            "this sink takes findings, not encoded bytes",
        ))
    }
}

/// What a run's counts and `--fail-on` read from a finding: kept with its bytes when the
/// finding itself was encoded and dropped on the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingMeta {
    /// Its severity.
    pub level: Level,
    /// Whether a ticket or approval authorises it.
    pub authorized: bool,
    /// Whether it is a hunting lead.
    pub lead: bool,
}

impl FindingMeta {
    /// The meta of `finding`.
    pub fn of(finding: &Finding) -> Self {
        FindingMeta {
            level: finding.severity.level,
            authorized: finding.authorized.is_some(),
            lead: finding.kind == FindingKind::HuntingLead,
        }
    }

    /// Whether the finding is open (not authorised) and at least `level`.
    pub fn is_open_at_least(&self, level: Level) -> bool {
        !self.authorized && self.level >= level
    }
}

impl FindingSink for Vec<Finding> {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        self.push(finding);
        Ok(())
    }
}

impl<F: FnMut(Finding) -> std::io::Result<()>> FindingSink for F {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        self(finding)
    }
}

/// Counts of the findings a run produced (every one, streamed or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingCounts {
    /// All findings.
    pub total: u64,
    /// Critical.
    pub critical: u64,
    /// High.
    pub high: u64,
    /// Medium.
    pub medium: u64,
    /// Low and informational.
    pub low: u64,
    /// Authorised by a ticket or approval.
    pub authorised: u64,
    /// Hunting leads.
    pub leads: u64,
}

impl FindingCounts {
    /// Gives `finding` to `sink`, counted: every finding a hunt writes goes through
    /// here, so the summary counts what was written.
    pub fn write(&mut self, sink: &mut dyn FindingSink, finding: Finding) -> std::io::Result<()> {
        self.add(FindingMeta::of(&finding));
        sink.finding(finding)
    }

    /// Gives the encoded bytes of one finding to `sink`, counted as [`FindingCounts::write`]
    /// counts the finding.
    pub fn write_encoded(
        &mut self,
        sink: &mut dyn FindingSink,
        meta: FindingMeta,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        self.add(meta);
        sink.encoded(meta, bytes)
    }

    /// Count one finding.
    fn add(&mut self, meta: FindingMeta) {
        self.total += 1;
        match meta.level {
            Level::Critical => self.critical += 1,
            Level::High => self.high += 1,
            Level::Medium => self.medium += 1,
            _ => self.low += 1,
        }
        if meta.authorized {
            self.authorised += 1;
        }
        if meta.lead {
            self.leads += 1;
        }
    }
}

/// Everything a hunt produced besides the findings given to the sink.
pub struct HuntRun {
    /// Findings kept in memory: every one for [`hunt_collect`] (sorted), none for
    /// [`hunt`] (they went to the sink).
    pub findings: Vec<Finding>,
    /// Counts over every finding.
    pub counts: FindingCounts,
    /// Counts.
    pub summary: RunSummary,
    /// Skipped records (the first ones per input).
    pub errors: Vec<RecordError>,
    /// Rules that did not load.
    pub problems: LoadProblems,
    /// The context file used, if any (the first, when there are one per folder).
    pub context_path: Option<PathBuf>,
    /// Which context applies where, when there are several.
    pub context_notes: Vec<String>,
    /// Files left out as not logs.
    pub ignored: Vec<PathBuf>,
    /// Coverage, when asked for.
    pub coverage: Option<CoverageReport>,
    /// Stateless matches that went through the spool.
    pub spooled: u64,
    /// Problems of the spool (a temporary file that could not be written or read).
    pub spool_errors: Vec<String>,
    /// Stateless findings written while the scan ran (crate docs, step 3).
    pub streamed: u64,
}

/// Spooled matches turned into findings together (in parallel), before the sink gets
/// them in record order.
const DRAIN_BATCH: usize = 2048;

/// A spool batch decided: per match, what stays retained and its stateless findings (or
/// why its spool entry could not be read back).
type Decided = Vec<Result<(Option<Matched>, ToSink), String>>;

/// Findings written while the scan runs go to the calling thread in batches of this
/// many (or a few more: a match's findings stay together), at most [`EARLY_BATCHES`]
/// batches waiting.
const EARLY_BATCH: usize = 512;

/// Batches of findings waiting for the calling thread before the input's reader waits.
const EARLY_BATCHES: usize = 8;

/// Per-input state of the hunt's selector.
#[derive(Default)]
struct InputState {
    baseline: Baseline,
    coverage: Option<CoverageCollector>,
    spool: spool::Spool,
    matched: u64,
    /// Findings decided during the scan, not yet handed to the calling thread.
    early: Vec<ToSink>,
    /// How many findings `early` holds.
    early_findings: usize,
}

/// What `select` hands `keep`.
enum Picked {
    /// A match, split by `keep`: retained, or spooled until the scan has decided
    /// duplicates and tenants.
    Match(Matched),
    /// A match of the input whose stateless findings are written while the scan runs:
    /// those findings (built on the pool) and what must be retained.
    Decided {
        retained: Option<Matched>,
        findings: ToSink,
    },
}

/// The stateless findings of one match, decided on the pool (while the scan runs, or
/// draining the spool after it), as the calling thread gives them to the sink.
enum ToSink {
    /// The findings.
    Findings(Vec<Finding>),
    /// What the sink's [`Encoder`] made of them on the pool, one after the other, and
    /// per finding its meta and where its bytes end. The findings were dropped where
    /// they were built: serializing them on the calling thread, and freeing there a
    /// finding's many small allocations made on another, cost 6 % of the CPU of a hunt
    /// with SigmaHQ's rules that writes a finding and a half per event.
    Encoded {
        bytes: Vec<u8>,
        ends: Vec<(FindingMeta, usize)>,
    },
}

impl ToSink {
    /// `findings` encoded with `encoder` (as they are, if one fails to encode).
    fn encode(findings: Vec<Finding>, encoder: Option<Encoder>) -> Self {
        let Some(encode) = encoder else {
            return ToSink::Findings(findings);
        };
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(findings.len());
        for finding in &findings {
            if encode.encode(finding, &mut bytes).is_err() {
                return ToSink::Findings(findings);
            }
            ends.push((FindingMeta::of(finding), bytes.len()));
        }
        ToSink::Encoded { bytes, ends }
    }

    /// What becomes of `matched` now: the part that waits for other events, and the
    /// findings of the rest, encoded with `encoder`. The `jsonl` lines are written
    /// straight from the findings' parts ([`Detector::stateless_jsonl`]), the same bytes
    /// without building each finding; where that fails, the findings are built.
    fn decide(
        detector: &Detector,
        matched: Matched,
        encoder: Option<Encoder>,
    ) -> (Option<Matched>, Self) {
        let (retained, stateless) = detector.split(matched);
        let Some(stateless) = stateless else {
            return (retained, ToSink::encode(Vec::new(), encoder));
        };
        if encoder == Some(Encoder::Jsonl) {
            // Sized for the usual line (1–2 KiB for a Sysmon event), so that writing the
            // event's lines does not grow the buffer (and copy it) several times.
            let rules = stateless.rules.len();
            let mut bytes = Vec::with_capacity(rules * LINE_BYTES);
            let mut levels = Vec::with_capacity(rules);
            if detector
                .stateless_jsonl(&stateless, &mut bytes, &mut levels)
                .is_ok()
            {
                let ends = levels
                    .into_iter()
                    .map(|(level, end)| {
                        let meta = FindingMeta {
                            level,
                            authorized: false,
                            lead: false,
                        };
                        (meta, end)
                    })
                    .collect();
                return (retained, ToSink::Encoded { bytes, ends });
            }
        }
        let findings = detector.stateless_findings(&stateless);
        (retained, ToSink::encode(findings, encoder))
    }

    fn len(&self) -> usize {
        match self {
            ToSink::Findings(findings) => findings.len(),
            ToSink::Encoded { ends, .. } => ends.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives each finding to `sink` in order, counted, until one fails.
    fn write(self, sink: &mut dyn FindingSink, counts: &mut FindingCounts) -> std::io::Result<()> {
        match self {
            ToSink::Findings(findings) => {
                for finding in findings {
                    counts.write(sink, finding)?;
                }
            }
            ToSink::Encoded { bytes, ends } => {
                let mut start = 0;
                for (meta, end) in ends {
                    counts.write_encoded(sink, meta, bytes.get(start..end).unwrap_or(&[]))?;
                    start = end;
                }
            }
        }
        Ok(())
    }
}

/// Bytes reserved per finding line of an event written as found ([`ToSink::decide`]).
const LINE_BYTES: usize = 2048;

/// The input whose stateless findings are written while the scan runs, the channel to
/// the calling thread (closed when the scan ends), and the sink's encoder.
struct Early {
    input: usize,
    to_sink: std::sync::Mutex<Option<std::sync::mpsc::SyncSender<Vec<ToSink>>>>,
    encoder: Option<Encoder>,
}

struct HuntSelector<'a> {
    detectors: &'a [Detector],
    assigned: &'a [usize],
    coverage: bool,
    /// Whether an analytic is loaded: only analytics read the first-seen baseline, so a
    /// hunt with user rules alone does not build it.
    baseline: bool,
    spool: spool::SpoolShared,
    range: MatchRange,
    outside_range: AtomicU64,
    early: Option<Early>,
}

impl HuntSelector<'_> {
    fn which(&self, input: usize) -> usize {
        self.assigned.get(input).copied().unwrap_or(0)
    }

    /// The detector of `input`'s context.
    fn detector(&self, input: usize) -> Option<&Detector> {
        self.detectors.get(self.which(input))
    }

    fn is_early(&self, input: usize) -> bool {
        self.early.as_ref().is_some_and(|e| e.input == input)
    }

    /// Hand the findings `state` holds to the calling thread. Kept when the channel is
    /// closed (the scan ended: the caller takes them from the state); dropped when the
    /// calling thread stopped receiving (its sink failed, and the run returns that error).
    fn send_early(&self, state: &mut InputState) {
        let Some(early) = &self.early else { return };
        let Ok(to_sink) = early.to_sink.lock() else {
            return;
        };
        if let Some(to_sink) = to_sink.as_ref() {
            let _ = to_sink.send(std::mem::take(&mut state.early));
            state.early_findings = 0;
        }
    }

    /// Close the channel: the calling thread's loop ends once it has what was sent.
    fn close_early(&self) {
        if let Some(early) = &self.early
            && let Ok(mut to_sink) = early.to_sink.lock()
        {
            to_sink.take();
        }
    }
}

/// Closes the early channel when the scan ends, also when it panics: the calling
/// thread waits on the channel, not on the scan.
struct CloseEarly<'a, 'b>(&'a HuntSelector<'b>);

impl Drop for CloseEarly<'_, '_> {
    fn drop(&mut self) {
        self.0.close_early();
    }
}

impl Selector for HuntSelector<'_> {
    type State = InputState;
    type Item = Picked;

    fn observe(&self, _input: usize, state: &mut InputState, event: &Event) {
        if self.baseline {
            state.baseline.observe_event(event);
        }
        if self.coverage {
            state
                .coverage
                .get_or_insert_with(CoverageCollector::default)
                .observe(event);
        }
    }

    fn select(&self, input: usize, event: &std::sync::Arc<Event>) -> Option<Picked> {
        if !self.range.contains(event) {
            self.outside_range.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.detector(input)?
            .match_shared(std::sync::Arc::clone(event))
            .map(Picked::Match)
    }

    fn prepare(&self, input: usize, events: &[(std::sync::Arc<Event>, u128, u64)]) {
        if let Some(detector) = self.detector(input) {
            detector.prepare(events.iter().map(|(event, _, _)| &**event));
        }
    }

    fn chunk_done(&self, input: usize) {
        if let Some(detector) = self.detector(input) {
            detector.unprepare();
        }
    }

    fn settle(&self, input: usize, picked: Picked) -> Picked {
        if !self.is_early(input) {
            return picked;
        }
        let Picked::Match(matched) = picked else {
            return picked;
        };
        let Some(detector) = self.detector(input) else {
            return Picked::Match(matched);
        };
        // What the drain would do after the scan, here on the pool: the first input
        // has no earlier duplicates, and attribution is proven to change nothing.
        let encoder = self.early.as_ref().and_then(|e| e.encoder);
        let (retained, findings) = ToSink::decide(detector, matched, encoder);
        Picked::Decided { retained, findings }
    }

    fn keep(
        &self,
        input: usize,
        state: &mut InputState,
        picked: Picked,
        key: u128,
    ) -> Option<Picked> {
        state.matched += 1;
        match picked {
            Picked::Match(matched) => {
                let detector = self.detector(input)?;
                let (retained, stateless) = detector.split(matched);
                if let Some(stateless) = stateless {
                    state.spool.push(key, stateless, &self.spool);
                }
                retained.map(Picked::Match)
            }
            Picked::Decided { retained, findings } => {
                if !findings.is_empty() {
                    state.early_findings += findings.len();
                    state.early.push(findings);
                }
                if state.early_findings >= EARLY_BATCH {
                    self.send_early(state);
                }
                retained.map(Picked::Match)
            }
        }
    }

    fn input_done(&self, _input: usize, state: &mut InputState) {
        state.spool.close(&self.spool);
        if !state.early.is_empty() {
            self.send_early(state);
        }
    }
}

/// Run a hunt; findings go to `sink` as they are decided (stateless ones per input in
/// input order, then the correlated and analytic ones, sorted). See the crate docs.
pub fn hunt(options: &HuntOptions, sink: &mut dyn FindingSink) -> anyhow::Result<HuntRun> {
    // Mistakes fail before any work, named: a mistyped input or rule path.
    check_paths("input", &options.input.paths)?;
    check_paths("rule", &options.rules)?;
    let mut contexts = load_contexts(&options.context, &options.input.paths)?;
    if options.no_builtin && contexts.contexts.iter().all(|(_, path, _)| path.is_none()) {
        // Only the user's Sigma rules run: the analytics' context is not missed.
        contexts.notes.clear();
    }
    let (inputs, missing, ignored) = expand(&options.input.paths, contexts.all());
    if inputs.is_empty() && missing.is_empty() {
        return Err(nothing_to_read(&options.input.paths, &ignored));
    }
    // Whether the first input's findings may be written while the scan runs (crate
    // docs), proven from the inputs' bytes while the rules load. Not looked for where it
    // could not be used: without user rules every match is retained (the analytics need
    // state), and a caller on a pool thread would wait on the channel without running
    // the pool jobs the scan waits for.
    let may_stream =
        !options.rules.is_empty() && !inputs.is_empty() && rayon::current_thread_index().is_none();
    let (detectors, problems, early) = std::thread::scope(|scope| {
        let proof = scope.spawn(|| may_stream && trustpath_pipeline::names_no_tenant(&inputs));
        let (detectors, problems) = build_detectors(options, &contexts);
        (detectors, problems, proof.join().unwrap_or(false))
    });
    let assigned: Vec<usize> = inputs.iter().map(|i| contexts.for_input(i)).collect();
    let config = scan_config(&options.input, &contexts.all(), options.progress);
    let (to_sink, from_scan) = std::sync::mpsc::sync_channel(EARLY_BATCHES);
    let encoder = sink.encoder();
    let selector = HuntSelector {
        detectors: &detectors,
        assigned: &assigned,
        coverage: options.coverage,
        baseline: detectors.iter().any(|d| d.analytics().next().is_some()),
        spool: spool::SpoolShared::new(options.spool_memory.unwrap_or(spool::SPOOL_MEMORY_BYTES)),
        range: options.range,
        outside_range: AtomicU64::new(0),
        early: early.then(|| Early {
            input: 0,
            to_sink: std::sync::Mutex::new(Some(to_sink)),
            encoder,
        }),
    };
    let mut counts = FindingCounts::default();
    let mut streamed = 0;
    let mut result = if selector.early.is_some() {
        // The scan runs on a thread of its own; this one writes what it sends.
        let (scanned, written) = std::thread::scope(|scope| {
            let scan = scope.spawn(|| {
                let _close = CloseEarly(&selector);
                trustpath_pipeline::scan_with(&inputs, &config, &selector)
            });
            let mut written: std::io::Result<()> = Ok(());
            // Received to the end even after the sink failed, so the scan never waits.
            for batch in from_scan.iter() {
                for findings in batch {
                    if written.is_ok() {
                        streamed += findings.len() as u64;
                        written = findings.write(sink, &mut counts);
                    }
                }
            }
            (scan.join(), written)
        });
        written?;
        scanned.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    } else {
        drop(from_scan);
        trustpath_pipeline::scan_with(&inputs, &config, &selector)
    };

    let mut summary = RunSummary::default();
    let mut errors: Vec<RecordError> = missing.clone();
    if !missing.is_empty() {
        let mut unusable = FileSummary::new("(arguments)");
        missing.iter().for_each(|e| unusable.add_error(e));
        summary.files.push(unusable);
    }
    summary.files.extend(result.summaries());
    summary.incomplete = config.memory.as_ref().and_then(|m| m.exhausted());
    summary.outside_range = selector.outside_range.load(Ordering::Relaxed);
    let sb = result.stats.script_blocks;
    summary.script_blocks = ScriptBlockCounts {
        reassembled: sb.script_blocks_reassembled,
        incomplete: sb.script_blocks_incomplete,
        evicted: sb.script_blocks_evicted,
        duplicate_parts: sb.script_block_parts_ignored,
        conflicting_parts: sb.script_block_parts_conflicting,
    };
    errors.extend(result.errors().cloned());

    // Stateless findings, input by input: duplicates of earlier inputs dropped, host
    // events attributed to their folder's tenant (which may make a retained rule match).
    let mut spooled = 0;
    let mut spool_errors = Vec::new();
    let mut by_context: Vec<Vec<Matched>> = detectors.iter().map(|_| Vec::new()).collect();
    let mut baseline = Baseline::default();
    let mut coverage = options.coverage.then(CoverageCollector::default);
    for (index, input) in result.inputs.iter_mut().enumerate() {
        let which = assigned.get(index).copied().unwrap_or(0);
        let Some(detector) = detectors.get(which) else {
            continue;
        };
        let state = std::mem::take(&mut input.state);
        summary.matched += state.matched;
        // Findings of the first input decided after it was read (script blocks completed
        // by a later input, attributed cloud records) follow those written during the scan.
        for findings in state.early {
            streamed += findings.len() as u64;
            findings.write(sink, &mut counts)?;
        }
        if selector.is_early(index) && !input.host_tenants.tenants().is_empty() {
            // Cannot happen while `TENANT_KEY_MARKERS` covers every tenant field; never silent.
            spool_errors.push(format!(
                "{}: findings were written before a record naming a tenant was read; their host events are not attributed to it",
                input.summary.file
            ));
        }
        baseline.merge(state.baseline);
        if let (Some(all), Some(one)) = (coverage.as_mut(), state.coverage) {
            all.merge(one);
        }
        spooled += state.spool.len();
        let retained = by_context.get_mut(which);
        let mut extra = Vec::new();
        // Findings of a batch are built on every core while the sink writes those of
        // the batch before, in record order: output never depends on the thread count.
        let shared: &trustpath_pipeline::InputResult<InputState, Picked> = input;
        let decide = |key: u128, mut m: Matched| {
            if shared.duplicates_earlier_input(key) {
                return (None, ToSink::Findings(Vec::new()));
            }
            detector.attribute(&mut m, &shared.host_tenants);
            ToSink::decide(detector, m, encoder)
        };
        let mut unreadable: Option<String> = None;
        let mut emit = |decided: Decided| -> std::io::Result<()> {
            for item in decided {
                match item {
                    Ok((now_retained, findings)) => {
                        extra.extend(now_retained);
                        findings.write(sink, &mut counts)?;
                    }
                    Err(e) => {
                        unreadable.get_or_insert(e);
                    }
                }
            }
            Ok(())
        };
        let outcome = rayon::in_place_scope(|scope| {
            let mut in_flight = trustpath_pipeline::InFlight::<Decided>::default();
            let decide = &decide;
            let drained = state
                .spool
                .drain_batches(&selector.spool, DRAIN_BATCH, &mut |batch| match in_flight
                    .hand_over(scope, move || batch.decide(decide))
                {
                    Some(previous) => emit(previous),
                    None => Ok(()),
                });
            let mut last = Ok(());
            while !in_flight.is_empty() && last.is_ok() {
                last = in_flight.finish().map_or(Ok(()), &mut emit);
            }
            let first_error = drained?;
            last?;
            Ok::<_, std::io::Error>(first_error)
        })?;
        let outcome = outcome.or(unreadable);
        spool_errors.extend(outcome.map(|e| format!("{}: {e}", input.summary.file)));
        // Retained host events take their folder's tenant too (re-matched under it).
        for picked in std::mem::take(&mut input.selected) {
            let Picked::Match(mut m) = picked else {
                continue;
            };
            detector.attribute(&mut m, &input.host_tenants);
            if let (Some(kept), _) = detector.split(m) {
                extra.push(kept);
            }
        }
        if let Some(group) = retained {
            group.append(&mut extra);
        }
    }
    let mut stateful = Vec::new();
    for (detector, group) in detectors.iter().zip(by_context) {
        if group.is_empty() {
            continue;
        }
        let outcome = detector.findings(group, &baseline);
        summary.evicted += outcome.stats.evicted_events;
        stateful.extend(outcome.findings);
    }
    stateful.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    for finding in stateful {
        counts.write(sink, finding)?;
    }
    summary.findings = counts.total;
    let context = detectors
        .first()
        .map(|d| d.context().clone())
        .unwrap_or_default();
    let catalog: Vec<_> = trustpath_analytics::catalog()
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let coverage = coverage.map(|c| c.report(&catalog, &context, &CoverageOptions::default()));
    let context_path = contexts.contexts.iter().find_map(|(_, p, _)| p.clone());
    // Freeing thousands of compiled rules (automatons, regexes) costs about a tenth of
    // loading them: done on a thread of its own, so the caller has the run at once and a
    // command-line run exits without waiting for it. If no thread can be started,
    // `spawn` drops them here.
    let _ = std::thread::Builder::new()
        .name("trustpath-free-rules".into())
        .spawn(move || drop(detectors));
    Ok(HuntRun {
        findings: Vec::new(),
        counts,
        summary,
        errors,
        problems,
        context_path,
        context_notes: contexts.notes,
        ignored,
        coverage,
        spooled,
        spool_errors,
        streamed,
    })
}

/// One [`Detector`] per context (contexts whose rules load the same way share one
/// compiled rule set) and the problems of the rules loaded.
fn build_detectors(options: &HuntOptions, contexts: &RunContexts) -> (Vec<Detector>, LoadProblems) {
    let mut detectors = Vec::with_capacity(contexts.contexts.len());
    let mut problems = None;
    for (context, _, _) in &contexts.contexts {
        let (detector, loaded) = Detector::build_sharing(
            DetectorOptions {
                builtin: !options.no_builtin,
                rule_paths: options.rules.clone(),
                context: context.clone(),
                mapping: options.mapping.clone(),
                placeholders: options.placeholders.clone(),
                statuses: options.statuses.clone(),
                rule_cache: options.rule_cache.clone(),
            },
            trustpath_analytics::Registry::builtin(),
            &detectors,
        );
        problems.get_or_insert(loaded);
        detectors.push(detector);
    }
    (detectors, problems.unwrap_or_default())
}

/// [`hunt`] with every finding kept in memory, sorted by time then id (tables, HTML,
/// `respond`, tests).
pub fn hunt_collect(options: &HuntOptions) -> anyhow::Result<HuntRun> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut run = hunt(options, &mut findings)?;
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    run.findings = findings;
    Ok(run)
}

/// Whether `finding`'s severity is at least `level` and it is not authorised (for
/// `--fail-on`).
pub fn is_open_at_least(finding: &Finding, level: Level) -> bool {
    FindingMeta::of(finding).is_open_at_least(level)
}

/// A sink that passes findings on and notes whether an open one reached `level`
/// (`--fail-on` over streamed findings).
pub struct FailOn<'a> {
    /// The sink findings are passed on to.
    pub inner: &'a mut dyn FindingSink,
    /// Threshold.
    pub level: Option<Level>,
    /// Whether an open finding at or above the threshold was seen.
    pub hit: bool,
}

impl FindingSink for FailOn<'_> {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        if self
            .level
            .is_some_and(|level| is_open_at_least(&finding, level))
        {
            self.hit = true;
        }
        self.inner.finding(finding)
    }

    fn encoder(&self) -> Option<Encoder> {
        self.inner.encoder()
    }

    fn encoded(&mut self, meta: FindingMeta, bytes: &[u8]) -> std::io::Result<()> {
        if self.level.is_some_and(|level| meta.is_open_at_least(level)) {
            self.hit = true;
        }
        self.inner.encoded(meta, bytes)
    }
}

/// Loaded-rule problems that stop `--strict`.
pub fn hard_problem_count(problems: &LoadProblems) -> usize {
    problems.rules.iter().filter(|p| !p.is_warning()).count()
        + problems.correlations.len()
        + problems.analytics.len()
}
