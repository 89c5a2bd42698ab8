//! Appointments on the `appointments` table: `pk = APPT#<id>`, the appointment's fields (with
//! `transition_seq` always present, 0 until the first transition).
//!
//! The collector reads transitioned appointments through the sparse GSI `by_transition`:
//! partition `tmonth = TMONTH#<yyyy-mm>` (UTC month of `transitioned_at`), sort
//! `tkey = <transitioned_at, fixed width>#<appointment_id>`, projection ALL (no follow-up reads).
//! A window is one Query per month it spans, 1 MB pages: ~1,000 appointments per request.
//! The earliest month holding a transition is kept at `pk = META#transitions` (`first_month`)
//! for scans that start at the beginning (`after = None`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_domain::appointment::{Appointment, TransitionCursor};
use connector_domain::audit::Page;
use connector_domain::ports::{AppointmentStore, PageRequest};
use connector_domain::{AppointmentId, PatientId, StoreError};

use super::client::Updated;
use super::keys::{self, FIRST_MONTH, PK, TKEY, TMONTH, key1, n, s};
use super::query::Query;
use super::{Dynamo, Expr, codec, search};

const KIND: &str = "appointment";
/// Fields that only `record_transition` writes.
const TRANSITION_FIELDS: [&str; 2] = ["transition_seq", "transitioned_at"];

/// Appointments in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAppointmentStore {
    db: Dynamo,
    /// The earliest transition month this process knows is recorded (it only moves back), to skip
    /// the `first_month` write for the common case of transitions recorded "now".
    known_first_month: Arc<Mutex<Option<String>>>,
}

impl DynamoAppointmentStore {
    pub(crate) fn from_dynamo(db: Dynamo) -> Self {
        Self {
            db,
            known_first_month: Arc::new(Mutex::new(None)),
        }
    }

    fn known_first_month(&self) -> Option<String> {
        self.known_first_month
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn remember_first_month(&self, month: &str) {
        let mut known = self
            .known_first_month
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if known.as_deref().is_none_or(|k| month < k) {
            *known = Some(month.to_owned());
        }
    }

    /// Makes sure `first_month` is at or before `month` (a conditional write that only moves it
    /// back; losing the condition means it already is).
    async fn note_month(&self, month: &str) -> Result<(), StoreError> {
        if self
            .known_first_month()
            .is_some_and(|k| k.as_str() <= month)
        {
            return Ok(());
        }
        let mut e = Expr::default();
        let first = e.name(FIRST_MONTH);
        let value = e.value(s(month));
        // Not written: it already is.
        self.db
            .update_if(
                &self.db.tables.appointments,
                key1(keys::PK_TRANSITION_META.to_owned()),
                &e,
                format!("SET {first} = {value}"),
                Some(format!(
                    "attribute_not_exists({first}) OR {first} > {value}"
                )),
            )
            .await?;
        self.remember_first_month(month);
        Ok(())
    }

    /// The earliest month with a transition, if any was ever recorded.
    async fn first_month(&self) -> Result<Option<String>, StoreError> {
        let meta = self
            .db
            .consistent_get_item(
                &self.db.tables.appointments,
                key1(keys::PK_TRANSITION_META.to_owned()),
            )
            .await?;
        meta.map(|item| {
            codec::string(&item, FIRST_MONTH, "transition months").map(|m| m.to_owned())
        })
        .transpose()
    }
}

/// `TMONTH#yyyy-mm` to (year, month).
fn parse_month(bucket: &str) -> Option<(i32, u32)> {
    let (year, month) = bucket.strip_prefix("TMONTH#")?.split_once('-')?;
    Some((year.parse().ok()?, month.parse().ok()?))
}

/// The month buckets from `first` to `last`, inclusive, in order.
fn months_between(first: &str, last: &str) -> Vec<String> {
    let (Some((mut y, mut m)), Some(end)) = (parse_month(first), parse_month(last)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while (y, m) <= end {
        out.push(format!("TMONTH#{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

#[async_trait]
impl AppointmentStore for DynamoAppointmentStore {
    async fn get(&self, id: &AppointmentId) -> Result<Option<Appointment>, StoreError> {
        self.db
            .consistent_get(
                &self.db.tables.appointments,
                key1(keys::appointment_pk(id)),
                KIND,
            )
            .await
    }

    async fn put(&self, appointment: &Appointment) -> Result<(), StoreError> {
        // One UpdateItem that sets the scheduling attributes only (`Appointment::scheduled_over`
        // without a read): the transition fields (and their index attributes) of a stored
        // appointment are left alone; a new one starts at seq 0 without `transitioned_at`.
        let mut e = Expr::default();
        let mut sets = Vec::new();
        for (field, value) in codec::to_item(appointment, KIND)? {
            if !TRANSITION_FIELDS.contains(&field.as_str()) {
                sets.push(format!("{} = {}", e.name(&field), e.value(value)));
            }
        }
        for (name, value) in search::appointment_attributes(appointment) {
            sets.push(format!("{} = {}", e.name(name), e.value(value)));
        }
        let seq = e.name("transition_seq");
        sets.push(format!("{seq} = if_not_exists({seq}, {})", e.value(n(0))));
        self.db
            .update_if(
                &self.db.tables.appointments,
                key1(keys::appointment_pk(&appointment.appointment_id)),
                &e,
                format!("SET {}", sets.join(", ")),
                None,
            )
            .await?;
        Ok(())
    }

    async fn record_transition(
        &self,
        id: &AppointmentId,
        expected_seq: u32,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError> {
        let month = keys::transition_month(at);
        // First, so that a crash between the two writes can only make a scan start too early.
        self.note_month(&month).await?;
        let mut e = Expr::default();
        let seq = e.name("transition_seq");
        let update = format!(
            "SET {seq} = {}, {} = {}, {} = {}, {} = {}",
            e.value(n(Appointment::next_transition_seq(expected_seq)?)),
            e.name("transitioned_at"),
            e.value(codec::to_value(&at, KIND)?),
            e.name(TMONTH),
            e.value(s(month)),
            e.name(TKEY),
            e.value(s(keys::transition_key(at, id))),
        );
        let condition = format!(
            "attribute_exists({}) AND {seq} = {}",
            e.name(PK),
            e.value(n(expected_seq))
        );
        let updated = self
            .db
            .conditional_update(
                &self.db.tables.appointments,
                key1(keys::appointment_pk(id)),
                &e,
                update,
                condition,
            )
            .await?;
        match updated {
            Updated::Written(item) => codec::from_item(item, KIND),
            // Why it was refused, by the domain's rule on what the condition found.
            Updated::Refused(found) => {
                let found = found.filter(|item| !item.is_empty());
                let stored = found.map(|item| codec::from_item(item, KIND)).transpose()?;
                match Appointment::transitioned(stored, expected_seq, at) {
                    Err(refused) => Err(refused),
                    // The condition held for what it found: DynamoDB does not do that.
                    Ok(_) => Err(StoreError::Corrupt(KIND)),
                }
            }
        }
    }

    async fn transitioned(
        &self,
        after: Option<&TransitionCursor>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Appointment>, StoreError> {
        if limit == 0 || after.is_some_and(|a| a.transitioned_at > until) {
            return Ok(Vec::new());
        }
        let first = match after {
            Some(cursor) => keys::transition_month(cursor.transitioned_at),
            None => match self.first_month().await? {
                Some(month) => month,
                None => return Ok(Vec::new()),
            },
        };
        // A cursor without an id is `<at>#`: before every `<at>#<id>`, and equal to no key.
        let after_key = after.map(|c| match &c.appointment_id {
            Some(id) => keys::transition_key(c.transitioned_at, id),
            None => format!("{}#", keys::sortable_time(c.transitioned_at)),
        });
        // `<until>$` sorts after every `<until>#<id>` ('$' follows '#') and before any later time.
        let upper = format!("{}$", keys::sortable_time(until));
        let mut found = Vec::new();
        for month in months_between(&first, &keys::transition_month(until)) {
            let mut e = Expr::default();
            let tkey = e.name(TKEY);
            let mut key = format!("{} = {}", e.name(TMONTH), e.value(s(month)));
            match after_key.as_deref().filter(|k| *k < upper.as_str()) {
                // BETWEEN is inclusive: the cursor's own appointment is dropped below.
                Some(lo) => {
                    key += &format!(
                        " AND {tkey} BETWEEN {} AND {}",
                        e.value(s(lo)),
                        e.value(s(upper.clone()))
                    )
                }
                None => key += &format!(" AND {tkey} <= {}", e.value(s(upper.clone()))),
            }
            // One more than still wanted when the cursor's own appointment may come first.
            let wanted = limit - found.len() + usize::from(after_key.is_some());
            let q = Query::new(&self.db.tables.appointments, key, &e)
                .index(keys::INDEX_BY_TRANSITION)
                .limit(wanted);
            for item in self.db.query_all(q).await? {
                if after_key.as_deref() == Some(codec::string(&item, TKEY, KIND)?) {
                    continue;
                }
                found.push(codec::from_item(item, KIND)?);
                if found.len() == limit {
                    return Ok(found);
                }
            }
        }
        Ok(found)
    }

    async fn for_patient(
        &self,
        patient: &PatientId,
        page: PageRequest<'_>,
    ) -> Result<Page<Appointment>, StoreError> {
        search::patient_appointments(&self.db, patient, page.cursor, page.limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_cover_the_range_across_years() {
        assert_eq!(
            months_between("TMONTH#2025-11", "TMONTH#2026-02"),
            [
                "TMONTH#2025-11",
                "TMONTH#2025-12",
                "TMONTH#2026-01",
                "TMONTH#2026-02"
            ]
        );
        assert_eq!(
            months_between("TMONTH#2026-02", "TMONTH#2026-02"),
            ["TMONTH#2026-02"]
        );
        assert!(months_between("TMONTH#2026-03", "TMONTH#2026-02").is_empty());
    }
}
