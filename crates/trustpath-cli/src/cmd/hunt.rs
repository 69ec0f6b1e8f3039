//! `trustpath hunt`: read everything, run the detections, print findings and a summary.

use crate::args::{FormatArg, HuntArgs, InputArgs, RuleArgs};
use crate::exit;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use trustpath_analytics::{Baseline, Detector, DetectorOptions, LoadProblems, Matched};
use trustpath_assurance::{CoverageCollector, CoverageOptions, CoverageReport};
use trustpath_event::{FileSummary, RecordError, RunSummary, ScriptBlockCounts};
use trustpath_report::{Finding, Level, OutputFormat};

/// Everything a hunt produced.
pub struct HuntRun {
    /// Findings, sorted.
    pub findings: Vec<Finding>,
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
}

#[derive(Default)]
struct InputState {
    baseline: Baseline,
    coverage: Option<CoverageCollector>,
}

/// Run a hunt: load rules and context, scan the inputs in parallel, correlate, tune.
pub fn execute(
    input: &InputArgs,
    rules: &RuleArgs,
    progress: bool,
    with_coverage: bool,
) -> anyhow::Result<HuntRun> {
    let contexts = super::load_contexts(rules.context.as_deref(), &input.paths)?;
    let mut detectors = Vec::with_capacity(contexts.contexts.len());
    let mut problems = None;
    for (context, _, _) in &contexts.contexts {
        let (detector, loaded) = Detector::build(DetectorOptions {
            builtin: !rules.no_builtin,
            rule_paths: rules.rules.clone(),
            context: context.clone(),
            mapping: rules.mapping.clone(),
            placeholders: rules.placeholders.clone(),
        });
        problems.get_or_insert(loaded);
        detectors.push(detector);
    }
    let problems = problems.unwrap_or_default();
    let (inputs, missing, ignored) =
        super::expand_with(input, contexts.contexts.iter().map(|(c, _, _)| c));
    let assigned: Vec<usize> = inputs.iter().map(|i| contexts.for_input(i)).collect();
    let all: Vec<&trustpath_context::Context> =
        contexts.contexts.iter().map(|(c, _, _)| c).collect();
    let config = super::scan_config(input, &all, progress);
    let mut result = trustpath_pipeline::scan_indexed(
        &inputs,
        &config,
        |index, state: &mut InputState, event| {
            state.baseline.observe_event(&event);
            if with_coverage {
                state
                    .coverage
                    .get_or_insert_with(CoverageCollector::default)
                    .observe(&event);
            }
            let which = assigned.get(index).copied().unwrap_or(0);
            detectors
                .get(which)
                .and_then(|d| d.match_shared(event))
                .map(|m| (which, m))
        },
    );
    // Host events name no tenant: they take the tenant of their folder's records.
    for input in &mut result.inputs {
        for (which, m) in &mut input.selected {
            if let Some(detector) = detectors.get(*which) {
                detector.attribute(m, &input.host_tenants);
            }
        }
    }
    let mut summary = RunSummary::default();
    let mut errors: Vec<RecordError> = missing.clone();
    if !missing.is_empty() {
        let mut unusable = FileSummary::new("(arguments)");
        missing.iter().for_each(|e| unusable.add_error(e));
        summary.files.push(unusable);
    }
    summary.files.extend(result.summaries());
    summary.incomplete = config.memory.as_ref().and_then(|m| m.exhausted());
    let sb = result.stats.script_blocks;
    summary.script_blocks = ScriptBlockCounts {
        reassembled: sb.script_blocks_reassembled,
        incomplete: sb.script_blocks_incomplete,
        evicted: sb.script_blocks_evicted,
        duplicate_parts: sb.script_block_parts_ignored,
        conflicting_parts: sb.script_block_parts_conflicting,
    };
    errors.extend(result.errors().cloned());
    let (matched, states): (Vec<(usize, Matched)>, Vec<InputState>) = result.into_parts();
    let mut baseline = Baseline::default();
    let mut coverage = with_coverage.then(CoverageCollector::default);
    for state in states {
        baseline.merge(state.baseline);
        if let (Some(all), Some(one)) = (coverage.as_mut(), state.coverage) {
            all.merge(one);
        }
    }
    summary.matched = matched.len() as u64;
    let mut by_context: Vec<Vec<Matched>> = detectors.iter().map(|_| Vec::new()).collect();
    for (which, m) in matched {
        if let Some(group) = by_context.get_mut(which) {
            group.push(m);
        }
    }
    let mut findings = Vec::new();
    for (detector, group) in detectors.iter().zip(by_context) {
        if group.is_empty() {
            continue;
        }
        let outcome = detector.findings(group, &baseline);
        summary.late += outcome.stats.late;
        summary.evicted += outcome.stats.evicted_events;
        findings.extend(outcome.findings);
    }
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    summary.findings = findings.len() as u64;
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
    Ok(HuntRun {
        findings,
        summary,
        errors,
        problems,
        context_path,
        context_notes: contexts.notes,
        ignored,
        coverage,
    })
}

/// Run the command.
pub fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let progress = std::io::stderr().is_terminal() && !args.quiet;
    let format = output_format(&args);
    let run = execute(&args.input, &args.rules, progress, format == Output::Html)?;
    write_output(&args, format, &run)?;
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_vec_pretty(&run.summary)?)?;
    }
    if !args.quiet {
        print_run(
            &mut crate::summary::TerminalSafe(std::io::stderr()),
            &run,
            args.input.show_errors,
        )?;
    }
    Ok(exit_code(&args, &run))
}

/// The stderr report of a run: context, ignored files, rule problems, summary.
pub fn print_run(out: &mut dyn Write, run: &HuntRun, show_errors: usize) -> std::io::Result<()> {
    if run.context_notes.is_empty()
        && let Some(path) = &run.context_path
    {
        writeln!(out, "context {}", path.display())?;
    }
    for note in &run.context_notes {
        writeln!(out, "{note}")?;
    }
    if !run.ignored.is_empty() {
        let names: Vec<String> = run
            .ignored
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        writeln!(
            out,
            "ignored {} non-log files: {}",
            names.len(),
            names.join(", ")
        )?;
    }
    report_problems(out, &run.problems)?;
    let refs: Vec<&RecordError> = run.errors.iter().collect();
    crate::summary::print(out, &run.summary, &refs, show_errors)?;
    print_severity_line(out, &run.findings)?;
    if let Some(why) = &run.summary.incomplete {
        writeln!(
            out,
            "error: INCOMPLETE RUN: {why}; the findings above are from the input read until then"
        )?;
    }
    Ok(())
}

fn exit_code(args: &HuntArgs, run: &HuntRun) -> ExitCode {
    if run.summary.incomplete.is_some() {
        return ExitCode::from(exit::INCOMPLETE);
    }
    let problems = &run.problems;
    let hard_problems = problems.rules.iter().filter(|p| !p.is_warning()).count()
        + problems.correlations.len()
        + problems.analytics.len();
    if args.input.strict && (run.summary.skipped() > 0 || hard_problems > 0) {
        return ExitCode::from(exit::STRICT_INPUT_ERRORS);
    }
    if let Some(level) = &args.fail_on {
        let threshold = Level::from_sigma(Some(level));
        let hit = run
            .findings
            .iter()
            .any(|f| f.authorized.is_none() && f.severity.level >= threshold);
        if hit {
            return ExitCode::from(exit::FINDINGS);
        }
    }
    ExitCode::from(exit::OK)
}

/// Rules that did not load: each one with where and why.
pub fn report_problems(out: &mut dyn Write, problems: &LoadProblems) -> std::io::Result<()> {
    for problem in &problems.analytics {
        writeln!(out, "analytic not loaded: {problem}")?;
    }
    for error in problems.rules.iter().filter(|p| !p.is_warning()) {
        writeln!(out, "rule not loaded: {error}")?;
    }
    for error in &problems.correlations {
        writeln!(out, "correlation not loaded: {error}")?;
    }
    Ok(())
}

fn print_severity_line(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    let count = |pred: &dyn Fn(&Finding) -> bool| findings.iter().filter(|f| pred(f)).count();
    writeln!(
        out,
        "findings: {} critical, {} high, {} medium, {} low/info; {} authorised, {} hunting leads",
        count(&|f| f.severity.level == Level::Critical),
        count(&|f| f.severity.level == Level::High),
        count(&|f| f.severity.level == Level::Medium),
        count(&|f| f.severity.level <= Level::Low),
        count(&|f| f.authorized.is_some()),
        count(&|f| f.kind == trustpath_report::FindingKind::HuntingLead),
    )
}

/// Where findings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Report(OutputFormat),
    Html,
}

fn output_format(args: &HuntArgs) -> Output {
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    match args.format {
        Some(FormatArg::Table) => Output::Report(OutputFormat::Table),
        Some(FormatArg::Jsonl) => Output::Report(OutputFormat::Jsonl),
        Some(FormatArg::Csv) => Output::Report(OutputFormat::Csv),
        Some(FormatArg::Ocsf) => Output::Report(OutputFormat::Ocsf),
        Some(FormatArg::Html) => Output::Html,
        None if to_terminal => Output::Report(OutputFormat::Table),
        None => Output::Report(OutputFormat::Jsonl),
    }
}

fn write_output(args: &HuntArgs, format: Output, run: &HuntRun) -> anyhow::Result<()> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let written = match format {
        Output::Report(f) => trustpath_report::write_findings(&mut out, f, &run.findings),
        Output::Html => {
            let html = trustpath_assurance::html::render(
                &run.findings,
                &run.summary,
                run.coverage.as_ref(),
            );
            out.write_all(html.as_bytes())
        }
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
