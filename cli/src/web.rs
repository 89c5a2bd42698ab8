//! The web console (`/`) and patient portal (`/portal/`): the files of `web/public/`, embedded in
//! the binary by `build.rs`, served after every API route (GET and HEAD only; any other path or
//! method is the API's 404 problem). Each answer carries a Content-Security-Policy without
//! 'unsafe-inline' (the app has no inline script or style) and `nosniff`. `/config.json` tells
//! the pages how to sign in (see [`Site`]).
//!
//! For working on the web app, `CONNECTOR_WEB_ROOT=web/public` serves the files from that folder
//! instead, read on each request (no rebuild after an edit).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The policy of every page: only this origin's scripts, styles, images and API. With
/// `--oidc`, `connect-src` also names the identity providers' origins ([`policy`]).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// [`CSP`] with `connect_origins` added to its `connect-src` (the identity providers the pages
/// call to sign in).
pub fn policy(connect_origins: &[String]) -> String {
    let mut connect = String::from("connect-src 'self'");
    for origin in connect_origins {
        connect.push(' ');
        connect.push_str(origin);
    }
    CSP.replace("connect-src 'self'", &connect)
}

/// What the pages are served with: their `/config.json` and their Content-Security-Policy.
#[derive(Debug, Clone)]
pub struct Site {
    config_json: axum::body::Bytes,
    csp: HeaderValue,
}

impl Site {
    /// Pages told `config` at `/config.json`, allowed to connect to `connect_origins` too.
    pub fn new(config: &serde_json::Value, connect_origins: &[String]) -> anyhow::Result<Self> {
        Ok(Self {
            config_json: serde_json::to_vec(config)?.into(),
            csp: HeaderValue::from_str(&policy(connect_origins))?,
        })
    }
}

/// The folder `CONNECTOR_WEB_ROOT` names, if set.
fn web_root() -> Option<&'static PathBuf> {
    static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    ROOT.get_or_init(|| std::env::var_os("CONNECTOR_WEB_ROOT").map(PathBuf::from))
        .as_ref()
}

/// The file at `path` (`/` and `.../` mean that folder's index.html): embedded, or read from
/// `CONNECTOR_WEB_ROOT` when set (paths with `..` or `\\` are never read).
fn asset(path: &str) -> Option<Cow<'static, [u8]>> {
    let path = if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    if let Some(root) = web_root() {
        if path
            .split('/')
            .any(|part| part == ".." || part.contains('\\'))
        {
            return None;
        }
        return std::fs::read(root.join(path.trim_start_matches('/')))
            .ok()
            .map(Cow::Owned);
    }
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| Cow::Borrowed(*bytes))
}

/// The media type of a file by its extension.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The router's fallback: `/config.json` (never cached), an embedded file for GET/HEAD, else
/// the API's 404 problem. A folder without its slash (`/portal`) is redirected to it.
pub async fn serve(site: Arc<Site>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if method != Method::GET && method != Method::HEAD {
        return connector_app::http::problem::not_found()
            .await
            .into_response();
    }
    let (bytes, cache) = if path == "/config.json" {
        (Some(Cow::Owned(site.config_json.to_vec())), "no-store")
    } else {
        (asset(&path), "no-cache")
    };
    let Some(bytes) = bytes else {
        if asset(&format!("{path}/")).is_some() {
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("{path}/")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        }
        return connector_app::http::problem::not_found()
            .await
            .into_response();
    };
    let name = if path.ends_with('/') {
        "index.html"
    } else {
        path.as_str()
    };
    let body = match bytes {
        _ if method == Method::HEAD => Body::empty(),
        Cow::Borrowed(bytes) => Body::from(bytes),
        Cow::Owned(bytes) => Body::from(bytes),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type(name)),
        (header::CACHE_CONTROL, cache),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, site.csp.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_adds_origins_to_connect_src_only() {
        assert_eq!(policy(&[]), CSP);
        let with = policy(&[
            "https://idp.example".to_owned(),
            "http://127.0.0.1:4010".to_owned(),
        ]);
        assert!(with.contains("connect-src 'self' https://idp.example http://127.0.0.1:4010;"));
        assert!(with.contains("script-src 'self';"));
        assert!(!with.contains("unsafe-inline"));
    }
}
