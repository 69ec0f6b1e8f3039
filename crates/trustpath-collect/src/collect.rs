//! The collection run for one tenant: Management Activity API then Graph, into a case
//! folder or onto NATS, with the state written after the records.

use crate::auth::{Token, fetch_token, token_endpoint};
use crate::config::{CollectConfig, ConfigError, Credential};
use crate::http::{Http, HttpError};
use crate::state::{TenantState, write_atomic};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where records go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A case folder: `<dir>/<tenant>/ual/…`, `<dir>/<tenant>/entra/…`.
    Folder(PathBuf),
    /// NATS JetStream: `trustpath.events.<tenant>.<source>`, state kept in `state_dir`.
    Nats {
        /// Server URL.
        url: String,
        /// Where the state file lives.
        state_dir: PathBuf,
    },
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Tenant id (GUID or initial domain).
    pub tenant: String,
    /// Destination.
    pub destination: Destination,
    /// Now (tests pin it); `None` = the clock.
    pub now: Option<Timestamp>,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Configuration / credential.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// HTTP.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// NATS.
    #[error("nats: {0}")]
    Nats(String),
}

/// What a run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    /// Blobs fetched this run.
    pub blobs: u64,
    /// Blobs listed but already fetched earlier (skipped).
    pub blobs_skipped: u64,
    /// UAL records written/published.
    pub ual_records: u64,
    /// Graph records written/published per source.
    pub graph_records: BTreeMap<String, u64>,
    /// Graph records skipped as already collected.
    pub graph_skipped: u64,
    /// Retries after 429/503.
    pub throttled: u64,
}

/// The collector for one tenant.
pub struct Collector {
    config: CollectConfig,
    credential: Credential,
    http: Http,
    opts: CollectOptions,
    tenant_dir: PathBuf,
    state_path: PathBuf,
    state: TenantState,
    tokens: BTreeMap<String, Token>,
    nats: Option<async_nats::jetstream::Context>,
    facts: Facts,
    /// Called with a short progress line.
    pub progress: Box<dyn Fn(&str) + Send + Sync>,
}

/// Configuration facts read from the APIs (written to `collection.json`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Facts {
    /// Tenant.
    pub tenant: String,
    /// When collected.
    pub collected_at: String,
    /// Per content type: subscription status (`enabled`/`disabled`/error text).
    pub subscriptions: BTreeMap<String, String>,
    /// Per content type: whether any content blob was listed in the lookback window.
    pub content_arrives: BTreeMap<String, bool>,
    /// Per Graph source: `available`, or the API's error (licence: HTTP 403).
    pub graph: BTreeMap<String, String>,
    /// What these APIs cannot tell (stated, not guessed).
    pub not_observable: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CollectError + '_ {
    move |source| CollectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// File-name-safe digest of a key.
pub fn digest(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..12])
}

impl Collector {
    /// Prepare (reads credential, CA, state; does not touch the network).
    pub fn new(config: CollectConfig, opts: CollectOptions) -> Result<Self, CollectError> {
        let credential = config.credential()?;
        let ca = match &config.ca_file {
            Some(p) => Some(std::fs::read(p).map_err(io(p))?),
            None => None,
        };
        let http = Http::new(
            ca.as_deref(),
            config.max_attempts,
            Duration::from_secs(config.max_retry_after_secs),
        )?;
        let base = match &opts.destination {
            Destination::Folder(d) => d.clone(),
            Destination::Nats { state_dir, .. } => state_dir.clone(),
        };
        let tenant_dir = base.join(folder_name(&opts.tenant));
        let state_path = tenant_dir.join(".collect-state.json");
        let state = TenantState::load(&state_path).map_err(io(&state_path))?;
        Ok(Collector {
            config,
            credential,
            http,
            facts: Facts {
                tenant: opts.tenant.clone(),
                ..Facts::default()
            },
            opts,
            tenant_dir,
            state_path,
            state,
            tokens: BTreeMap::new(),
            nats: None,
            progress: Box::new(|_| {}),
        })
    }

    fn now(&self) -> Timestamp {
        self.opts.now.unwrap_or_else(Timestamp::now)
    }

    async fn token(&mut self, resource: &str) -> Result<String, CollectError> {
        if let Some(t) = self.tokens.get(resource)
            && !t.stale()
        {
            return Ok(t.bearer().to_string());
        }
        let endpoint = token_endpoint(&self.config.login_endpoint, &self.opts.tenant);
        let scope = format!("{}/.default", resource.trim_end_matches('/'));
        let t = fetch_token(
            &self.http,
            &endpoint,
            &self.config.client_id,
            &self.credential,
            &scope,
        )
        .await?;
        let bearer = t.bearer().to_string();
        self.tokens.insert(resource.to_string(), t);
        Ok(bearer)
    }

    fn save_state(&self) -> Result<(), CollectError> {
        self.state
            .save(&self.state_path)
            .map_err(io(&self.state_path))
    }

    /// Run once: subscriptions, content, Graph; then write `collection.json`.
    pub async fn run(&mut self) -> Result<Summary, CollectError> {
        if let Destination::Nats { url, .. } = &self.opts.destination {
            let client = async_nats::connect(url.as_str())
                .await
                .map_err(|e| CollectError::Nats(e.to_string()))?;
            self.nats = Some(async_nats::jetstream::new(client));
        }
        std::fs::create_dir_all(&self.tenant_dir).map_err(io(&self.tenant_dir))?;
        remove_partial_writes(&self.tenant_dir);
        let mut summary = Summary::default();
        self.facts.collected_at = self.now().to_string();
        self.management_activity(&mut summary).await?;
        self.graph(&mut summary).await?;
        self.facts.not_observable = vec![
            "Exchange Online mailbox audit configuration (AuditEnabled, audited actions such as \
             MailItemsAccessed) is not exposed by the Management Activity API or Graph audit \
             logs; records of those actions arriving in Audit.Exchange is the observable fact"
                .into(),
        ];
        let facts_path = self.tenant_dir.join("collection.json");
        let bytes = serde_json::to_vec_pretty(&self.facts).unwrap_or_default();
        write_atomic(&facts_path, &bytes).map_err(io(&facts_path))?;
        summary.throttled = self
            .http
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed);
        Ok(summary)
    }

    fn manage_base(&self) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed",
            self.config.manage_endpoint.trim_end_matches('/'),
            self.opts.tenant
        )
    }

    async fn management_activity(&mut self, summary: &mut Summary) -> Result<(), CollectError> {
        let resource = self.config.manage_endpoint.clone();
        let base = self.manage_base();
        // Subscription status: list, then start what is not enabled.
        let token = self.token(&resource).await?;
        let listed = self
            .http
            .get(&format!("{base}/subscriptions/list"), &token)
            .await?;
        let subs: Value = serde_json::from_slice(&listed.body).unwrap_or(Value::Null);
        for ct in self.config.content_types.clone() {
            let enabled = subs.as_array().into_iter().flatten().any(|s| {
                s.get("contentType").and_then(Value::as_str) == Some(ct.as_str())
                    && s.get("status").and_then(Value::as_str) == Some("enabled")
            });
            let status = if enabled {
                "enabled".to_string()
            } else {
                let url = format!("{base}/subscriptions/start?contentType={ct}");
                match self.http.post(&url, &token).await {
                    Ok(r) => serde_json::from_slice::<Value>(&r.body)
                        .ok()
                        .and_then(|v| v.get("status").and_then(Value::as_str).map(String::from))
                        .unwrap_or_else(|| "enabled".into()),
                    Err(e) => format!("error: {e}"),
                }
            };
            self.facts.subscriptions.insert(ct.clone(), status);
        }
        for ct in self.config.content_types.clone() {
            self.content_type(&ct, summary).await?;
        }
        Ok(())
    }

    async fn content_type(&mut self, ct: &str, summary: &mut Summary) -> Result<(), CollectError> {
        let now = self.now();
        let oldest =
            now - SignedDuration::from_hours(self.config.lookback_hours.min(7 * 24) as i64);
        let start = match self
            .state
            .listed_until
            .get(ct)
            .and_then(|s| s.parse::<Timestamp>().ok())
        {
            Some(t) => {
                (t - SignedDuration::from_hours(self.config.overlap_hours as i64)).max(oldest)
            }
            None => oldest,
        };
        let mut arrived = false;
        let mut window_start = start;
        while window_start < now {
            let window_end = (window_start + SignedDuration::from_hours(24)).min(now);
            let mut url = Some(format!(
                "{}/subscriptions/content?contentType={ct}&startTime={}&endTime={}",
                self.manage_base(),
                fmt_time(window_start),
                fmt_time(window_end)
            ));
            while let Some(u) = url.take() {
                let token = self.token(&self.config.manage_endpoint.clone()).await?;
                let resp = self.http.get(&u, &token).await?;
                url = resp
                    .headers
                    .get("NextPageUri")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                let list: Vec<Value> = serde_json::from_slice(&resp.body)
                    .map_err(|e| HttpError::Body(format!("content listing: {e}")))?;
                for item in list {
                    arrived = true;
                    let (Some(id), Some(uri)) = (
                        item.get("contentId").and_then(Value::as_str),
                        item.get("contentUri").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    if self.state.content.get(ct).is_some_and(|s| s.contains(id)) {
                        summary.blobs_skipped += 1;
                        continue;
                    }
                    let token = self.token(&self.config.manage_endpoint.clone()).await?;
                    let blob = self.http.get(uri, &token).await?;
                    let records: Vec<Value> = serde_json::from_slice(&blob.body)
                        .map_err(|e| HttpError::Body(format!("content blob {id}: {e}")))?;
                    let n = records.len() as u64;
                    self.emit_blob(ct, id, &records).await?;
                    self.state
                        .content
                        .entry(ct.to_string())
                        .or_default()
                        .insert(id.to_string());
                    self.save_state()?;
                    summary.blobs += 1;
                    summary.ual_records += n;
                    (self.progress)(&format!(
                        "{ct}: {} blobs, {} records",
                        summary.blobs, summary.ual_records
                    ));
                }
            }
            self.state
                .listed_until
                .insert(ct.to_string(), window_end.to_string());
            self.save_state()?;
            window_start = window_end;
        }
        let seen_before = self.state.content.get(ct).is_some_and(|s| !s.is_empty());
        self.facts
            .content_arrives
            .insert(ct.to_string(), arrived || seen_before);
        Ok(())
    }

    async fn emit_blob(
        &mut self,
        ct: &str,
        id: &str,
        records: &[Value],
    ) -> Result<(), CollectError> {
        match &self.opts.destination {
            Destination::Folder(_) => {
                let path = self
                    .tenant_dir
                    .join("ual")
                    .join(format!("{ct}-{}.jsonl", digest(id)));
                write_atomic(&path, &jsonl(records)).map_err(io(&path))
            }
            Destination::Nats { .. } => {
                for r in records {
                    let rid = r
                        .get("Id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    self.publish("ual", &rid, r).await?;
                }
                Ok(())
            }
        }
    }

    async fn publish(
        &self,
        source: &str,
        record_id: &str,
        record: &Value,
    ) -> Result<(), CollectError> {
        let Some(js) = &self.nats else {
            return Err(CollectError::Nats("not connected".into()));
        };
        let subject = format!("trustpath.events.{}.{source}", sanitize(&self.opts.tenant));
        let mut headers = async_nats::HeaderMap::new();
        let msg_id = if record_id.is_empty() {
            digest(&record.to_string())
        } else {
            format!("{}:{record_id}", self.opts.tenant)
        };
        headers.insert("Nats-Msg-Id", msg_id.as_str());
        let ack = js
            .publish_with_headers(subject, headers, record.to_string().into())
            .await
            .map_err(|e| CollectError::Nats(e.to_string()))?;
        ack.await.map_err(|e| CollectError::Nats(e.to_string()))?;
        Ok(())
    }

    async fn graph(&mut self, summary: &mut Summary) -> Result<(), CollectError> {
        let mut sources: Vec<(String, String, &'static str, Option<String>)> = Vec::new();
        let g = self.config.graph_endpoint.trim_end_matches('/').to_string();
        if self.config.graph_directory_audits {
            sources.push((
                "directoryaudits".into(),
                format!("{g}/v1.0/auditLogs/directoryAudits"),
                "activityDateTime",
                None,
            ));
        }
        if self.config.graph_signins {
            sources.push((
                "signins".into(),
                format!("{g}/v1.0/auditLogs/signIns"),
                "createdDateTime",
                None,
            ));
        }
        for t in self.config.graph_beta_signin_types.clone() {
            sources.push((
                format!("signins-{}", t.to_ascii_lowercase()),
                format!("{g}/beta/auditLogs/signIns"),
                "createdDateTime",
                Some(format!("signInEventTypes/any(t: t eq '{t}')")),
            ));
        }
        for (name, url, field, extra) in sources {
            match self.graph_source(&name, &url, field, extra, summary).await {
                Ok(()) => {
                    self.facts.graph.insert(name, "available".into());
                }
                Err(CollectError::Http(e)) if matches!(e.status(), Some(400 | 401 | 403 | 404)) => {
                    self.facts.graph.insert(name, format!("unavailable: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn graph_source(
        &mut self,
        name: &str,
        url: &str,
        field: &str,
        extra: Option<String>,
        summary: &mut Summary,
    ) -> Result<(), CollectError> {
        let now = self.now();
        let overlap = SignedDuration::from_mins(self.config.graph_overlap_minutes as i64);
        let from = match self
            .state
            .graph_last_time
            .get(name)
            .and_then(|s| s.parse::<Timestamp>().ok())
        {
            Some(t) => t - overlap,
            None => now - SignedDuration::from_hours(self.config.lookback_hours as i64),
        };
        let mut filter = format!("{field} ge {}", fmt_time(from));
        if let Some(x) = extra {
            filter = format!("{filter} and {x}");
        }
        // Ids already in the folder (a kill after a page file but before the state).
        if matches!(self.opts.destination, Destination::Folder(_)) {
            let known = ids_in_folder(&self.tenant_dir.join("entra"), name);
            let recent = self
                .state
                .graph_recent_ids
                .entry(name.to_string())
                .or_default();
            for id in known {
                recent.entry(id).or_default();
            }
        }
        let mut next = Some(format!("{url}?$filter={}", encode_query(&filter)));
        let graph = self.config.graph_endpoint.clone();
        while let Some(u) = next.take() {
            let token = self.token(&graph).await?;
            let resp = self.http.get(&u, &token).await?;
            let page: Value = serde_json::from_slice(&resp.body)
                .map_err(|e| HttpError::Body(format!("{name} page: {e}")))?;
            next = page
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(String::from);
            let recent = self
                .state
                .graph_recent_ids
                .entry(name.to_string())
                .or_default();
            let mut fresh = Vec::new();
            for r in page
                .get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                if id.is_empty() || recent.contains_key(id) {
                    summary.graph_skipped += 1;
                    continue;
                }
                fresh.push(r.clone());
            }
            if fresh.is_empty() {
                continue;
            }
            let ids: Vec<&str> = fresh
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str))
                .collect();
            let key = digest(&ids.join(","));
            match &self.opts.destination {
                Destination::Folder(_) => {
                    let path = self
                        .tenant_dir
                        .join("entra")
                        .join(format!("{name}-{key}.jsonl"));
                    write_atomic(&path, &jsonl(&fresh)).map_err(io(&path))?;
                }
                Destination::Nats { .. } => {
                    for r in &fresh {
                        let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                        self.publish(name, id, r).await?;
                    }
                }
            }
            let recent = self
                .state
                .graph_recent_ids
                .entry(name.to_string())
                .or_default();
            let mut last = self
                .state
                .graph_last_time
                .get(name)
                .and_then(|s| s.parse::<Timestamp>().ok());
            for r in &fresh {
                let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                let t = r.get(field).and_then(Value::as_str).unwrap_or_default();
                recent.insert(id.to_string(), t.to_string());
                if let Ok(ts) = t.parse::<Timestamp>() {
                    last = Some(last.map_or(ts, |l: Timestamp| l.max(ts)));
                }
            }
            if let Some(l) = last {
                // Keep only ids inside the overlap the next run re-reads.
                recent.retain(|_, t| t.parse::<Timestamp>().map_or(true, |ts| ts >= l - overlap));
                self.state
                    .graph_last_time
                    .insert(name.to_string(), l.to_string());
            }
            self.save_state()?;
            *summary.graph_records.entry(name.to_string()).or_default() += fresh.len() as u64;
            (self.progress)(&format!("{name}: {} records", summary.graph_records[name]));
        }
        Ok(())
    }
}

fn jsonl(records: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn fmt_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn folder_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Percent-encode a query value.
pub fn encode_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Record ids in `<dir>/<name>-*.jsonl`.
fn ids_in_folder(dir: &Path, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let prefix = format!("{name}-");
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        // `signins-<digest>.jsonl` only, not `signins-noninteractiveuser-…`.
        if rest.contains('-') || !rest.ends_with(".jsonl") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && let Some(id) = v.get("id").and_then(Value::as_str)
            {
                out.push(id.to_string());
            }
        }
    }
    out
}

/// Remove temp files a killed run left (`.<name>.tmp-<pid>`), so `hunt` never reads half a blob.
fn remove_partial_writes(dir: &Path) {
    for sub in [dir.to_path_buf(), dir.join("ual"), dir.join("entra")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
