//! Configuration, read once at start-up. Adapters are chosen here and only here.

use std::path::PathBuf;

use connector_domain::flow::SecretRef;

/// The embedded HIE queue's name in the database.
pub const HIE_QUEUE_NAME: &str = "hie";
/// The embedded delivery queue's name in the database (CRM -> EHR deliveries, one FIFO group per
/// patient; no receive limit: the delivery worker parks deliveries itself).
pub const DELIVERY_QUEUE_NAME: &str = "delivery";
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
    #[cfg(feature = "dynamodb")]
    Aws(connector_aws::AwsConfig),
}

/// Which CRM the EHR <-> CRM flows talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrmConfig {
    /// The embedded CRM (leads and activities in the SQLite file), for `connector serve`
    /// without a CRM account. Only with the embedded store.
    Embedded,
    /// LeadSquared's v2 REST API.
    LeadSquared {
        /// The account's regional API host, e.g. `https://api-us11.leadsquared.com`.
        base_url: String,
        /// Where the access key lives (`env:` or `secretsmanager:` reference).
        access_key: SecretRef,
        /// Where the secret key lives.
        secret_key: SecretRef,
        /// Client-side pacing (`LEADSQUARED_RATE_LIMIT`, e.g. `25/5s`; default LeadSquared's
        /// documented 25 calls per 5 seconds).
        #[cfg(feature = "leadsquared")]
        rate_limit: connector_crm::RateLimit,
    },
    /// No CRM: flows fail (AE ACKs, audited) until one is configured.
    None,
}

/// Everything the connector needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The adapters.
    pub store: StoreConfig,
    /// The CRM.
    pub crm: CrmConfig,
}

/// A configuration problem, found at start-up so that a bad deployment fails loudly at INIT.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// The AWS adapters' variables are missing or invalid.
    #[cfg(feature = "dynamodb")]
    #[error("AWS configuration")]
    Aws(#[source] connector_aws::AwsConfigError),
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
    /// `CONNECTOR_CRM`: `embedded` (the default with the embedded store), `leadsquared` (with
    /// `LEADSQUARED_BASE_URL`, the secret references `LEADSQUARED_ACCESS_KEY_REF` and
    /// `LEADSQUARED_SECRET_KEY_REF`, and optionally `LEADSQUARED_RATE_LIMIT`, default `25/5s`),
    /// or `none` (the default on AWS).
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
            #[cfg(feature = "dynamodb")]
            "aws" => StoreConfig::Aws(
                connector_aws::AwsConfig::from_lookup(&lookup).map_err(ConfigError::Aws)?,
            ),
            _ => {
                return Err(ConfigError::Invalid {
                    name: "CONNECTOR_STORE",
                    why: if cfg!(feature = "dynamodb") {
                        "expected `embedded` or `aws`"
                    } else {
                        "expected `embedded`"
                    },
                });
            }
        };
        let crm = crm_config(&lookup, &store)?;
        Ok(Self { store, crm })
    }
}

fn crm_config(
    lookup: &impl Fn(&str) -> Option<String>,
    store: &StoreConfig,
) -> Result<CrmConfig, ConfigError> {
    let embedded_store = matches!(store, StoreConfig::Embedded { .. });
    let default = if embedded_store { "embedded" } else { "none" };
    let secret = |name: &'static str| -> Result<SecretRef, ConfigError> {
        let text = lookup(name).ok_or(ConfigError::Missing(name))?;
        SecretRef::parse(&text).map_err(|_| ConfigError::Invalid {
            name,
            why: "expected a secret reference: env:CONNECTOR_SECRET_NAME or secretsmanager:ARN",
        })
    };
    match lookup("CONNECTOR_CRM").as_deref().unwrap_or(default) {
        "embedded" if embedded_store => Ok(CrmConfig::Embedded),
        "embedded" => Err(ConfigError::Invalid {
            name: "CONNECTOR_CRM",
            why: "the embedded CRM needs the embedded store",
        }),
        "leadsquared" => {
            let base_url = lookup("LEADSQUARED_BASE_URL")
                .ok_or(ConfigError::Missing("LEADSQUARED_BASE_URL"))?;
            if !base_url.starts_with("https://") && !base_url.starts_with("http://") {
                return Err(ConfigError::Invalid {
                    name: "LEADSQUARED_BASE_URL",
                    why: "expected the API host's URL, e.g. https://api-us11.leadsquared.com",
                });
            }
            Ok(CrmConfig::LeadSquared {
                base_url,
                access_key: secret("LEADSQUARED_ACCESS_KEY_REF")?,
                secret_key: secret("LEADSQUARED_SECRET_KEY_REF")?,
                #[cfg(feature = "leadsquared")]
                rate_limit: match lookup("LEADSQUARED_RATE_LIMIT") {
                    None => connector_crm::RateLimit::default(),
                    Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                        name: "LEADSQUARED_RATE_LIMIT",
                        why: "expected <calls>/<seconds>s, e.g. 25/5s (the account plan's limit)",
                    })?,
                },
            })
        }
        "none" => Ok(CrmConfig::None),
        _ => Err(ConfigError::Invalid {
            name: "CONNECTOR_CRM",
            why: "expected `embedded`, `leadsquared` or `none`",
        }),
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

    #[cfg(feature = "dynamodb")]
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
    fn crm_defaults_to_embedded_and_reads_leadsquared_references() {
        assert_eq!(
            Config::from_lookup(|_| None).unwrap().crm,
            CrmConfig::Embedded
        );
        let vars = [
            ("CONNECTOR_CRM", "leadsquared"),
            ("LEADSQUARED_BASE_URL", "https://api-us11.leadsquared.com"),
            (
                "LEADSQUARED_ACCESS_KEY_REF",
                "env:CONNECTOR_SECRET_LSQ_ACCESS",
            ),
            (
                "LEADSQUARED_SECRET_KEY_REF",
                "env:CONNECTOR_SECRET_LSQ_SECRET",
            ),
        ];
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        assert!(matches!(
            Config::from_lookup(lookup).unwrap().crm,
            CrmConfig::LeadSquared { .. }
        ));
        let bad = |name: &str| match name {
            "CONNECTOR_CRM" => Some("leadsquared".to_owned()),
            "LEADSQUARED_BASE_URL" => Some("https://x.example".to_owned()),
            "LEADSQUARED_ACCESS_KEY_REF" => Some("plain-key".to_owned()),
            _ => None,
        };
        let err = Config::from_lookup(bad).unwrap_err().to_string();
        assert!(err.contains("LEADSQUARED_ACCESS_KEY_REF"), "{err}");
        assert!(!err.contains("plain-key"));
    }

    #[cfg(feature = "leadsquared")]
    #[test]
    fn the_leadsquared_rate_limit_is_a_setting_defaulting_to_25_per_5_seconds() {
        let with = |limit: Option<&'static str>| {
            move |name: &str| match name {
                "CONNECTOR_CRM" => Some("leadsquared".to_owned()),
                "LEADSQUARED_BASE_URL" => Some("https://api-us11.leadsquared.com".to_owned()),
                "LEADSQUARED_ACCESS_KEY_REF" => Some("env:CONNECTOR_SECRET_A".to_owned()),
                "LEADSQUARED_SECRET_KEY_REF" => Some("env:CONNECTOR_SECRET_S".to_owned()),
                "LEADSQUARED_RATE_LIMIT" => limit.map(str::to_owned),
                _ => None,
            }
        };
        let limit_of = |config: Config| match config.crm {
            CrmConfig::LeadSquared { rate_limit, .. } => rate_limit,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            limit_of(Config::from_lookup(with(None)).unwrap()),
            connector_crm::RateLimit::per_5_seconds(25)
        );
        assert_eq!(
            limit_of(Config::from_lookup(with(Some("10/5s"))).unwrap()),
            connector_crm::RateLimit::per_5_seconds(10)
        );
        let err = Config::from_lookup(with(Some("lots")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("LEADSQUARED_RATE_LIMIT"), "{err}");
    }

    #[test]
    fn unknown_store_is_an_error() {
        let err = Config::from_lookup(|n| (n == "CONNECTOR_STORE").then(|| "mongo".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("CONNECTOR_STORE"));
    }
}
