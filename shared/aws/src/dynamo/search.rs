//! The front desk's patient search and a patient's appointment list, on GSIs (never a scan).
//!
//! Consents table, on each patient profile item (`pk = PATIENT#<id>, sk = PROFILE`), written
//! with the profile itself (so in the same transaction as a new patient's consent):
//! - `by_mrn`: partition `smrn = <MRN>`, sort `pk`;
//! - `by_birth_name`: partition `sbirth = <YYYY-MM-DD>`, sort `sname = <folded last name>#<id>`,
//!   queried with `begins_with(sname, <folded prefix>)` (a folded name holds only letters and
//!   digits, so `#` ends it and sorts before any of them).
//!
//! Appointments table, on each appointment item, written by every `put`:
//! - `by_patient_start`: partition `apatient = <patient id>`, sort
//!   `akey = <scheduled_start, fixed width>#<appointment id>`, read newest first.
//!
//! All three are sparse and project ALL. Items written before these attributes existed are in
//! no index until they are written again (see the README).

use aws_sdk_dynamodb::types::AttributeValue;
use connector_domain::appointment::Appointment;
use connector_domain::audit::Page;
use connector_domain::cursor;
use connector_domain::patient::Patient;
use connector_domain::patient_search::{PatientSearch, name_key};
use connector_domain::{PatientId, StoreError};
use serde::de::DeserializeOwned;

use super::keys::{self, PK, SK, s};
use super::query::Query;
use super::{Dynamo, Expr, Item, codec};

/// Consents table: index of patient profiles by MRN.
pub const INDEX_BY_MRN: &str = "by_mrn";
/// Consents table: partition attribute of `by_mrn` (the MRN).
pub const SMRN: &str = "smrn";
/// Consents table: index of patient profiles by birth date and folded last name.
pub const INDEX_BY_BIRTH_NAME: &str = "by_birth_name";
/// Consents table: partition attribute of `by_birth_name` (`YYYY-MM-DD`).
pub const SBIRTH: &str = "sbirth";
/// Consents table: sort attribute of `by_birth_name` (`<folded last name>#<patient id>`).
pub const SNAME: &str = "sname";
/// Appointments table: index of appointments by patient and scheduled start.
pub const INDEX_BY_PATIENT_START: &str = "by_patient_start";
/// Appointments table: partition attribute of `by_patient_start` (the patient id).
pub const APATIENT: &str = "apatient";
/// Appointments table: sort attribute of `by_patient_start` (`<start>#<appointment id>`).
pub const AKEY: &str = "akey";

/// The search attributes of a patient's profile item.
pub(crate) fn patient_attributes(patient: &Patient) -> [(&'static str, AttributeValue); 3] {
    [
        (SMRN, s(patient.mrn.expose())),
        (
            SBIRTH,
            s(patient.birth_date.expose().format("%Y-%m-%d").to_string()),
        ),
        (
            SNAME,
            s(format!("{}#{}", name_key(patient), patient.patient_id)),
        ),
    ]
}

/// The index attributes of an appointment item.
pub(crate) fn appointment_attributes(
    appointment: &Appointment,
) -> [(&'static str, AttributeValue); 2] {
    [
        (APATIENT, s(appointment.patient_id.as_str())),
        (
            AKEY,
            s(format!(
                "{}#{}",
                keys::sortable_time(appointment.scheduled_start),
                appointment.appointment_id
            )),
        ),
    ]
}

/// Reads up to `limit` items of `q` (and one more, to tell whether a next page exists); the
/// cursor holds the last item's `sort` value (the index's sort attribute) and table key.
async fn query_page<T: DeserializeOwned>(
    db: &Dynamo,
    q: Query<'_>,
    sort: &'static str,
    kind: &'static str,
    limit: usize,
) -> Result<Page<T>, StoreError> {
    let q = q.limit(limit.saturating_add(1));
    let mut found = db.query_all(q).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = match found.last() {
        Some(item) if more => {
            let sort = codec::string(item, sort, kind)?;
            let pk = codec::string(item, PK, kind)?;
            Some(cursor::encode(&[sort, pk]))
        }
        _ => None,
    };
    let items = found
        .into_iter()
        .map(|item| codec::from_item(item, kind))
        .collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// The exclusive start key of an index query from a cursor: the index key
/// (`partition`, `sort` from the cursor) and the table key (`pk` from the cursor, `sk` when the
/// table has one).
fn start_key(
    cursor: Option<&str>,
    partition: (&str, &AttributeValue),
    sort: &str,
    sk: Option<&str>,
) -> Result<Option<Item>, StoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let mut parts = cursor::decode(cursor, 2)?;
    let pk = parts.pop().unwrap_or_default();
    let sort_value = parts.pop().unwrap_or_default();
    let mut item = Item::new();
    item.insert(partition.0.to_owned(), partition.1.clone());
    item.insert(sort.to_owned(), s(sort_value));
    item.insert(PK.to_owned(), s(pk));
    if let Some(sk) = sk {
        item.insert(SK.to_owned(), s(sk));
    }
    Ok(Some(item))
}

/// `PatientStore::search` on the consents table's indexes.
pub(crate) async fn search_patients(
    db: &Dynamo,
    search: &PatientSearch,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<Patient>, StoreError> {
    let mut e = Expr::default();
    let (index, key_condition, start, sort) = match search {
        PatientSearch::Mrn(mrn) => {
            let value = s(mrn.expose());
            let start = start_key(cursor, (SMRN, &value), PK, Some(keys::SK_PROFILE))?;
            let condition = format!("{} = {}", e.name(SMRN), e.value(value));
            (INDEX_BY_MRN, condition, start, PK)
        }
        PatientSearch::LastNameBirthDate { prefix, birth_date } => {
            let date = s(birth_date.format("%Y-%m-%d").to_string());
            let start = start_key(cursor, (SBIRTH, &date), SNAME, Some(keys::SK_PROFILE))?;
            let condition = e.partition_and_prefix((SBIRTH, date), (SNAME, s(prefix.as_str())));
            (INDEX_BY_BIRTH_NAME, condition, start, SNAME)
        }
    };
    let q = Query::new(&db.tables.consents, key_condition, &e)
        .index(index)
        .start(start);
    query_page(db, q, sort, "patient", limit).await
}

/// `AppointmentStore::for_patient` on the appointments table's `by_patient_start` index.
pub(crate) async fn patient_appointments(
    db: &Dynamo,
    patient: &PatientId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<Appointment>, StoreError> {
    let mut e = Expr::default();
    let value = s(patient.as_str());
    let start = start_key(cursor, (APATIENT, &value), AKEY, None)?;
    let key_condition = format!("{} = {}", e.name(APATIENT), e.value(value));
    let q = Query::new(&db.tables.appointments, key_condition, &e)
        .index(INDEX_BY_PATIENT_START)
        .newest_first(true)
        .start(start);
    query_page(db, q, AKEY, "appointment", limit).await
}
