//! `connector serve`'s connection limits over real sockets: the HTTP header-read and body-read
//! timeouts and connection cap, and the MLLP listener's max connections (evicting the
//! longest-idle connection), source allow-list, receive timeout and keep-connection-open.
//!
//! The limits are set through their environment variables, as a deployment would.

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_hl7::{MllpDecoder, mllp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

#[path = "support/server.rs"]
mod server;
use server::start_listening;

const ADT: &str = include_str!("../../events/hl7-inbound/adt-a08.hl7");

struct Server {
    child: Child,
    http: SocketAddr,
    mllp: Option<SocketAddr>,
    /// Stdout (JSON log lines), as printed so far.
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits up to 5 s for a log line containing every one of `needles`.
    async fn wait_for_log(&self, needles: &[&str]) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self
                .logs()
                .into_iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return line;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no log line with {needles:?} in {:#?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    /// Whatever the test, no line logged carries the message's content.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            for line in self.logs() {
                assert!(!line.contains("Rivera"), "PHI logged: {line}");
                assert!(!line.contains("MRN20001"), "PHI logged: {line}");
                assert!(
                    !line.contains("NE-A08-0002"),
                    "message content logged: {line}"
                );
            }
        }
    }
}

/// Starts `connector serve` on loopback (with MLLP when `mllp`) with `env` set.
fn serve(mllp: bool, env: &[(&str, &str)]) -> Server {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_owned();
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--collect-every", "0"])
        .arg("--db")
        .arg(dir.join("c.db"))
        .arg("--outbox")
        .arg(dir.join("outbox"));
    if mllp {
        command.args(["--mllp", "127.0.0.1:0", "--mllp-channel", "north-ehr"]);
    }
    command.envs(env.iter().copied());
    let logs = Arc::new(Mutex::new(Vec::new()));
    let mut mllp_address = None;
    let listening = "connector listening on http://";
    let (child, http, lines) = start_listening(&mut command, listening, |line| {
        if let Some(rest) = line.strip_prefix("connector MLLP listening on ") {
            let address = rest.split_whitespace().next().unwrap();
            mllp_address = Some(address.parse().unwrap());
        }
        logs.lock().unwrap().push(line);
    });
    let http = http.parse().unwrap();
    let sink = Arc::clone(&logs);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Server {
        child,
        http,
        mllp: mllp_address,
        logs,
        _dir: temp,
    }
}

/// Reads until the peer closes (Ok(bytes)) or `within` passes (Err(bytes so far)).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(got),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether `stream` is still open: nothing to read and no close within `wait`.
async fn still_open(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    timeout(wait, stream.read(&mut buf)).await.is_err()
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_that_stops_halfway_through_its_headers_is_disconnected() {
    let server = serve(false, &[("CONNECTOR_HTTP_HEADER_READ_TIMEOUT_SECS", "1")]);
    let mut stream = TcpStream::connect(server.http).await.unwrap();
    stream
        .write_all(b"GET /audit-entries HTTP/1.1\r\nHost: connector\r\nAccept: app")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(closed.is_ok(), "still open after 6 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_past_the_body_timeout_is_cut_off_with_408() {
    let server = serve(false, &[("CONNECTOR_HTTP_BODY_READ_TIMEOUT_SECS", "1")]);
    let stream = TcpStream::connect(server.http).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(
            b"PUT /patients/p-1 HTTP/1.1\r\nHost: connector\r\nContent-Type: application/json\r\n\
              Content-Length: 200\r\n\r\n{",
        )
        .await
        .unwrap();
    // One byte every 200 ms: never silent for long, but 40 s for the whole body.
    let drip = tokio::spawn(async move {
        for _ in 0..199 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        match timeout(Duration::from_millis(500), read.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => reply.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    drip.abort();
    let reply = String::from_utf8_lossy(&reply).to_ascii_lowercase();
    assert!(reply.starts_with("http/1.1 408"), "reply: {reply:?}");
    assert!(
        reply.contains("content-type: application/problem+json"),
        "reply: {reply:?}"
    );
    assert!(reply.contains("\"status\":408"), "reply: {reply:?}");
}

#[tokio::test]
async fn the_http_connection_cap_holds() {
    let server = serve(false, &[("CONNECTOR_HTTP_MAX_CONNECTIONS", "2")]);
    let request = b"GET /audit-entries HTTP/1.1\r\nHost: connector\r\nConnection: close\r\n\r\n";
    // Two connections take the two slots (half a request each).
    let mut first = TcpStream::connect(server.http).await.unwrap();
    first
        .write_all(b"GET /audit-entries HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut second = TcpStream::connect(server.http).await.unwrap();
    second
        .write_all(b"GET /audit-entries HTTP/1.1\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A third waits: it is not served while both slots are held...
    let mut third = TcpStream::connect(server.http).await.unwrap();
    third.write_all(request).await.unwrap();
    assert!(
        still_open(&mut third, Duration::from_millis(1500)).await,
        "a third connection was served beyond the cap of 2"
    );
    // ...and is served as soon as one is released.
    drop(first);
    let reply = read_until_closed(&mut third, Duration::from_secs(5))
        .await
        .expect("the waiting connection was not served once a slot was free");
    assert!(
        String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    second.write_all(b"Host: connector\r\n\r\n").await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// MLLP
// ---------------------------------------------------------------------------------------------

/// Sends the ADT message on `stream` and waits up to 5 s for the framed reply.
async fn exchange(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream
        .write_all(&mllp::encode(ADT.replace('\n', "\r").as_bytes()))
        .await
        .ok()?;
    let mut decoder = MllpDecoder::new(1 << 20);
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(frame) = decoder.next_frame() {
            return frame.ok();
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => decoder.push(&buf[..n]),
            _ => return None,
        }
    }
}

fn is_ack(reply: &[u8]) -> bool {
    let text = String::from_utf8_lossy(reply);
    text.starts_with("MSH|") && text.contains("\rMSA|")
}

#[tokio::test]
async fn at_max_connections_the_longest_idle_connection_makes_room_for_a_new_one() {
    let server = serve(
        true,
        &[
            ("CONNECTOR_MLLP_MAX_CONNECTIONS", "3"),
            ("CONNECTOR_MLLP_ALLOW", "127.0.0.0/8,10.0.0.0/8"),
        ],
    );
    let address = server.mllp.unwrap();
    let mut idle = TcpStream::connect(address).await.unwrap();
    let idle_port = idle.local_addr().unwrap().port();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut busy = TcpStream::connect(address).await.unwrap();
    let mut also_busy = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(is_ack(
        &exchange(&mut busy).await.expect("ACK on the second")
    ));
    assert!(is_ack(
        &exchange(&mut also_busy).await.expect("ACK on the third")
    ));

    // The cap is reached: a fourth connection's message is still answered...
    let mut newcomer = TcpStream::connect(address).await.unwrap();
    let reply = exchange(&mut newcomer)
        .await
        .expect("no ACK for a new connection at max connections");
    assert!(is_ack(&reply));
    // ...because the longest-idle connection was closed to make room, and logged.
    assert!(
        read_until_closed(&mut idle, Duration::from_secs(3))
            .await
            .is_ok(),
        "the longest-idle connection is still open"
    );
    assert!(still_open(&mut busy, Duration::from_millis(300)).await);
    assert!(still_open(&mut also_busy, Duration::from_millis(300)).await);
    let line = server
        .wait_for_log(&["evicted", &format!("127.0.0.1:{idle_port}")])
        .await;
    assert!(line.contains("\"level\":\"WARN\""), "{line}");
}

#[tokio::test]
async fn a_source_outside_the_allow_list_is_refused_and_logged() {
    let server = serve(true, &[("CONNECTOR_MLLP_ALLOW", "10.0.0.0/8")]);
    let mut stream = TcpStream::connect(server.mllp.unwrap()).await.unwrap();
    let port = stream.local_addr().unwrap().port();
    assert_eq!(
        exchange(&mut stream).await,
        None,
        "a refused source got an answer"
    );
    server
        .wait_for_log(&["refused", &format!("127.0.0.1:{port}")])
        .await;
}

#[tokio::test]
async fn receive_timeout_zero_keeps_an_idle_connection_and_a_timeout_closes_it() {
    let forever = serve(true, &[("CONNECTOR_MLLP_RECEIVE_TIMEOUT_MS", "0")]);
    let timed = serve(true, &[("CONNECTOR_MLLP_RECEIVE_TIMEOUT_MS", "700")]);
    let mut kept = TcpStream::connect(forever.mllp.unwrap()).await.unwrap();
    let mut closed = TcpStream::connect(timed.mllp.unwrap()).await.unwrap();
    assert!(is_ack(&exchange(&mut kept).await.expect("ACK")));
    assert!(is_ack(&exchange(&mut closed).await.expect("ACK")));

    let started = Instant::now();
    assert!(
        read_until_closed(&mut closed, Duration::from_secs(4))
            .await
            .is_ok(),
        "a connection idle past its 700 ms receive timeout is still open"
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    // Well past that interval, the connection without a receive timeout still works.
    assert!(still_open(&mut kept, Duration::from_millis(1500)).await);
    assert!(is_ack(
        &exchange(&mut kept).await.expect("ACK after idling")
    ));
}

#[tokio::test]
async fn keep_connection_open_false_closes_after_each_answer() {
    let server = serve(true, &[("CONNECTOR_MLLP_KEEP_CONNECTION_OPEN", "false")]);
    let mut stream = TcpStream::connect(server.mllp.unwrap()).await.unwrap();
    assert!(is_ack(&exchange(&mut stream).await.expect("ACK")));
    assert!(
        read_until_closed(&mut stream, Duration::from_secs(3))
            .await
            .is_ok(),
        "the connection stayed open after its answer"
    );
}
