//! Exit codes (documented in the README and in `trustpath --help`).

/// The run completed. Skipped records, if any, were reported on stderr and in the summary.
pub const OK: u8 = 0;
/// A fatal error: an input list, rule path, context file or output could not be used.
pub const FATAL: u8 = 1;
/// Usage error (bad flags or arguments); clap uses this code too.
#[allow(dead_code)]
pub const USAGE: u8 = 2;
/// `--strict` was given and at least one record or rule was skipped.
pub const STRICT_INPUT_ERRORS: u8 = 3;
/// `--fail-on LEVEL` was given and a finding at or above LEVEL (and not authorised) was found.
pub const FINDINGS: u8 = 4;

/// The run stopped before the end of its input (memory budget reached); the findings
/// written are those of the input read until then. Takes precedence over 3 and 4.
pub const INCOMPLETE: u8 = 5;

/// The exit-code table, as a literal so help texts can `concat!` it.
macro_rules! exit_codes_help {
    () => {
        "Exit codes:
  0  the run completed (skipped records are reported on stderr and counted in the summary)
  1  fatal error: an input, rule path, context file or output could not be used
  2  usage error
  3  --strict and at least one record or rule was skipped
  4  --fail-on LEVEL and an unauthorised finding at or above LEVEL
  5  the memory budget was reached: the run stopped early; findings so far were written"
    };
}
pub(crate) use exit_codes_help;

/// The text for `--help` of subcommands.
pub const HELP: &str = exit_codes_help!();
