//! `mllp::server` with raw TCP peers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_hl7::ack::AckInfo;
use connector_hl7::mllp;
use connector_hl7::{AckCode, Message, MllpDecoder};
use connector_transport::mllp::server::{ServerConfig, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{ack, message, read_frame};

const LIMIT: Duration = Duration::from_secs(10);

struct Server {
    port: u16,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    /// The control IDs handled, in order.
    handled: Arc<Mutex<Vec<String>>>,
}

/// A server whose handler runs `hook` then answers AA.
async fn start<Fut>(config: ServerConfig, hook: impl Fn() -> Fut + Send + Sync + 'static) -> Server
where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&handled);
    let hook = Arc::new(hook);
    let handler = move |frame: Vec<u8>| {
        let log = Arc::clone(&log);
        let hook = Arc::clone(&hook);
        async move {
            let id = Message::parse_bytes(&frame)
                .ok()
                .and_then(|m| m.control_id().map(|c| c.into_owned()))
                .unwrap_or_default();
            hook().await;
            log.lock().unwrap().push(id);
            ack(&frame, AckCode::ApplicationAccept, None)
        }
    };
    let task = tokio::spawn(serve_with(listener, config, handler, shutdown.clone()));
    Server {
        port,
        shutdown,
        task,
        handled,
    }
}

impl Server {
    /// Cancels the server and waits (within [`LIMIT`]) for it to finish cleanly.
    async fn stop(self) {
        self.shutdown.cancel();
        let finished = tokio::time::timeout(LIMIT, self.task).await;
        finished.unwrap().unwrap();
    }
}

async fn no_hook() {}

async fn connect(port: u16) -> (TcpStream, MllpDecoder) {
    (
        TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
        MllpDecoder::new(1 << 20),
    )
}

/// MSA-1 and MSA-2 of a reply.
/// Reads until the server closes `stream` (within [`LIMIT`], else fails with `why`); nothing more
/// may come.
async fn assert_closed(stream: &mut TcpStream, why: &str) {
    let mut rest = Vec::new();
    let n = tokio::time::timeout(LIMIT, stream.read_to_end(&mut rest))
        .await
        .expect(why)
        .unwrap();
    assert_eq!(n, 0);
}

/// `reply` is an AA acknowledging `control_id`.
fn assert_accepted(reply: &[u8], control_id: &str) {
    assert_eq!(
        msa(reply),
        (AckCode::ApplicationAccept, Some(control_id.to_owned()))
    );
}

fn msa(reply: &[u8]) -> (AckCode, Option<String>) {
    let m = Message::parse_bytes(reply).unwrap();
    let info = AckInfo::read(&m).unwrap();
    (info.code, info.control_id.map(|c| c.into_owned()))
}

#[tokio::test]
async fn frames_on_one_connection_are_answered_in_order() {
    let server = start(ServerConfig::default(), no_hook).await;
    let (mut stream, mut decoder) = connect(server.port).await;
    let wire: Vec<u8> = ["A-1", "A-2", "A-3"]
        .iter()
        .flat_map(|id| mllp::encode(&message(id)))
        .collect();
    stream.write_all(&wire).await.unwrap();
    for id in ["A-1", "A-2", "A-3"] {
        let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
        assert_eq!(
            msa(&reply),
            (AckCode::ApplicationAccept, Some(id.to_owned()))
        );
    }
    assert_eq!(*server.handled.lock().unwrap(), ["A-1", "A-2", "A-3"]);
}

#[tokio::test]
async fn frames_split_across_writes() {
    let server = start(ServerConfig::default(), no_hook).await;
    let (mut stream, mut decoder) = connect(server.port).await;
    stream.set_nodelay(true).unwrap();
    let wire = [mllp::encode(&message("S-1")), mllp::encode(&message("S-2"))].concat();
    for chunk in wire.chunks(7) {
        stream.write_all(chunk).await.unwrap();
        stream.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    for id in ["S-1", "S-2"] {
        let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
        assert_eq!(msa(&reply).1.as_deref(), Some(id));
    }
}

#[tokio::test]
async fn an_oversize_frame_gets_an_ar_and_the_connection_goes_on() {
    let config = ServerConfig {
        max_frame_size: 512,
        ..ServerConfig::default()
    };
    let server = start(config, no_hook).await;
    let (mut stream, mut decoder) = connect(server.port).await;
    let mut big = message("BIG-1");
    big.extend(std::iter::repeat_n(b'x', 4096));
    let wire = [mllp::encode(&big), mllp::encode(&message("OK-1"))].concat();
    stream.write_all(&wire).await.unwrap();
    let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
    let (code, id) = msa(&reply);
    assert_eq!(code, AckCode::ApplicationReject);
    assert_eq!(
        id.as_deref(),
        Some("BIG-1"),
        "the AR echoes the dropped frame's MSH-10"
    );
    assert!(!String::from_utf8_lossy(&reply).contains("Brindlewood"));
    let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
    assert_accepted(&reply, "OK-1");
    assert_eq!(*server.handled.lock().unwrap(), ["OK-1"]);
}

#[tokio::test]
async fn a_cut_off_frame_gets_an_ar() {
    let server = start(ServerConfig::default(), no_hook).await;
    let (mut stream, mut decoder) = connect(server.port).await;
    let mut wire = vec![mllp::START];
    wire.extend(message("CUT-1"));
    wire.extend(mllp::encode(&message("OK-2")));
    stream.write_all(&wire).await.unwrap();
    let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
    assert_eq!(
        msa(&reply),
        (AckCode::ApplicationReject, Some("CUT-1".to_owned()))
    );
    let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
    assert_eq!(msa(&reply).1.as_deref(), Some("OK-2"));
}

#[tokio::test]
async fn connections_are_served_concurrently() {
    const N: usize = 4;
    // Every handler waits until all N are running at once: serial connections would hang.
    let barrier = Arc::new(Barrier::new(N));
    let server = start(ServerConfig::default(), move || {
        let barrier = Arc::clone(&barrier);
        async move {
            barrier.wait().await;
        }
    })
    .await;
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let port = server.port;
            tokio::spawn(async move {
                let (mut stream, mut decoder) = connect(port).await;
                let id = format!("C-{i}");
                stream
                    .write_all(&mllp::encode(&message(&id)))
                    .await
                    .unwrap();
                let reply = read_frame(&mut stream, &mut decoder).await.unwrap();
                assert_eq!(msa(&reply).1, Some(id));
            })
        })
        .collect();
    tokio::time::timeout(LIMIT, async {
        for c in clients {
            c.await.unwrap();
        }
    })
    .await
    .expect("connections were not served concurrently");
}

#[tokio::test]
async fn shutdown_finishes_the_frame_in_flight() {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (s, r) = (Arc::clone(&started), Arc::clone(&release));
    let server = start(ServerConfig::default(), move || {
        let (s, r) = (Arc::clone(&s), Arc::clone(&r));
        async move {
            s.notify_one();
            r.notified().await;
        }
    })
    .await;
    let (mut stream, mut decoder) = connect(server.port).await;
    stream
        .write_all(&mllp::encode(&message("F-1")))
        .await
        .unwrap();
    tokio::time::timeout(LIMIT, started.notified())
        .await
        .unwrap();

    server.shutdown.cancel();
    // The listener stops accepting at once...
    tokio::time::timeout(LIMIT, async {
        while TcpStream::connect(("127.0.0.1", server.port)).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("still accepting after shutdown");
    assert!(!server.task.is_finished(), "waits for the handler");

    // ...and the frame in flight is still answered, then the connection closes.
    release.notify_one();
    let reply = tokio::time::timeout(LIMIT, read_frame(&mut stream, &mut decoder))
        .await
        .unwrap()
        .unwrap();
    assert_accepted(&reply, "F-1");
    assert_closed(&mut stream, "the connection was not closed").await;
    tokio::time::timeout(LIMIT, server.task)
        .await
        .expect("serve returns once connections are closed")
        .unwrap();
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let config = ServerConfig {
        receive_timeout: Some(Duration::from_millis(200)),
        ..ServerConfig::default()
    };
    let server = start(config, no_hook).await;
    let (mut stream, _) = connect(server.port).await;
    assert_closed(&mut stream, "the idle connection was not closed").await;
    server.stop().await;
}

#[tokio::test]
async fn the_transport_client_talks_to_the_server() {
    let server = start(ServerConfig::default(), no_hook).await;
    let conn = connector_transport::MllpConnection::new(connector_transport::MllpConfig::new(
        "127.0.0.1",
        server.port,
    ))
    .unwrap();
    for id in ["R-1", "R-2"] {
        assert!(conn.send(&message(id)).await.unwrap().is_delivered());
    }
    server.stop().await;
}

#[tokio::test]
async fn an_evicted_connection_gets_the_answer_it_was_waiting_for_before_it_is_closed() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let server = start(config, || tokio::time::sleep(Duration::from_millis(300))).await;
    let (mut first, mut first_decoder) = connect(server.port).await;
    first
        .write_all(&mllp::encode(&message("E-1")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // At the cap, a new connection evicts the only one, which is mid-frame...
    let (mut second, mut second_decoder) = connect(server.port).await;
    second
        .write_all(&mllp::encode(&message("E-2")))
        .await
        .unwrap();
    // ...but that one is answered first, then closed.
    let reply = tokio::time::timeout(LIMIT, read_frame(&mut first, &mut first_decoder))
        .await
        .unwrap()
        .expect("the evicted connection's answer");
    assert_accepted(&reply, "E-1");
    assert_closed(&mut first, "the evicted connection was not closed").await;
    let reply = tokio::time::timeout(LIMIT, read_frame(&mut second, &mut second_decoder))
        .await
        .unwrap()
        .expect("the new connection's answer");
    assert_accepted(&reply, "E-2");
}
