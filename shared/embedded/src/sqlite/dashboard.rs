//! `DashboardStore`: hourly counters, the newest CRM errors and batch runs, each applied by
//! [`apply`] inside the transaction that inserts the audit entry they derive from.

use async_trait::async_trait;
use connector_domain::StoreError;
use connector_domain::dashboard::{
    BatchRunSummary, Counter, CrmErrorEntry, DeliveryCounts, HourCounts, Tally,
};
use connector_domain::ports::DashboardStore;
use rusqlite::{Connection, OptionalExtension, params};

use super::{all_rows, from_json, sql_limit, to_json};
use crate::SqliteDb;
use crate::error::db_err;
use crate::time::{from_nanos, nanos, nanos_clamped};

/// CRM errors kept (the dashboard shows 10).
const KEEP_CRM_ERRORS: i64 = 100;
/// Batch runs kept (the dashboard shows the last).
const KEEP_BATCH_RUNS: i64 = 20;

/// The dashboard counts of a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteDashboard {
    pub(crate) db: SqliteDb,
}

/// Applies an audit entry's tally. Call inside the write transaction that inserted the entry,
/// and only when it was inserted.
pub(crate) fn apply(conn: &Connection, entry_id: &str, tally: &Tally) -> Result<(), StoreError> {
    if let Some(hour) = tally.hour {
        let hour = nanos(hour)?;
        for counter in &tally.counters {
            conn.prepare_cached(
                "INSERT INTO dashboard_hours (series, hour, counter, n) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT (series, hour, counter) DO UPDATE SET n = n + 1",
            )
            .and_then(|mut stmt| stmt.execute(params![counter.series(), hour, counter.name()]))
            .map_err(db_err)?;
        }
    }
    for (seq, error) in tally.crm_errors.iter().enumerate() {
        let (at, body) = (nanos(error.at)?, to_json(error, "CRM error")?);
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        conn.prepare_cached(
            "INSERT INTO dashboard_crm_errors (entry_id, seq, at, body) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute(params![entry_id, seq, at, body]))
        .map_err(db_err)?;
    }
    if !tally.crm_errors.is_empty() {
        conn.prepare_cached(
            "DELETE FROM dashboard_crm_errors WHERE (at, entry_id, seq) < \
             (SELECT at, entry_id, seq FROM dashboard_crm_errors \
              ORDER BY at DESC, entry_id DESC, seq DESC LIMIT 1 OFFSET ?1)",
        )
        .and_then(|mut stmt| stmt.execute([KEEP_CRM_ERRORS - 1]))
        .map_err(db_err)?;
    }
    if let Some(run) = &tally.batch_run {
        let (finished_at, body) = (nanos(run.finished_at)?, to_json(run, "batch run")?);
        conn.prepare_cached(
            "INSERT INTO dashboard_batch_runs (entry_id, finished_at, body) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute(params![entry_id, finished_at, body]))
        .map_err(db_err)?;
        conn.prepare_cached(
            "DELETE FROM dashboard_batch_runs WHERE (finished_at, entry_id) < \
             (SELECT finished_at, entry_id FROM dashboard_batch_runs \
              ORDER BY finished_at DESC, entry_id DESC LIMIT 1 OFFSET ?1)",
        )
        .and_then(|mut stmt| stmt.execute([KEEP_BATCH_RUNS - 1]))
        .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl DashboardStore for SqliteDashboard {
    async fn hours(
        &self,
        series: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<HourCounts>, StoreError> {
        let owned = series.to_owned();
        let (from, to) = (nanos_clamped(from), nanos_clamped(to));
        let rows: Vec<(i64, String, i64)> = self
            .db
            .read(move |tx| {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT hour, counter, n FROM dashboard_hours \
                         WHERE series = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY hour, counter",
                    )
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(params![owned, from, to], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    })
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await?;
        let mut hours: Vec<HourCounts> = Vec::new();
        for (hour, name, n) in rows {
            let counter =
                Counter::parse(series, &name).ok_or(StoreError::Corrupt("dashboard counter"))?;
            let hour = from_nanos(hour);
            let n = u64::try_from(n).map_err(|_| StoreError::Corrupt("dashboard counter"))?;
            match hours.last_mut() {
                Some(last) if last.hour == hour => last.counts.push((counter, n)),
                _ => hours.push(HourCounts {
                    hour,
                    counts: vec![(counter, n)],
                }),
            }
        }
        Ok(hours)
    }

    async fn record_batch_run(
        &self,
        run_id: &str,
        run: &BatchRunSummary,
    ) -> Result<(), StoreError> {
        let tally = Tally {
            batch_run: Some(run.clone()),
            ..Tally::default()
        };
        let run_id = run_id.to_owned();
        self.db.write(move |tx| apply(tx, &run_id, &tally)).await
    }

    async fn last_batch_run(&self) -> Result<Option<BatchRunSummary>, StoreError> {
        let body: Option<String> = self
            .db
            .read(|tx| {
                tx.query_row(
                    "SELECT body FROM dashboard_batch_runs \
                     ORDER BY finished_at DESC, entry_id DESC LIMIT 1",
                    [],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db_err)
            })
            .await?;
        body.map(|b| from_json(&b, "batch run")).transpose()
    }

    async fn recent_crm_errors(&self, limit: usize) -> Result<Vec<CrmErrorEntry>, StoreError> {
        let limit = sql_limit(limit);
        let bodies: Vec<(String, String)> = self
            .db
            .read(move |tx| {
                let sql = "SELECT body, entry_id FROM dashboard_crm_errors \
                     ORDER BY at DESC, entry_id DESC, seq DESC LIMIT ?1";
                all_rows(tx, sql, [limit], |row| Ok((row.get(0)?, row.get(1)?)))
            })
            .await?;
        bodies
            .into_iter()
            .map(|(body, entry_id)| {
                let mut error: CrmErrorEntry = from_json(&body, "CRM error")?;
                error.entry_id = entry_id;
                Ok(error)
            })
            .collect()
    }

    async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        let rows: Vec<(String, i64)> = self
            .db
            .read(|tx| {
                let sql = "SELECT state, count(*) FROM deliveries \
                     WHERE state IN ('parked', 'held', 'queued', 'delivering', 'retrying') \
                     GROUP BY state";
                all_rows(tx, sql, [], |row| Ok((row.get(0)?, row.get(1)?)))
            })
            .await?;
        let mut counts = DeliveryCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                "parked" => counts.parked += n,
                "held" => counts.held += n,
                _ => counts.pending += n,
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use crate::sqlite::migrate::migrate;
    use crate::sqlite::schema::MIGRATIONS;

    /// Nanoseconds of 2026-12-03T10:00:00Z plus `seconds`.
    fn at(seconds: i64) -> i64 {
        (1_764_756_000 + seconds) * 1_000_000_000
    }

    #[test]
    fn the_migration_backfills_counters_and_channels_from_stored_entries() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let hie = |action: &str| format!(r#"{{"action":"appointment.{action}","detail":{{}}}}"#);
        let hl7 = |action: &str, ack: &str| {
            format!(
                r#"{{"action":"hl7.{action}","detail":{{"channel_id":"north","ack":"{ack}"}}}}"#
            )
        };
        let (sent, inbound) = ("hie_sent_appointments", "hl7_inbound");
        let rows = [
            ("e1", at(1), sent, "success", hie("sent")),
            ("e2", at(2), sent, "success", hie("sent")),
            ("e3", at(3), sent, "error", hie("failed")),
            ("e4", at(4), sent, "error", hie("retry")),
            ("e5", at(3_605), inbound, "success", hl7("processed", "AA")),
            ("e6", at(3_606), inbound, "error", hl7("rejected", "AR")),
        ];
        for (id, occurred_at, log_type, outcome, body) in rows {
            conn.execute(
                "INSERT INTO audit_log (entry_id, occurred_at, log_type, outcome, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![id, occurred_at, log_type, outcome, body],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let mut stmt = conn
            .prepare("SELECT series, hour, counter, n FROM dashboard_hours ORDER BY 1, 2, 3")
            .unwrap();
        let counters: Vec<(String, i64, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            counters,
            [
                ("hie".into(), at(0), "errors".into(), 1),
                ("hie".into(), at(0), "sent".into(), 2),
                ("hl7".into(), at(3_600), "AA".into(), 1),
                ("hl7".into(), at(3_600), "AR".into(), 1),
            ]
        );
        let channels: i64 = conn
            .query_row(
                "SELECT count(*) FROM audit_log WHERE channel_id = 'north'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(channels, 2);
    }
}
