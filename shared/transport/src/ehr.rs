//! [`ChannelTransport`]: the domain's `EhrTransport` port over this crate's MLLP and HTTPS
//! clients, configured from each channel's outbound settings.
//!
//! MLLP connections are kept per channel and reused (EHRs expect long-lived sessions); a
//! channel whose settings changed gets a new connection. Secrets the settings reference (a TLS
//! CA bundle, HTTPS header values) are resolved through the `SecretStore` port at connection
//! set-up, never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_domain::flow::{Channel, HeaderValue, OutboundDelivery};
use connector_domain::inbound::ControlId;
use connector_domain::ports::{EhrSendOutcome, EhrTransport, SecretStore};
use connector_hl7::AckCode;
use tokio::sync::Mutex;

use crate::https::{HttpsClient, HttpsConfig};
use crate::mllp::client::{MllpConfig, MllpConnection};
use crate::outcome::AttemptOutcome;
use crate::tls::TlsConfig;

/// One channel's ready client, with the settings it was built from.
enum Client {
    Mllp(Arc<MllpConnection>),
    Https(Arc<HttpsClient>),
}

struct Cached {
    settings: OutboundDelivery,
    client: Client,
}

/// Sends on channels' outbound settings (see the [module documentation](self)).
pub struct ChannelTransport {
    secrets: Arc<dyn SecretStore>,
    clients: Mutex<HashMap<String, Arc<Cached>>>,
}

impl ChannelTransport {
    /// A transport resolving secrets through `secrets`.
    pub fn new(secrets: Arc<dyn SecretStore>) -> Self {
        Self {
            secrets,
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, channel: &Channel, outbound: &OutboundDelivery) -> Option<Arc<Cached>> {
        let key = channel.channel_id.to_string();
        let mut clients = self.clients.lock().await;
        if let Some(cached) = clients.get(&key)
            && &cached.settings == outbound
        {
            return Some(Arc::clone(cached));
        }
        let client = match self.build(outbound).await {
            Ok(client) => client,
            Err(reason) => {
                tracing::error!(channel_id = %channel.channel_id, reason, "cannot set up the channel's outbound client");
                return None;
            }
        };
        let cached = Arc::new(Cached {
            settings: outbound.clone(),
            client,
        });
        clients.insert(key, Arc::clone(&cached));
        Some(cached)
    }

    async fn build(&self, outbound: &OutboundDelivery) -> Result<Client, &'static str> {
        match outbound {
            OutboundDelivery::Mllp(mllp) => {
                let mut config = MllpConfig::new(mllp.host.clone(), mllp.port).with_timeouts(
                    Duration::from_millis(u64::from(mllp.connect_timeout_ms)),
                    Duration::from_millis(u64::from(mllp.ack_timeout_ms)),
                );
                if let Some(tls) = &mllp.tls {
                    let ca_pem = match &tls.ca_pem_ref {
                        Some(reference) => Some(
                            self.secrets
                                .resolve(reference)
                                .await
                                .map_err(|_| "the TLS CA bundle secret cannot be read")?
                                .expose()
                                .to_vec(),
                        ),
                        None => None,
                    };
                    config = config.with_tls(TlsConfig {
                        server_name: tls.server_name.clone(),
                        ca_pem,
                    });
                }
                MllpConnection::new(config)
                    .map(|c| Client::Mllp(Arc::new(c)))
                    .map_err(|_| "invalid MLLP settings")
            }
            OutboundDelivery::Https(https) => {
                let mut headers = Vec::with_capacity(https.headers.len());
                for header in &https.headers {
                    let value = match &header.value {
                        HeaderValue::Value(v) => v.clone(),
                        HeaderValue::Secret(reference) => {
                            let secret = self
                                .secrets
                                .resolve(reference)
                                .await
                                .map_err(|_| "an HTTPS header secret cannot be read")?;
                            String::from_utf8(secret.expose().to_vec())
                                .map_err(|_| "an HTTPS header secret is not UTF-8")?
                        }
                    };
                    headers.push((header.name.clone(), value));
                }
                let config = HttpsConfig {
                    url: https.url.clone(),
                    headers,
                    timeout: Duration::from_millis(u64::from(https.timeout_ms)),
                };
                HttpsClient::new(config)
                    .map(|c| Client::Https(Arc::new(c)))
                    .map_err(|_| "invalid HTTPS settings")
            }
        }
    }
}

fn classify(outcome: AttemptOutcome) -> EhrSendOutcome {
    match outcome {
        AttemptOutcome::Delivered { ack_code } => EhrSendOutcome::Delivered {
            ack_code: ack_code.as_str().to_owned(),
        },
        AttemptOutcome::Rejected { ack_code, .. } => EhrSendOutcome::Rejected {
            // An HTTPS 4xx without an ACK is a rejection of the request as such: an AR.
            ack_code: ack_code
                .unwrap_or(AckCode::ApplicationReject)
                .as_str()
                .to_owned(),
            error_code: None,
        },
        AttemptOutcome::WrongAck { .. } => EhrSendOutcome::WrongAck,
        AttemptOutcome::Unknown { .. } => EhrSendOutcome::NoAck,
        AttemptOutcome::NotSent { .. } => EhrSendOutcome::NotSent,
    }
}

#[async_trait]
impl EhrTransport for ChannelTransport {
    async fn send(
        &self,
        channel: &Channel,
        control_id: &ControlId,
        message: &[u8],
    ) -> EhrSendOutcome {
        let Some(outbound) = &channel.outbound else {
            return EhrSendOutcome::NotSent;
        };
        let Some(cached) = self.client(channel, outbound).await else {
            return EhrSendOutcome::NotSent;
        };
        let result = match &cached.client {
            Client::Mllp(connection) => connection.send(message).await,
            Client::Https(client) => client.send(message).await,
        };
        match result {
            Ok(outcome) => classify(outcome),
            Err(_) => {
                tracing::error!(channel_id = %channel.channel_id, control_id = %control_id, "the message to deliver has no readable MSH-10");
                EhrSendOutcome::Rejected {
                    ack_code: "AR".into(),
                    error_code: None,
                }
            }
        }
    }
}
