//! The HIE pipeline's rules (seed 000: "Message Defaults", "Next Batch Start Time", "Additional
//! Information"): appointment intake and transitions, which transitions may be sent, the work
//! items the collector enqueues, the send ledger that makes each send happen once, and the
//! message the HIE receives.

mod decision;
mod intake;
mod ledger;
mod message;
mod status;
mod work;

pub use decision::{Decision, SkipReason, decide};
pub use intake::{
    AppointmentError, AppointmentInput, AppointmentPorts, ProviderInput, save_appointment,
    transition,
};
pub use ledger::{Claim, SendRecord, SendState};
pub use message::{ATTACHMENT_MIME_TYPE, MessageError, build_mail, encounter_hl7};
pub use status::{HieStatus, hie_status};
pub use work::{HieWork, SendKey, WorkParseError};
