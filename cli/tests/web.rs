//! The web console and portal as `connector serve` serves them: embedded files after every API
//! route, with their security headers; unknown paths and other methods the API's 404 problem;
//! cross-origin access only for `--allow-origin` origins.

use reqwest::header;
use serde_json::Value;

#[path = "support/server.rs"]
mod server;
use server::serve;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_console_portal_and_component_are_served_with_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("c.db"), &["--collect-every", "0"]);
    let client = client();
    for (path, kind, needle) in [
        ("/", "text/html", "/assets/app.js"),
        ("/portal/", "text/html", "/components/hie-consent.js"),
        ("/assets/app.js", "text/javascript", "hashchange"),
        ("/assets/styles.css", "text/css", ":focus-visible"),
        (
            "/components/hie-consent.js",
            "text/javascript",
            "customElements.define",
        ),
    ] {
        let reply = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{path}");
        let headers = reply.headers().clone();
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
            "{policy}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(reply.text().await.unwrap().contains(needle), "{path}");
    }
    let reply = client.get(server.url("/portal")).send().await.unwrap();
    assert_eq!(reply.status(), 308);
    assert_eq!(reply.headers()[header::LOCATION], "/portal/");
}

#[tokio::test]
async fn unknown_paths_and_other_methods_are_the_api_not_found_problem() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("c.db"), &["--collect-every", "0"]);
    let client = client();
    for request in [
        client.get(server.url("/assets/nope.js")),
        client.get(server.url("/assets/../../Cargo.toml")),
        client.post(server.url("/index.html")),
        client.delete(server.url("/")),
    ] {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 404);
        assert_eq!(
            reply.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let problem: Value = reply.json().await.unwrap();
        assert_eq!(problem["status"], 404);
    }
    // The API keeps its routes: the console does not shadow them.
    let reply = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn only_allowed_origins_get_cross_origin_access() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &dir.path().join("c.db"),
        &[
            "--collect-every",
            "0",
            "--allow-origin",
            "https://portal.example.org/",
        ],
    );
    let client = client();
    let preflight = |origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, server.url("/me/consents"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, content-type",
            )
            .send()
    };
    let reply = preflight("https://portal.example.org").await.unwrap();
    assert_eq!(reply.status(), 204);
    let headers = reply.headers();
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://portal.example.org"
    );
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let reply = preflight("https://evil.example.net").await.unwrap();
    assert!(
        !reply
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    let reply = client
        .get(server.url("/components/hie-consent.js"))
        .header(header::ORIGIN, "https://portal.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://portal.example.org"
    );
}

#[test]
fn an_allow_origin_with_a_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("c.db"))
        .args(["--allow-origin", "https://portal.example.org/app"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-origin must be an origin"));
}
