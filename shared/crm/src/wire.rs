//! LeadSquared v2 JSON bodies, as documented on apidocs.leadsquared.com (pages named per type).
//!
//! Requests are typed; responses are read leniently (unknown members ignored, scalar values of any
//! JSON type accepted as text) because LeadSquared returns many more columns than the ones used.
//! Nothing here implements `Debug` over values in a way that could reach a log: request types
//! have no `Debug`, and parse failures are reported without serde's message (which quotes input).

use chrono::{DateTime, Utc};
use connector_domain::crm::{Activity, ActivityId, CrmField, Lead, LeadId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `ActivityDateTime` format: UTC `yyyy-MM-dd HH:mm:ss` ("post-an-activity-to-lead",
/// "create-lead-and-activity": "The supported DateTime format is UTC (YYYY-MM-DD HH:MM:SS)").
pub(crate) const DATE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Formats an activity time for LeadSquared.
pub(crate) fn format_date_time(at: &DateTime<Utc>) -> String {
    at.format(DATE_TIME_FORMAT).to_string()
}

/// One `{"Attribute","Value"}` pair of a lead body (`Lead.Create`, `Lead.Update`: a JSON array of
/// these; "create-a-lead", "update-a-lead").
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttributeValue<'a> {
    pub attribute: &'a str,
    pub value: &'a str,
}

/// The body of a lead create or update.
pub(crate) fn lead_attributes(fields: &[CrmField]) -> Vec<AttributeValue<'_>> {
    fields
        .iter()
        .map(|f| AttributeValue {
            attribute: &f.name,
            value: &f.value,
        })
        .collect()
}

/// `POST /v2/LeadManagement.svc/Leads.Get` ("search-by-lead-criteria"):
/// `{"Parameter":{"LookupName","LookupValue","SqlOperator"},"Columns":{"Include_CSV"},
/// "Paging":{"PageIndex","PageSize"}}`. `Include_CSV` names the "lead fields that should be
/// included in the result" by schema name; the documented example names `ProspectID` too.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LeadsGetRequest<'a> {
    pub parameter: LookupParameter<'a>,
    pub columns: Columns,
    pub paging: PageIndexPaging,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LookupParameter<'a> {
    pub lookup_name: &'a str,
    pub lookup_value: &'a str,
    pub sql_operator: &'a str,
}

#[derive(Serialize)]
pub(crate) struct Columns {
    #[serde(rename = "Include_CSV")]
    pub include_csv: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PageIndexPaging {
    pub page_index: u32,
    pub page_size: u32,
}

/// The system fields every lead search asks for: the id, and who changed the lead last and
/// when (what echo suppression reads).
pub(crate) const SYSTEM_COLUMNS: [&str; 3] = ["ProspectID", "ModifiedBy", "ModifiedOn"];

impl<'a> LeadsGetRequest<'a> {
    /// The first `page_size` leads whose `field` equals `value` exactly (`SqlOperator` `=`),
    /// with the columns [`SYSTEM_COLUMNS`] and `field`.
    pub(crate) fn exact(field: &'a str, value: &'a str, page_size: u32) -> Self {
        let mut columns: Vec<&str> = SYSTEM_COLUMNS.to_vec();
        if !columns.iter().any(|c| c.eq_ignore_ascii_case(field)) {
            columns.push(field);
        }
        Self {
            parameter: LookupParameter {
                lookup_name: field,
                lookup_value: value,
                sql_operator: "=",
            },
            columns: Columns {
                include_csv: columns.join(","),
            },
            paging: PageIndexPaging {
                page_index: 1,
                page_size: page_size.max(1),
            },
        }
    }
}

/// One `{"SchemaName","Value"}` activity field.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SchemaValue<'a> {
    pub schema_name: &'a str,
    pub value: &'a str,
}

fn schema_values(fields: &[CrmField]) -> Vec<SchemaValue<'_>> {
    fields
        .iter()
        .map(|f| SchemaValue {
            schema_name: &f.name,
            value: &f.value,
        })
        .collect()
}

/// `POST /v2/ProspectActivity.svc/Create` ("post-an-activity-to-lead").
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivityCreateRequest<'a> {
    pub related_prospect_id: &'a str,
    pub activity_event: i32,
    pub activity_note: &'a str,
    pub activity_date_time: String,
    pub fields: Vec<SchemaValue<'a>>,
}

impl<'a> ActivityCreateRequest<'a> {
    pub(crate) fn new(lead: &'a LeadId, input: &'a connector_domain::crm::ActivityInput) -> Self {
        Self {
            related_prospect_id: &lead.0,
            activity_event: input.event,
            activity_note: &input.note,
            activity_date_time: format_date_time(&input.at),
            fields: schema_values(&input.fields),
        }
    }
}

/// `POST /v2/ProspectActivity.svc/CustomActivity/Update` ("update-activity"). The documented body
/// has no `ActivityDateTime`: an activity's time cannot be changed through it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivityUpdateRequest<'a> {
    pub prospect_activity_id: &'a str,
    pub activity_event: i32,
    pub activity_note: &'a str,
    pub fields: Vec<SchemaValue<'a>>,
}

impl<'a> ActivityUpdateRequest<'a> {
    pub(crate) fn new(id: &'a ActivityId, input: &'a connector_domain::crm::ActivityInput) -> Self {
        Self {
            prospect_activity_id: &id.0,
            activity_event: input.event,
            activity_note: &input.note,
            fields: schema_values(&input.fields),
        }
    }
}

/// `POST /v2/ProspectActivity.svc/Retrieve?leadId=` ("get-activities-of-a-lead"):
/// `{"Parameter":{"ActivityEvent"},"Paging":{"Offset","RowCount"}}`. The page documents
/// `Offset` as "the page number" and `RowCount` as "the number of results per page" (25
/// without paging); its request example asks for `"Offset":"0"`, so pages count from 0.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivityRetrieveRequest {
    pub parameter: ActivityEventParameter,
    pub paging: OffsetPaging,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivityEventParameter {
    pub activity_event: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OffsetPaging {
    /// The page number, from 0.
    pub offset: u32,
    pub row_count: u32,
}

/// A LeadSquared answer envelope, told apart from others by its `Status` member.
pub(crate) trait Envelope: DeserializeOwned {
    /// The `Status` this envelope has (compared in any case).
    const STATUS: &'static str;

    /// The `Status` member.
    fn status(&self) -> Option<&str>;

    /// The envelope in `body`, if `body` is one (its `Status` is [`Self::STATUS`]).
    fn parse(body: &Value) -> Option<Self> {
        let envelope = Self::deserialize(body).ok()?;
        envelope
            .status()
            .is_some_and(|s| s.eq_ignore_ascii_case(Self::STATUS))
            .then_some(envelope)
    }
}

/// The error envelope `{"Status":"Error","ExceptionType":"MX…Exception","ExceptionMessage":"…"}`.
/// `ExceptionMessage` is deliberately not a member: it may quote submitted values.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorEnvelope {
    pub status: Option<String>,
    pub exception_type: Option<String>,
}

impl Envelope for ErrorEnvelope {
    const STATUS: &'static str = "error";

    fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
}

impl ErrorEnvelope {
    /// The exception type, read from a raw body of any shape.
    pub(crate) fn exception_type_of(body: &[u8]) -> Option<String> {
        let value: Value = serde_json::from_slice(body).ok()?;
        Self::deserialize(&value)
            .ok()?
            .exception_type
            .filter(|t| !t.is_empty())
    }
}

/// `{"Status":"Success","Message":{"Id":"…"}}` (Lead.Create, ProspectActivity.svc/Create,
/// CustomActivity/Update) or `{"Status":"Success","Message":{"AffectedRows":1}}` (Lead.Update).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SuccessEnvelope {
    pub status: String,
    pub message: Option<SuccessMessage>,
}

impl Envelope for SuccessEnvelope {
    const STATUS: &'static str = "success";

    fn status(&self) -> Option<&str> {
        Some(&self.status)
    }
}

impl SuccessEnvelope {
    /// The created or updated record's id.
    pub(crate) fn id(self) -> Option<String> {
        self.message?.id.filter(|id| !id.is_empty())
    }
}

/// The `Message` of a [`SuccessEnvelope`].
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SuccessMessage {
    pub id: Option<String>,
    pub affected_rows: Option<i64>,
}

/// `Leads.Get` and `Leads.GetById` answer a JSON array of lead objects, each with
/// `ProspectID` and one member per column (`FirstName`, `EmailAddress`, `mx_…`, plus numbers
/// such as `Score`; `null` for a column without a value).
pub(crate) fn parse_leads(body: Value) -> Result<Vec<Lead>, ()> {
    let Value::Array(leads) = body else {
        return Err(());
    };
    leads.into_iter().map(parse_lead).collect()
}

fn parse_lead(lead: Value) -> Result<Lead, ()> {
    let Value::Object(members) = lead else {
        return Err(());
    };
    let mut id = None;
    let mut fields = Vec::new();
    for (name, value) in members {
        if name.eq_ignore_ascii_case("ProspectID") {
            id = scalar_text(value);
        } else if let Some(text) = scalar_text(value) {
            fields.push(CrmField { name, value: text });
        }
    }
    let id = id.filter(|id| !id.is_empty()).ok_or(())?;
    Ok(Lead {
        id: LeadId(id),
        fields,
    })
}

/// `ProspectActivity.svc/Retrieve` answers
/// `{"RecordCount":n,"ProspectActivities":[{"Id","EventCode","EventName","CreatedOn",…,
/// "Data":[{"Key","Value"}…]}]}` ("get-activities-of-a-lead": "the data that isn't common between
/// activities is encapsulated in the 'Data' parameter of the response, which is a key-value pair
/// of all properties for that activity"; practitioners read it as a list of `{Key, Value}`; an
/// object of key → value is accepted too).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivitiesPage {
    pub record_count: Option<Value>,
    #[serde(rename = "ProspectActivities", default)]
    pub activities: Vec<ActivityRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActivityRecord {
    #[serde(alias = "ProspectActivityId")]
    pub id: String,
    pub event_code: Option<Value>,
    #[serde(default)]
    pub data: Value,
}

impl ActivitiesPage {
    pub(crate) fn parse(body: Value) -> Result<Self, ()> {
        Self::deserialize(body).map_err(|_| ())
    }

    /// The total number of matching activities, when LeadSquared states it.
    pub(crate) fn record_count(&self) -> Option<u64> {
        match self.record_count.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

impl ActivityRecord {
    /// The activity's type code, when present.
    pub(crate) fn event_code(&self) -> Option<i32> {
        match self.event_code.as_ref()? {
            Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The `Data` properties as fields.
    pub(crate) fn fields(&self) -> Vec<CrmField> {
        match &self.data {
            Value::Array(items) => items
                .iter()
                .filter_map(|item| {
                    let name = item.get("Key")?.as_str()?;
                    let value = scalar_text(item.get("Value")?.clone())?;
                    Some(CrmField {
                        name: name.to_owned(),
                        value,
                    })
                })
                .collect(),
            Value::Object(members) => members
                .iter()
                .filter_map(|(name, value)| {
                    Some(CrmField {
                        name: name.clone(),
                        value: scalar_text(value.clone())?,
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The domain view of this record.
    pub(crate) fn into_activity(self, lead: &LeadId, event: i32) -> Activity {
        let fields = self.fields();
        let event = self.event_code().unwrap_or(event);
        Activity {
            id: ActivityId(self.id),
            lead: lead.clone(),
            event,
            fields,
        }
    }
}

/// A scalar JSON value as text; `null`, arrays and objects have none.
fn scalar_text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn leads_get_body_is_the_documented_shape() {
        let body = serde_json::to_value(LeadsGetRequest::exact("mx_MRN", "A-1", 2)).unwrap();
        assert_eq!(
            body,
            json!({"Parameter":{"LookupName":"mx_MRN","LookupValue":"A-1","SqlOperator":"="},
                   "Columns":{"Include_CSV":"ProspectID,ModifiedBy,ModifiedOn,mx_MRN"},
                   "Paging":{"PageIndex":1,"PageSize":2}})
        );
        let by_id = serde_json::to_value(LeadsGetRequest::exact("ProspectID", "p-1", 1)).unwrap();
        assert_eq!(
            by_id["Columns"]["Include_CSV"],
            json!("ProspectID,ModifiedBy,ModifiedOn")
        );
    }

    #[test]
    fn activity_time_is_utc_without_offset() {
        let at = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(format_date_time(&at), "2025-03-04 05:06:07");
    }

    #[test]
    fn lead_parsing_keeps_scalars_and_skips_nulls() {
        let lead = parse_leads(json!([{"ProspectID":"p-1","FirstName":"Ann","Score":12.5,"Company":null,"DoNotCall":false}]))
            .unwrap()
            .remove(0);
        assert_eq!(lead.id, LeadId("p-1".into()));
        let mut fields = lead.fields;
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            fields,
            vec![
                CrmField::new("DoNotCall", "false"),
                CrmField::new("FirstName", "Ann"),
                CrmField::new("Score", "12.5")
            ]
        );
        assert_eq!(parse_leads(json!([])), Ok(Vec::new()));
        assert_eq!(
            parse_leads(json!([{"ProspectID":"p-1"},{"ProspectID":"p-2"}]))
                .unwrap()
                .len(),
            2
        );
        assert!(parse_leads(json!([{"FirstName":"Ann"}])).is_err());
        assert!(parse_leads(json!({"Status":"Success"})).is_err());
    }

    #[test]
    fn activity_data_as_list_or_object() {
        let page = ActivitiesPage::parse(json!({"RecordCount":"2","ProspectActivities":[
            {"Id":"a-1","EventCode":201,"Data":[{"Key":"mx_Custom_1","Value":"x"},{"Key":"mx_Custom_2","Value":null}]},
            {"Id":"a-2","EventCode":"201","Data":{"mx_Custom_1":"y"}}
        ]}))
        .unwrap();
        assert_eq!(page.record_count(), Some(2));
        assert_eq!(
            page.activities[0].fields(),
            vec![CrmField::new("mx_Custom_1", "x")]
        );
        assert_eq!(page.activities[1].event_code(), Some(201));
        assert_eq!(
            page.activities[1].fields(),
            vec![CrmField::new("mx_Custom_1", "y")]
        );
    }

    #[test]
    fn envelopes() {
        let error = json!({"Status":"Error","ExceptionType":"MXInvalidEntityException","ExceptionMessage":"Jane Doe"});
        assert_eq!(
            ErrorEnvelope::parse(&error)
                .unwrap()
                .exception_type
                .as_deref(),
            Some("MXInvalidEntityException")
        );
        assert!(ErrorEnvelope::parse(&json!([])).is_none());
        assert!(ErrorEnvelope::parse(&json!({"Status":"Success"})).is_none());
        let ok =
            SuccessEnvelope::parse(&json!({"Status":"Success","Message":{"Id":"l-1"}})).unwrap();
        assert_eq!(ok.id().as_deref(), Some("l-1"));
    }
}
