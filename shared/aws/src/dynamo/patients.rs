//! Patients on the `consents` table: `pk = PATIENT#<id>, sk = PROFILE`, beside the patient's
//! consent records, so that registering a patient with its opt-in-by-default consent is one
//! transaction in one partition (plus the audit entry and the consent id marker).

use async_trait::async_trait;

use connector_domain::audit::{AuditEntry, Page};
use connector_domain::consent::Consent;
use connector_domain::patient::Patient;
use connector_domain::patient_search::PatientSearch;
use connector_domain::ports::{PageRequest, PatientStore};
use connector_domain::{PatientId, StoreError};

use super::client::put_item;
use super::keys::{self, PK, SK, key2, s};
use super::{Dynamo, Expr, Item, codec, consents, search};

const KIND: &str = "patient";

/// Patients in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoPatientStore {
    db: Dynamo,
}

impl DynamoPatientStore {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }
}

fn profile_item(patient: &Patient) -> Result<Item, StoreError> {
    let mut item = codec::to_item(patient, KIND)?;
    item.insert(PK.to_owned(), s(keys::patient_pk(&patient.patient_id)));
    item.insert(SK.to_owned(), s(keys::SK_PROFILE));
    for (name, value) in search::patient_attributes(patient) {
        item.insert(name.to_owned(), value);
    }
    Ok(item)
}

#[async_trait]
impl PatientStore for DynamoPatientStore {
    async fn get(&self, id: &PatientId) -> Result<Option<Patient>, StoreError> {
        let key = key2(keys::patient_pk(id), keys::SK_PROFILE);
        self.db
            .consistent_get(&self.db.tables.consents, key, KIND)
            .await
    }

    async fn insert(
        &self,
        patient: &Patient,
        initial: Option<(&Consent, &AuditEntry)>,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_not_exists({})", e.name(PK));
        let profile = put_item(
            &self.db.tables.consents,
            profile_item(patient)?,
            &e,
            condition,
        )?;
        let mut items = vec![profile];
        let mut entries = None;
        if let Some((consent, entry)) = initial {
            if consent.seq != 1 || consent.patient_id != patient.patient_id {
                return Err(StoreError::Invalid(
                    "the initial consent must be the patient's record with seq 1",
                ));
            }
            items.extend(consents::new_record_items(&self.db, consent, None)?);
            entries = Some(entry);
        }
        self.db.transact_with_audit(items, entries).await
    }

    async fn update(&self, patient: &Patient) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_exists({})", e.name(PK));
        let item = profile_item(patient)?;
        let written = self
            .db
            .put_if(&self.db.tables.consents, item, &e, Some(condition))
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn search(
        &self,
        search: &PatientSearch,
        page: PageRequest<'_>,
    ) -> Result<Page<Patient>, StoreError> {
        search::search_patients(&self.db, search, page.cursor, page.limit).await
    }
}
