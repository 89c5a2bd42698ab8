//! What the claim-and-finish ports take: a lease asked for at an instant, and the claim, step
//! and end of one attempt at a piece of leased work (an inbound message, an HIE send, a
//! CRM -> EHR delivery). Each groups the arguments one port call needs, so the port, both
//! adapters and the callers name them once.

use chrono::{DateTime, Duration, Utc};

use crate::StoreError;
use crate::audit::AuditEntry;
use crate::delivery::{AttemptEnd, DeliveryId};
use crate::hie::{SendKey, SendState};
use crate::inbound::{InboundKey, InboundState, StepProgress};
use crate::lease::Lease;

/// The terms of a lease asked for (see [`crate::lease`]): taken by `holder` at `now`, for
/// `length`. What every claim takes; the holder is `()` where the record's attempt number says
/// who holds it, as in [`Lease`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTerms<H = ()> {
    /// Who asks for it.
    pub holder: H,
    /// When the claim is made.
    pub now: DateTime<Utc>,
    /// How long the lease should hold.
    pub length: Duration,
}

impl LeaseTerms {
    /// A lease asked for at `now`, for `length`.
    pub fn new(now: DateTime<Utc>, length: Duration) -> Self {
        Self {
            holder: (),
            now,
            length,
        }
    }
}

impl<H> LeaseTerms<H> {
    /// The same terms, asked for by `holder`.
    pub fn held_by<G>(self, holder: G) -> LeaseTerms<G> {
        LeaseTerms {
            holder,
            now: self.now,
            length: self.length,
        }
    }
}

impl<H: PartialEq + Clone> LeaseTerms<H> {
    /// The lease asked for: `Invalid` unless `length` is positive and the end is a
    /// representable instant (see [`Lease::claim_for`]).
    pub fn lease(&self) -> Result<Lease<H>, StoreError> {
        Lease::claim_for(self.holder.clone(), self.now, self.length)
    }
}

/// An inbound message to claim ([`super::InboundLedger::claim`]).
#[derive(Debug, Clone, Copy)]
pub struct InboundClaimRequest<'a> {
    /// The message: its channel and MSH-10.
    pub key: &'a InboundKey,
    /// SHA-256 (hex) of the message as received; stored on creation only.
    pub body_sha256: &'a str,
    /// The message's event (`ADT^A04`); stored on creation only.
    pub event: &'a str,
    /// The lease the handling asks for.
    pub lease: LeaseTerms,
}

/// One step's progress to save for an attempt at an inbound message
/// ([`super::InboundLedger::save_step`]).
#[derive(Debug, Clone, Copy)]
pub struct StepSave<'a> {
    /// The message.
    pub key: &'a InboundKey,
    /// The attempt the claim granted.
    pub attempt: u32,
    /// The step's name.
    pub step: &'a str,
    /// What the step has done so far (ids and outcome words, never PHI).
    pub progress: &'a StepProgress,
    /// When.
    pub now: DateTime<Utc>,
}

/// The end of an attempt at an inbound message ([`super::InboundLedger::finish`]).
#[derive(Debug, Clone, Copy)]
pub struct InboundFinish<'a> {
    /// The message.
    pub key: &'a InboundKey,
    /// The attempt the claim granted.
    pub attempt: u32,
    /// `Done` or `Failed`.
    pub state: InboundState,
    /// When.
    pub now: DateTime<Utc>,
    /// The audit entry written with it.
    pub audit: &'a AuditEntry,
}

/// The end of an HIE send attempt ([`super::SendLedger::finish`]).
#[derive(Debug, Clone, Copy)]
pub struct SendFinish<'a> {
    /// The delivery.
    pub key: &'a SendKey,
    /// The attempt the claim granted.
    pub attempt: u32,
    /// `Sent`, `RetryPending` or `Failed`.
    pub state: SendState,
    /// The mail service's message id, when sent.
    pub message_id: Option<&'a str>,
    /// When.
    pub now: DateTime<Utc>,
    /// The audit entry written with it.
    pub audit: &'a AuditEntry,
}

/// The end of a CRM -> EHR delivery attempt ([`super::DeliveryStore::finish`]).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryFinish<'a> {
    /// The delivery.
    pub id: &'a DeliveryId,
    /// The attempt the claim granted.
    pub attempt: u32,
    /// Delivered, retry at a time, or park.
    pub end: &'a AttemptEnd,
    /// The outcome word (see [`super::EhrSendOutcome::word`]), kept as `last_outcome`.
    pub outcome: &'a str,
    /// When.
    pub now: DateTime<Utc>,
    /// The audit entry written with it.
    pub audit: &'a AuditEntry,
}
