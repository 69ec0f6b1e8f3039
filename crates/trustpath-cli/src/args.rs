//! Command-line arguments (clap derive). The help text is the user's manual: keep it
//! teaching, with an example per command.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const TOP_HELP: &str = concat!(
    "Start here:
  trustpath hunt examples/                    the bundled example tenant
  trustpath hunt exports/ -f html -o r.html   your exports, as a report
  trustpath explain AN1350                    what an analytic looks for

",
    crate::exit::exit_codes_help!()
);

/// Find abuse of delegated access to Microsoft 365 mailboxes in the logs you already export:
/// partner trust paths (AN1350, AN1347) and mailbox permission grants (AN1052, AN1051).
#[derive(Debug, Parser)]
#[command(name = "trustpath", version, after_help = TOP_HELP)]
pub struct Cli {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// trustpath subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the analytics (and your Sigma rules) over exported logs and report findings.
    ///
    /// Reads every file under PATHS (folders recursively, .gz/.zip, `-` for stdin), sniffing
    /// each format from its content: unified audit log JSON/JSONL, Purview CSV, Graph
    /// sign-ins and directory audits, Sentinel exports, EVTX and EVTX-as-JSON.
    ///
    /// Example: trustpath hunt examples/ --context examples/trustpath.toml
    #[command(after_help = crate::exit::HELP)]
    Hunt(HuntArgs),
    /// Print every record as the normalized event rules see (one JSON object per line).
    ///
    /// Use it to debug field mappings: what a rule can match on, and what `tp.*` fields
    /// normalization added. A per-file summary goes to stderr.
    ///
    /// Example: trustpath normalize export.csv | jq 'select(.fields["tp.operation"]=="Add-MailboxPermission")'
    #[command(after_help = crate::exit::HELP)]
    Normalize(NormalizeArgs),
    /// Check Sigma rules: report every rule that would not load or uses an unsupported feature.
    ///
    /// Example: trustpath validate my-rules/ sigma/rules/cloud
    #[command(after_help = crate::exit::HELP)]
    Validate(ValidateArgs),
    /// List the built-in analytics.
    List(ListArgs),
    /// Explain an analytic: what it detects, its steps, log sources, tunables, false
    /// positives and response.
    ///
    /// Example: trustpath explain AN1350
    Explain(ExplainArgs),
    /// Which log sources and fields each analytic step has in the input, and the blind
    /// spots, each named with what to turn on to close it.
    ///
    /// Example: trustpath coverage exports/ --navigator layer.json
    #[command(after_help = crate::exit::HELP)]
    Coverage(CoverageArgs),
    /// Partner relationships and mailbox permissions reconstructed from the logs
    /// (granted, removed, still standing, approved), for access review.
    ///
    /// Example: trustpath inventory exports/ --format csv -o review.csv
    #[command(after_help = crate::exit::HELP)]
    Inventory(InventoryArgs),
    /// Print the PowerShell that rolls back the permission changes of a finding.
    ///
    /// The finding comes from a findings file written by `hunt --format jsonl` or from a
    /// hunt over PATHS. Every value is single-quoted so no name can inject PowerShell.
    ///
    /// Example: trustpath respond 3f2a9c1d --findings findings.jsonl
    #[command(after_help = crate::exit::HELP)]
    Respond(RespondArgs),
    /// Write a complete, realistic attack chain for an analytic in real log formats, to
    /// push through your own pipeline and prove the detection fires end to end.
    ///
    /// A chain spans several logs (audit log, sign-ins, directory audit, host events):
    /// each goes to its own file, in the format you choose for that log family.
    ///
    /// Example: trustpath simulate AN1350 --format purview-csv --out sim/
    Simulate(SimulateArgs),
    /// Run continuously on NATS JetStream: consume events, correlate in event time with
    /// the allowed lateness, publish findings, serve health, metrics and findings over HTTP.
    ///
    /// Example: trustpath serve --config serve.toml
    #[command(after_help = crate::exit::HELP)]
    Serve(ServeArgs),
    /// Collect the unified audit log (Management Activity API) and Entra sign-ins and
    /// directory audits (Graph) for one tenant into a case folder `hunt` reads, or onto NATS.
    ///
    /// Restartable: a state file per tenant remembers the content ids and record times
    /// fetched, so a rerun neither loses nor refetches. Secrets come from the environment
    /// or files named in collect.toml and are never printed or written.
    ///
    /// Example: TRUSTPATH_CLIENT_SECRET=… trustpath collect --tenant contoso.onmicrosoft.com --out case/ --config collect.toml
    Collect(CollectArgs),
}

/// `trustpath serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service configuration (TOML: NATS URL, partitions, store, context, HTTP, token).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `trustpath coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Context file (default: trustpath.toml inside a folder given as input).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write an ATT&CK Navigator layer (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub navigator: Option<PathBuf>,
    /// A source silent longer than this inside the input's range is a gap.
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub gap: String,
}

/// `trustpath inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Context file (default: trustpath.toml inside a folder given as input).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Output format.
    #[arg(
        long,
        short = 'f',
        value_enum,
        ignore_case = true,
        default_value = "csv"
    )]
    pub format: InventoryFormat,
    /// Write here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Inventory output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    /// One row per mailbox permission and partner relationship.
    Csv,
    /// The whole inventory as JSON.
    Json,
}

/// `trustpath respond`.
#[derive(Debug, Args)]
pub struct RespondArgs {
    /// Finding id (or a unique prefix of at least 8 characters).
    pub id: String,
    /// Findings file written by `trustpath hunt --format jsonl`.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub findings: Option<PathBuf>,
    /// Or: logs to hunt over to find the finding.
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Context file when hunting over PATHS.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub context: Option<PathBuf>,
}

/// `trustpath simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Analytic (AN1350, AN1052, AN1051, AN1347).
    pub analytic: String,
    /// Output format for the log family it carries (repeatable; other families use
    /// their default). Formats: ual-jsonl, ual-json-array, purview-csv,
    /// sentinel-office-activity, graph-signin-json, sentinel-signinlogs,
    /// graph-directory-audit-json, sentinel-auditlogs, evtx-dump-jsonl, winlogbeat-jsonl,
    /// flat-windows-jsonl.
    #[arg(long, short = 'f', value_name = "FORMAT")]
    pub format: Vec<String>,
    /// Folder to write the files to (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Customer tenant id.
    #[arg(long, value_name = "GUID")]
    pub tenant: Option<String>,
    /// Customer mail domain.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Partner tenant id.
    #[arg(long, value_name = "GUID")]
    pub partner_tenant: Option<String>,
    /// Partner IP address (repeatable).
    #[arg(long, value_name = "IP")]
    pub partner_ip: Vec<String>,
    /// Target mailbox.
    #[arg(long, value_name = "UPN")]
    pub mailbox: Option<String>,
    /// Who receives the permission.
    #[arg(long, value_name = "UPN")]
    pub trustee: Option<String>,
    /// When the chain starts (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

/// Options for commands that run rules.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Sigma rule files or folders to run besides the built-in analytics (repeatable).
    #[arg(long = "rules", short = 'r', value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Run only the rules given with -r, not the built-in analytics.
    #[arg(long)]
    pub no_builtin: bool,
    /// Context and tuning file (default: trustpath.toml inside a folder given as input).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Log-source mapping file that extends or replaces the built-in mapping.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Placeholder file: values for `|expand` placeholders (`%name%`), as a YAML `vars:`
    /// map like pySigma's placeholder pipelines (see crates/trustpath-sigma/placeholders/).
    #[arg(long, value_name = "FILE")]
    pub placeholders: Option<PathBuf>,
    /// Parse every rule file again instead of reusing the parsed YAML kept from earlier
    /// runs. The cache is `sigma-documents.mpk` in $TRUSTPATH_CACHE_DIR, else
    /// $XDG_CACHE_HOME/trustpath, else ~/.cache/trustpath. It is keyed by each YAML
    /// document's SHA-256, so an edited rule is parsed again; a cache that cannot be read
    /// or written only costs speed.
    #[arg(long)]
    pub no_rule_cache: bool,
}

impl RuleArgs {
    /// Where parsed rule documents are kept between runs (`None`: not kept).
    pub fn rule_cache(&self) -> Option<PathBuf> {
        if self.no_rule_cache {
            return None;
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = env("TRUSTPATH_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| env("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("trustpath")))
            .or_else(|| env("HOME").map(|d| PathBuf::from(d).join(".cache").join("trustpath")))?;
        Some(dir.join(trustpath_sigma::cache::FILE_NAME))
    }
}

/// `trustpath validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Rule files or folders.
    #[arg(required = true, value_name = "RULES")]
    pub paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 3 if any rule does not load (warnings do not count).
    #[arg(long)]
    pub strict: bool,
    /// Placeholder file: values for `|expand` placeholders (see `hunt --placeholders`).
    #[arg(long, value_name = "FILE")]
    pub placeholders: Option<PathBuf>,
}

/// `trustpath list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `trustpath explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Analytic id (AN1350, AN1052, AN1051, AN1347).
    pub id: String,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options shared by commands that read logs.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files or folders to read (`-` for stdin).
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Field holding the event time for generic JSON events (default: @timestamp, timestamp, time, …).
    #[arg(long, value_name = "FIELD")]
    pub time_field: Option<String>,
    /// Exit with code 3 if any record is skipped as malformed.
    #[arg(long)]
    pub strict: bool,
    /// How many skipped records to list on stderr (all are counted).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub show_errors: usize,
    /// Memory for events kept for correlation and the analytics (e.g. 512M, 4G). At the
    /// limit the run stops reading, reports where, and ends with exit code 5 and the
    /// findings so far. Default: a quarter of the machine's memory or of `ulimit -v`.
    #[arg(long, value_name = "SIZE", value_parser = trustpath_pipeline::memory::parse_size)]
    pub memory_budget: Option<u64>,
}

/// `trustpath hunt`.
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Rules and context.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Exit with code 4 when an unauthorised finding at or above this level is found.
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = LEVELS)]
    pub fail_on: Option<String>,
    /// Write only findings at or above this level (the others are counted in the summary).
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = LEVELS)]
    pub min_level: Option<String>,
    /// Match only events at or after this time: RFC 3339 (2024-05-01T08:00:00Z, or with an
    /// offset) or a date (2024-05-01: from midnight UTC). Events before it are read and
    /// counted, not matched.
    #[arg(long, value_name = "TIME", value_parser = parse_from)]
    pub from: Option<jiff::Timestamp>,
    /// Match only events before this time: RFC 3339, or a date (that whole day included).
    #[arg(long, value_name = "TIME", value_parser = parse_to)]
    pub to: Option<jiff::Timestamp>,
    /// Run only your Sigma rules (-r) with these statuses, comma-separated: stable, test,
    /// experimental, deprecated, unsupported. Rules without a status are left out; the
    /// built-in analytics always run.
    #[arg(long, value_name = "STATUS", value_delimiter = ',', ignore_case = true,
          value_parser = ["stable", "test", "experimental", "deprecated", "unsupported"])]
    pub status: Vec<String>,
    /// Show times in this time zone in the table and the CSV timeline: an IANA name
    /// (Europe/Berlin, America/New_York) or UTC. JSONL, OCSF and HTML keep UTC.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub timezone: Option<jiff::tz::TimeZone>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, short = 'f', value_enum, ignore_case = true)]
    pub format: Option<FormatArg>,
    /// Colour the table by severity: auto (on a terminal, unless NO_COLOR is set),
    /// always, never.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorArg,
    /// Write findings here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the run summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Do not print the summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `trustpath normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
}

/// Severity levels, lowest first (`--fail-on`, `--min-level`).
const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// A `--from` time: RFC 3339, or a date meaning its midnight UTC.
fn parse_from(text: &str) -> Result<jiff::Timestamp, String> {
    parse_time(text, false)
}

/// A `--to` time: RFC 3339, or a date meaning the end of that day (UTC).
fn parse_to(text: &str) -> Result<jiff::Timestamp, String> {
    parse_time(text, true)
}

fn parse_time(text: &str, end_of_day: bool) -> Result<jiff::Timestamp, String> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2024-05-01T08:00:00Z) nor a date (2024-05-01)"
        )
    })?;
    let date = if end_of_day {
        date.tomorrow().map_err(|e| format!("`{text}`: {e}"))?
    } else {
        date
    };
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| format!("`{text}`: {e}"))
}

/// A `--timezone` value: an IANA time zone name.
fn parse_zone(text: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(text)
        .map_err(|e| format!("`{text}` is not a time zone name ({e}); e.g. Europe/Berlin or UTC"))
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Aligned table for people.
    Table,
    /// One JSON finding per line.
    Jsonl,
    /// Evidence timeline for spreadsheets.
    Csv,
    /// OCSF 1.3 Detection Finding, one per line.
    Ocsf,
    /// Self-contained HTML report (summary, findings with evidence, timeline, coverage).
    Html,
}

/// `trustpath collect` arguments.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Tenant id (GUID) or initial domain.
    #[arg(long)]
    pub tenant: String,
    /// Case folder to write (`<out>/<tenant>/ual`, `…/entra`, `collection.json`); with
    /// `--nats`, where the state file is kept.
    #[arg(long)]
    pub out: PathBuf,
    /// Collector configuration (endpoints, client id, where the secret is).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Publish to NATS JetStream `trustpath.events.<tenant>.<source>` instead of files.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
}
