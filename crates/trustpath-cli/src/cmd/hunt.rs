//! `trustpath hunt`: arguments in, findings and a summary out. The hunt itself is
//! [`trustpath_hunt::hunt`] (the same one the service's parity test, `respond`, the tests
//! and the benches run); this module only maps arguments, writes output and picks the
//! exit code.

use crate::args::{FormatArg, HuntArgs, InputArgs, RuleArgs};
use crate::exit;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use trustpath_analytics::LoadProblems;
use trustpath_event::RecordError;
use trustpath_hunt::{FailOn, HuntOptions, HuntRun, InputOptions};
use trustpath_report::{Finding, Level, OutputFormat};

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
        progress,
        coverage,
        spool_memory: None,
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
    let options = options(&args.input, &args.rules, progress, format == Output::Html);
    let threshold = args.fail_on.as_deref().map(|l| Level::from_sigma(Some(l)));
    let (run, hit) = match format {
        // One finding per line: written as decided, never all held in memory.
        Output::Report(f @ (OutputFormat::Jsonl | OutputFormat::Ocsf)) => {
            let mut lines = |finding: Finding| {
                trustpath_report::write_findings(&mut out, f, std::slice::from_ref(&finding))
            };
            let mut sink = FailOn {
                inner: &mut lines,
                level: threshold,
                hit: false,
            };
            match trustpath_hunt::hunt(&options, &mut sink) {
                Ok(run) => {
                    let hit = sink.hit;
                    (run, hit)
                }
                // A reader of our output that went away (`| head`) is a normal end.
                Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::from(exit::OK)),
                Err(e) => return Err(e),
            }
        }
        _ => {
            let run = trustpath_hunt::hunt_collect(&options)?;
            let hit = threshold.is_some_and(|level| {
                run.findings
                    .iter()
                    .any(|f| trustpath_hunt::is_open_at_least(f, level))
            });
            write_collected(&mut out, format, &run)?;
            (run, hit)
        }
    };
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    drop(out);
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

fn write_collected(out: &mut dyn Write, format: Output, run: &HuntRun) -> anyhow::Result<()> {
    let written = match format {
        Output::Report(f) => trustpath_report::write_findings(out, f, &run.findings),
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
