use axum::Json;
use axum::extract::RawQuery;
use connector_domain::audit::{AuditEntry, AuditOutcome, AuditQuery, LogType, Page};
use connector_domain::flow::ChannelId;
use connector_domain::settings::current_settings;
use connector_domain::{AppointmentId, PatientId, ValidationError, ValidationErrors};

use super::query::{QueryParams, instant};
use crate::http::call::AdminCall;
use crate::http::problem::Problem;

/// Default and largest page sizes.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

const PARAMS: &[&str] = &[
    "log_type",
    "from",
    "to",
    "patient_id",
    "appointment_id",
    "outcome",
    "channel_id",
    "limit",
    "cursor",
];

/// `GET /audit-entries`: newest first, filtered, paginated with an opaque cursor. `from` is
/// inclusive and `to` exclusive for timestamps; a bare date `to` includes that whole day (in the
/// clinic's time zone).
pub(crate) async fn list(
    AdminCall { ctx, .. }: AdminCall,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<AuditEntry>>, Problem> {
    let params = QueryParams::parse(raw.as_deref(), PARAMS)?;
    let tz = current_settings(ctx.settings.as_ref())
        .await?
        .value
        .time_zone;
    let mut errors = ValidationErrors::default();
    let log_type = params.get("log_type").and_then(|v| {
        errors.check(LogType::parse(v).ok_or_else(|| {
            let names: Vec<_> = LogType::ALL.iter().map(|t| t.as_str()).collect();
            ValidationError::new("log_type", format!("must be one of {}", names.join(", ")))
        }))
    });
    let outcome =
        params.get("outcome").and_then(|v| {
            errors.check(AuditOutcome::parse(v).ok_or_else(|| {
                ValidationError::new("outcome", "must be success, skipped or error")
            }))
        });
    let from = params
        .get("from")
        .and_then(|v| errors.check(instant("from", v, tz, false)));
    let to = params
        .get("to")
        .and_then(|v| errors.check(instant("to", v, tz, true)));
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        errors.push(ValidationError::new("to", "must be after from"));
    }
    let patient_id = params
        .get("patient_id")
        .and_then(|v| errors.check(PatientId::parse(v)));
    let appointment_id = params
        .get("appointment_id")
        .and_then(|v| errors.check(AppointmentId::parse(v)));
    let channel_id = params.get("channel_id").and_then(|v| {
        errors.check(
            ChannelId::parse(v)
                .map_err(|_| ValidationError::new("channel_id", "is not a valid channel id")),
        )
    });
    if channel_id.is_some()
        && !matches!(log_type, Some(LogType::Hl7Inbound | LogType::CrmOutbound))
        && !errors.0.iter().any(|e| e.field == "log_type")
    {
        errors.push(ValidationError::new(
            "channel_id",
            "needs log_type hl7_inbound or crm_outbound",
        ));
    }
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let query = AuditQuery {
        log_type,
        from,
        to,
        patient_id,
        appointment_id,
        outcome,
        channel_id,
        limit,
        cursor: params.get("cursor").map(str::to_owned),
    };
    Ok(Json(ctx.audit.query(&query).await?))
}
