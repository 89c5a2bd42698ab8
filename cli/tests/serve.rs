//! `connector serve` as a user runs it: the real binary, a real database file, real HTTP.

use std::process::Command;

use serde_json::{Value, json};

#[path = "support/server.rs"]
mod server;
use server::{serve, token_add};

fn patient() -> Value {
    json!({"mrn": "MRN-D-1", "first_name": "Orla", "last_name": "Brindlewood", "birth_date": "1990-01-15", "sex": "F"})
}

/// `GET url`'s JSON body.
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let reply = client.get(url).send().await.unwrap();
    reply.json().await.unwrap()
}

#[tokio::test]
async fn a_second_server_on_the_same_file_sees_everything_the_first_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("connector.db");
    let client = reqwest::Client::new();

    let first = serve(&db, &[]);
    let reply = client
        .put(first.url("/patients/p-1"))
        .json(&patient())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let reply = client
        .post(first.url("/patients/p-1/consents"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let consent: Value = reply.json().await.unwrap();
    drop(first); // killed, not shut down gracefully

    let second = serve(&db, &[]);
    let history = get_json(&client, &second.url("/patients/p-1/consents")).await;
    assert_eq!(history["valid"], true);
    assert_eq!(history["current"]["consent_id"], consent["consent_id"]);
    let audit = get_json(&client, &second.url("/audit-entries")).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[test]
fn refuses_a_public_address_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("c.db"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("without authentication"));
}

#[tokio::test]
async fn token_files_made_by_token_add_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let token = token_add(&tokens, "casey", "staff");
    assert!(
        !std::fs::read_to_string(&tokens).unwrap().contains(&token),
        "only the hash is stored"
    );

    let server = serve(
        &dir.path().join("c.db"),
        &["--tokens", tokens.to_str().unwrap()],
    );
    let client = reqwest::Client::new();
    let url = server.url("/patients/p-9");
    let put = || client.put(&url).json(&patient());
    assert_eq!(put().send().await.unwrap().status(), 401);
    let with_token = put().bearer_auth(&token).send().await.unwrap();
    assert_eq!(with_token.status(), 201);
}
