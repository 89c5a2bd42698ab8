//! The CRM port: what the EHR ⇄ CRM flows need from a CRM (LeadSquared's model: leads with
//! fields addressed by schema name, and activities of numbered types attached to a lead).
//! Field values are patient data: every type holding them redacts its `Debug`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One CRM field: its schema name (`FirstName`, `mx_MRN`, `mx_Custom_1`) and value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmField {
    /// The CRM's schema name for the field.
    pub name: String,
    /// The value (PHI).
    pub value: String,
}

impl CrmField {
    /// A field.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl std::fmt::Debug for CrmField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrmField({} = {})", self.name, crate::phi::REDACTED)
    }
}

/// A CRM's id for a lead (LeadSquared's `ProspectID`). Not PHI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeadId(pub String);

/// A CRM's id for an activity (LeadSquared's `ProspectActivityId`). Not PHI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivityId(pub String);

/// A lead as found: its id and the fields the CRM returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    /// The lead's id.
    pub id: LeadId,
    /// Its fields.
    pub fields: Vec<CrmField>,
}

/// An activity as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The activity's id.
    pub id: ActivityId,
    /// The lead it belongs to.
    pub lead: LeadId,
    /// Its type (LeadSquared's `ActivityEvent` code).
    pub event: i32,
    /// Its custom fields.
    pub fields: Vec<CrmField>,
}

/// An activity to create or the new content of one to update.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivityInput {
    /// Its type (LeadSquared's `ActivityEvent` code).
    pub event: i32,
    /// Free-text note (may be PHI; never logged).
    pub note: String,
    /// When it happened (sent to LeadSquared as UTC `yyyy-MM-dd HH:mm:ss`).
    pub at: DateTime<Utc>,
    /// Custom fields (`mx_Custom_1` ...).
    pub fields: Vec<CrmField>,
}

impl std::fmt::Debug for ActivityInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityInput")
            .field("event", &self.event)
            .field("note", &crate::phi::REDACTED)
            .field("at", &self.at)
            .field("fields", &self.fields)
            .finish()
    }
}

/// Which activities to look for: those of type `event` on `lead` whose field `field` equals
/// `value`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ActivityQuery<'a> {
    /// The lead they belong to.
    pub lead: &'a LeadId,
    /// Their type (LeadSquared's `ActivityEvent` code).
    pub event: i32,
    /// The schema name of the field to match (`mx_Custom_1`).
    pub field: &'a str,
    /// The value it must equal (may be PHI; redacted in `Debug`).
    pub value: &'a str,
}

impl std::fmt::Debug for ActivityQuery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityQuery")
            .field("lead", self.lead)
            .field("event", &self.event)
            .field("field", &self.field)
            .field("value", &crate::phi::REDACTED)
            .finish()
    }
}

/// What a CRM adapter may report.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The CRM answered 429 and kept doing so through the adapter's retries.
    #[error("CRM rate limit")]
    RateLimited,
    /// The CRM refused the request (4xx other than 429): retrying will not help.
    #[error("CRM rejected the request ({status}: {exception_type})")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The CRM's exception type (LeadSquared's `ExceptionType`), never its message, which
        /// can quote values.
        exception_type: String,
    },
    /// The CRM failed (5xx) or could not be reached; retrying later may help.
    #[error("CRM unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The CRM's answer could not be understood.
    #[error("unexpected CRM response")]
    InvalidResponse,
}

impl CrmError {
    /// True when a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable(_))
    }
}

/// A CRM: leads and their activities.
#[async_trait]
pub trait Crm: Send + Sync {
    /// Up to `limit` leads whose field `field` equals `value` (ask for 2 to tell a unique match
    /// from an ambiguous one). Each holds its id, `field`, and the system fields `ModifiedBy`
    /// and `ModifiedOn` when the CRM has them; an adapter may return more fields, but callers
    /// that need the whole lead read it with [`Crm::get_lead`].
    async fn find_leads(
        &self,
        field: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Lead>, CrmError>;

    /// The first lead whose field `field` equals `value`, or `None` ([`Crm::find_leads`] with a
    /// limit of one; it cannot tell a unique match from an ambiguous one).
    async fn find_lead(&self, field: &str, value: &str) -> Result<Option<Lead>, CrmError> {
        Ok(self.find_leads(field, value, 1).await?.into_iter().next())
    }

    /// The lead with this id as the CRM holds it now (with its system fields, such as
    /// `ModifiedBy`), or `None`.
    async fn get_lead(&self, id: &LeadId) -> Result<Option<Lead>, CrmError> {
        self.find_lead("ProspectID", &id.0).await
    }

    /// Creates a lead; returns its id.
    async fn create_lead(&self, fields: &[CrmField]) -> Result<LeadId, CrmError>;

    /// Sets fields of an existing lead.
    async fn update_lead(&self, id: &LeadId, fields: &[CrmField]) -> Result<(), CrmError>;

    /// Up to `limit` of the activities `query` matches (ask for 2 to tell a unique match from
    /// an ambiguous one).
    async fn find_activities(
        &self,
        query: ActivityQuery<'_>,
        limit: usize,
    ) -> Result<Vec<Activity>, CrmError>;

    /// The first activity `query` matches, or `None` ([`Crm::find_activities`] with a limit of
    /// one).
    async fn find_activity(&self, query: ActivityQuery<'_>) -> Result<Option<Activity>, CrmError> {
        Ok(self.find_activities(query, 1).await?.into_iter().next())
    }

    /// Creates an activity on a lead; returns its id.
    async fn create_activity(
        &self,
        lead: &LeadId,
        activity: &ActivityInput,
    ) -> Result<ActivityId, CrmError>;

    /// Replaces an activity's note, time and fields.
    async fn update_activity(
        &self,
        id: &ActivityId,
        activity: &ActivityInput,
    ) -> Result<(), CrmError>;
}
