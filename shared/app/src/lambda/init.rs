//! A Lambda function that cannot start (a missing `AUDIT_TABLE`, an unknown `CONNECTOR_STORE`)
//! reports why through the Runtime API's `/init/error` call, so the deployer sees the cause in
//! the console and in `Runtime.InitError` metrics instead of a bare `Runtime.ExitError`.
//!
//! The runtime crate reports init errors itself only for SnapStart hooks; its Runtime API client
//! ([`lambda_runtime_api_client`]) sends this one. Outside Lambda (`AWS_LAMBDA_RUNTIME_API`
//! unset) nothing is sent and the error is only returned.

use std::error::Error;
use std::future::Future;

use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{Client, build_request};
use serde_json::json;

use crate::telemetry::error_chain;
use crate::{Config, Context};

/// The `errorType` (and `Lambda-Runtime-Function-Error-Type`) of a configuration that stops a
/// function from starting.
pub const INIT_ERROR_TYPE: &str = "Connector.ConfigurationError";

/// The error a function's initialisation returns.
pub type InitError = Box<dyn Error + Send + Sync>;

/// Runs a function's initialisation; when it fails, logs the cause, reports it to Lambda's
/// `/init/error` and returns the error (the function then exits).
///
/// # Errors
/// The initialisation's error, unchanged.
pub async fn init_or_report<T>(
    init: impl Future<Output = Result<T, InitError>>,
) -> Result<T, InitError> {
    match init.await {
        Ok(value) => Ok(value),
        Err(err) => {
            let message = error_chain(err.as_ref());
            tracing::error!(error.chain = %message, "the function cannot start");
            if let Err(report) = report_init_error(&message).await {
                tracing::error!(error.chain = %error_chain(report.as_ref()), "could not report the init error to Lambda");
            }
            Err(err)
        }
    }
}

/// Posts `message` to `/2018-06-01/runtime/init/error` of `AWS_LAMBDA_RUNTIME_API`, if set.
async fn report_init_error(message: &str) -> Result<(), InitError> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Ok(());
    }
    let client = Client::builder().build()?;
    let body = json!({ "errorType": INIT_ERROR_TYPE, "errorMessage": message }).to_string();
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", INIT_ERROR_TYPE)
        .header("content-type", "application/json")
        .body(Body::from(body))?;
    let response = client.call(request).await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the Runtime API answered {}", response.status()).into())
    }
}

/// Starts a function: JSON logs to stdout ([`crate::telemetry::init`]), then its [`Context`]
/// ([`context_or_report`]).
///
/// # Errors
/// The configuration or wiring error, after it was reported.
pub async fn start() -> Result<Context, InitError> {
    crate::telemetry::init(std::io::stdout);
    context_or_report().await
}

/// The function's [`Context`] from its environment ([`Config::from_env`]), or the reported
/// init error.
///
/// # Errors
/// The configuration or wiring error, after it was reported.
pub async fn context_or_report() -> Result<Context, InitError> {
    init_or_report(async {
        let config = Config::from_env()?;
        Ok(Context::from_config(&config).await?)
    })
    .await
}
