//! Configuration, read once at start-up. Adapters are chosen here and only here.

use std::path::PathBuf;

/// The embedded HIE queue's name in the database.
pub const HIE_QUEUE_NAME: &str = "hie";
/// Deliveries of one HIE work item before it is parked in the dead-letter queue (the SAM
/// template's `maxReceiveCount` is the same).
pub const HIE_MAX_RECEIVES: u32 = 5;

/// Which adapters back the ports.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// One SQLite file (plus an outbox folder for mail), for `connector serve` and evaluation.
    Embedded {
        /// The database file.
        db_path: PathBuf,
        /// Where mail for the HIE is written as `.eml` files.
        outbox_dir: PathBuf,
    },
    /// DynamoDB tables, SQS queues and SES, named by environment variables (see
    /// `connector_aws::AwsConfig`); endpoints come from the SDK's standard configuration.
    #[cfg(feature = "aws")]
    Aws(connector_aws::AwsConfig),
}

/// Everything the connector needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The adapters.
    pub store: StoreConfig,
}

/// A configuration problem, found at start-up so that a bad deployment fails loudly at INIT.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// The AWS adapters' variables are missing or invalid.
    #[cfg(feature = "aws")]
    #[error("AWS configuration")]
    Aws(#[source] connector_aws::ConfigError),
    /// A variable has a value the connector does not understand.
    #[error("environment variable {name} is invalid: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is accepted.
        why: &'static str,
    },
}

impl Config {
    /// Reads the configuration from environment variables:
    /// `CONNECTOR_STORE` (`embedded`, the default, or `aws`); for `embedded`, `CONNECTOR_DB` (the
    /// SQLite file, default `connector.db`) and `CONNECTOR_OUTBOX` (the mail folder, default
    /// `outbox`); for `aws`, the table and queue variables of `connector_aws::AwsConfig`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store = match lookup("CONNECTOR_STORE").as_deref().unwrap_or("embedded") {
            "embedded" => StoreConfig::Embedded {
                db_path: lookup("CONNECTOR_DB")
                    .unwrap_or_else(|| "connector.db".to_owned())
                    .into(),
                outbox_dir: lookup("CONNECTOR_OUTBOX")
                    .unwrap_or_else(|| "outbox".to_owned())
                    .into(),
            },
            #[cfg(feature = "aws")]
            "aws" => StoreConfig::Aws(
                connector_aws::AwsConfig::from_lookup(&lookup).map_err(ConfigError::Aws)?,
            ),
            _ => {
                return Err(ConfigError::Invalid {
                    name: "CONNECTOR_STORE",
                    why: if cfg!(feature = "aws") {
                        "expected `embedded` or `aws`"
                    } else {
                        "expected `embedded`"
                    },
                });
            }
        };
        Ok(Self { store })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_embedded_store() {
        let config = Config::from_lookup(|_| None).unwrap();
        match config.store {
            StoreConfig::Embedded {
                db_path,
                outbox_dir,
            } => {
                assert_eq!(db_path, std::path::PathBuf::from("connector.db"));
                assert_eq!(outbox_dir, std::path::PathBuf::from("outbox"));
            }
            #[allow(unreachable_patterns)]
            _ => panic!("expected the embedded store"),
        }
    }

    #[cfg(feature = "aws")]
    #[test]
    fn aws_store_reads_the_table_and_queue_variables() {
        let vars = [
            ("CONNECTOR_STORE", "aws"),
            ("CONSENTS_TABLE", "c"),
            ("APPOINTMENTS_TABLE", "a"),
            ("FLOWS_TABLE", "f"),
            ("AUDIT_TABLE", "u"),
            ("HIE_QUEUE_URL", "https://sqs.example/q"),
        ];
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        match Config::from_lookup(lookup).unwrap().store {
            StoreConfig::Aws(aws) => {
                assert_eq!(aws.tables.consents, "c");
                assert_eq!(aws.hie_queue_url.as_deref(), Some("https://sqs.example/q"));
            }
            _ => panic!("expected the AWS store"),
        }
        let missing = Config::from_lookup(|n| (n == "CONNECTOR_STORE").then(|| "aws".to_owned()));
        assert!(matches!(missing, Err(ConfigError::Aws(_))));
    }

    #[test]
    fn unknown_store_is_an_error() {
        let err = Config::from_lookup(|n| (n == "CONNECTOR_STORE").then(|| "mongo".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("CONNECTOR_STORE"));
    }
}
