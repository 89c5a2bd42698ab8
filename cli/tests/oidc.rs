//! `connector serve --oidc` against a stand-in identity provider over real HTTP: a discovery
//! document and a JWKS served from 127.0.0.1 with invented RSA and EC keys made at test time;
//! tokens signed here by hand (aws-lc-rs), independently of the verifier's library. The tests
//! run multi-threaded: the provider must answer the server's discovery at startup while `serve`
//! blocks until the server listens.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header;
use serde_json::{Value, json};

#[path = "support/server.rs"]
mod server;
use server::{Server, serve, serve_with_env, token_add};

/// An invented signing key.
enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl Key {
    fn rsa() -> Self {
        Self::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }

    fn ec() -> Self {
        Self::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    /// The public key as a JWK; the RSA ones state `alg` and `use`, the EC ones do not.
    fn jwk(&self, kid: &str) -> Value {
        match self {
            Self::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Self::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "kid": kid,
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                })
            }
        }
    }

    /// A JWT of `claims` signed with this key (RS256 or ES256).
    fn sign(&self, kid: &str, claims: &Value) -> String {
        let alg = match self {
            Self::Rsa(_) => "RS256",
            Self::Ec(_) => "ES256",
        };
        let message = format!(
            "{}.{}",
            b64(json!({ "alg": alg, "typ": "JWT", "kid": kid })
                .to_string()
                .as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message.as_bytes(),
                    &mut signature,
                )
                .unwrap();
                signature
            }
            Self::Ec(pair) => pair
                .sign(&SystemRandom::new(), message.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
        };
        format!("{message}.{}", b64(&signature))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A stand-in identity provider: discovery and JWKS over HTTP.
struct Idp {
    /// `http://127.0.0.1:PORT`, the issuer.
    issuer: String,
    /// The keys it publishes (changeable: a rotation).
    jwks: Arc<Mutex<Vec<Value>>>,
    /// While false, discovery and JWKS answer 503.
    up: Arc<AtomicBool>,
    /// JWKS requests served.
    jwks_fetches: Arc<AtomicUsize>,
}

async fn idp(keys: Vec<Value>) -> Idp {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let jwks = Arc::new(Mutex::new(keys));
    let up = Arc::new(AtomicBool::new(true));
    let jwks_fetches = Arc::new(AtomicUsize::new(0));
    let discovery = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/me"),
        // Another origin, as when sign-out lives on another host.
        "end_session_endpoint": format!("http://localhost:{port}/session/end"),
    });
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get({
                let up = Arc::clone(&up);
                move || async move {
                    if up.load(Ordering::SeqCst) {
                        Ok(axum::Json(discovery))
                    } else {
                        Err(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                    }
                }
            }),
        )
        .route(
            "/jwks",
            get({
                let (up, jwks, fetches) = (
                    Arc::clone(&up),
                    Arc::clone(&jwks),
                    Arc::clone(&jwks_fetches),
                );
                move || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        Ok(axum::Json(json!({ "keys": *jwks.lock().unwrap() })))
                    } else {
                        Err(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                    }
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Idp {
        issuer,
        jwks,
        up,
        jwks_fetches,
    }
}

/// The `--oidc` file for `idp`: one issuer, console and portal signing in with it.
fn oidc_file(dir: &std::path::Path, idp: &Idp) -> String {
    let path = dir.join("oidc.toml");
    let issuer = &idp.issuer;
    std::fs::write(
        &path,
        format!(
            r#"[[issuer]]
issuer = "{issuer}"
audiences = ["connector-api", "cognito-console"]

[console]
authority = "{issuer}"
client_id = "connector-console"
scope = "openid offline_access"
resource = "connector-api"

[portal]
authority = "{issuer}"
client_id = "connector-portal"
scope = "openid offline_access"
resource = "connector-api"
"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// `connector serve --oidc` trusting `idp`, on a fresh database in `dir`.
fn serve_trusting(dir: &std::path::Path, idp: &Idp) -> Server {
    serve(&dir.join("c.db"), &["--oidc", &oidc_file(dir, idp)])
}

/// The server's `/config.json`.
async fn config_json(server: &Server) -> Value {
    let reply = reqwest::get(server.url("/config.json")).await.unwrap();
    reply.json().await.unwrap()
}

/// An RSA key (`rsa-1`), a provider publishing it, and a directory for the test's files.
async fn one_rsa_key() -> (Key, Idp, tempfile::TempDir) {
    let rsa = Key::rsa();
    let idp = idp(vec![rsa.jwk("rsa-1")]).await;
    (rsa, idp, tempfile::tempdir().unwrap())
}

/// An RSA key (`rsa-1`) and an EC key (`ec-1`), a provider publishing both, and a server
/// trusting it on a fresh database in the returned directory.
async fn trusting_two_keys() -> (Key, Key, Idp, Server, tempfile::TempDir) {
    let (rsa, ec) = (Key::rsa(), Key::ec());
    let idp = idp(vec![rsa.jwk("rsa-1"), ec.jwk("ec-1")]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve_trusting(dir.path(), &idp);
    (rsa, ec, idp, server, dir)
}

/// Claims of a valid token from `idp` for `sub` in `role`, with `extra` merged in.
fn claims(idp: &Idp, sub: &str, role: &str, extra: Value) -> Value {
    let mut claims = json!({
        "iss": idp.issuer, "aud": "connector-api", "sub": sub, "role": role,
        "iat": now(), "exp": now() + 300,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

/// `GET path` with `token`: the status, the problem detail (if any) and the challenge header.
async fn call(server: &Server, path: &str, token: &str) -> (u16, String, Option<String>) {
    let reply = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let challenge = reply
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    let detail = body["detail"].as_str().unwrap_or_default().to_owned();
    (status, detail, challenge)
}

fn patient() -> Value {
    json!({"mrn": "MRN-O-1", "first_name": "Ines", "last_name": "Quarrington", "birth_date": "1984-03-02", "sex": "F"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_and_es256_tokens_sign_staff_admins_and_patients_in() {
    let (rsa, ec, idp, server, _dir) = trusting_two_keys().await;
    let client = reqwest::Client::new();

    let staff = rsa.sign("rsa-1", &claims(&idp, "u-staff", "staff", json!({})));
    let reply = client
        .put(server.url("/patients/p-1"))
        .bearer_auth(&staff)
        .json(&patient())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    assert_eq!(call(&server, "/settings/hie", &staff).await.0, 403);

    // ES256, the role as a list: the most privileged counts.
    let admin = ec.sign(
        "ec-1",
        &claims(&idp, "u-admin", "", json!({ "role": ["staff", "admin"] })),
    );
    assert_eq!(call(&server, "/settings/hie", &admin).await.0, 200);

    // A patient's identity is the patient_id claim, not sub.
    let patient = ec.sign(
        "ec-1",
        &claims(
            &idp,
            "u-pat",
            "patient",
            json!({ "patient_id": "p-1", "aud": ["other", "connector-api"] }),
        ),
    );
    let (status, _, _) = call(&server, "/me/consents", &patient).await;
    assert_eq!(status, 200);
    let history: Value = client
        .get(server.url("/me/consents"))
        .bearer_auth(&patient)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["patient_id"], "p-1", "{history}");
    assert_eq!(call(&server, "/patients/p-1", &patient).await.0, 403);
    // Keys were fetched once for all of this.
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);

    // No role at all: authenticated, but forbidden.
    let nobody = rsa.sign("rsa-1", &claims(&idp, "u-x", "", json!({ "role": null })));
    assert_eq!(call(&server, "/patients/p-1", &nobody).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_401_with_the_reason_and_the_log_holds_no_token() {
    let (rsa, ec, idp, server, _dir) = trusting_two_keys().await;

    let rsa_public = match &rsa {
        Key::Rsa(pair) => pair.public_key().as_ref().to_vec(),
        Key::Ec(_) => unreachable!(),
    };
    let hs256 = {
        let message = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT","kid":"rsa-1"}"#),
            b64(claims(&idp, "u-1", "admin", json!({}))
                .to_string()
                .as_bytes())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &rsa_public);
        let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
        format!("{message}.{}", b64(tag.as_ref()))
    };
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(&idp, "u-1", "admin", json!({}))
            .to_string()
            .as_bytes())
    );
    let stranger = Key::ec();
    let cases = [
        (
            "wrong audience",
            rsa.sign(
                "rsa-1",
                &claims(&idp, "u-1", "admin", json!({ "aud": "another-api" })),
            ),
            "another audience",
        ),
        (
            "wrong issuer",
            rsa.sign(
                "rsa-1",
                &claims(
                    &idp,
                    "u-1",
                    "admin",
                    json!({ "iss": "http://127.0.0.1:9/elsewhere" }),
                ),
            ),
            "issuer is not accepted",
        ),
        (
            "expired beyond the skew",
            rsa.sign(
                "rsa-1",
                &claims(&idp, "u-1", "admin", json!({ "exp": now() - 120 })),
            ),
            "expired",
        ),
        (
            "not valid yet",
            ec.sign(
                "ec-1",
                &claims(&idp, "u-1", "admin", json!({ "nbf": now() + 600 })),
            ),
            "not valid yet",
        ),
        (
            "unknown key",
            stranger.sign("ec-9", &claims(&idp, "u-1", "admin", json!({}))),
            "signing key is unknown",
        ),
        (
            "known kid, another key",
            stranger.sign("ec-1", &claims(&idp, "u-1", "admin", json!({}))),
            "signature does not match",
        ),
        ("alg none", none, "alg none"),
        (
            "HS256 with the public key as secret",
            hs256,
            "shared secret",
        ),
        ("garbage", "abc.def.ghi".to_owned(), "cannot be read"),
        ("not a JWT", "s3cret-opaque-token".to_owned(), "not a JWT"),
    ];
    for (case, token, reason) in &cases {
        let (status, detail, challenge) = call(&server, "/patients/p-1", token).await;
        assert_eq!(status, 401, "{case}: {detail}");
        assert!(detail.contains(reason), "{case}: {detail}");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer error="invalid_token""#),
            "{case}"
        );
    }
    // Within the skew an expired token still passes.
    let late = rsa.sign(
        "rsa-1",
        &claims(&idp, "u-1", "staff", json!({ "exp": now() - 20 })),
    );
    assert_eq!(call(&server, "/patients/p-404", &late).await.0, 404);
    // No credentials: a challenge without an error code.
    let reply = reqwest::get(server.url("/patients/p-1")).await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(reply.headers()[header::WWW_AUTHENTICATE], "Bearer");
    // Keys were fetched once: the unknown kid came within the refresh interval, and the other
    // refusals needed no key or the cached ones.
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("bearer token refused"), "{log}");
    assert!(log.contains("the token has expired"), "{log}");
    for (case, token, _) in &cases {
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!log.contains(part), "{case}: a token part is in the log");
        }
    }
    assert!(!log.contains(late.split('.').nth(1).unwrap()));
    assert!(!log.contains("u-1"), "a subject is in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_accepted_after_the_refetch() {
    let (old, new) = (Key::rsa(), Key::ec());
    let idp = idp(vec![old.jwk("k-1")]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &dir.path().join("c.db"),
        &[
            "--oidc",
            &oidc_file(dir.path(), &idp),
            "--oidc-refresh-seconds",
            "1",
        ],
    );
    let first = old.sign("k-1", &claims(&idp, "u-1", "staff", json!({})));
    assert_eq!(call(&server, "/patients/p-404", &first).await.0, 404);

    idp.jwks.lock().unwrap().push(new.jwk("k-2"));
    let rotated = new.sign("k-2", &claims(&idp, "u-1", "staff", json!({})));
    // Within the refresh interval of the last fetch the key set is not fetched again.
    let (status, detail, _) = call(&server, "/patients/p-404", &rotated).await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "the token's signing key is unknown")
    );
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&server, "/patients/p-404", &rotated).await.0, 404);
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 2);
    // The old key is still known.
    assert_eq!(call(&server, "/patients/p-404", &first).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_503_not_a_default_identity() {
    let (rsa, idp, dir) = one_rsa_key().await;
    idp.up.store(false, Ordering::SeqCst);
    // Discovery fails at startup too: the server starts with the authority's origin only.
    let server = serve_trusting(dir.path(), &idp);
    let token = rsa.sign("rsa-1", &claims(&idp, "u-1", "admin", json!({})));
    let (status, detail, _) = call(&server, "/settings/hie", &token).await;
    assert_eq!(status, 503);
    assert!(
        detail.contains("cannot fetch the identity provider's keys"),
        "{detail}"
    );
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("discovery document"), "{log}");
    let reply = reqwest::get(server.url("/")).await.unwrap();
    let policy = reply.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains(&format!("connect-src 'self' {};", idp.issuer)),
        "{policy}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_access_tokens_use_client_id_and_groups() {
    let (rsa, idp, dir) = one_rsa_key().await;
    let server = serve_with_env(
        &dir.path().join("c.db"),
        &["--oidc", &oidc_file(dir.path(), &idp)],
        &[("JWT_ROLE_CLAIM", "cognito:groups")],
    );
    let cognito = |client_id: &str| {
        rsa.sign(
            "rsa-1",
            &json!({
                "iss": idp.issuer, "sub": "c-1", "client_id": client_id, "token_use": "access",
                "cognito:groups": ["staff"], "exp": now() + 300,
            }),
        )
    };
    assert_eq!(
        call(&server, "/patients/p-404", &cognito("cognito-console"))
            .await
            .0,
        404
    );
    let (status, detail, _) = call(&server, "/patients/p-404", &cognito("someone-else")).await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "the token is for another audience")
    );
    assert_eq!(
        call(&server, "/settings/hie", &cognito("cognito-console"))
            .await
            .0,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_and_a_token_file_side_by_side() {
    let (rsa, idp, dir) = one_rsa_key().await;
    let tokens = dir.path().join("tokens");
    let machine = token_add(&tokens, "robot", "admin");
    let server = serve(
        &dir.path().join("c.db"),
        &[
            "--oidc",
            &oidc_file(dir.path(), &idp),
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    assert_eq!(call(&server, "/settings/hie", &machine).await.0, 200);
    let person = rsa.sign("rsa-1", &claims(&idp, "u-1", "admin", json!({})));
    assert_eq!(call(&server, "/settings/hie", &person).await.0, 200);
    assert_eq!(call(&server, "/settings/hie", "wrong-token").await.0, 401);
    let config = config_json(&server).await;
    assert_eq!(config["auth"], "oidc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_json_tells_the_pages_how_to_sign_in() {
    let (_rsa, idp, dir) = one_rsa_key().await;
    let tokens = dir.path().join("tokens");
    token_add(&tokens, "robot", "admin");
    let servers = [
        ("local", serve(&dir.path().join("a.db"), &[])),
        (
            "token",
            serve(
                &dir.path().join("b.db"),
                &["--tokens", tokens.to_str().unwrap()],
            ),
        ),
        (
            "oidc",
            serve(
                &dir.path().join("c.db"),
                &["--oidc", &oidc_file(dir.path(), &idp)],
            ),
        ),
    ];
    for (mode, server) in &servers {
        let reply = reqwest::get(server.url("/config.json")).await.unwrap();
        assert_eq!(reply.status(), 200, "{mode}");
        assert_eq!(reply.headers()[header::CACHE_CONTROL], "no-store", "{mode}");
        assert!(
            reply.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let config: Value = reply.json().await.unwrap();
        assert_eq!(config["auth"], *mode);
        if *mode != "oidc" {
            assert_eq!(config.as_object().unwrap().len(), 1, "{config}");
        }
    }
    let oidc = &servers[2].1;
    let config = config_json(oidc).await;
    assert_eq!(config["console"]["authority"], idp.issuer);
    assert_eq!(config["console"]["client_id"], "connector-console");
    assert_eq!(config["portal"]["client_id"], "connector-portal");
    assert_eq!(config["portal"]["resource"], "connector-api");
    assert_eq!(config["portal"]["scope"], "openid offline_access");

    // The pages may call the provider: its origin and the end-session endpoint's from discovery.
    let port = idp.issuer.rsplit(':').next().unwrap();
    for path in ["/", "/portal/", "/config.json"] {
        let reply = reqwest::get(oidc.url(path)).await.unwrap();
        let policy = reply.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            policy.contains(&format!(
                "connect-src 'self' {} http://localhost:{port};",
                idp.issuer
            )),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline") && policy.contains("frame-ancestors 'none'"));
    }
    let local = reqwest::get(servers[0].1.url("/")).await.unwrap();
    assert!(
        local.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("connect-src 'self';")
    );
}
