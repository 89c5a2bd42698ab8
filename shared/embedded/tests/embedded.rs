//! Behaviour specific to the embedded adapters: durability across reopen, migrations,
//! concurrency, dead letters, queue timers on a moved clock, the outbox mailer, and error
//! translation.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use common::{open, open_with_patient, raw};
use connector_domain::audit::{AuditQuery, LogType};
use connector_domain::hie::{Claim, SendState};
use connector_domain::patient::Email;
use connector_domain::ports::{
    ConsentStore, MailError, Mailer, OutgoingMail, QueueConsumer, QueueMessage, WorkQueue,
};
use connector_domain::{FixedClock, StoreError};
use connector_embedded::{
    OpenError, OutboxMailer, QueueOptions, SCHEMA_VERSION, SqliteDb, SqliteQueue,
};
use connector_testkit::fixtures;

// ---------------------------------------------------------------------------------------------
// Durability and migrations

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let patient = fixtures::patient("p-1");
    let consent = fixtures::opt_in_consent("p-1");
    let entry = fixtures::consent_audit(&consent, "consent.created");
    let mut appointment = fixtures::appointment("a-1", "p-1");
    {
        let db = open(dir.path());
        db.patients()
            .insert(&patient, Some((&consent, &entry)))
            .await
            .unwrap();
        fixtures::save_settings(&*db.settings()).await;
        db.appointments().put(&appointment).await.unwrap();
        appointment = db
            .appointments()
            .record_transition(&appointment.appointment_id, 0, fixtures::at(60))
            .await
            .unwrap();
        db.queue("work", QueueOptions::default())
            .send_batch(&[fixtures::queue_message("{\"id\":1}")])
            .await
            .unwrap();
    }
    let db = open(dir.path());
    assert_eq!(
        db.patients().get(&patient.patient_id).await.unwrap(),
        Some(patient.clone())
    );
    assert_eq!(
        db.consents().latest(&patient.patient_id).await.unwrap(),
        Some(consent)
    );
    assert_eq!(
        db.settings()
            .get()
            .await
            .unwrap()
            .map(|s| (s.value, s.version)),
        Some((fixtures::settings(), 1))
    );
    assert_eq!(
        db.appointments()
            .get(&appointment.appointment_id)
            .await
            .unwrap(),
        Some(appointment)
    );
    let audit = common::audit_of(&db, AuditQuery::default()).await;
    assert_eq!(audit.len(), 2);
    let queue = db.queue("work", QueueOptions::default());
    let got = queue.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["{\"id\":1}"]
    );
}

#[tokio::test]
async fn a_fresh_file_is_migrated_to_the_current_schema_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    assert_eq!(db.path(), Some(dir.path().join("connector.db").as_path()));
    let conn = raw(dir.path());
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "appointments",
            "audit_log",
            "channels",
            "consents",
            "crm_activities",
            "crm_lead_values",
            "crm_leads",
            "crm_writes",
            "dashboard_batch_runs",
            "dashboard_crm_errors",
            "dashboard_hours",
            "deliveries",
            "delivery_group_blocks",
            "flows",
            "inbound_key_locks",
            "inbound_ledger",
            "local_secrets",
            "patients",
            "queue_dead_letters",
            "queue_dedup",
            "queue_messages",
            "send_ledger",
            "settings",
            "webhooks"
        ]
    );
}

#[tokio::test]
async fn reopening_a_migrated_file_keeps_its_version_and_data() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path())
        .patients()
        .insert(&fixtures::patient("p-1"), None)
        .await
        .unwrap();
    let db = open(dir.path());
    let version = common::schema_version(dir.path());
    assert_eq!(version, SCHEMA_VERSION);
    assert!(common::has_patient(&db, "p-1").await);
}

#[test]
fn a_file_with_a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    raw(dir.path())
        .pragma_update(None, "user_version", SCHEMA_VERSION + 7)
        .unwrap();
    let err = SqliteDb::open(dir.path().join("connector.db")).unwrap_err();
    assert!(
        matches!(err, OpenError::NewerSchema { found, supported } if found == SCHEMA_VERSION + 7 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade the connector"));
    let version = common::schema_version(dir.path());
    assert_eq!(version, SCHEMA_VERSION + 7);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("connector.db"),
        b"this is not a database, just text padding it out",
    )
    .unwrap();
    assert!(SqliteDb::open(dir.path().join("connector.db")).is_err());
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/// Appends one consent for `patient`, re-reading and retrying after each lost race.
async fn append_with_retries(consents: Arc<dyn ConsentStore>, patient: &str) -> usize {
    let id = fixtures::patient_id(patient);
    for attempt in 1..=1000 {
        let latest = consents.latest(&id).await.unwrap().map(|c| c.seq);
        let consent = fixtures::consent(patient, latest.unwrap_or(0) + 1);
        let entry = fixtures::consent_audit(&consent, "consent.created");
        match consents.append(&consent, latest, &entry).await {
            Ok(()) => return attempt,
            Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
            Err(err) => panic!("append failed: {err:?}"),
        }
    }
    panic!("no progress after 1000 attempts");
}

async fn assert_gapless(db: &SqliteDb, patient: &str, n: u64) {
    let id = fixtures::patient_id(patient);
    let seqs: Vec<u64> = db
        .consents()
        .history(&id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=n).rev().collect::<Vec<_>>(),
        "seqs 1..={n}, no gaps, no duplicates"
    );
    let of_patient = AuditQuery {
        patient_id: Some(id),
        ..AuditQuery::default()
    };
    let audit = common::audit_of(db, of_patient).await;
    assert_eq!(audit.len() as u64, n, "one audit entry per stored record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_appends_produce_gapless_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let tasks: Vec<_> = (0..50)
        .map(|_| tokio::spawn(append_with_retries(db.consents(), "p-1")))
        .collect();
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await.unwrap();
    }
    assert!(attempts >= 50);
    assert_gapless(&db, "p-1", 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_to_one_file_serialise_their_writes() {
    // As two processes would: separate connections, so SQLite's file locks (BEGIN IMMEDIATE and
    // the busy timeout), not our mutex, keep the writes apart.
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (open(dir.path()), open(dir.path()));
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let db = if i % 2 == 0 { &one } else { &two };
            tokio::spawn(append_with_retries(db.consents(), "p-1"))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_gapless(&one, "p-1", 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn send_claims_from_two_connections_grant_one_attempt() {
    // As two sender processes would: the file's write lock, not our mutex, keeps claims apart.
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (open(dir.path()), open(dir.path()));
    let key = fixtures::send_key("a-1", 1, 0);
    let lease = secs(60);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let ledger = if i % 2 == 0 {
                one.send_ledger()
            } else {
                two.send_ledger()
            };
            let key = key.clone();
            tokio::spawn(async move { ledger.claim(&key, fixtures::at(0), lease).await.unwrap() })
        })
        .collect();
    let mut claims = Vec::new();
    for task in tasks {
        claims.push(task.await.unwrap());
    }
    let granted = claims
        .iter()
        .filter(|c| matches!(c, Claim::Granted { .. }))
        .count();
    assert_eq!(granted, 1, "{claims:?}");
    assert!(claims.contains(&Claim::Granted { attempt: 1 }));
    let record = two.send_ledger().get(&key).await.unwrap().expect("claimed");
    assert_eq!((record.state, record.attempts), (SendState::Sending, 1));
}

// ---------------------------------------------------------------------------------------------
// Queue: timers on a moved clock, dead letters, isolation

fn clocked_queue(
    db: &SqliteDb,
    name: &str,
    max_receives: Option<u32>,
) -> (SqliteQueue, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(fixtures::base_time()));
    let mut options = QueueOptions::default().clock(clock.clone());
    options.max_receives = max_receives;
    (db.queue(name, options), clock)
}

/// The queue `name` on its own clock (see [`clocked_queue`]) in a new database in memory.
fn queue_in_memory(name: &str, max_receives: Option<u32>) -> (SqliteQueue, Arc<FixedClock>) {
    let db = SqliteDb::open_in_memory().unwrap();
    clocked_queue(&db, name, max_receives)
}

/// The queue `q` on its own clock in a new database in memory, holding the one message `m`.
async fn queue_with_one_message() -> (SqliteQueue, Arc<FixedClock>) {
    let (queue, clock) = queue_in_memory("q", None);
    queue
        .send_batch(&[fixtures::queue_message("m")])
        .await
        .unwrap();
    (queue, clock)
}

const VISIBILITY: Duration = Duration::from_secs(30);

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

#[tokio::test]
async fn visibility_timeout_follows_the_queue_clock() {
    let (queue, clock) = queue_with_one_message().await;
    let first = queue.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(first.len(), 1);
    clock.advance(secs(29));
    assert!(
        queue.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "still hidden"
    );
    clock.advance(secs(1));
    let second = queue.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(
        (second[0].message_id.as_str(), second[0].receive_count),
        (first[0].message_id.as_str(), 2)
    );

    // The first delivery's receipt is stale: deleting with it does nothing.
    queue.delete(&first[0].receipt).await.unwrap();
    clock.advance(secs(30));
    let third = queue.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(
        third[0].receive_count, 3,
        "a stale receipt did not delete the message"
    );
    // Releasing with a stale receipt does nothing either.
    queue
        .release(&second[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    assert!(queue.receive(10, VISIBILITY).await.unwrap().is_empty());
    queue.delete(&third[0].receipt).await.unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.visible, stats.hidden, stats.dead), (0, 0, 0));
}

#[tokio::test]
async fn release_delay_follows_the_queue_clock() {
    let (queue, clock) = queue_with_one_message().await;
    let got = queue.receive(1, VISIBILITY).await.unwrap();
    queue
        .release(&got[0].receipt, Duration::from_secs(120))
        .await
        .unwrap();
    clock.advance(secs(119));
    assert!(queue.receive(1, VISIBILITY).await.unwrap().is_empty());
    assert_eq!(queue.stats().await.unwrap().hidden, 1);
    clock.advance(secs(1));
    assert_eq!(
        queue.receive(1, VISIBILITY).await.unwrap()[0].receive_count,
        2
    );
}

#[tokio::test]
async fn dedup_window_is_five_minutes_from_the_first_send() {
    let (queue, clock) = queue_in_memory("q.fifo", None);
    let message = |body: &str| QueueMessage {
        body: body.into(),
        group_id: Some("g".into()),
        dedup_id: Some("d".into()),
    };
    queue.send_batch(&[message("one")]).await.unwrap();
    clock.advance(secs(299));
    queue.send_batch(&[message("two")]).await.unwrap();
    clock.advance(secs(1));
    queue.send_batch(&[message("three")]).await.unwrap();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        for m in queue.receive(10, VISIBILITY).await.unwrap() {
            queue.delete(&m.receipt).await.unwrap();
            bodies.push(m.body);
        }
    }
    assert_eq!(
        bodies,
        ["one", "three"],
        "the window is not extended by the dropped repeat"
    );
}

#[tokio::test]
async fn a_message_received_max_receives_times_is_dead_lettered_and_can_be_redriven() {
    let (queue, clock) = queue_in_memory("q", Some(2));
    queue
        .send_batch(&[
            fixtures::queue_message("poison"),
            fixtures::queue_message("fine"),
        ])
        .await
        .unwrap();
    for expected in 1..=2 {
        let got = queue.receive(10, VISIBILITY).await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|m| m.receive_count == expected));
        let fine = got.iter().find(|m| m.body == "fine").unwrap();
        if expected == 2 {
            queue.delete(&fine.receipt).await.unwrap();
        }
        clock.advance(secs(31));
    }
    assert!(
        queue.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "the third receive dead-letters it"
    );
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].body.as_str(), dead[0].receive_count),
        ("poison", 2)
    );
    assert_eq!(dead[0].sent_at, fixtures::base_time());
    assert_eq!(queue.stats().await.unwrap().dead, 1);

    assert_eq!(queue.redrive(None).await.unwrap(), 1);
    assert!(queue.dead_letters(10).await.unwrap().is_empty());
    let again = queue.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].message_id.as_str(), again[0].receive_count),
        (dead[0].message_id.as_str(), 1)
    );
    queue.delete(&again[0].receipt).await.unwrap();
}

#[tokio::test]
async fn dead_lettering_a_group_head_unblocks_the_group() {
    let (queue, clock) = queue_in_memory("q.fifo", Some(1));
    queue
        .send_batch(&[
            fixtures::fifo_message("A", "A-1"),
            fixtures::fifo_message("A", "A-2"),
        ])
        .await
        .unwrap();
    assert_eq!(queue.receive(10, VISIBILITY).await.unwrap()[0].body, "A-1");
    clock.advance(secs(31));
    let next = queue.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(
        next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["A-2"],
        "in the same receive"
    );
    assert_eq!(queue.dead_letters(10).await.unwrap()[0].body, "A-1");
}

#[tokio::test]
async fn dead_letters_can_be_redriven_selectively_or_deleted() {
    let (queue, clock) = queue_in_memory("q", Some(1));
    queue
        .send_batch(&["a", "b", "c"].map(fixtures::queue_message))
        .await
        .unwrap();
    queue.receive(10, VISIBILITY).await.unwrap();
    clock.advance(secs(31));
    assert!(queue.receive(10, VISIBILITY).await.unwrap().is_empty());
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(
        dead.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"],
        "oldest first"
    );
    assert_eq!(queue.dead_letters(2).await.unwrap().len(), 2, "limit");

    let b = dead[1].message_id.clone();
    assert_eq!(
        queue
            .redrive(Some(&[b.clone(), "unknown".into()]))
            .await
            .unwrap(),
        1
    );
    assert!(queue.delete_dead_letter(&dead[0].message_id).await.unwrap());
    assert!(!queue.delete_dead_letter(&dead[0].message_id).await.unwrap());
    let left = queue.dead_letters(10).await.unwrap();
    assert_eq!(
        left.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    let redriven = queue.receive(10, VISIBILITY).await.unwrap();
    assert_eq!(
        redriven
            .iter()
            .map(|m| m.message_id.as_str())
            .collect::<Vec<_>>(),
        [b.as_str()]
    );
}

#[tokio::test]
async fn named_queues_in_one_file_are_separate() {
    let db = SqliteDb::open_in_memory().unwrap();
    let (one, clock) = clocked_queue(&db, "one", Some(1));
    let (two, _) = clocked_queue(&db, "two", Some(1));
    one.send_batch(&[fixtures::queue_message("for-one")])
        .await
        .unwrap();
    assert!(two.receive(10, VISIBILITY).await.unwrap().is_empty());
    let got = one.receive(10, VISIBILITY).await.unwrap();
    two.delete(&got[0].receipt).await.unwrap();
    clock.advance(secs(31));
    one.receive(10, VISIBILITY).await.unwrap();
    assert!(two.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(two.redrive(None).await.unwrap(), 0);
    assert_eq!(
        one.dead_letters(10).await.unwrap().len(),
        1,
        "another queue's receipt did not delete it"
    );
}

#[tokio::test]
async fn a_send_wakes_a_waiting_consumer_of_the_same_queue_only() {
    let db = SqliteDb::open_in_memory().unwrap();
    let (consumer, _) = clocked_queue(&db, "q", None);
    // Another handle on the same queue (as `Context` holds producer and consumer sides).
    let (producer, _) = clocked_queue(&db, "q", None);
    let (other, _) = clocked_queue(&db, "other", None);
    let long = Duration::from_secs(30);

    let waiting = tokio::spawn(async move {
        let started = std::time::Instant::now();
        consumer.wait_for_messages(long).await;
        (started.elapsed(), consumer)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    other
        .send_batch(&[fixtures::queue_message("elsewhere")])
        .await
        .unwrap();
    producer.send_batch(&[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "neither another queue nor an empty batch wakes it"
    );
    producer
        .send_batch(&[fixtures::queue_message("work")])
        .await
        .unwrap();
    let (waited, consumer) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken by the send")
        .unwrap();
    assert!(waited < long);
    assert_eq!(
        consumer.receive(10, VISIBILITY).await.unwrap()[0].body,
        "work"
    );

    // A send while nobody waits is not lost: the next wait returns at once.
    producer
        .send_batch(&[fixtures::queue_message("later")])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), consumer.wait_for_messages(long))
        .await
        .expect("a stored wake-up");
}

// ---------------------------------------------------------------------------------------------
// Outbox mailer

fn mail(raw: &str) -> OutgoingMail {
    OutgoingMail {
        from: Email::parse("clinic@direct.fixture.invalid").unwrap(),
        to: vec![
            Email::parse("hie@direct.fixture.invalid").unwrap(),
            Email::parse("copy@direct.fixture.invalid").unwrap(),
        ],
        raw: raw.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn outbox_writes_each_message_as_a_complete_eml_file() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox").join("hie");
    let mailer = OutboxMailer::new(&outbox).unwrap();
    let raw = "From: clinic@direct.fixture.invalid\r\nTo: hie@direct.fixture.invalid\r\nSubject: Transitioned appointment\r\n\r\nbody\r\n";
    let id = mailer.send(&mail(raw)).await.unwrap();
    let second = mailer
        .send(&mail("Subject: two\r\n\r\n2\r\n"))
        .await
        .unwrap();
    assert_ne!(id, second);

    let mut names: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected = vec![format!("{id}.eml"), format!("{second}.eml")];
    expected.sort();
    assert_eq!(
        names, expected,
        "one file per message, no temporary files left"
    );
    let written = std::fs::read_to_string(outbox.join(format!("{id}.eml"))).unwrap();
    assert_eq!(
        written,
        format!(
            "X-Sender: clinic@direct.fixture.invalid\r\nX-Receiver: hie@direct.fixture.invalid\r\n\
             X-Receiver: copy@direct.fixture.invalid\r\n{raw}"
        )
    );
}

#[tokio::test]
async fn outbox_rejects_mail_without_recipients_or_content() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path()).unwrap();
    let mut no_recipients = mail("Subject: x\r\n\r\nx");
    no_recipients.to.clear();
    assert!(matches!(
        mailer.send(&no_recipients).await,
        Err(MailError::Permanent(_))
    ));
    assert!(matches!(
        mailer.send(&mail("")).await,
        Err(MailError::Permanent(_))
    ));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[tokio::test]
async fn outbox_write_failures_are_transient() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path().join("gone")).unwrap();
    std::fs::remove_dir(dir.path().join("gone")).unwrap();
    assert!(matches!(
        mailer.send(&mail("Subject: x\r\n\r\nx")).await,
        Err(MailError::Transient(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Error translation

#[tokio::test]
async fn a_stored_record_that_fails_domain_validation_is_corrupt_and_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_with_patient(dir.path()).await;
    // A manual edit puts an invalid e-mail into the stored demographics.
    let conn = raw(dir.path());
    let body: String = conn
        .query_row("SELECT body FROM patients", [], |r| r.get(0))
        .unwrap();
    let tampered = body.replace(fixtures::EMAIL, "not an email at all");
    assert_ne!(body, tampered);
    conn.execute("UPDATE patients SET body = ?1", [tampered])
        .unwrap();
    let err = db
        .patients()
        .get(&fixtures::patient_id("p-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt("patient")), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("not an email"));
}

#[tokio::test]
async fn precondition_violations_and_unrepresentable_values_are_refused() {
    let db = SqliteDb::open_in_memory().unwrap();
    let consent = fixtures::consent("p-1", 3);
    let entry = fixtures::consent_audit(&consent, "consent.created");
    let err = db
        .consents()
        .append(&consent, Some(1), &entry)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "seq must be expected + 1: {err:?}"
    );
    let unrevoked = fixtures::consent("p-1", 1);
    let err = db.consents().revoke(&unrevoked, &entry).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "revoke needs a revocation: {err:?}"
    );

    let far = chrono::Utc.with_ymd_and_hms(2300, 1, 1, 0, 0, 0).unwrap();
    let err = db
        .audit()
        .append(&fixtures::audit_entry(LogType::Hl7Inbound, far))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let until_far = AuditQuery {
        to: Some(far),
        ..AuditQuery::default()
    };
    let page = common::audit_of(&db, until_far).await;
    assert!(page.is_empty(), "far bounds are fine in queries");
}

#[tokio::test]
async fn send_ledger_refuses_broken_preconditions_and_writes_nothing() {
    let db = SqliteDb::open_in_memory().unwrap();
    let ledger = db.send_ledger();
    let key = fixtures::send_key("a-1", 1, 0);
    for lease in [secs(0), secs(-1)] {
        let err = ledger
            .claim(&key, fixtures::at(0), lease)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "lease {lease}: {err:?}"
        );
    }
    assert_eq!(ledger.get(&key).await.unwrap(), None);

    assert_eq!(
        ledger.claim(&key, fixtures::at(0), secs(60)).await.unwrap(),
        Claim::Granted { attempt: 1 }
    );
    let before = ledger.get(&key).await.unwrap();
    for (state, message_id) in [
        (SendState::Sending, None),
        (SendState::Sent, None),
        (SendState::RetryPending, Some("msg-1")),
        (SendState::Failed, Some("msg-1")),
    ] {
        let entry = fixtures::send_audit(&key, 1, state, fixtures::at(1));
        let err = ledger
            .finish(&key, 1, state, message_id, fixtures::at(1), &entry)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{state:?} {message_id:?}: {err:?}"
        );
    }
    assert_eq!(ledger.get(&key).await.unwrap(), before, "nothing written");
    let audit = common::audit_of(&db, AuditQuery::default()).await;
    assert!(audit.is_empty(), "no audit entry for a refused finish");

    // A resend number beyond SQLite's integers cannot be stored, so it has no record.
    let huge = fixtures::send_key("a-1", 1, u64::MAX);
    let err = ledger
        .claim(&huge, fixtures::at(0), secs(60))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(ledger.get(&huge).await.unwrap(), None);
    assert_eq!(
        ledger.get_many(&[huge, key.clone()]).await.unwrap(),
        before.into_iter().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_send_record_out_of_the_domain_range_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = fixtures::send_key("a-1", 1, 0);
    db.send_ledger()
        .claim(&key, fixtures::at(0), secs(60))
        .await
        .unwrap();
    // A manual edit: more attempts than a u32 holds (the schema's checks allow it).
    raw(dir.path())
        .execute("UPDATE send_ledger SET attempts = 4294967296", [])
        .unwrap();
    let err = db.send_ledger().get(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt("send record")), "{err:?}");
    let err = db
        .send_ledger()
        .get_many(std::slice::from_ref(&key))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt("send record")), "{err:?}");
}
