//! HTTPS on the service's HTTP port, checked with a real rustls client trusting a
//! self-signed certificate generated here: the endpoints answer over TLS with the same
//! token rules, a plain-HTTP request to the TLS port gets no HTTP answer and does not stop
//! the server, and an unusable certificate stops the start-up with the file's name.
//! Needs nats-server like `tests/serve.rs` (SKIPPED with `TRUSTPATH_SKIP_NATS=1`).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName};

const TOKEN: &str = "test-token-0123456789";

/// A self-signed certificate for `localhost` and its key, written to `dir`.
fn self_signed(dir: &Path) -> (trustpath_serve::TlsFiles, rcgen::Certificate) {
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let files = trustpath_serve::TlsFiles {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.cert, pair.cert.pem()).unwrap();
    std::fs::write(&files.key, pair.signing_key.serialize_pem()).unwrap();
    (files, pair.cert)
}

/// A rustls client that trusts only `cert`.
fn client_trusting(cert: &rcgen::Certificate) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 GET on `stream`: the raw response.
async fn get_raw<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
    token: Option<&str>,
) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // A TLS peer may close without close_notify; what arrived before counts.
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// An HTTPS GET: (status, body).
async fn https_get(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(server, tcp).await.unwrap();
    let (_, session) = tls.get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        session.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let response = get_raw(tls, path, token).await;
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Acceptance: HTTPS with a configured certificate; plain HTTP on that port fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_the_endpoints_and_refuses_plain_http() {
    let Some(nats) = Nats::start("https_serves_the_endpoints_and_refuses_plain_http") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (files, cert) = self_signed(dir.path());
    let mut config = config(&nats.url, &dir.path().join("s.redb"), &[0, 1, 2, 3], true);
    config.http.as_mut().unwrap().tls = Some(files);
    let handle = trustpath_serve::ServeHandle {
        metrics: Default::default(),
        http_addr: Default::default(),
    };
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let service = tokio::spawn(trustpath_serve::serve_with(
        config,
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
        handle.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handle.metrics.is_ready() {
        assert!(Instant::now() < deadline, "service not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let addr = *handle.http_addr.get().unwrap();
    let connector = client_trusting(&cert);

    let (status, body) = https_get(&connector, addr, "/healthz", None).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(https_get(&connector, addr, "/readyz", None).await.0, 200);
    for path in ["/metrics", "/v1/findings"] {
        let wrong = Some("test-token-012345678X");
        assert_eq!(
            https_get(&connector, addr, path, None).await.0,
            401,
            "{path}"
        );
        assert_eq!(
            https_get(&connector, addr, path, wrong).await.0,
            401,
            "{path}"
        );
        let (status, body) = https_get(&connector, addr, path, Some(TOKEN)).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, metrics) = https_get(&connector, addr, "/metrics", Some(TOKEN)).await;
    assert!(metrics.contains("trustpath_"), "{metrics}");

    // Plain HTTP to the TLS port: the handshake fails, no HTTP response comes back.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let plain = tokio::time::timeout(Duration::from_secs(10), get_raw(tcp, "/healthz", None))
        .await
        .unwrap();
    assert!(
        !plain.starts_with("HTTP/"),
        "plain HTTP answered: {plain:?}"
    );
    println!(
        "plain HTTP to the TLS port got {} bytes: {plain:?}",
        plain.len()
    );
    // A client that does not trust the certificate fails its handshake too.
    let stranger = client_trusting(
        &rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .unwrap()
            .cert,
    );
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let refused = stranger
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err(), "an untrusted certificate was accepted");
    // The failed handshakes did not stop the server.
    assert_eq!(https_get(&connector, addr, "/healthz", None).await.0, 200);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), service)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// An unusable certificate is a start-up error naming the file, before NATS is contacted.
#[tokio::test]
async fn a_bad_certificate_stops_the_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = self_signed(dir.path());
    std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    // Nothing listens on port 9: the error must come before any connection attempt.
    let mut config = config("nats://127.0.0.1:9", &dir.path().join("s.redb"), &[0], true);
    config.http.as_mut().unwrap().tls = Some(files);
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        trustpath_serve::serve(config, std::future::pending()),
    )
    .await
    .unwrap();
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.contains("server.crt: invalid PEM"),
        "unexpected error: {message}"
    );
}
