//! The crm-outbound Lambda: builds the context once at INIT, then serves
//! `POST`/`HEAD /crm/webhooks/{channel_id}`. A webhook is authenticated by its channel's token
//! header (not by API Gateway's JWT authorizer), recorded with the HL7 messages its flows build,
//! and queued for the ehr-delivery function on the FIFO delivery queue.

use std::sync::Arc;

use connector_app::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Arc::new(lambda::start().await?);
    lambda_http::run(connector_app::http::crm_outbound::router(ctx)).await
}
