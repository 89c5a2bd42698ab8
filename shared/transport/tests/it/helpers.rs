//! Messages, ACKs and a fake EHR MLLP listener.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_hl7::mllp;
use connector_hl7::{AckBuilder, AckCode, AckError, ErrorCode, Message, MllpDecoder, Path};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// An ADT^A04 with control ID `id` (synthetic data).
pub fn message(id: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|CONNECTOR|CLINIC|EHR|CLINIC|20240102030405||ADT^A04^ADT_A01|{id}|P|2.5.1\rPID|1||MRN-{id}^^^MRN||Brindlewood^Orla\r"
    )
    .into_bytes()
}

/// An ACK of `frame` with `code`, and optionally one ERR.
pub fn ack(frame: &[u8], code: AckCode, error: Option<(ErrorCode, &str)>) -> Vec<u8> {
    let msg = Message::parse_bytes(frame).expect("the test sends HL7");
    let mut builder = AckBuilder::new(code, "ACK-1");
    if let Some((code, path)) = error {
        let path: Path = path.parse().expect("path");
        builder = builder.error(AckError::new(code).at(&path));
    }
    builder.build(&msg).to_bytes()
}

/// Reads one frame from `stream` (`None` at the end of the stream).
pub async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    decoder: &mut MllpDecoder,
) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(frame) = decoder.next_frame() {
            return Some(frame.expect("a well-formed frame"));
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        decoder.push(&buf[..n]);
    }
}

/// How the fake EHR answers a frame.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// `AA`.
    Accept,
    /// `AE` with an ERR at PID-3 (code 101).
    Error,
    /// `AA`, but MSA-2 names another message.
    WrongControlId,
    /// Nothing, connection kept open.
    Silent,
    /// Closes the connection without answering.
    Close,
    /// `AA`, then closes the connection.
    AcceptThenClose,
    /// Answers a frame that is not HL7.
    Garbage,
}

/// A fake EHR listener: how many connections it accepted, and its address.
pub struct FakeEhr {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    pub frames: Arc<AtomicUsize>,
}

impl FakeEhr {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn frames(&self) -> usize {
        self.frames.load(Ordering::SeqCst)
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    behaviour: Behaviour,
    frames: Arc<AtomicUsize>,
) {
    let mut decoder = MllpDecoder::new(1 << 20);
    while let Some(frame) = read_frame(&mut stream, &mut decoder).await {
        frames.fetch_add(1, Ordering::SeqCst);
        let reply = match behaviour {
            Behaviour::Accept | Behaviour::AcceptThenClose => {
                ack(&frame, AckCode::ApplicationAccept, None)
            }
            Behaviour::Error => ack(
                &frame,
                AckCode::ApplicationError,
                Some((ErrorCode::RequiredFieldMissing, "PID-3")),
            ),
            Behaviour::WrongControlId => {
                ack(&message("SOMETHING-ELSE"), AckCode::ApplicationAccept, None)
            }
            Behaviour::Silent => continue,
            Behaviour::Close => return,
            Behaviour::Garbage => b"HTTP/1.1 400 Bad Request".to_vec(),
        };
        if stream.write_all(&mllp::encode(&reply)).await.is_err() {
            return;
        }
        if matches!(behaviour, Behaviour::AcceptThenClose) {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Starts a fake EHR on 127.0.0.1, plain TCP, or TLS when `tls` is given.
pub async fn fake_ehr(behaviour: Behaviour, tls: Option<TlsAcceptor>) -> FakeEhr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let frames = Arc::new(AtomicUsize::new(0));
    let (c, f) = (Arc::clone(&connections), Arc::clone(&frames));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let f = Arc::clone(&f);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            answer(stream, behaviour, f).await;
                        }
                    }
                    None => answer(stream, behaviour, f).await,
                }
            });
        }
    });
    FakeEhr {
        port,
        connections,
        frames,
    }
}

/// A self-signed certificate for `localhost` (PEM) and a TLS acceptor serving it.
pub fn self_signed() -> (String, TlsAcceptor) {
    use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    (certified.cert.pem(), TlsAcceptor::from(Arc::new(config)))
}

/// A local port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}
