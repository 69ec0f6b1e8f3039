//! `trustpath normalize`: print normalized events as JSON Lines, summary on stderr.

use crate::args::NormalizeArgs;
use crate::exit;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use trustpath_event::{FileSummary, RecordError, RunSummary};

/// Run the command.
pub fn run(args: NormalizeArgs) -> anyhow::Result<ExitCode> {
    let (inputs, missing, _ignored) = super::expand(&args.input, None);
    let config = super::scan_config(&args.input, &[], false);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut summary = RunSummary::default();
    let mut errors: Vec<RecordError> = missing;
    if !errors.is_empty() {
        let mut unusable = FileSummary::new("(arguments)");
        errors.iter().for_each(|e| unusable.add_error(e));
        summary.files.push(unusable);
    }
    let mut write_error = None;
    for input in &inputs {
        // Inputs are printed one after the other so the output keeps file order.
        let result = trustpath_pipeline::scan_one(input, &config, &mut |_: &mut (), event| {
            if write_error.is_none() {
                let line = serde_json::to_string(&event.to_json());
                let written = line
                    .map_err(std::io::Error::other)
                    .and_then(|l| writeln!(out, "{l}"));
                if let Err(e) = written {
                    write_error = Some(e);
                }
            }
            None::<()>
        });
        eprintln!(
            "{}: {} events, {} skipped",
            result.summary.file,
            result.summary.events,
            result.summary.error_count()
        );
        summary.files.push(result.summary);
        errors.extend(result.errors);
    }
    out.flush()?;
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
