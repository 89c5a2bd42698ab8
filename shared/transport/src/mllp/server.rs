//! An MLLP listener: accepts connections, decodes frames, hands each to an async handler and
//! writes the handler's answer back, framed.
//!
//! - Connections are served concurrently (up to [`ServerConfig::max_connections`]; further
//!   ones wait in the listen backlog); the frames of one connection are handled in order,
//!   one at a time, as MLLP senders expect.
//! - A frame larger than [`ServerConfig::max_frame_size`], or cut off by the start of the
//!   next one, is answered with an `AR` (echoing its MSH when its first line reads, else
//!   [`connector_hl7::AckBuilder::build_unparsable`]'s best effort) and the connection goes on
//!   from the next frame.
//! - A connection that sends nothing for [`ServerConfig::idle_timeout`] is closed.
//! - Shutdown ([`CancellationToken`]): the listener stops accepting at once; each connection
//!   finishes the frame its handler is working on and any complete frames already received,
//!   writes their answers, and closes. [`serve`] returns when every connection is closed (a
//!   handler that never returns holds it up: bound your handler's work with a timeout).
//!
//! The handler gets the frame's payload and returns the reply's payload (an ACK); an empty
//! reply sends nothing.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connector_hl7::mllp::{self, END, START};
use connector_hl7::{ControlIdGenerator, ErrorCode, MllpDecoder, MllpError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The default largest frame accepted: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// The default idle timeout: 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// The default limit on simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How much of a frame's start is kept to answer it if it turns out too large.
const HEAD_BYTES: usize = 1024;

/// Limits of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// The largest frame payload accepted, in bytes.
    pub max_frame_size: usize,
    /// How long a connection may stay silent before it is closed. Also bounds how long
    /// writing a reply to a peer that does not read may take.
    pub idle_timeout: Duration,
    /// How many connections are served at once.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves MLLP on `listener` with the default [`ServerConfig`] until `shutdown` is
/// cancelled and every connection has finished (see the [module documentation](self)).
pub async fn serve<H, F>(listener: TcpListener, handler: H, shutdown: CancellationToken)
where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    serve_with(listener, ServerConfig::default(), handler, shutdown).await;
}

struct Shared<H> {
    handler: H,
    config: ServerConfig,
    ids: ControlIdGenerator,
    shutdown: CancellationToken,
}

/// [`serve`] with other limits.
pub async fn serve_with<H, F>(
    listener: TcpListener,
    config: ServerConfig,
    handler: H,
    shutdown: CancellationToken,
) where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    let local = listener.local_addr().ok();
    let shared = Arc::new(Shared {
        handler,
        config,
        ids: ControlIdGenerator::random(),
        shutdown: shutdown.clone(),
    });
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let tracker = TaskTracker::new();
    let mut next_id: u64 = 0;
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, a connection aborted before accept...: not fatal.
                tracing::warn!(kind = %e.kind(), "MLLP accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {},
                }
                continue;
            }
        };
        next_id += 1;
        let shared = Arc::clone(&shared);
        let connection = next_id;
        tracker.spawn(async move {
            serve_connection(stream, peer, connection, &shared).await;
            drop(permit);
        });
    }
    drop(listener);
    tracker.close();
    tracing::info!(
        address = ?local,
        open_connections = tracker.len(),
        "MLLP listener stopped accepting; finishing open connections"
    );
    tracker.wait().await;
    tracing::info!(address = ?local, "MLLP listener stopped");
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy)]
enum Close {
    PeerClosed,
    Idle,
    Shutdown,
    ReadError(std::io::ErrorKind),
    WriteError(std::io::ErrorKind),
    WriteTimeout,
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Close::PeerClosed => f.write_str("closed by the peer"),
            Close::Idle => f.write_str("idle timeout"),
            Close::Shutdown => f.write_str("shutdown"),
            Close::ReadError(kind) => write!(f, "read error ({kind})"),
            Close::WriteError(kind) => write!(f, "write error ({kind})"),
            Close::WriteTimeout => f.write_str("write timed out"),
        }
    }
}

async fn serve_connection<H, F>(
    mut stream: TcpStream,
    peer: SocketAddr,
    connection: u64,
    shared: &Shared<H>,
) where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    tracing::debug!(connection, peer = %peer, "MLLP connection opened");
    let config = shared.config;
    let mut decoder = MllpDecoder::new(config.max_frame_size);
    let mut heads = FrameHeads::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut frames: u64 = 0;
    let close = 'conn: loop {
        // Every complete frame received so far, in order (also after shutdown began).
        while let Some(item) = decoder.next_frame() {
            let head = heads.pop();
            let reply = match item {
                Ok(frame) => {
                    frames += 1;
                    let bytes = frame.len();
                    let reply = (shared.handler)(frame).await;
                    tracing::debug!(
                        connection,
                        bytes,
                        reply_bytes = reply.len(),
                        "MLLP frame handled"
                    );
                    reply
                }
                Err(MllpError::UnterminatedFrame { discarded: 0 }) => continue,
                Err(e) => {
                    tracing::warn!(connection, error = %e, "MLLP frame dropped; answering AR");
                    crate::ack::reject(&head, ErrorCode::ApplicationInternalError, &shared.ids)
                }
            };
            if reply.is_empty() {
                continue;
            }
            let framed = mllp::encode(&reply);
            match timeout(config.idle_timeout, stream.write_all(&framed)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => break 'conn Close::WriteError(e.kind()),
                Err(_) => break 'conn Close::WriteTimeout,
            }
        }
        if shared.shutdown.is_cancelled() {
            break Close::Shutdown;
        }
        let read = tokio::select! {
            biased;
            () = shared.shutdown.cancelled() => break Close::Shutdown,
            read = timeout(config.idle_timeout, stream.read(&mut buf)) => read,
        };
        match read {
            Err(_) => break Close::Idle,
            Ok(Ok(0)) => break Close::PeerClosed,
            Ok(Ok(n)) => {
                let chunk = buf.get(..n).unwrap_or_default();
                heads.scan(chunk);
                decoder.push(chunk);
            }
            Ok(Err(e)) => break Close::ReadError(e.kind()),
        }
    };
    if decoder.in_frame() {
        tracing::debug!(
            connection,
            buffered = decoder.buffered(),
            "MLLP connection closed inside a frame"
        );
    }
    let _ = timeout(Duration::from_secs(1), stream.shutdown()).await;
    tracing::debug!(
        connection,
        frames,
        skipped_bytes = decoder.skipped_bytes(),
        reason = %close,
        "MLLP connection closed"
    );
}

/// The first line (at most [`HEAD_BYTES`]) of every frame started on the wire, in order.
///
/// Every start byte starts a frame for [`MllpDecoder`] (one inside a frame cuts the previous
/// one off), and each started frame yields exactly one item from it (the frame, or an error
/// once it is dropped), so popping one head per item pairs them up. Only the heads of frames
/// the decoder has not yet yielded are held.
#[derive(Debug, Default)]
struct FrameHeads {
    heads: VecDeque<Vec<u8>>,
    capturing: bool,
}

impl FrameHeads {
    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.heads.back_mut() {
                Some(head) if self.capturing => {
                    let stop = bytes
                        .iter()
                        .position(|&b| matches!(b, b'\r' | b'\n' | START | END));
                    let take = stop.unwrap_or(bytes.len());
                    let room = HEAD_BYTES.saturating_sub(head.len());
                    head.extend_from_slice(bytes.get(..take.min(room)).unwrap_or_default());
                    if stop.is_some() || head.len() >= HEAD_BYTES {
                        self.capturing = false;
                    }
                    bytes = bytes.get(take..).unwrap_or_default();
                }
                _ => match bytes.iter().position(|&b| b == START) {
                    Some(i) => {
                        self.heads.push_back(Vec::new());
                        self.capturing = true;
                        bytes = bytes.get(i + 1..).unwrap_or_default();
                    }
                    None => bytes = &[],
                },
            }
        }
    }

    fn pop(&mut self) -> Vec<u8> {
        if self.heads.len() == 1 && self.capturing {
            // Still being captured: the item is for a frame dropped mid-way (too large).
            self.capturing = false;
        }
        self.heads.pop_front().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_pair_up_with_frames() {
        let mut heads = FrameHeads::default();
        let wire = [
            mllp::encode(b"MSH|first\rPID|1"),
            b"noise".to_vec(),
            mllp::encode(b"MSH|second"),
            b"\x0bMSH|third, cut".to_vec(),
        ]
        .concat();
        for chunk in wire.chunks(3) {
            heads.scan(chunk);
        }
        assert_eq!(heads.pop(), b"MSH|first");
        assert_eq!(heads.pop(), b"MSH|second");
        assert_eq!(heads.pop(), b"MSH|third, cut");
        assert_eq!(heads.pop(), b"");
    }

    #[test]
    fn heads_are_bounded() {
        let mut heads = FrameHeads::default();
        heads.scan(b"\x0b");
        heads.scan(&vec![b'x'; 5000]);
        assert_eq!(heads.pop().len(), HEAD_BYTES);
    }
}
