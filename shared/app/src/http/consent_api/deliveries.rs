//! CRM -> EHR deliveries for administrators: list them (by state), read one, redrive a parked
//! one. Responses never include the HL7 text (PHI); they show ids, states and outcomes.

use axum::Json;
use axum::extract::{Path, RawQuery};
use connector_domain::StoreError;
use connector_domain::ValidationErrors;
use connector_domain::delivery::{Delivery, DeliveryId, DeliveryState};
use serde_json::{Value, json};

use super::query::QueryParams;
use crate::crm_to_ehr::delivery::{RedriveError, redrive as redrive_delivery};
use crate::http::call::AdminCall;
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
    AdminCall { ctx, .. }: AdminCall,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let params = QueryParams::parse(query.as_deref(), &["state", "limit"])?;
    let mut errors = ValidationErrors::default();
    let state = params.choice(
        "state",
        DeliveryState::parse,
        "must be queued, delivering, retrying, delivered, parked or held",
        &mut errors,
    );
    let limit = params.limit_or(100, MAX_LIMIT, "must be 1 to 500", &mut errors);
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
    AdminCall { ctx, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let id = delivery_path(id)?;
    let delivery = Problem::found(ctx.deliveries.get(&id).await?, "delivery")?;
    Ok(Json(view(&delivery)))
}

/// `POST /deliveries/{delivery_id}/redrive`: a parked delivery and the patient's deliveries held
/// behind it go back on the queue, in order. 409 when it is not parked.
pub(crate) async fn redrive(
    AdminCall { ctx, actor, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
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
