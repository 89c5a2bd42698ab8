//! References to secrets, and resolved secret values.
//!
//! The flow and channel model never holds a secret: it holds a [`SecretRef`] saying where the
//! secret lives, and the adapter that needs it (the HMAC check, the outbound sender) resolves
//! it at use. A reference is configuration, not a secret, so API views may show it.
//!
//! | text | where the secret lives |
//! |---|---|
//! | `env:CONNECTOR_SECRET_EHR_HMAC` | a process environment variable (Lambda configuration) |
//! | `secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic/ehr-AbCdEf` | AWS Secrets Manager |
//! | `local:ehr-hmac` | the embedded (SQLite) deployment's secret store |
//!
//! Environment references must name a variable starting with [`ENV_PREFIX`]: a reference is
//! set by an administrator through the API, and without the prefix one could point an outbound
//! header at `env:AWS_SECRET_ACCESS_KEY` and send the function's own credentials to an EHR
//! endpoint. Secrets Manager references are limited by the function's IAM policy instead
//! (grant `secretsmanager:GetSecretValue` on the connector's own prefix only).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The prefix every `env:` reference must start with.
pub const ENV_PREFIX: &str = "CONNECTOR_SECRET_";

/// Where a secret lives. Text form `kind:location` (see the [module documentation](self)).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    /// A process environment variable (its name starts with [`ENV_PREFIX`]).
    Env(String),
    /// An AWS Secrets Manager secret, by ARN.
    SecretsManager(String),
    /// A secret in the embedded deployment's store, by id.
    Local(String),
}

/// Why a secret reference was refused. The messages never quote the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    /// Not `env:`, `secretsmanager:` or `local:`.
    #[error("must be env:NAME, secretsmanager:ARN or local:ID")]
    Kind,
    /// A bad environment variable name.
    #[error("env: must name a variable of letters, digits and '_' starting with CONNECTOR_SECRET_")]
    EnvName,
    /// Not a Secrets Manager secret ARN.
    #[error(
        "secretsmanager: must be a secret ARN such as arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"
    )]
    Arn,
    /// A bad local id.
    #[error("local: must be 1 to 64 letters, digits, '.', '_' or '-'")]
    LocalId,
}

fn is_env_name(name: &str) -> bool {
    name.len() <= 128
        && name.len() > ENV_PREFIX.len()
        && name.starts_with(ENV_PREFIX)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_secret_arn(arn: &str) -> bool {
    // arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let [arn_tag, partition, service, region, account, kind, name] = parts[..] else {
        return false;
    };
    arn.len() <= 2048
        && arn_tag == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "secretsmanager"
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && kind == "secret"
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}

fn is_local_id(id: &str) -> bool {
    crate::ids::is_ascii_word(id, 64, b"._-")
}

impl SecretRef {
    /// Parses `env:NAME`, `secretsmanager:ARN` or `local:ID`.
    ///
    /// # Errors
    /// [`SecretRefError`] naming the rule broken.
    pub fn parse(text: &str) -> Result<Self, SecretRefError> {
        let (kind, rest) = text.split_once(':').ok_or(SecretRefError::Kind)?;
        match kind {
            "env" if is_env_name(rest) => Ok(Self::Env(rest.to_owned())),
            "env" => Err(SecretRefError::EnvName),
            "secretsmanager" if is_secret_arn(rest) => Ok(Self::SecretsManager(rest.to_owned())),
            "secretsmanager" => Err(SecretRefError::Arn),
            "local" if is_local_id(rest) => Ok(Self::Local(rest.to_owned())),
            "local" => Err(SecretRefError::LocalId),
            _ => Err(SecretRefError::Kind),
        }
    }

    /// `env`, `secretsmanager` or `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Env(_) => "env",
            Self::SecretsManager(_) => "secretsmanager",
            Self::Local(_) => "local",
        }
    }

    /// The location within its kind (variable name, ARN, id).
    pub fn location(&self) -> &str {
        match self {
            Self::Env(s) | Self::SecretsManager(s) | Self::Local(s) => s,
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.location())
    }
}

impl fmt::Debug for SecretRef {
    /// A reference is not a secret: its `Debug` is its text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({self})")
    }
}

impl std::str::FromStr for SecretRef {
    type Err = SecretRefError;
    fn from_str(s: &str) -> Result<Self, SecretRefError> {
        Self::parse(s)
    }
}

crate::string_form::string_form!(SecretRef, SecretRefError, display);

/// A resolved secret (what an adapter reads at a [`SecretRef`]). Neither `Serialize` nor
/// `Display`; `Debug` is redacted. Read it with [`SecretValue::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// A secret of the embedded deployment's store as listed: its name (the `ID` of `local:ID`) and
/// when it was last set. Never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalSecret {
    /// The local id.
    pub name: String,
    /// When it was last set.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl LocalSecret {
    /// Checks a local secret's name as `local:` references are checked (1 to 64 letters,
    /// digits, `.`, `_`, `-`).
    ///
    /// # Errors
    /// [`SecretRefError::LocalId`].
    pub fn parse_name(name: &str) -> Result<String, SecretRefError> {
        if is_local_id(name) {
            Ok(name.to_owned())
        } else {
            Err(SecretRefError::LocalId)
        }
    }

    /// The reference that names it (`local:NAME`).
    pub fn reference(&self) -> SecretRef {
        SecretRef::Local(self.name.clone())
    }
}

/// Reads an `env:` reference from the process environment (every deployment supports these);
/// `None` for other kinds or an unset variable.
pub fn read_env(reference: &SecretRef) -> Option<SecretValue> {
    match reference {
        SecretRef::Env(name) => {
            std::env::var_os(name).map(|v| SecretValue::new(v.into_encoded_bytes()))
        }
        _ => None,
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({})", crate::phi::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_each_kind() {
        for text in [
            "env:CONNECTOR_SECRET_EHR_HMAC",
            "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:clinic-connector/ehr-AbC123",
            "local:ehr-hmac.v2",
        ] {
            let r = SecretRef::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<SecretRef>(&json).unwrap(), r);
        }
        assert_eq!(
            SecretRef::parse("local:a").unwrap(),
            SecretRef::Local("a".into())
        );
    }

    #[test]
    fn refuses_bad_references_without_quoting_them() {
        for (text, err) in [
            ("plain-secret-value", SecretRefError::Kind),
            ("vault:kv/x", SecretRefError::Kind),
            ("env:AWS_SECRET_ACCESS_KEY", SecretRefError::EnvName),
            ("env:CONNECTOR_SECRET_", SecretRefError::EnvName),
            ("env:CONNECTOR_SECRET_A-B", SecretRefError::EnvName),
            ("secretsmanager:my-secret", SecretRefError::Arn),
            (
                "secretsmanager:arn:aws:s3:us-east-1:123456789012:secret:x",
                SecretRefError::Arn,
            ),
            (
                "secretsmanager:arn:aws:secretsmanager:us-east-1:1234:secret:x",
                SecretRefError::Arn,
            ),
            ("local:", SecretRefError::LocalId),
            ("local:a b", SecretRefError::LocalId),
        ] {
            assert_eq!(SecretRef::parse(text), Err(err), "{text}");
            let location = text.split_once(':').map_or(text, |(_, l)| l);
            assert!(
                location.is_empty()
                    || location == ENV_PREFIX
                    || !err.to_string().contains(location)
            );
        }
        assert!(serde_json::from_str::<SecretRef>("\"hunter2\"").is_err());
    }

    #[test]
    fn secret_values_do_not_print() {
        let v = SecretValue::new(b"hunter2".to_vec());
        assert!(!format!("{v:?}").contains("hunter2"));
        assert_eq!(v.expose(), b"hunter2");
    }
}
