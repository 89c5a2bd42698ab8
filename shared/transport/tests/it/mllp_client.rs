//! `MllpConnection` against a fake EHR.

use std::time::Duration;

use connector_hl7::AckCode;
use connector_transport::{
    AttemptOutcome, MessageError, MllpConfig, MllpConnection, NotSentReason, TlsConfig,
    UnknownReason, WrongAckReason,
};

use crate::helpers::{Behaviour, closed_port, fake_ehr, message, self_signed};

fn config(port: u16) -> MllpConfig {
    MllpConfig::new("127.0.0.1", port)
        .with_timeouts(Duration::from_secs(5), Duration::from_millis(500))
}

async fn send(port: u16, id: &str) -> AttemptOutcome {
    MllpConnection::new(config(port))
        .unwrap()
        .send(&message(id))
        .await
        .unwrap()
}

#[tokio::test]
async fn aa_is_delivered_and_the_connection_is_kept() {
    let ehr = fake_ehr(Behaviour::Accept, None).await;
    let conn = MllpConnection::new(config(ehr.port)).unwrap();
    for id in ["M-1", "M-2", "M-3"] {
        assert_eq!(
            conn.send(&message(id)).await.unwrap(),
            AttemptOutcome::Delivered {
                ack_code: AckCode::ApplicationAccept
            }
        );
    }
    assert_eq!(ehr.connections(), 1, "one long-lived connection");
    conn.close().await;
    assert!(conn.send(&message("M-4")).await.unwrap().is_delivered());
    assert_eq!(ehr.connections(), 2);
}

#[tokio::test]
async fn ae_with_err_is_rejected_with_codes_only() {
    let ehr = fake_ehr(Behaviour::Error, None).await;
    let outcome = send(ehr.port, "M-1").await;
    assert_eq!(
        outcome,
        AttemptOutcome::Rejected {
            ack_code: Some(AckCode::ApplicationError),
            error: Some("101 Required field missing at PID-3".to_owned()),
        }
    );
    assert!(!outcome.is_retryable());
}

/// An ACK of another message or an unparsable one is a wrong ACK; a close without a reply is
/// unknown (the EHR may have taken the message).
#[tokio::test]
async fn replies_that_are_not_the_ack_map_to_their_outcomes() {
    for (behaviour, expected) in [
        (
            Behaviour::WrongControlId,
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::ControlIdMismatch,
            },
        ),
        (
            Behaviour::Garbage,
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::Unparsable,
            },
        ),
        (
            Behaviour::Close,
            AttemptOutcome::Unknown {
                reason: UnknownReason::Closed,
            },
        ),
    ] {
        let ehr = fake_ehr(behaviour, None).await;
        assert_eq!(send(ehr.port, "M-1").await, expected, "{behaviour:?}");
    }
}

#[tokio::test]
async fn no_reply_is_unknown_and_the_connection_is_dropped() {
    let ehr = fake_ehr(Behaviour::Silent, None).await;
    let conn = MllpConnection::new(config(ehr.port)).unwrap();
    assert_eq!(
        conn.send(&message("M-1")).await.unwrap(),
        AttemptOutcome::Unknown {
            reason: UnknownReason::AckTimeout
        }
    );
    // A late ACK must never be read as the next message's: the next send reconnects.
    let _ = conn.send(&message("M-1")).await.unwrap();
    assert_eq!(ehr.connections(), 2);
}

#[tokio::test]
async fn a_connection_the_peer_closed_is_replaced_before_sending() {
    let ehr = fake_ehr(Behaviour::AcceptThenClose, None).await;
    let conn = MllpConnection::new(config(ehr.port)).unwrap();
    assert!(conn.send(&message("M-1")).await.unwrap().is_delivered());
    // Let the runtime see the peer's FIN (an EHR closing an idle session long before the next
    // message is the real-life case).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(conn.send(&message("M-2")).await.unwrap().is_delivered());
    assert_eq!(ehr.connections(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    let port = closed_port();
    assert_eq!(
        send(port, "M-1").await,
        AttemptOutcome::NotSent {
            reason: NotSentReason::Connect(std::io::ErrorKind::ConnectionRefused)
        }
    );
}

#[tokio::test]
async fn a_message_without_control_id_is_refused_before_sending() {
    let conn = MllpConnection::new(MllpConfig::new("127.0.0.1", 9)).unwrap();
    assert_eq!(
        conn.send(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5\r")
            .await
            .unwrap_err(),
        MessageError::MissingControlId
    );
    assert!(matches!(
        conn.send(b"not hl7").await.unwrap_err(),
        MessageError::Unparsable(_)
    ));
}

#[tokio::test]
async fn concurrent_sends_share_the_connection_in_turn() {
    let ehr = fake_ehr(Behaviour::Accept, None).await;
    let conn = std::sync::Arc::new(MllpConnection::new(config(ehr.port)).unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let conn = std::sync::Arc::clone(&conn);
            tokio::spawn(async move { conn.send(&message(&format!("M-{i}"))).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_delivered());
    }
    assert_eq!(ehr.connections(), 1);
    assert_eq!(ehr.frames(), 8);
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let (ca_pem, acceptor) = self_signed();
    let ehr = fake_ehr(Behaviour::Accept, Some(acceptor)).await;
    let tls = TlsConfig {
        server_name: "localhost".to_owned(),
        ca_pem: Some(ca_pem.clone().into_bytes()),
    };
    let conn = MllpConnection::new(config(ehr.port).with_tls(tls)).unwrap();
    for id in ["T-1", "T-2"] {
        assert_eq!(
            conn.send(&message(id)).await.unwrap(),
            AttemptOutcome::Delivered {
                ack_code: AckCode::ApplicationAccept
            }
        );
    }
    assert_eq!(ehr.connections(), 1);

    // The wrong name, or Mozilla's roots, do not trust it: nothing is sent.
    for tls in [
        TlsConfig {
            server_name: "ehr.example.org".to_owned(),
            ca_pem: Some(ca_pem.into_bytes()),
        },
        TlsConfig {
            server_name: "localhost".to_owned(),
            ca_pem: None,
        },
    ] {
        let conn = MllpConnection::new(config(ehr.port).with_tls(tls)).unwrap();
        assert_eq!(
            conn.send(&message("T-3")).await.unwrap(),
            AttemptOutcome::NotSent {
                reason: NotSentReason::Tls
            }
        );
    }
    assert_eq!(ehr.frames(), 2);
}

#[tokio::test]
async fn tls_settings_are_checked_up_front() {
    let bad_pem = TlsConfig {
        server_name: "localhost".to_owned(),
        ca_pem: Some(b"not a pem".to_vec()),
    };
    assert_eq!(
        MllpConnection::new(MllpConfig::new("127.0.0.1", 1).with_tls(bad_pem)).unwrap_err(),
        connector_transport::DestinationConfigError::InvalidCaPem
    );
    let bad_name = TlsConfig {
        server_name: "not a name!".to_owned(),
        ca_pem: None,
    };
    assert_eq!(
        MllpConnection::new(MllpConfig::new("127.0.0.1", 1).with_tls(bad_name)).unwrap_err(),
        connector_transport::DestinationConfigError::InvalidServerName
    );
    assert!(!format!("{:?}", MllpConfig::new("h", 1)).is_empty());
}
