//! A local HTTPS server implementing the documented contract of the Microsoft identity
//! platform token endpoint, the Office 365 Management Activity API and the Graph audit
//! log endpoints — for tests (`tests/`) and the `m365-contract-server` binary. Not a
//! production component.
//!
//! What it implements: `POST /{tenant}/oauth2/v2.0/token` (client secret or client
//! assertion), `subscriptions/list`, `subscriptions/start`, `subscriptions/content` with
//! `startTime`/`endTime` (at most 24 h apart, else 400) and `NextPageUri` paging, content
//! blobs (JSON arrays), Graph `auditLogs/signIns` and `auditLogs/directoryAudits` with a
//! `ge` filter on the time field and `@odata.nextLink` paging, a 429 with `Retry-After: 1`
//! every `throttle_every` requests, and blobs that become listable only after a number
//! of listings (late) with creation times earlier than blobs already listed (out of order).

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One content blob.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Content type.
    pub content_type: String,
    /// Content id.
    pub content_id: String,
    /// `contentCreated`.
    pub created: Timestamp,
    /// Listable only from this listing request number on (late publication).
    pub visible_from_listing: u64,
    /// Records.
    pub records: Vec<Value>,
}

/// What the server serves and what it observed.
#[derive(Debug, Default)]
pub struct Contract {
    /// Tenant.
    pub tenant: String,
    /// Accepted client secret (if any).
    pub client_secret: Option<String>,
    /// Blobs.
    pub blobs: Vec<Blob>,
    /// Graph sign-ins.
    pub signins: Vec<Value>,
    /// Graph directory audits.
    pub directory_audits: Vec<Value>,
    /// Page size for content listings and Graph.
    pub page_size: usize,
    /// Every Nth request is answered 429 (0 = never).
    pub throttle_every: u64,
    /// Started subscriptions.
    pub started: BTreeSet<String>,
    /// Requests seen.
    pub requests: u64,
    /// Content listing requests seen.
    pub listings: u64,
    /// When the last 429 was sent.
    pub last_429: Option<Instant>,
    /// Delay between each 429 and the next request.
    pub retry_gaps: Vec<Duration>,
    /// Token requests that used a client assertion with `x5t#S256` and the right `aud`.
    pub assertions: u64,
    /// Base URL (set when started).
    pub base: String,
}

/// Shared handle.
pub type Shared = Arc<Mutex<Contract>>;

fn resp(status: StatusCode, body: Value, headers: &[(&str, String)]) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn query(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding (and `+` as space) for queries and forms.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(shared: Shared, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut c = match shared.lock() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    c.requests += 1;
    if let Some(t) = c.last_429.take() {
        c.retry_gaps.push(t.elapsed());
    }
    if c.throttle_every > 0 && c.requests % c.throttle_every == 0 {
        c.last_429 = Some(Instant::now());
        return resp(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": {"code": "TooManyRequests"}}),
            &[("Retry-After", "1".into())],
        );
    }
    let path = parts.uri.path().to_string();
    let q = query(&parts.uri);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let tenant = c.tenant.clone();
    let base = c.base.clone();
    if path == format!("/{tenant}/oauth2/v2.0/token") {
        let form = String::from_utf8_lossy(&body).to_string();
        let fields: Vec<(String, String)> = form
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        let f = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let ok_secret = c.client_secret.is_some() && f("client_secret") == c.client_secret;
        let ok_assertion = f("client_assertion").is_some_and(|jwt| {
            let mut it = jwt.split('.');
            let dec = |s: Option<&str>| {
                use base64::Engine;
                s.and_then(|s| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(s)
                        .ok()
                })
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            };
            let (h, p) = (dec(it.next()), dec(it.next()));
            h.is_some_and(|h| h.get("x5t#S256").is_some() && h["alg"] == "RS256")
                && p.is_some_and(|p| p["aud"] == format!("{base}/{tenant}/oauth2/v2.0/token"))
        });
        if ok_assertion {
            c.assertions += 1;
        }
        if !(ok_secret || ok_assertion) || f("grant_type").as_deref() != Some("client_credentials")
        {
            return resp(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client"}),
                &[],
            );
        }
        return resp(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "contract-token"}),
            &[],
        );
    }
    let authorized = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some("Bearer contract-token");
    if !authorized {
        return resp(StatusCode::UNAUTHORIZED, json!({"error": "no token"}), &[]);
    }
    let feed = format!("/api/v1.0/{tenant}/activity/feed");
    if path == format!("{feed}/subscriptions/list") {
        let list: Vec<Value> = c
            .started
            .iter()
            .map(|ct| json!({"contentType": ct, "status": "enabled", "webhook": null}))
            .collect();
        return resp(StatusCode::OK, Value::Array(list), &[]);
    }
    if path == format!("{feed}/subscriptions/start") {
        let ct = get("contentType").unwrap_or_default();
        c.started.insert(ct.clone());
        return resp(
            StatusCode::OK,
            json!({"contentType": ct, "status": "enabled", "webhook": null}),
            &[],
        );
    }
    if path == format!("{feed}/subscriptions/content") {
        let ct = get("contentType").unwrap_or_default();
        let (Some(s), Some(e)) = (
            get("startTime").and_then(|s| s.parse::<Timestamp>().ok()),
            get("endTime").and_then(|s| s.parse::<Timestamp>().ok()),
        ) else {
            return resp(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "AF20001"}}),
                &[],
            );
        };
        if e <= s || e.duration_since(s).as_secs() > 24 * 3600 || !c.started.contains(&ct) {
            return resp(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "AF20055"}}),
                &[],
            );
        }
        let page: usize = get("nextPage").and_then(|p| p.parse().ok()).unwrap_or(0);
        if page == 0 {
            c.listings += 1;
        }
        let listings = c.listings;
        let matching: Vec<&Blob> = c
            .blobs
            .iter()
            .filter(|b| b.content_type == ct && b.created >= s && b.created < e)
            .filter(|b| b.visible_from_listing <= listings)
            .collect();
        let size = c.page_size.max(1);
        let chunk: Vec<Value> = matching
            .iter()
            .skip(page * size)
            .take(size)
            .map(|b| {
                json!({"contentType": ct, "contentId": b.content_id,
                       "contentUri": format!("{base}/blob/{}", b.content_id),
                       "contentCreated": b.created.to_string(),
                       "contentExpiration": (b.created + jiff::SignedDuration::from_hours(168)).to_string()})
            })
            .collect();
        let mut headers = Vec::new();
        if matching.len() > (page + 1) * size {
            let mut next = format!("{base}{path}?");
            for (k, v) in q.iter().filter(|(k, _)| k != "nextPage") {
                next.push_str(&format!("{k}={v}&"));
            }
            next.push_str(&format!("nextPage={}", page + 1));
            headers.push(("NextPageUri", next));
        }
        return resp(StatusCode::OK, Value::Array(chunk), &headers);
    }
    if let Some(id) = path.strip_prefix("/blob/") {
        return match c.blobs.iter().find(|b| b.content_id == id) {
            Some(b) => resp(StatusCode::OK, Value::Array(b.records.clone()), &[]),
            None => resp(StatusCode::NOT_FOUND, json!({}), &[]),
        };
    }
    let graph = [
        ("/v1.0/auditLogs/signIns", "createdDateTime"),
        ("/v1.0/auditLogs/directoryAudits", "activityDateTime"),
    ];
    if let Some((gpath, field)) = graph.iter().find(|(p, _)| *p == path) {
        let from = get("$filter")
            .and_then(|f| f.split(" ge ").nth(1).map(|t| t.trim().to_string()))
            .and_then(|t| t.parse::<Timestamp>().ok());
        let records = if gpath.ends_with("signIns") {
            &c.signins
        } else {
            &c.directory_audits
        };
        let matching: Vec<Value> = records
            .iter()
            .filter(|r| {
                let t = r
                    .get(*field)
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse::<Timestamp>().ok());
                match (t, from) {
                    (Some(t), Some(f)) => t >= f,
                    _ => true,
                }
            })
            .cloned()
            .collect();
        let skip: usize = get("$skiptoken").and_then(|p| p.parse().ok()).unwrap_or(0);
        let size = c.page_size.max(1);
        let mut page = json!({"@odata.context": format!("{base}/v1.0/$metadata#auditLogs"),
            "value": matching.iter().skip(skip).take(size).cloned().collect::<Vec<_>>()});
        if matching.len() > skip + size {
            let filter = get("$filter").unwrap_or_default();
            page["@odata.nextLink"] = json!(format!(
                "{base}{gpath}?$filter={}&$skiptoken={}",
                crate::collect::encode_query(&filter),
                skip + size
            ));
        }
        return resp(StatusCode::OK, page, &[]);
    }
    resp(
        StatusCode::NOT_FOUND,
        json!({"error": "no such endpoint"}),
        &[],
    )
}

/// A running server: its base URL, the CA PEM to trust, the shared state.
pub struct Running {
    /// `https://localhost:<port>`.
    pub base: String,
    /// PEM of the self-signed certificate (trust it via `ca_file`).
    pub ca_pem: String,
    /// State.
    pub shared: Shared,
    /// Address.
    pub addr: SocketAddr,
}

/// Start on loopback (port 0) with a fresh self-signed certificate for `localhost`.
pub async fn start(mut contract: Contract) -> std::io::Result<Running> {
    use tokio_rustls::rustls;
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .map_err(std::io::Error::other)?;
    let cert_der = pair.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(pair.signing_key.serialize_der())
        .map_err(std::io::Error::other)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key)
        .map_err(std::io::Error::other)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = format!("https://localhost:{}", addr.port());
    contract.base = base.clone();
    if contract.page_size == 0 {
        contract.page_size = 2;
    }
    let shared: Shared = Arc::new(Mutex::new(contract));
    let s2 = shared.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let shared = s2.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let shared = shared.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(handle(shared, req.map(Body::new)).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    Ok(Running {
        base,
        ca_pem: pair.cert.pem(),
        shared,
        addr,
    })
}
