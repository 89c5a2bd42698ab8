//! `HttpsClient` against a local axum endpoint.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use connector_hl7::{AckCode, ErrorCode};
use connector_transport::{
    AttemptOutcome, DestinationConfigError, HttpsClient, HttpsConfig, NotSentReason, UnknownReason,
    WrongAckReason,
};

use crate::helpers::{ack, closed_port, message, self_signed};

async fn endpoint() -> String {
    let app = Router::new()
        .route(
            "/aa",
            post(|headers: HeaderMap, body: Bytes| async move {
                let typed = headers.get("content-type").and_then(|v| v.to_str().ok())
                    == Some("x-application/hl7-v2+er7");
                let site = headers.get("x-site").and_then(|v| v.to_str().ok()) == Some("north");
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some("Bearer t0ken");
                if typed && site && auth {
                    (StatusCode::OK, ack(&body, AckCode::ApplicationAccept, None))
                } else {
                    (StatusCode::UNAUTHORIZED, b"no".to_vec())
                }
            }),
        )
        .route(
            "/ae",
            post(|body: Bytes| async move {
                (
                    StatusCode::OK,
                    ack(
                        &body,
                        AckCode::ApplicationError,
                        Some((ErrorCode::TableValueNotFound, "PV1-2")),
                    ),
                )
            }),
        )
        .route(
            "/ar-with-400",
            post(|body: Bytes| async move {
                (
                    StatusCode::BAD_REQUEST,
                    ack(&body, AckCode::ApplicationReject, None),
                )
            }),
        )
        .route(
            "/wrong-id",
            post(|| async { ack(&message("OTHER"), AckCode::ApplicationAccept, None) }),
        )
        .route("/text", post(|| async { "thanks" }))
        .route("/503", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/429", post(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route("/404", post(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

async fn post_to(url: String) -> AttemptOutcome {
    let config = HttpsConfig {
        url,
        headers: vec![
            ("X-Site".to_owned(), "north".to_owned()),
            ("Authorization".to_owned(), "Bearer t0ken".to_owned()),
        ],
        timeout: Duration::from_millis(500),
    };
    HttpsClient::new(config)
        .unwrap()
        .send(&message("H-1"))
        .await
        .unwrap()
}

#[tokio::test]
async fn outcomes_by_response() {
    let base = endpoint().await;
    let cases = [
        (
            "/aa",
            AttemptOutcome::Delivered {
                ack_code: AckCode::ApplicationAccept,
            },
        ),
        (
            "/ae",
            AttemptOutcome::Rejected {
                ack_code: Some(AckCode::ApplicationError),
                error: Some("103 Table value not found at PV1-2".to_owned()),
            },
        ),
        (
            "/ar-with-400",
            AttemptOutcome::Rejected {
                ack_code: Some(AckCode::ApplicationReject),
                error: None,
            },
        ),
        (
            "/wrong-id",
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::ControlIdMismatch,
            },
        ),
        (
            "/text",
            AttemptOutcome::WrongAck {
                reason: WrongAckReason::NotAnAck,
            },
        ),
        (
            "/503",
            AttemptOutcome::NotSent {
                reason: NotSentReason::HttpStatus(503),
            },
        ),
        (
            "/429",
            AttemptOutcome::NotSent {
                reason: NotSentReason::HttpStatus(429),
            },
        ),
        (
            "/404",
            AttemptOutcome::Rejected {
                ack_code: None,
                error: Some("HTTP 404".to_owned()),
            },
        ),
        (
            "/slow",
            AttemptOutcome::Unknown {
                reason: UnknownReason::AckTimeout,
            },
        ),
    ];
    for (path, want) in cases {
        assert_eq!(post_to(format!("{base}{path}")).await, want, "{path}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    let port = closed_port();
    assert_eq!(
        post_to(format!("http://127.0.0.1:{port}/hl7")).await,
        AttemptOutcome::NotSent {
            reason: NotSentReason::HttpConnect
        }
    );
}

/// The client speaks TLS (rustls on ring) and checks the certificate: an endpoint whose
/// certificate no trusted root signed gets a handshake the client aborts, and nothing is sent.
#[tokio::test]
async fn an_untrusted_certificate_is_refused_in_the_handshake() {
    let (_, acceptor) = self_signed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        acceptor.accept(stream).await.map(drop)
    });
    assert_eq!(
        post_to(format!("https://localhost:{port}/hl7")).await,
        AttemptOutcome::NotSent {
            reason: NotSentReason::HttpConnect
        }
    );
    let handshake = server.await.unwrap().unwrap_err();
    assert!(
        handshake.to_string().contains("UnknownCA")
            || handshake.to_string().contains("BadCertificate"),
        "{handshake}"
    );
}

#[test]
fn plain_http_only_to_loopback() {
    assert_eq!(
        HttpsClient::new(HttpsConfig::new("http://ehr.example.org/hl7")).unwrap_err(),
        DestinationConfigError::InsecureUrl
    );
    let mut config = HttpsConfig::new("https://ehr.example.org/hl7");
    config
        .headers
        .push(("Bad Header".to_owned(), "x".to_owned()));
    assert_eq!(
        HttpsClient::new(config).unwrap_err(),
        DestinationConfigError::InvalidHeader {
            name: "Bad Header".to_owned()
        }
    );
}
