//! `trustpath normalize`: print normalized events as JSON Lines, summary on stderr.

use crate::args::NormalizeArgs;
use crate::exit;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use trustpath_event::{FileSummary, RecordError, RunSummary};

/// Run the command.
pub fn run(args: NormalizeArgs) -> anyhow::Result<ExitCode> {
    let (inputs, missing, _ignored) = super::expand(&args.input, None)?;
    let config = super::scan_config(&args.input, &[], false);
    let mut out = BufWriter::new(std::io::stdout());
    let mut summary = RunSummary::default();
    let mut errors: Vec<RecordError> = missing;
    if !errors.is_empty() {
        let mut unusable = FileSummary::new("(arguments)");
        errors.iter().for_each(|e| unusable.add_error(e));
        summary.files.push(unusable);
    }
    let printer = Printer {
        out: std::sync::Mutex::new(&mut out),
        error: std::sync::Mutex::new(None),
    };
    for input in &inputs {
        if printer.error.lock().is_ok_and(|e| {
            e.as_ref()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        }) {
            // The reader went away (`| head`): nothing more to print.
            break;
        }
        // Inputs are printed one after the other so the output keeps file order.
        let result = trustpath_pipeline::scan_one(input, &config, &printer);
        eprintln!(
            "{}: {} events, {} skipped",
            result.summary.file,
            result.summary.events,
            result.summary.error_count()
        );
        summary.files.push(result.summary);
        errors.extend(result.errors);
    }
    let write_error = printer.error.into_inner().ok().flatten();
    let write_error = write_error.or_else(|| out.flush().err());
    if let Some(e) = write_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::from(exit::OK));
        }
        return Err(e.into());
    }
    let refs: Vec<&RecordError> = errors.iter().collect();
    crate::summary::print(
        &mut std::io::stderr(),
        &summary,
        &refs,
        args.input.show_errors,
    )?;
    Ok(strict_code(args.input.strict, &summary))
}

/// `OK`, or `STRICT_INPUT_ERRORS` under `--strict` when records were skipped.
pub fn strict_code(strict: bool, summary: &RunSummary) -> ExitCode {
    strict_from_counts(strict, summary.skipped())
}

/// `OK`, or `STRICT_INPUT_ERRORS` under `--strict` when `skipped` is not zero.
pub fn strict_from_counts(strict: bool, skipped: u64) -> ExitCode {
    if strict && skipped > 0 {
        ExitCode::from(exit::STRICT_INPUT_ERRORS)
    } else {
        ExitCode::from(exit::OK)
    }
}

/// Prints every event in record order (the pipeline calls `observe` in record order).
struct Printer<'a, W: Write + Send> {
    out: std::sync::Mutex<&'a mut W>,
    error: std::sync::Mutex<Option<std::io::Error>>,
}

impl<W: Write + Send> trustpath_pipeline::Selector for Printer<'_, W> {
    type State = ();
    type Item = ();

    fn observe(&self, _input: usize, _state: &mut (), event: &trustpath_event::Event) {
        let (Ok(mut out), Ok(mut error)) = (self.out.lock(), self.error.lock()) else {
            return;
        };
        if error.is_some() {
            return;
        }
        let written = serde_json::to_string(&event.to_json())
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(out, "{line}"));
        if let Err(e) = written {
            *error = Some(e);
        }
    }

    fn select(&self, _input: usize, _event: &std::sync::Arc<trustpath_event::Event>) -> Option<()> {
        None
    }
}
