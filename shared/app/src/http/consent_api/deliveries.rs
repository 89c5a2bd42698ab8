//! CRM -> EHR deliveries for administrators: list them (by state), read one, redrive a parked
//! one. Responses never include the HL7 text (PHI); they show ids, states and outcomes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use connector_domain::StoreError;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState};
use connector_domain::{ValidationError, ValidationErrors};
use serde_json::{Value, json};

use super::query::QueryParams;
use crate::Context;
use crate::crm_to_ehr::delivery::{RedriveError, redrive as redrive_delivery};
use crate::http::auth::Caller;
use crate::http::problem::Problem;

/// The most deliveries one list returns.
const MAX_LIMIT: usize = 500;

fn view(d: &Delivery) -> Value {
    json!({
        "delivery_id": d.delivery_id,
        "channel_id": d.channel_id,
        "flow_id": d.flow_id,
        "group": d.group,
        "control_id": d.control_id,
        "event": d.event,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "last_outcome": d.last_outcome,
        "next_attempt_at": d.next_attempt_at,
        "held_behind": d.held_behind,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    })
}

fn delivery_path(id: String) -> Result<DeliveryId, Problem> {
    DeliveryId::parse(id).map_err(|_| Problem::not_found_resource("delivery"))
}

/// `GET /deliveries?state=&limit=`: newest first.
pub(crate) async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let params = QueryParams::parse(query.as_deref(), &["state", "limit"])?;
    let mut errors = ValidationErrors::default();
    let state = match params.get("state") {
        None => None,
        Some(text) => {
            let parsed = DeliveryState::parse(text);
            if parsed.is_none() {
                errors.push(ValidationError::new(
                    "state",
                    "must be queued, delivering, retrying, delivered, parked or held",
                ));
            }
            parsed
        }
    };
    let limit = match params.get("limit") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                errors.push(ValidationError::new("limit", "must be 1 to 500"));
                100
            }
        },
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let deliveries = ctx.deliveries.list(state, limit).await?;
    Ok(Json(json!({
        "deliveries": deliveries.iter().map(view).collect::<Vec<_>>(),
    })))
}

/// `GET /deliveries/{delivery_id}`.
pub(crate) async fn get(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let id = delivery_path(id)?;
    let delivery = ctx
        .deliveries
        .get(&id)
        .await?
        .ok_or_else(|| Problem::not_found_resource("delivery"))?;
    Ok(Json(view(&delivery)))
}

/// `POST /deliveries/{delivery_id}/redrive`: a parked delivery and the patient's deliveries held
/// behind it go back on the queue, in order. 409 when it is not parked.
pub(crate) async fn redrive(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let actor = caller.require_admin()?.clone();
    let id = delivery_path(id)?;
    match redrive_delivery(&ctx, &id, &actor).await {
        Ok(ids) => {
            tracing::info!(delivery_id = %id, requeued = ids.len(), "delivery redriven");
            Ok(Json(json!({ "redriven": ids })))
        }
        Err(RedriveError::Store(StoreError::NotFound)) => {
            Err(Problem::not_found_resource("delivery"))
        }
        Err(RedriveError::Store(StoreError::Conflict(_))) => {
            Err(Problem::conflict("only a parked delivery can be redriven"))
        }
        Err(RedriveError::Store(e)) => Err(e.into()),
        Err(RedriveError::Queue(e)) => Err(Problem::unavailable(&e)),
    }
}
