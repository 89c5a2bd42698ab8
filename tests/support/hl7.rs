//! HL7 on the wire for tests: how a request to `/hl7/{channel}` is signed ([`Signing`]), what an
//! ACK says ([`Ack`]), and a real MLLP client ([`MllpClient`]).

use std::net::SocketAddr;

use connector_hl7::{AckInfo, Message, MllpDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a test request is signed.
#[derive(Debug, Clone, Copy)]
pub enum Signing<'a> {
    /// The channel's secret at the connector's current time.
    Valid,
    /// Another secret.
    Secret(&'a [u8]),
    /// The channel's secret at this many seconds from the connector's time.
    Skewed(i64),
    /// No signature headers.
    Unsigned,
    /// Only the timestamp header.
    TimestampOnly,
    /// The channel's secret over another body.
    OtherBody(&'a str),
}

/// What an ACK says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// MSA-1.
    pub code: String,
    /// MSA-2 (empty when absent).
    pub control_id: String,
    /// ERR-3.1 of each ERR.
    pub errors: Vec<u16>,
    /// The ER7 text.
    pub text: String,
}

impl Ack {
    /// Reads an ACK.
    pub fn parse(text: &str) -> Self {
        let message = Message::parse(text).expect("the ACK parses");
        let info = AckInfo::read(&message).expect("an ACK with an MSA");
        assert_eq!(
            message.message_code().as_deref(),
            Some("ACK"),
            "MSH-9 of an ACK: {text}"
        );
        Self {
            code: info.code.as_str().to_owned(),
            control_id: info.control_id.map(|c| c.into_owned()).unwrap_or_default(),
            errors: info.errors.iter().filter_map(|e| e.code).collect(),
            text: text.to_owned(),
        }
    }

    /// Asserts MSA-1 is `code` and MSA-2 is `control_id`; returns self.
    #[track_caller]
    pub fn expect(self, code: &str, control_id: &str) -> Self {
        assert_eq!(
            (self.code.as_str(), self.control_id.as_str()),
            (code, control_id),
            "{}",
            self.text.replace('\r', "\n")
        );
        self
    }

    /// Asserts the ACK carries exactly the error `code` and that its text has `location` (the
    /// ERR segment's field); returns self.
    #[track_caller]
    pub fn expect_error_at(self, code: u16, location: &str) -> Self {
        assert_eq!(self.errors, vec![code], "{}", self.text);
        assert!(
            self.text.contains(location),
            "the ERR names {location}: {}",
            self.text.replace('\r', "\n")
        );
        self
    }
}

/// A real MLLP client connection.
pub struct MllpClient {
    stream: TcpStream,
    decoder: MllpDecoder,
}

impl MllpClient {
    /// Connects.
    pub async fn connect(address: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(address).await.expect("MLLP connect"),
            decoder: MllpDecoder::new(1 << 20),
        }
    }

    /// Writes one framed message (without waiting for its ACK).
    pub async fn write(&mut self, message: &str) {
        self.stream
            .write_all(&connector_hl7::mllp::encode(message.as_bytes()))
            .await
            .expect("MLLP write");
    }

    /// Reads the next ACK.
    pub async fn read_ack(&mut self) -> Ack {
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                let frame = frame.expect("a well-formed frame");
                return Ack::parse(std::str::from_utf8(&frame).expect("UTF-8 ACK"));
            }
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                self.stream.read(&mut buffer),
            )
            .await
            .expect("an ACK within 30 s")
            .expect("MLLP read");
            assert!(n > 0, "the listener closed the connection");
            self.decoder.push(&buffer[..n]);
        }
    }

    /// Sends one message and reads its ACK.
    pub async fn send(&mut self, message: &str) -> Ack {
        self.write(message).await;
        self.read_ack().await
    }
}
