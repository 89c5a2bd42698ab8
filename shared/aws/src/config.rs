//! Where the adapters' resources live: table names and queue URLs, read once from the environment.
//!
//! Endpoints, region and credentials are not here: they come from the AWS SDK's own configuration
//! (`aws_config::load_defaults`), so a local endpoint is selected with the standard
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` variables, never with an
//! "is local" switch.

use std::time::Duration;

/// Default audit retention: six years, the HIPAA documentation retention period
/// (45 CFR 164.316(b)(2)), counted as 6 x 365 days plus the two leap days six years can hold.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs((6 * 365 + 2) * 24 * 60 * 60);

/// Default inbound ledger retention: 90 days after a message's last claim, long enough that any
/// EHR resend (automatic ones come within hours, manual ones within weeks) is recognised.
pub const DEFAULT_INBOUND_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Default delivery retention: 30 days after a delivery was delivered (or a webhook accepted),
/// long past any CRM webhook retry (hours), so repeats are still recognised, and long enough to
/// look into a delivery a clinic asks about; undelivered deliveries never expire.
pub const DEFAULT_DELIVERY_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The DynamoDB tables the stores use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// Patients, consent records and each patient's LATEST consent (`CONSENTS_TABLE`).
    pub consents: String,
    /// Appointments (`APPOINTMENTS_TABLE`).
    pub appointments: String,
    /// Flows, channels, connector settings, the inbound ledger, outbound deliveries and the CRM
    /// write log (`FLOWS_TABLE`).
    pub flows: String,
    /// The audit log, with a TTL attribute (`AUDIT_TABLE`).
    pub audit: String,
}

impl TableNames {
    /// Four names sharing `prefix`: `<prefix>consents`, `<prefix>appointments`, `<prefix>flows`,
    /// `<prefix>audit` (tests use a fresh prefix per test for isolation).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            consents: format!("{prefix}consents"),
            appointments: format!("{prefix}appointments"),
            flows: format!("{prefix}flows"),
            audit: format!("{prefix}audit"),
        }
    }
}

/// Everything the AWS adapters need besides the SDK configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The tables.
    pub tables: TableNames,
    /// The HIE work queue (`HIE_QUEUE_URL`); only the collector and the sender need it.
    pub hie_queue_url: Option<String>,
    /// How long audit entries are kept before DynamoDB's TTL deletes them (`AUDIT_RETENTION_DAYS`).
    pub audit_retention: Duration,
    /// The SES configuration set for sent mail (`SES_CONFIGURATION_SET`), if any.
    pub ses_configuration_set: Option<String>,
    /// How long inbound ledger records are kept after their last claim before DynamoDB's TTL
    /// deletes them (`INBOUND_RETENTION_DAYS`).
    pub inbound_retention: Duration,
    /// The FIFO delivery queue of outbound HL7 deliveries (`DELIVERY_QUEUE_URL`); only the
    /// functions that enqueue or deliver them need it.
    pub delivery_queue_url: Option<String>,
    /// How long delivered deliveries and accepted webhooks are kept before DynamoDB's TTL
    /// deletes them (`DELIVERY_RETENTION_DAYS`).
    pub delivery_retention: Duration,
    /// The batch collector function (`BATCH_COLLECTOR_FUNCTION`, name or ARN) the consent API
    /// invokes for `POST /hie/batch-runs`; only that function needs it.
    pub batch_collector_function: Option<String>,
}

/// A configuration problem, found at start-up so that a bad deployment fails loudly at INIT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsConfigError {
    /// A required variable is missing or empty.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable has a value the adapters do not understand.
    #[error("environment variable {name} is invalid: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is accepted.
        why: &'static str,
    },
}

impl AwsConfig {
    /// Reads the configuration from environment variables: `CONSENTS_TABLE`, `APPOINTMENTS_TABLE`,
    /// `FLOWS_TABLE`, `AUDIT_TABLE` (required); `HIE_QUEUE_URL`, `AUDIT_RETENTION_DAYS` (default
    /// 2192, six years), `SES_CONFIGURATION_SET`, `INBOUND_RETENTION_DAYS` (default 90),
    /// `DELIVERY_QUEUE_URL`, `DELIVERY_RETENTION_DAYS` (default 30), `BATCH_COLLECTOR_FUNCTION`
    /// (optional).
    pub fn from_env() -> Result<Self, AwsConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AwsConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(AwsConfigError::Missing(name));
        let tables = TableNames {
            consents: required("CONSENTS_TABLE")?,
            appointments: required("APPOINTMENTS_TABLE")?,
            flows: required("FLOWS_TABLE")?,
            audit: required("AUDIT_TABLE")?,
        };
        let days = |name: &'static str, default: Duration| match get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<u64>() {
                Ok(days @ 1..=36_500) => Ok(Duration::from_secs(days * 24 * 60 * 60)),
                _ => Err(AwsConfigError::Invalid {
                    name,
                    why: "expected a whole number of days between 1 and 36500",
                }),
            },
        };
        Ok(Self {
            tables,
            hie_queue_url: get("HIE_QUEUE_URL"),
            audit_retention: days("AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION)?,
            ses_configuration_set: get("SES_CONFIGURATION_SET"),
            inbound_retention: days("INBOUND_RETENTION_DAYS", DEFAULT_INBOUND_RETENTION)?,
            delivery_queue_url: get("DELIVERY_QUEUE_URL"),
            delivery_retention: days("DELIVERY_RETENTION_DAYS", DEFAULT_DELIVERY_RETENTION)?,
            batch_collector_function: get("BATCH_COLLECTOR_FUNCTION"),
        })
    }

    /// A configuration for `tables` with the defaults for everything else.
    pub fn for_tables(tables: TableNames) -> Self {
        Self {
            tables,
            hie_queue_url: None,
            audit_retention: DEFAULT_AUDIT_RETENTION,
            ses_configuration_set: None,
            inbound_retention: DEFAULT_INBOUND_RETENTION,
            delivery_queue_url: None,
            delivery_retention: DEFAULT_DELIVERY_RETENTION,
            batch_collector_function: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const TABLES: [(&str, &str); 4] = [
        ("CONSENTS_TABLE", "c"),
        ("APPOINTMENTS_TABLE", "a"),
        ("FLOWS_TABLE", "f"),
        ("AUDIT_TABLE", "l"),
    ];

    #[test]
    fn reads_tables_and_defaults() {
        let config = AwsConfig::from_lookup(env(&TABLES)).unwrap();
        assert_eq!(config.tables.consents, "c");
        assert_eq!(config.tables.audit, "l");
        assert_eq!(config.hie_queue_url, None);
        assert_eq!(config.audit_retention, DEFAULT_AUDIT_RETENTION);
        assert_eq!(config.inbound_retention, DEFAULT_INBOUND_RETENTION);
        assert_eq!(config.delivery_queue_url, None);
        assert_eq!(config.delivery_retention, DEFAULT_DELIVERY_RETENTION);
    }

    /// The configuration from the four tables and `extra`.
    fn config_with(extra: &[(&str, &str)]) -> Result<AwsConfig, AwsConfigError> {
        let mut pairs = TABLES.to_vec();
        pairs.extend_from_slice(extra);
        AwsConfig::from_lookup(env(&pairs))
    }

    #[test]
    fn queue_urls_are_read_trimmed() {
        let config = config_with(&[
            ("DELIVERY_QUEUE_URL", " http://q/deliveries.fifo "),
            ("HIE_QUEUE_URL", "http://q"),
        ])
        .unwrap();
        assert_eq!(
            config.delivery_queue_url.as_deref(),
            Some("http://q/deliveries.fifo")
        );
        assert_eq!(config.hie_queue_url.as_deref(), Some("http://q"));
    }

    /// A retention setting's case: the variable, the field it sets, a valid number of days, and
    /// a value it refuses.
    type RetentionCase = (&'static str, fn(&AwsConfig) -> Duration, u64, &'static str);

    /// Each retention in days: read, and refused (by name) outside 1..=36500 or when not a
    /// number.
    #[test]
    fn retentions_are_read_and_validated() {
        let cases: [RetentionCase; 3] = [
            ("AUDIT_RETENTION_DAYS", |c| c.audit_retention, 30, "forever"),
            ("INBOUND_RETENTION_DAYS", |c| c.inbound_retention, 30, "0"),
            (
                "DELIVERY_RETENTION_DAYS",
                |c| c.delivery_retention,
                7,
                "36501",
            ),
        ];
        for (name, retention, days, invalid) in cases {
            let config = config_with(&[(name, &days.to_string())]).unwrap();
            assert_eq!(
                retention(&config),
                Duration::from_secs(days * 86_400),
                "{name}"
            );
            assert_eq!(
                config_with(&[(name, invalid)]),
                Err(AwsConfigError::Invalid {
                    name,
                    why: "expected a whole number of days between 1 and 36500",
                }),
                "{name} = {invalid}"
            );
        }
    }

    #[test]
    fn missing_table_is_named() {
        let err = AwsConfig::from_lookup(env(&TABLES[..3])).unwrap_err();
        assert_eq!(err, AwsConfigError::Missing("AUDIT_TABLE"));
    }
}
