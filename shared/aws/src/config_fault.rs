//! Configuration faults of DynamoDB: a missing table or index, a key of the wrong type, a role
//! without the permission. Retrying cannot fix them, so they are not "unavailable":
//! [`crate::error_map::dynamo`] makes them `StoreError::Misconfigured` (500 with its own
//! problem type), and [`ConfigFaultLog`] logs one ERROR line naming the operation, the table
//! and the index, with the stable field `fault = "store_misconfigured"` that the SAM template's
//! metric filter counts (an alarm-worthy metric, see docs/deploy.md).

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::Value;

/// DynamoDB error codes that say the deployment, not the moment, is wrong.
pub const MISCONFIGURATION_CODES: [&str; 4] = [
    "ResourceNotFoundException",
    "ValidationException",
    "AccessDeniedException",
    "UnrecognizedClientException",
];

/// Whether a DynamoDB error code is a configuration fault.
pub fn is_misconfiguration(code: &str) -> bool {
    MISCONFIGURATION_CODES.contains(&code)
}

/// The field value the ERROR line carries (for metric filters and log searches).
pub const FAULT_FIELD_VALUE: &str = "store_misconfigured";

/// What a request addressed: its tables and index (names only, read from the request body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Target {
    tables: Vec<String>,
    index: Option<String>,
}

impl Storable for Target {
    type Storer = StoreReplace<Self>;
}

/// The tables and index a DynamoDB JSON request names: `TableName` and `IndexName`, the keys of
/// `RequestItems` (batches) and each `TransactItems` entry's `TableName`.
fn target_of(body: &[u8]) -> Target {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Target::default();
    };
    let mut tables = Vec::new();
    if let Some(Value::String(t)) = request.get("TableName") {
        tables.push(t.clone());
    }
    if let Some(Value::Object(items)) = request.get("RequestItems") {
        tables.extend(items.keys().cloned());
    }
    if let Some(Value::Array(items)) = request.get("TransactItems") {
        for item in items.iter().filter_map(Value::as_object) {
            for action in item.values() {
                if let Some(Value::String(t)) = action.get("TableName") {
                    tables.push(t.clone());
                }
            }
        }
    }
    tables.sort();
    tables.dedup();
    let index = match request.get("IndexName") {
        Some(Value::String(i)) => Some(i.clone()),
        _ => None,
    };
    Target { tables, index }
}

/// The error code of a DynamoDB JSON error body (`__type` is `<namespace>#<code>`).
fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let kind = value.get("__type")?.as_str()?;
    Some(kind.rsplit('#').next().unwrap_or(kind).to_owned())
}

/// An SDK interceptor on the DynamoDB client that logs configuration faults with the table and
/// index they concern. It reads only names from requests and the error code from responses;
/// item values are never read into the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigFaultLog;

impl Intercept for ConfigFaultLog {
    fn name(&self) -> &'static str {
        "ConfigFaultLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(body) = context.request().body().bytes() {
            cfg.interceptor_state().store_put(target_of(body));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().as_u16() != 400 {
            return Ok(());
        }
        let Some(code) = response.body().bytes().and_then(error_code) else {
            return Ok(());
        };
        if !is_misconfiguration(&code) {
            return Ok(());
        }
        let operation = cfg.load::<Metadata>().map_or("unknown", |m| m.name());
        let target = cfg.load::<Target>().cloned().unwrap_or_default();
        tracing::error!(
            fault = FAULT_FIELD_VALUE,
            operation,
            table = %target.tables.join(","),
            index = target.index.as_deref().unwrap_or("-"),
            error_code = %code,
            "DynamoDB refused the request as misconfigured: check that the table and index exist \
             as the template defines them and that the function's role may use them (retrying \
             cannot help)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_from_every_request_shape() {
        let query = br#"{"TableName":"audit","IndexName":"by_type","KeyConditionExpression":"x = :v","ExpressionAttributeValues":{":v":{"S":"Rivera"}}}"#;
        assert_eq!(
            target_of(query),
            Target {
                tables: vec!["audit".into()],
                index: Some("by_type".into())
            }
        );
        let batch = br#"{"RequestItems":{"consents":{"Keys":[]},"appointments":{"Keys":[]}}}"#;
        assert_eq!(target_of(batch).tables, vec!["appointments", "consents"]);
        let transact = br#"{"TransactItems":[{"Put":{"TableName":"consents","Item":{}}},{"Put":{"TableName":"audit","Item":{}}},{"Update":{"TableName":"consents"}}]}"#;
        assert_eq!(target_of(transact).tables, vec!["audit", "consents"]);
        assert_eq!(target_of(b"not json"), Target::default());
    }

    #[test]
    fn error_codes_are_read_from_the_type() {
        assert_eq!(
            error_code(br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#).as_deref(),
            Some("ResourceNotFoundException")
        );
        assert_eq!(
            error_code(br#"{"__type":"ValidationException"}"#).as_deref(),
            Some("ValidationException")
        );
        assert!(is_misconfiguration("ValidationException"));
        assert!(!is_misconfiguration(
            "ProvisionedThroughputExceededException"
        ));
        assert!(!is_misconfiguration("ConditionalCheckFailedException"));
    }
}
