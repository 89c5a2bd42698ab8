//! `CrmWriteLog` cases: what is recorded comes back in full, `recent` filters by entity and
//! time (oldest first), and a write is remembered for the whole echo window. The written
//! values are the fixture patient's PHI: only their digests are recorded.

use connector_domain::crm::CrmField;
use connector_domain::delivery::{CrmWrite, ECHO_WINDOW, MODIFIED_BY};

use super::{Case, CrmWriteLogUnderTest, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<CrmWriteLogUnderTest>> {
    cases![
        crm_writes_round_trip_in_full,
        crm_writes_recent_filters_by_entity_and_since_oldest_first,
        crm_writes_are_remembered_for_the_echo_window,
    ]
}

/// A write of the fixture patient's demographics to `entity` at `at` seconds.
fn write(entity: &str, at: i64) -> CrmWrite {
    CrmWrite::new(
        entity.into(),
        &[
            CrmField::new("FirstName", fixtures::FIRST_NAME),
            CrmField::new("LastName", fixtures::LAST_NAME),
            CrmField::new("mx_MRN", format!("{}0001", fixtures::MRN_PREFIX)),
            CrmField::new("Phone", fixtures::PHONE),
            CrmField::new(MODIFIED_BY, "0c0ffee0-api-user"),
        ],
        fixtures::at(at),
    )
}

async fn recent(log: &CrmWriteLogUnderTest, entity: &str, since: i64) -> Vec<CrmWrite> {
    log.recent(entity, fixtures::at(since)).await.unwrap()
}

async fn crm_writes_round_trip_in_full(log: CrmWriteLogUnderTest) {
    assert_eq!(recent(&log, "lead-1", -3600).await, Vec::<CrmWrite>::new());
    let written = write("lead-1", 0);
    assert_eq!(written.modified_by.as_deref(), Some("0c0ffee0-api-user"));
    log.record(&written).await.unwrap();
    // A write whose writer the CRM did not name keeps `None`.
    let single = CrmWrite::new(
        "activity-7".into(),
        &[CrmField::new("mx_Custom_1", "booked")],
        fixtures::at(1),
    );
    log.record(&single).await.unwrap();
    assert_eq!(recent(&log, "lead-1", 0).await, vec![written]);
    assert_eq!(recent(&log, "activity-7", 0).await, vec![single]);
}

async fn crm_writes_recent_filters_by_entity_and_since_oldest_first(log: CrmWriteLogUnderTest) {
    // Recorded out of order: `recent` orders by the write's time.
    for (entity, at) in [
        ("lead-1", 0),
        ("lead-1", 30),
        ("lead-2", 10),
        ("lead-1", 20),
        ("activity-1", 25),
    ] {
        log.record(&write(entity, at)).await.unwrap();
    }
    assert_eq!(
        recent(&log, "lead-1", 0).await,
        vec![write("lead-1", 0), write("lead-1", 20), write("lead-1", 30)],
        "every write to lead-1 at or after `since`, oldest first"
    );
    assert_eq!(
        recent(&log, "lead-1", 20).await,
        vec![write("lead-1", 20), write("lead-1", 30)],
        "`since` is inclusive"
    );
    assert_eq!(recent(&log, "lead-1", 31).await, Vec::<CrmWrite>::new());
    assert_eq!(recent(&log, "lead-2", 0).await, vec![write("lead-2", 10)]);
    assert_eq!(
        recent(&log, "activity-1", 0).await,
        vec![write("activity-1", 25)]
    );
    assert_eq!(
        recent(&log, "lead-10", 0).await,
        Vec::<CrmWrite>::new(),
        "entities match exactly"
    );
}

async fn crm_writes_are_remembered_for_the_echo_window(log: CrmWriteLogUnderTest) {
    let window = ECHO_WINDOW.num_seconds();
    log.record(&write("lead-1", 0)).await.unwrap();
    // Later writes (which may prune older ones) keep every write younger than the window.
    log.record(&write("lead-2", window - 1)).await.unwrap();
    log.record(&write("lead-1", window)).await.unwrap();
    assert_eq!(
        recent(&log, "lead-1", 0).await,
        vec![write("lead-1", 0), write("lead-1", window)]
    );
    assert_eq!(
        recent(&log, "lead-2", 0).await,
        vec![write("lead-2", window - 1)]
    );
}
