//! HL7 v2 messages in ER7 ("pipe and hat") encoding: parse, read by field path, build, escape,
//! acknowledge, batch and frame for MLLP. No I/O: bring your own sockets and clock.
//!
//! - [`Message`]: a parsed message that borrows its input. Parsing only finds the segment
//!   boundaries (one allocation per message: a small index); fields, repetitions, components and
//!   subcomponents are found on demand by scanning, and a value is copied only when it holds an
//!   escape sequence to decode.
//! - [`Path`]: one field-path syntax for reading and writing,
//!   `SEG[occurrence]-field[repetition].component.subcomponent`
//!   (`PID-5.1`, `PID-3[2].1`, `OBX[3]-5`, `PID-11.1.2`).
//! - [`OwnedMessage`]: an editable message built from a template, set by path, written back to ER7.
//! - [`ack`]: original- and enhanced-mode ACKs with ERR segments, and an ACK reader.
//! - [`mllp`]: MLLP framing (encode, streaming decoder).
//! - [`batch`]: FHS/BHS/BTS/FTS batch files.
//! - [`dictionary`]: HL7 v2.5 names of common fields and components (`PID-5.1`: Family Name).
//! - `datetime` (feature `chrono`, on by default): HL7 DTM/TS values to and from `chrono`, with
//!   their precision; with it come `ControlIdGenerator` (MSH-10) and the MSH-7 setters.
//!
//! Errors never carry message content (values are PHI): they say where (segment index or ID,
//! field number) and why. No function panics on any input.
//!
//! ```
//! use connector_hl7::{Message, Path};
//!
//! let msg = Message::parse("MSH|^~\\&|EHR|CLINIC|CRM|CLINIC|20240102030405||ADT^A01|X1|P|2.5\rPID|1||123^^^MRN||Doe^Jane")?;
//! let family: Path = "PID-5.1".parse()?;
//! assert_eq!(msg.get(&family).as_deref(), Some("Doe"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod ack;
pub mod batch;
mod build;
mod charset;
#[cfg(feature = "chrono")]
mod control_id;
#[cfg(feature = "chrono")]
pub mod datetime;
pub mod dictionary;
mod error;
pub mod escape;
mod message;
pub mod mllp;
mod parse;
mod path;
mod separators;
mod text;

/// The `chrono` this crate's date/time API uses, re-exported so callers use the same version.
#[cfg(feature = "chrono")]
pub use chrono;

pub use ack::{AckBuilder, AckCode, AckError, AckInfo, ErrorCode, ErrorLocation, Severity};
pub use build::OwnedMessage;
pub use charset::Charset;
#[cfg(feature = "chrono")]
pub use control_id::ControlIdGenerator;
#[cfg(feature = "chrono")]
pub use datetime::{Hl7DateTime, Precision};
#[cfg(feature = "chrono")]
pub use error::DateTimeError;
pub use error::{AckReadError, BatchError, BuildError, MllpError, ParseError, SeparatorError};
pub use message::{Component, Field, Leaf, Message, Repetition, Segment, Subcomponent, Value};
pub use mllp::MllpDecoder;
pub use path::{Path, PathError, PathPart, SegmentId};
pub use separators::Separators;
