//! `PatientStore`: one row per patient, the demographics as JSON.

use async_trait::async_trait;
use connector_domain::audit::{AuditEntry, Page};
use connector_domain::consent::Consent;
use connector_domain::patient::Patient;
use connector_domain::patient_search::PatientSearch;
use connector_domain::ports::{PageRequest, PatientStore};
use connector_domain::{PatientId, StoreError};
use rusqlite::params;

use super::audit::{self, AuditRow};
use super::consents::{self, ConsentRow};
use super::search_columns;
use super::to_json;
use crate::SqliteDb;
use crate::error::{conflict_or, db_err, invalid_call};

/// The patient store of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqlitePatientStore {
    pub(crate) db: SqliteDb,
}

#[async_trait]
impl PatientStore for SqlitePatientStore {
    async fn get(&self, id: &PatientId) -> Result<Option<Patient>, StoreError> {
        let key = id.as_str();
        self.db
            .body_by_key("patients", "patient_id", key, "patient")
            .await
    }

    async fn insert(
        &self,
        patient: &Patient,
        initial: Option<(&Consent, &AuditEntry)>,
    ) -> Result<(), StoreError> {
        let patient_id = patient.patient_id.as_str().to_owned();
        let body = to_json(patient, "patient")?;
        let (mrn, birth_date, name_key) = search_columns::patient_columns(patient);
        let initial = match initial {
            None => None,
            Some((consent, entry)) => {
                if consent.patient_id != patient.patient_id || consent.seq != 1 {
                    return Err(invalid_call(
                        "an initial consent must be the patient's record with seq 1",
                    ));
                }
                Some((ConsentRow::new(consent)?, AuditRow::new(entry)?))
            }
        };
        let with_consent = initial.is_some();
        let id = patient_id.clone();
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO patients (patient_id, body, mrn, birth_date, name_key) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut stmt| stmt.execute(params![id, body, mrn, birth_date, name_key]))
                .map_err(conflict_or("patient exists"))?;
                if let Some((consent, entry)) = initial {
                    consents::insert_record(tx, &consent, None)?;
                    audit::insert(tx, &entry)?;
                }
                Ok(())
            })
            .await?;
        tracing::debug!(patient_id = %patient_id, with_consent, "patient inserted");
        Ok(())
    }

    async fn update(&self, patient: &Patient) -> Result<(), StoreError> {
        let id = patient.patient_id.as_str().to_owned();
        let body = to_json(patient, "patient")?;
        let (mrn, birth_date, name_key) = search_columns::patient_columns(patient);
        let changed = self
            .db
            .write(move |tx| {
                tx.prepare_cached(
                    "UPDATE patients SET body = ?2, mrn = ?3, birth_date = ?4, name_key = ?5 \
                     WHERE patient_id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![id, body, mrn, birth_date, name_key]))
                .map_err(db_err)
            })
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        tracing::debug!(patient_id = %patient.patient_id, "patient updated");
        Ok(())
    }

    async fn search(
        &self,
        search: &PatientSearch,
        page: PageRequest<'_>,
    ) -> Result<Page<Patient>, StoreError> {
        let (cursor, limit) = (page.cursor.map(str::to_owned), page.limit);
        let search = search.clone();
        self.db
            .read(move |tx| {
                let page = PageRequest {
                    cursor: cursor.as_deref(),
                    limit,
                };
                search_columns::search_patients(tx, &search, page)
            })
            .await
    }
}
