//! The HTTP endpoint: `/healthz` and `/readyz` without a token; `/metrics` and
//! `/v1/findings` behind `Authorization: Bearer <token>`, compared in constant time.
//! Served over plain HTTP, or HTTPS when a certificate is configured ([`crate::tls`]).

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// Counters and current findings.
    pub metrics: Arc<Metrics>,
    /// The bearer token.
    pub token: Arc<str>,
}

/// The router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/findings", get(findings))
        .with_state(state)
}

/// Compare two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let longest = a.len().max(b.len());
    for i in 0..longest {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    // RFC 9110 §11.1: the scheme is case-insensitive; one or more spaces follow it.
    let bytes = value.as_bytes();
    let Some(scheme) = bytes.get(..6) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") || bytes.get(6) != Some(&b' ') {
        return false;
    }
    let presented = bytes[6..].trim_ascii();
    constant_time_eq(presented, token.as_bytes())
}

fn unauthorized() -> Response {
    let mut response =
        (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<HttpState>) -> Response {
    if state.metrics.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if !authorized(&headers, &state.token) {
        return unauthorized();
    }
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// `/v1/findings` query parameters.
#[derive(Debug, Deserialize)]
pub struct FindingsQuery {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only findings whose window starts at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many (default 100, at most 10 000).
    pub limit: Option<usize>,
}

async fn findings(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<FindingsQuery>,
) -> Response {
    if !authorized(&headers, &state.token) {
        return unauthorized();
    }
    let since = match query.since.as_deref().map(str::parse::<jiff::Timestamp>) {
        Some(Err(e)) => {
            return (StatusCode::BAD_REQUEST, format!("since: {e}\n")).into_response();
        }
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let limit = query.limit.unwrap_or(100).min(10_000);
    let list = state
        .metrics
        .query_findings(query.tenant.as_deref(), since, limit);
    let body = serde_json::to_vec(&list).unwrap_or_default();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_header_is_required() {
        let mut headers = HeaderMap::new();
        assert!(!authorized(&headers, "secret-token-0123"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic secret-token-0123"),
        );
        assert!(!authorized(&headers, "secret-token-0123"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret-token-0123"),
        );
        assert!(authorized(&headers, "secret-token-0123"));
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let value = format!("{scheme} secret-token-0123");
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&value).expect("header"),
            );
            assert!(authorized(&headers, "secret-token-0123"), "{scheme}");
        }
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearersecret-token-0123"),
        );
        assert!(!authorized(&headers, "secret-token-0123"));
    }
}
