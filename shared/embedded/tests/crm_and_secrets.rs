//! Behaviour of the embedded CRM and secret store beyond the port contracts: LeadSquared-like
//! lookups (case-insensitive lead values, the oldest of several, `ProspectID`), the read API,
//! timestamps from the clock, refusals; `env:`, `local:` and `secretsmanager:` references;
//! data surviving a reopen; and the version 2 -> 3 migration.

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::{open, open_with_patient};
use connector_domain::crm::ActivityQuery;
use connector_domain::crm::{ActivityInput, CrmError, CrmField, LeadId};
use connector_domain::flow::SecretRef;
use connector_domain::inbound::{InboundClaim, parse_key};
use connector_domain::ports::SecretError;
use connector_domain::ports::{InboundClaimRequest, LeaseTerms};
use connector_domain::{FixedClock, StoreError};
use connector_embedded::{SqliteCrm, SqliteDb};
use connector_testkit::fixtures;

/// The fields the embedded CRM stamps on every write, as LeadSquared does.
const SYSTEM_FIELDS: [&str; 5] = [
    "ProspectID",
    "CreatedBy",
    "CreatedOn",
    "ModifiedBy",
    "ModifiedOn",
];

fn fields(pairs: &[(&str, &str)]) -> Vec<CrmField> {
    pairs.iter().map(|(n, v)| CrmField::new(*n, *v)).collect()
}

fn visit(appointment: &str, note: &str, at: i64) -> ActivityInput {
    ActivityInput {
        event: 201,
        note: note.into(),
        at: fixtures::at(at),
        fields: fields(&[("mx_Custom_1", appointment), ("mx_Custom_2", "Scheduled")]),
    }
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, CrmError>, exception: &str) {
    match result {
        Err(CrmError::Rejected {
            status: 400,
            exception_type,
        }) => assert_eq!(exception_type, exception),
        other => panic!("expected a 400 {exception}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The embedded CRM

#[tokio::test]
async fn lead_values_match_case_insensitively_and_the_oldest_lead_wins() {
    let dir = tempfile::tempdir().unwrap();
    let crm = open(dir.path()).crm();
    // Two leads whose cities differ only in case, created in this order.
    let mut created = Vec::new();
    for (email, city) in [
        ("Zephyrine.Quillfeather@Example.invalid", "Ürbach"),
        ("other@example.invalid", "ürbach"),
    ] {
        let lead = fields(&[("EmailAddress", email), ("mx_City", city)]);
        created.push(crm.create_lead(&lead).await.unwrap());
    }
    let [first, second]: [LeadId; 2] = created.try_into().unwrap();
    let found = |lead: Option<connector_domain::crm::Lead>| lead.map(|l| l.id);
    assert_eq!(
        found(
            crm.find_lead("EmailAddress", "zephyrine.quillfeather@EXAMPLE.INVALID")
                .await
                .unwrap()
        ),
        Some(first.clone()),
        "values compare case-insensitively"
    );
    assert_eq!(
        found(crm.find_lead("mx_City", "ÜRBACH").await.unwrap()),
        Some(first.clone()),
        "beyond ASCII too, and of two matches the oldest"
    );
    assert_eq!(
        found(crm.find_lead("mx_city", "Ürbach").await.unwrap()),
        None,
        "field names compare exactly"
    );
    assert_eq!(
        found(crm.find_lead("ProspectID", &second.0).await.unwrap()),
        Some(second.clone()),
        "ProspectID looks a lead up by id"
    );
    // An empty value is no value: it matches nothing, not every lead with an empty field.
    crm.update_lead(&second, &fields(&[("mx_Notes", "")]))
        .await
        .unwrap();
    assert_eq!(found(crm.find_lead("mx_Notes", "").await.unwrap()), None);
    // Updating re-indexes: the new value is found, case-insensitively, the old one not.
    crm.update_lead(&first, &fields(&[("mx_City", "Neustadt")]))
        .await
        .unwrap();
    assert_eq!(
        found(crm.find_lead("mx_City", "neustadt").await.unwrap()),
        Some(first)
    );
    assert_eq!(
        found(crm.find_lead("mx_City", "Ürbach").await.unwrap()),
        Some(second),
        "the other lead now matches alone"
    );
}

#[tokio::test]
async fn activity_values_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let crm = open(dir.path()).crm();
    let lead = crm
        .create_lead(&fields(&[("mx_MRN", "MRN-FX-0001")]))
        .await
        .unwrap();
    let first = crm
        .create_activity(&lead, &visit("APT-1001", "first", 0))
        .await
        .unwrap();
    crm.create_activity(&lead, &visit("APT-1002", "second", 0))
        .await
        .unwrap();
    assert_eq!(
        crm.find_activity(ActivityQuery {
            lead: &lead,
            event: 201,
            field: "mx_Custom_1",
            value: "apt-1001"
        })
        .await
        .unwrap(),
        None,
        "as the LeadSquared adapter compares activity fields: exactly"
    );
    assert_eq!(
        crm.find_activity(ActivityQuery {
            lead: &lead,
            event: 201,
            field: "mx_Custom_2",
            value: "Scheduled"
        })
        .await
        .unwrap()
        .map(|a| a.id),
        Some(first),
        "of several matches, the oldest"
    );
}

#[tokio::test]
async fn records_are_listed_with_notes_times_and_clock_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let clock = Arc::new(FixedClock::at(fixtures::at(0)));
    let crm = db.crm_with_clock(clock.clone());
    let records = db.crm_records();

    let lead = crm
        .create_lead(&fields(&[
            ("mx_MRN", "MRN-FX-0001"),
            ("FirstName", fixtures::FIRST_NAME),
            ("mx_MRN", "MRN-FX-0002"),
        ]))
        .await
        .unwrap();
    clock.advance(Duration::seconds(10));
    crm.update_lead(&lead, &fields(&[("LastName", fixtures::LAST_NAME)]))
        .await
        .unwrap();
    let stored = records.lead(&lead).await.unwrap().expect("the lead");
    let own: Vec<CrmField> = stored
        .fields
        .iter()
        .filter(|f| !SYSTEM_FIELDS.contains(&f.name.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        own,
        fields(&[
            ("FirstName", fixtures::FIRST_NAME),
            ("LastName", fixtures::LAST_NAME),
            ("mx_MRN", "MRN-FX-0002"),
        ]),
        "ordered by name; of a repeated name, the last value"
    );
    assert_eq!(stored.field("ModifiedBy"), Some(SqliteCrm::USER_ID));
    assert_eq!(stored.field("CreatedOn"), Some("2026-11-21 10:00:00"));
    assert_eq!(stored.field("ModifiedOn"), Some("2026-11-21 10:00:10"));
    assert_eq!(
        (stored.created_at, stored.updated_at),
        (fixtures::at(0), fixtures::at(10))
    );
    assert_eq!(records.leads().await.unwrap(), vec![stored.clone()]);
    assert_eq!(stored.field("LastName"), Some(fixtures::LAST_NAME));
    assert!(
        !format!("{stored:?}").contains(fixtures::FIRST_NAME),
        "Debug redacts values"
    );

    let activity = crm
        .create_activity(&lead, &visit("APT-1001", fixtures::VISIT_REASON, 3_600))
        .await
        .unwrap();
    clock.advance(Duration::seconds(10));
    let update = ActivityInput {
        event: 201,
        note: "Rescheduled".into(),
        at: fixtures::at(7_200),
        fields: fields(&[("mx_Custom_2", "Cancelled")]),
    };
    crm.update_activity(&activity, &update).await.unwrap();
    let listed = records.activities(&lead).await.unwrap();
    assert_eq!(listed.len(), 1);
    let a = &listed[0];
    assert_eq!(
        (&a.id, &a.lead, a.event, a.note.as_str(), a.at),
        (&activity, &lead, 201, "Rescheduled", fixtures::at(7_200)),
        "the note and the time are replaced"
    );
    assert_eq!(
        a.fields,
        fields(&[("mx_Custom_1", "APT-1001"), ("mx_Custom_2", "Cancelled")]),
        "the fields merged"
    );
    assert_eq!(
        (a.created_at, a.updated_at),
        (fixtures::at(10), fixtures::at(20))
    );
    assert_eq!(records.activity(&activity).await.unwrap().as_ref(), Some(a));
    assert!(
        !format!("{a:?}").contains("Rescheduled"),
        "Debug redacts the note"
    );
    assert_eq!(
        records
            .activities(&LeadId("nobody".into()))
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn refusals_mirror_leadsquared_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let crm = db.crm();
    assert_rejected(crm.create_lead(&[]).await, "MXInvalidInputException");
    let lead = crm
        .create_lead(&fields(&[("mx_MRN", "MRN-FX-0001")]))
        .await
        .unwrap();
    assert_rejected(crm.update_lead(&lead, &[]).await, "MXInvalidInputException");
    assert_rejected(
        crm.update_lead(&LeadId("nobody".into()), &fields(&[("mx_MRN", "x")]))
            .await,
        "MXInvalidEntityException",
    );
    let activity = crm
        .create_activity(&lead, &visit("APT-1001", "note", 0))
        .await
        .unwrap();
    let other_type = ActivityInput {
        event: 202,
        ..visit("APT-1001", "changed", 0)
    };
    assert_rejected(
        crm.update_activity(&activity, &other_type).await,
        "MXInvalidInputException",
    );
    let far = ActivityInput {
        at: chrono::DateTime::parse_from_rfc3339("2999-01-01T00:00:00Z")
            .unwrap()
            .to_utc(),
        ..visit("APT-1002", "far", 0)
    };
    assert_rejected(
        crm.create_activity(&lead, &far).await,
        "MXInvalidInputException",
    );
    let records = db.crm_records();
    assert_eq!(records.leads().await.unwrap().len(), 1);
    let activities = records.activities(&lead).await.unwrap();
    assert_eq!(activities.len(), 1);
    assert_eq!(
        activities[0].note, "note",
        "the refused update changed nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[tokio::test]
async fn local_secrets_are_set_replaced_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let secrets = db.secrets();
    let reference = SecretRef::parse("local:ehr-hmac.v2").unwrap();
    assert!(matches!(
        secrets.resolve(&reference).await,
        Err(SecretError::NotFound)
    ));
    db.set_local_secret("ehr-hmac.v2", b"first-key")
        .await
        .unwrap();
    assert_eq!(
        secrets.resolve(&reference).await.unwrap().expose(),
        b"first-key"
    );
    db.set_local_secret("ehr-hmac.v2", &[0, 159, 146, 150])
        .await
        .unwrap();
    assert_eq!(
        secrets.resolve(&reference).await.unwrap().expose(),
        &[0, 159, 146, 150],
        "replaced; any bytes"
    );
    assert!(db.delete_local_secret("ehr-hmac.v2").await.unwrap());
    assert!(!db.delete_local_secret("ehr-hmac.v2").await.unwrap());
    assert!(matches!(
        secrets.resolve(&reference).await,
        Err(SecretError::NotFound)
    ));
    for bad in ["", "a b", "../x", &"x".repeat(65)] {
        assert!(
            matches!(
                db.set_local_secret(bad, b"v").await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn secrets_manager_references_are_unsupported_here() {
    let db = SqliteDb::open_in_memory().unwrap();
    let reference = SecretRef::parse(
        "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic/ehr-AbC123",
    )
    .unwrap();
    assert!(matches!(
        db.secrets().resolve(&reference).await,
        Err(SecretError::Unsupported("secretsmanager"))
    ));
}

/// The variable the child process of [`env_references_read_the_process_environment`] gets
/// (tests cannot set variables in their own process: `set_var` is unsafe).
const ENV_NAME: &str = "CONNECTOR_SECRET_EMBEDDED_TEST";

#[tokio::test]
async fn env_references_read_the_process_environment() {
    let db = SqliteDb::open_in_memory().unwrap();
    let unset = SecretRef::parse("env:CONNECTOR_SECRET_EMBEDDED_TEST_NEVER_SET").unwrap();
    assert!(matches!(
        db.secrets().resolve(&unset).await,
        Err(SecretError::NotFound)
    ));
    match std::env::var(ENV_NAME) {
        Ok(expected) => {
            let reference = SecretRef::parse(&format!("env:{ENV_NAME}")).unwrap();
            let value = db.secrets().resolve(&reference).await.unwrap();
            assert_eq!(value.expose(), expected.as_bytes());
        }
        Err(_) => {
            // Run this test again in a child process that has the variable.
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["env_references_read_the_process_environment", "--exact"])
                .env(ENV_NAME, "value-from-the-environment")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "the child run failed: {stdout}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Durability and migration

#[tokio::test]
async fn flows_inbound_records_leads_and_secrets_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = parse_key("north-ehr", "MSG00001").unwrap();
    let lead = {
        let db = open(dir.path());
        let claim = db
            .inbound_ledger()
            .claim(InboundClaimRequest {
                key: &key,
                body_sha256: "ab",
                event: "ADT^A04",
                lease: LeaseTerms::new(fixtures::at(0), Duration::seconds(60)),
            })
            .await
            .unwrap();
        assert!(matches!(claim, InboundClaim::Granted(_)));
        db.set_local_secret("k", b"v").await.unwrap();
        db.crm()
            .create_lead(&fields(&[("mx_MRN", "MRN-FX-0001")]))
            .await
            .unwrap()
    };
    let db = open(dir.path());
    assert!(matches!(
        db.inbound_ledger()
            .claim(InboundClaimRequest { key: &key, body_sha256: "ab", event: "ADT^A04", lease: LeaseTerms::new(fixtures::at(1), Duration::seconds(60)) })
            .await
            .unwrap(),
        InboundClaim::Busy(r) if r.attempts == 1
    ));
    assert_eq!(
        db.secrets()
            .resolve(&SecretRef::parse("local:k").unwrap())
            .await
            .unwrap()
            .expose(),
        b"v"
    );
    assert_eq!(
        db.crm()
            .find_lead("mx_MRN", "MRN-FX-0001")
            .await
            .unwrap()
            .map(|l| l.id),
        Some(lead)
    );
}

#[tokio::test]
async fn a_version_2_file_migrates_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    open_with_patient(dir.path()).await;
    // Take the file back to version 2 as an older build left it.
    common::downgrade(
        dir.path(),
        "DROP TABLE channels; DROP TABLE flows; DROP TABLE inbound_ledger; \
         DROP TABLE crm_lead_values; DROP TABLE crm_activities; DROP TABLE crm_leads; \
         DROP TABLE local_secrets; DROP TABLE delivery_group_blocks; \
         DROP TABLE deliveries; DROP TABLE webhooks; DROP TABLE crm_writes; \
         DROP TABLE inbound_key_locks;",
        2,
    );
    let db = common::open_migrated(dir.path()).await;
    assert_eq!(db.flows().list_channels().await.unwrap().len(), 0);
}
