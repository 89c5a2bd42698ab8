//! `connector secret`: the embedded deployment's `local:` secrets, in the database file.
//!
//! - `set NAME [--db PATH]`: reads the value from standard input (never from the command line,
//!   where it would land in shell history and the process list), drops one trailing newline
//!   (`echo`/`printf '%s\n'` add one), refuses an empty value, and stores it as `local:NAME`
//!   (replacing any earlier value), audited as `secret.set` with the name only;
//! - `list [--db PATH]`: every stored secret's reference and when it was set; never a value.
//!
//! On AWS, secrets live in Secrets Manager instead (`secretsmanager:ARN` references).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::SecretValue;
use connector_domain::flow::secret::LocalSecret;
use connector_domain::{Actor, Role};

/// Secret commands.
#[derive(Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// Store the secret behind `local:NAME`, reading its value from standard input
    /// (`printf %s "$VALUE" | connector secret set NAME`; one trailing newline is dropped).
    Set {
        /// The secret's name: 1 to 64 letters, digits, '.', '_' or '-' (channels refer to it
        /// as local:NAME).
        name: String,
        /// The database file.
        #[arg(long, default_value = "connector.db", env = "CONNECTOR_DB")]
        db: PathBuf,
    },
    /// List the stored secrets: reference and when each was set, never the values.
    List {
        /// The database file.
        #[arg(long, default_value = "connector.db", env = "CONNECTOR_DB")]
        db: PathBuf,
    },
}

/// Runs a secret command, reading `set`'s value from `input`.
pub fn run(cmd: SecretCommand, input: &mut dyn Read) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cmd {
        SecretCommand::Set { name, db } => {
            let Ok(name) = LocalSecret::parse_name(&name) else {
                bail!("the name must be 1 to 64 letters, digits, '.', '_' or '-'");
            };
            let value = read_value(input)?;
            let db = open(&db)?;
            let now = chrono::Utc::now();
            let entry = AuditEntry::new(
                LogType::ConfigurationChanges,
                now,
                Actor::new("cli", Role::Admin),
                "secret.set",
                AuditOutcome::Success,
            )
            .with_detail(serde_json::json!({ "name": name, "reference": format!("local:{name}") }));
            runtime
                .block_on(db.local_secrets().set(&name, &value, now, &entry))
                .context("cannot store the secret")?;
            println!("stored local:{name}");
            Ok(())
        }
        SecretCommand::List { db } => {
            let db = open(&db)?;
            let secrets = runtime
                .block_on(db.local_secrets().list())
                .context("cannot list the secrets")?;
            if secrets.is_empty() {
                println!("no local secrets");
            }
            for secret in secrets {
                println!(
                    "{}\tset {}",
                    secret.reference(),
                    secret
                        .updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            Ok(())
        }
    }
}

/// The value on `input`, less one trailing newline (`\n` or `\r\n`); refuses an empty one.
fn read_value(input: &mut dyn Read) -> anyhow::Result<SecretValue> {
    let mut value = Vec::new();
    input
        .read_to_end(&mut value)
        .context("cannot read the secret from standard input")?;
    if value.last() == Some(&b'\n') {
        value.pop();
        if value.last() == Some(&b'\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        bail!(
            "the secret is empty: pipe its value on standard input, e.g. printf %s \"$VALUE\" | connector secret set NAME"
        );
    }
    Ok(SecretValue::new(value))
}

fn open(db: &std::path::Path) -> anyhow::Result<connector_embedded::SqliteDb> {
    connector_embedded::SqliteDb::open(db).with_context(|| format!("cannot open {}", db.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_dropped_and_empty_is_refused() {
        let read = |s: &str| read_value(&mut s.as_bytes()).map(|v| v.expose().to_vec());
        assert_eq!(read("s3cret\n").unwrap(), b"s3cret");
        assert_eq!(read("s3cret\r\n").unwrap(), b"s3cret");
        assert_eq!(read("s3cret\n\n").unwrap(), b"s3cret\n");
        assert_eq!(read(" s3cret ").unwrap(), b" s3cret ");
        assert!(read("").is_err());
        assert!(read("\n").is_err());
    }
}
