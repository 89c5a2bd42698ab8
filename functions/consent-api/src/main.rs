//! The consent-api Lambda: builds the context once at INIT, then serves the consent API router
//! with callers identified by API Gateway's JWT authorizer claims.

use std::sync::Arc;

use connector_app::http::auth::{ApiGatewayJwt, authenticated};
use connector_app::{Config, Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(std::io::stdout);
    let config = Config::from_env()?;
    let ctx = Arc::new(Context::from_config(&config).await?);
    let auth = Arc::new(ApiGatewayJwt::from_env()?);
    lambda_http::run(authenticated(connector_app::http::router(ctx), auth)).await
}
