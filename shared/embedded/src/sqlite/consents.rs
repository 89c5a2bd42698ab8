//! `ConsentStore`: one row per record, keyed by id, unique by (patient, seq). The latest record is
//! the patient's highest `seq`, so the "latest pointer" cannot drift from the records.

use async_trait::async_trait;
use connector_domain::audit::AuditEntry;
use connector_domain::consent::Consent;
use connector_domain::ports::ConsentStore;
use connector_domain::{ConsentId, PatientId, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{self, AuditRow};
use super::{all_rows, from_json, to_json};
use crate::SqliteDb;
use crate::error::{UnsupportedValue, conflict_or, db_err, invalid_call};

/// The consent store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteConsentStore {
    pub(crate) db: SqliteDb,
}

/// A consent record as stored.
pub(crate) struct ConsentRow {
    consent_id: String,
    patient_id: String,
    seq: i64,
    revoked: bool,
    body: String,
}

impl ConsentRow {
    /// Encodes a record.
    pub(crate) fn new(consent: &Consent) -> Result<Self, StoreError> {
        Ok(Self {
            consent_id: consent.consent_id.as_str().to_owned(),
            patient_id: consent.patient_id.as_str().to_owned(),
            seq: i64::try_from(consent.seq)
                .map_err(|_| StoreError::unavailable(UnsupportedValue("consent seq")))?,
            revoked: consent.is_revoked(),
            body: to_json(consent, "consent")?,
        })
    }
}

/// The patient's highest `seq`, if any.
fn latest_seq(conn: &Connection, patient_id: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT MAX(seq) FROM consents WHERE patient_id = ?1")
        .and_then(|mut stmt| stmt.query_row([patient_id], |row| row.get(0)))
        .map_err(db_err)
}

/// Inserts `row` as the patient's new latest record, if the patient's latest is still
/// `expected_latest_seq`. Call inside a write transaction.
pub(crate) fn insert_record(
    conn: &Connection,
    row: &ConsentRow,
    expected_latest_seq: Option<i64>,
) -> Result<(), StoreError> {
    if latest_seq(conn, &row.patient_id)? != expected_latest_seq {
        return Err(StoreError::Conflict("latest consent changed"));
    }
    conn.prepare_cached(
        "INSERT INTO consents (consent_id, patient_id, seq, revoked, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| stmt.execute(params![row.consent_id, row.patient_id, row.seq, row.revoked, row.body]))
    .map_err(conflict_or("consent id exists"))?;
    Ok(())
}

fn decode_all(bodies: Vec<String>) -> Result<Vec<Consent>, StoreError> {
    bodies.iter().map(|b| from_json(b, "consent")).collect()
}

#[async_trait]
impl ConsentStore for SqliteConsentStore {
    async fn append(
        &self,
        consent: &Consent,
        expected_latest_seq: Option<u64>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        if Some(consent.seq) != expected_latest_seq.unwrap_or(0).checked_add(1) {
            return Err(invalid_call("consent seq must be expected_latest_seq + 1"));
        }
        let row = ConsentRow::new(consent)?;
        let entry = AuditRow::new(audit)?;
        let expected = expected_latest_seq
            .map(i64::try_from)
            .transpose()
            .map_err(|_| StoreError::unavailable(UnsupportedValue("consent seq")))?;
        self.db
            .write(move |tx| {
                insert_record(tx, &row, expected)?;
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(patient_id = %consent.patient_id, consent_id = %consent.consent_id, seq = consent.seq, "consent appended");
        Ok(())
    }

    async fn revoke(&self, consent: &Consent, audit: &AuditEntry) -> Result<(), StoreError> {
        let Some(revocation) = consent.revocation.clone() else {
            return Err(invalid_call(
                "revoke needs a consent with its revocation set",
            ));
        };
        let consent_id = consent.consent_id.as_str().to_owned();
        let patient_id = consent.patient_id.as_str().to_owned();
        let entry = AuditRow::new(audit)?;
        self.db
            .write(move |tx| {
                let stored: Option<(i64, String)> = tx
                    .prepare_cached("SELECT seq, body FROM consents WHERE consent_id = ?1 AND patient_id = ?2")
                    .and_then(|mut stmt| {
                        stmt.query_row([&consent_id, &patient_id], |row| Ok((row.get(0)?, row.get(1)?))).optional()
                    })
                    .map_err(db_err)?;
                let (seq, body) = stored.ok_or(StoreError::NotFound)?;
                let mut record: Consent = from_json(&body, "consent")?;
                if latest_seq(tx, &patient_id)? != Some(seq) {
                    return Err(StoreError::Conflict("consent is not the latest"));
                }
                if record.is_revoked() {
                    return Err(StoreError::Conflict("consent already revoked"));
                }
                // Records are immutable except for revoking: keep the stored fields, add the revocation.
                record.revocation = Some(revocation);
                let body = to_json(&record, "consent")?;
                let changed = tx
                    .prepare_cached("UPDATE consents SET revoked = 1, body = ?2 WHERE consent_id = ?1 AND revoked = 0")
                    .and_then(|mut stmt| stmt.execute(params![consent_id, body]))
                    .map_err(db_err)?;
                if changed != 1 {
                    return Err(StoreError::Conflict("consent already revoked"));
                }
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(patient_id = %consent.patient_id, consent_id = %consent.consent_id, "consent revoked");
        Ok(())
    }

    async fn latest(&self, patient: &PatientId) -> Result<Option<Consent>, StoreError> {
        self.db
            .read_body(
                "SELECT body FROM consents WHERE patient_id = ?1 ORDER BY seq DESC LIMIT 1",
                vec![patient.as_str().to_owned()],
                "consent",
            )
            .await
    }

    async fn latest_many(&self, patients: &[PatientId]) -> Result<Vec<Consent>, StoreError> {
        let mut ids: Vec<&str> = patients.iter().map(PatientId::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for any number of ids: the ids travel as one JSON array parameter.
        let ids = serde_json::to_string(&ids).map_err(|_| StoreError::Corrupt("patient ids"))?;
        let bodies: Vec<String> = self
            .db
            .read(move |tx| {
                let sql = "SELECT c.body FROM json_each(?1) AS ids \
                     JOIN consents AS c ON c.patient_id = ids.value \
                     AND c.seq = (SELECT MAX(seq) FROM consents WHERE patient_id = ids.value)";
                all_rows(tx, sql, [ids], |row| row.get(0))
            })
            .await?;
        decode_all(bodies)
    }

    async fn history(&self, patient: &PatientId) -> Result<Vec<Consent>, StoreError> {
        let patient_id = patient.as_str().to_owned();
        let bodies: Vec<String> = self
            .db
            .read(move |tx| {
                let sql = "SELECT body FROM consents WHERE patient_id = ?1 ORDER BY seq DESC";
                all_rows(tx, sql, [patient_id], |row| row.get(0))
            })
            .await?;
        decode_all(bodies)
    }

    async fn get(
        &self,
        patient: &PatientId,
        id: &ConsentId,
    ) -> Result<Option<Consent>, StoreError> {
        self.db
            .read_body(
                "SELECT body FROM consents WHERE consent_id = ?1 AND patient_id = ?2",
                vec![id.as_str().to_owned(), patient.as_str().to_owned()],
                "consent",
            )
            .await
    }
}
