//! The service configuration file (TOML): typed, unknown keys refused, errors with the
//! file name and line.
//!
//! ```toml
//! nats_url = "nats://127.0.0.1:4222"
//! store = "/var/lib/trustpath/serve.redb"
//! context = "trustpath.toml"          # optional; relative paths are relative to this file
//! lateness = "12h"                    # optional; default: the context's [settings] lateness
//! duplicate_window = "24h"
//! tick_ms = 200                       # correlation tick: every tick_ms or tick_messages
//! tick_messages = 500
//! idle_flush = "2s"                   # optional: end-of-input flush after this idle time
//! max_future_skew = "1d"              # events dated further ahead of their arrival are refused
//! max_publish_bytes = 1048576         # largest message published (keep ≤ the server's max_payload)
//! poison_attempts = 3                 # a message failing this often is dead-lettered and skipped
//! worker_id = "worker-a"              # optional: name in partition leases (default host:store)
//! lease_ttl = "15s"                   # a dead worker's partitions are free after this
//! findings_jsonl = "findings.jsonl"   # optional
//!
//! # Detection: what `trustpath hunt` runs with the same options.
//! rules = ["rules/", "extra.yml"]     # optional: user Sigma rules (files or folders), like -r
//! no_builtin = false                  # optional: true runs only `rules` (like --no-builtin)
//! mapping = "mapping.yml"             # optional: log-source mapping (like --mapping)
//! placeholders = "placeholders.yml"   # optional: Sigma |expand values (like --placeholders)
//! time_field = "ingest.time"          # optional: event time field (like --time-field)
//! max_pending_script_block_bytes = 16777216  # per subject: 4104 parts waiting (default 16 MiB)
//!
//! [tenants."6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34"]  # the subject's tenant token
//! context = "contoso.toml"            # this tenant's context (tuning, tickets, host time zones)
//!
//! [partitions]
//! total = 4
//! owned = [0, 1, 2, 3]
//!
//! [collect]                           # optional: collect from Microsoft 365 (see below)
//! config = "collect.toml"             # `trustpath collect --config` file (endpoints, app, secret)
//! interval = "15m"                    # how often each tenant is collected (default 15m)
//! tenants = ["contoso.onmicrosoft.com"]  # default: the [tenants."<id>"] entries
//!
//! [http]
//! addr = "127.0.0.1:8080"
//! token = "…"                         # or token_file = "…" or token_env = "VAR"
//! tls_cert = "server.crt"             # optional, with tls_key: serve HTTPS instead of HTTP
//! tls_key = "server.key"
//! ```
//!
//! Every path is relative to this file. A tenant without a `[tenants."<id>"]` entry (or
//! one without `context`) uses the global `context`. A tenant's context gives its tuning,
//! its change tickets, its lateness (unless `lateness` is set here) and its
//! `[host_timezones]`, applied by the normalizer exactly as `hunt` applies them.
//!
//! With `[collect]`, the service also runs `trustpath collect` for each tenant every
//! `interval`, publishing to `trustpath.events.<tenant>.<source>` on its own NATS server
//! (state per tenant in the folder `<store>.collect/`, so a restart neither loses nor
//! refetches); the partitions consume those messages like any publisher's.
//!
//! `[http] tls_cert` is a PEM certificate chain (leaf first) and `tls_key` its PEM private
//! key (PKCS#8, RSA or EC); both paths are relative to this file, and one without the
//! other is refused. With them the port speaks only TLS (see [`crate::tls`]); the files
//! are read when the service starts, and an unreadable file, bad PEM or a key that does
//! not match the certificate stops the start-up with an error naming the file.

use jiff::SignedDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is invalid or does not fit the schema.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is well-formed TOML but unusable, at a known line.
    #[error("{path}:{line}: {message}")]
    InvalidAt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is well-formed TOML but unusable.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    nats_url: String,
    store: PathBuf,
    context: Option<PathBuf>,
    lateness: Option<String>,
    duplicate_window: Option<String>,
    tick_ms: Option<u64>,
    tick_messages: Option<usize>,
    idle_flush: Option<String>,
    max_window: Option<String>,
    max_future_skew: Option<String>,
    max_publish_bytes: Option<usize>,
    poison_attempts: Option<u32>,
    worker_id: Option<String>,
    lease_ttl: Option<String>,
    findings_jsonl: Option<PathBuf>,
    rules: Option<Vec<PathBuf>>,
    no_builtin: Option<bool>,
    mapping: Option<PathBuf>,
    placeholders: Option<PathBuf>,
    time_field: Option<String>,
    max_pending_script_block_bytes: Option<usize>,
    tenants: Option<BTreeMap<String, TenantFile>>,
    partitions: PartitionsFile,
    http: Option<HttpFile>,
    collect: Option<CollectFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectFile {
    config: PathBuf,
    interval: Option<String>,
    tenants: Option<Vec<String>>,
}

/// The collector mode (`[collect]`): what to collect, and how often.
#[derive(Debug, Clone)]
pub struct CollectMode {
    /// The collector's configuration (`trustpath collect --config`), loaded and checked.
    pub config: trustpath_collect::CollectConfig,
    /// The file it came from (named in logs).
    pub config_path: PathBuf,
    /// Time between two collections of a tenant.
    pub interval: std::time::Duration,
    /// Tenants to collect (ids or initial domains).
    pub tenants: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    context: Option<PathBuf>,
}

/// What one tenant uses instead of the global settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantConfig {
    /// The tenant's context file (`None`: the global `context`).
    pub context: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionsFile {
    total: u32,
    owned: Vec<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    addr: String,
    token: Option<String>,
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// The HTTP endpoint settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Listen address (`127.0.0.1:8080`; port 0 picks a free port).
    pub addr: String,
    /// The bearer token every endpoint but `/healthz` and `/readyz` requires.
    pub token: String,
    /// Certificate and key to serve HTTPS with (plain HTTP when `None`).
    pub tls: Option<TlsFiles>,
}

/// The PEM files HTTPS is served with, resolved against the configuration's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// Private key (PEM: PKCS#8, RSA or EC).
    pub key: PathBuf,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// NATS server URL(s), comma-separated.
    pub nats_url: String,
    /// The redb file holding state and stream positions.
    pub store: PathBuf,
    /// The context file (`trustpath.toml`), if any.
    pub context: Option<PathBuf>,
    /// Allowed lateness; `None` takes the context's `[settings] lateness`.
    pub lateness: Option<SignedDuration>,
    /// JetStream de-duplication window of the findings stream.
    pub duplicate_window: SignedDuration,
    /// Longest time an analytic correlates over (retention and finality), default 7 d.
    pub max_window: SignedDuration,
    /// Correlation tick period.
    pub tick: std::time::Duration,
    /// Correlation tick after this many messages.
    pub tick_messages: usize,
    /// End-of-input flush after a partition has been idle this long (off when `None`).
    pub idle_flush: Option<std::time::Duration>,
    /// Also append findings and updates to this JSON Lines file.
    pub findings_jsonl: Option<PathBuf>,
    /// Events dated more than this after their arrival are refused (default 1 d).
    pub max_future_skew: SignedDuration,
    /// Largest message body the service publishes (default 1 MiB, NATS's default
    /// `max_payload`); larger bodies are trimmed with counts.
    pub max_publish_bytes: usize,
    /// A message whose batch fails this many times is dead-lettered and acknowledged.
    pub poison_attempts: u32,
    /// This worker's name in the partition leases (default: host, pid and start time).
    pub worker_id: String,
    /// How long a partition lease lives without a refresh (default 15 s).
    pub lease_ttl: std::time::Duration,
    /// Number of partitions the server maps tenants onto.
    pub partitions_total: u32,
    /// The partitions this worker serves.
    pub partitions_owned: Vec<u32>,
    /// HTTP endpoint (off when `None`).
    pub http: Option<HttpConfig>,
    /// User Sigma rule files or folders (`hunt -r`).
    pub rules: Vec<PathBuf>,
    /// Leave the built-in analytics out (`hunt --no-builtin`).
    pub no_builtin: bool,
    /// A log-source mapping file (`hunt --mapping`).
    pub mapping: Option<PathBuf>,
    /// A Sigma `|expand` placeholder file (`hunt --placeholders`).
    pub placeholders: Option<PathBuf>,
    /// The event time field (`hunt --time-field`).
    pub time_field: Option<String>,
    /// Most bytes of 4104 parts waiting for their other parts, per subject; beyond it
    /// the oldest block is emitted incomplete (counted as evicted).
    pub max_pending_script_block_bytes: usize,
    /// Per-tenant settings, by subject tenant token.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Collect from Microsoft 365 too (`[collect]`; off when `None`).
    pub collect: Option<CollectMode>,
}

/// Default of [`ServeConfig::max_pending_script_block_bytes`]: 16 MiB.
pub const DEFAULT_MAX_PENDING_SCRIPT_BLOCK_BYTES: usize = 16 << 20;

/// The 1-based line of the first line of `text` that sets `key` (`key =`) or opens a
/// table naming it; 0 when not found.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || (l.starts_with('[') && l.contains(key))
        })
        .map_or(0, |i| i + 1)
}

impl ServeConfig {
    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parse configuration text; `path` names it in errors and anchors relative paths.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<ServeConfig, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.span().map_or(0, |s| {
                let before = &text.as_bytes()[..s.start.min(text.len())];
                before.iter().filter(|&&b| b == b'\n').count() + 1
            }),
            message: e.message().to_owned(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let duration =
            |name: &str, value: Option<&String>, default: Option<SignedDuration>| match value {
                Some(v) => trustpath_context::parse_duration(v)
                    .map(Some)
                    .map_err(|e| invalid(format!("{name}: {e}"))),
                None => Ok(default),
            };
        let lateness = duration("lateness", file.lateness.as_ref(), None)?;
        let day = SignedDuration::from_hours(24);
        let duplicate_window =
            duration("duplicate_window", file.duplicate_window.as_ref(), None)?.unwrap_or(day);
        let max_window = duration("max_window", file.max_window.as_ref(), None)?.unwrap_or(day * 7);
        let idle_flush = duration("idle_flush", file.idle_flush.as_ref(), None)?
            .map(|d| {
                std::time::Duration::try_from(d).map_err(|e| invalid(format!("idle_flush: {e}")))
            })
            .transpose()?;
        let max_future_skew =
            duration("max_future_skew", file.max_future_skew.as_ref(), None)?.unwrap_or(day);
        let max_publish_bytes = file.max_publish_bytes.unwrap_or(1024 * 1024);
        if max_publish_bytes < 4096 {
            return Err(invalid(format!(
                "max_publish_bytes: {max_publish_bytes} is too small (at least 4096)"
            )));
        }
        let poison_attempts = file.poison_attempts.unwrap_or(3).max(1);
        let lease_ttl = duration("lease_ttl", file.lease_ttl.as_ref(), None)?
            .unwrap_or(SignedDuration::from_secs(15));
        if lease_ttl < SignedDuration::from_secs(1) {
            return Err(invalid("lease_ttl: at least 1s".to_owned()));
        }
        let lease_ttl = std::time::Duration::try_from(lease_ttl)
            .map_err(|e| invalid(format!("lease_ttl: {e}")))?;
        let at = |key: &str, message: String| match line_of(text, key) {
            0 => invalid(message),
            line => ConfigError::InvalidAt {
                path: path.to_path_buf(),
                line,
                message,
            },
        };
        let rules: Vec<PathBuf> = file
            .rules
            .unwrap_or_default()
            .iter()
            .map(|r| base.join(r))
            .collect();
        if let Some(missing) = rules.iter().find(|r| !r.exists()) {
            return Err(at(
                "rules",
                format!("rules: {} does not exist", missing.display()),
            ));
        }
        let no_builtin = file.no_builtin.unwrap_or(false);
        if no_builtin && rules.is_empty() {
            return Err(at(
                "no_builtin",
                "no_builtin = true needs rules = [...]: nothing would be detected".to_owned(),
            ));
        }
        let mapping = file.mapping.map(|m| base.join(m));
        if let Some(m) = mapping.as_ref().filter(|m| !m.is_file()) {
            return Err(at(
                "mapping",
                format!("mapping: {} is not a file", m.display()),
            ));
        }
        let placeholders = file.placeholders.map(|p| base.join(p));
        if let Some(p) = placeholders.as_ref().filter(|p| !p.is_file()) {
            return Err(at(
                "placeholders",
                format!("placeholders: {} is not a file", p.display()),
            ));
        }
        if file
            .time_field
            .as_ref()
            .is_some_and(|f| f.trim().is_empty())
        {
            return Err(at("time_field", "time_field is empty".to_owned()));
        }
        let max_pending_script_block_bytes = file
            .max_pending_script_block_bytes
            .unwrap_or(DEFAULT_MAX_PENDING_SCRIPT_BLOCK_BYTES);
        if max_pending_script_block_bytes < 4096 {
            return Err(at(
                "max_pending_script_block_bytes",
                format!(
                    "max_pending_script_block_bytes: {max_pending_script_block_bytes} is too small (at least 4096)"
                ),
            ));
        }
        let mut tenants = BTreeMap::new();
        for (id, t) in file.tenants.unwrap_or_default() {
            if id.is_empty()
                || id
                    .chars()
                    .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
            {
                return Err(at(
                    &id,
                    format!(
                        "tenants.\"{id}\": not a subject tenant token (no dots, wildcards or spaces)"
                    ),
                ));
            }
            let context = t.context.map(|c| base.join(c));
            if let Some(c) = context.as_ref().filter(|c| !c.is_file()) {
                return Err(at(
                    &id,
                    format!("tenants.\"{id}\".context: {} is not a file", c.display()),
                ));
            }
            tenants.insert(id, TenantConfig { context });
        }
        let collect = match file.collect {
            None => None,
            Some(c) => {
                let config_path = base.join(&c.config);
                let config = trustpath_collect::CollectConfig::load(&config_path)
                    .map_err(|e| at("collect", format!("collect.config: {e}")))?;
                // The credential must resolve now (secret present, certificate readable),
                // not at the first collection; the error never holds the secret.
                config
                    .credential()
                    .map_err(|e| at("collect", format!("collect.config: {e}")))?;
                let interval = duration("collect.interval", c.interval.as_ref(), None)?
                    .unwrap_or(SignedDuration::from_mins(15));
                if interval < SignedDuration::from_secs(1) {
                    return Err(at("interval", "collect.interval: at least 1s".to_owned()));
                }
                let interval = std::time::Duration::try_from(interval)
                    .map_err(|e| invalid(format!("collect.interval: {e}")))?;
                let listed = c
                    .tenants
                    .unwrap_or_else(|| tenants.keys().cloned().collect::<Vec<_>>());
                if listed.is_empty() {
                    return Err(at(
                        "collect",
                        "collect: no tenant to collect (list tenants = [...] or add [tenants.\"<id>\"] entries)"
                            .to_owned(),
                    ));
                }
                Some(CollectMode {
                    config,
                    config_path,
                    interval,
                    tenants: listed,
                })
            }
        };
        let store = base.join(&file.store);
        let worker_id = file.worker_id.unwrap_or_else(|| default_worker_id(&store));
        validate_partitions(&file.partitions).map_err(invalid)?;
        let http = file
            .http
            .map(|h| http_config(h, base))
            .transpose()
            .map_err(invalid)?;
        Ok(ServeConfig {
            nats_url: file.nats_url,
            store: base.join(file.store),
            context: file.context.map(|c| base.join(c)),
            lateness,
            duplicate_window,
            max_window,
            tick: std::time::Duration::from_millis(file.tick_ms.unwrap_or(200).max(1)),
            tick_messages: file.tick_messages.unwrap_or(500).max(1),
            idle_flush,
            findings_jsonl: file.findings_jsonl.map(|p| base.join(p)),
            max_future_skew,
            max_publish_bytes,
            poison_attempts,
            worker_id,
            lease_ttl,
            partitions_total: file.partitions.total,
            partitions_owned: file.partitions.owned,
            http,
            rules,
            no_builtin,
            mapping,
            placeholders,
            time_field: file.time_field,
            max_pending_script_block_bytes,
            tenants,
            collect,
        })
    }
}

fn validate_partitions(p: &PartitionsFile) -> Result<(), String> {
    if p.total == 0 {
        return Err("partitions.total must be at least 1".into());
    }
    if p.owned.is_empty() {
        return Err("partitions.owned lists no partition".into());
    }
    if let Some(bad) = p.owned.iter().find(|&&n| n >= p.total) {
        return Err(format!(
            "partitions.owned: partition {bad} does not exist (total {})",
            p.total
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = p.owned.iter().find(|&&n| !seen.insert(n)) {
        return Err(format!("partitions.owned lists partition {dup} twice"));
    }
    Ok(())
}

fn http_config(h: HttpFile, base: &Path) -> Result<HttpConfig, String> {
    let token = match (h.token, h.token_file, h.token_env) {
        (Some(t), None, None) => t,
        (None, Some(file), None) => {
            let file = base.join(file);
            std::fs::read_to_string(&file)
                .map_err(|e| format!("http.token_file {}: {e}", file.display()))?
                .trim()
                .to_owned()
        }
        (None, None, Some(var)) => std::env::var(&var)
            .map_err(|_| format!("http.token_env: environment variable {var} is not set"))?,
        (None, None, None) => {
            return Err("http: set one of token, token_file, token_env".into());
        }
        _ => return Err("http: set only one of token, token_file, token_env".into()),
    };
    if token.len() < 16 {
        return Err("http: the token must be at least 16 characters".into());
    }
    let tls = tls_files(h.tls_cert, h.tls_key, base)?;
    Ok(HttpConfig {
        addr: h.addr,
        token,
        tls,
    })
}

fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    base: &Path,
) -> Result<Option<TlsFiles>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: base.join(cert),
            key: base.join(key),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err("http.tls_key is missing: tls_cert needs its private key (PEM)".into())
        }
        (None, Some(_)) => {
            Err("http.tls_cert is missing: tls_key needs its certificate (PEM)".into())
        }
    }
}

/// `host:store`: the same worker after a crash and restart keeps its leases (its state
/// is in that store, which only one process can open), two workers never share one.
fn default_worker_id(store: &Path) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    format!("{host}:{}", store.display())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &str = "nats_url = \"nats://127.0.0.1:4222\"\nstore = \"s.redb\"\n\
        [partitions]\ntotal = 4\nowned = [0, 2]\n";

    #[test]
    fn minimal_config_takes_defaults() {
        let c = ServeConfig::from_toml_str(MINIMAL, Path::new("/etc/tp/serve.toml")).unwrap();
        assert_eq!(c.store, Path::new("/etc/tp/s.redb"));
        assert_eq!(c.partitions_owned, vec![0, 2]);
        assert_eq!(c.duplicate_window, SignedDuration::from_hours(24));
        assert_eq!(c.lateness, None);
        assert!(c.http.is_none());
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let text = format!("{MINIMAL}bogus = 1\n");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        let message = e.to_string();
        assert!(message.starts_with("serve.toml:6:"), "{message}");
        assert!(message.contains("bogus"), "{message}");
    }

    #[test]
    fn partition_out_of_range_is_refused() {
        let text = MINIMAL.replace("[0, 2]", "[4]");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(e.to_string().contains("partition 4 does not exist"), "{e}");
    }

    const HTTP: &str = "[http]\naddr = \"127.0.0.1:0\"\ntoken = \"0123456789abcdef\"\n";

    #[test]
    fn tls_files_are_relative_to_the_config() {
        let text = format!("{MINIMAL}{HTTP}tls_cert = \"tls/s.crt\"\ntls_key = \"/k/s.key\"\n");
        let c = ServeConfig::from_toml_str(&text, Path::new("/etc/tp/serve.toml")).unwrap();
        let tls = c.http.unwrap().tls.unwrap();
        assert_eq!(tls.cert, Path::new("/etc/tp/tls/s.crt"));
        assert_eq!(tls.key, Path::new("/k/s.key"));
        let c = ServeConfig::from_toml_str(&format!("{MINIMAL}{HTTP}"), Path::new("s.toml"));
        assert_eq!(c.unwrap().http.unwrap().tls, None);
    }

    #[test]
    fn tls_cert_without_key_is_refused_naming_the_key() {
        let text = format!("{MINIMAL}{HTTP}tls_cert = \"s.crt\"\n");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("serve.toml: http.tls_key is missing"),
            "{e}"
        );
        let text = format!("{MINIMAL}{HTTP}tls_key = \"s.key\"\n");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(e.to_string().contains("http.tls_cert is missing"), "{e}");
    }

    #[test]
    fn detection_settings_and_tenant_contexts_are_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("a.toml"), "").unwrap();
        let text = "nats_url = \"nats://127.0.0.1:4222\"\nstore = \"s.redb\"\n\
            rules = [\"rules\"]\nno_builtin = true\ntime_field = \"ts\"\n\
            [partitions]\ntotal = 4\nowned = [0]\n\
            [tenants.\"t-1\"]\ncontext = \"a.toml\"\n[tenants.t2]\n";
        let c = ServeConfig::from_toml_str(text, &dir.path().join("serve.toml")).unwrap();
        assert_eq!(c.rules, vec![dir.path().join("rules")]);
        assert!(c.no_builtin);
        assert_eq!(c.time_field.as_deref(), Some("ts"));
        assert_eq!(c.tenants["t-1"].context, Some(dir.path().join("a.toml")));
        assert_eq!(c.tenants["t2"].context, None);
    }

    #[test]
    fn missing_rules_and_bad_tenant_tokens_are_refused_with_their_line() {
        let text = MINIMAL.replacen("[partitions]", "rules = [\"nowhere\"]\n[partitions]", 1);
        let e = ServeConfig::from_toml_str(&text, Path::new("/x/serve.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/x/serve.toml:3: rules: /x/nowhere does not exist"),
            "{e}"
        );
        let text = format!("{MINIMAL}[tenants.\"a.b\"]\n");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(
            e.to_string().starts_with("serve.toml:6: tenants.\"a.b\""),
            "{e}"
        );
        let text = format!("{MINIMAL}[tenants.t1]\nbogus = 1\n");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(e.to_string().starts_with("serve.toml:7:"), "{e}");
        let text = MINIMAL.replacen("[partitions]", "no_builtin = true\n[partitions]", 1);
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(e.to_string().contains("needs rules"), "{e}");
    }

    #[test]
    fn short_token_is_refused() {
        let text = format!("{MINIMAL}[http]\naddr = \"127.0.0.1:0\"\ntoken = \"short\"\n");
        let e = ServeConfig::from_toml_str(&text, Path::new("serve.toml")).unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
    }
}
