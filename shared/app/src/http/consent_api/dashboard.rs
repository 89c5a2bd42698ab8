//! `GET /dashboard` and `POST /hie/batch-runs` (admin): the counts an integration engineer opens
//! first, read from the counters the stores keep beside the audit log (never by reading the
//! log), and a batch collector run on demand.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use connector_domain::dashboard::{AckCount, Counter, hour_of};
use connector_domain::settings::current_settings;
use connector_domain::{ValidationError, ValidationErrors};
use serde_json::{Value, json};

use super::query::QueryParams;
use crate::hie::batch_run::{BatchStart, BatchStartError};
use crate::http::call::AdminCall;
use crate::http::problem::Problem;

/// Days in the HIE chart, today included.
const DAYS: i64 = 14;
/// Hours in the inbound HL7 chart, the current one included.
const HOURS: i64 = 24;
/// CRM errors listed.
const CRM_ERRORS: usize = 10;

/// The first instant of `date` in `tz` (a day that starts in a DST gap starts at its first
/// existing instant).
fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// 422 when the query string names any parameter (these routes take none).
fn no_parameters(raw: Option<&str>) -> Result<(), Problem> {
    let params = QueryParams::parse(raw, &[]);
    match (raw.filter(|q| !q.is_empty()), params) {
        (None, Ok(_)) => Ok(()),
        (Some(query), _) => {
            let name = query.split(['=', '&']).next().unwrap_or_default();
            Err(Problem::validation(ValidationErrors::from(
                ValidationError::new(name, "is not a parameter; this route takes none"),
            )))
        }
        (None, Err(problem)) => Err(problem),
    }
}

/// `GET /dashboard` (admin).
pub(crate) async fn get(
    AdminCall { ctx, .. }: AdminCall,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, Problem> {
    no_parameters(raw.as_deref())?;
    let tz = current_settings(ctx.settings.as_ref())
        .await?
        .value
        .time_zone;
    let now = ctx.clock.now();
    let dashboard = &ctx.dashboard;

    // HIE messages per clinic day: the UTC hours since the first day's start, summed by the
    // clinic date each hour starts on.
    let today = now.with_timezone(&tz).date_naive();
    let first_day = today - Duration::days(DAYS - 1);
    let mut days: BTreeMap<NaiveDate, (u64, u64)> = (0..DAYS)
        .map(|i| (first_day + Duration::days(i), (0, 0)))
        .collect();
    let until = hour_of(now) + Duration::hours(1);
    for hour in dashboard
        .hours("hie", start_of(first_day, tz), until)
        .await?
    {
        let date = hour.hour.with_timezone(&tz).date_naive();
        if let Some((sent, errors)) = days.get_mut(&date) {
            *sent += hour.get(Counter::HieSent);
            *errors += hour.get(Counter::HieError);
        }
    }
    let hie_sent_per_day: Vec<Value> = days
        .into_iter()
        .map(|(date, (sent, errors))| json!({"date": date, "sent": sent, "errors": errors}))
        .collect();

    // Inbound HL7 per UTC hour, zeros included.
    let first_hour = hour_of(now) - Duration::hours(HOURS - 1);
    let counted = dashboard.hours("hl7", first_hour, until).await?;
    let hl7_inbound_per_hour: Vec<Value> = (0..HOURS)
        .map(|i| {
            let hour = first_hour + Duration::hours(i);
            let counts = counted.iter().find(|h| h.hour == hour);
            let code = |c| counts.map_or(0, |h| h.get(Counter::Hl7(c)));
            json!({
                "hour": hour.format("%Y-%m-%dT%H:00:00Z").to_string(),
                "AA": code(AckCount::Aa),
                "AE": code(AckCount::Ae),
                "AR": code(AckCount::Ar),
            })
        })
        .collect();

    Ok(Json(json!({
        "hie_sent_per_day": hie_sent_per_day,
        "hl7_inbound_per_hour": hl7_inbound_per_hour,
        "last_batch_run": dashboard.last_batch_run().await?,
        "deliveries": dashboard.delivery_counts().await?,
        "recent_crm_errors": dashboard.recent_crm_errors(CRM_ERRORS).await?,
    })))
}

/// `POST /hie/batch-runs` (admin, no body): a batch collector run now. Embedded: the run happens
/// in this process (after any run in progress) and the answer is its summary (200); AWS: the
/// collector function is invoked asynchronously and the answer is 202 `{"status":"started"}`.
pub(crate) async fn run_batch(
    AdminCall { ctx, .. }: AdminCall,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    no_parameters(raw.as_deref())?;
    if !body.iter().all(u8::is_ascii_whitespace) && body.as_ref() != b"{}" {
        return Err(Problem::bad_request(
            "this request takes no body (or an empty JSON object)",
        ));
    }
    match ctx.batch_trigger.start(&ctx).await {
        Ok(BatchStart::Finished(summary)) => Ok((StatusCode::OK, Json(summary)).into_response()),
        Ok(BatchStart::Started) => {
            Ok((StatusCode::ACCEPTED, Json(json!({"status": "started"}))).into_response())
        }
        Err(BatchStartError::Unavailable(why)) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "batch-runs-unavailable",
            "Batch runs unavailable",
            why,
        )),
        Err(err) => Err(Problem::unavailable(&err)),
    }
}
