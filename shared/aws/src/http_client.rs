//! The HTTP client every AWS SDK client sends with, and the SDK configuration loader that hands
//! it to them.
//!
//! The SDK's own default (`default-https-client`) is hyper 1 + rustls with aws-lc-rs as the
//! crypto library; aws-lc is a large C library and the biggest part of a Lambda function's binary
//! that no code of ours calls. This is the same client on rustls's ring provider: same hyper
//! connector and pool, same connector settings (timeouts) and sleep from the SDK's runtime
//! components, same proxy settings from the environment (`HTTPS_PROXY`, `NO_PROXY`, ..., as the
//! SDK's default reads them for `BehaviorVersion::latest()`), same certificate verification
//! (the platform's native root certificates, hostname checked) and the same cipher suites (the
//! SDK's restricted list). The one difference: ring has no post-quantum key exchange
//! (X25519MLKEM768), so TLS 1.3 handshakes use X25519.
//!
//! `aws-smithy-http-client` is pinned to one version in the workspace manifest: the builder call
//! below (`build_with_connector_fn`) is how aws-smithy-runtime builds its default client.

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client (plain `http://` endpoints such as DynamoDB Local work too) for every SDK
/// client: rustls on ring, native roots, proxy from the environment.
pub fn https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = Connector::builder().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The SDK's standard configuration loader (environment, profile, instance/Lambda role; endpoints
/// from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`) with [`https_client`] as the HTTP
/// client of every client it configures, its credential providers included. Tests start from
/// this loader too, so they send through the production client.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}
