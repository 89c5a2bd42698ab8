//! The ports: what the domain needs from the outside world. Each adapter (`connector-embedded`,
//! `connector-aws`) must honour every contract written here; `connector-testkit` has the suite
//! that checks them.
//!
//! Writes that the domain needs to be atomic are single port calls: a new consent, its "latest"
//! pointer and its audit entry are one transaction, so a crash can never leave a consent without
//! its audit trail, and two concurrent writers can never both become the latest.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::appointment::{Appointment, TransitionCursor};
use crate::audit::{AuditEntry, AuditQuery, Page};
use crate::consent::Consent;
use crate::delivery::{CrmWrite, Delivery, DeliveryClaim, DeliveryId, DeliveryState, WebhookKey};
use crate::flow::{Channel, ChannelId, Flow, FlowId, SecretRef, SecretValue};
use crate::hie::{Claim, SendKey, SendRecord};
use crate::inbound::{ControlId, InboundClaim, InboundKey, InboundRecord, KeyLock};
use crate::patient::{Email, Patient};
use crate::patient_search::PatientSearch;
use crate::settings::{HieSettings, Versioned};
use crate::{AppointmentId, ConsentId, PatientId, StoreError};

mod claims;

pub use claims::{
    DeliveryFinish, InboundClaimRequest, InboundFinish, LeaseTerms, SendFinish, StepSave,
};

/// One page of a paged read: at most `limit` items after `cursor` (a `next_cursor` the same
/// store returned for the same read; the first page when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<'a> {
    /// Where the page starts.
    pub cursor: Option<&'a str>,
    /// The most items it may hold.
    pub limit: usize,
}

/// Patients' demographics.
#[async_trait]
pub trait PatientStore: Send + Sync {
    /// The patient, or `None`.
    async fn get(&self, id: &PatientId) -> Result<Option<Patient>, StoreError>;

    /// Stores a new patient and, in the same transaction, its opt-in-by-default consent (as the
    /// patient's first record, `seq` 1, also becoming the latest) with the consent's audit entry.
    /// MUST return `Conflict` (and write nothing) when the patient already exists.
    async fn insert(
        &self,
        patient: &Patient,
        initial: Option<(&Consent, &AuditEntry)>,
    ) -> Result<(), StoreError>;

    /// Replaces an existing patient's demographics. MUST return `NotFound` when it does not exist.
    async fn update(&self, patient: &Patient) -> Result<(), StoreError>;

    /// Patients matching `search`, one `page` of at most `limit` (1..=100) after `cursor` (a
    /// `next_cursor` this store returned for the same search): by MRN ordered by patient id; by
    /// last-name prefix and birth date ordered by (folded last name, patient id). An inserted or
    /// updated patient is found by its current demographics only (at once on SQLite; DynamoDB's
    /// indexes are eventually consistent, typically within a second). Adapters read an index
    /// (never a scan); MUST return `InvalidCursor` for a cursor they did not produce.
    async fn search(
        &self,
        search: &PatientSearch,
        page: PageRequest<'_>,
    ) -> Result<Page<Patient>, StoreError>;
}

/// Consent records, with a "latest" pointer per patient.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Stores a new record as the patient's latest, with its audit entry, atomically.
    /// `consent.seq` MUST be `expected_latest_seq + 1` (or 1 when `None`). MUST return `Conflict`
    /// (and write nothing) when the patient's latest record is not `expected_latest_seq`
    /// (another consent was recorded meanwhile) or a record with this id exists.
    async fn append(
        &self,
        consent: &Consent,
        expected_latest_seq: Option<u64>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Sets the stored record's `revocation` to `consent.revocation` (nothing else about the
    /// record changes), with its audit entry, atomically. MUST return `Conflict` (and write nothing) unless the stored record with
    /// this id is the patient's latest and is not revoked; `NotFound` when there is no such record.
    async fn revoke(&self, consent: &Consent, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The patient's latest record, or `None`.
    async fn latest(&self, patient: &PatientId) -> Result<Option<Consent>, StoreError>;

    /// The latest record of each of `patients` that has one, in no particular order. Adapters
    /// accept any number of ids and read them in as few requests as they can (DynamoDB: 100 per
    /// BatchGetItem).
    async fn latest_many(&self, patients: &[PatientId]) -> Result<Vec<Consent>, StoreError>;

    /// Every record of the patient, newest (highest `seq`) first.
    async fn history(&self, patient: &PatientId) -> Result<Vec<Consent>, StoreError>;

    /// One record by id, or `None`.
    async fn get(&self, patient: &PatientId, id: &ConsentId)
    -> Result<Option<Consent>, StoreError>;
}

/// Most audit entries one watermark checkpoint may carry: a DynamoDB transaction holds 100 items,
/// one of them the settings item.
pub const MAX_CHECKPOINT_AUDIT_ENTRIES: usize = 99;

/// The clinic's HIE settings, versioned for optimistic concurrency.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The stored settings, or `None` when never saved (callers use the defaults, version 0).
    async fn get(&self) -> Result<Option<Versioned<HieSettings>>, StoreError>;

    /// Saves `settings` with its audit entry, atomically, if the stored version is still
    /// `expected_version` (0 = never saved); returns the new version. MUST return `Conflict`
    /// (and write nothing) otherwise.
    async fn put(
        &self,
        settings: &HieSettings,
        expected_version: u64,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError>;

    /// Moves the collector's watermark (`next_batch_start_time`) from `expected` to `next`,
    /// bumping the version, and appends `audit` (the skips the move passes over), atomically.
    /// Never-saved settings have the watermark `None` (advancing from `None` saves the defaults
    /// with the new watermark). MUST return `Conflict` (and write nothing) when the stored
    /// watermark is not `expected` (an operator rewound it, or another run advanced it), and
    /// `Invalid` (writing nothing) for more than [`MAX_CHECKPOINT_AUDIT_ENTRIES`] entries.
    async fn advance_watermark(
        &self,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError>;
}

/// The audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an entry. Appending an entry whose `entry_id` exists is a no-op (idempotent retries).
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Entries matching `query`, newest first, one page at a time.
    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError>;
}

/// The admin dashboard's counts (see [`crate::dashboard`]). Adapters keep them in the same
/// transaction as the audit entries they derive from ([`crate::dashboard::tallies`]): every
/// write of an audit entry that the entry's tally is not empty for also applies the tally, and
/// only when the entry is new (a retried write counts nothing twice). Reads are bounded by the
/// number of hours asked for, never by the size of the audit log.
#[async_trait]
pub trait DashboardStore: Send + Sync {
    /// The hourly counts of `series` (`hie` or `hl7`, see [`crate::dashboard::Counter::series`])
    /// for the hours starting in `[from, to)`, ascending; hours that counted nothing are absent.
    async fn hours(
        &self,
        series: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::dashboard::HourCounts>, StoreError>;

    /// Records a batch run that left no audit entry (a run that found nothing), under the
    /// unique `run_id`; recording one id again changes nothing.
    async fn record_batch_run(
        &self,
        run_id: &str,
        run: &crate::dashboard::BatchRunSummary,
    ) -> Result<(), StoreError>;

    /// The batch run that finished last, or `None` before the first.
    async fn last_batch_run(&self)
    -> Result<Option<crate::dashboard::BatchRunSummary>, StoreError>;

    /// The newest `limit` CRM errors, newest first.
    async fn recent_crm_errors(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::dashboard::CrmErrorEntry>, StoreError>;

    /// How many deliveries are parked, held and pending (queued, delivering, retrying), read
    /// from the deliveries' state index.
    async fn delivery_counts(&self) -> Result<crate::dashboard::DeliveryCounts, StoreError>;
}

/// Appointments.
#[async_trait]
pub trait AppointmentStore: Send + Sync {
    /// The appointment, or `None`.
    async fn get(&self, id: &AppointmentId) -> Result<Option<Appointment>, StoreError>;

    /// Creates or replaces the appointment's scheduling data. MUST keep the stored
    /// `transition_seq` and `transitioned_at` (those change only through `record_transition`).
    async fn put(&self, appointment: &Appointment) -> Result<(), StoreError>;

    /// Records a transition to billing at `at`: sets `transition_seq` to `expected_seq + 1` and
    /// `transitioned_at`, and returns the updated appointment. MUST return `Conflict` when the stored
    /// `transition_seq` is not `expected_seq`, `NotFound` when the appointment does not exist.
    async fn record_transition(
        &self,
        id: &AppointmentId,
        expected_seq: u32,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError>;

    /// Appointments whose `(transitioned_at, appointment_id)` is after `after` (all when `None`;
    /// a cursor without an appointment id sorts before every appointment at its instant)
    /// and whose `transitioned_at` is at or before `until`, ascending by that pair, at most `limit`.
    async fn transitioned(
        &self,
        after: Option<&TransitionCursor>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Appointment>, StoreError>;

    /// The patient's appointments, newest first (by `scheduled_start`, then appointment id,
    /// both descending), one `page` of at most `limit` (1..=100) after `cursor` (a `next_cursor`
    /// this store returned for the same patient). An appointment moved to another patient is
    /// listed under its new patient only. Adapters read an index (never a scan); MUST return
    /// `InvalidCursor` for a cursor they did not produce.
    async fn for_patient(
        &self,
        patient: &PatientId,
        page: PageRequest<'_>,
    ) -> Result<Page<Appointment>, StoreError>;
}

/// A message to put on a work queue. Bodies carry ids only, never PHI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The payload (JSON with ids).
    pub body: String,
    /// FIFO queues: messages of one group are delivered in order.
    pub group_id: Option<String>,
    /// FIFO queues: a repeat of this id within the deduplication window is dropped.
    pub dedup_id: Option<String>,
}

/// A message taken from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The queue's id for the message.
    pub message_id: String,
    /// The handle to delete or release this delivery.
    pub receipt: String,
    /// The payload.
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

/// What a queue adapter may report.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue failed or could not be reached; retrying may help.
    #[error("queue unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Puts work on a queue.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Enqueues every message, in order, or returns an error. Adapters split the slice into the
    /// service's batch size (SQS: 10) and retry entries the service reports as failed; on error,
    /// some messages may have been enqueued (consumers are idempotent).
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), QueueError>;
}

/// Takes work from a queue (the embedded host's worker loop; on AWS, Lambda's SQS trigger does this).
#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` visible messages, each hidden for `visibility` unless deleted first.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes a delivered message for good.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;

    /// Makes a message visible again after `delay` (for a retry with backoff).
    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), QueueError>;

    /// An idle worker's pause: returns after `at_most`, or sooner when the queue knows that
    /// messages were sent meanwhile (the embedded queue, on a send in this process; SQS cannot
    /// tell, so it waits `at_most`). A hint only: the next [`receive`](Self::receive) decides.
    async fn wait_for_messages(&self, at_most: Duration);
}

/// A fully built message for the HIE (a Direct envelope in MIME).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The sender (the clinic's Direct address).
    pub from: Email,
    /// The recipients (the HIE's Direct address).
    pub to: Vec<Email>,
    /// The whole RFC 5322 message, headers and MIME parts.
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("bytes", &self.raw.len())
            .finish_non_exhaustive()
    }
}

/// What a mailer may report: the sender retries transient failures and audits permanent ones.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Will not succeed by retrying (rejected address, invalid message).
    #[error("mail rejected")]
    Permanent(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// May succeed later (throttling, network).
    #[error("mail service unavailable")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Sends mail to the HIE.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the message; returns the service's message id.
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError>;
}

/// The send ledger: one record per delivery (appointment, transition, resend), so that a work
/// item delivered twice, a rewound watermark, or two senders racing never send twice.
#[async_trait]
pub trait SendLedger: Send + Sync {
    /// Claims the delivery for a sender until `now + length` (the `lease` terms):
    /// - no record: creates it `Sending` with attempt 1 -> `Granted { attempt: 1 }`;
    /// - `RetryPending`, or `Sending` whose lease has lapsed (a crashed sender): sets `Sending`,
    ///   increments the attempt -> `Granted`;
    /// - `Sending` with an unexpired lease -> `Busy { until }`;
    /// - `Sent` -> `AlreadySent`; `Failed` -> `Closed`.
    ///
    /// MUST be atomic (a conditional write): two concurrent claims never both get `Granted` for
    /// the same attempt.
    async fn claim(&self, key: &SendKey, lease: LeaseTerms) -> Result<Claim, StoreError>;

    /// Ends attempt `attempt` with `state` (`Sent` with the `message_id`, `RetryPending` or
    /// `Failed`) and appends `audit` in the same transaction. MUST return `Conflict` (and write
    /// nothing) unless the record is `Sending` at exactly `attempt` (a sender whose lease lapsed
    /// and was taken over cannot overwrite the newer attempt).
    async fn finish(&self, finish: SendFinish<'_>) -> Result<(), StoreError>;

    /// The delivery's record, or `None`.
    async fn get(&self, key: &SendKey) -> Result<Option<SendRecord>, StoreError>;

    /// The records of these deliveries that exist (any order); adapters batch the reads.
    async fn get_many(&self, keys: &[SendKey]) -> Result<Vec<SendRecord>, StoreError>;
}

/// Channels and flows (the connector's configuration for the EHR <-> CRM direction). Every
/// write carries its `configuration_changes` audit entry, stored in the same transaction.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores a new channel. MUST return `Conflict` (and write nothing) when the id exists.
    async fn create_channel(&self, channel: &Channel, audit: &AuditEntry)
    -> Result<(), StoreError>;

    /// Replaces a channel. MUST return `NotFound` (and write nothing) when it does not exist.
    async fn update_channel(&self, channel: &Channel, audit: &AuditEntry)
    -> Result<(), StoreError>;

    /// Deletes a channel. MUST return `NotFound` when it does not exist. (Whether flows still
    /// use it is the caller's check.)
    async fn delete_channel(&self, id: &ChannelId, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The channel, or `None`.
    async fn get_channel(&self, id: &ChannelId) -> Result<Option<Channel>, StoreError>;

    /// Every channel, ordered by id.
    async fn list_channels(&self) -> Result<Vec<Channel>, StoreError>;

    /// Stores a new flow. MUST return `Conflict` (and write nothing) when the id exists.
    async fn create_flow(&self, flow: &Flow, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Replaces a flow (its channel may change). MUST return `NotFound` (and write nothing)
    /// when it does not exist.
    async fn update_flow(&self, flow: &Flow, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Deletes a flow. MUST return `NotFound` when it does not exist.
    async fn delete_flow(&self, id: &FlowId, audit: &AuditEntry) -> Result<(), StoreError>;

    /// The flow, or `None`.
    async fn get_flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError>;

    /// The flows of one channel (or of every channel when `None`), ordered by flow id.
    async fn list_flows(&self, channel: Option<&ChannelId>) -> Result<Vec<Flow>, StoreError>;
}

/// The inbound ledger: one record per (channel, MSH-10), see [`crate::inbound`].
#[async_trait]
pub trait InboundLedger: Send + Sync {
    /// Claims a message for processing, with one conditional write:
    /// - no record: creates it (`Processing`, attempts 1, lease `now + length`, no steps) and
    ///   returns `Granted`;
    /// - `Failed`, or `Processing` with `lease_until <= now`: sets `Processing`, attempts + 1,
    ///   a new lease (steps kept) and returns `Granted` with the stored steps;
    /// - `Processing` with a live lease: returns `Busy`; `Done`: returns `AlreadyDone`.
    ///
    /// `body_sha256` and `event` are stored on creation only; the returned record holds the
    /// stored ones (the caller compares). Two concurrent claims MUST NOT both be granted.
    async fn claim(&self, request: InboundClaimRequest<'_>) -> Result<InboundClaim, StoreError>;

    /// Saves one step's progress (replacing that step's earlier progress). MUST return
    /// `Conflict` (and write nothing) unless the record is `Processing` with `attempts ==
    /// attempt` (the claim was lost to another handler).
    async fn save_step(&self, save: StepSave<'_>) -> Result<(), StoreError>;

    /// Ends an attempt: sets `state` (`Done` or `Failed`; the lease is cleared) and appends the
    /// audit entry, atomically. MUST return `Conflict` (and write nothing) unless the record is
    /// `Processing` with `attempts == attempt`.
    async fn finish(&self, finish: InboundFinish<'_>) -> Result<(), StoreError>;

    /// The record, or `None`.
    async fn get(&self, key: &InboundKey) -> Result<Option<InboundRecord>, StoreError>;

    /// Takes `lock` for the lease's `holder` until `now + length`, with one conditional write: granted
    /// (`true`) when nobody holds it, the holder's lease has lapsed (`lease_until <= now`), or
    /// `holder` holds it already (the lease is renewed); `false`, writing nothing, while another
    /// holder's lease is live. Two concurrent calls for one lock MUST NOT both be granted.
    async fn lock_key(&self, lock: &KeyLock, lease: LeaseTerms<&str>) -> Result<bool, StoreError>;

    /// Releases `lock` if `holder` holds it; otherwise (another holder took it after a lapse,
    /// or nobody holds it) changes nothing.
    async fn unlock_key(&self, lock: &KeyLock, holder: &str) -> Result<(), StoreError>;
}

/// Why a secret could not be read. Never carries the secret or the reference's location.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Nothing is stored at the reference.
    #[error("no secret at the reference")]
    NotFound,
    /// This deployment cannot read this kind of reference (e.g. `local:` on AWS).
    #[error("{0} secret references are not available in this deployment")]
    Unsupported(&'static str),
    /// The secret store failed.
    #[error("secret store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads secrets at [`SecretRef`]s (HMAC keys, webhook tokens, outbound credentials).
/// Adapters may cache values briefly; they MUST NOT log them.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret at `reference`.
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError>;

    /// Whether `reference` resolves, as far as this process can tell (checked when a channel
    /// is saved and shown). The default resolves it: a value is `Resolved`, `NotFound` and
    /// `Unsupported` are `Unresolvable`, an unavailable store is `Unknown`. Adapters whose
    /// references may be readable elsewhere but not here (environment variables of another
    /// function) answer `Unknown` for those.
    async fn status(&self, reference: &SecretRef) -> SecretStatus {
        match self.resolve(reference).await {
            Ok(_) => SecretStatus::Resolved,
            Err(SecretError::NotFound | SecretError::Unsupported(_)) => SecretStatus::Unresolvable,
            Err(SecretError::Unavailable(_)) => SecretStatus::Unknown,
        }
    }
}

/// Whether a secret reference resolves (see [`SecretStore::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretStatus {
    /// A value is stored at the reference.
    Resolved,
    /// Nothing is stored there, or this deployment cannot read that kind of reference.
    Unresolvable,
    /// This process cannot tell (the store is unavailable, or the secret lives elsewhere).
    Unknown,
}

/// The embedded deployment's own secrets, behind `local:` references: written by
/// administrators (`connector secret set`, `PUT /secrets/{name}`), never read back through
/// this port. AWS deployments keep secrets in Secrets Manager and have no such store.
#[async_trait]
pub trait LocalSecretStore: Send + Sync {
    /// Stores (or replaces) the secret `name` (a valid local id, see
    /// [`crate::flow::secret::LocalSecret::parse_name`]) with `value`, stamped `at`, and
    /// appends `audit`, atomically. MUST NOT log the value.
    async fn set(
        &self,
        name: &str,
        value: &SecretValue,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Every stored secret's name and when it was last set, by name. Never values.
    async fn list(&self) -> Result<Vec<crate::flow::secret::LocalSecret>, StoreError>;
}

/// Outbound deliveries and the webhooks they came from (see [`crate::delivery`]). Writes that
/// carry an audit entry store it in the same transaction.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Records a webhook and the deliveries it produced (state `Queued`; possibly none), with
    /// its audit entry, atomically. MUST return `Conflict` (and write nothing) when a webhook
    /// with this key was recorded before.
    async fn accept_webhook(
        &self,
        key: &WebhookKey,
        deliveries: &[Delivery],
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The delivery, or `None`.
    async fn get(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError>;

    /// The deliveries a recorded webhook produced, in creation order (empty when the webhook
    /// is unknown or produced none).
    async fn webhook_deliveries(&self, key: &WebhookKey) -> Result<Vec<Delivery>, StoreError>;

    /// Claims a delivery for an attempt, with one conditional write:
    /// - `Queued`, `Retrying` with `next_attempt_at <= now`, or `Delivering` with
    ///   `lease_until <= now`: if its group is blocked by a parked delivery (another one), it
    ///   becomes `Held` (`held_behind` set) and `Settled` is returned; otherwise it becomes
    ///   `Delivering` with `attempts + 1` and a lease of `now + length`, and `Granted` is
    ///   returned with the updated record;
    /// - `Retrying` not yet due, or `Delivering` with a live lease: `Busy` (until then);
    /// - `Delivered`, `Parked`, `Held`: `Settled`.
    ///
    /// MUST return `NotFound` when there is no such delivery. Two concurrent claims MUST NOT
    /// both be granted.
    async fn claim(&self, id: &DeliveryId, lease: LeaseTerms) -> Result<DeliveryClaim, StoreError>;

    /// Ends an attempt: `Delivered`; `Retrying` with `next_attempt_at`; or `Parked`, which
    /// also blocks the delivery's group (if it is not blocked already). Sets `last_outcome`,
    /// clears the lease, appends the audit entry, atomically; returns the updated record. MUST
    /// return `Conflict` (and write nothing) unless the delivery is `Delivering` with
    /// `attempts == attempt`.
    async fn finish(&self, finish: DeliveryFinish<'_>) -> Result<Delivery, StoreError>;

    /// Redrives a parked delivery: it and every `Held` delivery of its group become `Queued`
    /// with `attempts` 0, the group is unblocked, and the audit entry is appended, atomically.
    /// Returns them in creation order (the caller enqueues them in that order). MUST return
    /// `NotFound` when there is no such delivery and `Conflict` (writing nothing) unless it is
    /// `Parked`.
    async fn redrive(
        &self,
        id: &DeliveryId,
        now: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Deliveries, newest first, optionally only those in `state`, at most `limit`.
    async fn list(
        &self,
        state: Option<DeliveryState>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
}

/// What the connector wrote to the CRM recently, for echo suppression (see
/// [`crate::delivery::CrmWrite`]).
#[async_trait]
pub trait CrmWriteLog: Send + Sync {
    /// Remembers a write (adapters may forget it after [`crate::delivery::ECHO_WINDOW`]).
    async fn record(&self, write: &CrmWrite) -> Result<(), StoreError>;

    /// The writes to `entity` at or after `since`, oldest first.
    async fn recent(&self, entity: &str, since: DateTime<Utc>)
    -> Result<Vec<CrmWrite>, StoreError>;
}

/// How a delivery attempt ended on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EhrSendOutcome {
    /// The EHR accepted it: an AA or CA whose MSA-2 is the sent MSH-10.
    Delivered {
        /// `AA` or `CA`.
        ack_code: String,
    },
    /// The EHR answered AE, AR, CE or CR.
    Rejected {
        /// MSA-1.
        ack_code: String,
        /// The first ERR's HL7 table 0357 code, when given.
        error_code: Option<u16>,
    },
    /// A reply came that is not an ACK of this message (MSA-2 differs, or unparseable).
    WrongAck,
    /// Sent, but no reply arrived in time (or the connection dropped): unknown; resend with
    /// the same MSH-10.
    NoAck,
    /// Not sent (no connection, TLS failure, HTTP 5xx/429): safe to retry.
    NotSent,
}

impl EhrSendOutcome {
    /// The outcome word audit entries and [`Delivery::last_outcome`] use.
    pub fn word(&self) -> String {
        match self {
            EhrSendOutcome::Delivered { .. } => "delivered".into(),
            EhrSendOutcome::Rejected { ack_code, .. } => format!("rejected_{ack_code}"),
            EhrSendOutcome::WrongAck => "wrong_ack".into(),
            EhrSendOutcome::NoAck => "no_ack".into(),
            EhrSendOutcome::NotSent => "not_sent".into(),
        }
    }
}

/// Sends HL7 to the EHR on a channel's outbound settings (MLLP or HTTPS) and reads its ACK.
#[async_trait]
pub trait EhrTransport: Send + Sync {
    /// Sends `message` (ER7, whose MSH-10 is `control_id`) on `channel` and classifies the
    /// answer. Never logs the message.
    async fn send(
        &self,
        channel: &Channel,
        control_id: &ControlId,
        message: &[u8],
    ) -> EhrSendOutcome;
}
