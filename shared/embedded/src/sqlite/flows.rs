//! `FlowStore`: channels and flows, each the domain value as JSON with its key columns (a flow's
//! channel is a column too, for the per-channel list). Every write is one `BEGIN IMMEDIATE`
//! transaction holding the change and its audit entry.

use async_trait::async_trait;
use connector_domain::StoreError;
use connector_domain::audit::AuditEntry;
use connector_domain::flow::{Channel, ChannelId, Flow, FlowId};
use connector_domain::ports::FlowStore;
use rusqlite::params;

use super::audit::{self, AuditRow};
use super::{all_rows, from_json, to_json};
use crate::SqliteDb;
use crate::error::{conflict_or, db_err};

/// The channels and flows of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteFlowStore {
    pub(crate) db: SqliteDb,
}

/// Runs one statement that must change exactly one row (else `NotFound`), then appends the
/// audit entry, in one write transaction.
async fn change_one(
    db: &SqliteDb,
    sql: &'static str,
    values: Vec<String>,
    entry: AuditRow,
) -> Result<(), StoreError> {
    db.write(move |tx| {
        let changed = tx
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(values.iter())))
            .map_err(db_err)?;
        if changed != 1 {
            return Err(StoreError::NotFound);
        }
        audit::insert(tx, &entry)
    })
    .await
}

/// Reads the JSON bodies one query returns, in order.
async fn bodies(
    db: &SqliteDb,
    sql: &'static str,
    values: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    db.read(move |tx| {
        let params = rusqlite::params_from_iter(values.iter());
        all_rows(tx, sql, params, |row| row.get(0))
    })
    .await
}

#[async_trait]
impl FlowStore for SqliteFlowStore {
    async fn create_channel(
        &self,
        channel: &Channel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let id = channel.channel_id.as_str().to_owned();
        let body = to_json(channel, "channel")?;
        let entry = AuditRow::new(audit)?;
        self.db
            .write(move |tx| {
                tx.prepare_cached("INSERT INTO channels (channel_id, body) VALUES (?1, ?2)")
                    .and_then(|mut stmt| stmt.execute(params![id, body]))
                    .map_err(conflict_or("channel exists"))?;
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(channel_id = %channel.channel_id, "channel created");
        Ok(())
    }

    async fn update_channel(
        &self,
        channel: &Channel,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let values = vec![
            channel.channel_id.as_str().to_owned(),
            to_json(channel, "channel")?,
        ];
        change_one(
            &self.db,
            "UPDATE channels SET body = ?2 WHERE channel_id = ?1",
            values,
            AuditRow::new(audit)?,
        )
        .await?;
        tracing::debug!(channel_id = %channel.channel_id, "channel updated");
        Ok(())
    }

    async fn delete_channel(&self, id: &ChannelId, audit: &AuditEntry) -> Result<(), StoreError> {
        change_one(
            &self.db,
            "DELETE FROM channels WHERE channel_id = ?1",
            vec![id.as_str().to_owned()],
            AuditRow::new(audit)?,
        )
        .await?;
        tracing::debug!(channel_id = %id, "channel deleted");
        Ok(())
    }

    async fn get_channel(&self, id: &ChannelId) -> Result<Option<Channel>, StoreError> {
        let key = id.as_str();
        self.db
            .body_by_key("channels", "channel_id", key, "channel")
            .await
    }

    async fn list_channels(&self) -> Result<Vec<Channel>, StoreError> {
        let rows = bodies(
            &self.db,
            "SELECT body FROM channels ORDER BY channel_id",
            Vec::new(),
        )
        .await?;
        rows.iter().map(|b| from_json(b, "channel")).collect()
    }

    async fn create_flow(&self, flow: &Flow, audit: &AuditEntry) -> Result<(), StoreError> {
        let id = flow.flow_id.as_str().to_owned();
        let channel = flow.channel_id.as_str().to_owned();
        let body = to_json(flow, "flow")?;
        let entry = AuditRow::new(audit)?;
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO flows (flow_id, channel_id, body) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut stmt| stmt.execute(params![id, channel, body]))
                .map_err(conflict_or("flow exists"))?;
                audit::insert(tx, &entry)
            })
            .await?;
        tracing::debug!(flow_id = %flow.flow_id, channel_id = %flow.channel_id, "flow created");
        Ok(())
    }

    async fn update_flow(&self, flow: &Flow, audit: &AuditEntry) -> Result<(), StoreError> {
        let values = vec![
            flow.flow_id.as_str().to_owned(),
            flow.channel_id.as_str().to_owned(),
            to_json(flow, "flow")?,
        ];
        change_one(
            &self.db,
            "UPDATE flows SET channel_id = ?2, body = ?3 WHERE flow_id = ?1",
            values,
            AuditRow::new(audit)?,
        )
        .await?;
        tracing::debug!(flow_id = %flow.flow_id, channel_id = %flow.channel_id, "flow updated");
        Ok(())
    }

    async fn delete_flow(&self, id: &FlowId, audit: &AuditEntry) -> Result<(), StoreError> {
        change_one(
            &self.db,
            "DELETE FROM flows WHERE flow_id = ?1",
            vec![id.as_str().to_owned()],
            AuditRow::new(audit)?,
        )
        .await?;
        tracing::debug!(flow_id = %id, "flow deleted");
        Ok(())
    }

    async fn get_flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        let key = id.as_str();
        self.db.body_by_key("flows", "flow_id", key, "flow").await
    }

    async fn list_flows(&self, channel: Option<&ChannelId>) -> Result<Vec<Flow>, StoreError> {
        let rows = match channel {
            Some(channel) => {
                bodies(
                    &self.db,
                    "SELECT body FROM flows WHERE channel_id = ?1 ORDER BY flow_id",
                    vec![channel.as_str().to_owned()],
                )
                .await?
            }
            None => {
                bodies(
                    &self.db,
                    "SELECT body FROM flows ORDER BY flow_id",
                    Vec::new(),
                )
                .await?
            }
        };
        let flows = rows
            .iter()
            .map(|b| from_json(b, "flow"))
            .collect::<Result<Vec<Flow>, _>>()?;
        tracing::debug!(count = flows.len(), "flows listed");
        Ok(flows)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn per_channel_lists_read_the_index_in_order() {
        let plan = crate::sqlite::test_support::query_plan(
            "SELECT body FROM flows WHERE channel_id = ?1 ORDER BY flow_id",
            ["c"],
        );
        assert!(plan.contains("flows_by_channel"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
