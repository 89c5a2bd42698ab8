//! BatchGetItem in chunks of 100 keys, re-requesting the keys DynamoDB leaves unprocessed.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use connector_domain::StoreError;

use super::{Item, built};
use crate::backoff::Backoff;
use crate::error_map;

/// BatchGetItem's limit.
pub const BATCH_GET_KEYS: usize = 100;
/// Attempts at reading keys DynamoDB left unprocessed (throttling), with doubling backoff.
const UNPROCESSED_ATTEMPTS: u32 = 8;
/// First backoff before re-reading unprocessed keys.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// BatchGetItem kept returning unprocessed keys (sustained throttling).
#[derive(Debug, thiserror::Error)]
#[error("{remaining} keys still unprocessed after {attempts} attempts")]
pub struct UnprocessedKeys {
    /// How many keys were never read.
    pub remaining: usize,
    /// How many requests were made for them.
    pub attempts: u32,
}

/// The items at `keys` that exist (strongly consistent reads), in no particular order; one
/// request per 100 keys unless DynamoDB throttles. `keys` must not repeat a key (DynamoDB rejects
/// such a batch).
pub async fn get_all(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        let chunk: Vec<Item> = keys.by_ref().take(BATCH_GET_KEYS).collect();
        get_chunk(client, table, chunk, &mut found).await?;
    }
    Ok(found)
}

async fn get_chunk(
    client: &Client,
    table: &str,
    mut keys: Vec<Item>,
    found: &mut Vec<Item>,
) -> Result<(), StoreError> {
    let mut backoff = Backoff::starting_at(FIRST_BACKOFF);
    for attempt in 1..=UNPROCESSED_ATTEMPTS {
        let request = built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build(),
        )?;
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(error_map::dynamo)?;
        found.extend(
            out.responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default(),
        );
        keys = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
        if keys.is_empty() {
            return Ok(());
        }
        if attempt < UNPROCESSED_ATTEMPTS {
            let what = "batch get left keys unprocessed; backing off";
            backoff.wait(what, attempt, keys.len()).await;
        }
    }
    Err(StoreError::unavailable(UnprocessedKeys {
        remaining: keys.len(),
        attempts: UNPROCESSED_ATTEMPTS,
    }))
}
