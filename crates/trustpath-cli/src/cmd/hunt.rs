//! `trustpath hunt`: arguments in, findings and a summary out. The hunt itself is
//! [`trustpath_hunt::hunt`] (the same one the service's parity test, `respond`, the tests
//! and the benches run); this module only maps arguments, writes output and picks the
//! exit code.

use crate::args::{ColorArg, FormatArg, HuntArgs, InputArgs, RuleArgs};
use crate::exit;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use trustpath_analytics::LoadProblems;
use trustpath_event::RecordError;
use trustpath_hunt::{FailOn, HuntOptions, HuntRun, InputOptions};
use trustpath_report::{ColorChoice, Finding, Level, OutputFormat, TableOptions};

/// The hunt's options from the CLI's arguments.
pub fn options(input: &InputArgs, rules: &RuleArgs, progress: bool, coverage: bool) -> HuntOptions {
    HuntOptions {
        input: input_options(input),
        context: match &rules.context {
            Some(path) => trustpath_hunt::inputs::ContextChoice::File(path.clone()),
            None => trustpath_hunt::inputs::ContextChoice::Discover,
        },
        rules: rules.rules.clone(),
        no_builtin: rules.no_builtin,
        mapping: rules.mapping.clone(),
        placeholders: rules.placeholders.clone(),
        progress,
        coverage,
        spool_memory: None,
        range: trustpath_hunt::MatchRange::default(),
        statuses: Vec::new(),
        rule_cache: rules.rule_cache(),
    }
}

/// Input arguments as the library's options.
pub fn input_options(input: &InputArgs) -> InputOptions {
    InputOptions {
        paths: input.paths.clone(),
        time_field: input.time_field.clone(),
        show_errors: input.show_errors,
        memory_budget: input.memory_budget,
    }
}

/// Run the command.
pub fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let progress = std::io::stderr().is_terminal() && !args.quiet;
    let format = output_format(&args);
    // The output is opened before the work starts: a bad path fails at once, named.
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path).map_err(
            |e| anyhow::anyhow!("cannot write the output file {}: {e}", path.display()),
        )?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut options = options(&args.input, &args.rules, progress, format == Output::Html);
    options.range = trustpath_hunt::MatchRange {
        from: args.from,
        to: args.to,
    };
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        anyhow::bail!("--from {from} is not before --to {to}: nothing would be matched");
    }
    options.statuses = args.status.clone();
    let threshold = args.fail_on.as_deref().map(|l| Level::from_sigma(Some(l)));
    let min_level = args
        .min_level
        .as_deref()
        .map(|l| Level::from_sigma(Some(l)));
    let mut below = 0u64;
    let (mut run, hit) = match format {
        // The CSV timeline is sorted by evidence time across findings: collected.
        Output::Report(OutputFormat::Csv) => {
            let mut run = trustpath_hunt::hunt_collect(&options)?;
            let hit = threshold.is_some_and(|level| {
                run.findings
                    .iter()
                    .any(|f| trustpath_hunt::is_open_at_least(f, level))
            });
            if let Some(level) = min_level {
                let before = run.findings.len();
                run.findings.retain(|f| f.severity.level >= level);
                below = (before - run.findings.len()) as u64;
            }
            write_collected(&mut out, format, &run, table_options(&args))?;
            (run, hit)
        }
        // Every other format takes findings as they are decided: jsonl and ocsf write
        // each at once, the table and the HTML report keep a bounded set and counts.
        Output::Report(f) => {
            let mut lines = Written {
                writer: trustpath_report::writer(&mut out, f, table_options(&args)),
                min_level,
                below: 0,
            };
            let Some((run, hit)) = streamed(&options, threshold, &mut lines)? else {
                return Ok(ExitCode::from(exit::OK));
            };
            below = lines.below;
            ignore_broken_pipe(lines.writer.finish())?;
            (run, hit)
        }
        Output::Html => {
            let mut report = trustpath_assurance::html::HtmlReport::new();
            let mut add = |finding: Finding| {
                if min_level.is_some_and(|level| finding.severity.level < level) {
                    below += 1;
                } else {
                    report.add(&finding);
                }
                Ok(())
            };
            let Some((run, hit)) = streamed(&options, threshold, &mut add)? else {
                return Ok(ExitCode::from(exit::OK));
            };
            let page = report.render(&run.summary, run.coverage.as_ref());
            ignore_broken_pipe(out.write_all(page.as_bytes()))?;
            (run, hit)
        }
    };
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    drop(out);
    run.summary.below_min_level = below;
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_vec_pretty(&run.summary)?).map_err(|e| {
            anyhow::anyhow!("cannot write the summary file {}: {e}", path.display())
        })?;
    }
    if !args.quiet {
        print_run(
            &mut crate::summary::TerminalSafe(std::io::stderr()),
            &run,
            args.input.show_errors,
        )?;
    }
    Ok(exit_code(&args, &run, hit))
}

/// The findings at or above `--min-level` to a format's writer, the others counted; the
/// line formats' encoder is passed on, so the hunt encodes on its pool.
struct Written<'a> {
    writer: Box<dyn trustpath_report::FindingWriter + 'a>,
    min_level: Option<Level>,
    below: u64,
}

impl Written<'_> {
    fn wanted(&mut self, level: Level) -> bool {
        let below = self.min_level.is_some_and(|min| level < min);
        self.below += u64::from(below);
        !below
    }
}

impl trustpath_hunt::FindingSink for Written<'_> {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        if !self.wanted(finding.severity.level) {
            return Ok(());
        }
        self.writer.write(&finding)
    }

    fn encoder(&self) -> Option<trustpath_report::Encoder> {
        self.writer.encoder()
    }

    fn encoded(&mut self, meta: trustpath_hunt::FindingMeta, bytes: &[u8]) -> std::io::Result<()> {
        if !self.wanted(meta.level) {
            return Ok(());
        }
        self.writer.write_encoded(bytes)
    }
}

/// Run the hunt into `sink` with `--fail-on`; `None` when the reader of our output went
/// away (`| head`), a normal end.
fn streamed(
    options: &HuntOptions,
    threshold: Option<Level>,
    sink: &mut dyn trustpath_hunt::FindingSink,
) -> anyhow::Result<Option<(HuntRun, bool)>> {
    let mut sink = FailOn {
        inner: sink,
        level: threshold,
        hit: false,
    };
    match trustpath_hunt::hunt(options, &mut sink) {
        Ok(run) => Ok(Some((run, sink.hit))),
        Err(e) if is_broken_pipe(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn ignore_broken_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The table's layout: the terminal's width and colour on stdout (`--color`, `NO_COLOR`
/// honoured), 100 columns without colour in a file (unless `--color always`); times in
/// `--timezone`.
fn table_options(args: &HuntArgs) -> TableOptions {
    let choice = match args.color {
        ColorArg::Auto => ColorChoice::Auto,
        ColorArg::Always => ColorChoice::Always,
        ColorArg::Never => ColorChoice::Never,
    };
    let mut options = match &args.output {
        Some(_) => TableOptions {
            color: choice == ColorChoice::Always,
            ..TableOptions::default()
        },
        None => TableOptions::for_stdout(choice),
    };
    if let Some(zone) = &args.timezone {
        options.time_zone = zone.clone();
    }
    options
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
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
    if run.problems.left_out_by_status > 0 {
        writeln!(
            out,
            "{} of your rules left out by --status",
            run.problems.left_out_by_status
        )?;
    }
    let refs: Vec<&RecordError> = run.errors.iter().collect();
    crate::summary::print(out, &run.summary, &refs, show_errors)?;
    print_severity_line(out, run)?;
    for problem in &run.spool_errors {
        writeln!(out, "error: spool: {problem}")?;
    }
    if let Some(why) = &run.summary.incomplete {
        writeln!(
            out,
            "error: INCOMPLETE RUN: {why}; the findings above are from the input read until then"
        )?;
    }
    Ok(())
}

fn exit_code(args: &HuntArgs, run: &HuntRun, hit: bool) -> ExitCode {
    if run.summary.incomplete.is_some() {
        return ExitCode::from(exit::INCOMPLETE);
    }
    let hard_problems = trustpath_hunt::hard_problem_count(&run.problems);
    if args.input.strict && (run.summary.skipped() > 0 || hard_problems > 0) {
        return ExitCode::from(exit::STRICT_INPUT_ERRORS);
    }
    if hit {
        return ExitCode::from(exit::FINDINGS);
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

fn print_severity_line(out: &mut dyn Write, run: &HuntRun) -> std::io::Result<()> {
    let c = &run.counts;
    if c.total == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "findings: {} critical, {} high, {} medium, {} low/info; {} authorised, {} hunting leads",
        c.critical, c.high, c.medium, c.low, c.authorised, c.leads,
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

fn write_collected(
    out: &mut dyn Write,
    format: Output,
    run: &HuntRun,
    table: TableOptions,
) -> anyhow::Result<()> {
    let written = match format {
        Output::Report(f) => trustpath_report::write_findings_with(out, f, &run.findings, table),
        Output::Html => {
            let html = trustpath_assurance::html::render(
                &run.findings,
                &run.summary,
                run.coverage.as_ref(),
            );
            out.write_all(html.as_bytes())
        }
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
