//! The fake's HTTP side: one handler that records, applies faults, authenticates and routes to
//! the seven endpoints, each validating the documented body shape.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDateTime, Utc};
use connector_domain::crm::{ActivityId, CrmField, Lead, LeadId};
use serde_json::{Map, Value, json};

use super::{
    ACCESS_KEY, FakeState, Fault, RecordedRequest, SECRET_KEY, Shared, StoredActivity, lock, new_id,
};
use crate::wire::{DATE_TIME_FORMAT, format_date_time};

/// The single handler: record, apply faults, authenticate, route.
pub(super) async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = parse_query(uri.query().unwrap_or(""));
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let fault = {
        let mut state = lock(&state);
        state.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: json_body.clone(),
        });
        state.take_fault(&path)
    };
    match fault {
        None => {}
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::RateLimited { retry_after }) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "MXAPIRateLimitExceededException",
                "API calls exceeded the limit of 25 in 5 second(s)",
            );
            if let Some(value) = retry_after.and_then(|v| header::HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(Fault::Error {
            status,
            exception_type,
            exception_message,
        }) => {
            return error(status_code(status), &exception_type, &exception_message);
        }
        Some(Fault::Raw { status, body }) => {
            return (
                status_code(status),
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
    }

    let header_is = |name: &str, expected: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()) == Some(expected)
    };
    if !header_is("x-lsq-accesskey", ACCESS_KEY) || !header_is("x-lsq-secretkey", SECRET_KEY) {
        return error(
            StatusCode::UNAUTHORIZED,
            "MXUnAuthorizedAccessException",
            "Invalid access or secret key",
        );
    }
    // Leads.GetById is the one GET ("get-a-lead-by-id"); every other endpoint is a POST.
    let get_by_id = path == "/v2/LeadManagement.svc/Leads.GetById";
    let expected = if get_by_id { Method::GET } else { Method::POST };
    if method != expected {
        return error(
            StatusCode::NOT_FOUND,
            "MXAPINotFoundException",
            "The API could not be found",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !get_by_id && !content_type.starts_with("application/json") {
        return bad_request("Content-Type must be application/json").into_response();
    }
    let lead_id = query
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("leadId"))
        .map(|(_, v)| v.clone());
    let mut state = lock(&state);
    let outcome = match path.as_str() {
        "/v2/LeadManagement.svc/Leads.Get" => leads_get(&state, &json_body),
        "/v2/LeadManagement.svc/Leads.GetById" => leads_get_by_id(&state, &query),
        "/v2/LeadManagement.svc/Lead.Create" => lead_create(&mut state, &json_body),
        "/v2/LeadManagement.svc/Lead.Update" => {
            lead_update(&mut state, lead_id.as_deref(), &json_body)
        }
        "/v2/ProspectActivity.svc/Create" => activity_create(&mut state, &json_body),
        "/v2/ProspectActivity.svc/CustomActivity/Update" => activity_update(&mut state, &json_body),
        "/v2/ProspectActivity.svc/Retrieve" => {
            activity_retrieve(&state, lead_id.as_deref(), &json_body)
        }
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "MXAPINotFoundException",
                "The API could not be found",
            );
        }
    };
    match outcome {
        Ok(value) => (StatusCode::OK, axum::Json(value)).into_response(),
        Err(reject) => reject.into_response(),
    }
}

type Outcome = Result<Value, Reject>;

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn error(status: StatusCode, exception_type: &str, message: &str) -> Response {
    let body =
        json!({"Status": "Error", "ExceptionType": exception_type, "ExceptionMessage": message});
    (status, axum::Json(body)).into_response()
}

/// An error answer, built by the endpoint functions and turned into a [`Response`] by
/// [`handle`].
struct Reject {
    status: StatusCode,
    exception_type: &'static str,
    message: String,
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        error(self.status, self.exception_type, &self.message)
    }
}

fn reject(status: StatusCode, exception_type: &'static str, message: &str) -> Reject {
    Reject {
        status,
        exception_type,
        message: message.to_owned(),
    }
}

fn bad_request(message: &str) -> Reject {
    reject(StatusCode::BAD_REQUEST, "MXInvalidInputException", message)
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://q/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// An object with only `allowed` members, `required` among them.
fn object<'a>(
    value: &'a Value,
    what: &str,
    required: &[&str],
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, Reject> {
    let Value::Object(members) = value else {
        return Err(bad_request(&format!("{what} must be a JSON object")));
    };
    if let Some(unknown) = members.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad_request(&format!("{what}: unexpected member {unknown}")));
    }
    if let Some(missing) = required.iter().find(|r| !members.contains_key(**r)) {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXMandatoryAttributeMissingException",
            &format!("'{missing}' is mandatory"),
        ));
    }
    Ok(members)
}

fn string<'a>(members: &'a Map<String, Value>, name: &str) -> Result<&'a str, Reject> {
    members
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request(&format!("{name} must be a string")))
}

/// A member that may be absent but is a string when present.
fn optional_string<'a>(
    members: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, Reject> {
    members.get(name).map(|_| string(members, name)).transpose()
}

/// An integer sent as a JSON number or a numeric string (the docs show both).
fn integer(members: &Map<String, Value>, name: &str) -> Result<i64, Reject> {
    match members.get(name) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad_request(&format!("{name} must be an integer")))
}

/// `[{"Attribute","Value"}…]`, non-empty.
fn attributes(body: &Value) -> Result<Vec<CrmField>, Reject> {
    let Value::Array(items) = body else {
        return Err(bad_request(
            "body must be a JSON array of Attribute/Value pairs",
        ));
    };
    if items.is_empty() {
        return Err(bad_request("at least one attribute is required"));
    }
    named_values(items, "attribute", "Attribute")
}

/// `[{"SchemaName","Value"}…]`.
fn schema_fields(members: &Map<String, Value>) -> Result<Vec<CrmField>, Reject> {
    let Some(fields) = members.get("Fields") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = fields else {
        return Err(bad_request("Fields must be an array"));
    };
    named_values(items, "field", "SchemaName")
}

/// The two integers of the `Paging` object (`keys`, both required in it), `default` without one.
fn paging(
    members: &Map<String, Value>,
    keys: [&str; 2],
    default: (i64, i64),
) -> Result<(i64, i64), Reject> {
    let Some(paging) = members.get("Paging") else {
        return Ok(default);
    };
    let paging = object(paging, "Paging", &keys, &keys)?;
    Ok((integer(paging, keys[0])?, integer(paging, keys[1])?))
}

/// `[{<name>, "Value"}…]` as fields (each item `what` in errors; `Fields` is allowed in an item).
fn named_values(items: &[Value], what: &str, name: &str) -> Result<Vec<CrmField>, Reject> {
    items
        .iter()
        .map(|item| {
            let members = object(item, what, &[name, "Value"], &[name, "Value", "Fields"])?;
            Ok(CrmField::new(
                string(members, name)?,
                string(members, "Value")?,
            ))
        })
        .collect()
}

fn set_fields(target: &mut Vec<CrmField>, updates: Vec<CrmField>) {
    for update in updates {
        match target.iter_mut().find(|f| f.name == update.name) {
            Some(existing) => existing.value = update.value,
            None => target.push(update),
        }
    }
}

/// Stamps LeadSquared's system fields the way the service does on every write: who changed
/// the lead and when, and on creation who created it and when. Set after the request's fields,
/// so a request cannot forge them.
pub(super) fn stamp_system_fields(fields: &mut Vec<CrmField>, user: &str, created: bool) {
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let mut stamps = vec![
        CrmField::new("ModifiedBy", user),
        CrmField::new("ModifiedOn", now.clone()),
    ];
    if created {
        stamps.push(CrmField::new("CreatedBy", user));
        stamps.push(CrmField::new("CreatedOn", now));
    }
    set_fields(fields, stamps);
}

fn check_unique(
    state: &FakeState,
    fields: &[CrmField],
    except: Option<&LeadId>,
) -> Result<(), Reject> {
    for field in fields
        .iter()
        .filter(|f| !f.value.is_empty() && state.unique_fields.contains(&f.name))
    {
        let taken = state
            .leads
            .iter()
            .filter(|l| Some(&l.id) != except)
            .any(|l| {
                l.fields
                    .iter()
                    .any(|f| f.name == field.name && f.value == field.value)
            });
        if taken {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "MXDuplicateEntryException",
                &format!(
                    "A Lead with same {} {} already exists.",
                    field.name, field.value
                ),
            ));
        }
    }
    Ok(())
}

/// A lead as `Leads.Get` answers it: exactly the columns named in `Include_CSV` (schema names
/// compared case-insensitively; `ProspectID` only when named; `null` for a named column the
/// lead has no value in).
fn lead_json(lead: &Lead, columns: &[&str]) -> Value {
    let mut members = Map::new();
    for column in columns {
        if column.eq_ignore_ascii_case("ProspectID") {
            members.insert("ProspectID".into(), Value::String(lead.id.0.clone()));
            continue;
        }
        match lead
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(column))
        {
            Some(field) => members.insert(field.name.clone(), Value::String(field.value.clone())),
            None => members.insert((*column).to_owned(), Value::Null),
        };
    }
    Value::Object(members)
}

/// A lead with every field, as `Leads.GetById` answers it.
fn full_lead_json(lead: &Lead) -> Value {
    let mut members = Map::new();
    members.insert("ProspectID".into(), Value::String(lead.id.0.clone()));
    for field in &lead.fields {
        members.insert(field.name.clone(), Value::String(field.value.clone()));
    }
    Value::Object(members)
}

/// `GET Leads.GetById?id=` → a JSON array holding the lead, or empty.
fn leads_get_by_id(state: &FakeState, query: &[(String, String)]) -> Outcome {
    let Some(id) = query
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("id"))
        .map(|(_, v)| v.as_str())
        .filter(|id| !id.is_empty())
    else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXMandatoryAttributeMissingException",
            "'id' is mandatory",
        ));
    };
    Ok(Value::Array(
        state
            .leads
            .iter()
            .filter(|l| l.id.0 == id)
            .map(full_lead_json)
            .collect(),
    ))
}

/// `Leads.Get` → a JSON array of lead objects with the columns `Include_CSV` names (which
/// must name at least one: the fake does not guess LeadSquared's undocumented default).
fn leads_get(state: &FakeState, body: &Value) -> Outcome {
    let members = object(
        body,
        "body",
        &["Parameter", "Columns"],
        &["Parameter", "Columns", "Sorting", "Paging"],
    )?;
    let parameter = object(
        &members["Parameter"],
        "Parameter",
        &["LookupName", "LookupValue", "SqlOperator"],
        &["LookupName", "LookupValue", "SqlOperator"],
    )?;
    let (name, value) = (
        string(parameter, "LookupName")?,
        string(parameter, "LookupValue")?,
    );
    if string(parameter, "SqlOperator")? != "=" {
        return Err(bad_request("the fake supports SqlOperator '=' only"));
    }
    let columns = object(
        &members["Columns"],
        "Columns",
        &["Include_CSV"],
        &["Include_CSV"],
    )?;
    let columns: Vec<&str> = string(columns, "Include_CSV")?
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if columns.is_empty() {
        return Err(bad_request(
            "Include_CSV must name the lead fields to return",
        ));
    }
    let (page_index, page_size) = paging(members, ["PageIndex", "PageSize"], (1, 100))?;
    if page_index < 1 || !(1..=5000).contains(&page_size) {
        return Err(bad_request(
            "PageIndex must be >= 1 and PageSize within 1..=5000",
        ));
    }
    let matches = state.leads.iter().filter(|lead| {
        if name.eq_ignore_ascii_case("ProspectID") {
            lead.id.0 == value
        } else {
            lead.fields
                .iter()
                .any(|f| f.name == name && f.value == value)
        }
    });
    let skip = usize::try_from((page_index - 1) * page_size).unwrap_or(usize::MAX);
    let take = usize::try_from(page_size).unwrap_or(usize::MAX);
    Ok(Value::Array(
        matches
            .skip(skip)
            .take(take)
            .map(|lead| lead_json(lead, &columns))
            .collect(),
    ))
}

/// `Lead.Create` → `{"Status":"Success","Message":{"Id"}}`.
fn lead_create(state: &mut FakeState, body: &Value) -> Outcome {
    let fields = attributes(body)?;
    check_unique(state, &fields, None)?;
    let id = LeadId(new_id());
    let mut stored = Vec::new();
    set_fields(&mut stored, fields);
    stamp_system_fields(&mut stored, super::FakeLeadSquared::API_USER_ID, true);
    state.leads.push(Lead {
        id: id.clone(),
        fields: stored,
    });
    Ok(json!({"Status": "Success", "Message": {"Id": id.0}}))
}

/// `Lead.Update?leadId=` → `{"Status":"Success","Message":{"AffectedRows":1}}`.
fn lead_update(state: &mut FakeState, lead_id: Option<&str>, body: &Value) -> Outcome {
    let Some(lead_id) = lead_id.filter(|id| !id.is_empty()) else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXMandatoryAttributeMissingException",
            "'leadId' is mandatory for updating lead",
        ));
    };
    let fields = attributes(body)?;
    let id = LeadId(lead_id.to_owned());
    check_unique(state, &fields, Some(&id))?;
    let Some(lead) = state.leads.iter_mut().find(|l| l.id == id) else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXInvalidEntityException",
            "Lead does not exist",
        ));
    };
    set_fields(&mut lead.fields, fields);
    stamp_system_fields(&mut lead.fields, super::FakeLeadSquared::API_USER_ID, false);
    Ok(json!({"Status": "Success", "Message": {"AffectedRows": 1}}))
}

/// The processing options every activity call accepts besides its own members.
const ACTIVITY_OPTIONS: [&str; 3] = [
    "ProcessFilesAsync",
    "ValidateDropDownOptions",
    "IncludeLeadScore",
];

/// An activity call's body: an object with the `required` members, and only those, the
/// `optional` ones and [`ACTIVITY_OPTIONS`].
fn activity_body<'a>(
    body: &'a Value,
    required: [&str; 2],
    optional: &[&str],
) -> Result<&'a Map<String, Value>, Reject> {
    let allowed: Vec<&str> = required
        .iter()
        .chain(optional)
        .chain(&ACTIVITY_OPTIONS)
        .copied()
        .collect();
    object(body, "body", &required, &allowed)
}

/// `ProspectActivity.svc/Create` → `{"Status":"Success","Message":{"Id"}}`.
fn activity_create(state: &mut FakeState, body: &Value) -> Outcome {
    let members = activity_body(
        body,
        ["RelatedProspectId", "ActivityEvent"],
        &["ActivityNote", "ActivityDateTime", "Fields"],
    )?;
    let lead = LeadId(string(members, "RelatedProspectId")?.to_owned());
    if !state.leads.iter().any(|l| l.id == lead) {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXInvalidEntityException",
            "Lead does not exist",
        ));
    }
    let event = i32::try_from(integer(members, "ActivityEvent")?)
        .map_err(|_| bad_request("ActivityEvent out of range"))?;
    let note = optional_string(members, "ActivityNote")?
        .unwrap_or_default()
        .to_owned();
    let date_time = match optional_string(members, "ActivityDateTime")? {
        Some(text) => {
            NaiveDateTime::parse_from_str(text, DATE_TIME_FORMAT)
                .map_err(|_| bad_request("ActivityDateTime must be yyyy-MM-dd HH:mm:ss"))?;
            text.to_owned()
        }
        None => format_date_time(&Utc::now()),
    };
    let mut fields = Vec::new();
    set_fields(&mut fields, schema_fields(members)?);
    let id = ActivityId(new_id());
    state.activities.push(StoredActivity {
        id: id.clone(),
        lead,
        event,
        note,
        date_time,
        fields,
    });
    Ok(json!({"Status": "Success", "Message": {"Id": id.0}}))
}

/// `ProspectActivity.svc/CustomActivity/Update` → `{"Status":"Success","Message":{"Id"}}`.
fn activity_update(state: &mut FakeState, body: &Value) -> Outcome {
    let members = activity_body(
        body,
        ["ProspectActivityId", "ActivityEvent"],
        &["ActivityNote", "Fields"],
    )?;
    let id = ActivityId(string(members, "ProspectActivityId")?.to_owned());
    let event = integer(members, "ActivityEvent")?;
    let note = optional_string(members, "ActivityNote")?.map(str::to_owned);
    let fields = schema_fields(members)?;
    let Some(activity) = state.activities.iter_mut().find(|a| a.id == id) else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXInvalidEntityException",
            "Activity does not exist",
        ));
    };
    if i64::from(activity.event) != event {
        return Err(bad_request(
            "ActivityEvent does not match the activity's type",
        ));
    }
    if let Some(note) = note {
        activity.note = note;
    }
    set_fields(&mut activity.fields, fields);
    Ok(json!({"Status": "Success", "Message": {"Id": id.0}}))
}

/// `ProspectActivity.svc/Retrieve?leadId=` → `{"RecordCount","ProspectActivities":[…]}`.
/// `Offset` is the page number (from 0, as the documented request example's `"0"` asks for
/// the first page) and `RowCount` the rows per page ("get-activities-of-a-lead"); without
/// `Paging` the first 25.
fn activity_retrieve(state: &FakeState, lead_id: Option<&str>, body: &Value) -> Outcome {
    let Some(lead_id) = lead_id.filter(|id| !id.is_empty()) else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "MXMandatoryAttributeMissingException",
            "'leadId' is mandatory",
        ));
    };
    let empty = Value::Object(Map::new());
    let body = if body.is_null() { &empty } else { body };
    let members = object(body, "body", &[], &["Parameter", "Paging"])?;
    let event = match members.get("Parameter") {
        Some(parameter) => {
            let parameter = object(parameter, "Parameter", &[], &["ActivityEvent"])?;
            match parameter.get("ActivityEvent") {
                Some(_) => Some(integer(parameter, "ActivityEvent")?),
                None => None,
            }
        }
        None => None,
    };
    let (offset, row_count) = paging(members, ["Offset", "RowCount"], (0, 25))?;
    if offset < 0 || row_count < 1 {
        return Err(bad_request("Offset must be >= 0 and RowCount >= 1"));
    }
    let matching: Vec<&StoredActivity> = state
        .activities
        .iter()
        .filter(|a| a.lead.0 == lead_id && event.is_none_or(|e| i64::from(a.event) == e))
        .collect();
    let skip = usize::try_from(offset.saturating_mul(row_count)).unwrap_or(usize::MAX);
    let page: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(usize::try_from(row_count).unwrap_or(usize::MAX))
        .map(|a| activity_json(a))
        .collect();
    Ok(json!({"RecordCount": matching.len(), "ProspectActivities": page}))
}

fn activity_json(activity: &StoredActivity) -> Value {
    let data: Vec<Value> = activity
        .fields
        .iter()
        .map(|f| json!({"Key": f.name, "Value": f.value}))
        .collect();
    json!({
        "Id": activity.id.0,
        "EventCode": activity.event,
        "EventName": format!("Activity {}", activity.event),
        "ActivityScore": 0,
        "CreatedOn": activity.date_time,
        "ActivityType": 2,
        "Type": "Inbound",
        "IsEmailType": false,
        "ActivityEvent_Note": activity.note,
        "Data": data,
    })
}
