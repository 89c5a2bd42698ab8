//! The README runs as written: its curl tour, its "Try both directions" demo and its "try OIDC
//! sign-in by hand" block (the test provider and `connector serve --oidc`), extracted from
//! README.md and run top to bottom with bash against the built `connector`, each on a fresh
//! database in a fresh folder, so the commands users copy cannot drift from what works.
//!
//! Every `curl` in them fails the run on an HTTP error (`--fail-with-body`), and the run checks
//! what the README promises: the consent revoked, the lead created and updated, the webhook
//! delivered to the stand-in EHR, the pages told to sign in with the provider. Ports are the
//! README's (8080, 2575, 2576, 4010), so the parts run one after the other in one test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The first ```sh block after the line containing `marker`.
fn sh_block_after(readme: &str, marker: &str) -> String {
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has no {marker:?}"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block follows") + "```sh\n".len();
    let close = rest[open..].find("```").expect("the block ends");
    rest[open..open + close].to_owned()
}

/// Runs `body` with bash in `dir`: `connector` on the path, curl failing on HTTP errors,
/// background jobs ended on exit. Returns standard output.
fn run(dir: &Path, prelude: &str, body: &str, epilogue: &str) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_connector"))
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let script = format!(
        "set -euo pipefail\n\
         export PATH={bin}:$PATH\n\
         trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n\
         curl() {{ case \" $* \" in *\" -sf \"*|*\" -f \"*) command curl --max-time 30 \"$@\";; *) command curl --fail-with-body --max-time 30 \"$@\";; esac; }}\n\
         {prelude}\n\
         {body}\n\
         {epilogue}\n",
        bin = bin.display(),
    );
    // Its own process group, output to files (not pipes a left-over background job would hold
    // open), a deadline, and the whole group ended afterwards.
    let log_dir = tempfile::tempdir().expect("a temp dir");
    let (out_path, err_path) = (log_dir.path().join("out"), log_dir.path().join("err"));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_remove("CONNECTOR_DB")
        .process_group(0)
        .stdout(std::fs::File::create(&out_path).expect("a log file"))
        .stderr(std::fs::File::create(&err_path).expect("a log file"))
        .spawn()
        .expect("bash runs");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().expect("bash's status") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // End whatever the commands left running (the group's id is bash's pid).
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "the README's commands failed or hung ({status:?}):\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// Printed after the tour and the demo, for the checks below.
const EPILOGUE: &str = r#"echo "=== state"
for i in $(seq 1 50); do
  if curl -s "$API/deliveries" -H 'x-connector-role: admin' -H 'x-connector-user: readme-test' | grep -q '"delivered"'; then break; fi
  if ! curl -s "$API/deliveries" -H 'x-connector-role: admin' -H 'x-connector-user: readme-test' | grep -q '"delivery_id"'; then break; fi
  sleep 0.2
done
curl -s "$API/deliveries" -H 'x-connector-role: admin' -H 'x-connector-user: readme-test'; echo
curl -s "$API/patients/p-1001/consents" -H 'x-connector-role: staff' -H 'x-connector-user: readme-test' || true; echo"#;

fn wait_for_port_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "port {port} stays busy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_readme_tour_and_demo_run_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let oidc = sh_block_after(&readme, "To try OIDC sign-in by hand");
    let tour = sh_block_after(&readme, "## A tour with curl");
    let demo = sh_block_after(&readme, "**Try both directions**");
    for port in [8080, 2575, 2576] {
        wait_for_port_free(port);
    }

    // The tour, against the README's first command (the built binary stands in for
    // `cargo run --release ... --`).
    let tour_dir = tempfile::tempdir().expect("a temp dir");
    let serve = "connector serve --db ./connector.db --outbox ./outbox &\n\
                 until command curl -sf http://127.0.0.1:8080/health >/dev/null; do sleep 0.2; done";
    let out = run(tour_dir.path(), serve, &tour, EPILOGUE);
    let state = out.rsplit("=== state").next().unwrap_or_default();
    assert!(
        state.contains("\"status\":\"revoked\"") || state.contains("\"status\": \"revoked\""),
        "the tour revoked the consent: {state}"
    );
    assert!(
        out.contains("hie_sent_appointments") || out.contains("\"items\""),
        "the audit query answered: {out}"
    );
    for port in [8080, 2575, 2576] {
        wait_for_port_free(port);
    }

    // The demo, in a fresh folder holding the repository's examples and events.
    let demo_dir = tempfile::tempdir().expect("a temp dir");
    for folder in ["examples", "events"] {
        std::os::unix::fs::symlink(repo().join(folder), demo_dir.path().join(folder))
            .expect("link the repository's samples");
    }
    let out = run(demo_dir.path(), "", &demo, EPILOGUE);
    let state = out.rsplit("=== state").next().unwrap_or_default();
    assert!(
        out.contains("MSA|AA|NE-A04-0001")
            || out.contains("AA NE-A04-0001")
            || out.contains("NE-A04-0001"),
        "the A04 was acknowledged: {out}"
    );
    assert!(
        !out.contains("echo of the connector's own CRM write"),
        "the demo's CRM change was taken for an echo: {out}"
    );
    assert!(
        state.contains("\"delivered\""),
        "the webhook's ADT^A08 reached the stand-in EHR: {state}"
    );

    for port in [8080, 4010] {
        wait_for_port_free(port);
    }

    // Trying OIDC sign-in by hand: the test provider and `connector serve --oidc` as written
    // (the built binary in the background stands in for `cargo run ... --`, which stays in the
    // foreground), in a folder that holds the repository's web/ as the README's working copy.
    let oidc_dir = tempfile::tempdir().expect("a temp dir");
    std::os::unix::fs::symlink(repo().join("web"), oidc_dir.path().join("web"))
        .expect("link the repository's web folder");
    let written = "cargo run -p connector-cli -- serve --oidc oidc.toml";
    assert!(
        oidc.contains(written),
        "the OIDC block starts the server: {oidc}"
    );
    let oidc = oidc.replace(written, "connector serve --oidc oidc.toml &");
    let out = run(oidc_dir.path(), "", &oidc, OIDC_EPILOGUE);
    assert!(
        out.contains(r#""issuer":"http://127.0.0.1:4010""#),
        "the test provider answered its discovery document: {out}"
    );
    assert!(
        out.contains(r#""auth":"oidc""#) && out.contains("connector-console"),
        "the pages are told to sign in with the provider: {out}"
    );
    assert!(
        out.contains("unsigned: 401"),
        "the API refuses a request without a token: {out}"
    );
}

/// Printed after the OIDC sign-in block: the provider, the pages' configuration, and the API's
/// answer to a request without a token.
const OIDC_EPILOGUE: &str = r#"until command curl -sf http://127.0.0.1:8080/health >/dev/null; do sleep 0.2; done
until command curl -sf http://127.0.0.1:4010/.well-known/openid-configuration >/dev/null; do sleep 0.5; done
command curl -s http://127.0.0.1:4010/.well-known/openid-configuration; echo
command curl -s http://127.0.0.1:8080/config.json; echo
echo "unsigned: $(command curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/patients?mrn=1)""#;
