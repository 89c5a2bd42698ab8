//! Creates the four tables with their indexes and TTL (audit and flows tables), idempotently. Used by tests and by the
//! `connector` admin command; on AWS the SAM template creates them (with KMS encryption and
//! point-in-time recovery, which this function does not set).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};

use super::keys::{self, DKEY, DSTATE, EXPIRES_AT, OKEY, PK, SK, TKEY, TMONTH};
use crate::config::TableNames;
use crate::setup::SetupError;

/// How long to wait for a new table and its indexes to become ACTIVE (instant on DynamoDB Local,
/// seconds to minutes on AWS).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// One table's definition.
struct TableSpec<'a> {
    name: &'a str,
    sort_key: bool,
    /// (index, partition attribute, sort attribute)
    indexes: &'a [(&'a str, &'a str, &'a str)],
    ttl: Option<&'a str>,
}

fn specs(names: &TableNames) -> [TableSpec<'_>; 4] {
    [
        TableSpec {
            name: &names.consents,
            sort_key: true,
            indexes: &[],
            ttl: None,
        },
        TableSpec {
            name: &names.appointments,
            sort_key: false,
            indexes: &[(keys::INDEX_BY_TRANSITION, TMONTH, TKEY)],
            ttl: None,
        },
        TableSpec {
            name: &names.flows,
            sort_key: true,
            indexes: &[(keys::INDEX_BY_DELIVERY_STATE, DSTATE, DKEY)],
            // Inbound ledger records, delivered deliveries, webhooks and CRM writes carry it;
            // settings, channels, flows and undelivered deliveries never expire.
            ttl: Some(EXPIRES_AT),
        },
        TableSpec {
            name: &names.audit,
            sort_key: false,
            indexes: &[
                (keys::INDEX_BY_TYPE, "log_type", OKEY),
                (keys::INDEX_BY_PATIENT, "patient_id", OKEY),
                (keys::INDEX_BY_APPOINTMENT, "appointment_id", OKEY),
                (keys::INDEX_BY_CHANNEL, keys::CHANNEL_LOG, OKEY),
            ],
            ttl: Some(EXPIRES_AT),
        },
    ]
}

fn key_element(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// Creates the tables in `names` (on-demand capacity) with their GSIs, and enables TTL
/// (`expires_at`) on the audit and flows tables; tables that exist are left as they are (TTL is
/// still enabled on them if it is off; an index they lack is not added: on AWS the template
/// manages the tables). Returns once every table and index is ACTIVE.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), SetupError> {
    for spec in specs(names) {
        create_table(client, &spec).await?;
    }
    for spec in specs(names) {
        wait_active(client, spec.name).await?;
        if let Some(attribute) = spec.ttl {
            enable_ttl(client, spec.name, attribute).await?;
        }
    }
    Ok(())
}

async fn create_table(client: &Client, spec: &TableSpec<'_>) -> Result<(), SetupError> {
    let mut attributes = vec![PK];
    let mut key = vec![key_element(PK, KeyType::Hash)];
    if spec.sort_key {
        attributes.push(SK);
        key.push(key_element(SK, KeyType::Range));
    }
    let mut request = client
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::PayPerRequest);
    for (index, partition, sort) in spec.indexes {
        for attribute in [*partition, *sort] {
            if !attributes.contains(&attribute) {
                attributes.push(attribute);
            }
        }
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(*index)
            .key_schema(key_element(partition, KeyType::Hash))
            .key_schema(key_element(sort, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| SetupError::request(spec.name, e))?;
        request = request.global_secondary_indexes(gsi);
    }
    for attribute in attributes {
        request = request.attribute_definitions(string_attribute(attribute));
    }
    request = request.set_key_schema(Some(key));
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            Ok(())
        }
        Err(err) => Err(SetupError::request(spec.name, err)),
    }
}

async fn wait_active(client: &Client, table: &str) -> Result<(), SetupError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| SetupError::request(table, e))?;
        let description = out.table;
        let table_active = description.as_ref().and_then(|t| t.table_status.as_ref())
            == Some(&TableStatus::Active);
        let indexes_active = description
            .as_ref()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|i| i.index_status.as_ref() == Some(&IndexStatus::Active));
        if table_active && indexes_active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SetupError::NotActive {
                resource: table.to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> Result<(), SetupError> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| SetupError::request(table, e))?;
    let status = current
        .time_to_live_description
        .and_then(|d| d.time_to_live_status);
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(|e| SetupError::request(table, e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| SetupError::request(table, e))?;
    Ok(())
}
