//! `connector token`: bearer tokens for `connector serve --tokens`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use connector_app::http::auth::BearerTokens;
use connector_domain::{Actor, Role};

/// Token commands.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user, append its hash to FILE, and print the token once.
    Add {
        /// The user the token stands for (recorded as created_by / revoked_by).
        #[arg(long)]
        user: String,
        /// staff, admin or patient (a patient's user is its patient id).
        #[arg(long)]
        role: String,
        /// The token file.
        #[arg(long)]
        file: PathBuf,
    },
}

/// Runs a token command.
pub fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Add { user, role, file } => {
            let Some(role) = Role::parse(&role).filter(|r| *r != Role::System) else {
                bail!("--role must be staff, admin or patient");
            };
            if user.is_empty() || user.chars().any(char::is_whitespace) {
                bail!("--user must be a non-empty name without spaces");
            }
            let token = format!(
                "cc_{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let line = BearerTokens::file_line(&token, &Actor::new(user, role));
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            writeln!(out, "{line}")?;
            println!("{token}");
            Ok(())
        }
    }
}
