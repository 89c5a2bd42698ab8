//! Field paths (see [`Path`]).

use std::fmt;
use std::str::FromStr;

use crate::text::is_segment_id;

/// The largest number a path accepts at any level.
pub(crate) const MAX_INDEX: usize = 99_999;

/// A segment ID: an upper-case letter then two upper-case letters or digits (`PID`, `OBX`, `ZPI`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId([u8; 3]);

impl SegmentId {
    /// `None` unless `id` is a valid segment ID.
    pub fn new(id: &str) -> Option<SegmentId> {
        let b = id.as_bytes();
        if is_segment_id(b) {
            let mut a = [0u8; 3];
            a.copy_from_slice(b);
            Some(SegmentId(a))
        } else {
            None
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Whether this is a header segment whose fields 1 and 2 are the delimiters (MSH, FHS, BHS).
    pub fn is_header(&self) -> bool {
        matches!(&self.0, b"MSH" | b"FHS" | b"BHS")
    }
}

impl fmt::Debug for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentId({})", self.as_str())
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SegmentId {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, PathError> {
        SegmentId::new(s).ok_or(PathError::SegmentId)
    }
}

/// A parsed field path: `SEG[occurrence]-field[repetition].component.subcomponent`.
///
/// All numbers are 1-based (at most 99,999); `[occurrence]` and `[repetition]` are optional and default to 1;
/// component and subcomponent are optional (a subcomponent needs a component).
///
/// | path | addresses |
/// |---|---|
/// | `PID-5.1` | first PID, field 5, first repetition, component 1 |
/// | `PID-3[2].1` | second repetition of PID-3, component 1 |
/// | `OBX[3]-5` | field 5 (first repetition) of the third OBX |
/// | `PID-11.1.2` | PID-11, component 1, subcomponent 2 |
///
/// [`Path`]'s `Display` writes the canonical form, which leaves out `[1]`; parsing that form gives
/// the same `Path` back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Path {
    segment: SegmentId,
    occurrence: usize,
    field: usize,
    repetition: usize,
    component: Option<usize>,
    subcomponent: Option<usize>,
}

fn check(n: usize, part: PathPart) -> Result<usize, PathError> {
    if (1..=MAX_INDEX).contains(&n) {
        Ok(n)
    } else {
        Err(PathError::BadNumber { part })
    }
}

impl Path {
    /// `segment-field` (first occurrence, first repetition, the whole repetition).
    ///
    /// # Errors
    /// [`PathError::SegmentId`] or [`PathError::BadNumber`].
    pub fn new(segment: &str, field: usize) -> Result<Path, PathError> {
        Ok(Path {
            segment: SegmentId::new(segment).ok_or(PathError::SegmentId)?,
            occurrence: 1,
            field: check(field, PathPart::Field)?,
            repetition: 1,
            component: None,
            subcomponent: None,
        })
    }

    /// The same path for another occurrence of the segment.
    ///
    /// # Errors
    /// [`PathError::BadNumber`] unless `1 <= n <= MAX_INDEX`.
    pub fn with_occurrence(mut self, n: usize) -> Result<Path, PathError> {
        self.occurrence = check(n, PathPart::Occurrence)?;
        Ok(self)
    }

    /// The same path for another field of the segment.
    ///
    /// # Errors
    /// [`PathError::BadNumber`] unless `1 <= n <= MAX_INDEX`.
    pub fn with_field(mut self, n: usize) -> Result<Path, PathError> {
        self.field = check(n, PathPart::Field)?;
        Ok(self)
    }

    /// The same path for another repetition of the field.
    ///
    /// # Errors
    /// [`PathError::BadNumber`] unless `1 <= n <= MAX_INDEX`.
    pub fn with_repetition(mut self, n: usize) -> Result<Path, PathError> {
        self.repetition = check(n, PathPart::Repetition)?;
        Ok(self)
    }

    /// The path down to component `n`.
    ///
    /// # Errors
    /// [`PathError::BadNumber`] unless `1 <= n <= MAX_INDEX`.
    pub fn with_component(mut self, n: usize) -> Result<Path, PathError> {
        self.component = Some(check(n, PathPart::Component)?);
        Ok(self)
    }

    /// The path down to subcomponent `n` (of component 1 when no component was given).
    ///
    /// # Errors
    /// [`PathError::BadNumber`] unless `1 <= n <= MAX_INDEX`.
    pub fn with_subcomponent(mut self, n: usize) -> Result<Path, PathError> {
        self.subcomponent = Some(check(n, PathPart::Subcomponent)?);
        self.component.get_or_insert(1);
        Ok(self)
    }

    /// The segment ID.
    pub fn segment(&self) -> SegmentId {
        self.segment
    }
    /// The segment occurrence (1 = first).
    pub fn occurrence(&self) -> usize {
        self.occurrence
    }
    /// The field number.
    pub fn field(&self) -> usize {
        self.field
    }
    /// The repetition (1 = first).
    pub fn repetition(&self) -> usize {
        self.repetition
    }
    /// The component, if the path goes that deep.
    pub fn component(&self) -> Option<usize> {
        self.component
    }
    /// The subcomponent, if the path goes that deep.
    pub fn subcomponent(&self) -> Option<usize> {
        self.subcomponent
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.segment.as_str())?;
        if self.occurrence != 1 {
            write!(f, "[{}]", self.occurrence)?;
        }
        write!(f, "-{}", self.field)?;
        if self.repetition != 1 {
            write!(f, "[{}]", self.repetition)?;
        }
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
            if let Some(s) = self.subcomponent {
                write!(f, ".{s}")?;
            }
        }
        Ok(())
    }
}

/// A small cursor over the path text.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn number(&mut self, part: PathPart) -> Result<usize, PathError> {
        let start = self.pos;
        let mut n: usize = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
            self.pos += 1;
        }
        if self.pos == start {
            return Err(PathError::BadNumber { part });
        }
        check(n, part)
    }

    fn bracket(&mut self, part: PathPart) -> Result<Option<usize>, PathError> {
        let open = self.pos;
        if !self.eat(b'[') {
            return Ok(None);
        }
        let n = self.number(part)?;
        if !self.eat(b']') {
            return Err(PathError::UnclosedBracket { position: open });
        }
        Ok(Some(n))
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Path, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        let segment = s
            .get(..3)
            .and_then(SegmentId::new)
            .ok_or(PathError::SegmentId)?;
        let mut c = Cursor {
            b: s.as_bytes(),
            pos: 3,
        };
        let occurrence = c.bracket(PathPart::Occurrence)?.unwrap_or(1);
        if !c.eat(b'-') {
            return Err(PathError::MissingField { position: c.pos });
        }
        let field = c.number(PathPart::Field)?;
        let repetition = c.bracket(PathPart::Repetition)?.unwrap_or(1);
        let mut component = None;
        let mut subcomponent = None;
        if c.eat(b'.') {
            component = Some(c.number(PathPart::Component)?);
            if c.eat(b'.') {
                subcomponent = Some(c.number(PathPart::Subcomponent)?);
            }
        }
        if c.pos != s.len() {
            return Err(PathError::Unexpected { position: c.pos });
        }
        Ok(Path {
            segment,
            occurrence,
            field,
            repetition,
            component,
            subcomponent,
        })
    }
}

impl TryFrom<&str> for Path {
    type Error = PathError;
    fn try_from(s: &str) -> Result<Path, PathError> {
        s.parse()
    }
}

/// Which part of a [`crate::Path`] an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPart {
    /// The segment occurrence, `[n]` after the segment ID.
    Occurrence,
    /// The field number after `-`.
    Field,
    /// The repetition, `[n]` after the field number.
    Repetition,
    /// The component, after the first `.`.
    Component,
    /// The subcomponent, after the second `.`.
    Subcomponent,
}

impl std::fmt::Display for PathPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathPart::Occurrence => "segment occurrence",
            PathPart::Field => "field number",
            PathPart::Repetition => "repetition",
            PathPart::Component => "component",
            PathPart::Subcomponent => "subcomponent",
        })
    }
}

/// Why a field path such as `PID-5.1` could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("the path is empty")]
    Empty,
    /// The path does not start with a segment ID (an upper-case letter then two upper-case
    /// letters or digits).
    #[error("the path must start with a segment ID such as PID or ZPI")]
    SegmentId,
    /// No `-field` after the segment (and its optional `[occurrence]`).
    #[error("expected '-' and a field number at position {position}")]
    MissingField {
        /// 0-based character position.
        position: usize,
    },
    /// A number is missing, zero, too large or not a number.
    #[error("the {part} must be a number from 1 to {max}", max = MAX_INDEX)]
    BadNumber {
        /// Which number.
        part: PathPart,
    },
    /// A `[` without its `]`.
    #[error("'[' at position {position} is not closed")]
    UnclosedBracket {
        /// 0-based character position of the `[`.
        position: usize,
    },
    /// Something follows where the path should end (or a third `.` level).
    #[error("unexpected character at position {position}")]
    Unexpected {
        /// 0-based character position.
        position: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_documented_forms() {
        let a = p("PID-5.1");
        assert_eq!(
            (
                a.segment().as_str(),
                a.occurrence(),
                a.field(),
                a.repetition()
            ),
            ("PID", 1, 5, 1)
        );
        assert_eq!((a.component(), a.subcomponent()), (Some(1), None));
        let b = p("PID-3[2].1");
        assert_eq!((b.repetition(), b.component()), (2, Some(1)));
        let c = p("OBX[3]-5");
        assert_eq!((c.occurrence(), c.field(), c.component()), (3, 5, None));
        let d = p("PID-11.1.2");
        assert_eq!((d.component(), d.subcomponent()), (Some(1), Some(2)));
        assert_eq!(p("ZP1[1]-2[1].3").to_string(), "ZP1-2.3");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "PID-5.1",
            "PID-3[2].1",
            "OBX[3]-5",
            "PID-11.1.2",
            "MSH-1",
            "ZZ9[12]-100[3].4.5",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn typed_errors() {
        let bad_field = PathError::BadNumber {
            part: PathPart::Field,
        };
        let bad_component = PathError::BadNumber {
            part: PathPart::Component,
        };
        for (text, error) in [
            ("", PathError::Empty),
            ("pid-5", PathError::SegmentId),
            ("1ID-5", PathError::SegmentId),
            ("PID5", PathError::MissingField { position: 3 }),
            ("PID-0", bad_field),
            ("PID-5.", bad_component),
            ("PID[2-5", PathError::UnclosedBracket { position: 3 }),
            ("PID-5.1.2.3", PathError::Unexpected { position: 9 }),
            ("PID-999999999999999999999999", bad_field),
            ("PID-5 ", PathError::Unexpected { position: 5 }),
            ("PÏD-5", PathError::SegmentId),
        ] {
            assert_eq!(text.parse::<Path>(), Err(error), "{text:?}");
        }
    }

    #[test]
    fn builder_methods() {
        let a = Path::new("OBX", 5)
            .and_then(|p| p.with_occurrence(2))
            .and_then(|p| p.with_subcomponent(3))
            .unwrap();
        assert_eq!(a.to_string(), "OBX[2]-5.1.3");
        assert!(Path::new("OBX", 0).is_err());
    }
}
