//! TLS for MLLP connections: rustls with ring (the provider reqwest and the AWS SDK use here).
//!
//! The server's certificate is verified against the CA bundle given (an EHR with a private
//! CA), else against Mozilla's roots ([`webpki_roots`]), and must carry the configured name.

use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::DestinationConfigError;

/// TLS settings of an MLLP destination.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The name the server's certificate must carry (also sent as SNI). An IP address is
    /// accepted when the certificate names it.
    pub server_name: String,
    /// A CA bundle (PEM, one or more certificates) to trust instead of Mozilla's roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .field("ca_pem_bytes", &self.ca_pem.as_ref().map(Vec::len))
            .finish()
    }
}

/// A ready TLS connector and the name to verify.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) connector: TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Builds the connector once (parsing the CA bundle and the name).
    pub(crate) fn new(config: &TlsConfig) -> Result<Self, DestinationConfigError> {
        let server_name = ServerName::try_from(config.server_name.clone())
            .map_err(|_| DestinationConfigError::InvalidServerName)?;
        let mut roots = RootCertStore::empty();
        match &config.ca_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|_| DestinationConfigError::InvalidCaPem)?;
                    roots
                        .add(cert)
                        .map_err(|_| DestinationConfigError::InvalidCaCertificate)?;
                }
                if roots.is_empty() {
                    return Err(DestinationConfigError::InvalidCaPem);
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| DestinationConfigError::Tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(client)),
            server_name,
        })
    }
}
