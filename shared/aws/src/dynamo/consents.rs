//! Consent records on the `consents` table.
//!
//! Partition `pk = PATIENT#<id>` holds the patient's `PROFILE`, every record as
//! `CONSENT#<seq, 20 digits>`, and `LATEST`, a full copy of the latest record (its `seq`
//! included) written in the same transaction as the record. A consent id's uniqueness marker lives
//! at `pk = CONSENTID#<id>, sk = ID`. Every write also puts its audit entry, in one
//! TransactWriteItems.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use connector_domain::audit::AuditEntry;
use connector_domain::consent::Consent;
use connector_domain::ports::ConsentStore;
use connector_domain::{ConsentId, PatientId, StoreError};

use super::client::{Conditional, TxError, put_item, update_item};
use super::keys::{self, PK, SK, key2, n, s};
use super::query::Query;
use super::{Dynamo, Expr, Item, audit, built, codec};
use crate::error_map;

const KIND: &str = "consent";

/// Consent records in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoConsentStore {
    db: Dynamo,
}

impl DynamoConsentStore {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }
}

fn consent_item(consent: &Consent, sk: String) -> Result<Item, StoreError> {
    let mut item = codec::to_item(consent, KIND)?;
    item.insert(PK.to_owned(), s(keys::patient_pk(&consent.patient_id)));
    item.insert(SK.to_owned(), s(sk));
    Ok(item)
}

/// The items that record a new consent as the latest: the record, the LATEST copy (conditional on
/// the expected latest seq), and the id's uniqueness marker.
pub(crate) fn new_record_items(
    db: &Dynamo,
    consent: &Consent,
    expected_latest_seq: Option<u64>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let table = &db.tables.consents;
    let mut e = Expr::default();
    let condition = format!("attribute_not_exists({})", e.name(PK));
    let record = put_item(
        table,
        consent_item(consent, keys::consent_sk(consent.seq))?,
        &e,
        condition,
    )?;

    let mut e = Expr::default();
    let condition = match expected_latest_seq {
        None => format!("attribute_not_exists({})", e.name(PK)),
        Some(seq) => format!("{} = {}", e.name("seq"), e.value(n(seq))),
    };
    let latest = put_item(
        table,
        consent_item(consent, keys::SK_LATEST.to_owned())?,
        &e,
        condition,
    )?;

    let mut e = Expr::default();
    let marker = Item::from([
        (PK.to_owned(), s(keys::consent_id_pk(&consent.consent_id))),
        (SK.to_owned(), s(keys::SK_CONSENT_ID)),
        ("patient_id".to_owned(), s(consent.patient_id.as_str())),
        ("seq".to_owned(), n(consent.seq)),
    ]);
    let condition = format!("attribute_not_exists({})", e.name(PK));
    let marker = put_item(table, marker, &e, condition)?;
    Ok(vec![record, latest, marker])
}

/// Ids in first-seen order, without repeats.
fn unique(patients: &[PatientId]) -> Vec<&PatientId> {
    let mut seen = HashSet::new();
    patients.iter().filter(|id| seen.insert(*id)).collect()
}

impl DynamoConsentStore {
    /// The patient's records, newest first; with `only`, just the record with that id (a filter on
    /// the same query: histories are short, one record a year or so).
    async fn records(
        &self,
        patient: &PatientId,
        only: Option<&ConsentId>,
    ) -> Result<Vec<Consent>, StoreError> {
        let mut e = Expr::default();
        let key = e.partition_and_prefix(
            (PK, s(keys::patient_pk(patient))),
            (SK, s(keys::SK_CONSENT_PREFIX)),
        );
        let filter =
            only.map(|id| format!("{} = {}", e.name("consent_id"), e.value(s(id.as_str()))));
        let mut q = Query::new(&self.db.tables.consents, key, &e)
            .filter(filter)
            .newest_first(true)
            .consistent();
        if only.is_some() {
            q = q.limit(1);
        }
        let items = self.db.query_all(q).await?;
        items
            .into_iter()
            .map(|item| codec::from_item(item, KIND))
            .collect()
    }
}

#[async_trait]
impl ConsentStore for DynamoConsentStore {
    async fn append(
        &self,
        consent: &Consent,
        expected_latest_seq: Option<u64>,
        audit_entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        if consent.seq != expected_latest_seq.unwrap_or(0) + 1 {
            return Err(StoreError::Invalid(
                "consent seq must be the expected latest seq plus one",
            ));
        }
        let items = new_record_items(&self.db, consent, expected_latest_seq)?;
        self.db.transact_with_audit(items, [audit_entry]).await
    }

    async fn revoke(&self, consent: &Consent, audit_entry: &AuditEntry) -> Result<(), StoreError> {
        let Some(revocation) = &consent.revocation else {
            return Err(StoreError::Invalid(
                "a revoked record must carry its revocation",
            ));
        };
        let table = &self.db.tables.consents;
        let pk = keys::patient_pk(&consent.patient_id);
        let revocation = codec::to_value(revocation, KIND)?;

        // The record: it must exist with this id and not be revoked yet.
        let mut e = Expr::default();
        let set = format!(
            "SET {} = {}",
            e.name("revocation"),
            e.value(revocation.clone())
        );
        let condition = format!(
            "attribute_exists({}) AND {} = {} AND attribute_not_exists({})",
            e.name(PK),
            e.name("consent_id"),
            e.value(s(consent.consent_id.as_str())),
            e.name("revocation")
        );
        let record = built(
            Update::builder()
                .table_name(table)
                .set_key(Some(key2(pk.clone(), keys::consent_sk(consent.seq))))
                .update_expression(set)
                .under(&e, condition)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;

        // LATEST: it must still be this record, unrevoked.
        let mut e = Expr::default();
        let set = format!("SET {} = {}", e.name("revocation"), e.value(revocation));
        let condition = format!(
            "{} = {} AND {} = {} AND attribute_not_exists({})",
            e.name("seq"),
            e.value(n(consent.seq)),
            e.name("consent_id"),
            e.value(s(consent.consent_id.as_str())),
            e.name("revocation")
        );
        let latest = update_item(table, key2(pk, keys::SK_LATEST), &e, set, condition)?;

        let items = vec![
            TransactWriteItem::builder().update(record).build(),
            latest,
            audit::put_entry(&self.db, audit_entry)?,
        ];
        let (reasons, translated) = match self.db.transact(items, false).await {
            Ok(()) => return Ok(()),
            Err(TxError::Cancelled(reasons, translated)) => (reasons, translated),
            Err(TxError::Failed(err)) => return Err(err),
        };
        // The record's own condition failed: tell "no such record" from "changed meanwhile".
        if let Some(reason) = reasons
            .first()
            .filter(|r| error_map::is_condition_reason(r))
        {
            let same_record = reason
                .item()
                .and_then(|old| old.get("consent_id"))
                .is_some_and(|id| id == &s(consent.consent_id.as_str()));
            if !same_record {
                return Err(StoreError::NotFound);
            }
        }
        Err(translated)
    }

    async fn latest(&self, patient: &PatientId) -> Result<Option<Consent>, StoreError> {
        let key = key2(keys::patient_pk(patient), keys::SK_LATEST);
        self.db
            .consistent_get(&self.db.tables.consents, key, KIND)
            .await
    }

    async fn latest_many(&self, patients: &[PatientId]) -> Result<Vec<Consent>, StoreError> {
        let keys = unique(patients)
            .into_iter()
            .map(|id| key2(keys::patient_pk(id), keys::SK_LATEST))
            .collect();
        self.db
            .batch_get(&self.db.tables.consents, keys, KIND)
            .await
    }

    async fn history(&self, patient: &PatientId) -> Result<Vec<Consent>, StoreError> {
        self.records(patient, None).await
    }

    async fn get(
        &self,
        patient: &PatientId,
        id: &ConsentId,
    ) -> Result<Option<Consent>, StoreError> {
        Ok(self.records(patient, Some(id)).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keeps_first_occurrence_order() {
        let ids: Vec<PatientId> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|v| PatientId::parse(*v).unwrap())
            .collect();
        let got: Vec<&str> = unique(&ids).iter().map(|id| id.as_str()).collect();
        assert_eq!(got, ["b", "a", "c"]);
    }
}
