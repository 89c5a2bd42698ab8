//! No PHI reaches the logs: every log line the embedded adapters emit, at every level, while
//! every store suite (among them the CRM suite on the embedded CRM and the delivery store suite,
//! whose HL7 messages carry the fixture patient) and the domain's registration flow run over
//! fixture patients, is free of the fixtures' PHI values.
//! (Its own test binary: it installs the global subscriber.)

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::FileStores;
use connector_domain::consent::{ConsentPorts, register_patient};
use connector_domain::ports::{Mailer, OutgoingMail};
use connector_domain::{FixedClock, patient::Email};
use connector_embedded::OutboxMailer;
use connector_testkit::contract::{PortsHarness, run_store_suites};
use connector_testkit::fixtures;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_phi() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let stores = FileStores::new();
    run_store_suites(&stores).await;

    let set = stores.fresh_ports().await.stores;
    fixtures::save_settings(&*set.settings).await;
    let clock = FixedClock::at(fixtures::base_time());
    let ports = ConsentPorts {
        patients: &*set.patients,
        consents: &*set.consents,
        settings: &*set.settings,
        clock: &clock,
    };
    let registered = register_patient(
        ports,
        &fixtures::patient_id("p-9"),
        &fixtures::patient_input("p-9"),
    )
    .await
    .unwrap();
    assert!(registered.created && registered.consent.is_some());

    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path()).unwrap();
    let raw = format!(
        "Subject: Transitioned appointment\r\n\r\n{} {}\r\n",
        fixtures::FIRST_NAME,
        fixtures::BIRTH_DATE
    );
    let to = vec![Email::parse("hie@direct.fixture.invalid").unwrap()];
    let from = Email::parse("clinic@direct.fixture.invalid").unwrap();
    mailer
        .send(&OutgoingMail {
            from,
            to,
            raw: raw.into_bytes(),
        })
        .await
        .unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.lines().count() > 100,
        "the adapters logged (at debug level) while the suite ran"
    );
    let leaked = fixtures::phi_found_in(&logs);
    assert!(leaked.is_empty(), "PHI in logs: {leaked:?}");
}
