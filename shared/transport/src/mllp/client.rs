//! Sending HL7 to an EHR's MLLP listener, and reading its ACK.
//!
//! [`MllpConnection`] is one destination's long-lived session (what MLLP peers expect): it
//! connects on first use, sends one message at a time (concurrent callers queue), waits for
//! one framed reply and classifies it ([`AttemptOutcome`]). It keeps the connection after an ACK
//! that acknowledges the message sent, and drops it after anything else (no reply, a wrong
//! reply, an I/O error), so a late ACK can never be taken for the next message's. Before
//! reusing a connection it checks that the peer has not closed it (or sent something
//! unasked) in the meantime, and reconnects if so.
//!
//! For a one-shot send, build a connection, send, and drop it:
//! `MllpConnection::new(config)?.send(message).await` (dropping closes the socket).

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use connector_hl7::MllpDecoder;
use connector_hl7::mllp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::{Instant, timeout, timeout_at};

use crate::outcome::{
    AttemptOutcome, NotSentReason, UnknownReason, WrongAckReason, classify_reply,
};
use crate::tls::{Tls, TlsConfig};
use crate::{DestinationConfigError, MessageError, control_id_of};

/// The default connect timeout (TCP and TLS together).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default ACK timeout (from the start of the write to the end of the reply).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// The default limit on a reply frame.
pub const DEFAULT_MAX_REPLY: usize = 1 << 20;

/// Where and how to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MllpConfig {
    /// Host name or IP address of the EHR's listener.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS, when the listener speaks it.
    pub tls: Option<TlsConfig>,
    /// How long to wait for the TCP connection and the TLS handshake together.
    pub connect_timeout: Duration,
    /// How long to wait for the reply, counted from the start of the write.
    pub ack_timeout: Duration,
    /// The largest reply frame read (larger ones are [`WrongAckReason::BadFrame`]).
    pub max_reply_size: usize,
}

impl MllpConfig {
    /// Plain TCP to `host:port` with the default timeouts and reply limit.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            tls: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            max_reply_size: DEFAULT_MAX_REPLY,
        }
    }

    /// The same, over TLS.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The same, with other timeouts.
    pub fn with_timeouts(mut self, connect: Duration, ack: Duration) -> Self {
        self.connect_timeout = connect;
        self.ack_timeout = ack;
        self
    }
}

/// A byte stream: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// An open connection.
struct Session {
    stream: Box<dyn Stream>,
    sent: u64,
}

impl Session {
    /// Whether the connection can carry another message: the peer has not closed it, reset
    /// it, or sent anything since the last reply (all of which call for a new connection).
    /// Looks without waiting: only what the runtime has already seen counts.
    fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        matches!(
            Pin::new(&mut self.stream).poll_read(&mut cx, &mut buf),
            Poll::Pending
        )
    }

    /// Writes one framed message and reads one framed reply, within `ack_timeout`.
    async fn exchange(
        &mut self,
        framed: &[u8],
        control_id: &str,
        ack_timeout: Duration,
        max_reply: usize,
    ) -> AttemptOutcome {
        let deadline = Instant::now() + ack_timeout;
        let write = async {
            self.stream.write_all(framed).await?;
            self.stream.flush().await
        };
        match timeout_at(deadline, write).await {
            Err(_) => {
                return AttemptOutcome::Unknown {
                    reason: UnknownReason::AckTimeout,
                };
            }
            Ok(Err(e)) => {
                return AttemptOutcome::Unknown {
                    reason: UnknownReason::Io(e.kind()),
                };
            }
            Ok(Ok(())) => {}
        }
        self.sent += 1;
        let mut decoder = MllpDecoder::new(max_reply);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Some(frame) = decoder.next_frame() {
                return match frame {
                    Ok(reply) => classify_reply(&reply, control_id),
                    Err(_) => AttemptOutcome::WrongAck {
                        reason: WrongAckReason::BadFrame,
                    },
                };
            }
            match timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => {
                    return AttemptOutcome::Unknown {
                        reason: UnknownReason::AckTimeout,
                    };
                }
                Ok(Ok(0)) => {
                    return AttemptOutcome::Unknown {
                        reason: UnknownReason::Closed,
                    };
                }
                Ok(Ok(n)) => decoder.push(buf.get(..n).unwrap_or_default()),
                Ok(Err(e)) => {
                    return AttemptOutcome::Unknown {
                        reason: UnknownReason::Io(e.kind()),
                    };
                }
            }
        }
    }
}

/// One MLLP destination's session (see the [module documentation](self)).
pub struct MllpConnection {
    host: String,
    port: u16,
    tls: Option<Tls>,
    connect_timeout: Duration,
    ack_timeout: Duration,
    max_reply: usize,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for MllpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MllpConnection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("ack_timeout", &self.ack_timeout)
            .finish_non_exhaustive()
    }
}

impl MllpConnection {
    /// Prepares a destination (TLS settings are checked here); connects on the first send.
    ///
    /// # Errors
    /// [`DestinationConfigError`] when the TLS server name or CA bundle is unusable.
    pub fn new(config: MllpConfig) -> Result<Self, DestinationConfigError> {
        let tls = config.tls.as_ref().map(Tls::new).transpose()?;
        Ok(Self {
            host: config.host,
            port: config.port,
            tls,
            connect_timeout: config.connect_timeout,
            ack_timeout: config.ack_timeout,
            max_reply: config.max_reply_size,
            session: Mutex::new(None),
        })
    }

    /// Sends one ER7 message and classifies the reply (see [`AttemptOutcome`]). Concurrent calls
    /// are sent one after the other on the one connection.
    ///
    /// # Errors
    /// [`MessageError`] when the message is not HL7 or has no MSH-10 (nothing is sent: the
    /// reply could not be matched).
    pub async fn send(&self, message: &[u8]) -> Result<AttemptOutcome, MessageError> {
        let control_id = control_id_of(message)?;
        let framed = mllp::encode(message);
        let mut guard = self.session.lock().await;
        if guard.as_mut().is_some_and(|s| !s.is_reusable()) {
            tracing::debug!(host = %self.host, port = self.port, "MLLP connection closed by the peer; reconnecting");
            *guard = None;
        }
        let reused = guard.is_some();
        let session = match guard.take() {
            Some(s) => guard.insert(s),
            None => match self.connect().await {
                Ok(s) => guard.insert(s),
                Err(reason) => {
                    let outcome = AttemptOutcome::NotSent { reason };
                    tracing::warn!(
                        host = %self.host,
                        port = self.port,
                        control_id = %control_id,
                        outcome = outcome.kind(),
                        reason = %reason,
                        "MLLP send"
                    );
                    return Ok(outcome);
                }
            },
        };
        let outcome = session
            .exchange(&framed, &control_id, self.ack_timeout, self.max_reply)
            .await;
        let keep = matches!(
            outcome,
            AttemptOutcome::Delivered { .. } | AttemptOutcome::Rejected { .. }
        );
        let sent_on_connection = session.sent;
        if !keep {
            *guard = None;
        }
        tracing::info!(
            host = %self.host,
            port = self.port,
            control_id = %control_id,
            bytes = message.len(),
            reused,
            sent_on_connection,
            outcome = outcome.kind(),
            detail = %outcome,
            "MLLP send"
        );
        Ok(outcome)
    }

    /// Closes the connection if one is open (the next send reconnects).
    pub async fn close(&self) {
        if let Some(mut s) = self.session.lock().await.take() {
            let _ = s.stream.shutdown().await;
        }
    }

    async fn connect(&self) -> Result<Session, NotSentReason> {
        let connect = async {
            let addrs: Vec<_> = tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|_| NotSentReason::Resolve)?
                .collect();
            let mut last = NotSentReason::Resolve;
            let mut tcp = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        tcp = Some(s);
                        break;
                    }
                    Err(e) => last = NotSentReason::Connect(e.kind()),
                }
            }
            let tcp = tcp.ok_or(last)?;
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn Stream> = match &self.tls {
                Some(tls) => Box::new(
                    tls.connector
                        .connect(tls.server_name.clone(), tcp)
                        .await
                        .map_err(|_| NotSentReason::Tls)?,
                ),
                None => Box::new(tcp),
            };
            Ok(Session { stream, sent: 0 })
        };
        timeout(self.connect_timeout, connect)
            .await
            .unwrap_or(Err(NotSentReason::ConnectTimeout))
    }
}
