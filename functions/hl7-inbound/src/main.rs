//! The hl7-inbound Lambda: builds the context once at INIT (DynamoDB stores, Secrets Manager or
//! environment secrets, the LeadSquared client), then serves `POST /hl7/{channel_id}`. Callers
//! are authenticated by the channel's HMAC signature, not by API Gateway's JWT authorizer.

use std::sync::Arc;

use connector_app::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Arc::new(lambda::start().await?);
    lambda_http::run(connector_app::http::hl7_inbound::router(ctx)).await
}
