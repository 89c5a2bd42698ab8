//! The admin dashboard's counts on the flows table, written in the same transaction as the audit
//! entry they derive from ([`entry_writes`]: the entry's conditional put, so a retried write
//! that finds the entry counts nothing).
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | hourly counters | `DASH#hie` / `DASH#hl7` | `<hour start, sortable UTC>` | one number per counter (`sent`, `errors`; `AA`, `AE`, `AR`), `expires_at` |
//! | CRM error | `DASH#crm_errors` | `<at>#<entry_id>#<n>` | `at`, `channel_id`, `flow_id`, `summary`, `entry_id`, `expires_at` |
//! | batch run | `DASH#batch_runs` | `<finished_at>#<entry_id>` | the summary's fields, `expires_at` |
//!
//! Reads are Queries on one partition each: the hours between two sort keys, the newest CRM
//! errors and batch run (`ScanIndexForward = false`). Delivery counts are `Select = COUNT`
//! Queries of the `by_delivery_state` index, one per state. Concurrent writers of one hour's
//! counter item can cancel each other's transactions (`TransactionConflict`); such a
//! transaction wrote nothing and is retried ([`transact`]).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::dashboard::{
    BatchRunSummary, Counter, CrmErrorEntry, DeliveryCounts, HourCounts, tallies,
};
use connector_domain::delivery::DeliveryState;
use connector_domain::ports::DashboardStore;

use super::client::{Conditional, TxError};
use super::keys::{self, DSTATE, EXPIRES_AT, INDEX_BY_DELIVERY_STATE, PK, SK, key2, n, s};
use super::query::Query;
use super::{Dynamo, Expr, Item, audit, built, codec};
use crate::error_map;

const KIND: &str = "dashboard item";
/// How long counters, CRM errors and batch runs are kept (the dashboard shows 14 days).
const KEEP: chrono::Duration = chrono::Duration::days(60);
/// Attempts of a transaction cancelled only by concurrent transactions.
const CONFLICT_ATTEMPTS: u32 = 8;

/// `DASH#<series>`: the partition of a series' hourly counters.
fn series_pk(series: &str) -> String {
    format!("DASH#{series}")
}
const PK_CRM_ERRORS: &str = "DASH#crm_errors";
const PK_BATCH_RUNS: &str = "DASH#batch_runs";

fn expires(at: DateTime<Utc>) -> aws_sdk_dynamodb::types::AttributeValue {
    n((at + KEEP).timestamp())
}

/// The transaction items that write `entry` (if it does not exist yet) and apply its dashboard
/// tally: the entry's conditional put, one counter update per hour item, a put per CRM error
/// and batch run.
pub(crate) fn entry_writes(
    db: &Dynamo,
    entry: &AuditEntry,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = vec![audit::put_entry(db, entry)?];
    let tally = tallies(entry);
    if let Some(hour) = tally.hour {
        let mut by_series: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for counter in &tally.counters {
            *by_series
                .entry(counter.series())
                .or_default()
                .entry(counter.name())
                .or_default() += 1;
        }
        for (series, counters) in by_series {
            let mut e = Expr::default();
            let adds: Vec<String> = counters
                .into_iter()
                .map(|(name, by)| format!("{} {}", e.name(name), e.value(n(by))))
                .collect();
            let expression = format!(
                "ADD {} SET {} = {}",
                adds.join(", "),
                e.name(EXPIRES_AT),
                e.value(expires(hour))
            );
            let update = built(
                Update::builder()
                    .table_name(&db.tables.flows)
                    .set_key(Some(key2(series_pk(series), keys::sortable_time(hour))))
                    .update_expression(expression)
                    .under(&e, None)
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
    }
    for (i, error) in tally.crm_errors.iter().enumerate() {
        let mut item = codec::to_item(error, KIND)?;
        item.insert("entry_id".into(), s(&error.entry_id));
        item.insert(PK.into(), s(PK_CRM_ERRORS));
        item.insert(
            SK.into(),
            s(format!(
                "{}#{i:04}",
                keys::occurred_key(error.at, &error.entry_id)
            )),
        );
        item.insert(EXPIRES_AT.into(), expires(error.at));
        items.push(put(db, item)?);
    }
    if let Some(run) = &tally.batch_run {
        items.push(put(db, batch_run_item(run, &entry.entry_id)?)?);
    }
    Ok(items)
}

/// The `DASH#batch_runs` item of a run recorded under `id`.
fn batch_run_item(run: &BatchRunSummary, id: &str) -> Result<Item, StoreError> {
    let mut item = codec::to_item(run, KIND)?;
    item.insert(PK.into(), s(PK_BATCH_RUNS));
    item.insert(SK.into(), s(keys::occurred_key(run.finished_at, id)));
    item.insert(EXPIRES_AT.into(), expires(run.finished_at));
    Ok(item)
}

fn put(db: &Dynamo, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(&db.tables.flows)
            .set_item(Some(item))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Runs a transaction that may carry dashboard counters: one cancelled only by concurrent
/// transactions (on a shared counter item) wrote nothing and is sent again, a few times with a
/// growing pause; a failed condition is `Conflict` at once.
pub(crate) async fn transact(db: &Dynamo, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match db.transact(items.clone(), false).await {
            Ok(()) => return Ok(()),
            Err(TxError::Cancelled(reasons, translated)) => {
                let condition = reasons.iter().any(error_map::is_condition_reason);
                let conflict = reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"));
                if condition || !conflict || attempt >= CONFLICT_ATTEMPTS {
                    return Err(translated);
                }
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
                tokio::time::sleep(Duration::from_millis((5 << attempt.min(6)) + jitter)).await;
            }
            Err(TxError::Failed(other)) => return Err(other),
        }
    }
}

/// The dashboard counts in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoDashboard {
    db: Dynamo,
}

impl DynamoDashboard {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self { db }
    }

    /// Items of one partition, `sk` between `from` (inclusive) and `to` (exclusive) when given,
    /// newest first when `newest_first`, at most `limit` (all when `None`).
    async fn query(
        &self,
        pk: &str,
        range: Option<(String, String)>,
        newest_first: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut e = Expr::default();
        let mut key = format!("{} = {}", e.name(PK), e.value(s(pk)));
        if let Some((from, to)) = range {
            // BETWEEN is inclusive; `to` is an hour start no item of the range has.
            key += &format!(
                " AND {} BETWEEN {} AND {}",
                e.name(SK),
                e.value(s(from)),
                e.value(s(to))
            );
        }
        let mut q = Query::new(&self.db.tables.flows, key, &e).newest_first(newest_first);
        if let Some(limit) = limit {
            q = q.limit(limit);
        }
        self.db.query_all(q).await
    }

    /// How many deliveries are in `state` (a COUNT query of the state index).
    async fn count(&self, state: DeliveryState) -> Result<u64, StoreError> {
        let mut e = Expr::default();
        let key = format!("{} = {}", e.name(DSTATE), e.value(s(state.as_str())));
        let q = Query::new(&self.db.tables.flows, key, &e).index(INDEX_BY_DELIVERY_STATE);
        self.db.count(q).await
    }
}

#[async_trait]
impl DashboardStore for DynamoDashboard {
    async fn hours(
        &self,
        series: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourCounts>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let range = (keys::sortable_time(from), keys::sortable_time(to));
        let items = self
            .query(&series_pk(series), Some(range.clone()), false, None)
            .await?;
        let mut hours = Vec::new();
        for item in items {
            let sk = codec::string(&item, SK, KIND)?;
            if sk == range.1 {
                continue;
            }
            let hour = DateTime::parse_from_rfc3339(sk)
                .map_err(|_| StoreError::Corrupt(KIND))?
                .to_utc();
            let mut counts = Vec::new();
            for (name, value) in &item {
                let Some(counter) = Counter::parse(series, name) else {
                    continue;
                };
                let count = value
                    .as_n()
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or(StoreError::Corrupt(KIND))?;
                counts.push((counter, count));
            }
            counts.sort();
            hours.push(HourCounts { hour, counts });
        }
        Ok(hours)
    }

    async fn record_batch_run(
        &self,
        run_id: &str,
        run: &BatchRunSummary,
    ) -> Result<(), StoreError> {
        let item = batch_run_item(run, run_id)?;
        self.db
            .put_if(&self.db.tables.flows, item, &Expr::default(), None)
            .await?;
        Ok(())
    }

    async fn last_batch_run(&self) -> Result<Option<BatchRunSummary>, StoreError> {
        let items = self.query(PK_BATCH_RUNS, None, true, Some(1)).await?;
        items
            .into_iter()
            .next()
            .map(|item| codec::from_item(item, KIND))
            .transpose()
    }

    async fn recent_crm_errors(&self, limit: usize) -> Result<Vec<CrmErrorEntry>, StoreError> {
        let items = self
            .query(PK_CRM_ERRORS, None, true, Some(limit.max(1)))
            .await?;
        items
            .into_iter()
            .map(|item| codec::from_item(item, KIND))
            .collect()
    }

    async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        let mut counts = DeliveryCounts {
            parked: self.count(DeliveryState::Parked).await?,
            held: self.count(DeliveryState::Held).await?,
            pending: 0,
        };
        for state in [
            DeliveryState::Queued,
            DeliveryState::Delivering,
            DeliveryState::Retrying,
        ] {
            counts.pending += self.count(state).await?;
        }
        Ok(counts)
    }
}
