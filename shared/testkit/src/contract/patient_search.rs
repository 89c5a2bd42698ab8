//! `PatientStore::search` and `AppointmentStore::for_patient` cases: the front desk's patient
//! search and a patient's appointment list, paginated.

use connector_domain::StoreError;
use connector_domain::appointment::Appointment;
use connector_domain::audit::Page;
use connector_domain::patient::{Mrn, Patient, PersonName};
use connector_domain::patient_search::PatientSearch;
use connector_domain::phi::Phi;
use connector_domain::ports::PageRequest;

use super::{Case, StoreSet, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<StoreSet>> {
    cases![
        patient_search_by_mrn_finds_exactly_that_patient,
        patient_search_by_name_prefix_ignores_case_and_accents,
        patient_search_follows_updates,
        patient_search_pages_through_every_match_once,
        patient_search_rejects_a_foreign_cursor,
        appointments_for_patient_newest_first,
        appointments_for_patient_page_and_follow_moves,
    ]
}

fn person(id: &str, mrn: &str, last_name: &str, birth_date: &str) -> Patient {
    let mut p = fixtures::patient(id);
    p.mrn = Mrn::parse(mrn).unwrap();
    p.last_name = PersonName::parse(last_name).unwrap();
    p.birth_date = Phi::new(birth_date.parse().unwrap());
    p
}

fn by_name(prefix: &str, birth_date: &str) -> PatientSearch {
    PatientSearch::parse(None, Some(prefix), Some(birth_date)).unwrap()
}

fn by_mrn(mrn: &str) -> PatientSearch {
    PatientSearch::parse(Some(mrn), None, None).unwrap()
}

fn ids(page: &Page<Patient>) -> Vec<&str> {
    page.items.iter().map(|p| p.patient_id.as_str()).collect()
}

async fn search(s: &StoreSet, search: &PatientSearch) -> Page<Patient> {
    s.patients
        .search(
            search,
            PageRequest {
                cursor: None,
                limit: 100,
            },
        )
        .await
        .unwrap()
}

async fn patient_search_by_mrn_finds_exactly_that_patient(s: StoreSet) {
    let a = person("p-a", "MRN-A-1", "Núñez", "1980-02-29");
    s.patients.insert(&a, None).await.unwrap();
    s.patients
        .insert(&person("p-b", "MRN-A-10", "Núñez", "1980-02-29"), None)
        .await
        .unwrap();
    let found = search(&s, &by_mrn("MRN-A-1")).await;
    assert_eq!(found.items, vec![a], "the whole patient, exact MRN only");
    assert_eq!(found.next_cursor, None);
    assert!(search(&s, &by_mrn("MRN-A")).await.items.is_empty());
    assert!(search(&s, &by_mrn("mrn-a-1")).await.items.is_empty());
}

async fn patient_search_by_name_prefix_ignores_case_and_accents(s: StoreSet) {
    for p in [
        person("p-a", "M-1", "Núñez", "1980-02-29"),
        person("p-b", "M-2", "NUNEZ-Ortiz", "1980-02-29"),
        person("p-c", "M-3", "Nunez", "1980-03-01"),
        person("p-d", "M-4", "Martínez", "1980-02-29"),
    ] {
        s.patients.insert(&p, None).await.unwrap();
    }
    let found = search(&s, &by_name("nú", "1980-02-29")).await;
    assert_eq!(ids(&found), ["p-a", "p-b"], "by folded name, then id");
    let found = search(&s, &by_name("NUNEZ", "1980-02-29")).await;
    assert_eq!(ids(&found), ["p-a", "p-b"]);
    let found = search(&s, &by_name("nunez-o", "1980-02-29")).await;
    assert_eq!(ids(&found), ["p-b"]);
    let found = search(&s, &by_name("MARTI", "1980-02-29")).await;
    assert_eq!(ids(&found), ["p-d"]);
    assert!(
        search(&s, &by_name("unez", "1980-02-29"))
            .await
            .items
            .is_empty(),
        "a prefix, not a substring"
    );
    assert!(
        search(&s, &by_name("nunez", "1980-02-28"))
            .await
            .items
            .is_empty()
    );
}

async fn patient_search_follows_updates(s: StoreSet) {
    let original = person("p-a", "M-1", "Núñez", "1980-02-29");
    super::patients::insert_opted_in(&s, &original).await;
    assert_eq!(
        ids(&search(&s, &by_name("nu", "1980-02-29")).await),
        ["p-a"]
    );
    let mut changed = person("p-a", "M-9", "Zimmer", "1981-01-01");
    changed.updated_at = fixtures::at(60);
    s.patients.update(&changed).await.unwrap();
    assert!(search(&s, &by_mrn("M-1")).await.items.is_empty());
    assert!(
        search(&s, &by_name("nu", "1980-02-29"))
            .await
            .items
            .is_empty()
    );
    assert_eq!(
        search(&s, &by_mrn("M-9")).await.items,
        vec![changed.clone()]
    );
    assert_eq!(
        search(&s, &by_name("zim", "1981-01-01")).await.items,
        vec![changed]
    );
}

async fn patient_search_pages_through_every_match_once(s: StoreSet) {
    for i in [3, 1, 5, 2, 4] {
        s.patients
            .insert(
                &person(&format!("p-{i}"), "M-SAME", "Smith", "1970-01-01"),
                None,
            )
            .await
            .unwrap();
    }
    s.patients
        .insert(&person("p-9", "M-SAME", "Smithson", "1970-01-01"), None)
        .await
        .unwrap();
    for search_by in [by_name("smith", "1970-01-01"), by_mrn("M-SAME")] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = s
                .patients
                .search(
                    &search_by,
                    PageRequest {
                        cursor: cursor.as_deref(),
                        limit: 2,
                    },
                )
                .await
                .unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(ids(&page).into_iter().map(str::to_owned));
            pages += 1;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10, "pagination must end");
        }
        assert_eq!(seen, ["p-1", "p-2", "p-3", "p-4", "p-5", "p-9"]);
        assert_eq!(pages, 3, "2 + 2 + 2, the last page without a cursor");
    }
}

async fn patient_search_rejects_a_foreign_cursor(s: StoreSet) {
    s.patients
        .insert(&fixtures::patient("p-1"), None)
        .await
        .unwrap();
    for bad in ["zz", "not-a-cursor", ""] {
        let result = s
            .patients
            .search(
                &by_name("q", fixtures::BIRTH_DATE),
                PageRequest {
                    cursor: Some(bad),
                    limit: 10,
                },
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "{bad:?}: {result:?}"
        );
    }
}

fn appointment_at(id: &str, patient: &str, seconds: i64) -> Appointment {
    let mut a = fixtures::appointment(id, patient);
    a.scheduled_start = fixtures::at(seconds);
    a
}

fn appointment_ids(page: &Page<Appointment>) -> Vec<&str> {
    page.items
        .iter()
        .map(|a| a.appointment_id.as_str())
        .collect()
}

async fn appointments_for_patient_newest_first(s: StoreSet) {
    for a in [
        appointment_at("a-old", "p-1", 100),
        appointment_at("a-new", "p-1", 300),
        appointment_at("a-mid", "p-1", 200),
        appointment_at("a-other", "p-2", 250),
    ] {
        s.appointments.put(&a).await.unwrap();
    }
    s.appointments
        .record_transition(&fixtures::appointment_id("a-mid"), 0, fixtures::at(400))
        .await
        .unwrap();
    let page = s
        .appointments
        .for_patient(
            &fixtures::patient_id("p-1"),
            PageRequest {
                cursor: None,
                limit: 25,
            },
        )
        .await
        .unwrap();
    assert_eq!(appointment_ids(&page), ["a-new", "a-mid", "a-old"]);
    assert_eq!(page.items[1].transition_seq, 1, "the stored appointment");
    assert_eq!(page.next_cursor, None);
    let none = s
        .appointments
        .for_patient(
            &fixtures::patient_id("p-3"),
            PageRequest {
                cursor: None,
                limit: 25,
            },
        )
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next_cursor.is_none());
}

async fn appointments_for_patient_page_and_follow_moves(s: StoreSet) {
    for (id, seconds) in [
        ("a-1", 100),
        ("a-2", 200),
        ("a-3", 200),
        ("a-4", 300),
        ("a-5", 50),
    ] {
        s.appointments
            .put(&appointment_at(id, "p-1", seconds))
            .await
            .unwrap();
    }
    // Rescheduled, then moved to another patient: listed under the new one, at its new start.
    s.appointments
        .put(&appointment_at("a-4", "p-1", 10))
        .await
        .unwrap();
    s.appointments
        .put(&appointment_at("a-5", "p-2", 50))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s
            .appointments
            .for_patient(
                &fixtures::patient_id("p-1"),
                PageRequest {
                    cursor: cursor.as_deref(),
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(appointment_ids(&page).into_iter().map(str::to_owned));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(seen.len() < 10, "pagination must end");
    }
    assert_eq!(seen, ["a-3", "a-2", "a-1", "a-4"], "ties by id, descending");
    let moved = s
        .appointments
        .for_patient(
            &fixtures::patient_id("p-2"),
            PageRequest {
                cursor: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(appointment_ids(&moved), ["a-5"]);
    let bad = s
        .appointments
        .for_patient(
            &fixtures::patient_id("p-1"),
            PageRequest {
                cursor: Some("zz"),
                limit: 2,
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor)), "{bad:?}");
}
