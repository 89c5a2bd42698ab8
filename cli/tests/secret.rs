//! `connector secret set` / `list` end to end: the real binary, a real database file, the value
//! on standard input. The stored value is what `local:NAME` resolves to, a channel naming it
//! can then be applied, and neither the listing nor any output shows the value.

use std::path::Path;
use std::process::Command;

use connector_domain::flow::SecretRef;

#[path = "support/server.rs"]
mod server;
use server::run;

/// A value distinctive enough to look for in every output.
const VALUE: &str = "cli-secret-value-94417";

/// Runs `connector` with `args` and `stdin`: (success, stdout, stderr).
fn connector(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector"));
    command
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env_remove("CONNECTOR_DB");
    run(&mut command, stdin.as_bytes())
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

async fn resolve(db: &Path, name: &str) -> Option<Vec<u8>> {
    let db = connector_embedded::SqliteDb::open(db).expect("open the database");
    db.secrets()
        .resolve(&SecretRef::parse(&format!("local:{name}")).unwrap())
        .await
        .ok()
        .map(|v| v.expose().to_vec())
}

#[tokio::test]
async fn secret_set_reads_standard_input_and_list_shows_names_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("connector.db");

    let (ok, out, err) = connector(
        &["secret", "set", "north-hmac", "--db", path(&db)],
        &format!("{VALUE}\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("local:north-hmac"), "{out}");
    assert_eq!(
        resolve(&db, "north-hmac").await.as_deref(),
        Some(VALUE.as_bytes()),
        "one trailing newline dropped"
    );

    // Replaced by a second set.
    let (ok, _, err) = connector(
        &["secret", "set", "north-hmac", "--db", path(&db)],
        "second-value",
    );
    assert!(ok, "{err}");
    assert_eq!(
        resolve(&db, "north-hmac").await.as_deref(),
        Some(&b"second-value"[..])
    );

    let (ok, out, err) = connector(&["secret", "list", "--db", path(&db)], "");
    assert!(ok, "{err}");
    assert!(out.contains("local:north-hmac\tset "), "{out}");
    assert!(
        !out.contains("second-value") && !out.contains(VALUE),
        "{out}"
    );

    // Refused, writing nothing: an empty value, a bad name, a value given as an argument.
    for (args, stdin) in [
        (vec!["secret", "set", "empty"], ""),
        (vec!["secret", "set", "empty"], "\n"),
        (vec!["secret", "set", "bad name"], "x"),
        (vec!["secret", "set", "argv", VALUE], ""),
    ] {
        let mut args = args;
        args.extend(["--db", path(&db)]);
        let (ok, out, err) = connector(&args, stdin);
        assert!(!ok, "{args:?} was accepted: {out}");
        assert!(!err.contains(VALUE) || args.contains(&VALUE), "{err}");
    }
    let (_, out, _) = connector(&["secret", "list", "--db", path(&db)], "");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[tokio::test]
async fn a_channel_applies_once_its_local_secret_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("connector.db");
    let file = dir.path().join("flows.yaml");
    std::fs::write(
        &file,
        "channels:\n  west-ehr:\n    name: West\n    inbound: {type: hmac, secret: \"local:west-hmac\"}\n",
    )
    .unwrap();
    let (ok, out, err) = connector(&["flows", "apply", path(&file), "--db", path(&db)], "");
    assert!(!ok, "applied with no secret: {out}");
    assert!(
        err.contains("inbound.secret") && err.contains("local:west-hmac"),
        "{err}"
    );

    let (ok, _, err) = connector(
        &["secret", "set", "west-hmac", "--db", path(&db)],
        "west-value",
    );
    assert!(ok, "{err}");
    let (ok, out, err) = connector(&["flows", "apply", path(&file), "--db", path(&db)], "");
    assert!(ok, "{err}");
    assert!(out.contains("channel west-ehr: created"), "{out}");
}
