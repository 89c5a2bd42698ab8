//! Embedded adapters for Clinic Connector's ports, for `connector serve`, evaluation, development
//! and small on-premise sites:
//!
//! - [`SqliteDb`]: one SQLite file holding every store (`PatientStore`, `ConsentStore`,
//!   `SettingsStore`, `AuditLog`, `AppointmentStore`, `SendLedger`, `FlowStore`,
//!   `InboundLedger`, `DeliveryStore`, `CrmWriteLog`), the local secrets behind `local:`
//!   references ([`SqliteSecrets`], a `SecretStore`), an embedded CRM ([`SqliteCrm`], a `Crm` with leads and activities, so
//!   flows run without a CRM account) and any number of named durable queues
//!   ([`SqliteQueue`], implementing `WorkQueue` and `QueueConsumer`, with visibility timeouts,
//!   FIFO groups, deduplication and a dead-letter table);
//! - [`OutboxMailer`]: a `Mailer` that drops each message as `<message-id>.eml` into a folder.
//!
//! The database runs in WAL mode with foreign keys on and a busy timeout; its schema is migrated
//! when it is opened. Every port call that the port contract calls atomic is one `BEGIN IMMEDIATE`
//! transaction on one connection, used from `tokio::task::spawn_blocking`.
//!
//! Nothing here logs patient data: log lines carry ids and counts only.
#![deny(missing_docs)]

mod db;
mod error;
mod outbox_mailer;
mod queue;
mod sqlite;
mod time;

pub use db::SqliteDb;
pub use error::{OpenError, UnsupportedValue};
pub use outbox_mailer::{InvalidMail, OutboxMailer};
pub use queue::{DEDUP_WINDOW, DeadLetter, QueueOptions, QueueStats, SqliteQueue};
pub use sqlite::SCHEMA_VERSION;
pub use sqlite::appointments::SqliteAppointmentStore;
pub use sqlite::audit::SqliteAuditLog;
pub use sqlite::consents::SqliteConsentStore;
pub use sqlite::crm::{CrmActivityRecord, CrmLeadRecord, SqliteCrm};
pub use sqlite::crm_writes::SqliteCrmWriteLog;
pub use sqlite::deliveries::SqliteDeliveryStore;
pub use sqlite::flows::SqliteFlowStore;
pub use sqlite::inbound::SqliteInboundLedger;
pub use sqlite::ledger::SqliteSendLedger;
pub use sqlite::patients::SqlitePatientStore;
pub use sqlite::secrets::SqliteSecrets;
pub use sqlite::settings::SqliteSettingsStore;
