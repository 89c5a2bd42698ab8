//! Clinic Connector's domain: the HIE consent rules, patients, appointments, HIE settings and the
//! audit log, plus the ports (traits) that adapters implement.
//!
//! No AWS, no SQL, no HTTP here: adapters live in `connector-aws` and `connector-embedded`, and the
//! jobs that wire everything together live in `connector-app`.
#![deny(missing_docs)]

pub mod actor;
pub mod appointment;
pub mod audit;
pub mod clock;
pub mod consent;
pub mod crm;
pub mod cursor;
pub mod dashboard;
pub mod delivery;
pub mod error;
pub mod flow;
pub mod hie;
pub mod ids;
pub mod inbound;
pub mod lease;
pub mod patient;
pub mod patient_search;
pub mod phi;
pub mod ports;
pub mod settings;
mod string_form;

pub use actor::{Actor, Role};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{StoreError, ValidationError, ValidationErrors};
pub use ids::{AppointmentId, ConsentId, PatientId};
