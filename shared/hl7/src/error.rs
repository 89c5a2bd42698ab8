//! Error types of the crate.
//!
//! Every error says *where* (segment index or ID, field number, byte count) and *why*, and none
//! carries a fragment of the message: HL7 values are PHI and errors end up in logs.
//!
//! The module depends only on the vocabulary types its errors name ([`Charset`], [`SegmentId`]);
//! the path errors ([`crate::PathError`], [`crate::PathPart`]) are defined with [`crate::Path`].

use crate::charset::Charset;
use crate::path::SegmentId;

/// Why MSH-1/MSH-2 (or FHS/BHS-1/-2) do not define a usable delimiter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeparatorError {
    /// The header segment ends before MSH-1 and MSH-2.
    #[error("the header segment is too short to hold MSH-1 and MSH-2")]
    TooShort,
    /// MSH-2 does not hold 4 (or, from v2.7, 5) encoding characters.
    #[error("MSH-2 must hold 4 or 5 encoding characters, found {found}")]
    WrongCount {
        /// How many characters MSH-2 holds.
        found: usize,
    },
    /// A delimiter is not ASCII punctuation (letters, digits, spaces, controls and non-ASCII
    /// characters cannot be delimiters).
    #[error("delimiter {position} of MSH-1/MSH-2 is not ASCII punctuation")]
    NotPunctuation {
        /// 1 = field separator, 2..=6 = the characters of MSH-2 in order.
        position: usize,
    },
    /// Two delimiters are the same character.
    #[error("the delimiters of MSH-1/MSH-2 are not all different")]
    Duplicate,
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input holds no segment (it is empty or only blank lines).
    #[error("the input holds no segment")]
    Empty,
    /// The first segment is not MSH (a batch file starts with FHS or BHS: see [`crate::batch`]).
    #[error("segment 1 is not MSH")]
    MissingMsh,
    /// MSH-1/MSH-2 do not define a usable delimiter set.
    #[error("MSH-1/MSH-2: {0}")]
    Separators(#[from] SeparatorError),
    /// A segment does not start with a segment ID (an upper-case letter then two upper-case
    /// letters or digits) followed by the field separator or the end of the segment.
    #[error("segment {segment} does not start with a valid segment ID")]
    InvalidSegmentId {
        /// 1-based index of the segment in the message (blank lines not counted).
        segment: usize,
    },
    /// MSH-18 names a character set this crate does not read.
    #[error("MSH-18 names an unsupported character set")]
    UnsupportedCharset,
    /// The bytes are not valid text in the character set of the message.
    #[error("segment {segment} is not valid {charset} text")]
    InvalidText {
        /// 1-based index of the segment holding the first invalid byte.
        segment: usize,
        /// The character set the bytes were read as.
        charset: Charset,
    },
    /// The message is larger than the parser's limit (4 GiB).
    #[error("the message is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Why a value could not be set on an [`crate::OwnedMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// MSH-1 and MSH-2 (and FHS/BHS-1/-2) hold the delimiters: they are not set by path.
    #[error("{segment}-{field} holds the delimiters and cannot be set")]
    ReadOnlyField {
        /// The segment.
        segment: SegmentId,
        /// The field number.
        field: usize,
    },
    /// A message has exactly one MSH; `MSH[2]` cannot be created.
    #[error("a message has one MSH segment; occurrence {occurrence} cannot be created")]
    SecondHeader {
        /// The occurrence asked for.
        occurrence: usize,
    },
    /// A raw (already encoded) value holds a line break or a delimiter of the level it is set
    /// at or above (e.g. `^` in a value set at component level).
    #[error("the raw value for {segment}-{field} holds a delimiter not allowed at that level")]
    RawDelimiter {
        /// The segment.
        segment: SegmentId,
        /// The field number.
        field: usize,
    },
    /// The segment ID given to [`crate::OwnedMessage::append_segment`] is not valid.
    #[error("not a valid segment ID")]
    SegmentId,
}

/// Why an HL7 DTM/TS value could not be read.
#[cfg(feature = "chrono")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateTimeError {
    /// The value is empty.
    #[error("the date/time is empty")]
    Empty,
    /// The date/time part is not 4, 6, 8, 10, 12 or 14 digits (plus an optional fraction after 14).
    #[error("the date/time must be YYYY[MM[DD[HH[MM[SS[.S+]]]]]] followed by an optional +/-ZZZZ")]
    Format,
    /// A part is out of range (month 13, February 30, hour 24...).
    #[error("the {part} of the date/time is out of range")]
    OutOfRange {
        /// "month", "day", "hour", "minute", "second" or "offset".
        part: &'static str,
    },
}

/// Errors of the streaming MLLP decoder. After either, the decoder has already resynchronised:
/// keep pulling frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MllpError {
    /// A frame grew past the decoder's limit; it was dropped, and bytes up to the next start
    /// byte (0x0B) are skipped.
    #[error("an MLLP frame exceeded the limit of {limit} bytes and was dropped")]
    FrameTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A start byte arrived before the end of the current frame: the unterminated frame was
    /// dropped and a new one started.
    #[error("an MLLP frame of {discarded} bytes was not terminated before the next start byte")]
    UnterminatedFrame {
        /// How many payload bytes were dropped.
        discarded: usize,
    },
}

/// Why an ACK could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckReadError {
    /// The message has no MSA segment.
    #[error("the message has no MSA segment")]
    MissingMsa,
    /// MSA-1 is not AA, AE, AR, CA, CE or CR.
    #[error("MSA-1 is not an acknowledgment code (AA, AE, AR, CA, CE, CR)")]
    UnknownAckCode,
}

/// Why a batch file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The input holds no segment.
    #[error("the batch holds no segment")]
    Empty,
    /// The file does not start with FHS, BHS or MSH.
    #[error("segment 1 is not FHS, BHS or MSH")]
    MissingHeader,
    /// The delimiters of the first header could not be read.
    #[error("header delimiters: {0}")]
    Separators(#[from] SeparatorError),
    /// A segment is out of place (e.g. a PID before any MSH, or a segment after FTS).
    #[error("segment {segment} is out of place in the batch")]
    UnexpectedSegment {
        /// 1-based index of the segment in the file (blank lines not counted).
        segment: usize,
    },
    /// A segment does not start with a valid segment ID.
    #[error("segment {segment} does not start with a valid segment ID")]
    InvalidSegmentId {
        /// 1-based index of the segment in the file.
        segment: usize,
    },
    /// BTS-1 or FTS-1 disagrees with what the file holds.
    #[error("{trailer}-1 declares {declared} but the batch holds {found}")]
    CountMismatch {
        /// "BTS" or "FTS".
        trailer: &'static str,
        /// The count declared in the trailer.
        declared: usize,
        /// The count found.
        found: usize,
    },
}
