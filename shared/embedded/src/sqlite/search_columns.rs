//! The search columns (schema version 6): a patient's MRN, birth date and folded last name, and
//! an appointment's start, kept beside the JSON body so the front desk's searches and a
//! patient's appointment list are index reads; the backfill of rows stored before version 6;
//! and the two paginated queries.

use chrono::{DateTime, Utc};
use connector_domain::appointment::Appointment;
use connector_domain::audit::Page;
use connector_domain::cursor::{decode as decode_cursor, encode as encode_cursor};
use connector_domain::patient::Patient;
use connector_domain::patient_search::{PatientSearch, fold_name, name_key};
use connector_domain::ports::PageRequest;
use connector_domain::{PatientId, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{from_json, sql_limit};
use crate::error::db_err;
use crate::time::nanos_clamped;

/// A patient's search columns: `(mrn, birth_date, name_key)`.
pub(crate) fn patient_columns(patient: &Patient) -> (String, String, String) {
    (
        patient.mrn.expose().to_owned(),
        patient.birth_date.expose().format("%Y-%m-%d").to_string(),
        name_key(patient),
    )
}

/// An appointment's `starts_at` column.
pub(crate) fn starts_at(appointment: &Appointment) -> i64 {
    nanos_clamped(appointment.scheduled_start)
}

/// Fills the search columns of every row stored before they existed, from the JSON bodies (read
/// as plain JSON, so a body that does not decode leaves its row unsearchable rather than the
/// database unopenable).
pub(crate) fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let text = |body: &serde_json::Value, field: &str| {
        body.get(field)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let patients: Vec<(String, String)> = conn
        .prepare("SELECT patient_id, body FROM patients")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare(
        "UPDATE patients SET mrn = ?2, birth_date = ?3, name_key = ?4 WHERE patient_id = ?1",
    )?;
    for (id, body) in patients {
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let name = text(&body, "last_name").map(|n| fold_name(&n));
        update.execute(rusqlite::params![
            id,
            text(&body, "mrn"),
            text(&body, "birth_date"),
            name
        ])?;
    }
    let appointments: Vec<(String, String)> = conn
        .prepare("SELECT appointment_id, body FROM appointments")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update =
        conn.prepare("UPDATE appointments SET starts_at = ?2 WHERE appointment_id = ?1")?;
    for (id, body) in appointments {
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let start = text(&body, "scheduled_start")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| nanos_clamped(t.with_timezone(&Utc)));
        update.execute(rusqlite::params![id, start])?;
    }
    Ok(())
}

/// One page of bodies (one row more than `limit` was asked for, to tell whether more follow),
/// with the cursor of the last row kept.
fn page<T: serde::de::DeserializeOwned>(
    rows: Vec<(String, String, String)>,
    limit: usize,
    kind: &'static str,
) -> Result<Page<T>, StoreError> {
    let more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let next_cursor = match rows.last() {
        Some((a, b, _)) if more => Some(encode_cursor(&[a, b])),
        _ => None,
    };
    let items = rows
        .iter()
        .map(|(_, _, body)| from_json(body, kind))
        .collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Runs `sql` with `values`, each row `(sort key, id, body)`.
fn rows(
    conn: &Connection,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<(String, String, String)>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(values), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect()
        })
        .map_err(db_err)
}

/// Patients matching `search` (see `PatientStore::search`).
pub(crate) fn search_patients(
    conn: &Connection,
    search: &PatientSearch,
    request: PageRequest<'_>,
) -> Result<Page<Patient>, StoreError> {
    let fetch = Value::Integer(sql_limit(request.limit.saturating_add(1)));
    let rows = match search {
        PatientSearch::Mrn(mrn) => {
            let after = request
                .cursor
                .map(|c| decode_cursor(c, 2))
                .transpose()?
                .map(|mut parts| parts.remove(1))
                .unwrap_or_default();
            rows(
                conn,
                "SELECT mrn, patient_id, body FROM patients \
                 WHERE mrn = ?1 AND patient_id > ?2 ORDER BY patient_id LIMIT ?3",
                vec![
                    Value::Text(mrn.expose().to_owned()),
                    Value::Text(after),
                    fetch,
                ],
            )?
        }
        PatientSearch::LastNameBirthDate { prefix, birth_date } => {
            // Every folded key starting with `prefix` sorts in [prefix, prefix + U+10FFFF).
            let upper = format!("{prefix}\u{10FFFF}");
            let (after_name, after_id) =
                match request.cursor.map(|c| decode_cursor(c, 2)).transpose()? {
                    Some(mut parts) => {
                        let id = parts.remove(1);
                        (parts.remove(0), id)
                    }
                    None => (String::new(), String::new()),
                };
            rows(
                conn,
                "SELECT name_key, patient_id, body FROM patients \
                 WHERE birth_date = ?1 AND name_key >= ?2 AND name_key < ?3 \
                 AND (name_key > ?4 OR (name_key = ?4 AND patient_id > ?5)) \
                 ORDER BY name_key, patient_id LIMIT ?6",
                vec![
                    Value::Text(birth_date.format("%Y-%m-%d").to_string()),
                    Value::Text(prefix.clone()),
                    Value::Text(upper),
                    Value::Text(after_name),
                    Value::Text(after_id),
                    fetch,
                ],
            )?
        }
    };
    page(rows, request.limit, "patient")
}

/// The patient's appointments, newest first (see `AppointmentStore::for_patient`).
pub(crate) fn patient_appointments(
    conn: &Connection,
    patient: &PatientId,
    request: PageRequest<'_>,
) -> Result<Page<Appointment>, StoreError> {
    let (before_start, before_id) = match request.cursor.map(|c| decode_cursor(c, 2)).transpose()? {
        Some(parts) => (
            parts[0]
                .parse::<i64>()
                .map_err(|_| StoreError::InvalidCursor)?,
            parts[1].clone(),
        ),
        None => (i64::MAX, "\u{10FFFF}".to_owned()),
    };
    let rows = rows(
        conn,
        "SELECT CAST(starts_at AS TEXT), appointment_id, body FROM appointments \
         WHERE patient_id = ?1 \
         AND (starts_at < ?2 OR (starts_at = ?2 AND appointment_id < ?3)) \
         ORDER BY starts_at DESC, appointment_id DESC LIMIT ?4",
        vec![
            Value::Text(patient.as_str().to_owned()),
            Value::Integer(before_start),
            Value::Text(before_id),
            Value::Integer(sql_limit(request.limit.saturating_add(1))),
        ],
    )?;
    page(rows, request.limit, "appointment")
}

#[cfg(test)]
mod tests {
    use super::super::migrate::migrate;
    use super::super::schema::{MIGRATIONS, SEARCH_COLUMNS_VERSION};
    use super::*;

    #[test]
    fn migrating_fills_the_columns_of_rows_stored_before() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before = SEARCH_COLUMNS_VERSION as usize - 1;
        for sql in &MIGRATIONS[..before] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", SEARCH_COLUMNS_VERSION - 1)
            .unwrap();
        conn.execute_batch(
            r#"INSERT INTO patients VALUES ('p-1',
                 '{"mrn":"MRN-1","last_name":"Núñez-Ortiz","birth_date":"1980-02-29"}');
               INSERT INTO patients VALUES ('p-2', 'not json');
               INSERT INTO appointments (appointment_id, patient_id, body) VALUES ('a-1', 'p-1',
                 '{"scheduled_start":"2026-01-05T10:00:00.5Z"}');"#,
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let row: (String, String, String) = conn
            .query_row(
                "SELECT mrn, birth_date, name_key FROM patients WHERE patient_id = 'p-1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            ("MRN-1".into(), "1980-02-29".into(), "nunezortiz".into())
        );
        let unreadable: Option<String> = conn
            .query_row(
                "SELECT mrn FROM patients WHERE patient_id = 'p-2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unreadable, None, "left unsearchable, the file still opens");
        let start: i64 = conn
            .query_row("SELECT starts_at FROM appointments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(start, 1_767_607_200_500_000_000);
    }
}
