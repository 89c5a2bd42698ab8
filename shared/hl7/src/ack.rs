//! Acknowledgments: building original- and enhanced-mode ACKs, and reading them.
//!
//! An ACK built here answers a message with: MSH-3/4 and MSH-5/6 swapped, MSH-7 the given
//! time, MSH-9 `ACK^<trigger>^ACK` (`ACK^<trigger>` before v2.3.1, which had no MSH-9.3),
//! MSH-10 a new control ID, MSH-11, MSH-12 and MSH-18 copied, the sender's delimiters;
//! MSA-1 the code, MSA-2 the message's MSH-10; then the errors:
//!
//! - v2.5 and later (and when MSH-12 cannot be read): one ERR per error, ERR-2 the location
//!   (`SEG^sequence^field^repetition^component^subcomponent`), ERR-3 the code from HL7 table
//!   0357 (`101^Required field missing^HL70357`), ERR-4 the severity (`E`, `W`, `I`, `F`);
//! - before v2.5: one ERR whose ERR-1 repeats per error (`SEG^sequence^field^101&Required field
//!   missing&HL70357`), and MSA-3 the first error's text.
//!
//! Texts written are the table's own, never message content.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

#[cfg(feature = "chrono")]
use chrono::{DateTime, FixedOffset};

use crate::build::OwnedMessage;
#[cfg(feature = "chrono")]
use crate::datetime;
use crate::error::{AckReadError, ParseError};
use crate::escape;
use crate::message::Message;
use crate::path::{Path, SegmentId};
use crate::separators::Separators;
use crate::text::{Lines, is_blank};

/// MSA-1, the acknowledgment code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// `AA`: application accept.
    ApplicationAccept,
    /// `AE`: application error.
    ApplicationError,
    /// `AR`: application reject.
    ApplicationReject,
    /// `CA`: commit accept (enhanced mode).
    CommitAccept,
    /// `CE`: commit error (enhanced mode).
    CommitError,
    /// `CR`: commit reject (enhanced mode).
    CommitReject,
}

impl AckCode {
    /// The two-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::ApplicationAccept => "AA",
            AckCode::ApplicationError => "AE",
            AckCode::ApplicationReject => "AR",
            AckCode::CommitAccept => "CA",
            AckCode::CommitError => "CE",
            AckCode::CommitReject => "CR",
        }
    }

    /// Whether the code accepts the message (`AA` or `CA`).
    pub fn is_accept(self) -> bool {
        matches!(self, AckCode::ApplicationAccept | AckCode::CommitAccept)
    }

    /// Whether this is an enhanced-mode (commit) code.
    pub(crate) fn is_commit(self) -> bool {
        matches!(
            self,
            AckCode::CommitAccept | AckCode::CommitError | AckCode::CommitReject
        )
    }
}

impl fmt::Display for AckCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AckCode {
    type Err = AckReadError;
    fn from_str(s: &str) -> Result<Self, AckReadError> {
        Ok(match s {
            "AA" => AckCode::ApplicationAccept,
            "AE" => AckCode::ApplicationError,
            "AR" => AckCode::ApplicationReject,
            "CA" => AckCode::CommitAccept,
            "CE" => AckCode::CommitError,
            "CR" => AckCode::CommitReject,
            _ => return Err(AckReadError::UnknownAckCode),
        })
    }
}

/// ERR-4, the severity of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `E`: error, the message was not processed (or only partly).
    Error,
    /// `W`: warning.
    Warning,
    /// `I`: information.
    Information,
    /// `F`: fatal error.
    Fatal,
}

impl Severity {
    /// The one-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
            Severity::Fatal => "F",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "E" => Severity::Error,
            "W" => Severity::Warning,
            "I" => Severity::Information,
            "F" => Severity::Fatal,
            _ => return None,
        })
    }
}

/// HL7 table 0357, message error condition codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0: message accepted.
    MessageAccepted,
    /// 100: segment sequence error.
    SegmentSequenceError,
    /// 101: required field missing.
    RequiredFieldMissing,
    /// 102: data type error.
    DataTypeError,
    /// 103: table value not found.
    TableValueNotFound,
    /// 104: value too long (v2.7+).
    ValueTooLong,
    /// 200: unsupported message type.
    UnsupportedMessageType,
    /// 201: unsupported event code.
    UnsupportedEventCode,
    /// 202: unsupported processing ID.
    UnsupportedProcessingId,
    /// 203: unsupported version ID.
    UnsupportedVersionId,
    /// 204: unknown key identifier.
    UnknownKeyIdentifier,
    /// 205: duplicate key identifier.
    DuplicateKeyIdentifier,
    /// 206: application record locked.
    ApplicationRecordLocked,
    /// 207: application internal error.
    ApplicationInternalError,
}

const CODES: [(ErrorCode, u16, &str); 14] = [
    (ErrorCode::MessageAccepted, 0, "Message accepted"),
    (
        ErrorCode::SegmentSequenceError,
        100,
        "Segment sequence error",
    ),
    (
        ErrorCode::RequiredFieldMissing,
        101,
        "Required field missing",
    ),
    (ErrorCode::DataTypeError, 102, "Data type error"),
    (ErrorCode::TableValueNotFound, 103, "Table value not found"),
    (ErrorCode::ValueTooLong, 104, "Value too long"),
    (
        ErrorCode::UnsupportedMessageType,
        200,
        "Unsupported message type",
    ),
    (
        ErrorCode::UnsupportedEventCode,
        201,
        "Unsupported event code",
    ),
    (
        ErrorCode::UnsupportedProcessingId,
        202,
        "Unsupported processing id",
    ),
    (
        ErrorCode::UnsupportedVersionId,
        203,
        "Unsupported version id",
    ),
    (
        ErrorCode::UnknownKeyIdentifier,
        204,
        "Unknown key identifier",
    ),
    (
        ErrorCode::DuplicateKeyIdentifier,
        205,
        "Duplicate key identifier",
    ),
    (
        ErrorCode::ApplicationRecordLocked,
        206,
        "Application record locked",
    ),
    (
        ErrorCode::ApplicationInternalError,
        207,
        "Application internal error",
    ),
];

impl ErrorCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        CODES.iter().find(|c| c.0 == self).map_or(207, |c| c.1)
    }

    /// The table's text.
    pub fn text(self) -> &'static str {
        CODES.iter().find(|c| c.0 == self).map_or("", |c| c.2)
    }

    /// The variant for a numeric code.
    pub fn from_code(code: u16) -> Option<Self> {
        CODES.iter().find(|c| c.1 == code).map(|c| c.0)
    }

    /// The code to answer a message that could not be parsed with.
    pub(crate) fn for_parse_error(e: &ParseError) -> Self {
        match e {
            ParseError::Empty | ParseError::MissingMsh | ParseError::InvalidSegmentId { .. } => {
                ErrorCode::SegmentSequenceError
            }
            ParseError::Separators(_) | ParseError::InvalidText { .. } => ErrorCode::DataTypeError,
            _ => ErrorCode::ApplicationInternalError,
        }
    }
}

/// Where an error is (HL7 ERL): segment ID and sequence, then optional field, repetition,
/// component, subcomponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorLocation {
    /// The segment ID.
    pub segment: SegmentId,
    /// Which occurrence of the segment (1-based).
    pub sequence: usize,
    /// The field number.
    pub field: Option<usize>,
    /// The repetition.
    pub repetition: Option<usize>,
    /// The component.
    pub component: Option<usize>,
    /// The subcomponent.
    pub subcomponent: Option<usize>,
}

impl ErrorLocation {
    /// A whole segment.
    pub fn segment(segment: SegmentId, sequence: usize) -> Self {
        Self {
            segment,
            sequence,
            field: None,
            repetition: None,
            component: None,
            subcomponent: None,
        }
    }

    fn er7(&self, seps: &Separators) -> String {
        let mut parts = vec![self.segment.to_string(), self.sequence.to_string()];
        let rest = [
            self.field,
            self.repetition,
            self.component,
            self.subcomponent,
        ];
        let last = rest.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
        parts.extend(
            rest.iter()
                .take(last)
                .map(|n| n.map(|v| v.to_string()).unwrap_or_default()),
        );
        parts.join(&seps.component().to_string())
    }

    fn read(parts: &[Option<Cow<'_, str>>]) -> Option<Self> {
        let get = |i: usize| parts.get(i).and_then(|p| p.as_deref());
        let num = |i: usize| get(i).and_then(|v| v.parse::<usize>().ok());
        Some(Self {
            segment: SegmentId::new(get(0)?)?,
            sequence: num(1).unwrap_or(1),
            field: num(2),
            repetition: num(3),
            component: num(4),
            subcomponent: num(5),
        })
    }
}

impl From<&Path> for ErrorLocation {
    fn from(p: &Path) -> Self {
        Self {
            segment: p.segment(),
            sequence: p.occurrence(),
            field: Some(p.field()),
            repetition: Some(p.repetition()),
            component: p.component(),
            subcomponent: p.subcomponent(),
        }
    }
}

/// One error to report in an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckError {
    /// The table 0357 code.
    pub code: ErrorCode,
    /// The severity.
    pub severity: Severity,
    /// Where, if known.
    pub location: Option<ErrorLocation>,
}

impl AckError {
    /// An error (severity `E`) with no location.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            severity: Severity::Error,
            location: None,
        }
    }

    /// The same error at a location.
    pub fn at(mut self, location: impl Into<ErrorLocation>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// The same error with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The error to report for a message that could not be parsed.
    pub fn for_parse_error(e: &ParseError) -> Self {
        let mut err = AckError::new(ErrorCode::for_parse_error(e));
        if let (ParseError::MissingMsh | ParseError::Separators(_), Some(msh)) =
            (e, SegmentId::new("MSH"))
        {
            err.location = Some(ErrorLocation::segment(msh, 1));
        }
        err
    }
}

/// Parses MSH-12 (`2.5.1`) into numbers; `None` when it is not a version.
fn version_tuple(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
    let major = it.next()??;
    let minor = it.next().flatten().unwrap_or(0);
    let patch = it.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// Builds ACKs. The caller supplies the new control ID and the time (no clock here).
#[derive(Debug, Clone)]
pub struct AckBuilder {
    code: AckCode,
    control_id: String,
    /// MSH-7, already in HL7 TS form.
    timestamp: Option<String>,
    errors: Vec<AckError>,
}

impl AckBuilder {
    /// An ACK with this code and MSH-10.
    pub fn new(code: AckCode, control_id: &str) -> Self {
        Self {
            code,
            control_id: control_id.to_owned(),
            timestamp: None,
            errors: Vec::new(),
        }
    }

    /// MSH-7.
    #[cfg(feature = "chrono")]
    pub fn timestamp(mut self, at: DateTime<FixedOffset>) -> Self {
        self.timestamp = Some(datetime::format_timestamp(&at));
        self
    }

    /// Adds an error.
    pub fn error(mut self, error: AckError) -> Self {
        self.errors.push(error);
        self
    }

    /// The ACK for a parsed message.
    pub fn build(&self, original: &Message<'_>) -> OwnedMessage {
        let seps = original.separators();
        let mut ack = OwnedMessage::new(seps);
        let msh_raw = |n: usize| {
            original
                .msh()
                .field(n)
                .map(|f| f.raw().to_owned())
                .unwrap_or_default()
        };
        let version = original.version().map(Cow::into_owned).unwrap_or_default();
        let v = version_tuple(&version);
        let (Some(msh), Some(msa), Some(err)) = (
            SegmentId::new("MSH"),
            SegmentId::new("MSA"),
            SegmentId::new("ERR"),
        ) else {
            return ack;
        };
        let mut set = |id: SegmentId, occurrence: usize, field: usize, raw: &str| {
            if !raw.is_empty() {
                // Copied fields come from a parsed message, built ones are escaped: this
                // cannot fail, and a failure would only leave the field empty.
                let _ = ack.set_field_raw(id, occurrence, field, raw);
            }
        };
        for (to, from) in [(3, 5), (4, 6), (5, 3), (6, 4)] {
            set(msh, 1, to, &msh_raw(from));
        }
        if let Some(at) = &self.timestamp {
            set(msh, 1, 7, at);
        }
        let trigger = original
            .msh()
            .field(9)
            .and_then(|f| f.component(2))
            .map(|c| c.raw())
            .unwrap_or_default();
        let c = seps.component();
        let msh9 = match (trigger.is_empty(), v.is_some_and(|v| v < (2, 3, 1))) {
            (true, _) => "ACK".to_owned(),
            (false, true) => format!("ACK{c}{trigger}"),
            (false, false) => format!("ACK{c}{trigger}{c}ACK"),
        };
        set(msh, 1, 9, &msh9);
        set(msh, 1, 10, &escape::encode(&self.control_id, &seps));
        for n in [11, 12, 18] {
            set(msh, 1, n, &msh_raw(n));
        }
        set(msa, 1, 1, self.code.as_str());
        set(msa, 1, 2, &msh_raw(10));
        let legacy = v.is_some_and(|v| v < (2, 5, 0));
        let sub = seps.subcomponent();
        if legacy {
            if let Some(first) = self.errors.first() {
                let _ = ack.set_field_raw(msa, 1, 3, first.code.text());
                let reps: Vec<String> = self
                    .errors
                    .iter()
                    .map(|e| {
                        let loc = e.location.map(|l| {
                            let mut l = l;
                            l.repetition = None;
                            l.component = None;
                            l.subcomponent = None;
                            l.er7(&seps)
                        });
                        let mut parts: Vec<String> = loc
                            .map(|l| l.split(c).map(str::to_owned).collect())
                            .unwrap_or_default();
                        parts.resize(3, String::new());
                        parts.push(format!(
                            "{}{sub}{}{sub}HL70357",
                            e.code.code(),
                            e.code.text()
                        ));
                        parts.join(&c.to_string())
                    })
                    .collect();
                let _ = ack.set_field_raw(err, 1, 1, &reps.join(&seps.repetition().to_string()));
            }
        } else {
            for (i, e) in self.errors.iter().enumerate() {
                let n = i + 1;
                if let Some(l) = e.location {
                    let _ = ack.set_field_raw(err, n, 2, &l.er7(&seps));
                }
                let code = format!("{}{c}{}{c}HL70357", e.code.code(), e.code.text());
                let _ = ack.set_field_raw(err, n, 3, &code);
                let _ = ack.set_field_raw(err, n, 4, e.severity.as_str());
            }
        }
        ack
    }

    /// Best-effort ACK for input that could not be parsed: code `AR` (`CR` when this builder
    /// has a commit code), an ERR for `error`, and whatever the first line still gives of MSH
    /// (applications, facilities, control ID, processing and version IDs). When not even the
    /// MSH line can be read, the ACK has standard delimiters, version 2.5 and an empty MSA-2.
    pub fn build_unparsable(&self, input: &[u8], error: &ParseError) -> OwnedMessage {
        let code = if self.code.is_commit() {
            AckCode::CommitReject
        } else {
            AckCode::ApplicationReject
        };
        let mut builder = self.clone();
        builder.code = code;
        builder.errors = vec![AckError::for_parse_error(error)];
        let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        let first_line = Lines::new(input)
            .map(|(s, e)| input.get(s..e).unwrap_or_default())
            .find(|l| !is_blank(l))
            .unwrap_or_default();
        let text = String::from_utf8_lossy(first_line);
        if let Ok(msh) = Message::parse(&text) {
            return builder.build(&msh);
        }
        // Not even the MSH line: standard delimiters, no MSH-10 to echo (MSA-2 stays empty).
        match Message::parse("MSH|^~\\&|||||||ACK||P|2.5") {
            Ok(m) => {
                let mut ack = builder.build(&m);
                ack.set_control_id(&self.control_id);
                ack
            }
            Err(_) => OwnedMessage::new(Separators::STANDARD),
        }
    }
}

/// One error read from an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The table 0357 code (ERR-3.1, or ERR-1.4.1 before v2.5), when numeric.
    pub code: Option<u16>,
    /// ERR-4.
    pub severity: Option<Severity>,
    /// ERR-2 (or ERR-1.1-3 before v2.5).
    pub location: Option<ErrorLocation>,
}

/// What an ACK says. Texts (MSA-3, ERR-3.2, ERR-8) are not copied: they may hold patient
/// data; read them from the message by path if you must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckInfo<'m> {
    /// MSA-1.
    pub code: AckCode,
    /// MSA-2, the control ID of the message acknowledged.
    pub control_id: Option<Cow<'m, str>>,
    /// The ERR segments.
    pub errors: Vec<ErrorDetail>,
}

impl<'m> AckInfo<'m> {
    /// Reads an ACK.
    ///
    /// # Errors
    /// [`AckReadError::MissingMsa`], [`AckReadError::UnknownAckCode`].
    pub fn read(msg: &'m Message<'_>) -> Result<AckInfo<'m>, AckReadError> {
        let msa = msg.segment("MSA").ok_or(AckReadError::MissingMsa)?;
        let code: AckCode = msa
            .value_at(1, 1, Some(1), None)
            .as_str()
            .unwrap_or_default()
            .parse()?;
        let control_id = msa
            .value_at(2, 1, None, None)
            .into_option()
            .filter(|v| !v.is_empty());
        let mut errors = Vec::new();
        for seg in msg.segments_named("ERR") {
            let text = |f: usize, r: usize, c: usize, s: Option<usize>| {
                seg.value_at(f, r, Some(c), s).into_option()
            };
            let modern = text(3, 1, 1, None).is_some_and(|v| !v.is_empty())
                || text(2, 1, 1, None).is_some_and(|v| !v.is_empty());
            if modern {
                let loc: Vec<_> = (1..=6).map(|c| text(2, 1, c, None)).collect();
                errors.push(ErrorDetail {
                    code: text(3, 1, 1, None).and_then(|v| v.parse().ok()),
                    severity: text(4, 1, 1, None).and_then(|v| Severity::parse(&v)),
                    location: ErrorLocation::read(&loc),
                });
            } else if let Some(f1) = seg.field(1) {
                for r in 1..=f1.repetition_count() {
                    let loc: Vec<_> = (1..=3).map(|c| text(1, r, c, None)).collect();
                    let code = text(1, r, 4, Some(1)).and_then(|v| v.parse().ok());
                    if code.is_none() && loc.iter().all(Option::is_none) {
                        continue;
                    }
                    errors.push(ErrorDetail {
                        code,
                        severity: None,
                        location: ErrorLocation::read(&loc),
                    });
                }
            }
        }
        Ok(AckInfo {
            code,
            control_id,
            errors,
        })
    }

    /// Whether MSA-2 is the control ID that was sent.
    pub fn acknowledges(&self, sent_control_id: &str) -> bool {
        self.control_id.as_deref() == Some(sent_control_id)
    }
}

#[cfg(all(test, feature = "chrono"))]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    fn at() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .unwrap()
    }

    const ADT25: &str =
        "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102030405||ADT^A01^ADT_A01|MSG-77|P|2.5.1\rPID|1||1";
    const ADT23: &str =
        "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102030405||ADT^A01|MSG-23|T|2.3\rPID|1||1";

    #[test]
    fn aa_swaps_applications_and_echoes_the_control_id() {
        let m = Message::parse(ADT25).unwrap();
        let ack = AckBuilder::new(AckCode::ApplicationAccept, "ACK-1")
            .timestamp(at())
            .build(&m);
        assert_eq!(
            ack.to_er7(),
            "MSH|^~\\&|CRM|HQ|EHR|CLINIC|20240506070809+0100||ACK^A01^ACK|ACK-1|P|2.5.1\rMSA|AA|MSG-77\r"
        );
        let parsed = ack.to_message().unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code, AckCode::ApplicationAccept);
        assert!(info.acknowledges("MSG-77"));
        assert!(info.errors.is_empty());
    }

    #[test]
    fn ae_with_err_in_the_v25_layout() {
        let m = Message::parse(ADT25).unwrap();
        let ack = AckBuilder::new(AckCode::ApplicationError, "ACK-2")
            .error(AckError::new(ErrorCode::RequiredFieldMissing).at(&p("PID-3")))
            .error(
                AckError::new(ErrorCode::TableValueNotFound)
                    .at(&p("PID-8"))
                    .with_severity(Severity::Warning),
            )
            .build(&m);
        let er7 = ack.to_er7();
        assert!(er7.contains("\rERR||PID^1^3^1|101^Required field missing^HL70357|E\r"));
        assert!(er7.contains("\rERR||PID^1^8^1|103^Table value not found^HL70357|W\r"));
        let parsed = ack.to_message().unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code, AckCode::ApplicationError);
        assert_eq!(info.errors.len(), 2);
        assert_eq!(info.errors[0].code, Some(101));
        assert_eq!(info.errors[1].severity, Some(Severity::Warning));
        let loc = info.errors[0].location.unwrap();
        assert_eq!(
            (loc.segment.as_str(), loc.sequence, loc.field),
            ("PID", 1, Some(3))
        );
    }

    #[test]
    fn legacy_versions_use_err1_and_msa3() {
        let m = Message::parse(ADT23).unwrap();
        let ack = AckBuilder::new(AckCode::ApplicationReject, "ACK-3")
            .error(AckError::new(ErrorCode::UnsupportedEventCode).at(&p("MSH-9.2")))
            .error(AckError::new(ErrorCode::ApplicationInternalError))
            .build(&m);
        let er7 = ack.to_er7();
        assert!(er7.contains("||ACK^A01|ACK-3|T|2.3\r"), "{er7}");
        assert!(er7.contains("\rMSA|AR|MSG-23|Unsupported event code\r"));
        assert!(er7.contains(
            "\rERR|MSH^1^9^201&Unsupported event code&HL70357~^^^207&Application internal error&HL70357\r"
        ));
        let parsed = ack.to_message().unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.errors.len(), 2);
        assert_eq!(info.errors[0].code, Some(201));
        assert_eq!(info.errors[0].location.unwrap().field, Some(9));
        assert_eq!(info.errors[1].location, None);
    }

    #[test]
    fn enhanced_mode_codes() {
        let m = Message::parse(ADT25).unwrap();
        let ack = AckBuilder::new(AckCode::CommitAccept, "C1").build(&m);
        assert_eq!(ack.get(&p("MSA-1")).as_deref(), Some("CA"));
    }

    #[test]
    fn unparsable_input_gets_a_best_effort_ar() {
        let bad = b"MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102||ADT^A04|ORIG-9|P|2.6\rpid|broken";
        let e = Message::parse_bytes(bad).unwrap_err();
        assert_eq!(e, ParseError::InvalidSegmentId { segment: 2 });
        let ack = AckBuilder::new(AckCode::ApplicationAccept, "A9").build_unparsable(bad, &e);
        let parsed = ack.to_message().unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code, AckCode::ApplicationReject);
        assert!(info.acknowledges("ORIG-9"));
        assert_eq!(info.errors[0].code, Some(100));
        assert_eq!(parsed.get(&p("MSH-5")).as_deref(), Some("EHR"));

        let garbage = b"\x00\x01 not hl7 at all";
        let e = Message::parse_bytes(garbage).unwrap_err();
        let ack = AckBuilder::new(AckCode::ApplicationAccept, "A10").build_unparsable(garbage, &e);
        let parsed = ack.to_message().unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code, AckCode::ApplicationReject);
        assert_eq!(info.control_id, None);
        assert_eq!(parsed.control_id().as_deref(), Some("A10"));
        assert_eq!(parsed.get(&p("MSH-9")).as_deref(), Some("ACK"));
    }

    #[test]
    fn reader_errors() {
        let m = Message::parse("MSH|^~\\&|A\rPID|1").unwrap();
        assert_eq!(AckInfo::read(&m), Err(AckReadError::MissingMsa));
        let m = Message::parse("MSH|^~\\&|A\rMSA|XX|1").unwrap();
        assert_eq!(AckInfo::read(&m), Err(AckReadError::UnknownAckCode));
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            ErrorCode::from_code(207),
            Some(ErrorCode::ApplicationInternalError)
        );
        assert_eq!(ErrorCode::SegmentSequenceError.code(), 100);
        assert_eq!(ErrorCode::from_code(999), None);
        for (c, n, _) in CODES {
            assert_eq!(ErrorCode::from_code(n), Some(c));
        }
    }
}
