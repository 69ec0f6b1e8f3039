//! One HTTP client (reqwest + rustls/ring) with the retry contract of both APIs:
//! 429 and 503 (and other 5xx, transport errors) are retried; a `Retry-After` in seconds
//! is honoured (capped), otherwise exponential backoff.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::sync::Arc;
use std::time::Duration;

/// Why a request failed (never contains a credential or a token).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Transport failure after all attempts.
    #[error("{url}: {message}")]
    Transport {
        /// The URL (no query secrets are ever in URLs).
        url: String,
        /// reqwest's reason.
        message: String,
    },
    /// Non-success status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body (API error code/message).
        body: String,
    },
    /// Response body not as documented.
    #[error("{0}")]
    Body(String),
    /// Credential unusable.
    #[error("credential: {0}")]
    Credential(String),
}

impl HttpError {
    /// HTTP status if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A response: body and headers.
#[derive(Debug)]
pub struct Response {
    /// Body.
    pub body: Vec<u8>,
    /// Headers.
    pub headers: HeaderMap,
}

/// Client with retry policy.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    max_attempts: u32,
    max_retry_after: Duration,
    /// Number of retries taken after a 429/503 (for the summary and tests).
    pub throttled: Arc<std::sync::atomic::AtomicU64>,
}

impl Http {
    /// Build a client trusting the platform roots plus `extra_ca_pem`.
    pub fn new(
        extra_ca_pem: Option<&[u8]>,
        max_attempts: u32,
        max_retry_after: Duration,
    ) -> Result<Self, HttpError> {
        use tokio_rustls::rustls;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(pem) = extra_ca_pem {
            let der = crate::config::pem_der(pem, "CERTIFICATE")
                .ok_or_else(|| HttpError::Credential("ca_file: no PEM CERTIFICATE".into()))?;
            roots
                .add(der.into())
                .map_err(|e| HttpError::Credential(format!("ca_file: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Credential(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("trustpath-collect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Credential(e.to_string()))?;
        Ok(Http {
            client,
            max_attempts: max_attempts.max(1),
            max_retry_after,
            throttled: Arc::default(),
        })
    }

    /// GET with bearer token.
    pub async fn get(&self, url: &str, bearer: &str) -> Result<Response, HttpError> {
        self.send(url, || self.client.get(url).bearer_auth(bearer))
            .await
    }

    /// POST (empty body) with bearer token.
    pub async fn post(&self, url: &str, bearer: &str) -> Result<Response, HttpError> {
        self.send(url, || {
            self.client
                .post(url)
                .bearer_auth(bearer)
                .header(reqwest::header::CONTENT_LENGTH, "0")
        })
        .await
    }

    /// POST a form (token request); returns the body.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, String)],
    ) -> Result<Vec<u8>, HttpError> {
        Ok(self
            .send(url, || self.client.post(url).form(form))
            .await?
            .body)
    }

    async fn send(
        &self,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Response, HttpError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.max_attempts;
            let backoff = Duration::from_millis(500u64.saturating_mul(1 << attempt.min(8)));
            match build().send().await {
                Err(e) => {
                    if last {
                        return Err(HttpError::Transport {
                            url: strip_query(url),
                            message: e.without_url().to_string(),
                        });
                    }
                    tokio::time::sleep(backoff).await;
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = resp
                        .bytes()
                        .await
                        .map_err(|e| HttpError::Transport {
                            url: strip_query(url),
                            message: e.without_url().to_string(),
                        })?
                        .to_vec();
                    if (200..300).contains(&status) {
                        return Ok(Response { body, headers });
                    }
                    let retryable = status == 429 || status >= 500;
                    if !retryable || last {
                        return Err(HttpError::Status {
                            url: strip_query(url),
                            status,
                            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                        });
                    }
                    let wait = retry_after(&headers)
                        .map(|d| d.min(self.max_retry_after))
                        .unwrap_or(backoff);
                    if status == 429 || status == 503 {
                        self.throttled
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    tracing::info!(
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "throttled; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// `Retry-After` as delta-seconds (both APIs document seconds).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}
