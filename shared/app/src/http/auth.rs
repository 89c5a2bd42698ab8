//! Who is calling. An [`Authenticate`] implementation turns a request's headers into an
//! [`Actor`]; the [`layer`] middleware runs it before every route and rejects with 401. Each group
//! of routes has a role [`Guard`] ([`guarded`]) that answers 403 before the path or body is read;
//! handlers read the caller with the [`Caller`] extractor (and may check roles again with its
//! `require_*` methods).
//!
//! Hosts choose the implementation: `connector serve` uses [`LocalHeaders`] on loopback,
//! [`BearerTokens`] and/or OIDC access tokens (`super::oidc`, [`JwtOrTokens`]) elsewhere; the
//! Lambda functions read API Gateway's JWT claims. Claims become an [`Actor`] the same way on
//! both hosts ([`super::claims`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use connector_domain::{Actor, PatientId, Role};
use sha2::{Digest, Sha256};

#[cfg(feature = "lambda")]
use super::claims::ClaimNames;
use super::problem::Problem;

/// Header naming the local user (loopback `connector serve` only).
pub const USER_HEADER: &str = "x-connector-user";
/// Header naming the local user's role (loopback `connector serve` only).
pub const ROLE_HEADER: &str = "x-connector-role";

/// Turns request headers into the caller's identity. Async, since verifying a token may fetch
/// the identity provider's keys.
#[async_trait::async_trait]
pub trait Authenticate: Send + Sync {
    /// The caller, or a 401 problem (403 for a valid token without a role; 503 when the keys
    /// to check it cannot be had).
    async fn authenticate(&self, parts: &Parts) -> Result<Actor, Problem>;

    /// True when callers authenticate with `Authorization: Bearer`: a 401 then carries
    /// `WWW-Authenticate: Bearer` (RFC 6750).
    fn bearer(&self) -> bool {
        false
    }
}

/// The token of an `Authorization: Bearer <token>` header, or the 401 problem.
pub fn bearer_token(parts: &Parts) -> Result<&str, Problem> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Problem::unauthorized("send `Authorization: Bearer <token>`"))
}

/// Trusts `x-connector-user` / `x-connector-role`, defaulting to a local administrator. Only
/// for a server bound to loopback, where the caller already has the machine.
#[derive(Debug, Clone, Default)]
pub struct LocalHeaders;

#[async_trait::async_trait]
impl Authenticate for LocalHeaders {
    async fn authenticate(&self, parts: &Parts) -> Result<Actor, Problem> {
        // Fail closed: a header that is present but unusable (repeated, not visible ASCII, empty,
        // an unknown role) is 401, never the default administrator.
        let header = |name: &str| -> Result<Option<&str>, Problem> {
            let mut values = parts.headers.get_all(name).iter();
            let Some(value) = values.next() else {
                return Ok(None);
            };
            if values.next().is_some() {
                return Err(Problem::unauthorized(format!(
                    "{name} is given more than once"
                )));
            }
            let text = value
                .to_str()
                .map_err(|_| Problem::unauthorized(format!("{name} must be visible ASCII text")))?
                .trim();
            if text.is_empty() {
                return Err(Problem::unauthorized(format!("{name} is empty")));
            }
            Ok(Some(text))
        };
        let user = header(USER_HEADER)?.unwrap_or("local-admin");
        let role = match header(ROLE_HEADER)? {
            None => Role::Admin,
            Some(text) => Role::parse(text)
                .filter(|r| *r != Role::System)
                .ok_or_else(|| {
                    Problem::unauthorized("x-connector-role must be staff, admin or patient")
                })?,
        };
        if user.len() > 128 {
            return Err(Problem::unauthorized("x-connector-user is too long"));
        }
        Ok(Actor::new(user, role))
    }
}

/// Bearer tokens listed in a file, one per line: `<sha256 of the token, hex> <user> <role>`.
/// Only hashes are stored, so the file does not hold usable secrets. Blank lines and lines
/// starting with `#` are ignored.
#[derive(Debug, Clone, Default)]
pub struct BearerTokens {
    by_hash: HashMap<[u8; 32], Actor>,
}

/// A problem in a token file, with its line number.
#[derive(Debug, thiserror::Error)]
#[error("token file line {line}: {why}")]
pub struct TokenFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub why: &'static str,
}

impl BearerTokens {
    /// Parses a token file's contents.
    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let mut by_hash = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(hash), Some(user), Some(role), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(TokenFileError {
                    line: line_no,
                    why: "expected `<sha256-hex> <user> <role>`",
                });
            };
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest).map_err(|_| TokenFileError {
                line: line_no,
                why: "the hash must be 64 hex digits",
            })?;
            let role = Role::parse(role)
                .filter(|r| *r != Role::System)
                .ok_or(TokenFileError {
                    line: line_no,
                    why: "the role must be staff, admin or patient",
                })?;
            by_hash.insert(digest, Actor::new(user, role));
        }
        Ok(Self { by_hash })
    }

    /// The line to add to a token file for `token`.
    pub fn file_line(token: &str, actor: &Actor) -> String {
        format!(
            "{} {} {}",
            hex::encode(Sha256::digest(token.as_bytes())),
            actor.user,
            actor.role.as_str()
        )
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[async_trait::async_trait]
impl Authenticate for BearerTokens {
    async fn authenticate(&self, parts: &Parts) -> Result<Actor, Problem> {
        let token = bearer_token(parts)?;
        // Looking up the token's hash, not the token, keeps comparisons off the secret itself.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_hash
            .get(&digest)
            .cloned()
            .ok_or_else(|| Problem::unauthorized("the token is not valid"))
    }

    fn bearer(&self) -> bool {
        true
    }
}

/// JWT bearer tokens (three dot-separated parts) go to `jwt`, any other bearer token to the
/// token file: `connector serve --oidc FILE --tokens FILE`, people signing in and machine
/// clients side by side.
pub struct JwtOrTokens {
    /// Verifies JWTs (the OIDC verifier).
    pub jwt: Arc<dyn Authenticate>,
    /// The token file.
    pub tokens: BearerTokens,
}

#[async_trait::async_trait]
impl Authenticate for JwtOrTokens {
    async fn authenticate(&self, parts: &Parts) -> Result<Actor, Problem> {
        let token = bearer_token(parts)?;
        if token.split('.').count() == 3 {
            self.jwt.authenticate(parts).await
        } else {
            self.tokens.authenticate(parts).await
        }
    }

    fn bearer(&self) -> bool {
        true
    }
}

/// Authenticates every request with `auth`, storing the [`Caller`] for handlers; `/health` is open.
pub async fn layer(auth: Arc<dyn Authenticate>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match auth.authenticate(&parts).await {
        Ok(actor) => {
            parts.extensions.insert(Caller(actor));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(problem) => {
            let unauthorized = problem.status == StatusCode::UNAUTHORIZED.as_u16();
            let mut response = problem.into_response();
            if unauthorized && auth.bearer() {
                // RFC 6750 section 3.1: no error code when the request carried no credentials.
                let challenge = if parts.headers.contains_key(header::AUTHORIZATION) {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            response
        }
    }
}

/// Wraps `router` so every request is authenticated by `auth`.
pub fn authenticated(router: axum::Router, auth: Arc<dyn Authenticate>) -> axum::Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let auth = Arc::clone(&auth);
            async move { layer(auth, request, next).await }
        },
    ))
}

/// Which callers a group of routes admits; checked by [`guarded`] before any extractor reads
/// the path or the body, so a caller in the wrong role gets 403 whatever it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Staff or admin.
    ClinicUser,
    /// Admin.
    Admin,
    /// A patient (the `/me` routes).
    Patient,
}

impl Guard {
    /// `Ok` when `caller` may use the routes, else the 403 problem.
    pub fn check(self, caller: &Caller) -> Result<(), Problem> {
        match self {
            Self::ClinicUser => caller.require_clinic_user().map(|_| ()),
            Self::Admin => caller.require_admin().map(|_| ()),
            Self::Patient => caller.require_patient().map(|_| ()),
        }
    }
}

/// Adds `guard` to every route of `router` (not to its fallback): 401 without an authenticated
/// caller, 403 for one in another role.
pub fn guarded<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    guard: Guard,
) -> axum::Router<S> {
    router.route_layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            let verdict = match request.extensions().get::<Caller>() {
                Some(caller) => guard.check(caller),
                None => Err(Problem::unauthorized("no authenticated caller")),
            };
            match verdict {
                Ok(()) => next.run(request).await,
                Err(problem) => problem.into_response(),
            }
        },
    ))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl Caller {
    /// Staff or admin, else 403.
    pub fn require_clinic_user(&self) -> Result<&Actor, Problem> {
        if self.0.is_clinic_user() {
            Ok(&self.0)
        } else {
            Err(Problem::forbidden("this operation is for clinic staff"))
        }
    }

    /// Admin, else 403.
    pub fn require_admin(&self) -> Result<&Actor, Problem> {
        if self.0.role == Role::Admin {
            Ok(&self.0)
        } else {
            Err(Problem::forbidden("this operation is for administrators"))
        }
    }

    /// For a patient caller, their own patient id (the user id of a patient is its patient id);
    /// else 403.
    pub fn require_patient(&self) -> Result<PatientId, Problem> {
        if self.0.role != Role::Patient {
            return Err(Problem::forbidden("this operation is for patients"));
        }
        PatientId::parse(self.0.user.clone())
            .map_err(|_| Problem::forbidden("the caller's identity is not a patient id"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("no authenticated caller"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder();
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn local_headers_default_to_admin() {
        let actor = LocalHeaders.authenticate(&parts(&[])).await.unwrap();
        assert_eq!(actor, Actor::new("local-admin", Role::Admin));
        let actor = LocalHeaders
            .authenticate(&parts(&[(USER_HEADER, "dana"), (ROLE_HEADER, "staff")]))
            .await
            .unwrap();
        assert_eq!(actor, Actor::new("dana", Role::Staff));
        assert!(
            LocalHeaders
                .authenticate(&parts(&[(ROLE_HEADER, "system")]))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn unusable_local_headers_fail_closed() {
        for headers in [
            &[(USER_HEADER, "")][..],
            &[(ROLE_HEADER, " ")][..],
            &[(ROLE_HEADER, "root")][..],
            &[(ROLE_HEADER, "staff"), (ROLE_HEADER, "admin")][..],
        ] {
            let err = LocalHeaders
                .authenticate(&parts(headers))
                .await
                .unwrap_err();
            assert_eq!(err.status, 401, "{headers:?}");
        }
        let mut not_ascii = parts(&[]);
        not_ascii.headers.insert(
            ROLE_HEADER,
            axum::http::HeaderValue::from_bytes(b"admin\xff").unwrap(),
        );
        assert_eq!(
            LocalHeaders
                .authenticate(&not_ascii)
                .await
                .unwrap_err()
                .status,
            401
        );
    }

    #[tokio::test]
    async fn bearer_tokens_match_by_hash() {
        let line = BearerTokens::file_line("s3cret-token", &Actor::new("robin", Role::Staff));
        let tokens = BearerTokens::parse(&format!("# comment\n\n{line}\n")).unwrap();
        assert_eq!(tokens.len(), 1);
        let ok = tokens
            .authenticate(&parts(&[("authorization", "Bearer s3cret-token")]))
            .await
            .unwrap();
        assert_eq!(ok.user, "robin");
        assert_eq!(
            tokens
                .authenticate(&parts(&[("authorization", "Bearer wrong")]))
                .await
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            tokens.authenticate(&parts(&[])).await.unwrap_err().status,
            401
        );
    }

    #[test]
    fn token_file_errors_name_the_line() {
        let err = BearerTokens::parse("zz alice admin\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = BearerTokens::parse(&format!("{} alice root\n", "a".repeat(64))).unwrap_err();
        assert!(err.why.contains("role"));
    }
}

/// Callers identified by API Gateway's JWT authorizer (HTTP API): the gateway has already
/// verified the token's signature, issuer, audience and expiry; this reads its claims from the
/// request context and maps them with [`ClaimNames`] (the same mapping `connector serve --oidc`
/// uses).
#[cfg(feature = "lambda")]
#[derive(Debug, Clone)]
pub struct ApiGatewayJwt {
    claims: ClaimNames,
}

#[cfg(feature = "lambda")]
impl ApiGatewayJwt {
    /// Claim names from `JWT_ROLE_CLAIM` and `JWT_PATIENT_ID_CLAIM` ([`ClaimNames::from_env`]).
    pub fn from_env() -> Result<Self, crate::ConfigError> {
        Ok(Self {
            claims: ClaimNames::from_env(),
        })
    }

    /// Reads the role from `role_claim` and a patient's id from `patient_id_claim`.
    pub fn new(role_claim: impl Into<String>, patient_id_claim: impl Into<String>) -> Self {
        Self {
            claims: ClaimNames::new(role_claim, patient_id_claim),
        }
    }
}

#[cfg(feature = "lambda")]
#[async_trait::async_trait]
impl Authenticate for ApiGatewayJwt {
    async fn authenticate(&self, parts: &Parts) -> Result<Actor, Problem> {
        use lambda_http::request::RequestContext;
        let claims = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        }
        .ok_or_else(|| Problem::unauthorized("no JWT authorizer claims on the request"))?;
        self.claims.actor_from_strings(claims)
    }
}
