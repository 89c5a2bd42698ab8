//! Patients on the `consents` table: `pk = PATIENT#<id>, sk = PROFILE`, beside the patient's
//! consent records, so that registering a patient with its opt-in-by-default consent is one
//! transaction in one partition (plus the audit entry and the consent id marker).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use connector_domain::audit::{AuditEntry, Page};
use connector_domain::consent::Consent;
use connector_domain::patient::Patient;
use connector_domain::patient_search::PatientSearch;
use connector_domain::ports::PatientStore;
use connector_domain::{PatientId, StoreError};

use super::keys::{self, PK, SK, key2, s};
use super::{Dynamo, Expr, Item, audit, built, codec, consents, search};
use crate::config::TableNames;
use crate::error_map;

const KIND: &str = "patient";

/// Patients in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoPatientStore {
    db: Dynamo,
}

impl DynamoPatientStore {
    /// A store on `tables.consents`; the initial consent's audit entry goes to `tables.audit` and
    /// expires after `audit_retention`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        tables: TableNames,
        audit_retention: Duration,
    ) -> Self {
        Self {
            db: Dynamo {
                client,
                tables,
                audit_retention,
            },
        }
    }

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
        let out = self
            .db
            .client
            .get_item()
            .table_name(&self.db.tables.consents)
            .set_key(Some(key2(keys::patient_pk(id), keys::SK_PROFILE)))
            .consistent_read(true)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        out.item
            .map(|item| codec::from_item(item, KIND))
            .transpose()
    }

    async fn insert(
        &self,
        patient: &Patient,
        initial: Option<(&Consent, &AuditEntry)>,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_not_exists({})", e.name(PK));
        let profile = built(
            Put::builder()
                .table_name(&self.db.tables.consents)
                .set_item(Some(profile_item(patient)?))
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().put(profile).build()];
        if let Some((consent, entry)) = initial {
            if consent.seq != 1 || consent.patient_id != patient.patient_id {
                return Err(StoreError::Invalid(
                    "the initial consent must be the patient's record with seq 1",
                ));
            }
            items.extend(consents::new_record_items(&self.db, consent, None)?);
            items.push(audit::put_entry(&self.db, entry)?);
        }
        self.db
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(error_map::transaction)?;
        Ok(())
    }

    async fn update(&self, patient: &Patient) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let condition = format!("attribute_exists({})", e.name(PK));
        let result = self
            .db
            .client
            .put_item()
            .table_name(&self.db.tables.consents)
            .set_item(Some(profile_item(patient)?))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if error_map::is_condition_failure(&err) => Err(StoreError::NotFound),
            Err(err) => Err(error_map::dynamo(err)),
        }
    }

    async fn search(
        &self,
        search: &PatientSearch,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Patient>, StoreError> {
        search::search_patients(&self.db, search, cursor, limit).await
    }
}
