//! Issue 12.9: a store that is not deployed as the connector expects (a table of the template
//! missing) is a configuration fault: 500 `/problems/store-misconfigured` and an ERROR
//! line naming the table and the index, not 503 "retry later".

use crate::support::{Caller, spawn_on_aws};
use crate::support::{capture_logs, captured_logs};

#[tokio::test]
async fn a_missing_table_is_a_configuration_fault_not_retry_later() {
    capture_logs();
    let Some(app) = spawn_on_aws().await else {
        return;
    };
    let audit_table = app.aws().adapters.config().tables.audit.clone();
    // The audit table deleted (as by hand, or a *_TABLE variable naming another stack's table).
    // Removing only its by_type index would be the subtler case, but DynamoDB Local answers
    // queries on an index being deleted with InternalFailure under load, so the test uses the
    // deterministic fault; both are ResourceNotFound/ValidationException on AWS.
    app.aws()
        .adapters
        .dynamodb_client()
        .delete_table()
        .table_name(&audit_table)
        .send()
        .await
        .expect("delete the audit table");

    let reply = app
        .call(
            reqwest::Method::GET,
            "/audit-entries?log_type=hie_sent_appointments",
            Caller::Admin,
            None,
        )
        .await;
    if reply.status != 500 {
        let logs = captured_logs();
        let tail: Vec<&str> = logs.lines().rev().take(6).collect();
        panic!(
            "expected 500, got {}: {:#}\n{tail:#?}",
            reply.status, reply.body
        );
    }
    let reply = reply.assert_problem(500);
    assert_eq!(reply.body["type"], "/problems/store-misconfigured");

    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|l| l.contains("store_misconfigured"))
        .unwrap_or_else(|| panic!("an ERROR line for the fault in:\n{logs}"));
    assert!(line.contains("\"ERROR\""), "{line}");
    assert!(line.contains(&audit_table), "names the table: {line}");
    assert!(line.contains("by_type"), "names the index: {line}");
    assert!(line.contains("\"operation\":\"Query\""), "{line}");
}
