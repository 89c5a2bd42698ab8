//! `LeadSquaredClient` against the in-memory LeadSquared (`connector_crm::fake`): request shapes,
//! response parsing, retries, error mapping.

use std::error::Error as _;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use connector_crm::fake::{self, FakeLeadSquared, Fault, FaultRule};
use connector_crm::{CrmRetryPolicy, LeadSquaredClient, RateLimit, SecretKey, UnavailableError};
use connector_domain::crm::ActivityQuery;
use connector_domain::crm::{ActivityId, ActivityInput, Crm, CrmError, CrmField, LeadId};
use serde_json::json;

mod common;
use common::patient_fields;

/// Invented patient data; tests assert it never shows up in errors.
const PHI: [&str; 4] = common::PATIENT;

fn appointment(custom_1: &str, note: &str) -> ActivityInput {
    ActivityInput {
        event: 201,
        note: note.to_owned(),
        at: Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
        fields: vec![
            CrmField::new("mx_Custom_1", custom_1),
            CrmField::new("mx_Custom_2", "Booked"),
        ],
    }
}

async fn start() -> (FakeLeadSquared, LeadSquaredClient) {
    let (_url, fake) = FakeLeadSquared::start().await;
    let client = fake.client();
    (fake, client)
}

/// The fake and a client whose requests time out after `timeout`.
async fn start_with_timeout(timeout: Duration) -> (FakeLeadSquared, LeadSquaredClient) {
    let (fake, _) = start().await;
    let client = LeadSquaredClient::new(fake.config().with_request_timeout(timeout)).unwrap();
    (fake, client)
}

fn assert_no_phi(error: &CrmError) {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = error.source();
    while let Some(s) = source {
        texts.push(s.to_string());
        texts.push(format!("{s:?}"));
        source = s.source();
    }
    for text in texts {
        for phi in PHI {
            assert!(!text.contains(phi), "{phi:?} leaked into {text:?}");
        }
    }
}

fn assert_auth_headers(request: &fake::RecordedRequest) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_auth_headers_only(request);
}

/// The keys in headers, never in the query (a `GET` has no body and no content type).
fn assert_auth_headers_only(request: &fake::RecordedRequest) {
    assert_eq!(request.header("x-LSQ-AccessKey"), Some(fake::ACCESS_KEY));
    assert_eq!(request.header("x-LSQ-SecretKey"), Some(fake::SECRET_KEY));
    assert!(
        request.query_param("accessKey").is_none() && request.query_param("secretKey").is_none()
    );
}

// ---------------------------------------------------------------- request shapes and parsing

#[tokio::test]
async fn find_lead_sends_the_documented_search_and_parses_the_lead() {
    let (fake, crm) = start().await;
    let id = fake.insert_lead(patient_fields());

    let lead = crm
        .find_lead("mx_MRN", PHI[2])
        .await
        .unwrap()
        .expect("lead found");

    assert_eq!(lead.id, id);
    // Include_CSV names the id, the system fields and the searched field: that is what the
    // answer holds (a column the lead has no value in comes back null and is left out).
    assert_eq!(lead.fields, vec![CrmField::new("mx_MRN", PHI[2])]);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v2/LeadManagement.svc/Leads.Get");
    assert!(request.query.is_empty());
    assert_auth_headers(request);
    assert_eq!(
        request.body,
        json!({"Parameter":{"LookupName":"mx_MRN","LookupValue":PHI[2],"SqlOperator":"="},
               "Columns":{"Include_CSV":"ProspectID,ModifiedBy,ModifiedOn,mx_MRN"},
               "Paging":{"PageIndex":1,"PageSize":1}})
    );
}

#[tokio::test]
async fn find_leads_asks_for_a_page_of_the_limit_and_returns_every_match() {
    let (fake, crm) = start().await;
    fake.set_unique_fields(&[]);
    let shared = CrmField::new("Phone", "+1-5550100123");
    let one = fake.insert_lead(vec![CrmField::new("mx_MRN", "MRN-1"), shared.clone()]);
    let two = fake.insert_lead(vec![CrmField::new("mx_MRN", "MRN-2"), shared.clone()]);
    fake.insert_lead(vec![CrmField::new("mx_MRN", "MRN-3"), shared.clone()]);

    let found = crm.find_leads("Phone", &shared.value, 2).await.unwrap();

    assert_eq!(
        found.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        vec![one, two]
    );
    let request = &fake.requests_to("Leads.Get")[0];
    assert_eq!(request.body["Paging"], json!({"PageIndex":1,"PageSize":2}));
    assert_eq!(
        request.body["Columns"],
        json!({"Include_CSV":"ProspectID,ModifiedBy,ModifiedOn,Phone"})
    );
}

#[tokio::test]
async fn the_fake_refuses_a_search_that_names_no_columns() {
    let (fake, _crm) = start().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v2/LeadManagement.svc/Leads.Get", fake.url()))
        .header("x-LSQ-AccessKey", fake::ACCESS_KEY)
        .header("x-LSQ-SecretKey", fake::SECRET_KEY)
        .json(
            &json!({"Parameter":{"LookupName":"mx_MRN","LookupValue":"x","SqlOperator":"="},
                      "Columns":{"Include_CSV":""},"Paging":{"PageIndex":1,"PageSize":1}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn get_lead_reads_the_whole_lead_with_leads_get_by_id() {
    let (fake, crm) = start().await;
    let id = fake.insert_lead(patient_fields());

    let lead = crm.get_lead(&id).await.unwrap().expect("lead read");

    assert_eq!(lead.id, id);
    let (mut got, mut want) = (lead.fields, patient_fields());
    got.sort_by(|a, b| a.name.cmp(&b.name));
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got, want);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/v2/LeadManagement.svc/Leads.GetById");
    assert_eq!(requests[0].query, vec![("id".to_owned(), id.0.clone())]);
    assert_auth_headers_only(&requests[0]);
    assert_eq!(
        crm.get_lead(&LeadId("00000000-0000-4000-8000-000000000000".into()))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn find_lead_returns_none_when_nothing_matches() {
    let (fake, crm) = start().await;
    fake.insert_lead(patient_fields());
    assert_eq!(crm.find_lead("mx_MRN", "MRN-000000").await.unwrap(), None);
}

#[tokio::test]
async fn create_lead_posts_attribute_value_pairs_and_returns_the_id() {
    let (fake, crm) = start().await;

    let id = crm.create_lead(&patient_fields()).await.unwrap();

    let mut stored = fake.lead(&id).expect("stored").fields;
    stored.retain(|f| {
        !matches!(
            f.name.as_str(),
            "ModifiedBy" | "ModifiedOn" | "CreatedBy" | "CreatedOn"
        )
    });
    assert_eq!(stored, patient_fields());
    let request = &fake.requests_to("Lead.Create")[0];
    assert_eq!(request.path, "/v2/LeadManagement.svc/Lead.Create");
    assert!(request.query.is_empty());
    assert_auth_headers(request);
    assert_eq!(
        request.body,
        json!([{"Attribute":"FirstName","Value":PHI[0]},{"Attribute":"LastName","Value":PHI[1]},
               {"Attribute":"mx_MRN","Value":PHI[2]},{"Attribute":"EmailAddress","Value":PHI[3]}])
    );
}

#[tokio::test]
async fn update_lead_puts_the_id_in_the_query() {
    let (fake, crm) = start().await;
    let id = fake.insert_lead(patient_fields());

    crm.update_lead(
        &id,
        &[
            CrmField::new("LastName", "Quixley-Ray"),
            CrmField::new("mx_Stage", "Active"),
        ],
    )
    .await
    .unwrap();

    let lead = fake.lead(&id).unwrap();
    assert!(
        lead.fields
            .contains(&CrmField::new("LastName", "Quixley-Ray"))
    );
    assert!(lead.fields.contains(&CrmField::new("mx_Stage", "Active")));
    assert!(lead.fields.contains(&CrmField::new("FirstName", PHI[0])));
    let request = &fake.requests_to("Lead.Update")[0];
    assert_eq!(request.path, "/v2/LeadManagement.svc/Lead.Update");
    assert_eq!(request.query, vec![("leadId".to_owned(), id.0.clone())]);
    assert_auth_headers(request);
    assert_eq!(
        request.body,
        json!([{"Attribute":"LastName","Value":"Quixley-Ray"},{"Attribute":"mx_Stage","Value":"Active"}])
    );
}

#[tokio::test]
async fn create_activity_posts_the_documented_body_with_a_utc_time() {
    let (fake, crm) = start().await;
    let lead = fake.insert_lead(patient_fields());

    let id = crm
        .create_activity(&lead, &appointment("APPT-1", "Seen by Dr Quixley"))
        .await
        .unwrap();

    let stored = fake.activity(&id).expect("stored");
    assert_eq!(
        (stored.lead.clone(), stored.event, stored.date_time.as_str()),
        (lead.clone(), 201, "2025-03-04 05:06:07")
    );
    assert_eq!(stored.note, "Seen by Dr Quixley");
    assert_eq!(stored.field("mx_Custom_1"), Some("APPT-1"));
    let request = &fake.requests_to("ProspectActivity.svc/Create")[0];
    assert!(request.query.is_empty());
    assert_auth_headers(request);
    assert_eq!(
        request.body,
        json!({"RelatedProspectId":lead.0,"ActivityEvent":201,"ActivityNote":"Seen by Dr Quixley",
               "ActivityDateTime":"2025-03-04 05:06:07",
               "Fields":[{"SchemaName":"mx_Custom_1","Value":"APPT-1"},{"SchemaName":"mx_Custom_2","Value":"Booked"}]})
    );
}

#[tokio::test]
async fn update_activity_posts_id_event_note_and_fields() {
    let (fake, crm) = start().await;
    let lead = fake.insert_lead(patient_fields());
    let id = fake.insert_activity(
        &lead,
        201,
        "old",
        Utc::now(),
        vec![CrmField::new("mx_Custom_1", "APPT-1")],
    );

    let mut update = appointment("APPT-1", "rescheduled");
    update.fields[1].value = "Rescheduled".into();
    crm.update_activity(&id, &update).await.unwrap();

    let stored = fake.activity(&id).unwrap();
    assert_eq!(stored.note, "rescheduled");
    assert_eq!(stored.field("mx_Custom_2"), Some("Rescheduled"));
    let request = &fake.requests_to("CustomActivity/Update")[0];
    assert_eq!(
        request.path,
        "/v2/ProspectActivity.svc/CustomActivity/Update"
    );
    assert!(request.query.is_empty());
    assert_auth_headers(request);
    assert_eq!(
        request.body,
        json!({"ProspectActivityId":id.0,"ActivityEvent":201,"ActivityNote":"rescheduled",
               "Fields":[{"SchemaName":"mx_Custom_1","Value":"APPT-1"},{"SchemaName":"mx_Custom_2","Value":"Rescheduled"}]})
    );
}

#[tokio::test]
async fn find_activity_pages_through_the_lead_and_matches_the_field() {
    let (fake, _) = start().await;
    let mut config = fake.config();
    config.activity_page_size = 2;
    let crm = LeadSquaredClient::new(config).unwrap();
    let lead = fake.insert_lead(patient_fields());
    let other_lead = fake.insert_lead(vec![CrmField::new("mx_MRN", "MRN-1")]);
    fake.insert_activity(
        &lead,
        202,
        "",
        Utc::now(),
        vec![CrmField::new("mx_Custom_1", "APPT-5")],
    );
    fake.insert_activity(
        &other_lead,
        201,
        "",
        Utc::now(),
        vec![CrmField::new("mx_Custom_1", "APPT-5")],
    );
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(fake.insert_activity(
            &lead,
            201,
            "",
            Utc::now(),
            vec![CrmField::new("mx_Custom_1", format!("APPT-{n}"))],
        ));
    }

    let found = crm
        .find_activity(ActivityQuery {
            lead: &lead,
            event: 201,
            field: "mx_Custom_1",
            value: "APPT-5",
        })
        .await
        .unwrap()
        .expect("found");

    assert_eq!(
        (found.id.clone(), found.lead.clone(), found.event),
        (ids[4].clone(), lead.clone(), 201)
    );
    assert!(
        found
            .fields
            .contains(&CrmField::new("mx_Custom_1", "APPT-5"))
    );
    let requests = fake.requests_to("ProspectActivity.svc/Retrieve");
    let offsets: Vec<_> = requests
        .iter()
        .map(|r| r.body["Paging"]["Offset"].clone())
        .collect();
    // Offset is the page number, from 0 ("get-activities-of-a-lead").
    assert_eq!(offsets, vec![json!(0), json!(1), json!(2)]);
    for request in &requests {
        assert_eq!(request.path, "/v2/ProspectActivity.svc/Retrieve");
        assert_eq!(request.query, vec![("leadId".to_owned(), lead.0.clone())]);
        assert_auth_headers(request);
    }
    assert_eq!(
        requests[0].body,
        json!({"Parameter":{"ActivityEvent":201},"Paging":{"Offset":0,"RowCount":2}})
    );

    fake.clear_requests();
    assert_eq!(
        crm.find_activity(ActivityQuery {
            lead: &lead,
            event: 201,
            field: "mx_Custom_1",
            value: "APPT-9"
        })
        .await
        .unwrap(),
        None
    );
    assert_eq!(
        fake.requests_to("Retrieve").len(),
        3,
        "every page read before answering None"
    );
    assert_eq!(
        crm.find_activity(ActivityQuery {
            lead: &other_lead,
            event: 202,
            field: "mx_Custom_1",
            value: "APPT-5"
        })
        .await
        .unwrap(),
        None
    );
}

#[tokio::test]
async fn find_activity_refuses_a_page_limit_rather_than_answering_none() {
    let (fake, _) = start().await;
    let mut config = fake.config();
    config.activity_page_size = 1;
    config.max_activity_pages = 2;
    let crm = LeadSquaredClient::new(config).unwrap();
    let lead = fake.insert_lead(patient_fields());
    for n in 1..=3 {
        fake.insert_activity(
            &lead,
            201,
            "",
            Utc::now(),
            vec![CrmField::new("mx_Custom_1", format!("APPT-{n}"))],
        );
    }
    assert!(matches!(
        crm.find_activity(ActivityQuery {
            lead: &lead,
            event: 201,
            field: "mx_Custom_1",
            value: "APPT-9"
        })
        .await,
        Err(CrmError::InvalidResponse)
    ));
}

// ---------------------------------------------------------------- 429

#[tokio::test]
async fn a_429_is_retried_even_for_a_create() {
    let (fake, crm) = start().await;
    fake.inject(FaultRule::once(Fault::rate_limited(None)).on("Lead.Create"));

    let id = crm.create_lead(&patient_fields()).await.unwrap();

    assert_eq!(fake.requests_to("Lead.Create").len(), 2);
    assert_eq!(fake.leads().len(), 1);
    assert!(fake.lead(&id).is_some());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (fake, crm) = start().await;
    fake.insert_lead(patient_fields());
    fake.inject(FaultRule::once(Fault::rate_limited(Some(1))));

    let started = Instant::now();
    assert!(crm.find_lead("mx_MRN", PHI[2]).await.unwrap().is_some());

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn persistent_429_ends_as_rate_limited_within_the_budget() {
    let (fake, _) = start().await;
    let mut config = fake.config();
    config.retry = CrmRetryPolicy {
        max_attempts: 50,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        budget: Duration::from_secs(1),
    };
    let crm = LeadSquaredClient::new(config).unwrap();
    fake.inject(FaultRule::once(Fault::rate_limited(None)).always());

    let started = Instant::now();
    let result = crm.find_lead("mx_MRN", PHI[2]).await;

    assert!(matches!(result, Err(CrmError::RateLimited)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    let attempts = fake.requests().len();
    assert!((2..50).contains(&attempts), "{attempts} attempts");
}

#[tokio::test]
async fn persistent_429_ends_after_max_attempts() {
    let (fake, crm) = start().await;
    fake.inject(
        FaultRule::once(Fault::rate_limited(None))
            .always()
            .on("Lead.Create"),
    );
    assert!(matches!(
        crm.create_lead(&patient_fields()).await,
        Err(CrmError::RateLimited)
    ));
    assert_eq!(fake.requests().len(), 4);
    assert!(fake.leads().is_empty());
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_gives_up_at_once() {
    let (fake, crm) = start().await;
    fake.inject(FaultRule::once(Fault::rate_limited(Some(60))).always());
    let started = Instant::now();
    assert!(matches!(
        crm.find_lead("mx_MRN", PHI[2]).await,
        Err(CrmError::RateLimited)
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 1);
}

// ---------------------------------------------------------------- 5xx and timeouts

#[tokio::test]
async fn a_500_on_a_read_is_retried() {
    let (fake, crm) = start().await;
    fake.insert_lead(patient_fields());
    fake.inject(
        FaultRule::once(Fault::server_error())
            .times(2)
            .on("Leads.Get"),
    );

    assert!(crm.find_lead("mx_MRN", PHI[2]).await.unwrap().is_some());
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_persistent_500_on_a_read_ends_unavailable() {
    let (fake, crm) = start().await;
    fake.inject(FaultRule::once(Fault::error(503, "MXServiceException", PHI[3])).always());

    let error = crm.find_lead("mx_MRN", PHI[2]).await.unwrap_err();

    assert!(error.is_transient());
    let source = error.source().expect("source kept");
    assert!(matches!(
        source.downcast_ref::<UnavailableError>(),
        Some(UnavailableError::Server { status: 503, exception_type }) if exception_type == "MXServiceException"
    ));
    assert_no_phi(&error);
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn a_500_on_a_create_is_not_retried() {
    let (fake, crm) = start().await;
    let lead = fake.insert_lead(patient_fields());
    fake.inject(FaultRule::once(Fault::server_error()).always());

    let lead_error = crm
        .create_lead(&[CrmField::new("mx_MRN", "MRN-2")])
        .await
        .unwrap_err();
    let activity_error = crm
        .create_activity(&lead, &appointment("APPT-1", "note"))
        .await
        .unwrap_err();

    assert!(matches!(lead_error, CrmError::Unavailable(_)));
    assert!(matches!(activity_error, CrmError::Unavailable(_)));
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
    assert_eq!(fake.requests_to("ProspectActivity.svc/Create").len(), 1);
}

#[tokio::test]
async fn a_500_on_an_update_is_retried() {
    let (fake, crm) = start().await;
    let id = fake.insert_lead(patient_fields());
    fake.inject(FaultRule::once(Fault::server_error()).on("Lead.Update"));
    crm.update_lead(&id, &[CrmField::new("mx_Stage", "Active")])
        .await
        .unwrap();
    assert_eq!(fake.requests_to("Lead.Update").len(), 2);
}

#[tokio::test]
async fn a_timeout_is_unavailable_and_a_create_is_not_sent_twice() {
    let (fake, crm) = start_with_timeout(Duration::from_millis(300)).await;
    fake.inject(FaultRule::once(Fault::Delay(Duration::from_secs(2))).on("Lead.Create"));

    let error = crm.create_lead(&patient_fields()).await.unwrap_err();

    assert!(error.is_transient());
    assert!(matches!(
        error
            .source()
            .and_then(|s| s.downcast_ref::<UnavailableError>()),
        Some(UnavailableError::Timeout(_))
    ));
    assert_no_phi(&error);
    assert_eq!(fake.requests_to("Lead.Create").len(), 1);
}

#[tokio::test]
async fn a_timeout_on_a_read_is_retried() {
    let (fake, crm) = start_with_timeout(Duration::from_millis(300)).await;
    fake.insert_lead(patient_fields());
    fake.inject(FaultRule::once(Fault::Delay(Duration::from_secs(2))).on("Leads.Get"));

    assert!(crm.find_lead("mx_MRN", PHI[2]).await.unwrap().is_some());
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn an_unreachable_host_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (fake, _) = start().await;
    let mut config = fake.config();
    config.base_url = format!("http://127.0.0.1:{port}");
    let crm = LeadSquaredClient::new(config).unwrap();

    let error = crm.create_lead(&patient_fields()).await.unwrap_err();

    assert!(matches!(
        error
            .source()
            .and_then(|s| s.downcast_ref::<UnavailableError>()),
        Some(UnavailableError::Connect(_))
    ));
}

// ---------------------------------------------------------------- rejections

#[tokio::test]
async fn a_401_is_rejected_with_the_type_and_without_the_message() {
    let (fake, crm) = start().await;
    let message = format!("Lead {} {} ({}) cannot be read", PHI[0], PHI[1], PHI[2]);
    fake.inject(FaultRule::once(Fault::error(
        401,
        "MXUnAuthorizedAccessException",
        &message,
    )));

    let error = crm.find_lead("mx_MRN", PHI[2]).await.unwrap_err();

    assert!(
        matches!(&error, CrmError::Rejected { status: 401, exception_type } if exception_type == "MXUnAuthorizedAccessException"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_no_phi(&error);
    assert_eq!(fake.requests().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn wrong_keys_are_rejected_by_the_server() {
    let (fake, _) = start().await;
    let mut config = fake.config();
    config.secret_key = SecretKey::new("not-the-secret");
    let crm = LeadSquaredClient::new(config).unwrap();
    let error = crm.find_lead("mx_MRN", PHI[2]).await.unwrap_err();
    assert!(
        matches!(error, CrmError::Rejected { status: 401, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn http_200_with_status_error_is_rejected() {
    let (fake, crm) = start().await;
    let message = format!("A Lead with same EmailAddress {} already exists.", PHI[3]);
    fake.inject(
        FaultRule::once(Fault::error(200, "MXDuplicateEntryException", &message)).on("Lead.Create"),
    );

    let error = crm.create_lead(&patient_fields()).await.unwrap_err();

    assert!(
        matches!(&error, CrmError::Rejected { status: 200, exception_type } if exception_type == "MXDuplicateEntryException"),
        "{error:?}"
    );
    assert_no_phi(&error);
    assert_eq!(fake.requests().len(), 1);
    assert!(fake.leads().is_empty());
}

#[tokio::test]
async fn a_duplicate_unique_field_is_rejected_by_the_fake() {
    let (fake, crm) = start().await;
    crm.create_lead(&patient_fields()).await.unwrap();
    let error = crm.create_lead(&patient_fields()).await.unwrap_err();
    assert!(
        matches!(&error, CrmError::Rejected { status: 400, exception_type } if exception_type == "MXDuplicateEntryException")
    );
    assert_no_phi(&error);
    assert_eq!(fake.leads().len(), 1);
}

#[tokio::test]
async fn updating_an_unknown_activity_is_rejected() {
    let (_fake, crm) = start().await;
    let error = crm
        .update_activity(&ActivityId("nope".into()), &appointment("A", "n"))
        .await;
    assert!(
        matches!(error, Err(CrmError::Rejected { status: 400, .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unparseable_answer_is_an_invalid_response() {
    let (fake, crm) = start().await;
    fake.inject(FaultRule::once(Fault::Raw {
        status: 200,
        body: "<html>maintenance</html>".into(),
    }));
    assert!(matches!(
        crm.find_lead("mx_MRN", PHI[2]).await,
        Err(CrmError::InvalidResponse)
    ));
    assert_eq!(fake.requests().len(), 1);

    fake.inject(FaultRule::once(Fault::Raw {
        status: 200,
        body: r#"{"Status":"Success","Message":{}}"#.into(),
    }));
    assert!(matches!(
        crm.create_lead(&patient_fields()).await,
        Err(CrmError::InvalidResponse)
    ));

    fake.inject(FaultRule::once(Fault::Raw {
        status: 200,
        body: r#"{"ProspectID":"x"}"#.into(),
    }));
    assert!(matches!(
        crm.find_lead("mx_MRN", PHI[2]).await,
        Err(CrmError::InvalidResponse)
    ));
}

// ---------------------------------------------------------------- keys, pacing

#[tokio::test]
async fn keys_travel_only_in_headers_and_never_print() {
    let (fake, crm) = start().await;
    let lead = crm.create_lead(&patient_fields()).await.unwrap();
    crm.find_lead("mx_MRN", PHI[2]).await.unwrap();
    crm.update_lead(&lead, &[CrmField::new("mx_Stage", "Active")])
        .await
        .unwrap();
    let activity = crm
        .create_activity(&lead, &appointment("APPT-1", "n"))
        .await
        .unwrap();
    crm.find_activity(ActivityQuery {
        lead: &lead,
        event: 201,
        field: "mx_Custom_1",
        value: "APPT-1",
    })
    .await
    .unwrap()
    .unwrap();
    crm.update_activity(&activity, &appointment("APPT-1", "m"))
        .await
        .unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 6);
    for request in &requests {
        assert_auth_headers(request);
        for (_, value) in &request.query {
            assert!(value != fake::ACCESS_KEY && value != fake::SECRET_KEY);
        }
    }
    for printed in [
        format!("{:?}", fake.config()),
        format!("{crm:?}"),
        format!("{requests:?}"),
    ] {
        assert!(
            !printed.contains(fake::ACCESS_KEY) && !printed.contains(fake::SECRET_KEY),
            "{printed}"
        );
        for phi in PHI {
            assert!(!printed.contains(phi), "{printed}");
        }
    }
}

#[tokio::test]
async fn the_client_side_limit_paces_requests() {
    let (fake, _) = start().await;
    let config = fake.config().with_rate_limit(Some(RateLimit {
        requests: 2,
        window: Duration::from_millis(400),
    }));
    let crm = LeadSquaredClient::new(config).unwrap();

    let started = Instant::now();
    for _ in 0..5 {
        crm.find_lead("mx_MRN", PHI[2]).await.unwrap();
    }

    // Requests 3-4 wait one window, request 5 two.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn clones_share_the_fake_and_it_stops_when_dropped() {
    let (url, fake) = FakeLeadSquared::start().await;
    assert_eq!(url, fake.url());
    let crm = fake.client();
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = crm.find_lead("mx_MRN", PHI[2]).await.unwrap_err();
    assert!(matches!(error, CrmError::Unavailable(_)), "{error:?}");
}
