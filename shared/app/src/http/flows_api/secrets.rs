//! The embedded deployment's `local:` secrets over the admin API (administrators only):
//! `PUT /secrets/{name}` stores or replaces one (`{"value": "..."}`, 204, write-only: no route
//! ever returns a value) and `GET /secrets` lists names, references and when each was set.
//! Each set is audited (`configuration_changes`, `secret.set`, with the name only).
//!
//! On AWS both answer 501 `/problems/secrets-in-secrets-manager`: there the connector's secrets
//! belong in AWS Secrets Manager (encrypted with KMS, access controlled and audited by IAM and
//! CloudTrail, rotatable), referenced as `secretsmanager:ARN`; a write-only copy in DynamoDB
//! would be a weaker second store, and granting the API `secretsmanager:PutSecretValue` would
//! let an API credential rewrite any secret under the connector's prefix.
//!
//! Nothing here logs or answers a value.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use connector_domain::ports::LocalSecretStore;
use serde::{Deserialize, Serialize};

use crate::Context;
use crate::flows::secrets::{self, SecretItem, SetSecretError};
use crate::http::JsonBody;
use crate::http::call::AdminCall;
use crate::http::problem::Problem;

/// `PUT /secrets/{name}`'s body.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretBody {
    value: Option<String>,
}

/// `GET /secrets`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct SecretList {
    items: Vec<SecretItem>,
}

/// The 501 of a deployment without a local secret store (AWS).
pub fn not_on_this_deployment() -> Problem {
    Problem::new(
        StatusCode::NOT_IMPLEMENTED,
        "secrets-in-secrets-manager",
        "Secrets live in AWS Secrets Manager",
        "this deployment keeps no secrets of its own: create the secret in AWS Secrets Manager \
         under the connector's prefix and reference it as secretsmanager:ARN",
    )
}

fn store(ctx: &Context) -> Result<&dyn LocalSecretStore, Problem> {
    ctx.local_secrets
        .as_deref()
        .ok_or_else(not_on_this_deployment)
}

/// `PUT /secrets/{name}`: stores or replaces the secret behind `local:{name}` (204).
pub(crate) async fn put(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<SecretBody>,
) -> Result<StatusCode, Problem> {
    let store = store(&ctx)?;
    let name = secrets::set(store, actor, &name, body.value, ctx.clock.now())
        .await
        .map_err(|err| match err {
            SetSecretError::Invalid(errors) => Problem::validation(errors),
            SetSecretError::Store(err) => err.into(),
        })?;
    tracing::info!(secret = %name, "local secret set");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /secrets`: every local secret's name, reference and time, by name.
pub(crate) async fn list(AdminCall { ctx, .. }: AdminCall) -> Result<Json<SecretList>, Problem> {
    let items = secrets::list(store(&ctx)?).await?;
    Ok(Json(SecretList { items }))
}
