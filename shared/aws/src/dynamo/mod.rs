//! DynamoDB stores: one module per port, plus the key design (`keys`), the item codec (`codec`)
//! and table creation (`tables`). docs/dynamodb.md describes the design.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::AttributeValue;
use connector_domain::StoreError;

use crate::config::TableNames;

pub mod appointments;
pub mod audit;
pub mod batch;
pub(crate) mod client;
pub mod codec;
pub mod consents;
pub mod crm_writes;
pub mod dashboard;
pub mod deliveries;
pub mod flows;
pub mod inbound;
pub mod keys;
pub mod ledger;
pub mod patients;
pub(crate) mod query;
pub mod search;
pub mod settings;
pub mod tables;

/// A DynamoDB item (or key): attribute name to value.
pub type Item = HashMap<String, AttributeValue>;

/// What every DynamoDB store shares: the client (cloned, it is an `Arc` inside), the table names and
/// the audit retention (audit entries are written inside the stores' transactions).
#[derive(Debug, Clone)]
pub(crate) struct Dynamo {
    pub client: Client,
    pub tables: TableNames,
    pub audit_retention: Duration,
}

/// Turns a builder's missing-field error into `Unavailable` (it is a bug, and retrying will not
/// help, but the port has no better variant; the source says what was missing).
pub(crate) fn built<T>(result: Result<T, BuildError>) -> Result<T, StoreError> {
    result.map_err(StoreError::unavailable)
}

/// Collects the placeholders of one expression: `#a0` for names (every attribute name goes
/// through one, so reserved words never bite), `:v0` for values.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    names: HashMap<String, String>,
    values: Item,
}

impl Expr {
    /// A placeholder for an attribute name (the same one for the same name).
    pub fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// A placeholder for a value.
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// The key condition `<partition> = <value> AND begins_with(<sort>, <prefix>)`.
    pub fn partition_and_prefix(
        &mut self,
        (partition, value): (&str, AttributeValue),
        (sort, prefix): (&str, AttributeValue),
    ) -> String {
        format!(
            "{} = {} AND begins_with({}, {})",
            self.name(partition),
            self.value(value),
            self.name(sort),
            self.value(prefix)
        )
    }

    /// The name map, or `None` when empty (DynamoDB rejects empty maps).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The value map, or `None` when empty.
    pub fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expr_reuses_name_placeholders() {
        let mut e = Expr::default();
        let a = e.name("seq");
        let b = e.name("pk");
        assert_eq!(e.name("seq"), a);
        assert_ne!(a, b);
        assert!(e.values().is_none());
        let v = e.value(keys::n(1));
        assert_eq!(e.values().unwrap().len(), 1);
        assert!(v.starts_with(':'));
    }
}
