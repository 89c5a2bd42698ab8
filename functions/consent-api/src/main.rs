//! The consent-api Lambda: builds the context once at INIT, then serves the consent API router
//! with callers identified by API Gateway's JWT authorizer claims.

use std::sync::Arc;

use connector_app::http::auth::{ApiGatewayJwt, authenticated};
use connector_app::lambda::init_or_report;
use connector_app::{Config, Context, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(std::io::stdout);
    let (ctx, auth) = init_or_report(async {
        let ctx = Arc::new(Context::from_config(&Config::from_env()?).await?);
        Ok((ctx, Arc::new(ApiGatewayJwt::from_env()?)))
    })
    .await?;
    lambda_http::run(authenticated(connector_app::http::router(ctx), auth)).await
}
