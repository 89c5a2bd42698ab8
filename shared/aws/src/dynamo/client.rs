//! The helpers every DynamoDB store uses on the shared client: a transaction (alone, or with
//! its audit entries), a consistent read, conditional single-item writes (one that returns the
//! item it found), the builders of conditional transaction items, and [`Conditional`], which
//! puts a condition and its placeholders on any of those requests. Each maps DynamoDB's errors
//! the one way the stores do (`error_map`). Queries are in `query`.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::{
    ConditionCheckBuilder, DeleteBuilder, PutBuilder, UpdateBuilder,
};
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use serde::de::DeserializeOwned;

use super::{Dynamo, Expr, Item, built, codec};
use crate::config::TableNames;
use crate::error_map;

/// What a conditional update came to.
pub(crate) enum Updated {
    /// Written: the item as it is now.
    Written(Item),
    /// The condition failed: the item as it was (`None` when there was none).
    Refused(Option<Item>),
}

/// How a transaction failed.
pub(crate) enum TxError {
    /// Cancelled: one reason per item, in request order, and the usual translation.
    Cancelled(Vec<CancellationReason>, StoreError),
    /// Failed before any item was decided.
    Failed(StoreError),
}

impl TxError {
    /// The usual translation, whatever the reasons.
    pub fn into_store_error(self) -> StoreError {
        match self {
            TxError::Cancelled(_, e) | TxError::Failed(e) => e,
        }
    }
}

/// A request builder that carries a condition expression and the placeholders of the
/// request's expressions: the single-item writes (PutItem, UpdateItem, DeleteItem) and a
/// transaction's Put, Update, Delete and ConditionCheck.
pub(crate) trait Conditional: Sized {
    /// Sets `condition` (none when `None`) and every placeholder `e` collected, for the
    /// condition and for an update expression alike (an empty map is left unset).
    fn under(self, e: &Expr, condition: impl Into<Option<String>>) -> Self;
}

/// Implements [`Conditional`] for builders whose setters have the SDK's usual names.
macro_rules! conditional_builders {
    ($($builder:ty),+ $(,)?) => {$(
        impl Conditional for $builder {
            fn under(self, e: &Expr, condition: impl Into<Option<String>>) -> Self {
                self.set_condition_expression(condition.into())
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
            }
        }
    )+};
}

conditional_builders!(
    PutItemFluentBuilder,
    UpdateItemFluentBuilder,
    DeleteItemFluentBuilder,
    PutBuilder,
    UpdateBuilder,
    DeleteBuilder,
    ConditionCheckBuilder,
);

/// Whether a single-item write was done (`false`: its condition failed; other errors as
/// `error_map::dynamo`).
fn condition_held<T, E>(
    result: Result<T, SdkError<E, error_map::HttpResponse>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if error_map::is_condition_failure(&err) => Ok(false),
        Err(err) => Err(error_map::dynamo(err)),
    }
}

impl Dynamo {
    /// The shared client, table names and audit retention.
    pub(crate) fn new(
        client: aws_sdk_dynamodb::Client,
        tables: TableNames,
        audit_retention: std::time::Duration,
    ) -> Self {
        Dynamo {
            client,
            tables,
            audit_retention,
        }
    }

    /// Writes `items`, the audit `entries` and the dashboard counters they add in one
    /// TransactWriteItems. A failed condition is `Conflict`; a transaction cancelled only by a
    /// concurrent one on a shared counter is sent again (its conditions are checked anew).
    pub(crate) async fn transact_with_audit<'a>(
        &self,
        mut items: Vec<TransactWriteItem>,
        entries: impl IntoIterator<Item = &'a AuditEntry>,
    ) -> Result<(), StoreError> {
        // Each entry brings the dashboard counters it adds, so they count it exactly once.
        for entry in entries {
            items.extend(super::dashboard::entry_writes(self, entry)?);
        }
        super::dashboard::transact(self, items).await
    }

    /// One transaction: the Update of `key` in `table` with `update` under `condition`
    /// (placeholders from `e`), and `entry` with its dashboard counters.
    pub(crate) async fn update_with_audit(
        &self,
        table: &str,
        key: Item,
        e: &Expr,
        update: String,
        condition: String,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let item = update_item(table, key, e, update, condition)?;
        self.transact_with_audit(vec![item], [entry]).await
    }

    /// Sends one TransactWriteItems; `idempotent` adds a fresh client request token, so the
    /// SDK's own retries of it cannot apply it twice.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        idempotent: bool,
    ) -> Result<(), TxError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_client_request_token(idempotent.then(|| uuid::Uuid::new_v4().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match error_map::cancellation_reasons(err) {
                Ok((reasons, translated)) => Err(TxError::Cancelled(reasons, translated)),
                Err(other) => Err(TxError::Failed(other)),
            },
        }
    }

    /// One PutItem of `item` in `table`, under `condition` when given (placeholders from `e`):
    /// whether it was written (`false`: the condition failed).
    pub(crate) async fn put_if(
        &self,
        table: &str,
        item: Item,
        e: &Expr,
        condition: Option<String>,
    ) -> Result<bool, StoreError> {
        condition_held(
            self.client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .under(e, condition)
                .send()
                .await,
        )
    }

    /// One UpdateItem of `key` in `table` with `update`, under `condition` when given
    /// (placeholders from `e`): whether it was written (`false`: the condition failed).
    pub(crate) async fn update_if(
        &self,
        table: &str,
        key: Item,
        e: &Expr,
        update: String,
        condition: Option<String>,
    ) -> Result<bool, StoreError> {
        condition_held(
            self.client
                .update_item()
                .table_name(table)
                .set_key(Some(key))
                .update_expression(update)
                .under(e, condition)
                .send()
                .await,
        )
    }

    /// One DeleteItem of `key` in `table` under `condition` (placeholders from `e`): whether it
    /// was deleted (`false`: the condition failed).
    pub(crate) async fn delete_if(
        &self,
        table: &str,
        key: Item,
        e: &Expr,
        condition: String,
    ) -> Result<bool, StoreError> {
        condition_held(
            self.client
                .delete_item()
                .table_name(table)
                .set_key(Some(key))
                .under(e, condition)
                .send()
                .await,
        )
    }

    /// The item at `key` in `table`, read consistently.
    pub(crate) async fn consistent_get_item(
        &self,
        table: &str,
        key: Item,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        Ok(out.item)
    }

    /// The records of `kind` at `keys` in `table` (BatchGetItem, consistent), decoded, in no
    /// particular order; keys without an item are left out.
    pub(crate) async fn batch_get<T: DeserializeOwned>(
        &self,
        table: &str,
        keys: Vec<Item>,
        kind: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let items = super::batch::get_all(&self.client, table, keys).await?;
        items
            .into_iter()
            .map(|item| codec::from_item(item, kind))
            .collect()
    }

    /// The record of `kind` at `key` in `table`, read consistently and decoded.
    pub(crate) async fn consistent_get<T: DeserializeOwned>(
        &self,
        table: &str,
        key: Item,
        kind: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.consistent_get_item(table, key)
            .await?
            .map(|item| codec::from_item(item, kind))
            .transpose()
    }

    /// One UpdateItem of `key` in `table` with `update` under `condition` (placeholders from
    /// `e`): the new item, or the old one when the condition failed.
    pub(crate) async fn conditional_update(
        &self,
        table: &str,
        key: Item,
        e: &Expr,
        update: String,
        condition: String,
    ) -> Result<Updated, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .under(e, condition)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Updated::Written(out.attributes.unwrap_or_default())),
            Err(err) if error_map::is_condition_failure(&err) => {
                Ok(Updated::Refused(match err.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                }))
            }
            Err(err) => Err(error_map::dynamo(err)),
        }
    }
}

/// A transaction's Update of `key` in `table` with `update` under `condition` (placeholders
/// from `e`).
pub(crate) fn update_item(
    table: &str,
    key: Item,
    e: &Expr,
    update: String,
    condition: String,
) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .under(e, condition)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// A transaction's Put of `item` in `table` under `condition` (placeholders from `e`).
pub(crate) fn put_item(
    table: &str,
    item: Item,
    e: &Expr,
    condition: String,
) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .under(e, condition)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}
