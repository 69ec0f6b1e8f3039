//! `trustpath hunt`: read everything, run the detections, print findings and a summary.

use crate::args::{FormatArg, HuntArgs};
use crate::exit;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use trustpath_analytics::{Baseline, Detector, DetectorOptions, LoadProblems, Matched};
use trustpath_event::{FileSummary, RecordError, RunSummary};
use trustpath_report::{Finding, Level, OutputFormat};

/// Run the command.
pub fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let (context, context_path) =
        super::load_context(args.rules.context.as_deref(), &args.input.paths)?;
    let (detector, problems) = Detector::build(DetectorOptions {
        builtin: !args.rules.no_builtin,
        rule_paths: args.rules.rules.clone(),
        context,
        mapping: args.rules.mapping.clone(),
    });
    let (inputs, missing, ignored) = super::expand(&args.input, Some(detector.context()));
    let progress = std::io::stderr().is_terminal() && !args.quiet;
    let config = super::scan_config(&args.input, progress);
    let result = trustpath_pipeline::scan(&inputs, &config, |baseline: &mut Baseline, event| {
        if let Some(actor) = event.actor() {
            baseline.observe(actor, event.time);
        }
        detector.match_shared(event)
    });

    let mut summary = RunSummary::default();
    let mut errors: Vec<RecordError> = missing.clone();
    if !missing.is_empty() {
        let mut unusable = FileSummary::new("(arguments)");
        missing.iter().for_each(|e| unusable.add_error(e));
        summary.files.push(unusable);
    }
    summary.files.extend(result.summaries());
    errors.extend(result.errors().cloned());
    let (matched, baselines): (Vec<Matched>, Vec<Baseline>) = result.into_parts();
    let mut baseline = Baseline::default();
    baselines.into_iter().for_each(|b| baseline.merge(b));
    summary.matched = matched.len() as u64;

    let outcome = detector.findings(matched, &baseline);
    summary.late = outcome.stats.late;
    summary.evicted = outcome.stats.evicted_events;
    summary.findings = outcome.findings.len() as u64;
    write_output(&args, &outcome.findings)?;
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)?;
    }
    if !args.quiet {
        let stderr = &mut std::io::stderr();
        if let Some(path) = &context_path {
            writeln!(stderr, "context {}", path.display())?;
        }
        if !ignored.is_empty() {
            let names: Vec<String> = ignored.iter().map(|p| p.display().to_string()).collect();
            writeln!(
                stderr,
                "ignored {} non-log files: {}",
                ignored.len(),
                names.join(", ")
            )?;
        }
        report_problems(stderr, &problems)?;
        let refs: Vec<&RecordError> = errors.iter().collect();
        crate::summary::print(stderr, &summary, &refs, args.input.show_errors)?;
        print_severity_line(stderr, &outcome.findings)?;
    }
    Ok(exit_code(&args, &summary, &problems, &outcome.findings))
}

fn exit_code(
    args: &HuntArgs,
    summary: &RunSummary,
    problems: &LoadProblems,
    findings: &[Finding],
) -> ExitCode {
    let hard_problems = problems.rules.iter().filter(|p| !p.is_warning()).count()
        + problems.correlations.len()
        + problems.analytics.len();
    if args.input.strict && (summary.skipped() > 0 || hard_problems > 0) {
        return ExitCode::from(exit::STRICT_INPUT_ERRORS);
    }
    if let Some(level) = &args.fail_on {
        let threshold = Level::from_sigma(Some(level));
        let hit = findings
            .iter()
            .any(|f| f.authorized.is_none() && f.severity.level >= threshold);
        if hit {
            return ExitCode::from(exit::FINDINGS);
        }
    }
    ExitCode::from(exit::OK)
}

/// Rules that did not load: a count, and each one with where and why.
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

fn output_format(args: &HuntArgs) -> OutputFormat {
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    match args.format {
        Some(FormatArg::Table) => OutputFormat::Table,
        Some(FormatArg::Jsonl) => OutputFormat::Jsonl,
        Some(FormatArg::Csv) => OutputFormat::Csv,
        Some(FormatArg::Ocsf) => OutputFormat::Ocsf,
        None if to_terminal => OutputFormat::Table,
        None => OutputFormat::Jsonl,
    }
}

fn write_output(args: &HuntArgs, findings: &[Finding]) -> anyhow::Result<()> {
    let format = output_format(args);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let written =
        trustpath_report::write_findings(&mut out, format, findings).and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
