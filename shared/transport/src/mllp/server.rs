//! An MLLP listener: accepts connections, decodes frames, hands each to an async handler and
//! writes the handler's answer back, framed.
//!
//! Its settings are those of Mirth Connect's TCP Listener (see [`ServerConfig`]):
//!
//! - **Max connections**: up to [`ServerConfig::max_connections`] connections are served at
//!   once. When a new connection arrives at the cap, the connection that has been idle longest
//!   (nothing received or sent for the longest time) is closed to make room, as on a shutdown
//!   (the frame it is handling, if any, is answered first), and the eviction is logged with
//!   both addresses. So idle connections can never lock the EHR out.
//! - **Receive timeout**: a connection that sends nothing for
//!   [`ServerConfig::receive_timeout`] is closed; `None` (Mirth's 0) never closes it.
//! - **Keep connection open**: when [`ServerConfig::keep_connection_open`] is false, a
//!   connection is closed once it has been answered.
//! - **TCP keep-alive**: [`ServerConfig::tcp_keepalive`] turns on keep-alive probes after that
//!   long without traffic, so the kernel notices peers that vanished without closing.
//! - **Allowed sources**: when [`ServerConfig::allow`] is not empty, a connection from any other
//!   address is closed at once, unanswered, and the refusal is logged with the address.
//!
//! The frames of one connection are handled in order, one at a time, as MLLP senders expect.
//! A frame larger than [`ServerConfig::max_frame_size`], or cut off by the start of the next
//! one, is answered with an `AR` (echoing its MSH when its first line reads, else
//! [`connector_hl7::AckBuilder::build_unparsable`]'s best effort) and the connection goes on
//! from the next frame.
//!
//! Shutdown ([`CancellationToken`]): the listener stops accepting at once; each connection
//! finishes the frame its handler is working on and any complete frames already received,
//! writes their answers, and closes. [`serve`] returns when every connection is closed (a
//! handler that never returns holds it up: bound your handler's work with a timeout).
//!
//! Logs carry addresses, connection numbers, sizes and reasons, never frame content. The
//! handler gets the frame's payload and returns the reply's payload (an ACK); an empty reply
//! sends nothing.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_hl7::mllp::{self, END, START};
use connector_hl7::{ControlIdGenerator, ErrorCode, MllpDecoder, MllpError};
pub use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The default largest frame accepted: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// The default limit on simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// The default bound on writing one reply to a peer that does not read: 60 seconds.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default idle time before TCP keep-alive probes start: 60 seconds.
pub const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// How much of a frame's start is kept to answer it if it turns out too large.
const HEAD_BYTES: usize = 1024;

/// Settings of a listener (Mirth Connect's TCP Listener settings, by the same names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The largest frame payload accepted, in bytes.
    pub max_frame_size: usize,
    /// How long a connection may send nothing before it is closed; `None`: never.
    pub receive_timeout: Option<Duration>,
    /// How long writing one reply to a peer that does not read may take.
    pub write_timeout: Duration,
    /// How many connections are served at once; at the cap, a new connection evicts the
    /// longest-idle one. At least 1.
    pub max_connections: usize,
    /// Whether a connection stays open after it has been answered.
    pub keep_connection_open: bool,
    /// TCP keep-alive: probe a connection after this long without traffic; `None`: off.
    pub tcp_keepalive: Option<Duration>,
    /// The source addresses allowed to connect; empty: any.
    pub allow: Vec<IpNet>,
}

impl Default for ServerConfig {
    /// 1 MiB frames, no receive timeout, 60 s write timeout, 256 connections, connections kept
    /// open, keep-alive after 60 s, any source.
    fn default() -> Self {
        Self {
            max_frame_size: DEFAULT_MAX_FRAME,
            receive_timeout: None,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keep_connection_open: true,
            tcp_keepalive: Some(DEFAULT_TCP_KEEPALIVE),
            allow: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Whether a connection from `ip` is allowed (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&ip))
    }
}

/// Parses one allowed source: a CIDR block (`10.0.0.0/8`, `fd00::/8`) or a single address.
pub fn parse_source(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{text:?} is neither a CIDR block (10.0.0.0/8) nor an IP address"))
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
    open: Mutex<HashMap<u64, Tracked>>,
}

/// An open connection, as the listener sees it to pick one to evict.
struct Tracked {
    peer: SocketAddr,
    last_active: Instant,
    stop: CancellationToken,
    evicted: bool,
}

impl<H> Shared<H> {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Tracked>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records traffic on `connection`.
    fn touch(&self, connection: u64) {
        if let Some(tracked) = self.open().get_mut(&connection) {
            tracked.last_active = Instant::now();
        }
    }

    /// Stops the connection idle longest (not already being evicted); its address and idle time.
    fn evict_longest_idle(&self) -> Option<(SocketAddr, Duration)> {
        let mut open = self.open();
        let (_, victim) = open
            .iter_mut()
            .filter(|(_, t)| !t.evicted)
            .min_by_key(|(_, t)| t.last_active)?;
        victim.evicted = true;
        victim.stop.cancel();
        Some((victim.peer, victim.last_active.elapsed()))
    }
}

/// Removes a connection from [`Shared::open`] when its task ends, however it ends.
struct Untrack<'a, H> {
    shared: &'a Shared<H>,
    connection: u64,
}

impl<H> Drop for Untrack<'_, H> {
    fn drop(&mut self) {
        self.shared.open().remove(&self.connection);
    }
}

/// [`serve`] with other settings.
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
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let shared = Arc::new(Shared {
        handler,
        config,
        ids: ControlIdGenerator::random(),
        shutdown: shutdown.clone(),
        open: Mutex::new(HashMap::new()),
    });
    let tracker = TaskTracker::new();
    let mut next_id: u64 = 0;
    loop {
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
        if !shared.config.allows(peer.ip()) {
            tracing::warn!(peer = %peer, "MLLP connection refused: source address not allowed");
            drop(stream);
            continue;
        }
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match make_room(&shared, &slots, peer).await {
                Some(permit) => permit,
                None => break,
            },
        };
        next_id += 1;
        let connection = next_id;
        let stop = shutdown.child_token();
        shared.open().insert(
            connection,
            Tracked {
                peer,
                last_active: Instant::now(),
                stop: stop.clone(),
                evicted: false,
            },
        );
        let shared = Arc::clone(&shared);
        tracker.spawn(async move {
            let _untrack = Untrack {
                shared: &shared,
                connection,
            };
            serve_connection(stream, peer, connection, &shared, &stop).await;
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

/// At the cap: evicts the longest-idle connection and waits for its slot (`None` on shutdown).
async fn make_room<H>(
    shared: &Shared<H>,
    slots: &Arc<Semaphore>,
    newcomer: SocketAddr,
) -> Option<OwnedSemaphorePermit> {
    loop {
        if let Some((peer, idle)) = shared.evict_longest_idle() {
            tracing::warn!(
                peer = %peer,
                idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
                new_peer = %newcomer,
                max_connections = shared.config.max_connections,
                "MLLP connection evicted: longest idle at max connections, to serve a new one"
            );
        }
        // An evicted connection answers the frame it is handling first; check again meanwhile.
        tokio::select! {
            biased;
            () = shared.shutdown.cancelled() => return None,
            permit = Arc::clone(slots).acquire_owned() => return permit.ok(),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy)]
enum Close {
    PeerClosed,
    ReceiveTimeout,
    Answered,
    Evicted,
    Shutdown,
    ReadError(std::io::ErrorKind),
    WriteError(std::io::ErrorKind),
    WriteTimeout,
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Close::PeerClosed => f.write_str("closed by the peer"),
            Close::ReceiveTimeout => f.write_str("receive timeout"),
            Close::Answered => f.write_str("answered (keep connection open is off)"),
            Close::Evicted => f.write_str("evicted at max connections"),
            Close::Shutdown => f.write_str("shutdown"),
            Close::ReadError(kind) => write!(f, "read error ({kind})"),
            Close::WriteError(kind) => write!(f, "write error ({kind})"),
            Close::WriteTimeout => f.write_str("write timed out"),
        }
    }
}

/// Turns on TCP keep-alive probes after `idle` without traffic.
fn set_keepalive(stream: &TcpStream, idle: Duration) -> std::io::Result<()> {
    let params = socket2::TcpKeepalive::new().with_time(idle);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let params = params.with_interval(
        idle.min(Duration::from_secs(15))
            .max(Duration::from_secs(1)),
    );
    socket2::SockRef::from(stream).set_tcp_keepalive(&params)
}

async fn serve_connection<H, F>(
    mut stream: TcpStream,
    peer: SocketAddr,
    connection: u64,
    shared: &Shared<H>,
    stop: &CancellationToken,
) where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let config = &shared.config;
    if let Some(idle) = config.tcp_keepalive
        && let Err(e) = set_keepalive(&stream, idle)
    {
        tracing::debug!(connection, kind = %e.kind(), "cannot set TCP keep-alive");
    }
    tracing::debug!(connection, peer = %peer, "MLLP connection opened");
    let mut decoder = MllpDecoder::new(config.max_frame_size);
    let mut heads = FrameHeads::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut frames: u64 = 0;
    let stopped = || {
        if shared.shutdown.is_cancelled() {
            Close::Shutdown
        } else {
            Close::Evicted
        }
    };
    let close = 'conn: loop {
        // Every complete frame received so far, in order (also after a stop).
        let mut answered = false;
        while let Some(item) = decoder.next_frame() {
            let head = heads.pop();
            let reply = match item {
                Ok(frame) => {
                    frames += 1;
                    let bytes = frame.len();
                    shared.touch(connection);
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
            match timeout(config.write_timeout, stream.write_all(&framed)).await {
                Ok(Ok(())) => {
                    answered = true;
                    shared.touch(connection);
                }
                Ok(Err(e)) => break 'conn Close::WriteError(e.kind()),
                Err(_) => break 'conn Close::WriteTimeout,
            }
        }
        if answered && !config.keep_connection_open {
            break Close::Answered;
        }
        if stop.is_cancelled() {
            break stopped();
        }
        let read = async {
            match config.receive_timeout {
                Some(limit) => timeout(limit, stream.read(&mut buf)).await.ok(),
                None => Some(stream.read(&mut buf).await),
            }
        };
        let read = tokio::select! {
            biased;
            () = stop.cancelled() => break stopped(),
            read = read => read,
        };
        match read {
            None => break Close::ReceiveTimeout,
            Some(Ok(0)) => break Close::PeerClosed,
            Some(Ok(n)) => {
                shared.touch(connection);
                let chunk = buf.get(..n).unwrap_or_default();
                heads.scan(chunk);
                decoder.push(chunk);
            }
            Some(Err(e)) => break Close::ReadError(e.kind()),
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
    fn sources_are_cidr_blocks_or_single_addresses() {
        let config = ServerConfig {
            allow: vec![
                parse_source("10.0.0.0/8").unwrap(),
                parse_source(" 192.168.1.7 ").unwrap(),
                parse_source("fd00::/8").unwrap(),
            ],
            ..ServerConfig::default()
        };
        for allowed in ["10.1.2.3", "192.168.1.7", "::ffff:10.9.9.9", "fd12::1"] {
            assert!(config.allows(allowed.parse().unwrap()), "{allowed}");
        }
        for refused in ["127.0.0.1", "192.168.1.8", "11.0.0.1", "fe80::1"] {
            assert!(!config.allows(refused.parse().unwrap()), "{refused}");
        }
        assert!(ServerConfig::default().allows("203.0.113.9".parse().unwrap()));
        assert_eq!(
            parse_source("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!(parse_source("10.0.0.0/33").is_err());
        assert!(parse_source("north-ehr.example").is_err());
    }

    #[test]
    fn heads_are_bounded() {
        let mut heads = FrameHeads::default();
        heads.scan(b"\x0b");
        heads.scan(&vec![b'x'; 5000]);
        assert_eq!(heads.pop().len(), HEAD_BYTES);
    }
}
