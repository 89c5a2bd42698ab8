//! HIE consent: records, their computed statuses, and the operations staff and patients perform.
//!
//! The rules (seed 000, ARCHITECTURE.md):
//! - A record has Given On and Expires On dates, calendar dates in the clinic's time zone; it is in
//!   force while `given_on <= today < expires_on`.
//! - Records are immutable except for revoking; a new consent always creates a new record.
//! - Only the latest record (by creation) decides validity; only the latest can be Active, and only
//!   the latest, unrevoked record can be revoked.

mod model;
mod service;
mod status;

pub use model::{Consent, ConsentInput, ConsentSource, Revocation};
pub use service::{
    ConsentError, ConsentHistory, ConsentPorts, Registration, give_consent, history,
    register_patient, revoke_consent,
};
pub use status::{ConsentStatus, Validity, status, validity};
