//! The delimiter set of a message, read from MSH-1 and MSH-2.

use crate::error::SeparatorError;

/// The delimiters of a message: MSH-1 (field separator) and MSH-2 (component, repetition,
/// escape, subcomponent and, from v2.7, truncation characters).
///
/// All delimiters are ASCII punctuation and all differ, so scanning bytes for them never cuts
/// a multi-byte UTF-8 character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Separators {
    pub(crate) field: u8,
    pub(crate) component: u8,
    pub(crate) repetition: u8,
    pub(crate) escape: u8,
    pub(crate) subcomponent: u8,
    pub(crate) truncation: Option<u8>,
}

impl Default for Separators {
    fn default() -> Self {
        Self::STANDARD
    }
}

impl Separators {
    /// The usual set, `|^~\&` (no truncation character).
    pub const STANDARD: Separators = Separators {
        field: b'|',
        component: b'^',
        repetition: b'~',
        escape: b'\\',
        subcomponent: b'&',
        truncation: None,
    };

    /// A set of one's own. Every delimiter must be ASCII punctuation and all must differ.
    ///
    /// # Errors
    /// [`SeparatorError::NotPunctuation`] or [`SeparatorError::Duplicate`].
    pub fn new(
        field: char,
        component: char,
        repetition: char,
        escape: char,
        subcomponent: char,
        truncation: Option<char>,
    ) -> Result<Self, SeparatorError> {
        let all = [
            Some(field),
            Some(component),
            Some(repetition),
            Some(escape),
            Some(subcomponent),
            truncation,
        ];
        let mut bytes = [0u8; 6];
        let mut n = 0;
        for (i, c) in all.iter().enumerate() {
            let Some(c) = c else { continue };
            if !c.is_ascii_punctuation() {
                return Err(SeparatorError::NotPunctuation { position: i + 1 });
            }
            if let Some(slot) = bytes.get_mut(n) {
                *slot = *c as u8;
            }
            n += 1;
        }
        Self::from_bytes(bytes.get(..n).unwrap_or_default())
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, SeparatorError> {
        for (i, b) in bytes.iter().enumerate() {
            if !b.is_ascii_punctuation() {
                return Err(SeparatorError::NotPunctuation { position: i + 1 });
            }
            if bytes.iter().skip(i + 1).any(|other| other == b) {
                return Err(SeparatorError::Duplicate);
            }
        }
        match *bytes {
            [field, component, repetition, escape, subcomponent] => Ok(Self {
                field,
                component,
                repetition,
                escape,
                subcomponent,
                truncation: None,
            }),
            [
                field,
                component,
                repetition,
                escape,
                subcomponent,
                truncation,
            ] => Ok(Self {
                field,
                component,
                repetition,
                escape,
                subcomponent,
                truncation: Some(truncation),
            }),
            _ => Err(SeparatorError::WrongCount {
                found: bytes.len().saturating_sub(1),
            }),
        }
    }

    /// Reads the delimiters from a header segment (`MSH`, `FHS` or `BHS`), given as the bytes of
    /// that one segment (or of the whole message: reading stops at the end of the first line).
    ///
    /// # Errors
    /// [`SeparatorError`] when MSH-1/MSH-2 are missing or unusable.
    pub fn from_header(segment: &[u8]) -> Result<Self, SeparatorError> {
        let field = *segment.get(3).ok_or(SeparatorError::TooShort)?;
        if !field.is_ascii_punctuation() {
            return Err(SeparatorError::NotPunctuation { position: 1 });
        }
        let rest = segment.get(4..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == field || b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        let encoding = rest.get(..end).unwrap_or_default();
        if !(4..=5).contains(&encoding.len()) {
            return Err(SeparatorError::WrongCount {
                found: encoding.len(),
            });
        }
        let mut bytes = [0u8; 6];
        let n = encoding.len() + 1;
        if let Some((first, rest)) = bytes.split_first_mut()
            && let Some(rest) = rest.get_mut(..encoding.len())
        {
            *first = field;
            rest.copy_from_slice(encoding);
        }
        Self::from_bytes(bytes.get(..n).unwrap_or_default())
    }

    /// The field separator (MSH-1).
    pub fn field(&self) -> char {
        char::from(self.field)
    }
    /// The component separator.
    pub fn component(&self) -> char {
        char::from(self.component)
    }
    /// The repetition separator.
    pub fn repetition(&self) -> char {
        char::from(self.repetition)
    }
    /// The escape character.
    pub fn escape(&self) -> char {
        char::from(self.escape)
    }
    /// The subcomponent separator.
    pub fn subcomponent(&self) -> char {
        char::from(self.subcomponent)
    }
    /// The truncation character (v2.7+), if MSH-2 declares one.
    pub fn truncation(&self) -> Option<char> {
        self.truncation.map(char::from)
    }

    /// MSH-2 as written: component, repetition, escape, subcomponent (and truncation).
    pub fn encoding_characters(&self) -> String {
        let mut s = String::with_capacity(5);
        s.push(self.component());
        s.push(self.repetition());
        s.push(self.escape());
        s.push(self.subcomponent());
        if let Some(t) = self.truncation() {
            s.push(t);
        }
        s
    }

    /// A set whose delimiters never occur inside a segment: used to view MSH-1 and MSH-2 as
    /// single, undecoded values.
    pub(crate) const ATOMIC: Separators = Separators {
        field: b'\r',
        component: b'\r',
        repetition: b'\r',
        escape: b'\r',
        subcomponent: b'\r',
        truncation: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_standard_and_custom_sets() {
        assert_eq!(
            Separators::from_header(b"MSH|^~\\&|A").unwrap(),
            Separators::STANDARD
        );
        let s = Separators::from_header(b"MSH#$*@!#A").unwrap();
        assert_eq!(
            (s.field(), s.component(), s.repetition(), s.escape()),
            ('#', '$', '*', '@')
        );
        assert_eq!(s.subcomponent(), '!');
        let t = Separators::from_header(b"MSH|^~\\&#|A").unwrap();
        assert_eq!(t.truncation(), Some('#'));
        assert_eq!(t.encoding_characters(), "^~\\&#");
        // MSH-2 running to the end of the segment
        assert!(Separators::from_header(b"MSH|^~\\&\rPID").is_ok());
    }

    #[test]
    fn rejects_bad_sets() {
        for (header, error) in [
            (&b"MSH"[..], SeparatorError::TooShort),
            (b"MSH|^~|", SeparatorError::WrongCount { found: 2 }),
            (b"MSH|^~^&|", SeparatorError::Duplicate),
            (
                b"MSHA^~\\&|",
                SeparatorError::NotPunctuation { position: 1 },
            ),
        ] {
            assert_eq!(Separators::from_header(header), Err(error));
        }
        assert!(Separators::new('|', '^', '~', '\\', 'x', None).is_err());
    }
}
