//! [`SqliteCrm`]: the embedded CRM (leads and activities in the database file).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::crm::{
    Activity, ActivityId, ActivityInput, ActivityQuery, Crm, CrmError, CrmField, Lead, LeadId,
};
use connector_domain::{Clock, StoreError, SystemClock};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use crate::SqliteDb;
use crate::error::{UnsupportedValue, db_err};
use crate::time::from_nanos;

/// The exception type of a refused reference to a lead or activity that does not exist.
const INVALID_ENTITY: &str = "MXInvalidEntityException";
/// The exception type of a refused request body.
const INVALID_INPUT: &str = "MXInvalidInputException";

/// An embedded CRM behind the domain's `Crm` port, so `connector serve` runs the
/// EHR -> CRM flows without a CRM account (evaluation, demos, tests). It follows LeadSquared's
/// model and, where the port leaves room, LeadSquared's behaviour:
///
/// - A lead is an id (a random UUID, like a `ProspectID`) and fields (schema name -> value,
///   kept as a JSON object). [`Crm::find_lead`] compares the field name exactly and the value
///   **case-insensitively** (Unicode lower case), as LeadSquared's `=` lookup on text columns
///   does; of several matching leads it returns the oldest. An empty value matches nothing
///   (LeadSquared treats an empty field as unset). The name `ProspectID` looks a lead up by id.
/// - [`Crm::update_lead`] merges: the given fields are set, the others kept.
/// - Every create and update stamps LeadSquared's system fields: `ModifiedBy` (always
///   [`SqliteCrm::USER_ID`]) and `ModifiedOn`, and on creation `ProspectID`, `CreatedBy` and
///   `CreatedOn` (times as `yyyy-MM-dd HH:mm:ss`, UTC), so echo detection works as it does
///   against LeadSquared.
/// - An activity belongs to a lead and has an event code, a note, a time and fields.
///   [`Crm::find_activity`] compares the field value **exactly** (as the LeadSquared adapter does,
///   client-side) and returns the oldest match. [`Crm::update_activity`] replaces the note and
///   the time and merges the fields (the given ones set, the others kept); its event code must
///   be the activity's.
/// - Refusals mirror LeadSquared's: an unknown lead or activity, an empty field list, an
///   event code that is not the activity's, or an activity time the store cannot hold (outside
///   1677..2262) is `CrmError::Rejected` with status 400 (and `MXInvalidEntityException` or
///   `MXInvalidInputException`), never retried. Unlike LeadSquared, no lead field is unique
///   (LeadSquared refuses a second lead with the same `EmailAddress` or `Phone`).
///
/// Field values and notes are PHI: nothing here logs them, and the record types' `Debug`
/// redacts them. [`SqliteCrm::leads`] and [`SqliteCrm::activities`] list what was written (for
/// demos and tests).
#[derive(Clone)]
pub struct SqliteCrm {
    db: SqliteDb,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteCrm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCrm")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// A lead as the embedded CRM stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmLeadRecord {
    /// Its id.
    pub id: LeadId,
    /// Its fields, ordered by name (values redacted in `Debug`).
    pub fields: Vec<CrmField>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl CrmLeadRecord {
    /// A field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        field(&self.fields, name)
    }
}

/// An activity as the embedded CRM stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct CrmActivityRecord {
    /// Its id.
    pub id: ActivityId,
    /// Its lead.
    pub lead: LeadId,
    /// Its type (`ActivityEvent` code).
    pub event: i32,
    /// Its note (PHI; redacted in `Debug`).
    pub note: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its fields, ordered by name (values redacted in `Debug`).
    pub fields: Vec<CrmField>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl CrmActivityRecord {
    /// A field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        field(&self.fields, name)
    }
}

impl std::fmt::Debug for CrmActivityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmActivityRecord")
            .field("id", &self.id)
            .field("lead", &self.lead)
            .field("event", &self.event)
            .field("note", &connector_domain::phi::REDACTED)
            .field("at", &self.at)
            .field("fields", &self.fields)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

fn field<'a>(fields: &'a [CrmField], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

fn rejected(exception_type: &str) -> CrmError {
    CrmError::Rejected {
        status: 400,
        exception_type: exception_type.to_owned(),
    }
}

/// The case-folded form of a value that lead lookups compare.
fn fold(value: &str) -> String {
    value.to_lowercase()
}

/// An instant as stored; instants outside 1677..2262 are refused (retrying cannot help).
fn crm_nanos(at: DateTime<Utc>) -> Result<i64, CrmError> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| rejected(INVALID_INPUT))
}

/// Decodes a stored fields object; a broken one is `InvalidResponse` (nothing quoted).
fn decode_fields(text: &str) -> Result<Map<String, Value>, CrmError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) if map.values().all(Value::is_string) => Ok(map),
        _ => {
            tracing::warn!(kind = "crm fields", "stored record failed to decode");
            Err(CrmError::InvalidResponse)
        }
    }
}

fn to_fields(map: &Map<String, Value>) -> Vec<CrmField> {
    map.iter()
        .filter_map(|(name, value)| value.as_str().map(|v| CrmField::new(name.clone(), v)))
        .collect()
}

/// Stamps LeadSquared's system fields: who changed the lead and when (and, on creation, who
/// created it and its `ProspectID`), set after the caller's fields so a mapping cannot forge them.
fn stamp(map: &mut Map<String, Value>, id: &str, at: &str, created: bool) {
    let mut set = |name: &str, value: &str| {
        map.insert(name.to_owned(), Value::String(value.to_owned()));
    };
    if created {
        set("ProspectID", id);
        set("CreatedBy", SqliteCrm::USER_ID);
        set("CreatedOn", at);
    }
    set("ModifiedBy", SqliteCrm::USER_ID);
    set("ModifiedOn", at);
}

/// LeadSquared's form of a time in system fields (`yyyy-MM-dd HH:mm:ss`, UTC).
fn crm_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Sets `updates` in `map` (the last of repeated names wins).
fn merge(map: &mut Map<String, Value>, updates: &[CrmField]) {
    for f in updates {
        map.insert(f.name.clone(), Value::String(f.value.clone()));
    }
}

fn encode(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

/// Records each given field's folded value for lookups.
fn index_values(conn: &Connection, lead: &str, fields: &[CrmField]) -> Result<(), CrmError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO crm_lead_values (lead_id, name, folded) VALUES (?1, ?2, ?3) \
             ON CONFLICT (lead_id, name) DO UPDATE SET folded = excluded.folded",
        )
        .map_err(crm_db)?;
    for f in fields {
        stmt.execute(params![lead, f.name, fold(&f.value)])
            .map_err(crm_db)?;
    }
    Ok(())
}

fn crm_db(err: rusqlite::Error) -> CrmError {
    CrmError::Unavailable(Box::new(err))
}

/// A lead's stored fields, or `None`.
fn lead_fields(conn: &Connection, id: &str) -> Result<Option<Map<String, Value>>, CrmError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT fields FROM crm_leads WHERE lead_id = ?1")
        .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)).optional())
        .map_err(crm_db)?;
    text.map(|t| decode_fields(&t)).transpose()
}

/// The columns of an activity, in [`RawActivity::from_row`]'s order.
const ACTIVITY_COLUMNS: &str =
    "activity_id, lead_id, event, note, at, fields, created_at, updated_at";

struct RawActivity {
    id: String,
    lead: String,
    event: i64,
    note: String,
    at: i64,
    fields: String,
    created_at: i64,
    updated_at: i64,
}

impl RawActivity {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            lead: row.get(1)?,
            event: row.get(2)?,
            note: row.get(3)?,
            at: row.get(4)?,
            fields: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
        })
    }

    fn decode(self) -> Result<CrmActivityRecord, CrmError> {
        Ok(CrmActivityRecord {
            id: ActivityId(self.id),
            lead: LeadId(self.lead),
            event: i32::try_from(self.event).map_err(|_| CrmError::InvalidResponse)?,
            note: self.note,
            at: from_nanos(self.at),
            fields: to_fields(&decode_fields(&self.fields)?),
            created_at: from_nanos(self.created_at),
            updated_at: from_nanos(self.updated_at),
        })
    }
}

impl SqliteCrm {
    /// The user id the embedded CRM stamps in `CreatedBy`/`ModifiedBy` for every write made
    /// through the port (the connector is its only API user).
    pub const USER_ID: &'static str = "connector";

    /// The embedded CRM of `db`, timestamping with the system clock.
    pub fn new(db: SqliteDb) -> Self {
        Self {
            db,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same CRM, timestamping records (`created_at`, `updated_at`) with `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Every lead, oldest first.
    pub async fn leads(&self) -> Result<Vec<CrmLeadRecord>, StoreError> {
        self.read_leads("", Vec::new()).await
    }

    /// One lead, or `None`.
    pub async fn lead(&self, id: &LeadId) -> Result<Option<CrmLeadRecord>, StoreError> {
        Ok(self
            .read_leads("WHERE lead_id = ?1", vec![id.0.clone()])
            .await?
            .pop())
    }

    async fn read_leads(
        &self,
        filter: &'static str,
        values: Vec<String>,
    ) -> Result<Vec<CrmLeadRecord>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = self
            .db
            .read(move |tx| {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "SELECT lead_id, fields, created_at, updated_at FROM crm_leads {filter} \
                         ORDER BY seq"
                    ))
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(values.iter()), |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await?;
        rows.into_iter()
            .map(|(id, fields, created_at, updated_at)| {
                Ok(CrmLeadRecord {
                    id: LeadId(id),
                    fields: to_fields(
                        &decode_fields(&fields).map_err(|_| StoreError::Corrupt("crm lead"))?,
                    ),
                    created_at: from_nanos(created_at),
                    updated_at: from_nanos(updated_at),
                })
            })
            .collect()
    }

    /// The activities of `lead`, oldest first.
    pub async fn activities(&self, lead: &LeadId) -> Result<Vec<CrmActivityRecord>, StoreError> {
        let lead = lead.0.clone();
        self.read_activities("WHERE lead_id = ?1", vec![lead]).await
    }

    /// One activity, or `None`.
    pub async fn activity(&self, id: &ActivityId) -> Result<Option<CrmActivityRecord>, StoreError> {
        let id = id.0.clone();
        Ok(self
            .read_activities("WHERE activity_id = ?1", vec![id])
            .await?
            .pop())
    }

    async fn read_activities(
        &self,
        filter: &'static str,
        values: Vec<String>,
    ) -> Result<Vec<CrmActivityRecord>, StoreError> {
        let raws: Vec<RawActivity> = self
            .db
            .read(move |tx| {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "SELECT {ACTIVITY_COLUMNS} FROM crm_activities {filter} ORDER BY seq"
                    ))
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(
                        rusqlite::params_from_iter(values.iter()),
                        RawActivity::from_row,
                    )
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await?;
        raws.into_iter()
            .map(|r| r.decode().map_err(|_| StoreError::Corrupt("crm activity")))
            .collect()
    }

    fn now(&self) -> Result<i64, CrmError> {
        crm_nanos(self.clock.now())
            .map_err(|_| CrmError::Unavailable(Box::new(UnsupportedValue("the clock's time"))))
    }
}

#[async_trait]
impl Crm for SqliteCrm {
    async fn find_leads(
        &self,
        field: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Lead>, CrmError> {
        if value.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (name, folded) = (field.to_owned(), fold(value));
        let by_id = field.eq_ignore_ascii_case("ProspectID");
        let value = value.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found: Vec<(String, String)> = self
            .db
            .read(move |tx| {
                let rows = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
                    tx.prepare_cached(sql).and_then(|mut stmt| {
                        stmt.query_map(params, |row| Ok((row.get(0)?, row.get(1)?)))?
                            .collect::<rusqlite::Result<Vec<(String, String)>>>()
                    })
                };
                if by_id {
                    rows(
                        "SELECT lead_id, fields FROM crm_leads WHERE lead_id = ?1",
                        &[&value],
                    )
                } else {
                    rows(
                        "SELECT l.lead_id, l.fields FROM crm_lead_values AS v \
                         JOIN crm_leads AS l ON l.lead_id = v.lead_id \
                         WHERE v.name = ?1 AND v.folded = ?2 ORDER BY l.seq LIMIT ?3",
                        &[&name, &folded, &limit],
                    )
                }
                .map_err(crm_db)
            })
            .await?;
        let leads = found
            .into_iter()
            .map(|(id, fields)| {
                Ok(Lead {
                    id: LeadId(id),
                    fields: to_fields(&decode_fields(&fields)?),
                })
            })
            .collect::<Result<Vec<_>, CrmError>>()?;
        tracing::debug!(found = leads.len(), "embedded crm: leads searched");
        Ok(leads)
    }

    async fn create_lead(&self, fields: &[CrmField]) -> Result<LeadId, CrmError> {
        if fields.is_empty() {
            return Err(rejected(INVALID_INPUT));
        }
        let now = self.now()?;
        let stamped_at = crm_time(self.clock.now());
        let id = uuid::Uuid::new_v4().to_string();
        let fields = fields.to_vec();
        let lead_id = id.clone();
        self.db
            .write(move |tx| {
                let mut map = Map::new();
                merge(&mut map, &fields);
                stamp(&mut map, &lead_id, &stamped_at, true);
                tx.prepare_cached(
                    "INSERT INTO crm_leads (lead_id, fields, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?3)",
                )
                .and_then(|mut stmt| stmt.execute(params![lead_id, encode(&map), now]))
                .map_err(crm_db)?;
                index_values(tx, &lead_id, &fields)
            })
            .await?;
        tracing::debug!(lead_id = %id, "embedded crm: lead created");
        Ok(LeadId(id))
    }

    async fn update_lead(&self, id: &LeadId, fields: &[CrmField]) -> Result<(), CrmError> {
        if fields.is_empty() {
            return Err(rejected(INVALID_INPUT));
        }
        let now = self.now()?;
        let stamped_at = crm_time(self.clock.now());
        let (lead_id, fields) = (id.0.clone(), fields.to_vec());
        self.db
            .write(move |tx| {
                let mut map = lead_fields(tx, &lead_id)?.ok_or_else(|| rejected(INVALID_ENTITY))?;
                merge(&mut map, &fields);
                stamp(&mut map, &lead_id, &stamped_at, false);
                tx.prepare_cached(
                    "UPDATE crm_leads SET fields = ?2, updated_at = ?3 WHERE lead_id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![lead_id, encode(&map), now]))
                .map_err(crm_db)?;
                index_values(tx, &lead_id, &fields)
            })
            .await?;
        tracing::debug!(lead_id = %id.0, "embedded crm: lead updated");
        Ok(())
    }

    async fn find_activities(
        &self,
        query: ActivityQuery<'_>,
        limit: usize,
    ) -> Result<Vec<Activity>, CrmError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (lead_id, event) = (query.lead.0.clone(), query.event);
        let (name, value) = (query.field.to_owned(), query.value.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw: Vec<RawActivity> = self
            .db
            .read(move |tx| {
                tx.prepare_cached(&format!(
                    "SELECT {ACTIVITY_COLUMNS} FROM crm_activities AS a \
                     WHERE a.lead_id = ?1 AND a.event = ?2 AND EXISTS ( \
                       SELECT 1 FROM json_each(a.fields) AS f WHERE f.key = ?3 AND f.value = ?4) \
                     ORDER BY a.seq LIMIT ?5"
                ))
                .and_then(|mut stmt| {
                    stmt.query_map(
                        params![lead_id, event, name, value, limit],
                        RawActivity::from_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(crm_db)
            })
            .await?;
        let activities = raw
            .into_iter()
            .map(|raw| {
                raw.decode().map(|r| Activity {
                    id: r.id,
                    lead: r.lead,
                    event: r.event,
                    fields: r.fields,
                })
            })
            .collect::<Result<Vec<_>, CrmError>>()?;
        tracing::debug!(lead_id = %query.lead.0, found = activities.len(), "embedded crm: activities searched");
        Ok(activities)
    }

    async fn create_activity(
        &self,
        lead: &LeadId,
        activity: &ActivityInput,
    ) -> Result<ActivityId, CrmError> {
        let now = self.now()?;
        let at = crm_nanos(activity.at)?;
        let id = uuid::Uuid::new_v4().to_string();
        let (activity_id, lead_id) = (id.clone(), lead.0.clone());
        let (event, note, fields) = (
            activity.event,
            activity.note.clone(),
            activity.fields.clone(),
        );
        self.db
            .write(move |tx| {
                if lead_fields(tx, &lead_id)?.is_none() {
                    return Err(rejected(INVALID_ENTITY));
                }
                let mut map = Map::new();
                merge(&mut map, &fields);
                tx.prepare_cached(&format!(
                    "INSERT INTO crm_activities ({ACTIVITY_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
                ))
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        activity_id,
                        lead_id,
                        event,
                        note,
                        at,
                        encode(&map),
                        now
                    ])
                })
                .map_err(crm_db)?;
                Ok(())
            })
            .await?;
        tracing::debug!(lead_id = %lead.0, activity_id = %id, event, "embedded crm: activity created");
        Ok(ActivityId(id))
    }

    async fn update_activity(
        &self,
        id: &ActivityId,
        activity: &ActivityInput,
    ) -> Result<(), CrmError> {
        let now = self.now()?;
        let at = crm_nanos(activity.at)?;
        let activity_id = id.0.clone();
        let (event, note, fields) = (
            activity.event,
            activity.note.clone(),
            activity.fields.clone(),
        );
        self.db
            .write(move |tx| {
                let stored: Option<(i64, String)> = tx
                    .prepare_cached(
                        "SELECT event, fields FROM crm_activities WHERE activity_id = ?1",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row([&activity_id], |row| Ok((row.get(0)?, row.get(1)?)))
                            .optional()
                    })
                    .map_err(crm_db)?;
                let (stored_event, stored_fields) =
                    stored.ok_or_else(|| rejected(INVALID_ENTITY))?;
                if stored_event != i64::from(event) {
                    return Err(rejected(INVALID_INPUT));
                }
                let mut map = decode_fields(&stored_fields)?;
                merge(&mut map, &fields);
                tx.prepare_cached(
                    "UPDATE crm_activities SET note = ?2, at = ?3, fields = ?4, updated_at = ?5 \
                     WHERE activity_id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![activity_id, note, at, encode(&map), now])
                })
                .map_err(crm_db)?;
                Ok(())
            })
            .await?;
        tracing::debug!(activity_id = %id.0, event, "embedded crm: activity updated");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_lookups_seek_the_value_index() {
        let plan = crate::sqlite::test_support::query_plan(
            "SELECT l.lead_id, l.fields FROM crm_lead_values AS v \
             JOIN crm_leads AS l ON l.lead_id = v.lead_id \
             WHERE v.name = ?1 AND v.folded = ?2 ORDER BY l.seq LIMIT 1",
            ["mx_MRN", "x"],
        );
        assert!(plan.contains("crm_lead_values_lookup"), "{plan}");
    }

    #[test]
    fn folding_is_unicode_lower_case() {
        assert_eq!(fold("ÉLODIE@Example.ORG"), "élodie@example.org");
    }
}
