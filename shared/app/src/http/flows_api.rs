//! Flows and channels administration on the consent API (administrators only): CRUD of
//! channels and flows ([`admin`] does the validation and auditing), the fields of a template
//! for the mapping screen, and flow tests that show what a flow would do without doing it
//! ([`preview`]).
//!
//! Channels are answered as [`ChannelView`]s: secret references are shown (they are not
//! secrets), the webhook token's hash is not; `GET /channels/{channel_id}` adds whether each
//! reference resolves. `PUT` on an id that does not exist yet creates the channel or flow
//! (201 with `Location`), as `connector flows apply` does. The embedded deployment's `local:`
//! secrets are written (never read) through [`secrets`]. Nothing here logs a template, a
//! message, a payload, a mapped value or a secret.

pub mod secrets;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use connector_domain::flow::{
    Channel, ChannelId, ChannelInput, ChannelView, Flow, FlowId, FlowInput, SecretRef,
};
use connector_domain::ports::SecretStatus;
use connector_domain::{ValidationError, ValidationErrors};
use serde::{Deserialize, Serialize};

use crate::Context;
use crate::flows::admin::{self, AdminError, AdminPorts};
use crate::flows::preview::{self, FlowPreview, PreviewError, TemplateFields, TestInput};
use crate::http::JsonBody;
use crate::http::call::AdminCall;
use crate::http::problem::Problem;

/// The flows admin routes, with the context as state (merged into the consent API's router).
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/channels", get(list_channels).post(create_channel))
        .route(
            "/channels/{channel_id}",
            get(get_channel).put(replace_channel).delete(delete_channel),
        )
        .route("/flows", get(list_flows).post(create_flow))
        .route("/flows/template-fields", post(template_fields))
        .route("/flows/test", post(test_unsaved_flow))
        .route(
            "/flows/{flow_id}",
            get(get_flow).put(replace_flow).delete(delete_flow),
        )
        .route("/flows/{flow_id}/test", post(test_flow))
        .route("/secrets", get(secrets::list))
        .route("/secrets/{name}", axum::routing::put(secrets::put))
        .with_state(ctx)
}

fn ports(ctx: &Context) -> AdminPorts<'_> {
    AdminPorts {
        flows: ctx.flows.as_ref(),
        secrets: ctx.secrets.as_ref(),
        clock: ctx.clock.as_ref(),
    }
}

impl From<AdminError> for Problem {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Invalid(errors) => Problem::validation(errors),
            AdminError::NotFound(what) => Problem::not_found_resource(what),
            AdminError::Exists(what) => Problem::conflict(format!("a {what} with this id exists")),
            AdminError::InUse { flows } => Problem::conflict(format!(
                "the channel is used by {flows} flow(s): delete them or move them to another channel first"
            )),
            AdminError::Store(err) => err.into(),
        }
    }
}

/// A list answer.
#[derive(Debug, Serialize)]
struct Items<T> {
    items: Vec<T>,
}

fn channel_path(id: String) -> Result<ChannelId, Problem> {
    ChannelId::parse(id).map_err(|_| Problem::not_found_resource("channel"))
}

fn flow_path(id: String) -> Result<FlowId, Problem> {
    FlowId::parse(id).map_err(|_| Problem::not_found_resource("flow"))
}

/// The stored channel of the path's id (404 for a bad id or none).
async fn saved_channel(ctx: &Context, id: String) -> Result<Channel, Problem> {
    Problem::found(ctx.flows.get_channel(&channel_path(id)?).await?, "channel")
}

/// The stored flow of the path's id (404 for a bad id or none).
async fn saved_flow(ctx: &Context, id: String) -> Result<Flow, Problem> {
    Problem::found(ctx.flows.get_flow(&flow_path(id)?).await?, "flow")
}

/// 201 with a `Location` header.
fn created<T: Serialize>(location: String, body: T) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// A `PUT`'s answer: 201 with `Location` when `change` created the record, else 200; `body`
/// either way.
fn put_reply<T: Serialize>(change: &admin::Change, location: String, body: T) -> Response {
    if *change == admin::Change::Created {
        created(location, body)
    } else {
        Json(body).into_response()
    }
}

/// `GET /channels`: every channel, by id.
async fn list_channels(
    AdminCall { ctx, .. }: AdminCall,
) -> Result<Json<Items<ChannelView>>, Problem> {
    let channels = ctx.flows.list_channels().await?;
    Ok(Json(Items {
        items: channels.iter().map(|c| c.view()).collect(),
    }))
}

/// `POST /channels`: a new channel with a generated id (201).
async fn create_channel(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    JsonBody(input): JsonBody<ChannelInput>,
) -> Result<Response, Problem> {
    let channel = admin::create_channel(ports(&ctx), actor, ChannelId::generate(), input).await?;
    tracing::info!(channel_id = %channel.channel_id, "channel created");
    Ok(created(
        format!("/channels/{}", channel.channel_id),
        channel.view(),
    ))
}

/// One secret reference of a channel and whether it resolves (see
/// [`connector_domain::ports::SecretStore::status`]).
#[derive(Debug, Serialize)]
struct SecretReferenceView {
    /// The input field holding it (`inbound.secret`, `outbound.headers[0].secret`, ...).
    field: String,
    /// The reference (not the secret).
    reference: SecretRef,
    /// `resolved`, `unresolvable` or `unknown`.
    status: SecretStatus,
}

/// A channel with the state of its secret references.
#[derive(Debug, Serialize)]
struct ChannelDetail {
    #[serde(flatten)]
    channel: ChannelView,
    secrets: Vec<SecretReferenceView>,
}

/// `GET /channels/{channel_id}`: the channel, and whether each of its secret references
/// resolves (a secret deleted after the channel was saved shows as `unresolvable`).
async fn get_channel(
    AdminCall { ctx, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<Json<ChannelDetail>, Problem> {
    let channel = saved_channel(&ctx, id).await?;
    let secrets = admin::secret_statuses(ctx.secrets.as_ref(), &channel)
        .await
        .into_iter()
        .map(|(field, reference, status)| SecretReferenceView {
            field,
            reference,
            status,
        })
        .collect();
    Ok(Json(ChannelDetail {
        channel: channel.view(),
        secrets,
    }))
}

/// `PUT /channels/{channel_id}`: replaces the channel (200), or creates it under this id when
/// there is none (201 with `Location`).
async fn replace_channel(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ChannelInput>,
) -> Result<Response, Problem> {
    let id = admin::channel_id(&id).map_err(Problem::validation)?;
    let (channel, change) = admin::put_channel(ports(&ctx), actor, &id, input).await?;
    tracing::info!(channel_id = %id, change = change_name(&change), "channel put");
    Ok(put_reply(
        &change,
        format!("/channels/{id}"),
        channel.view(),
    ))
}

fn change_name(change: &admin::Change) -> &'static str {
    match change {
        admin::Change::Created => "created",
        admin::Change::Updated { .. } => "updated",
        admin::Change::Unchanged => "unchanged",
    }
}

/// `DELETE /channels/{channel_id}` (204; 409 while flows use it).
async fn delete_channel(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = channel_path(id)?;
    admin::delete_channel(ports(&ctx), actor, &id).await?;
    tracing::info!(channel_id = %id, "channel deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /flows[?channel_id=]`: every flow (of one channel), by id.
async fn list_flows(
    AdminCall { ctx, .. }: AdminCall,
    RawQuery(query): RawQuery,
) -> Result<Json<Items<Flow>>, Problem> {
    let mut channel = None;
    let mut errors = ValidationErrors::default();
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "channel_id" if channel.is_some() => {
                errors.push(ValidationError::new(
                    "channel_id",
                    "is given more than once",
                ));
            }
            "channel_id" => match ChannelId::parse(value.into_owned()) {
                Ok(id) => channel = Some(id),
                Err(err) => errors.push(err),
            },
            other => errors.push(ValidationError::new(
                other,
                "is not a parameter; use channel_id",
            )),
        }
    }
    errors.finish(|| ()).map_err(Problem::validation)?;
    let flows = ctx.flows.list_flows(channel.as_ref()).await?;
    Ok(Json(Items { items: flows }))
}

/// `POST /flows`: a new flow with a generated id (201), validated against its channel.
async fn create_flow(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    JsonBody(input): JsonBody<FlowInput>,
) -> Result<Response, Problem> {
    let flow = admin::create_flow(ports(&ctx), actor, FlowId::generate(), input).await?;
    tracing::info!(flow_id = %flow.flow_id, channel_id = %flow.channel_id, "flow created");
    Ok(created(format!("/flows/{}", flow.flow_id), flow))
}

/// `GET /flows/{flow_id}`.
async fn get_flow(
    AdminCall { ctx, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<Json<Flow>, Problem> {
    let flow = saved_flow(&ctx, id).await?;
    Ok(Json(flow))
}

/// `PUT /flows/{flow_id}`: replaces the flow (200), or creates it under this id when there is
/// none (201 with `Location`; the ids `test` and `template-fields` are reserved).
async fn replace_flow(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<FlowInput>,
) -> Result<Response, Problem> {
    let id = admin::flow_id(&id).map_err(Problem::validation)?;
    let (flow, change) = admin::put_flow(ports(&ctx), actor, &id, input).await?;
    tracing::info!(flow_id = %id, change = change_name(&change), "flow put");
    Ok(put_reply(&change, format!("/flows/{id}"), flow))
}

/// `DELETE /flows/{flow_id}` (204).
async fn delete_flow(
    AdminCall { ctx, ref actor, .. }: AdminCall,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = flow_path(id)?;
    admin::delete_flow(ports(&ctx), actor, &id).await?;
    tracing::info!(flow_id = %id, "flow deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /flows/template-fields`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    template: Option<String>,
}

/// `POST /flows/template-fields`: every populated leaf of a template with its value and its
/// dictionary name (the mapping screen's hover text). Writes nothing.
async fn template_fields(
    _: AdminCall,
    JsonBody(body): JsonBody<TemplateBody>,
) -> Result<Json<TemplateFields>, Problem> {
    let template = body.template.unwrap_or_default();
    Ok(Json(
        preview::template_fields(&template).map_err(Problem::validation)?,
    ))
}

/// `POST /flows/{flow_id}/test`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    message: Option<String>,
    payload: Option<serde_json::Value>,
}

/// `POST /flows/test`'s body: an unsaved flow and what to test it with.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsavedTestBody {
    flow: Option<FlowInput>,
    message: Option<String>,
    payload: Option<serde_json::Value>,
}

/// A failed preview: 422, of kind `/problems/mapping` when the flow does not map the input.
fn preview_problem(err: PreviewError) -> Problem {
    match err {
        PreviewError::Input(errors) => Problem::validation(errors),
        PreviewError::Mapping(errors) => Problem {
            kind: "/problems/mapping".to_owned(),
            title: "The flow does not map the input".to_owned(),
            ..Problem::validation(errors)
        },
    }
}

fn run_preview(ctx: &Context, flow: &Flow, input: &TestInput) -> Result<FlowPreview, Problem> {
    let result = preview::preview(flow, input, ctx.clock.now());
    tracing::info!(flow_id = %flow.flow_id, direction = flow.direction.as_str(),
        mapped = result.is_ok(), "flow tested");
    result.map_err(preview_problem)
}

/// `POST /flows/{flow_id}/test`: what the saved flow would do with a message (EHR -> CRM:
/// the CRM operations) or a webhook payload (CRM -> EHR: the HL7 message). Calls no CRM,
/// sends nothing, writes nothing.
async fn test_flow(
    AdminCall { ctx, .. }: AdminCall,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TestBody>,
) -> Result<Json<FlowPreview>, Problem> {
    let flow = saved_flow(&ctx, id).await?;
    let input = TestInput {
        message: body.message,
        payload: body.payload,
    };
    Ok(Json(run_preview(&ctx, &flow, &input)?))
}

/// `POST /flows/test`: the same for a flow that is not saved (`flow` is a flow input, validated
/// as on creation; its channel is not looked up).
async fn test_unsaved_flow(
    AdminCall { ctx, .. }: AdminCall,
    JsonBody(body): JsonBody<UnsavedTestBody>,
) -> Result<Json<FlowPreview>, Problem> {
    let Some(input) = body.flow else {
        return Err(Problem::validation(
            ValidationError::new("flow", "is required").into(),
        ));
    };
    let id = FlowId::parse("unsaved").unwrap_or_else(|_| FlowId::generate());
    let flow = input.into_flow(id, ctx.clock.now()).map_err(|errors| {
        Problem::validation(ValidationErrors(
            errors.0.into_iter().map(|e| e.within("flow")).collect(),
        ))
    })?;
    let input = TestInput {
        message: body.message,
        payload: body.payload,
    };
    Ok(Json(run_preview(&ctx, &flow, &input)?))
}
