//! `connector mllp-bridge` as a site runs it: the real binary between an MLLP client (the EHR)
//! and a stand-in hl7-inbound API that checks the channel signature.

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use connector_domain::flow::channel::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_payload};
use connector_hl7::ack::AckInfo;
use connector_hl7::mllp;
use connector_hl7::{AckBuilder, AckCode, Message, MllpDecoder};
use connector_transport::{AttemptOutcome, MllpConfig, MllpConnection};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "support/server.rs"]
mod server;
use server::start_listening;

const SECRET: &str = "bridge-test-secret";
const SECRET_VAR: &str = "CONNECTOR_TEST_BRIDGE_SECRET";

struct Bridge {
    child: Child,
    port: u16,
    /// Stdout (JSON logs), collected until the process ends.
    output: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Bridge {
    /// Stops the bridge and returns everything it printed.
    fn stop(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Bridge {
    /// Whatever the test, the bridge never printed the secret or the patient's name.
    fn drop(&mut self) {
        let lines = self.stop();
        if !std::thread::panicking() {
            for line in lines {
                assert!(!line.contains(SECRET), "the bridge printed its secret");
                assert!(!line.contains("Brindlewood"), "the bridge printed PHI");
            }
        }
    }
}

/// Starts the bridge forwarding to `forward`, signing with `secret`.
fn bridge(forward: &str, secret: &str) -> Bridge {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector"));
    command
        .args([
            "mllp-bridge",
            "--listen",
            "127.0.0.1:0",
            "--forward",
            forward,
        ])
        .args(["--channel", "ch-1", "--secret-env", SECRET_VAR])
        .args(["--timeout-secs", "3"])
        .env(SECRET_VAR, secret);
    let listening = "connector mllp-bridge listening on ";
    let (child, address, lines) = start_listening(&mut command, listening, |line| {
        assert!(!line.contains(SECRET), "the bridge printed its secret");
    });
    let port = address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    // Keep draining stdout so the bridge never blocks on a full pipe.
    let output = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    Bridge {
        child,
        port,
        output: Some(output),
    }
}

fn message(id: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|EHR|CLINIC|CONNECTOR|CLINIC|20240102030405||ADT^A04^ADT_A01|{id}|P|2.5.1\rPID|1||MRN-{id}^^^MRN||Brindlewood^Orla\r"
    )
    .into_bytes()
}

fn sign(timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&signed_payload(timestamp, body));
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A stand-in hl7-inbound API: checks the signature and its timestamp, answers AA (or AE
/// for a message that does not parse), 401 problem+json for a bad signature. Records the
/// control IDs it accepted.
async fn api() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    let app = Router::new().route(
        "/hl7/{channel}",
        post(
            move |Path(channel): Path<String>, headers: HeaderMap, body: Bytes| {
                let log = Arc::clone(&log);
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let timestamp = header(TIMESTAMP_HEADER);
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let fresh = timestamp
                        .parse::<u64>()
                        .is_ok_and(|t| t.abs_diff(now) <= 300);
                    let typed = header("content-type") == "x-application/hl7-v2+er7";
                    if channel != "ch-1"
                        || !typed
                        || !fresh
                        || header(SIGNATURE_HEADER) != sign(&timestamp, &body)
                    {
                        return (
                            StatusCode::UNAUTHORIZED,
                            [("content-type", "application/problem+json")],
                            br#"{"type":"about:blank","title":"Unauthorized","status":401}"#
                                .to_vec(),
                        );
                    }
                    let ack = match Message::parse_bytes(&body) {
                        Ok(m) => {
                            log.lock()
                                .unwrap()
                                .push(m.control_id().unwrap_or_default().into_owned());
                            AckBuilder::new(AckCode::ApplicationAccept, "API-ACK").build(&m)
                        }
                        Err(e) => AckBuilder::new(AckCode::ApplicationAccept, "API-ACK")
                            .build_unparsable(&body, &e),
                    };
                    (
                        StatusCode::OK,
                        [("content-type", "x-application/hl7-v2+er7")],
                        ack.to_bytes(),
                    )
                }
            },
        ),
    );
    let address = serve_api(app).await;
    (format!("http://{address}/"), received)
}

/// Serves `app` as the stand-in API on a random loopback port; returns its address.
async fn serve_api(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

fn ehr(port: u16) -> MllpConnection {
    MllpConnection::new(
        MllpConfig::new("127.0.0.1", port)
            .with_timeouts(Duration::from_secs(5), Duration::from_secs(10)),
    )
    .unwrap()
}

/// The AR the bridge answers when the API does not give an ACK: for this message, ERR 207.
fn bridge_ar() -> AttemptOutcome {
    AttemptOutcome::Rejected {
        ack_code: Some(AckCode::ApplicationReject),
        error: Some("207 Application internal error".to_owned()),
    }
}

#[tokio::test]
async fn frames_are_signed_forwarded_and_acked() {
    let (url, received) = api().await;
    let bridge = bridge(&url, SECRET);
    let ehr = ehr(bridge.port);
    for id in ["B-1", "B-2", "B-3"] {
        assert_eq!(
            ehr.send(&message(id)).await.unwrap(),
            AttemptOutcome::Delivered {
                ack_code: AckCode::ApplicationAccept
            },
            "{id}"
        );
    }
    assert_eq!(*received.lock().unwrap(), ["B-1", "B-2", "B-3"]);
    let mut bridge = bridge;
    let logs = bridge.stop().join("\n");
    assert!(logs.contains("B-3"), "control IDs are logged");
    assert!(!logs.contains("MRN-B"), "message content is not");
}

#[tokio::test]
async fn the_apis_ack_is_returned_as_is_even_for_unparsable_input() {
    let (url, received) = api().await;
    let bridge = bridge(&url, SECRET);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", bridge.port))
        .await
        .unwrap();
    stream
        .write_all(&mllp::encode(b"this is not HL7"))
        .await
        .unwrap();
    let mut decoder = MllpDecoder::new(1 << 20);
    let mut buf = [0u8; 4096];
    let reply = loop {
        if let Some(frame) = decoder.next_frame() {
            break frame.unwrap();
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the bridge closed without answering");
        decoder.push(&buf[..n]);
    };
    let m = Message::parse_bytes(&reply).unwrap();
    assert_eq!(AckInfo::read(&m).unwrap().code, AckCode::ApplicationReject);
    assert_eq!(
        m.control_id().as_deref(),
        Some("API-ACK"),
        "the API's own ACK"
    );
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_api_down_means_ar() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let bridge = bridge(&format!("http://127.0.0.1:{port}"), SECRET);
    let ehr = ehr(bridge.port);
    assert_eq!(ehr.send(&message("D-1")).await.unwrap(), bridge_ar());
    // The session stays up for the resend.
    assert_eq!(ehr.send(&message("D-1")).await.unwrap(), bridge_ar());
}

#[tokio::test]
async fn a_bad_secret_means_the_apis_401_becomes_an_ar() {
    let (url, received) = api().await;
    let bridge = bridge(&url, "not-the-secret");
    let ehr = ehr(bridge.port);
    assert_eq!(ehr.send(&message("S-1")).await.unwrap(), bridge_ar());
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_slow_api_means_ar_before_the_ehr_gives_up() {
    let app = Router::new().route(
        "/hl7/{channel}",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let address = serve_api(app).await;
    let bridge = bridge(&format!("http://{address}"), SECRET);
    let ehr = ehr(bridge.port); // ACK timeout 10 s; the bridge's API timeout is 3 s
    assert_eq!(ehr.send(&message("T-1")).await.unwrap(), bridge_ar());
}

#[test]
fn the_secret_must_be_in_the_named_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["mllp-bridge", "--listen", "127.0.0.1:0"])
        .args(["--forward", "https://api.example.org", "--channel", "ch-1"])
        .args(["--secret-env", "CONNECTOR_TEST_BRIDGE_UNSET"])
        .env_remove("CONNECTOR_TEST_BRIDGE_UNSET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CONNECTOR_TEST_BRIDGE_UNSET"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["mllp-bridge", "--listen", "127.0.0.1:0"])
        .args(["--forward", "http://api.example.org", "--channel", "ch-1"])
        .args(["--secret-env", SECRET_VAR])
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--forward"), "{err}");
    assert!(!err.contains(SECRET));
}
