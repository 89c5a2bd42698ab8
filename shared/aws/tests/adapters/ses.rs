use connector_domain::patient::Email;
use connector_domain::ports::{MailError, Mailer, OutgoingMail};
use connector_testkit::local_aws::unique_name;

use crate::common;

fn mail(domain: &str, marker: &str) -> OutgoingMail {
    let from = format!("clinic@{domain}");
    let to = "hie@direct.fixture.invalid";
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Transitioned appointment\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{marker}\r\n"
    );
    OutgoingMail {
        from: Email::parse(from).unwrap(),
        to: vec![Email::parse(to).unwrap()],
        raw: raw.into_bytes(),
    }
}

#[tokio::test]
async fn raw_mail_is_sent_and_unverified_senders_are_permanent_failures() {
    let Some(aws) = common::local() else { return };
    let a = common::fresh_adapters(aws).await;
    let mailer = a.mailer();
    let domain = format!("{}.fixture.invalid", unique_name("d"));
    let marker = unique_name("marker-");

    // Not a verified identity yet: SES (and moto) reject it; retrying cannot help.
    let rejected = mailer.send(&mail(&domain, &marker)).await;
    assert!(
        matches!(rejected, Err(MailError::Permanent(_))),
        "{rejected:?}"
    );

    a.ses_client()
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .unwrap();
    let id = mailer.send(&mail(&domain, &marker)).await.unwrap();
    assert!(!id.is_empty());

    let data = aws.moto_data().expect("moto's data.json");
    let sent: Vec<&serde_json::Value> = data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["raw_data"]
                .as_str()
                .is_some_and(|raw| raw.contains(&marker))
        })
        .collect();
    assert_eq!(sent.len(), 1, "moto recorded the raw message once: {data}");
    assert_eq!(sent[0]["source"], format!("clinic@{domain}"));
    // moto lists the envelope recipients plus the header's; SES sends to the envelope.
    let destinations = sent[0]["destinations"].as_array().expect("destinations");
    assert!(
        destinations
            .iter()
            .all(|d| d == "hie@direct.fixture.invalid"),
        "{destinations:?}"
    );
}
