//! `AppointmentStore` cases.

use std::collections::BTreeSet;

use connector_domain::appointment::{Appointment, TransitionCursor};

use super::{Case, StoreSet, assert_conflict, assert_not_found, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        appointment_put_then_get,
        appointment_put_replaces_but_keeps_transition_fields,
        appointment_put_of_a_new_one_starts_untransitioned,
        appointment_record_transition_sequence,
        appointment_record_transition_of_unknown_is_not_found,
        appointment_transitioned_order_bounds_and_limit,
        appointment_transitioned_pages_visit_each_once,
        appointment_transitioned_from_the_start_of_an_instant,
    ]
}

fn ids(appointments: &[Appointment]) -> Vec<&str> {
    appointments
        .iter()
        .map(|a| a.appointment_id.as_str())
        .collect()
}

/// Puts the fixture appointment `id` (of `p-1`) and records its first transition at `at`:
/// the appointment as put, and as transitioned.
async fn put_then_transition(s: &StoreSet, id: &str, at: i64) -> (Appointment, Appointment) {
    let a = fixtures::appointment(id, "p-1");
    s.appointments.put(&a).await.unwrap();
    let transitioned = s
        .appointments
        .record_transition(&a.appointment_id, 0, fixtures::at(at))
        .await
        .unwrap();
    (a, transitioned)
}

/// The stored appointment `id`, if any.
async fn stored(s: &StoreSet, id: &str) -> Option<Appointment> {
    let id = fixtures::appointment_id(id);
    s.appointments.get(&id).await.unwrap()
}

async fn appointment_put_then_get(s: StoreSet) {
    let a = fixtures::appointment("a-1", "p-1");
    s.appointments.put(&a).await.unwrap();
    assert_eq!(
        s.appointments.get(&a.appointment_id).await.unwrap(),
        Some(a)
    );
    assert_eq!(stored(&s, "a-2").await, None);
}

async fn appointment_put_replaces_but_keeps_transition_fields(s: StoreSet) {
    let (a, transitioned) = put_then_transition(&s, "a-1", 600).await;

    // The EHR reports a schedule change; the caller's copy knows nothing of the transition.
    let changed = Appointment {
        status: "complete".into(),
        location: "Fixture Clinic, Room 2".into(),
        updated_at: fixtures::at(900),
        ..a.clone()
    };
    s.appointments.put(&changed).await.unwrap();
    let stored = s
        .appointments
        .get(&a.appointment_id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.status, "complete");
    assert_eq!(stored.location, "Fixture Clinic, Room 2");
    assert_eq!(stored.transition_seq, 1, "transition_seq kept");
    assert_eq!(
        stored.transitioned_at, transitioned.transitioned_at,
        "transitioned_at kept"
    );
    assert_eq!(
        stored,
        Appointment {
            transition_seq: 1,
            transitioned_at: Some(fixtures::at(600)),
            ..changed
        }
    );
}

/// Transition fields change only through `record_transition`: a new appointment that carries
/// some is stored untransitioned (and so is not in the collector's scan).
async fn appointment_put_of_a_new_one_starts_untransitioned(s: StoreSet) {
    let a = Appointment {
        transition_seq: 4,
        transitioned_at: Some(fixtures::at(60)),
        ..fixtures::appointment("a-1", "p-1")
    };
    s.appointments.put(&a).await.unwrap();
    let stored = s.appointments.get(&a.appointment_id).await.unwrap();
    assert_eq!(
        stored,
        Some(Appointment {
            transition_seq: 0,
            transitioned_at: None,
            ..a
        })
    );
    let scan = s
        .appointments
        .transitioned(None, fixtures::at(3_600), 10)
        .await
        .unwrap();
    assert!(scan.is_empty(), "not transitioned: {:?}", ids(&scan));
}

async fn appointment_record_transition_sequence(s: StoreSet) {
    let (a, first) = put_then_transition(&s, "a-1", 60).await;
    assert_eq!(
        first,
        Appointment {
            transition_seq: 1,
            transitioned_at: Some(fixtures::at(60)),
            ..a.clone()
        }
    );
    assert_eq!(
        s.appointments.get(&a.appointment_id).await.unwrap(),
        Some(first.clone())
    );

    assert_conflict(
        s.appointments
            .record_transition(&a.appointment_id, 0, fixtures::at(120))
            .await,
    );
    assert_conflict(
        s.appointments
            .record_transition(&a.appointment_id, 2, fixtures::at(120))
            .await,
    );
    assert_eq!(
        s.appointments.get(&a.appointment_id).await.unwrap(),
        Some(first),
        "a conflict writes nothing"
    );

    let second = s
        .appointments
        .record_transition(&a.appointment_id, 1, fixtures::at(180))
        .await
        .unwrap();
    assert_eq!(
        (second.transition_seq, second.transitioned_at),
        (2, Some(fixtures::at(180)))
    );
}

async fn appointment_record_transition_of_unknown_is_not_found(s: StoreSet) {
    assert_not_found(
        s.appointments
            .record_transition(&fixtures::appointment_id("a-1"), 0, fixtures::at(0))
            .await,
    );
    assert_eq!(stored(&s, "a-1").await, None);
}

/// Stores appointments transitioned at the given offsets (`None`: never transitioned).
async fn seed(s: &StoreSet, plan: &[(&str, Option<i64>)]) {
    for (id, offset) in plan {
        s.appointments
            .put(&fixtures::appointment(id, "p-1"))
            .await
            .unwrap();
        if let Some(offset) = offset {
            s.appointments
                .record_transition(&fixtures::appointment_id(id), 0, fixtures::at(*offset))
                .await
                .unwrap();
        }
    }
}

/// a-1 at 60; a-0, a-2, a-3 tied at 120; a-4 at 180; a-5 never; a-6 at 300.
const PLAN: &[(&str, Option<i64>)] = &[
    ("a-3", Some(120)),
    ("a-1", Some(60)),
    ("a-5", None),
    ("a-2", Some(120)),
    ("a-6", Some(300)),
    ("a-0", Some(120)),
    ("a-4", Some(180)),
];

async fn scan(
    s: &StoreSet,
    after: Option<&TransitionCursor>,
    until: i64,
    limit: usize,
) -> Vec<Appointment> {
    s.appointments
        .transitioned(after, fixtures::at(until), limit)
        .await
        .unwrap()
}

async fn appointment_transitioned_order_bounds_and_limit(s: StoreSet) {
    seed(&s, PLAN).await;
    assert_eq!(
        ids(&scan(&s, None, 180, 100).await),
        ["a-1", "a-0", "a-2", "a-3", "a-4"],
        "ascending by (time, id)"
    );
    assert_eq!(
        ids(&scan(&s, None, 120, 100).await),
        ["a-1", "a-0", "a-2", "a-3"],
        "until is inclusive"
    );
    assert_eq!(ids(&scan(&s, None, 59, 100).await), Vec::<&str>::new());
    assert_eq!(ids(&scan(&s, None, 180, 2).await), ["a-1", "a-0"], "limit");
    assert_eq!(
        ids(&scan(&s, None, 180, 0).await),
        Vec::<&str>::new(),
        "limit 0"
    );

    let after_tie = fixtures::transition_cursor(fixtures::at(120), "a-0");
    assert_eq!(
        ids(&scan(&s, Some(&after_tie), 180, 100).await),
        ["a-2", "a-3", "a-4"],
        "after is exclusive, ties by id"
    );
    let after_first = fixtures::transition_cursor(fixtures::at(60), "a-1");
    assert_eq!(
        ids(&scan(&s, Some(&after_first), 400, 100).await),
        ["a-0", "a-2", "a-3", "a-4", "a-6"]
    );
    let between = fixtures::transition_cursor(fixtures::at(90), "zzz");
    assert_eq!(
        ids(&scan(&s, Some(&between), 180, 1).await),
        ["a-0"],
        "a cursor need not name a stored appointment"
    );
    let last = fixtures::transition_cursor(fixtures::at(300), "a-6");
    assert_eq!(
        ids(&scan(&s, Some(&last), 400, 100).await),
        Vec::<&str>::new()
    );
    let transitioned = scan(&s, None, 400, 100).await;
    assert!(
        transitioned
            .iter()
            .all(|a| a.transition_seq == 1 && a.transitioned_at.is_some())
    );
}

async fn appointment_transitioned_pages_visit_each_once(s: StoreSet) {
    seed(&s, PLAN).await;
    let until = fixtures::at(400);
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let page = s
            .appointments
            .transitioned(after.as_ref(), until, 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(fixtures::transition_cursor(
            last.transitioned_at.expect("transitioned"),
            last.appointment_id.as_str(),
        ));
        seen.extend(page.iter().map(|a| a.appointment_id.to_string()));
    }
    assert_eq!(seen, ["a-1", "a-0", "a-2", "a-3", "a-4", "a-6"]);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
}

async fn appointment_transitioned_from_the_start_of_an_instant(s: StoreSet) {
    seed(&s, PLAN).await;
    let start = |offset| TransitionCursor::starting_at(fixtures::at(offset));
    assert!(
        start(120) < fixtures::transition_cursor(fixtures::at(120), "a-0"),
        "a cursor without an id sorts before every id at its instant"
    );
    assert_eq!(
        ids(&scan(&s, Some(&start(120)), 180, 100).await),
        ["a-0", "a-2", "a-3", "a-4"],
        "every appointment at the instant, then later ones, ascending by (time, id)"
    );
    assert_eq!(
        ids(&scan(&s, Some(&start(120)), 120, 100).await),
        ["a-0", "a-2", "a-3"],
        "until is inclusive"
    );
    assert_eq!(
        ids(&scan(&s, Some(&start(120)), 400, 2).await),
        ["a-0", "a-2"],
        "limit"
    );
    assert_eq!(
        ids(&scan(&s, Some(&start(60)), 400, 100).await),
        ["a-1", "a-0", "a-2", "a-3", "a-4", "a-6"],
        "from the first instant: every transitioned appointment"
    );
    assert_eq!(
        ids(&scan(&s, Some(&start(90)), 400, 100).await),
        ["a-0", "a-2", "a-3", "a-4", "a-6"],
        "an instant with no appointment"
    );
    assert_eq!(ids(&scan(&s, Some(&start(300)), 400, 100).await), ["a-6"]);
    assert_eq!(
        ids(&scan(&s, Some(&start(301)), 400, 100).await),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids(&scan(&s, Some(&start(180)), 179, 100).await),
        Vec::<&str>::new(),
        "until before the cursor"
    );

    // Pages that start at an instant and continue after each page's last appointment.
    let mut seen = Vec::new();
    let mut after = start(120);
    for _ in 0..10 {
        let page = scan(&s, Some(&after), 400, 2).await;
        let Some(last) = page.last() else { break };
        after = TransitionCursor::after(last).expect("transitioned");
        seen.extend(page.iter().map(|a| a.appointment_id.to_string()));
    }
    assert_eq!(seen, ["a-0", "a-2", "a-3", "a-4", "a-6"]);
}
