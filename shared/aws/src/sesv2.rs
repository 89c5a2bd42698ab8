//! The HIE mailer on SES v2: SendEmail with the whole MIME message as raw content.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use connector_domain::ports::{MailError, Mailer, OutgoingMail};

use crate::error_map;

/// Sends mail through SES v2.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer using `client`, tagging mail with `configuration_set` when given (for SES event
    /// publishing: bounces, deliveries).
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        Self {
            client,
            configuration_set,
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mail.raw.clone()))
            .build()
            .map_err(|e| MailError::Permanent(Box::new(e)))?;
        let destination = Destination::builder()
            .set_to_addresses(Some(
                mail.to.iter().map(|a| a.expose().to_owned()).collect(),
            ))
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(mail.from.expose())
            .destination(destination)
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(error_map::mail)?;
        Ok(out.message_id.unwrap_or_default())
    }
}
