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

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, LogType, Outcome};
use connector_domain::flow::SecretRef;
use connector_domain::flow::SecretValue;
use connector_domain::flow::secret::LocalSecret;
use connector_domain::ports::LocalSecretStore;
use connector_domain::{ValidationError, ValidationErrors};
use serde::{Deserialize, Serialize};

use crate::Context;
use crate::http::JsonBody;
use crate::http::auth::Caller;
use crate::http::problem::Problem;

/// `PUT /secrets/{name}`'s body.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretBody {
    value: Option<String>,
}

/// One listed secret: never its value.
#[derive(Debug, Serialize)]
pub(crate) struct SecretItem {
    name: String,
    reference: SecretRef,
    updated_at: DateTime<Utc>,
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
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<SecretBody>,
) -> Result<StatusCode, Problem> {
    let actor = caller.require_admin()?;
    let store = store(&ctx)?;
    let mut errors = ValidationErrors::default();
    let name = errors.check(
        LocalSecret::parse_name(&name).map_err(|e| ValidationError::new("name", e.to_string())),
    );
    let value = match body.value {
        Some(value) if !value.is_empty() => Some(SecretValue::new(value.into_bytes())),
        Some(_) => {
            errors.push(ValidationError::new("value", "must not be empty"));
            None
        }
        None => {
            errors.push(ValidationError::new("value", "is required"));
            None
        }
    };
    let (Some(name), Some(value)) = (name, value) else {
        return Err(Problem::validation(errors));
    };
    let now = ctx.clock.now();
    let entry = AuditEntry::new(
        LogType::ConfigurationChanges,
        now,
        actor.clone(),
        "secret.set",
        Outcome::Success,
    )
    .with_detail(serde_json::json!({ "name": name, "reference": format!("local:{name}") }));
    store.set(&name, &value, now, &entry).await?;
    tracing::info!(secret = %name, "local secret set");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /secrets`: every local secret's name, reference and time, by name.
pub(crate) async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
) -> Result<Json<SecretList>, Problem> {
    caller.require_admin()?;
    let items = store(&ctx)?
        .list()
        .await?
        .into_iter()
        .map(|s| SecretItem {
            reference: s.reference(),
            name: s.name,
            updated_at: s.updated_at,
        })
        .collect();
    Ok(Json(SecretList { items }))
}
