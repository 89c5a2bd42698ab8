//! `GET /patients` (the front desk's patient search) and `GET /patients/{patient_id}/appointments`
//! (a patient's appointments with their HIE status), both paginated with an opaque cursor.

use axum::Json;
use axum::extract::{Path, RawQuery};
use connector_domain::audit::{AuditQuery, LogType, Page};
use connector_domain::hie::{SendKey, hie_status};
use connector_domain::patient::Patient;
use connector_domain::patient_search::PatientSearch;
use connector_domain::ports::PageRequest;
use connector_domain::{PatientId, ValidationErrors};
use serde_json::Value;

use super::query::QueryParams;
use crate::http::call::StaffCall;
use crate::http::problem::Problem;

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// How many of an appointment's newest HIE audit entries its status is read from.
const STATUS_ENTRIES: usize = 20;

/// `GET /patients?mrn=` or `?last_name=&birth_date=` (staff, admin): matching patients, each as
/// `GET /patients/{patient_id}` shows it.
pub(crate) async fn search(
    StaffCall { ctx, .. }: StaffCall,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<Patient>>, Problem> {
    let params = QueryParams::parse(
        raw.as_deref(),
        &["mrn", "last_name", "birth_date", "limit", "cursor"],
    )?;
    let mut errors = ValidationErrors::default();
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT, &mut errors);
    let search = PatientSearch::parse(
        params.get("mrn"),
        params.get("last_name"),
        params.get("birth_date"),
    );
    let search = match search {
        Ok(search) if errors.is_empty() => search,
        Ok(_) => return Err(Problem::validation(errors)),
        Err(more) => {
            for e in more.0 {
                errors.push(e);
            }
            return Err(Problem::validation(errors));
        }
    };
    let page = ctx
        .patients
        .search(
            &search,
            PageRequest {
                cursor: params.get("cursor"),
                limit,
            },
        )
        .await?;
    tracing::info!(
        found = page.items.len(),
        more = page.next_cursor.is_some(),
        "patient search"
    );
    Ok(Json(page))
}

/// `GET /patients/{patient_id}/appointments` (staff, admin): the patient's appointments, newest
/// first, each as `GET /appointments/{appointment_id}` shows it plus its `hie` status.
pub(crate) async fn appointments(
    StaffCall { ctx, .. }: StaffCall,
    Path(patient_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<Value>>, Problem> {
    let patient_id =
        PatientId::parse(patient_id).map_err(|_| Problem::not_found_resource("patient"))?;
    let params = QueryParams::parse(raw.as_deref(), &["limit", "cursor"])?;
    let mut errors = ValidationErrors::default();
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    if ctx.patients.get(&patient_id).await?.is_none() {
        return Err(Problem::not_found_resource("patient"));
    }
    let page = ctx
        .appointments
        .for_patient(
            &patient_id,
            PageRequest {
                cursor: params.get("cursor"),
                limit,
            },
        )
        .await?;
    let keys: Vec<SendKey> = page
        .items
        .iter()
        .filter(|a| a.transition_seq > 0)
        .map(|a| SendKey {
            appointment_id: a.appointment_id.clone(),
            transition_seq: a.transition_seq,
            resend: 0,
        })
        .collect();
    let ledger = if keys.is_empty() {
        Vec::new()
    } else {
        ctx.send_ledger.get_many(&keys).await?
    };
    let mut items = Vec::with_capacity(page.items.len());
    for appointment in &page.items {
        let audit = if appointment.transition_seq == 0 {
            Vec::new()
        } else {
            let query = AuditQuery {
                log_type: Some(LogType::HieSentAppointments),
                from: None,
                to: None,
                patient_id: None,
                appointment_id: Some(appointment.appointment_id.clone()),
                outcome: None,
                channel_id: None,
                limit: STATUS_ENTRIES,
                cursor: None,
            };
            ctx.audit.query(&query).await?.items
        };
        let record = ledger.iter().find(|r| {
            r.key.appointment_id == appointment.appointment_id
                && r.key.transition_seq == appointment.transition_seq
        });
        let status = hie_status(appointment, record, &audit);
        let mut view = serde_json::to_value(appointment)
            .map_err(|_| Problem::from(connector_domain::StoreError::Corrupt("appointment")))?;
        if let Value::Object(fields) = &mut view {
            fields.insert(
                "hie".into(),
                serde_json::to_value(&status).unwrap_or(Value::Null),
            );
        }
        items.push(view);
    }
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}
