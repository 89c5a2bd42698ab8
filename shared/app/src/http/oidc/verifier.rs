//! Checks one bearer JWT: its algorithm (asymmetric only, refused by name before any key is
//! looked up), its issuer (one configured, chosen without network), its key (from the issuer's
//! cached key set, whose own `alg` and `use` must agree), then signature, `iss`, `aud` (or
//! Cognito's `client_id`), `exp` and `nbf` with 60 s of clock skew. Each refusal names its
//! reason in the 401's detail and in an info log line, which never holds the token or a claim
//! value other than a configured issuer.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connector_domain::Actor;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::discovery::{FetchError, fetch_keys};
use super::keys::{KeyCache, KeyError, KeySource, MAX_AGE};
use crate::http::auth::{Authenticate, bearer_token};
use crate::http::claims::ClaimNames;
use crate::http::problem::Problem;

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;

/// The algorithms accepted: RSA (PKCS#1 v1.5 and PSS) and ECDSA. HMAC (a shared secret the
/// connector does not have, and the classic key-confusion attack) and `none` never are.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// One issuer whose tokens the API accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// Must equal the token's `iss` exactly; keys come from its discovery document.
    pub issuer: String,
    /// The token's `aud` must contain one of these (or, without `aud`, its `client_id` must be
    /// one: Cognito access tokens).
    pub audiences: Vec<String>,
}

struct Issuer {
    settings: IssuerSettings,
    keys: KeyCache,
}

/// Verifies OIDC access tokens from the configured issuers.
pub struct OidcVerifier {
    issuers: HashMap<String, Issuer>,
    claims: ClaimNames,
}

/// A refused token: 401 with a reason, or 503 when the keys cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    Invalid(&'static str),
    KeysUnavailable,
}

/// Fetches an issuer's keys over HTTP.
struct HttpKeys {
    http: reqwest::Client,
    issuer: String,
}

#[async_trait::async_trait]
impl KeySource for HttpKeys {
    async fn fetch(&self) -> Result<jsonwebtoken::jwk::JwkSet, FetchError> {
        fetch_keys(&self.http, &self.issuer).await
    }
}

/// The unverified parts of a token needed to choose how to verify it.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl OidcVerifier {
    /// A verifier for `issuers`, fetching keys with `http` (at most once per
    /// `refresh_interval` per issuer) and mapping claims with `claims`.
    pub fn new(
        issuers: Vec<IssuerSettings>,
        claims: ClaimNames,
        http: reqwest::Client,
        refresh_interval: Duration,
    ) -> Self {
        let issuers = issuers
            .into_iter()
            .map(|settings| {
                let source = HttpKeys {
                    http: http.clone(),
                    issuer: settings.issuer.clone(),
                };
                let keys = KeyCache::with_timing(Box::new(source), refresh_interval, MAX_AGE);
                (settings.issuer.clone(), Issuer { settings, keys })
            })
            .collect();
        Self { issuers, claims }
    }

    async fn verify(&self, token: &str) -> Result<Map<String, Value>, Refusal> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Invalid("the bearer token is not a JWT"));
        };
        let header: RawHeader =
            decode_part(header).ok_or(Refusal::Invalid("the token's header cannot be read"))?;
        let algorithm = accepted_algorithm(&header.alg)?;
        let issuer = decode_part::<Map<String, Value>>(payload)
            .as_ref()
            .and_then(|claims| claims.get("iss"))
            .and_then(Value::as_str)
            .and_then(|iss| self.issuers.get(iss))
            .ok_or(Refusal::Invalid("the token's issuer is not accepted"))?;
        let key = issuer
            .keys
            .key(header.kid.as_deref())
            .await
            .map_err(|error| match error {
                KeyError::Unknown => Refusal::Invalid("the token's signing key is unknown"),
                KeyError::NoKeyId => Refusal::Invalid("the token names no signing key (kid)"),
                KeyError::Unavailable => Refusal::KeysUnavailable,
            })?;
        check_key_agrees(&key, algorithm)?;
        let decoding_key = DecodingKey::from_jwk(&key)
            .map_err(|_| Refusal::Invalid("the identity provider's key cannot be used"))?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&issuer.settings.issuer]);
        validation.set_audience(&issuer.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding_key, &validation)
            .map_err(|error| Refusal::Invalid(reason(error.kind())))?
            .claims;
        // Without `aud` (Cognito access tokens), `client_id` names the audience.
        if !claims.contains_key("aud") {
            let client_id = claims.get("client_id").and_then(Value::as_str);
            if !client_id.is_some_and(|id| issuer.settings.audiences.iter().any(|a| a == id)) {
                return Err(Refusal::Invalid("the token is for another audience"));
            }
        }
        Ok(claims)
    }
}

#[async_trait::async_trait]
impl Authenticate for OidcVerifier {
    async fn authenticate(&self, parts: &Parts) -> Result<Actor, Problem> {
        let token = bearer_token(parts)?;
        match self.verify(token).await {
            Ok(claims) => self.claims.actor_from_json(&claims),
            Err(Refusal::Invalid(reason)) => {
                tracing::info!(reason, "bearer token refused");
                Err(Problem::unauthorized(reason))
            }
            Err(Refusal::KeysUnavailable) => Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "cannot fetch the identity provider's keys; retry later",
            )),
        }
    }

    fn bearer(&self) -> bool {
        true
    }
}

/// A base64url JSON part of a token, unverified.
fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The header's algorithm if accepted; `none` and HMAC are refused by name.
fn accepted_algorithm(alg: &str) -> Result<Algorithm, Refusal> {
    if alg.eq_ignore_ascii_case("none") {
        return Err(Refusal::Invalid(
            "unsigned tokens (alg none) are not accepted",
        ));
    }
    if alg.starts_with("HS") {
        return Err(Refusal::Invalid(
            "tokens signed with a shared secret (HS*) are not accepted",
        ));
    }
    alg.parse::<Algorithm>()
        .ok()
        .filter(|a| ACCEPTED.contains(a))
        .ok_or(Refusal::Invalid("the token's algorithm is not accepted"))
}

/// A key's own `alg` and `use`, when it states them, must allow this signature.
fn check_key_agrees(key: &Jwk, algorithm: Algorithm) -> Result<(), Refusal> {
    if let Some(key_alg) = key.common.key_algorithm {
        if key_alg.to_string() != format!("{algorithm:?}") {
            return Err(Refusal::Invalid(
                "the signing key is for another algorithm than the token's",
            ));
        }
    }
    match &key.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => Ok(()),
        Some(_) => Err(Refusal::Invalid("the signing key is not for signatures")),
    }
}

/// The plain-words reason for a failed check.
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidAudience => "the token is for another audience",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidSignature => "the token's signature does not match its key",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
            "the token's algorithm does not fit its key"
        }
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => "the token has no expiry (exp)",
        ErrorKind::MissingRequiredClaim(_) => "the token has no issuer (iss)",
        ErrorKind::InvalidClaimFormat(_) => "a claim of the token has the wrong type",
        _ => "the token cannot be read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_hmac_are_refused_by_name() {
        for alg in ["none", "NONE", "HS256", "HS384", "HS512"] {
            assert!(accepted_algorithm(alg).is_err(), "{alg}");
        }
        for alg in ["EdDSA", "RS1", ""] {
            assert_eq!(
                accepted_algorithm(alg),
                Err(Refusal::Invalid("the token's algorithm is not accepted"))
            );
        }
        assert_eq!(accepted_algorithm("RS256"), Ok(Algorithm::RS256));
        assert_eq!(accepted_algorithm("ES256"), Ok(Algorithm::ES256));
        assert_eq!(accepted_algorithm("PS512"), Ok(Algorithm::PS512));
    }

    fn ec_key(extra: Value) -> Jwk {
        let mut key = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        });
        key.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(key).unwrap()
    }

    #[test]
    fn a_key_must_agree_with_the_token() {
        let plain = ec_key(serde_json::json!({}));
        assert!(check_key_agrees(&plain, Algorithm::ES256).is_ok());
        let stated = ec_key(serde_json::json!({ "alg": "ES256", "use": "sig" }));
        assert!(check_key_agrees(&stated, Algorithm::ES256).is_ok());
        assert!(check_key_agrees(&stated, Algorithm::ES384).is_err());
        let encryption = ec_key(serde_json::json!({ "use": "enc" }));
        assert!(check_key_agrees(&encryption, Algorithm::ES256).is_err());
    }
}
