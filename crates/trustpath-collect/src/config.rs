//! `collect.toml`: endpoints, credentials (where to read them, never the values), windows.

use crate::secret::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The Management Activity API content types collected by default.
pub const DEFAULT_CONTENT_TYPES: [&str; 3] = [
    "Audit.Exchange",
    "Audit.AzureActiveDirectory",
    "Audit.General",
];

/// Collector configuration (`--config collect.toml`); every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// OAuth authority, e.g. `https://login.microsoftonline.com` (token endpoint is
    /// `<login>/<tenant>/oauth2/v2.0/token`).
    pub login_endpoint: String,
    /// Management Activity API root, e.g. `https://manage.office.com`.
    pub manage_endpoint: String,
    /// Graph root, e.g. `https://graph.microsoft.com`.
    pub graph_endpoint: String,
    /// Application (client) id.
    pub client_id: String,
    /// Environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// File holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// PEM certificate registered on the app (certificate credential).
    pub certificate_file: Option<PathBuf>,
    /// PEM PKCS#8 private key of that certificate.
    pub private_key_file: Option<PathBuf>,
    /// Extra PEM CA certificates to trust (tests, TLS-inspecting proxies).
    pub ca_file: Option<PathBuf>,
    /// Content types to subscribe to and collect.
    pub content_types: Vec<String>,
    /// How far back the first run goes (the API keeps content 7 days).
    pub lookback_hours: u64,
    /// Re-listed overlap on later runs, so blobs published late are picked up.
    pub overlap_hours: u64,
    /// Collect `auditLogs/signIns` (v1.0: interactive user sign-ins).
    pub graph_signins: bool,
    /// Also collect beta sign-in event types (`nonInteractiveUser`, `servicePrincipal`):
    /// `$filter=signInEventTypes/any(t: t eq '<type>')` is documented on beta only.
    pub graph_beta_signin_types: Vec<String>,
    /// Collect `auditLogs/directoryAudits`.
    pub graph_directory_audits: bool,
    /// Overlap when resuming Graph from the last record time (minutes).
    pub graph_overlap_minutes: u64,
    /// Attempts per request before giving up (429/503/5xx/transport errors).
    pub max_attempts: u32,
    /// Longest wait honoured from a `Retry-After` (seconds).
    pub max_retry_after_secs: u64,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            login_endpoint: "https://login.microsoftonline.com".into(),
            manage_endpoint: "https://manage.office.com".into(),
            graph_endpoint: "https://graph.microsoft.com".into(),
            client_id: String::new(),
            client_secret_env: Some("TRUSTPATH_CLIENT_SECRET".into()),
            client_secret_file: None,
            certificate_file: None,
            private_key_file: None,
            ca_file: None,
            content_types: DEFAULT_CONTENT_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            lookback_hours: 7 * 24,
            overlap_hours: 12,
            graph_signins: true,
            graph_beta_signin_types: Vec::new(),
            graph_directory_audits: true,
            graph_overlap_minutes: 30,
            max_attempts: 8,
            max_retry_after_secs: 300,
        }
    }
}

/// Why the configuration or a credential cannot be used (never contains a secret value).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// File unreadable.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// TOML error.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No usable credential.
    #[error("{0}")]
    Credential(String),
}

/// The credential the token request uses.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Client secret.
    Secret(Secret),
    /// Certificate: DER certificate (for `x5t#S256`) and PEM private key.
    Certificate {
        /// DER of the certificate.
        cert_der: Vec<u8>,
        /// PKCS#8 PEM private key.
        key_pem: Secret,
    },
}

impl CollectConfig {
    /// Read `collect.toml`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
    }

    /// Resolve the credential: certificate if configured, else secret file, else env.
    pub fn credential(&self) -> Result<Credential, ConfigError> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })
        };
        if let (Some(cert), Some(key)) = (&self.certificate_file, &self.private_key_file) {
            let cert_pem = read(cert)?;
            let der = pem_der(&cert_pem, "CERTIFICATE").ok_or_else(|| {
                ConfigError::Credential(format!("{}: no PEM CERTIFICATE", cert.display()))
            })?;
            let key_pem = String::from_utf8(read(key)?).map_err(|_| {
                ConfigError::Credential(format!("{}: private key is not PEM text", key.display()))
            })?;
            return Ok(Credential::Certificate {
                cert_der: der,
                key_pem: Secret::new(key_pem),
            });
        }
        if let Some(file) = &self.client_secret_file {
            let text = String::from_utf8(read(file)?).map_err(|_| {
                ConfigError::Credential(format!("{}: secret is not UTF-8", file.display()))
            })?;
            return Ok(Credential::Secret(Secret::new(text.trim().to_string())));
        }
        if let Some(var) = &self.client_secret_env
            && let Ok(value) = std::env::var(var)
            && !value.is_empty()
        {
            return Ok(Credential::Secret(Secret::new(value)));
        }
        Err(ConfigError::Credential(
            "no credential: set client_secret_env (default TRUSTPATH_CLIENT_SECRET), \
             client_secret_file, or certificate_file + private_key_file"
                .into(),
        ))
    }
}

/// First PEM block of `label`, decoded.
pub fn pem_der(pem: &[u8], label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
