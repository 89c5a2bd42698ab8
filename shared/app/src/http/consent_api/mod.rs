//! The consent API: patients, consents, HIE settings, the audit log, the patient portal's
//! own-consent routes, appointment intake, the HIE operators' routes, and (from
//! [`super::flows_api`]) flows and channels administration. JSON in snake_case; errors as problem+json.

mod appointments;
mod audit;
mod consents;
mod dashboard;
mod deliveries;
mod me;
mod patients;
mod query;
mod settings;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use super::auth::{Guard, guarded};
use crate::Context;

/// The consent API's routes, with the context as state. Each group of routes has its role
/// guard ([`guarded`]), checked before the path or body is read.
pub fn router(ctx: Arc<Context>) -> Router {
    let clinic = Router::new()
        .route(
            "/patients/{patient_id}",
            put(patients::register).get(patients::get),
        )
        .route(
            "/patients/{patient_id}/consents",
            post(consents::give).get(consents::history),
        )
        .route(
            "/patients/{patient_id}/consents/{consent_id}/revoke",
            post(consents::revoke),
        )
        .route(
            "/appointments/{appointment_id}",
            put(appointments::put).get(appointments::get),
        )
        .route(
            "/appointments/{appointment_id}/transition",
            post(appointments::transition_now),
        );
    let admin = Router::new()
        .route("/settings/hie", get(settings::get).put(settings::put))
        .route("/audit-entries", get(audit::list))
        .route(
            "/appointments/{appointment_id}/resend",
            post(appointments::resend),
        )
        .route("/hie/batch-preview", get(appointments::batch_preview))
        .route("/hie/batch-runs", post(dashboard::run_batch))
        .route("/dashboard", get(dashboard::get))
        .route("/deliveries", get(deliveries::list))
        .route("/deliveries/{delivery_id}", get(deliveries::get))
        .route(
            "/deliveries/{delivery_id}/redrive",
            post(deliveries::redrive),
        );
    let patient = Router::new()
        .route("/me/consents", get(me::history).post(me::give))
        .route("/me/consents/{consent_id}/revoke", post(me::revoke))
        .route("/me/portal", get(me::portal));
    guarded(clinic, Guard::ClinicUser)
        .merge(guarded(admin, Guard::Admin))
        .merge(guarded(patient, Guard::Patient))
        .with_state(Arc::clone(&ctx))
        .merge(guarded(super::flows_api::router(ctx), Guard::Admin))
}

/// The route templates this router serves, as `(method, path)`; the OpenAPI check compares them.
pub const ROUTES: &[(&str, &str)] = &[
    ("PUT", "/patients/{patient_id}"),
    ("GET", "/patients/{patient_id}"),
    ("POST", "/patients/{patient_id}/consents"),
    ("GET", "/patients/{patient_id}/consents"),
    (
        "POST",
        "/patients/{patient_id}/consents/{consent_id}/revoke",
    ),
    ("GET", "/settings/hie"),
    ("PUT", "/settings/hie"),
    ("GET", "/audit-entries"),
    ("GET", "/me/consents"),
    ("POST", "/me/consents"),
    ("POST", "/me/consents/{consent_id}/revoke"),
    ("GET", "/me/portal"),
    ("PUT", "/appointments/{appointment_id}"),
    ("GET", "/appointments/{appointment_id}"),
    ("POST", "/appointments/{appointment_id}/transition"),
    ("POST", "/appointments/{appointment_id}/resend"),
    ("GET", "/hie/batch-preview"),
    ("POST", "/hie/batch-runs"),
    ("GET", "/dashboard"),
    ("GET", "/deliveries"),
    ("GET", "/deliveries/{delivery_id}"),
    ("POST", "/deliveries/{delivery_id}/redrive"),
    // flows and channels admin (super::flows_api)
    ("GET", "/channels"),
    ("POST", "/channels"),
    ("GET", "/channels/{channel_id}"),
    ("PUT", "/channels/{channel_id}"),
    ("DELETE", "/channels/{channel_id}"),
    ("GET", "/flows"),
    ("POST", "/flows"),
    ("POST", "/flows/template-fields"),
    ("POST", "/flows/test"),
    ("GET", "/flows/{flow_id}"),
    ("PUT", "/flows/{flow_id}"),
    ("DELETE", "/flows/{flow_id}"),
    ("POST", "/flows/{flow_id}/test"),
    // the embedded deployment's local secrets (super::flows_api::secrets; 501 on AWS)
    ("GET", "/secrets"),
    ("PUT", "/secrets/{name}"),
];
