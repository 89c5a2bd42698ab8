//! `connector`: every Clinic Connector function in one process on the embedded store, and the
//! tools around it.

mod collect;
mod cors;
mod flows;
mod hl7_cmd;
mod hl7_listen;
mod hl7_send;
mod http_server;
mod listen_settings;
mod listener;
mod mllp_bridge;
mod oidc_file;
mod secret;
mod serve;
mod token;
mod web;

use clap::{Parser, Subcommand};

/// Clinic Connector: HIE consent and appointment delivery, and HL7 flows between EHR and CRM.
#[derive(Debug, Parser)]
#[command(name = "connector", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Serve every API in one process on the embedded store (SQLite).
    Serve(serve::ServeArgs),
    /// Run one batch collector run on the embedded store, then send what it enqueued.
    Collect(collect::CollectArgs),
    /// Channels and flows as configuration files: validate, test, apply, export.
    Flows {
        #[command(subcommand)]
        cmd: flows::FlowsCommand,
    },
    /// Inspect HL7 v2 messages read from standard input.
    Hl7 {
        #[command(subcommand)]
        cmd: hl7_cmd::Hl7Command,
    },
    /// The always-on MLLP edge for AWS sites: receive MLLP from the EHR, POST each message
    /// signed to the hl7-inbound API, and return its ACK.
    MllpBridge(mllp_bridge::MllpBridgeArgs),
    /// The embedded store's `local:` secrets: set one (value from standard input), list them.
    Secret {
        #[command(subcommand)]
        cmd: secret::SecretCommand,
    },
    /// Manage the bearer tokens `connector serve --tokens` accepts.
    Token {
        #[command(subcommand)]
        cmd: token::TokenCommand,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Commands::Serve(args) => serve::run(args),
        Commands::Collect(args) => collect::run(args),
        Commands::Flows { cmd } => flows::run(cmd),
        Commands::Hl7 {
            cmd: hl7_cmd::Hl7Command::Send(args),
        } => hl7_send::run(args),
        Commands::Hl7 {
            cmd: hl7_cmd::Hl7Command::Listen(args),
        } => hl7_listen::run(args),
        Commands::Hl7 { cmd } => hl7_cmd::run(cmd, &mut std::io::stdin(), &mut std::io::stdout()),
        Commands::MllpBridge(args) => mllp_bridge::run(args),
        Commands::Secret { cmd } => secret::run(cmd, &mut std::io::stdin()),
        Commands::Token { cmd } => token::run(cmd),
    }
}
