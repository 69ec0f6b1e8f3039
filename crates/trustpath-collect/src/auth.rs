//! OAuth 2.0 client credentials against the Microsoft identity platform v2.0 token
//! endpoint, with a client secret or a certificate (signed client assertion: an RS256
//! JWT whose header carries `x5t#S256`, `aud` = the token endpoint).

use crate::config::Credential;
use crate::http::{Http, HttpError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// `<login>/<tenant>/oauth2/v2.0/token`.
pub fn token_endpoint(login: &str, tenant: &str) -> String {
    format!(
        "{}/{}/oauth2/v2.0/token",
        login.trim_end_matches('/'),
        tenant
    )
}

/// A bearer token and when to renew it.
#[derive(Clone)]
pub struct Token {
    value: String,
    renew_at: Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl Token {
    /// The bearer value.
    pub fn bearer(&self) -> &str {
        &self.value
    }
    /// Whether it should be renewed.
    pub fn stale(&self) -> bool {
        Instant::now() >= self.renew_at
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Build the RS256 client assertion for a certificate credential.
pub fn client_assertion(
    cert_der: &[u8],
    key_pem: &str,
    client_id: &str,
    audience: &str,
    now_unix: i64,
    jti: &str,
) -> Result<String, String> {
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let thumb = URL_SAFE_NO_PAD.encode(Sha256::digest(cert_der));
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": thumb});
    let claims = serde_json::json!({
        "aud": audience, "iss": client_id, "sub": client_id, "jti": jti,
        "nbf": now_unix, "iat": now_unix, "exp": now_unix + 600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // The error text of a key parse never contains the key.
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(key_pem)
        .map_err(|_| "private key is not a PKCS#8 PEM RSA key".to_string())?;
    let signer = SigningKey::<Sha256>::new(key);
    let sig = signer.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    ))
}

/// Request a token for `scope` (`https://manage.office.com/.default`, …).
pub async fn fetch_token(
    http: &Http,
    endpoint: &str,
    client_id: &str,
    credential: &Credential,
    scope: &str,
) -> Result<Token, HttpError> {
    let now = jiff::Timestamp::now();
    let mut form: Vec<(&str, String)> = vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", client_id.into()),
        ("scope", scope.into()),
    ];
    match credential {
        Credential::Secret(s) => form.push(("client_secret", s.expose().to_string())),
        Credential::Certificate { cert_der, key_pem } => {
            let jti = hex::encode(Sha256::digest(format!("{client_id}{now}{scope}")));
            let jwt = client_assertion(
                cert_der,
                key_pem.expose(),
                client_id,
                endpoint,
                now.as_second(),
                &jti,
            )
            .map_err(HttpError::Credential)?;
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            form.push(("client_assertion", jwt));
        }
    }
    let body = http.post_form(endpoint, &form).await?;
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| HttpError::Body(format!("token response: {e}")))?;
    let life = parsed
        .expires_in
        .unwrap_or(3599)
        .saturating_sub(300)
        .max(30);
    Ok(Token {
        value: parsed.access_token,
        renew_at: Instant::now() + Duration::from_secs(life),
    })
}
