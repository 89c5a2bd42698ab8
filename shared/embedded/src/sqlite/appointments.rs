//! `AppointmentStore`: one row per appointment; the transition fields are also columns, with an
//! index on `(transitioned_at, appointment_id)` for the collector's scan.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::appointment::{Appointment, TransitionCursor};
use connector_domain::audit::Page;
use connector_domain::ports::{AppointmentStore, PageRequest};
use connector_domain::{AppointmentId, PatientId, StoreError};
use rusqlite::{Connection, params};

use super::{from_json, optional_body, search_columns, sql_limit, to_json};
use crate::SqliteDb;
use crate::error::db_err;
use crate::time::{nanos, nanos_clamped};

/// The appointment store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteAppointmentStore {
    pub(crate) db: SqliteDb,
}

fn body_column(row: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    row.get(0)
}

fn load(conn: &Connection, id: &str) -> Result<Option<Appointment>, StoreError> {
    optional_body(
        conn,
        "SELECT body FROM appointments WHERE appointment_id = ?1",
        [id],
        "appointment",
    )
}

fn save(conn: &Connection, appointment: &Appointment) -> Result<(), StoreError> {
    let transitioned_at = appointment.transitioned_at.map(nanos).transpose()?;
    let body = to_json(appointment, "appointment")?;
    conn.prepare_cached(
        "INSERT INTO appointments (appointment_id, patient_id, transition_seq, transitioned_at, body, starts_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (appointment_id) DO UPDATE SET patient_id = excluded.patient_id, \
         transition_seq = excluded.transition_seq, transitioned_at = excluded.transitioned_at, body = excluded.body, \
         starts_at = excluded.starts_at",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            appointment.appointment_id.as_str(),
            appointment.patient_id.as_str(),
            appointment.transition_seq,
            transitioned_at,
            body,
            search_columns::starts_at(appointment)
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl AppointmentStore for SqliteAppointmentStore {
    async fn get(&self, id: &AppointmentId) -> Result<Option<Appointment>, StoreError> {
        let id = id.as_str().to_owned();
        self.db.read(move |tx| load(tx, &id)).await
    }

    async fn put(&self, appointment: &Appointment) -> Result<(), StoreError> {
        let appointment = appointment.clone();
        let id = appointment.appointment_id.clone();
        self.db
            .write(move |tx| {
                let stored = load(tx, appointment.appointment_id.as_str())?;
                save(tx, &appointment.scheduled_over(stored.as_ref()))
            })
            .await?;
        tracing::debug!(appointment_id = %id, "appointment stored");
        Ok(())
    }

    async fn record_transition(
        &self,
        id: &AppointmentId,
        expected_seq: u32,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError> {
        let key = id.as_str().to_owned();
        let updated = self
            .db
            .write(move |tx| {
                // The write transaction is the compare-and-set: nothing changes it meanwhile.
                let appointment = Appointment::transitioned(load(tx, &key)?, expected_seq, at)?;
                save(tx, &appointment)?;
                Ok(appointment)
            })
            .await?;
        tracing::debug!(appointment_id = %id, transition_seq = updated.transition_seq, "appointment transition recorded");
        Ok(updated)
    }

    async fn transitioned(
        &self,
        after: Option<&TransitionCursor>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Appointment>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = nanos_clamped(until);
        let after = after.map(|c| {
            (
                nanos_clamped(c.transitioned_at),
                // No id: before every appointment at that instant ("" sorts first).
                c.appointment_id
                    .as_ref()
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default(),
            )
        });
        let limit = sql_limit(limit);
        let bodies: Vec<String> = self
            .db
            .read(move |tx| {
                let mut stmt;
                let rows = match &after {
                    None => {
                        stmt = tx
                            .prepare_cached(
                                "SELECT body FROM appointments \
                                 WHERE transitioned_at IS NOT NULL AND transitioned_at <= ?1 \
                                 ORDER BY transitioned_at, appointment_id LIMIT ?2",
                            )
                            .map_err(db_err)?;
                        stmt.query_map(params![until, limit], body_column)
                    }
                    Some((at, id)) => {
                        stmt = tx
                            .prepare_cached(
                                "SELECT body FROM appointments \
                                 WHERE transitioned_at >= ?1 AND transitioned_at <= ?3 \
                                 AND (transitioned_at > ?1 OR appointment_id > ?2) \
                                 ORDER BY transitioned_at, appointment_id LIMIT ?4",
                            )
                            .map_err(db_err)?;
                        stmt.query_map(params![at, id, until, limit], body_column)
                    }
                }
                .map_err(db_err)?;
                rows.collect::<Result<Vec<String>, _>>().map_err(db_err)
            })
            .await?;
        let appointments = bodies
            .iter()
            .map(|b| from_json(b, "appointment"))
            .collect::<Result<Vec<Appointment>, _>>()?;
        tracing::debug!(
            count = appointments.len(),
            "transitioned appointments listed"
        );
        Ok(appointments)
    }

    async fn for_patient(
        &self,
        patient: &PatientId,
        page: PageRequest<'_>,
    ) -> Result<Page<Appointment>, StoreError> {
        let (patient, cursor, limit) =
            (patient.clone(), page.cursor.map(str::to_owned), page.limit);
        self.db
            .read(move |tx| {
                let page = PageRequest {
                    cursor: cursor.as_deref(),
                    limit,
                };
                search_columns::patient_appointments(tx, &patient, page)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_transition_scan_reads_its_index_in_order() {
        for sql in [
            "SELECT body FROM appointments WHERE transitioned_at IS NOT NULL AND transitioned_at <= 5 \
             ORDER BY transitioned_at, appointment_id LIMIT 10",
            "SELECT body FROM appointments WHERE transitioned_at >= 1 AND transitioned_at <= 5 \
             AND (transitioned_at > 1 OR appointment_id > 'a') ORDER BY transitioned_at, appointment_id LIMIT 10",
        ] {
            let plan = crate::sqlite::test_support::query_plan(sql, []);
            assert!(
                plan.contains("appointments_by_transition") && !plan.contains("TEMP B-TREE"),
                "{plan}"
            );
        }
    }
}
