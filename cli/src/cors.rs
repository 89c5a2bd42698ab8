//! Cross-origin access for `connector serve --allow-origin ORIGIN`: lets a clinic's own portal
//! (another origin) load `/components/hie-consent.js` and call the API from the browser. Only the
//! listed origins get `Access-Control-Allow-Origin`; their preflights (OPTIONS with
//! `Access-Control-Request-Method`) are answered 204 before authentication. No cookies are used,
//! so credentials are never allowed. Without the flag nothing changes (same origin only).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The headers a browser may send cross-origin: the bearer token, JSON, the local identity.
const ALLOW_HEADERS: &str =
    "authorization, content-type, accept, x-connector-user, x-connector-role";
/// The methods the API uses.
const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE";

/// The origins allowed to call (each `scheme://host[:port]`, without a path).
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Arc<Vec<String>>);

impl AllowedOrigins {
    /// Checks and keeps `origins` (a trailing slash is dropped).
    pub fn parse(origins: &[String]) -> anyhow::Result<Self> {
        let mut kept = Vec::new();
        for origin in origins {
            let origin = origin.trim().trim_end_matches('/');
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains('/') => {
                    kept.push(origin.to_owned());
                }
                _ => anyhow::bail!(
                    "--allow-origin must be an origin such as https://portal.example.org (scheme, host and optional port, no path)"
                ),
            }
        }
        Ok(Self(Arc::new(kept)))
    }

    /// Whether no origin is allowed (the layer is then not installed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn allowed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.0.iter().any(|o| o == text).then(|| origin.clone())
    }
}

/// The middleware: preflights of allowed origins answered here, their other answers marked.
pub async fn layer(
    State(origins): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = origins.allowed(request.headers());
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (&allowed, preflight) {
        (Some(_), true) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            response
        }
        _ => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}
