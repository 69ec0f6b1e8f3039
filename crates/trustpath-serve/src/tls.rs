//! HTTPS for the HTTP endpoint: when `[http] tls_cert` and `tls_key` are configured, the
//! endpoint speaks TLS (rustls with the `ring` provider, TLS 1.2 and 1.3, ALPN
//! `http/1.1`) and nothing else; a plain-HTTP request to that port fails its handshake.
//!
//! The certificate chain and key are read once at start-up ([`server_config`]); a file
//! that cannot be read, holds no usable PEM, or a key that does not belong to the
//! certificate is a [`TlsError`] naming the file. At run time every accepted connection
//! gets its own task: the handshake (bounded by [`HANDSHAKE_TIMEOUT`]), then hyper's
//! HTTP/1.1 server with the axum router as its service. A failed handshake is logged at
//! debug level and costs only that connection. On shutdown the listener stops accepting,
//! handshakes in progress are abandoned, and open connections finish their current
//! request (graceful shutdown) before [`serve_https`] returns.

use crate::config::TlsFiles;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Longest a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not usable PEM, or holds none of what it should.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (key does not match the certificate, unsupported key…).
    #[error("{cert} with key {key}: {source}")]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

/// Load the certificate chain and private key (PEM) into a rustls server configuration.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certificates(&files.cert)?;
    let key = read_private_key(&files.key)?;
    let refused = |source| TlsError::Refused {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Largest certificate chain or key file read (a real chain is a few KiB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// A regular file of at most [`MAX_PEM_BYTES`]: a FIFO would block start-up and
/// `/dev/zero` would never end.
fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let pem = |message: String| TlsError::Pem {
        path: path.to_path_buf(),
        message,
    };
    let read = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(pem(
            "not a regular file (a FIFO, socket or device cannot hold a certificate)".into(),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(pem(format!(
            "larger than {MAX_PEM_BYTES} bytes: not a certificate or key file"
        )));
    }
    Ok(bytes)
}

/// Every `CERTIFICATE` section of a PEM file, leaf first.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_pem_file(path)?;
    let pem_error = |message: String| TlsError::Pem {
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(pem_error(
            "no CERTIFICATE section (expected a PEM certificate chain)".into(),
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_pem_file(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        message: match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no PRIVATE KEY section (expected a PKCS#8, RSA or EC private key in PEM)".into()
            }
            other => format!("invalid PEM: {other}"),
        },
    })
}

/// Serve `app` over TLS on `listener` until `stop` turns true; then stop accepting and
/// wait for open connections to finish their current request.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let connection = Connection {
                    tcp,
                    peer,
                    acceptor: acceptor.clone(),
                    app: app.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(connection.run(graceful.watcher()));
            }
            Err(e) => accept_failed(&e).await,
        }
    }
    graceful.shutdown().await;
}

/// An accept error: per-connection ones (reset, aborted) are routine; others (out of
/// file descriptors) get a pause so the loop does not spin.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!("https: accept: {e}");
    } else {
        tracing::warn!("https: accept: {e}; pausing 100 ms");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One accepted TCP connection, before its handshake.
struct Connection {
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    stop: watch::Receiver<bool>,
}

impl Connection {
    /// Handshake, then serve HTTP/1.1 on the encrypted stream until the client leaves or
    /// the graceful shutdown closes it.
    async fn run(mut self, watcher: hyper_util::server::graceful::Watcher) {
        let peer = self.peer;
        let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(self.tcp));
        let stream = tokio::select! {
            result = handshake => match result {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!("https: TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(
                        "https: TLS handshake with {peer} timed out after {HANDSHAKE_TIMEOUT:?}"
                    );
                    return;
                }
            },
            _ = self.stop.wait_for(|s| *s) => return,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(self.app));
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!("https: connection with {peer}: {e}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A self-signed pair for `localhost` written to `dir`: (cert path, key path).
    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, pair.cert.pem()).unwrap();
        std::fs::write(&files.key, pair.signing_key.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "server");
        let config = server_config(&files).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = write_pair(dir.path(), "server");
        files.key = dir.path().join("absent.key");
        let message = server_config(&files).unwrap_err().to_string();
        assert!(message.contains("absent.key: cannot read"), "{message}");
    }

    #[test]
    fn a_file_without_pem_is_named_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = write_pair(dir.path(), "server");
        std::fs::write(&files.cert, "not a certificate\n").unwrap();
        let message = server_config(&files).unwrap_err().to_string();
        assert!(
            message.contains("server.crt: no CERTIFICATE section"),
            "{message}"
        );

        files = write_pair(dir.path(), "server");
        files.key = files.cert.clone();
        let message = server_config(&files).unwrap_err().to_string();
        assert!(
            message.contains("server.crt: no PRIVATE KEY section"),
            "{message}"
        );
    }

    #[test]
    fn broken_pem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "server");
        let truncated = std::fs::read_to_string(&files.cert).unwrap();
        let truncated = &truncated[..truncated.len() / 2];
        std::fs::write(&files.cert, truncated).unwrap();
        let message = server_config(&files).unwrap_err().to_string();
        assert!(message.contains("server.crt: invalid PEM"), "{message}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = write_pair(dir.path(), "server");
        files.key = write_pair(dir.path(), "other").key;
        let message = server_config(&files).unwrap_err().to_string();
        assert!(
            message.contains("server.crt with key") && message.contains("other.key"),
            "{message}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_sockets_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("cert.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        for path in [socket.as_path(), Path::new("/dev/zero")] {
            let message = read_pem_file(path).unwrap_err().to_string();
            assert!(message.contains("not a regular file"), "{message}");
        }
    }
}
