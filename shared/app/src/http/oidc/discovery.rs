//! OpenID Connect discovery: `{issuer}/.well-known/openid-configuration`, the document naming an
//! issuer's key set and endpoints. Its `issuer` must equal the one asked for (OIDC Discovery
//! section 4.3), so a document cannot speak for another issuer.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

/// How long a connection to the identity provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole request to the identity provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The parts of a discovery document the connector uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// The issuer the document is for.
    pub issuer: String,
    /// Where the issuer's signing keys are (JWKS).
    pub jwks_uri: String,
    /// Where the pages exchange a code for tokens.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Where the pages read the signed-in user's claims.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// Where the pages revoke tokens on sign-out.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Where the pages send the browser to sign out.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

impl Discovery {
    /// The endpoints the pages call from the browser (token, userinfo, revocation, end-session).
    pub fn browser_endpoints(&self) -> impl Iterator<Item = &str> {
        [
            &self.token_endpoint,
            &self.userinfo_endpoint,
            &self.revocation_endpoint,
            &self.end_session_endpoint,
        ]
        .into_iter()
        .filter_map(|endpoint| endpoint.as_deref())
    }
}

/// Why the identity provider's documents could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed (connection refused, timeout, TLS) or its body was not the document.
    #[error("request to the identity provider failed")]
    Http(#[from] reqwest::Error),
    /// The identity provider answered with an error status.
    #[error("the identity provider answered {0}")]
    Status(u16),
    /// The discovery document is for another issuer.
    #[error("the discovery document names another issuer")]
    IssuerMismatch,
}

/// An HTTP client for the identity provider, with short timeouts.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
}

/// The discovery URL of `issuer` (a trailing slash on the issuer is not doubled).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks `issuer`'s discovery document.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, FetchError> {
    let document: Discovery = get_json(http, &discovery_url(issuer)).await?;
    if document.issuer != issuer {
        return Err(FetchError::IssuerMismatch);
    }
    Ok(document)
}

/// Fetches `issuer`'s signing keys (discovery, then its `jwks_uri`). A key this crate cannot
/// read (an unknown key type) is left out rather than failing the whole set.
pub async fn fetch_keys(http: &reqwest::Client, issuer: &str) -> Result<JwkSet, FetchError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let document = discover(http, issuer).await?;
    let raw: RawSet = get_json(http, &document.jwks_uri).await?;
    let keys = raw
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value(key).ok())
        .collect();
    Ok(JwkSet { keys })
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let response = http.get(url).send().await?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    Ok(response.json().await?)
}
