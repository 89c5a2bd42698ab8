//! `connector_aws::https_client` (rustls on ring) over a real TLS connection: an `https://`
//! endpoint gets a TLS handshake, and a certificate no system root signed is refused before any
//! request is sent. (DynamoDB Local and moto, over plain `http://`, are every other test here.)

use std::sync::Arc;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

/// A TLS acceptor serving a self-signed certificate for `localhost`.
fn self_signed() -> TlsAcceptor {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

#[tokio::test]
async fn an_https_endpoint_with_an_untrusted_certificate_is_refused_in_the_handshake() {
    let acceptor = self_signed();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        acceptor.accept(stream).await.map(drop)
    });
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(connector_aws::https_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(format!("https://localhost:{port}"))
        .retry_config(RetryConfig::disabled())
        .build();

    let error = aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await
        .unwrap_err();

    let client_side = DisplayErrorContext(&error).to_string();
    assert!(client_side.contains("certificate"), "{client_side}");
    let server_side = server.await.unwrap().unwrap_err().to_string();
    assert!(
        server_side.contains("UnknownCA") || server_side.contains("BadCertificate"),
        "{server_side}"
    );
}
