//! Issue 12.9: a store that is not deployed as the connector expects (an index removed from the
//! template's tables) is a configuration fault: 500 `/problems/store-misconfigured` and an ERROR
//! line naming the table and the index, not 503 "retry later".

use aws_sdk_dynamodb::types::{DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate};

use crate::helpers::{Caller, spawn_on_aws};
use crate::logs::{capture_logs, captured_logs};

#[tokio::test]
async fn a_missing_index_is_a_configuration_fault_not_retry_later() {
    capture_logs();
    let Some(app) = spawn_on_aws().await else {
        return;
    };
    let audit_table = app.adapters.config().tables.audit.clone();
    app.adapters
        .dynamodb_client()
        .update_table()
        .table_name(&audit_table)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("by_type")
                        .build()
                        .expect("a delete action"),
                )
                .build(),
        )
        .send()
        .await
        .expect("remove the by_type index");

    let reply = app
        .call(
            "GET",
            "/audit-entries?log_type=hie_sent_appointments",
            Caller::Admin,
            None,
        )
        .await
        .assert_problem(500);
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
