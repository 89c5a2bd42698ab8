//! The HIE scenario steps the tests share on a [`TestApp`]: register a patient, give and revoke
//! consent, set up the HIE, transition an appointment, run the collector and the sender, and
//! read what was mailed and audited.

use reqwest::Method;
use serde_json::{Value, json};

use connector_app::hie::collector::CollectorReport;

use crate::support::app::{Backend, Caller, TestApp};
use crate::support::fixtures::{appointment_json, patient_json, sample_event, start_time};
use crate::support::reply::Reply;

impl TestApp {
    /// Registers the fixture patient `patient_id` as staff; asserts success.
    pub async fn register(&self, patient_id: &str) -> Reply {
        self.put_ok(&format!("/patients/{patient_id}"), patient_json(patient_id))
            .await
    }

    /// Gives consent for `patient_id` as staff with the given body.
    pub async fn give(&self, patient_id: &str, body: Value) -> Reply {
        let path = format!("/patients/{patient_id}/consents");
        self.call(Method::POST, &path, Caller::Staff, Some(body))
            .await
    }

    /// The consent history of `patient_id`; asserts 200.
    pub async fn history(&self, patient_id: &str) -> Value {
        let path = format!("/patients/{patient_id}/consents");
        self.call(Method::GET, &path, Caller::Staff, None)
            .await
            .expect(200)
            .body
    }

    /// Revokes the current consent of `patient_id` as staff; returns its id.
    pub async fn revoke_current(&self, patient_id: &str) -> String {
        let history = self.history(patient_id).await;
        let consent_id = history["current"]["consent_id"]
            .as_str()
            .expect("a current consent")
            .to_owned();
        let path = format!("/patients/{patient_id}/consents/{consent_id}/revoke");
        self.call(Method::POST, &path, Caller::Staff, None)
            .await
            .expect(200);
        consent_id
    }

    /// Changes HIE settings as admin; asserts success.
    pub async fn settings(&self, body: Value) -> Value {
        self.call(Method::PUT, "/settings/hie", Caller::Admin, Some(body))
            .await
            .expect(200)
            .body
    }

    /// The address the HIE mail is sent from.
    pub fn sender(&self) -> String {
        match &self.aws {
            Some(aws) => format!("records@{}", aws.sender_domain),
            None => "records@direct.exampleclinic.org".to_owned(),
        }
    }

    /// Enables HIE with Direct addresses and a watermark at 2026-11-21T00:00Z; on AWS the
    /// sender's domain is a verified SES identity.
    pub async fn enable_hie(&self) {
        if let Some(aws) = &self.aws {
            aws.adapters
                .ses_client()
                .create_email_identity()
                .email_identity(&aws.sender_domain)
                .send()
                .await
                .expect("verify the sender domain");
        }
        self.enable_hie_unverified().await;
    }

    /// As [`TestApp::enable_hie`], without verifying the sender (SES rejects its mail).
    pub async fn enable_hie_unverified(&self) {
        self.settings(json!({
            "enabled": true,
            "default_to_address": "intake@direct.examplehie.org",
            "default_from_address": self.sender(),
            "default_subject": "Encounter for the HIE",
            "default_body": "One encounter attached.",
            "next_batch_start_time": "2026-11-21T00:00:00Z"
        }))
        .await;
    }

    /// Creates `appointment_id` for `patient_id` and transitions it now; asserts success.
    pub async fn transitioned_appointment(&self, appointment_id: &str, patient_id: &str) -> Value {
        let path = format!("/appointments/{appointment_id}");
        self.put_ok(&path, appointment_json(patient_id)).await;
        self.call(
            Method::POST,
            &format!("{path}/transition"),
            Caller::Staff,
            None,
        )
        .await
        .expect(200)
        .body
    }

    /// Runs one collector batch, as `connector serve` and the batch-collector Lambda do.
    pub async fn collect(&self) -> CollectorReport {
        connector_app::hie::collector::run(&self.ctx, Default::default())
            .await
            .expect("collector run")
    }

    /// Runs the collector, then drains the HIE queue (see [`TestApp::collect`] and
    /// [`TestApp::drain`]).
    pub async fn collect_and_drain(&self) {
        self.collect().await;
        self.drain().await;
    }

    /// Lets the sender work the HIE queue until nothing is visible (on AWS, polls as Lambda's
    /// event source mapping does); returns the messages handled.
    pub async fn drain(&self) -> usize {
        let mut total = 0;
        loop {
            let n = match self.backend {
                Backend::Sqlite => connector_app::hie::sender::drain_once(&self.ctx)
                    .await
                    .expect("drain"),
                Backend::Aws => self.lambda_poll().await.received,
            };
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// The raw MIME of every mail sent: the outbox's `.eml` files by name, or what moto's SES
    /// accepted from this test's sender, oldest first.
    pub fn mails(&self) -> Vec<Vec<u8>> {
        match &self.sqlite {
            Some(sqlite) => {
                let Ok(entries) = std::fs::read_dir(&sqlite.outbox) else {
                    return Vec::new();
                };
                let mut paths: Vec<_> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect();
                paths.sort();
                paths
                    .into_iter()
                    .map(|p| std::fs::read(p).expect("read eml"))
                    .collect()
            }
            None => self
                .ses_records()
                .iter()
                .map(|m| {
                    m["raw_data"]
                        .as_str()
                        .expect("raw_data")
                        .as_bytes()
                        .to_vec()
                })
                .collect(),
        }
    }

    /// Audit entries (newest first), up to 500, through the API as an administrator.
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let path = format!("/audit-entries?limit=500&{query}");
        let reply = self
            .call(Method::GET, &path, Caller::Admin, None)
            .await
            .expect(200);
        reply.body["items"].as_array().cloned().unwrap_or_default()
    }
}
