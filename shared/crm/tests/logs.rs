//! No PHI and no keys in logs: every operation and every failure path runs under a TRACE-level
//! subscriber writing to a buffer, which must then contain endpoint names and ids but no value.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use connector_crm::LeadSquaredClient;
use connector_crm::fake::{self, FakeLeadSquared, Fault, FaultRule};
use connector_domain::crm::ActivityQuery;
use connector_domain::crm::{ActivityInput, Crm, CrmField};
use tracing_subscriber::fmt::MakeWriter;

mod common;

/// Invented patient data, distinctive enough to grep for.
const PHI: [&str; 6] = [
    common::PATIENT[0],
    common::PATIENT[1],
    common::PATIENT[2],
    common::PATIENT[3],
    "+1-555-0199",
    "knee pain follow-up",
];

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The patient's lead fields and phone.
fn lead_fields() -> Vec<CrmField> {
    let mut fields = common::patient_fields();
    fields.push(CrmField::new("Phone", PHI[4]));
    fields
}

fn visit() -> ActivityInput {
    ActivityInput {
        event: 201,
        note: PHI[5].to_owned(),
        at: Utc::now(),
        fields: vec![
            CrmField::new("mx_Custom_1", PHI[2]),
            CrmField::new("mx_Custom_2", PHI[0]),
        ],
    }
}

// Current-thread runtime: the thread-local subscriber sees the client, the HTTP stack and the fake.
#[tokio::test]
async fn logs_carry_ids_and_statuses_but_no_values_or_keys() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (_url, fake) = FakeLeadSquared::start().await;
    let crm = LeadSquaredClient::new(
        fake.config()
            .with_request_timeout(Duration::from_millis(300)),
    )
    .unwrap();

    // The happy paths.
    let lead = crm.create_lead(&lead_fields()).await.unwrap();
    crm.find_lead("mx_MRN", PHI[2]).await.unwrap().unwrap();
    crm.update_lead(&lead, &[CrmField::new("LastName", PHI[1])])
        .await
        .unwrap();
    let activity = crm.create_activity(&lead, &visit()).await.unwrap();
    crm.find_activity(ActivityQuery {
        lead: &lead,
        event: 201,
        field: "mx_Custom_1",
        value: PHI[2],
    })
    .await
    .unwrap()
    .unwrap();
    crm.update_activity(&activity, &visit()).await.unwrap();

    // The failure paths, each with PHI in the exception message.
    let message = format!("Lead {} {} <{}> failed", PHI[0], PHI[1], PHI[3]);
    for fault in [
        Fault::error(401, "MXUnAuthorizedAccessException", &message),
        Fault::error(200, "MXDuplicateEntryException", &message),
        Fault::error(500, "MXInternalServerException", &message),
        Fault::error(400, &message, &message), // free text where the type belongs
        Fault::rate_limited(Some(0)),
        Fault::Delay(Duration::from_secs(1)),
        Fault::Raw {
            status: 200,
            body: format!("not json {}", PHI[2]),
        },
    ] {
        fake.clear_faults();
        fake.inject(FaultRule::once(fault).always());
        let _ = crm.create_lead(&lead_fields()).await;
        let _ = crm.find_lead("mx_MRN", PHI[2]).await;
        let _ = crm.create_activity(&lead, &visit()).await;
    }

    let logs = buffer.text();
    if std::env::var_os("TEST_LOG").is_some() {
        eprintln!("{logs}");
    }
    for needle in PHI
        .iter()
        .copied()
        .chain([fake::ACCESS_KEY, fake::SECRET_KEY])
    {
        assert!(!logs.contains(needle), "{needle:?} found in logs:\n{logs}");
    }
    for expected in [
        "LeadManagement.Lead.Create",
        "LeadManagement.Leads.Get",
        "ProspectActivity.Retrieve",
        "MXUnAuthorizedAccessException",
        "status=429",
        lead.0.as_str(),
        activity.0.as_str(),
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} missing from logs:\n{logs}"
        );
    }
}
