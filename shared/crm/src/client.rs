//! [`LeadSquaredClient`]: the [`Crm`] port over LeadSquared's v2 REST API.
//!
//! Every call is a `POST https://{host}/v2/…` with a JSON body and the keys in the
//! `x-LSQ-AccessKey` / `x-LSQ-SecretKey` headers (LeadSquared also accepts them in the query
//! string, which would put them in access logs; this client never does). Logs carry endpoint
//! names, attempt numbers, HTTP statuses, durations, `ExceptionType`s and lead/activity ids only.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use connector_domain::crm::{
    Activity, ActivityId, ActivityInput, ActivityQuery, Crm, CrmError, CrmField, Lead, LeadId,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde_json::Value;

use crate::config::LeadSquaredConfig;
use crate::errors::{ClientBuildError, UNKNOWN_EXCEPTION, UnavailableError};
use crate::limiter::Limiter;
use crate::retry::{self, CrmRetryPolicy, Failure, Idempotency, parse_retry_after};
use crate::wire::{self, Envelope};

/// The access key header ("Authentication" page: `x-LSQ-AccessKey`; header names are
/// case-insensitive and sent lower-case).
const ACCESS_KEY_HEADER: HeaderName = HeaderName::from_static("x-lsq-accesskey");
/// The secret key header (`x-LSQ-SecretKey`).
const SECRET_KEY_HEADER: HeaderName = HeaderName::from_static("x-lsq-secretkey");

/// The LeadSquared endpoints this client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    LeadsGet,
    LeadsGetById,
    LeadCreate,
    LeadUpdate,
    ActivityCreate,
    ActivityUpdate,
    ActivityRetrieve,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Self::LeadsGet => "/v2/LeadManagement.svc/Leads.Get",
            Self::LeadsGetById => "/v2/LeadManagement.svc/Leads.GetById",
            Self::LeadCreate => "/v2/LeadManagement.svc/Lead.Create",
            Self::LeadUpdate => "/v2/LeadManagement.svc/Lead.Update",
            Self::ActivityCreate => "/v2/ProspectActivity.svc/Create",
            Self::ActivityUpdate => "/v2/ProspectActivity.svc/CustomActivity/Update",
            Self::ActivityRetrieve => "/v2/ProspectActivity.svc/Retrieve",
        }
    }

    /// The name logged for the endpoint.
    fn name(self) -> &'static str {
        match self {
            Self::LeadsGet => "LeadManagement.Leads.Get",
            Self::LeadsGetById => "LeadManagement.Leads.GetById",
            Self::LeadCreate => "LeadManagement.Lead.Create",
            Self::LeadUpdate => "LeadManagement.Lead.Update",
            Self::ActivityCreate => "ProspectActivity.Create",
            Self::ActivityUpdate => "ProspectActivity.CustomActivity.Update",
            Self::ActivityRetrieve => "ProspectActivity.Retrieve",
        }
    }

    /// Creates are not idempotent; searches are, and so are updates (they set the given fields
    /// to the given values, so applying one twice leaves the same state).
    fn idempotency(self) -> Idempotency {
        match self {
            Self::LeadCreate | Self::ActivityCreate => Idempotency::NonIdempotent,
            Self::LeadsGet
            | Self::LeadsGetById
            | Self::LeadUpdate
            | Self::ActivityUpdate
            | Self::ActivityRetrieve => Idempotency::Idempotent,
        }
    }

    /// `Leads.GetById` is a `GET` ("get-a-lead-by-id"); the others are `POST`s with a body.
    fn method(self) -> reqwest::Method {
        match self {
            Self::LeadsGetById => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        }
    }
}

/// Most leads one search asks for (`Leads.Get`'s `PageSize`).
const MAX_LEADS_PER_SEARCH: usize = 1000;

/// A LeadSquared account, as the domain's [`Crm`] port.
///
/// Build it once (at start-up) and clone it freely: clones share the HTTP connection pool and the
/// client-side rate limiter.
#[derive(Clone)]
pub struct LeadSquaredClient {
    http: reqwest::Client,
    base: Url,
    retry: CrmRetryPolicy,
    limiter: Option<Arc<Limiter>>,
    activity_page_size: u32,
    max_activity_pages: u32,
}

impl std::fmt::Debug for LeadSquaredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeadSquaredClient")
            .field("base", &self.base.as_str())
            .field("retry", &self.retry)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

impl LeadSquaredClient {
    /// A client for the account `config` describes.
    ///
    /// # Errors
    /// [`ClientBuildError`] when the base URL is not an absolute `http(s)` URL without a path,
    /// a key is not a valid header value, or TLS cannot be initialised.
    pub fn new(config: LeadSquaredConfig) -> Result<Self, ClientBuildError> {
        let base =
            Url::parse(config.base_url.trim()).map_err(|_| ClientBuildError::InvalidBaseUrl)?;
        if !matches!(base.scheme(), "http" | "https")
            || base.host().is_none()
            || base.path() != "/"
            || base.query().is_some()
        {
            return Err(ClientBuildError::InvalidBaseUrl);
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(ACCESS_KEY_HEADER, sensitive(config.access_key.expose())?);
        headers.insert(SECRET_KEY_HEADER, sensitive(config.secret_key.expose())?);
        // reqwest's `rustls-no-provider`: rustls on ring, the process's one crypto provider
        // (an error here only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("clinic-connector/", env!("CARGO_PKG_VERSION")))
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            // A redirect would turn the POST into a GET; the API never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientBuildError::Http(e.without_url()))?;
        Ok(Self {
            http,
            base,
            retry: config.retry,
            limiter: config.rate_limit.map(|limit| Arc::new(Limiter::new(limit))),
            activity_page_size: config.activity_page_size.max(1),
            max_activity_pages: config.max_activity_pages.max(1),
        })
    }

    /// Calls `endpoint` with `body` (and `leadId` in the query when given), retrying as
    /// [`crate::retry`] describes. Returns the parsed JSON of a successful answer.
    async fn call(
        &self,
        endpoint: Endpoint,
        lead_id: Option<&str>,
        body: &impl Serialize,
    ) -> Result<Value, CrmError> {
        // Serializing these request types cannot fail (string keys, no maps).
        let body = serde_json::to_vec(body).map_err(|_| CrmError::InvalidResponse)?;
        self.call_with(endpoint, lead_id.map(|id| ("leadId", id)), body)
            .await
    }

    /// Calls a create `endpoint` (see [`Self::call`]) and returns the new record's id, also
    /// recorded in the current span's `span_field`.
    async fn create(
        &self,
        endpoint: Endpoint,
        span_field: &'static str,
        body: &impl Serialize,
    ) -> Result<String, CrmError> {
        let answer = self.call(endpoint, None, body).await?;
        let id = wire::SuccessEnvelope::parse(&answer)
            .and_then(wire::SuccessEnvelope::id)
            .ok_or_else(|| invalid(endpoint))?;
        tracing::Span::current().record(span_field, tracing::field::display(&id));
        Ok(id)
    }

    /// Calls an update `endpoint` (see [`Self::call`]) and returns its success envelope.
    async fn update(
        &self,
        endpoint: Endpoint,
        lead_id: Option<&str>,
        body: &impl Serialize,
    ) -> Result<wire::SuccessEnvelope, CrmError> {
        let answer = self.call(endpoint, lead_id, body).await?;
        wire::SuccessEnvelope::parse(&answer).ok_or_else(|| invalid(endpoint))
    }

    /// Calls `endpoint` with `query` and the raw `body` (empty for a `GET`).
    async fn call_with(
        &self,
        endpoint: Endpoint,
        query: Option<(&str, &str)>,
        body: Vec<u8>,
    ) -> Result<Value, CrmError> {
        let mut url = self.base.clone();
        url.set_path(endpoint.path());
        if let Some((name, value)) = query {
            url.query_pairs_mut().append_pair(name, value);
        }
        let (url, body) = (&url, body.as_slice());
        retry::run(
            &self.retry,
            endpoint.idempotency(),
            endpoint.name(),
            move |attempt| self.attempt(endpoint, url, body, attempt),
        )
        .await
    }

    /// One HTTP exchange, classified for the retry loop.
    async fn attempt(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: &[u8],
        attempt: u32,
    ) -> Result<Value, Failure> {
        let name = endpoint.name();
        if let Some(limiter) = &self.limiter {
            let waited = limiter.acquire().await;
            if !waited.is_zero() {
                tracing::debug!(
                    endpoint = name,
                    waited_ms = waited.as_millis() as u64,
                    "paced by client-side rate limit"
                );
            }
        }
        let started = Instant::now();
        let request = self.http.request(endpoint.method(), url.clone());
        let request = if endpoint.method() == reqwest::Method::GET {
            request
        } else {
            request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec())
        };
        let sent = request.send().await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(transport_failure(name, attempt, started, error)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return Err(transport_failure(name, attempt, started, error)),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            endpoint = name,
            attempt,
            status = status.as_u16(),
            elapsed_ms,
            "LeadSquared answered"
        );
        classify(name, status, retry_after, &bytes)
    }
}

/// A header value the HTTP stack will not print in its own `Debug`/trace output.
fn sensitive(key: &str) -> Result<HeaderValue, ClientBuildError> {
    let mut value = HeaderValue::from_str(key.trim()).map_err(|_| ClientBuildError::InvalidKey)?;
    value.set_sensitive(true);
    Ok(value)
}

fn transport_failure(
    endpoint: &'static str,
    attempt: u32,
    started: Instant,
    error: reqwest::Error,
) -> Failure {
    let error = UnavailableError::from_reqwest(error);
    tracing::warn!(
        endpoint,
        attempt,
        elapsed_ms = started.elapsed().as_millis() as u64,
        error = %error,
        "LeadSquared call failed in transport"
    );
    if error.request_not_sent() {
        Failure::NotSent(error.into())
    } else {
        Failure::MaybeApplied(error.into())
    }
}

/// Maps an answer to a value or a failure. HTTP 200 is not enough: LeadSquared also reports
/// errors as `{"Status":"Error",…}` with 200.
fn classify(
    endpoint: &'static str,
    status: StatusCode,
    retry_after: Option<std::time::Duration>,
    body: &[u8],
) -> Result<Value, Failure> {
    let code = status.as_u16();
    if status == StatusCode::TOO_MANY_REQUESTS {
        tracing::warn!(
            endpoint,
            status = code,
            retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
            "LeadSquared rate limit"
        );
        return Err(Failure::RateLimited { retry_after });
    }
    if !status.is_success() {
        let exception_type = exception_type(wire::ErrorEnvelope::exception_type_of(body));
        tracing::warn!(endpoint, status = code, exception_type = %exception_type, "LeadSquared error answer");
        return Err(if status.is_server_error() {
            Failure::MaybeApplied(
                UnavailableError::Server {
                    status: code,
                    exception_type,
                }
                .into(),
            )
        } else {
            Failure::Permanent(CrmError::Rejected {
                status: code,
                exception_type,
            })
        });
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        tracing::warn!(
            endpoint,
            status = code,
            body_len = body.len(),
            "LeadSquared answer is not JSON"
        );
        return Err(Failure::Permanent(CrmError::InvalidResponse));
    };
    if let Some(envelope) = wire::ErrorEnvelope::parse(&value) {
        let exception_type = exception_type(envelope.exception_type);
        tracing::warn!(endpoint, status = code, exception_type = %exception_type, "LeadSquared error answer");
        return Err(Failure::Permanent(CrmError::Rejected {
            status: code,
            exception_type,
        }));
    }
    Ok(value)
}

/// `ExceptionType` as kept in errors and logs: an identifier such as `MXDuplicateEntryException`.
/// Anything else (which might be free text) is replaced, so an error never carries content.
fn exception_type(raw: Option<String>) -> String {
    match raw {
        Some(t)
            if !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
        {
            t
        }
        Some(_) => "unrecognised".to_owned(),
        None => UNKNOWN_EXCEPTION.to_owned(),
    }
}

fn invalid(endpoint: Endpoint) -> CrmError {
    tracing::warn!(
        endpoint = endpoint.name(),
        "LeadSquared answer does not have the documented shape"
    );
    CrmError::InvalidResponse
}

/// The id of a created record, from `{"Status":"Success","Message":{"Id":"…"}}`.
#[async_trait]
impl Crm for LeadSquaredClient {
    /// `Leads.Get` with `SqlOperator` `=`, a page of `limit`, and `Include_CSV` naming
    /// `ProspectID`, `ModifiedBy`, `ModifiedOn` and `field` (the search's callers use the ids;
    /// the whole lead is read with [`Crm::get_lead`]).
    #[tracing::instrument(name = "crm.find_leads", skip_all, fields(found = tracing::field::Empty))]
    async fn find_leads(
        &self,
        field: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Lead>, CrmError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let endpoint = Endpoint::LeadsGet;
        let page_size = u32::try_from(limit.min(MAX_LEADS_PER_SEARCH)).unwrap_or(1);
        let answer = self
            .call(
                endpoint,
                None,
                &wire::LeadsGetRequest::exact(field, value, page_size),
            )
            .await?;
        let mut leads = wire::parse_leads(answer).map_err(|()| invalid(endpoint))?;
        leads.truncate(limit);
        tracing::Span::current().record("found", leads.len());
        tracing::info!("leads searched");
        Ok(leads)
    }

    /// `GET Leads.GetById?id=`: the lead with all its fields, system fields included.
    #[tracing::instrument(name = "crm.get_lead", skip_all, fields(lead_id = %id.0))]
    async fn get_lead(&self, id: &LeadId) -> Result<Option<Lead>, CrmError> {
        let endpoint = Endpoint::LeadsGetById;
        let answer = self
            .call_with(endpoint, Some(("id", &id.0)), Vec::new())
            .await?;
        let lead = wire::parse_leads(answer)
            .map_err(|()| invalid(endpoint))?
            .into_iter()
            .find(|lead| lead.id.0.eq_ignore_ascii_case(&id.0));
        match &lead {
            Some(_) => tracing::info!("lead read"),
            None => tracing::info!("no such lead"),
        }
        Ok(lead)
    }

    /// `Lead.Create`. Not retried once it may have reached LeadSquared (see [`crate::retry`]).
    #[tracing::instrument(name = "crm.create_lead", skip_all, fields(lead_id = tracing::field::Empty))]
    async fn create_lead(&self, fields: &[CrmField]) -> Result<LeadId, CrmError> {
        let body = wire::lead_attributes(fields);
        let id = LeadId(self.create(Endpoint::LeadCreate, "lead_id", &body).await?);
        tracing::info!("lead created");
        Ok(id)
    }

    /// `Lead.Update?leadId=`.
    #[tracing::instrument(name = "crm.update_lead", skip_all, fields(lead_id = %id.0))]
    async fn update_lead(&self, id: &LeadId, fields: &[CrmField]) -> Result<(), CrmError> {
        let body = wire::lead_attributes(fields);
        let success = self
            .update(Endpoint::LeadUpdate, Some(&id.0), &body)
            .await?;
        let affected_rows = success.message.and_then(|m| m.affected_rows);
        // AffectedRows may be 0 when the values were already current; that is still success.
        tracing::info!(affected_rows, "lead updated");
        Ok(())
    }

    /// `ProspectActivity.svc/Retrieve?leadId=` filtered by `ActivityEvent`, paged with
    /// `Offset` (the page number, from 0, as documented) and `RowCount`, matched on `field`
    /// client-side until `limit` matches.
    ///
    /// Pages are read until `limit` matches, an empty page, or the end (`RecordCount` reached
    /// and the page not full). A second page with nothing unseen is skipped once (a service
    /// that counted pages from 1 would answer pages 0 and 1 alike); another page with no unseen
    /// activity, or more than `max_activity_pages` pages, is [`CrmError::InvalidResponse`]
    /// rather than a short answer: "not found" makes callers create.
    #[tracing::instrument(name = "crm.find_activities", skip_all, fields(lead_id = %query.lead.0))]
    async fn find_activities(
        &self,
        query: ActivityQuery<'_>,
        limit: usize,
    ) -> Result<Vec<Activity>, CrmError> {
        let ActivityQuery {
            lead,
            event,
            field,
            value,
        } = query;
        let endpoint = Endpoint::ActivityRetrieve;
        let row_count = self.activity_page_size;
        let mut found = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut skipped_repeat = false;
        for page_number in 0..self.max_activity_pages {
            if found.len() >= limit {
                break;
            }
            let request = wire::ActivityRetrieveRequest {
                parameter: wire::ActivityEventParameter {
                    activity_event: event,
                },
                paging: wire::OffsetPaging {
                    offset: page_number,
                    row_count,
                },
            };
            let answer = self.call(endpoint, Some(&lead.0), &request).await?;
            let page = wire::ActivitiesPage::parse(answer).map_err(|()| invalid(endpoint))?;
            let received = page.activities.len();
            let total = page.record_count();
            let mut unseen = 0usize;
            for record in page.activities {
                if !seen.insert(record.id.clone()) {
                    continue;
                }
                unseen += 1;
                if record.event_code().is_some_and(|code| code != event) {
                    continue;
                }
                if found.len() < limit
                    && record
                        .fields()
                        .iter()
                        .any(|f| f.name == field && f.value == value)
                {
                    found.push(record.into_activity(lead, event));
                }
            }
            if received == 0 {
                break;
            }
            if unseen == 0 {
                if page_number == 1 && !skipped_repeat {
                    skipped_repeat = true;
                    continue;
                }
                tracing::warn!(pages = page_number + 1, "activity paging did not advance");
                return Err(CrmError::InvalidResponse);
            }
            let more_by_count = total.is_some_and(|total| (seen.len() as u64) < total);
            let page_was_full = received >= row_count as usize;
            if found.len() >= limit || (!more_by_count && !page_was_full) {
                break;
            }
            if page_number + 1 == self.max_activity_pages {
                tracing::warn!(
                    pages = page_number + 1,
                    "activity search reached its page limit"
                );
                return Err(CrmError::InvalidResponse);
            }
        }
        tracing::info!(
            activities_read = seen.len(),
            found = found.len(),
            "activities searched"
        );
        Ok(found)
    }

    /// `ProspectActivity.svc/Create`. Not retried once it may have reached LeadSquared.
    #[tracing::instrument(name = "crm.create_activity", skip_all, fields(lead_id = %lead.0, activity_id = tracing::field::Empty))]
    async fn create_activity(
        &self,
        lead: &LeadId,
        activity: &ActivityInput,
    ) -> Result<ActivityId, CrmError> {
        let body = wire::ActivityCreateRequest::new(lead, activity);
        let id = ActivityId(
            self.create(Endpoint::ActivityCreate, "activity_id", &body)
                .await?,
        );
        tracing::info!("activity created");
        Ok(id)
    }

    /// `ProspectActivity.svc/CustomActivity/Update`: note and fields. The documented body has no
    /// `ActivityDateTime`, so `activity.at` is not sent and the activity keeps its time.
    #[tracing::instrument(name = "crm.update_activity", skip_all, fields(activity_id = %id.0))]
    async fn update_activity(
        &self,
        id: &ActivityId,
        activity: &ActivityInput,
    ) -> Result<(), CrmError> {
        let body = wire::ActivityUpdateRequest::new(id, activity);
        self.update(Endpoint::ActivityUpdate, None, &body).await?;
        tracing::info!("activity updated");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_types_are_identifiers_or_replaced() {
        assert_eq!(
            exception_type(Some("MXDuplicateEntryException".into())),
            "MXDuplicateEntryException"
        );
        assert_eq!(
            exception_type(Some("Lead Jane Doe exists".into())),
            "unrecognised"
        );
        assert_eq!(exception_type(None), "unknown");
    }

    #[test]
    fn base_url_must_be_a_bare_origin() {
        let config = |url: &str| {
            LeadSquaredConfig::new(url, crate::AccessKey::new("a"), crate::SecretKey::new("s"))
        };
        assert!(LeadSquaredClient::new(config("https://api-us11.leadsquared.com")).is_ok());
        assert!(LeadSquaredClient::new(config("https://api-us11.leadsquared.com/")).is_ok());
        for bad in [
            "api-us11.leadsquared.com",
            "ftp://x",
            "https://x/v2",
            "https://x/?accessKey=a",
        ] {
            assert!(
                matches!(
                    LeadSquaredClient::new(config(bad)),
                    Err(ClientBuildError::InvalidBaseUrl)
                ),
                "{bad}"
            );
        }
    }
}
