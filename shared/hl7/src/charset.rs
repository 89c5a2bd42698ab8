//! MSH-18 character sets (see [`Charset`]).

use std::borrow::Cow;
use std::fmt;

use crate::text::{Lines, is_blank};

/// A character set named in MSH-18: how [`crate::Message::parse_bytes`] reads bytes into UTF-8
/// text, and how [`crate::OwnedMessage::to_bytes`] writes text back.
///
/// | MSH-18 | read as |
/// |---|---|
/// | empty (not valued) or `ASCII` | UTF-8 when the bytes are valid UTF-8 (ASCII is a subset), otherwise ISO 8859-1 (lenient: many senders declare nothing, or ASCII, and send Latin-1) |
/// | `8859/1` | ISO 8859-1 (Latin-1) |
/// | `8859/15` | ISO 8859-15 (Latin-9) |
/// | `UNICODE UTF-8` (also `UTF-8`) | UTF-8, strictly: invalid bytes are an error |
///
/// Any other value is [`crate::ParseError::UnsupportedCharset`] (MSH-18 is read before the
/// bytes are decoded). Only the first repetition of
/// MSH-18 (the default character set) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// `ASCII` (also what an empty MSH-18 means).
    Ascii,
    /// `8859/1`, ISO 8859-1 (Latin-1).
    Latin1,
    /// `8859/15`, ISO 8859-15 (Latin-9).
    Latin9,
    /// `UNICODE UTF-8`.
    Utf8,
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.msh18())
    }
}

/// The eight code points where ISO 8859-15 differs from ISO 8859-1.
const LATIN9: [(u8, char); 8] = [
    (0xA4, '€'),
    (0xA6, 'Š'),
    (0xA8, 'š'),
    (0xB4, 'Ž'),
    (0xB8, 'ž'),
    (0xBC, 'Œ'),
    (0xBD, 'œ'),
    (0xBE, 'Ÿ'),
];

impl Charset {
    /// Reads an MSH-18 value; `None` when not supported. Empty means ASCII.
    pub(crate) fn from_msh18(value: &str) -> Option<Charset> {
        match value {
            "" | "ASCII" => Some(Charset::Ascii),
            "8859/1" => Some(Charset::Latin1),
            "8859/15" => Some(Charset::Latin9),
            "UNICODE UTF-8" | "UTF-8" => Some(Charset::Utf8),
            _ => None,
        }
    }

    /// The MSH-18 spelling.
    pub(crate) fn msh18(self) -> &'static str {
        match self {
            Charset::Ascii => "ASCII",
            Charset::Latin1 => "8859/1",
            Charset::Latin9 => "8859/15",
            Charset::Utf8 => "UNICODE UTF-8",
        }
    }

    /// Reads bytes in this character set as text. Borrows when the bytes are already valid
    /// UTF-8 text with the same meaning (always for pure ASCII input).
    ///
    /// # Errors
    /// [`InvalidText`] when the bytes are not valid UTF-8 under [`Charset::Utf8`] (the caller
    /// reports it as [`crate::ParseError::InvalidText`]).
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<Cow<'_, str>, InvalidText> {
        match self {
            Charset::Ascii => Ok(match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            }),
            Charset::Utf8 => {
                std::str::from_utf8(bytes)
                    .map(Cow::Borrowed)
                    .map_err(|e| InvalidText {
                        segment: segment_of(bytes, e.valid_up_to()),
                    })
            }
            Charset::Latin1 | Charset::Latin9 => {
                if bytes.is_ascii() {
                    // ASCII bytes are valid UTF-8 with the same meaning.
                    return Ok(Cow::Borrowed(
                        std::str::from_utf8(bytes).unwrap_or_default(),
                    ));
                }
                Ok(Cow::Owned(
                    bytes.iter().map(|&b| self.latin_char(b)).collect(),
                ))
            }
        }
    }

    fn latin_char(self, b: u8) -> char {
        if self == Charset::Latin9
            && let Some((_, c)) = LATIN9.iter().find(|(code, _)| *code == b)
        {
            return *c;
        }
        char::from(b)
    }

    /// Writes text in this character set. Characters it cannot represent become `?`
    /// (ASCII and UTF-8 output are UTF-8 bytes: an ASCII-declared message with non-ASCII
    /// text is sent as UTF-8, which is what receivers that accept it expect).
    pub(crate) fn encode(self, text: &str) -> Cow<'_, [u8]> {
        match self {
            Charset::Ascii | Charset::Utf8 => Cow::Borrowed(text.as_bytes()),
            Charset::Latin1 | Charset::Latin9 => {
                if text.is_ascii() {
                    return Cow::Borrowed(text.as_bytes());
                }
                Cow::Owned(text.chars().map(|c| self.latin_byte(c)).collect())
            }
        }
    }

    fn latin_byte(self, c: char) -> u8 {
        if self == Charset::Latin9 {
            if let Some((b, _)) = LATIN9.iter().find(|(_, ch)| *ch == c) {
                return *b;
            }
            if LATIN9.iter().any(|(b, _)| u32::from(*b) == u32::from(c)) {
                return b'?';
            }
        }
        u8::try_from(u32::from(c)).unwrap_or(b'?')
    }
}

/// Bytes that are not valid text in the character set they were read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidText {
    /// 1-based index of the segment holding the first invalid byte.
    pub(crate) segment: usize,
}

/// 1-based index of the segment holding byte `offset` (blank lines not counted).
fn segment_of(bytes: &[u8], offset: usize) -> usize {
    let mut n = 0;
    for (start, end) in Lines::new(bytes) {
        if !is_blank(bytes.get(start..end).unwrap_or_default()) {
            n += 1;
        }
        if end >= offset {
            break;
        }
    }
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for c in [
            Charset::Ascii,
            Charset::Latin1,
            Charset::Latin9,
            Charset::Utf8,
        ] {
            assert_eq!(Charset::from_msh18(c.msh18()), Some(c));
        }
        assert_eq!(Charset::from_msh18("ISO IR87"), None);
    }

    #[test]
    fn decodes_and_encodes_latin() {
        let bytes = [b'M', 0xFC, b'l', b'l', b'e', b'r', 0xA4];
        assert_eq!(Charset::Latin1.decode(&bytes).unwrap(), "Müller¤");
        assert_eq!(Charset::Latin9.decode(&bytes).unwrap(), "Müller€");
        assert_eq!(&*Charset::Latin9.encode("Müller€"), &bytes[..]);
        assert_eq!(&*Charset::Latin1.encode("€"), b"?");
        assert!(matches!(
            Charset::Latin1.decode(b"plain").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn utf8_is_strict_and_locates_the_segment() {
        let bytes = b"MSH|^~\\&\r\nPID|1|\xff";
        assert_eq!(Charset::Utf8.decode(bytes), Err(InvalidText { segment: 2 }));
        // undeclared: lenient
        assert_eq!(Charset::Ascii.decode(b"\xe9").unwrap(), "é");
    }
}
