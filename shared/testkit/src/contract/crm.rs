//! `Crm` cases: leads created, found by a field (every match up to a limit, so a caller can tell
//! an ambiguous key), read whole by id, updated (given fields set, others kept); activities
//! created on a lead, found by event and field (every match up to a limit), updated; references
//! to leads or activities that do not exist refused. A search answer holds the ids and the
//! searched field; the whole lead comes from `get_lead`. Values compare exactly here (adapters may also match
//! lead lookups case-insensitively, as LeadSquared does; that is their own test's business).
//!
//! Values are the testkit's invented PHI, so the no-PHI-in-logs tests can run this suite.

use std::collections::BTreeMap;

use connector_domain::crm::{
    Activity, ActivityId, ActivityInput, CrmError, CrmField, Lead, LeadId,
};

use super::{Case, CrmUnderTest, cases};
use crate::fixtures;

pub(super) fn cases() -> Vec<Case<CrmUnderTest>> {
    cases![
        crm_a_created_lead_is_found_by_each_of_its_fields,
        crm_find_lead_without_a_match_is_none,
        crm_find_lead_returns_a_lead_with_the_value,
        crm_find_leads_returns_every_match_up_to_the_limit,
        crm_get_lead_reads_the_whole_lead_or_none,
        crm_update_lead_sets_the_given_fields_and_keeps_the_others,
        crm_update_of_a_missing_lead_is_rejected,
        crm_a_created_activity_is_found_by_lead_event_and_field,
        crm_find_activity_without_a_match_is_none,
        crm_find_activities_returns_every_match_up_to_the_limit,
        crm_update_activity_sets_the_given_fields_and_keeps_the_others,
        crm_activities_of_missing_leads_or_ids_are_rejected,
    ]
}

/// The event code of the test activities.
const VISIT: i32 = 201;
/// Another event code.
const CALL: i32 = 202;

/// A name -> value map of fields (adapters return them in any order).
fn by_name(fields: &[CrmField]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<CrmField> {
    pairs.iter().map(|(n, v)| CrmField::new(*n, *v)).collect()
}

/// A patient's lead fields; `mrn` and `n` make the unique ones (email, phone) distinct.
fn patient_fields(mrn: &str, n: u32) -> Vec<CrmField> {
    fields(&[
        ("mx_MRN", mrn),
        ("FirstName", fixtures::FIRST_NAME),
        ("LastName", fixtures::LAST_NAME),
        ("EmailAddress", &format!("{n}.{}", fixtures::EMAIL)),
        ("Phone", &format!("+1555014{n:04}")),
        ("mx_City", fixtures::CITY),
    ])
}

/// The id of the lead `find_lead(field, value)` finds.
async fn found_lead_id(crm: &CrmUnderTest, field: &str, value: &str) -> Option<LeadId> {
    crm.find_lead(field, value).await.unwrap().map(|l| l.id)
}

/// Creates the fixture patient lead numbered `n` with MRN `mrn`; its id.
async fn new_patient_lead(crm: &CrmUnderTest, mrn: &str, n: u32) -> LeadId {
    crm.create_lead(&patient_fields(mrn, n)).await.unwrap()
}

/// Creates a visit of `appointment` at `at` (see [`visit`]) on `lead`; its id.
async fn new_visit(crm: &CrmUnderTest, lead: &LeadId, appointment: &str, at: i64) -> ActivityId {
    crm.create_activity(lead, &visit(appointment, at, &[]))
        .await
        .unwrap()
}

fn value<'a>(lead: &'a Lead, name: &str) -> Option<&'a str> {
    lead.fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

/// Asserts that `lead` is `id` and holds at least `expected` (a CRM may add system fields).
#[track_caller]
fn assert_lead(lead: Option<Lead>, id: &LeadId, expected: &[CrmField]) {
    let lead = lead.expect("a lead is found");
    assert_eq!(&lead.id, id);
    let got = by_name(&lead.fields);
    for (name, value) in by_name(expected) {
        assert_eq!(got.get(&name), Some(&value), "field {name}");
    }
}

fn visit(appointment: &str, at: i64, extra: &[(&str, &str)]) -> ActivityInput {
    let mut custom = fields(&[("mx_Custom_1", appointment)]);
    custom.extend(fields(extra));
    ActivityInput {
        event: VISIT,
        note: fixtures::VISIT_REASON.into(),
        at: fixtures::at(at),
        fields: custom,
    }
}

/// Asserts that `lead` has no visit with `field` = `value` (`why`).
async fn assert_no_visit(
    crm: &CrmUnderTest,
    lead: &LeadId,
    (field, value): (&str, &str),
    why: &str,
) {
    let found = crm.find_activity(lead, VISIT, field, value).await.unwrap();
    assert_eq!(found, None, "{why}");
}

/// Asserts that `activity` is `id` of `lead` with event `event`, holding at least `expected`.
/// Asserts that `lead`'s visit found by `field` = `value` is activity `id` with (at least)
/// the `expected` fields.
async fn assert_visit(
    crm: &CrmUnderTest,
    lead: &LeadId,
    (field, value): (&str, &str),
    id: &ActivityId,
    expected: &[CrmField],
) {
    let found = crm.find_activity(lead, VISIT, field, value).await.unwrap();
    let activity = found.expect("an activity is found");
    assert_eq!(
        (&activity.id, &activity.lead, activity.event),
        (id, lead, VISIT)
    );
    let got = by_name(&activity.fields);
    for (name, value) in by_name(expected) {
        assert_eq!(got.get(&name), Some(&value), "field {name}");
    }
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, CrmError>) {
    match result {
        Err(e @ CrmError::Rejected { .. }) => assert!(!e.is_transient()),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

async fn crm_a_created_lead_is_found_by_each_of_its_fields(crm: CrmUnderTest) {
    let given = patient_fields("MRN-FX-0001", 1);
    let id = crm.create_lead(&given).await.unwrap();
    assert!(!id.0.is_empty());
    for field in &given {
        assert_lead(
            crm.find_lead(&field.name, &field.value).await.unwrap(),
            &id,
            std::slice::from_ref(field),
        );
    }
    assert_lead(crm.get_lead(&id).await.unwrap(), &id, &given);
}

async fn crm_find_lead_without_a_match_is_none(crm: CrmUnderTest) {
    assert_eq!(crm.find_lead("mx_MRN", "MRN-FX-0001").await.unwrap(), None);
    new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    assert_eq!(
        crm.find_lead("mx_MRN", "MRN-FX-0002").await.unwrap(),
        None,
        "another value"
    );
    assert_eq!(
        crm.find_lead("mx_Other", "MRN-FX-0001").await.unwrap(),
        None,
        "the value, in another field"
    );
}

async fn crm_find_lead_returns_a_lead_with_the_value(crm: CrmUnderTest) {
    // Two leads share a (non-unique) city; a third does not.
    let one = new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    let two = new_patient_lead(&crm, "MRN-FX-0002", 2).await;
    let mut elsewhere = patient_fields("MRN-FX-0003", 3);
    elsewhere.retain(|f| f.name != "mx_City");
    elsewhere.push(CrmField::new("mx_City", "Elsewhere"));
    let three = crm.create_lead(&elsewhere).await.unwrap();
    assert_ne!(one, two);
    let found = crm
        .find_lead("mx_City", fixtures::CITY)
        .await
        .unwrap()
        .expect("a lead");
    assert!(found.id == one || found.id == two, "{found:?}");
    assert_eq!(value(&found, "mx_City"), Some(fixtures::CITY));
    let found = crm.find_lead("mx_City", "Elsewhere").await.unwrap();
    assert_eq!(found.map(|l| l.id), Some(three));
}

async fn crm_update_lead_sets_the_given_fields_and_keeps_the_others(crm: CrmUnderTest) {
    let given = patient_fields("MRN-FX-0001", 1);
    let id = crm.create_lead(&given).await.unwrap();
    let other = new_patient_lead(&crm, "MRN-FX-0002", 2).await;
    let changes = fields(&[("mx_City", "Newtown"), ("mx_Street1", fixtures::STREET)]);
    crm.update_lead(&id, &changes).await.unwrap();

    let mut expected: BTreeMap<String, String> = by_name(&given);
    expected.extend(by_name(&changes));
    let expected: Vec<CrmField> = expected
        .into_iter()
        .map(|(n, v)| CrmField::new(n, v))
        .collect();
    assert_lead(crm.get_lead(&id).await.unwrap(), &id, &expected);
    assert_eq!(
        found_lead_id(&crm, "mx_Street1", fixtures::STREET).await,
        Some(id.clone()),
        "found by a field set by the update"
    );
    assert_eq!(
        found_lead_id(&crm, "mx_City", "Newtown").await,
        Some(id.clone()),
        "found by the new value"
    );
    assert_eq!(
        found_lead_id(&crm, "mx_City", fixtures::CITY).await,
        Some(other.clone()),
        "no longer by the old one"
    );
    assert_lead(
        crm.get_lead(&other).await.unwrap(),
        &other,
        &patient_fields("MRN-FX-0002", 2),
    );
}

async fn crm_find_leads_returns_every_match_up_to_the_limit(crm: CrmUnderTest) {
    // Two leads share a (non-unique) city, as family members share a home.
    let one = new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    let two = new_patient_lead(&crm, "MRN-FX-0002", 2).await;
    let ids = |leads: Vec<Lead>| {
        let mut ids: Vec<LeadId> = leads.into_iter().map(|l| l.id).collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        ids
    };
    let mut both = vec![one.clone(), two.clone()];
    both.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        ids(crm.find_leads("mx_City", fixtures::CITY, 2).await.unwrap()),
        both
    );
    assert_eq!(
        ids(crm.find_leads("mx_City", fixtures::CITY, 5).await.unwrap()),
        both,
        "no more than there are"
    );
    let first = crm.find_leads("mx_City", fixtures::CITY, 1).await.unwrap();
    assert_eq!(first.len(), 1, "no more than the limit");
    assert!(first[0].id == one || first[0].id == two);
    assert_eq!(
        ids(crm.find_leads("mx_MRN", "MRN-FX-0002", 2).await.unwrap()),
        vec![two.clone()],
        "a unique key finds one"
    );
    let found = crm.find_leads("mx_MRN", "MRN-FX-0002", 2).await.unwrap();
    assert_eq!(
        value(&found[0], "mx_MRN"),
        Some("MRN-FX-0002"),
        "the searched field"
    );
    assert!(
        crm.find_leads("mx_MRN", "MRN-FX-0003", 2)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn crm_get_lead_reads_the_whole_lead_or_none(crm: CrmUnderTest) {
    let given = patient_fields("MRN-FX-0001", 1);
    let id = crm.create_lead(&given).await.unwrap();
    new_patient_lead(&crm, "MRN-FX-0002", 2).await;
    assert_lead(crm.get_lead(&id).await.unwrap(), &id, &given);
    let missing = LeadId("00000000-0000-4000-8000-000000000000".into());
    assert_eq!(crm.get_lead(&missing).await.unwrap(), None);
}

async fn crm_update_of_a_missing_lead_is_rejected(crm: CrmUnderTest) {
    let missing = LeadId("00000000-0000-4000-8000-000000000000".into());
    assert_rejected(
        crm.update_lead(&missing, &fields(&[("mx_City", "Newtown")]))
            .await,
    );
    assert_eq!(crm.find_lead("mx_City", "Newtown").await.unwrap(), None);
}

async fn crm_a_created_activity_is_found_by_lead_event_and_field(crm: CrmUnderTest) {
    let lead = new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    let input = visit("APT-1001", 0, &[("mx_Custom_2", "Scheduled")]);
    let id = crm.create_activity(&lead, &input).await.unwrap();
    assert!(!id.0.is_empty());
    let second = new_visit(&crm, &lead, "APT-1002", 10).await;
    assert_ne!(id, second);
    assert_visit(&crm, &lead, ("mx_Custom_1", "APT-1001"), &id, &input.fields).await;
    assert_visit(
        &crm,
        &lead,
        ("mx_Custom_2", "Scheduled"),
        &id,
        &input.fields,
    )
    .await;
    assert_visit(
        &crm,
        &lead,
        ("mx_Custom_1", "APT-1002"),
        &second,
        &fields(&[("mx_Custom_1", "APT-1002")]),
    )
    .await;
}

async fn crm_find_activity_without_a_match_is_none(crm: CrmUnderTest) {
    let lead = new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    let other_lead = new_patient_lead(&crm, "MRN-FX-0002", 2).await;
    assert_no_visit(&crm, &lead, ("mx_Custom_1", "APT-1001"), "no activity yet").await;
    new_visit(&crm, &lead, "APT-1001", 0).await;
    for (lead, event, field, value, why) in [
        (&lead, VISIT, "mx_Custom_1", "APT-1002", "another value"),
        (&lead, VISIT, "mx_Custom_2", "APT-1001", "another field"),
        (&lead, CALL, "mx_Custom_1", "APT-1001", "another event"),
        (
            &other_lead,
            VISIT,
            "mx_Custom_1",
            "APT-1001",
            "another lead",
        ),
    ] {
        assert_eq!(
            crm.find_activity(lead, event, field, value).await.unwrap(),
            None,
            "{why}"
        );
    }
}

async fn crm_find_activities_returns_every_match_up_to_the_limit(crm: CrmUnderTest) {
    let lead = new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    // Two visits carry the same appointment id (a CRM user copied one); a third does not.
    let one = new_visit(&crm, &lead, "APT-1001", 0).await;
    let two = new_visit(&crm, &lead, "APT-1001", 10).await;
    new_visit(&crm, &lead, "APT-1002", 20).await;
    let ids = |found: Vec<Activity>| {
        let mut ids: Vec<ActivityId> = found.into_iter().map(|a| a.id).collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        ids
    };
    let mut both = vec![one, two];
    both.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        ids(crm
            .find_activities(&lead, VISIT, "mx_Custom_1", "APT-1001", 2)
            .await
            .unwrap()),
        both
    );
    assert_eq!(
        crm.find_activities(&lead, VISIT, "mx_Custom_1", "APT-1001", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        crm.find_activities(&lead, VISIT, "mx_Custom_1", "APT-1002", 2)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        crm.find_activities(&lead, CALL, "mx_Custom_1", "APT-1001", 2)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn crm_update_activity_sets_the_given_fields_and_keeps_the_others(crm: CrmUnderTest) {
    let lead = new_patient_lead(&crm, "MRN-FX-0001", 1).await;
    let id = crm
        .create_activity(
            &lead,
            &visit(
                "APT-1001",
                0,
                &[("mx_Custom_2", "Scheduled"), ("mx_Custom_4", "Dr. Fixture")],
            ),
        )
        .await
        .unwrap();
    let other = crm
        .create_activity(
            &lead,
            &visit("APT-1002", 0, &[("mx_Custom_2", "Scheduled")]),
        )
        .await
        .unwrap();
    let update = ActivityInput {
        event: VISIT,
        note: "Rescheduled".into(),
        at: fixtures::at(3_600),
        fields: fields(&[("mx_Custom_2", "Cancelled"), ("mx_Custom_5", "Room 2")]),
    };
    crm.update_activity(&id, &update).await.unwrap();
    let expected = fields(&[
        ("mx_Custom_1", "APT-1001"),
        ("mx_Custom_2", "Cancelled"),
        ("mx_Custom_4", "Dr. Fixture"),
        ("mx_Custom_5", "Room 2"),
    ]);
    assert_visit(&crm, &lead, ("mx_Custom_1", "APT-1001"), &id, &expected).await;
    assert_visit(&crm, &lead, ("mx_Custom_2", "Cancelled"), &id, &expected).await;
    assert_visit(
        &crm,
        &lead,
        ("mx_Custom_2", "Scheduled"),
        &other,
        &fields(&[("mx_Custom_1", "APT-1002"), ("mx_Custom_2", "Scheduled")]),
    )
    .await;
}

async fn crm_activities_of_missing_leads_or_ids_are_rejected(crm: CrmUnderTest) {
    let missing_lead = LeadId("00000000-0000-4000-8000-000000000000".into());
    assert_rejected(
        crm.create_activity(&missing_lead, &visit("APT-1001", 0, &[]))
            .await,
    );
    let missing = ActivityId("00000000-0000-4000-8000-000000000001".into());
    assert_rejected(
        crm.update_activity(&missing, &visit("APT-1001", 0, &[]))
            .await,
    );
    let why = "a lead that does not exist has no activities";
    assert_no_visit(&crm, &missing_lead, ("mx_Custom_1", "APT-1001"), why).await;
}
