//! Borrowed views of a parsed message (see [`Message`]).

use std::borrow::Cow;
use std::fmt;

use crate::charset::Charset;
use crate::error::ParseError;
use crate::escape;
use crate::parse::{self, Span};
use crate::path::{Path, PathError, SegmentId};
use crate::separators::Separators;
use crate::text::{contains_any, nth_piece, piece_count, slice};

/// The value at a path.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'m> {
    /// The position is not in the message (no such segment, or past the last field, repetition,
    /// component or subcomponent).
    Absent,
    /// The position is present and empty.
    Empty,
    /// The HL7 null `""`: the receiver must delete the value it holds.
    Null,
    /// A value: decoded for a leaf, the element's ER7 text for an element that has parts.
    Text(Cow<'m, str>),
}

impl<'m> Value<'m> {
    fn of(raw: &'m str, seps: &Separators, leaf: bool) -> Value<'m> {
        if raw.is_empty() {
            Value::Empty
        } else if raw == "\"\"" {
            Value::Null
        } else if leaf {
            Value::Text(escape::decode(raw, seps))
        } else {
            Value::Text(Cow::Borrowed(raw))
        }
    }

    /// The text: `None` when absent, `""` when empty, `"\"\""` for the HL7 null.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Absent => None,
            Value::Empty => Some(""),
            Value::Null => Some("\"\""),
            Value::Text(t) => Some(t),
        }
    }

    /// Like [`Value::as_str`], by value.
    pub fn into_option(self) -> Option<Cow<'m, str>> {
        match self {
            Value::Absent => None,
            Value::Empty => Some(Cow::Borrowed("")),
            Value::Null => Some(Cow::Borrowed("\"\"")),
            Value::Text(t) => Some(t),
        }
    }

    /// Whether the position is not in the message.
    pub fn is_absent(&self) -> bool {
        matches!(self, Value::Absent)
    }

    /// Whether the value is the HL7 null `""`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether there is a value (text or null): neither absent nor empty.
    pub fn is_populated(&self) -> bool {
        matches!(self, Value::Null | Value::Text(_))
    }

    /// An owned copy.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Absent => Value::Absent,
            Value::Empty => Value::Empty,
            Value::Null => Value::Null,
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Absent => f.write_str("Absent"),
            Value::Empty => f.write_str("Empty"),
            Value::Null => f.write_str("Null"),
            Value::Text(t) => write!(f, "Text(<redacted: {} bytes>)", t.len()),
        }
    }
}

/// One populated leaf of a message: its canonical path and its value (text or null).
#[derive(Clone, PartialEq, Eq)]
pub struct Leaf<'m> {
    /// Where (canonical form: `[1]` left out).
    pub path: Path,
    /// The decoded value ([`Value::Text`] or [`Value::Null`]).
    pub value: Value<'m>,
}

impl fmt::Debug for Leaf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Leaf({} = {:?})", self.path, self.value)
    }
}

/// Splits a string on one delimiter, lazily.
#[derive(Clone)]
struct Pieces<'m> {
    rest: Option<&'m str>,
    sep: u8,
}

impl<'m> Pieces<'m> {
    fn new(s: &'m str, sep: u8) -> Self {
        Self { rest: Some(s), sep }
    }
}

impl<'m> Iterator for Pieces<'m> {
    type Item = &'m str;
    fn next(&mut self) -> Option<&'m str> {
        let s = self.rest?;
        match memchr::memchr(self.sep, s.as_bytes()) {
            Some(p) => {
                self.rest = s.get(p + 1..);
                Some(slice(s, 0, p))
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// A parsed message. Borrows its text when it can ([`Message::parse`], and
/// [`Message::parse_bytes`] on UTF-8 or ASCII input); holds decoded text otherwise.
///
/// Its parts are borrowed views: [`Segment`], [`Field`], [`Repetition`], [`Component`],
/// [`Subcomponent`], and the [`Value`] read at a [`Path`]. Views are `Copy` handles onto the message text; they find their parts by scanning when asked.
/// Their `Debug` output never shows content (values are PHI): only IDs, indexes and lengths.
///
/// **Counting.** MSH-1 is the field separator and MSH-2 the encoding characters, as HL7 counts
/// them (also for FHS and BHS); both are single values, never split or decoded.
///
/// **Values.** A [`Value`] tells absent (the position is not in the message), empty (present,
/// nothing in it) and the HL7 null `""` apart. A leaf is decoded (escape sequences resolved). A
/// path that stops above the leaf level on an element that has parts (e.g. `PID-5` on
/// `Doe^Jane`) gives that element's ER7 text unchanged, delimiters and escape sequences kept
/// (as python-hl7's `str(field)` and `er7` do); address a leaf for a decoded value.
#[derive(Clone)]
pub struct Message<'a> {
    text: Cow<'a, str>,
    seps: Separators,
    spans: Vec<Span>,
    charset: Option<Charset>,
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("segments", &self.spans.len())
            .field("bytes", &self.text.len())
            .field("charset", &self.charset)
            .finish_non_exhaustive()
    }
}

impl<'a> Message<'a> {
    /// Parses an ER7 message from text. Segments end with `\r`, `\n` or `\r\n`; blank lines are
    /// skipped; a leading byte order mark is ignored. MSH-18 is not consulted (the text is
    /// already Unicode).
    ///
    /// # Errors
    /// [`ParseError`] when the message has no MSH first, unusable delimiters, or a line that does
    /// not start with a segment ID.
    pub fn parse(text: &'a str) -> Result<Message<'a>, ParseError> {
        let text = parse::strip_bom(text);
        let (seps, spans) = parse::index(text)?;
        Ok(Message {
            text: Cow::Borrowed(text),
            seps,
            spans,
            charset: None,
        })
    }

    /// Parses an ER7 message from bytes, reading them in the character set of MSH-18 (see
    /// [`Charset`]). Borrows the bytes when they are valid UTF-8 with the same meaning.
    ///
    /// # Errors
    /// As [`Message::parse`], plus [`ParseError::UnsupportedCharset`] and
    /// [`ParseError::InvalidText`].
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let declared = parse::sniff_charset(bytes)?;
        let charset = declared.unwrap_or(Charset::Ascii);
        let text = charset.decode(bytes).map_err(|e| ParseError::InvalidText {
            segment: e.segment,
            charset,
        })?;
        let (seps, spans) = parse::index(&text)?;
        Ok(Message {
            text,
            seps,
            spans,
            charset: declared,
        })
    }

    /// The message with its text owned, free of the input's lifetime.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            text: Cow::Owned(self.text.into_owned()),
            seps: self.seps,
            spans: self.spans,
            charset: self.charset,
        }
    }
}

impl Message<'_> {
    /// The message text (after character-set decoding).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The delimiters (MSH-1, MSH-2).
    pub fn separators(&self) -> Separators {
        self.seps
    }

    /// The character set MSH-18 declares (read by [`Message::parse_bytes`]); `None` when MSH-18
    /// is empty or the message was parsed from text.
    pub fn charset(&self) -> Option<Charset> {
        self.charset
    }

    /// How many segments.
    pub fn segment_count(&self) -> usize {
        self.spans.len()
    }

    /// The segment at a 0-based index.
    pub fn segment_at(&self, index: usize) -> Option<Segment<'_>> {
        let span = self.spans.get(index)?;
        Some(Segment {
            text: slice(&self.text, span.start as usize, span.end as usize),
            seps: self.seps,
            index,
        })
    }

    /// The MSH segment (always the first).
    pub fn msh(&self) -> Segment<'_> {
        self.segment_at(0).unwrap_or(Segment {
            text: "MSH",
            seps: self.seps,
            index: 0,
        })
    }

    /// All segments in message order.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> {
        (0..self.spans.len()).filter_map(|i| self.segment_at(i))
    }

    /// The segments with a given ID, in message order.
    pub fn segments_named<'m>(&'m self, id: &str) -> impl Iterator<Item = Segment<'m>> + use<'m> {
        let text = self.text.as_bytes();
        let key: Option<[u8; 3]> = id.as_bytes().try_into().ok();
        self.spans.iter().enumerate().filter_map(move |(i, s)| {
            let start = s.start as usize;
            match (key, text.get(start..start + 3)) {
                (Some(k), Some(got)) if got == k => self.segment_at(i),
                _ => None,
            }
        })
    }

    /// The first segment with a given ID.
    pub fn segment(&self, id: &str) -> Option<Segment<'_>> {
        self.segments_named(id).next()
    }

    /// The `occurrence`th (1-based) segment with a given ID.
    pub fn segment_occurrence(&self, id: &str, occurrence: usize) -> Option<Segment<'_>> {
        self.segments_named(id).nth(occurrence.checked_sub(1)?)
    }

    /// The value at a path.
    pub fn value(&self, path: &Path) -> Value<'_> {
        match self.segment_occurrence(path.segment().as_str(), path.occurrence()) {
            Some(seg) => seg.value_at(
                path.field(),
                path.repetition(),
                path.component(),
                path.subcomponent(),
            ),
            None => Value::Absent,
        }
    }

    /// The value at a path: `None` when absent, `Some("")` when empty, `Some("\"\"")` for the
    /// HL7 null (see [`Message::value`] to tell them apart by type).
    pub fn get(&self, path: &Path) -> Option<Cow<'_, str>> {
        self.value(path).into_option()
    }

    /// Whether the value at a path is the HL7 null `""`.
    pub fn is_null(&self, path: &Path) -> bool {
        self.value(path).is_null()
    }

    /// Every populated leaf (text or null), in message order, with its canonical path (what a
    /// field-mapping screen lists). A leaf is addressed only as deep as needed: `PID-8`
    /// for a plain field, `PID-5.1` for a component, `PID-11.1.2` for a subcomponent; the
    /// value at each listed path is exactly the listed value. Positions past
    /// 99,999 are left out.
    pub fn leaves(&self) -> Vec<Leaf<'_>> {
        let mut out = Vec::new();
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for seg in self.segments() {
            let id = seg.id();
            let occurrence = match seen.iter_mut().find(|(s, _)| *s == id) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    seen.push((id, 1));
                    1
                }
            };
            let Some(sid) = SegmentId::new(id) else {
                continue;
            };
            seg.push_leaves(sid, occurrence, &mut out);
        }
        out
    }

    fn msh_value(&self, field: usize, component: Option<usize>) -> Option<Cow<'_, str>> {
        self.msh().value_at(field, 1, component, None).into_option()
    }

    /// MSH-9.1, the message code (`ADT`).
    pub fn message_code(&self) -> Option<Cow<'_, str>> {
        self.msh_value(9, Some(1))
    }

    /// MSH-9.2, the trigger event (`A01`).
    pub fn trigger_event(&self) -> Option<Cow<'_, str>> {
        self.msh_value(9, Some(2))
    }

    /// MSH-10, the message control ID.
    pub fn control_id(&self) -> Option<Cow<'_, str>> {
        self.msh_value(10, None)
    }

    /// MSH-11.1, the processing ID (`P`, `T`, `D`).
    pub fn processing_id(&self) -> Option<Cow<'_, str>> {
        self.msh_value(11, Some(1))
    }

    /// MSH-12.1, the version ID (`2.5.1`).
    pub fn version(&self) -> Option<Cow<'_, str>> {
        self.msh_value(12, Some(1))
    }
}

/// One segment of a message.
#[derive(Clone, Copy)]
pub struct Segment<'m> {
    text: &'m str,
    seps: Separators,
    index: usize,
}

impl fmt::Debug for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("id", &self.id())
            .field("index", &self.index)
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl<'m> Segment<'m> {
    /// A view over one segment's text (no line terminator), for segments not taken from a
    /// [`Message`] (batch headers, builder contents).
    pub(crate) fn new(text: &'m str, seps: Separators, index: usize) -> Self {
        Self { text, seps, index }
    }

    /// The segment ID (`PID`).
    pub fn id(&self) -> &'m str {
        slice(self.text, 0, 3.min(self.text.len()))
    }

    /// The segment's ER7 text.
    pub fn raw(&self) -> &'m str {
        self.text
    }

    /// 0-based index of the segment in its message.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether fields 1 and 2 are the delimiters (MSH, FHS, BHS).
    pub fn is_header(&self) -> bool {
        matches!(self.id(), "MSH" | "FHS" | "BHS")
    }

    fn body(&self) -> Option<&'m str> {
        if self.text.len() > 3 {
            Some(slice(self.text, 4, self.text.len()))
        } else {
            None
        }
    }

    /// Field `number` (1-based); `None` past the last field.
    pub fn field(&self, number: usize) -> Option<Field<'m>> {
        let body = self.body()?;
        if !self.is_header() {
            return nth_piece(body, self.seps.field, number).map(|raw| Field::new(raw, self.seps));
        }
        match number {
            0 => None,
            1 => Some(Field::new(slice(self.text, 3, 4), Separators::ATOMIC)),
            2 => nth_piece(body, self.seps.field, 1).map(|raw| Field::new(raw, Separators::ATOMIC)),
            n => nth_piece(body, self.seps.field, n.saturating_sub(1))
                .map(|raw| Field::new(raw, self.seps)),
        }
    }

    /// How many fields the segment holds (trailing empty ones included).
    pub fn field_count(&self) -> usize {
        match self.body() {
            None => 0,
            Some(body) => piece_count(body, self.seps.field) + usize::from(self.is_header()),
        }
    }

    /// The fields in order (field 1 first).
    pub fn fields(&self) -> impl Iterator<Item = Field<'m>> + use<'m> {
        let header = self.is_header();
        let seps = self.seps;
        let first = header.then(|| Field::new(slice(self.text, 3, 4), Separators::ATOMIC));
        let rest = self
            .body()
            .map(|b| Pieces::new(b, seps.field))
            .into_iter()
            .flatten()
            .enumerate()
            .map(move |(i, raw)| {
                if header && i == 0 {
                    Field::new(raw, Separators::ATOMIC)
                } else {
                    Field::new(raw, seps)
                }
            });
        first.into_iter().chain(rest)
    }

    /// The value at a position of this segment (see [`Value`]).
    pub fn value_at(
        &self,
        field: usize,
        repetition: usize,
        component: Option<usize>,
        subcomponent: Option<usize>,
    ) -> Value<'m> {
        field_value(self.field(field), repetition, component, subcomponent)
    }

    fn push_leaves(&self, sid: SegmentId, occurrence: usize, out: &mut Vec<Leaf<'m>>) {
        let Ok(base) = Path::new(sid.as_str(), 1).and_then(|p| p.with_occurrence(occurrence))
        else {
            return;
        };
        let header = self.is_header();
        for (i, field) in self.fields().enumerate() {
            let number = i + 1;
            if field.raw().is_empty() {
                continue;
            }
            let Ok(fpath) = base.with_field(number) else {
                return;
            };
            if header && number <= 2 {
                out.push(Leaf {
                    path: fpath,
                    value: Value::Text(Cow::Borrowed(field.raw())),
                });
                continue;
            }
            push_part_leaves(fpath, field, out);
        }
    }
}

/// An element of a field that may have parts (field, repetition, component, subcomponent),
/// so that one walk finds the leaves at every level.
trait Element<'m>: Copy {
    /// The elements one level down.
    type Part: Element<'m>;

    /// The element of `raw`, split with `seps`.
    fn from_raw(raw: &'m str, seps: Separators) -> Self;

    /// The ER7 text.
    fn text(&self) -> &'m str;

    /// The separators its parts are split with.
    fn separators(&self) -> Separators;

    /// Whether the element has no parts.
    fn leaf(&self) -> bool;

    /// The decoded value (see [`Value`]).
    fn decoded(&self) -> Value<'m>;

    /// The parts in order (none for a subcomponent).
    fn parts(&self) -> impl Iterator<Item = Self::Part>;

    /// The path of part `number` (1-based) of the element at `parent`.
    fn path_in(parent: Path, number: usize) -> Result<Path, PathError>;

    /// Piece `number` (1-based) of the text split on `sep`, as a part; `None` past the last one.
    fn nth_part<P: Element<'m>>(&self, sep: u8, number: usize) -> Option<P> {
        nth_piece(self.text(), sep, number).map(|raw| P::from_raw(raw, self.separators()))
    }

    /// The pieces of the text split on `sep`, in order, as parts.
    fn all_parts<P: Element<'m>>(&self, sep: u8) -> impl Iterator<Item = P> + use<'m, P, Self> {
        let seps = self.separators();
        Pieces::new(self.text(), sep).map(move |raw| P::from_raw(raw, seps))
    }
}

/// Pushes the leaves of `element`, which stands at `path`: the element itself when it is a
/// leaf, otherwise the leaves of its parts.
fn push_element_leaves<'m, E: Element<'m>>(path: Path, element: E, out: &mut Vec<Leaf<'m>>) {
    if element.leaf() {
        out.push(Leaf {
            path,
            value: element.decoded(),
        });
    } else {
        push_part_leaves(path, element, out);
    }
}

/// Pushes the leaves of the non-empty parts of `element`, which stands at `path`, in order;
/// stops at a part number a path cannot hold.
fn push_part_leaves<'m, E: Element<'m>>(path: Path, element: E, out: &mut Vec<Leaf<'m>>) {
    for (i, part) in element.parts().enumerate() {
        if part.text().is_empty() {
            continue;
        }
        let Ok(part_path) = E::Part::path_in(path, i + 1) else {
            break;
        };
        push_element_leaves(part_path, part, out);
    }
}

/// The value at a position below a field (shared by the views and the builder).
pub(crate) fn field_value(
    field: Option<Field<'_>>,
    repetition: usize,
    component: Option<usize>,
    subcomponent: Option<usize>,
) -> Value<'_> {
    let Some(rep) = field.and_then(|f| f.repetition(repetition)) else {
        return Value::Absent;
    };
    let Some(c) = component else {
        return rep.value();
    };
    let Some(comp) = rep.component(c) else {
        return Value::Absent;
    };
    let Some(s) = subcomponent else {
        return comp.value();
    };
    match comp.subcomponent(s) {
        Some(sub) => sub.value(),
        None => Value::Absent,
    }
}

/// The accessors every element type shares, and its [`Element`] impl: `parts` names the method
/// that lists its parts (of type `$part`), `path` the [`Path`] method that steps down to it.
macro_rules! element_common {
    ($name:ident, parts: $part:ident from $parts:ident, path: $step:ident) => {
        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("bytes", &self.raw.len())
                    .finish()
            }
        }

        impl<'m> $name<'m> {
            /// The ER7 text, escape sequences not decoded.
            pub fn raw(&self) -> &'m str {
                self.raw
            }

            /// Whether the element is empty.
            pub fn is_empty(&self) -> bool {
                self.raw.is_empty()
            }

            /// Whether the element is the HL7 null `""`.
            pub fn is_null(&self) -> bool {
                self.raw == "\"\""
            }

            /// The value: decoded when the element is a leaf, its ER7 text when it has parts.
            pub fn value(&self) -> Value<'m> {
                Value::of(self.raw, &self.seps, self.is_leaf())
            }
        }

        impl<'m> Element<'m> for $name<'m> {
            type Part = $part<'m>;

            fn leaf(&self) -> bool {
                self.is_leaf()
            }

            fn decoded(&self) -> Value<'m> {
                self.value()
            }

            fn parts(&self) -> impl Iterator<Item = $part<'m>> {
                self.$parts()
            }

            fn path_in(parent: Path, number: usize) -> Result<Path, PathError> {
                parent.$step(number)
            }

            fn from_raw(raw: &'m str, seps: Separators) -> Self {
                Self { raw, seps }
            }

            fn text(&self) -> &'m str {
                self.raw
            }

            fn separators(&self) -> Separators {
                self.seps
            }
        }
    };
}

/// One field of a segment.
#[derive(Clone, Copy)]
pub struct Field<'m> {
    raw: &'m str,
    seps: Separators,
}
element_common!(Field, parts: Repetition from repetitions, path: with_field);

impl<'m> Field<'m> {
    pub(crate) fn new(raw: &'m str, seps: Separators) -> Self {
        Self { raw, seps }
    }

    /// Whether the field has no repetitions, components or subcomponents.
    pub fn is_leaf(&self) -> bool {
        !contains_any(
            self.raw,
            self.seps.repetition,
            self.seps.component,
            self.seps.subcomponent,
        )
    }

    /// Repetition `number` (1-based); `None` past the last one.
    pub fn repetition(&self, number: usize) -> Option<Repetition<'m>> {
        self.nth_part(self.seps.repetition, number)
    }

    /// How many repetitions (at least 1).
    pub fn repetition_count(&self) -> usize {
        piece_count(self.raw, self.seps.repetition)
    }

    /// The repetitions in order.
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'m>> + use<'m> {
        self.all_parts(self.seps.repetition)
    }

    /// Component `number` of the first repetition.
    pub fn component(&self, number: usize) -> Option<Component<'m>> {
        self.repetition(1)?.component(number)
    }
}

/// One repetition of a field.
#[derive(Clone, Copy)]
pub struct Repetition<'m> {
    raw: &'m str,
    seps: Separators,
}
element_common!(Repetition, parts: Component from components, path: with_repetition);

impl<'m> Repetition<'m> {
    /// Whether the repetition has no components or subcomponents.
    pub fn is_leaf(&self) -> bool {
        memchr::memchr2(
            self.seps.component,
            self.seps.subcomponent,
            self.raw.as_bytes(),
        )
        .is_none()
    }

    /// Component `number` (1-based); `None` past the last one.
    pub fn component(&self, number: usize) -> Option<Component<'m>> {
        self.nth_part(self.seps.component, number)
    }

    /// The components in order.
    pub fn components(&self) -> impl Iterator<Item = Component<'m>> + use<'m> {
        self.all_parts(self.seps.component)
    }
}

/// One component of a repetition.
#[derive(Clone, Copy)]
pub struct Component<'m> {
    raw: &'m str,
    seps: Separators,
}
element_common!(Component, parts: Subcomponent from subcomponents, path: with_component);

impl<'m> Component<'m> {
    /// Whether the component has no subcomponents.
    pub fn is_leaf(&self) -> bool {
        memchr::memchr(self.seps.subcomponent, self.raw.as_bytes()).is_none()
    }

    /// Subcomponent `number` (1-based); `None` past the last one.
    pub fn subcomponent(&self, number: usize) -> Option<Subcomponent<'m>> {
        self.nth_part(self.seps.subcomponent, number)
    }

    /// The subcomponents in order.
    pub fn subcomponents(&self) -> impl Iterator<Item = Subcomponent<'m>> + use<'m> {
        self.all_parts(self.seps.subcomponent)
    }
}

/// One subcomponent of a component.
#[derive(Clone, Copy)]
pub struct Subcomponent<'m> {
    raw: &'m str,
    seps: Separators,
}
element_common!(Subcomponent, parts: Subcomponent from no_parts, path: with_subcomponent);

impl<'m> Subcomponent<'m> {
    /// Always true: a subcomponent is a leaf.
    pub fn is_leaf(&self) -> bool {
        true
    }

    /// A subcomponent has no parts.
    fn no_parts(&self) -> impl Iterator<Item = Subcomponent<'m>> + use<'m> {
        std::iter::empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &str = "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240102030405+0100||ADT^A01^ADT_A01|MSG1|P|2.5.1\r\
PID|1||123^^^MRN^MR~456^^^SSN||Doe^Jane^Q||19800101|F|||1 Main St^^Town^^12345||555\\T\\1234|\"\"\r\
PV1|1|O|CLINIC^101^1\r\
OBX|1|ST|1^First||a\\S\\b\r\
OBX|2|ST|2^Second||  spaced  \r";

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    #[test]
    fn reads_paths() {
        let m = Message::parse(ADT).unwrap();
        assert_eq!(m.get(&p("PID-5.1")).as_deref(), Some("Doe"));
        assert_eq!(m.get(&p("PID-3[2].1")).as_deref(), Some("456"));
        assert_eq!(m.get(&p("PID-3[2].5")).as_deref(), None);
        assert_eq!(m.get(&p("PID-3[3].1")).as_deref(), None);
        assert_eq!(m.get(&p("OBX[2]-3.2")).as_deref(), Some("Second"));
        assert_eq!(m.get(&p("OBX[2]-5")).as_deref(), Some("  spaced  "));
        assert_eq!(m.get(&p("OBX-5")).as_deref(), Some("a^b"));
        assert_eq!(m.get(&p("PID-13")).as_deref(), Some("555&1234"));
        assert_eq!(m.get(&p("PID-11.3")).as_deref(), Some("Town"));
        assert_eq!(m.get(&p("PID-5")).as_deref(), Some("Doe^Jane^Q"));
        assert_eq!(m.get(&p("ZZZ-1")), None);
    }

    #[test]
    fn absent_empty_and_null_differ() {
        let m = Message::parse(ADT).unwrap();
        assert_eq!(m.value(&p("PID-2")), Value::Empty);
        assert_eq!(m.value(&p("PID-14")), Value::Null);
        assert!(m.is_null(&p("PID-14")));
        assert_eq!(m.value(&p("PID-15")), Value::Absent);
        assert_eq!(m.get(&p("PID-14")).as_deref(), Some("\"\""));
        assert_eq!(m.get(&p("PID-2")).as_deref(), Some(""));
    }

    #[test]
    fn msh_counts_like_hl7() {
        let m = Message::parse(ADT).unwrap();
        assert_eq!(m.get(&p("MSH-1")).as_deref(), Some("|"));
        assert_eq!(m.get(&p("MSH-2")).as_deref(), Some("^~\\&"));
        assert_eq!(m.get(&p("MSH-2.2")), None);
        assert_eq!(m.get(&p("MSH-3")).as_deref(), Some("EHR"));
        assert_eq!(m.get(&p("MSH-9.2")).as_deref(), Some("A01"));
        assert_eq!(m.control_id().as_deref(), Some("MSG1"));
        assert_eq!(m.version().as_deref(), Some("2.5.1"));
        assert_eq!(m.message_code().as_deref(), Some("ADT"));
        assert_eq!(m.trigger_event().as_deref(), Some("A01"));
        assert_eq!(m.processing_id().as_deref(), Some("P"));
        assert_eq!(m.msh().field_count(), 12);
        let t = Message::parse("MSH|^~\\&#|A|B\rPID|1").unwrap();
        assert_eq!(t.get(&p("MSH-2")).as_deref(), Some("^~\\&#"));
        assert_eq!(t.get(&p("MSH-3")).as_deref(), Some("A"));
    }

    #[test]
    fn leaves_in_message_order_and_consistent_with_get() {
        let m = Message::parse(ADT).unwrap();
        let leaves = m.leaves();
        let listed: Vec<String> = leaves.iter().map(|l| l.path.to_string()).collect();
        assert_eq!(
            &listed[..6],
            ["MSH-1", "MSH-2", "MSH-3", "MSH-4", "MSH-5", "MSH-6"]
        );
        for want in [
            "PID-3.1",
            "PID-3.4",
            "PID-3[2].1",
            "PID-5.3",
            "PID-13",
            "PID-14",
            "OBX[2]-5",
        ] {
            assert!(listed.iter().any(|l| l == want), "{want} listed");
        }
        assert!(!listed.iter().any(|l| l == "PID-2"));
        for leaf in &leaves {
            assert_eq!(m.value(&leaf.path), leaf.value, "{}", leaf.path);
        }
    }

    #[test]
    fn views() {
        let m = Message::parse(ADT).unwrap();
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.index(), 1);
        assert_eq!(pid.field_count(), 14);
        assert_eq!(pid.fields().count(), 14);
        let f3 = pid.field(3).unwrap();
        assert_eq!(f3.repetition_count(), 2);
        assert_eq!(f3.component(4).unwrap().raw(), "MRN");
        assert_eq!(m.msh().fields().count(), 12);
        assert_eq!(m.segments_named("OBX").count(), 2);
        assert!(m.segment_occurrence("OBX", 0).is_none());
        assert!(format!("{m:?} {pid:?} {f3:?}").find("Doe").is_none());
        let seg_without_fields = Message::parse("MSH|^~\\&\rEVN").unwrap();
        assert_eq!(seg_without_fields.segment("EVN").unwrap().field_count(), 0);
        assert!(
            seg_without_fields
                .segment("EVN")
                .unwrap()
                .field(1)
                .is_none()
        );
    }

    #[test]
    fn parse_bytes_reads_charsets() {
        let latin =
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.4||||||8859/1\rPID|1||1||M\xfcller^J\xf6rg";
        let m = Message::parse_bytes(latin).unwrap();
        assert_eq!(m.get(&p("PID-5.1")).as_deref(), Some("Müller"));
        assert_eq!(m.get(&p("PID-5.2")).as_deref(), Some("Jörg"));
        assert_eq!(m.charset(), Some(Charset::Latin1));
        let utf =
            "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5||||||UNICODE UTF-8\rPID|1||1||Łukasz";
        let m = Message::parse_bytes(utf.as_bytes()).unwrap();
        assert_eq!(m.get(&p("PID-5")).as_deref(), Some("Łukasz"));
        assert!(matches!(m.as_str().len(), 0..) && matches!(m.text, Cow::Borrowed(_)));
        let bom = b"\xEF\xBB\xBFMSH|^~\\&|A";
        assert_eq!(
            Message::parse_bytes(bom)
                .unwrap()
                .get(&p("MSH-3"))
                .as_deref(),
            Some("A")
        );
        let owned = Message::parse_bytes(latin).unwrap().into_owned();
        assert_eq!(owned.segment_count(), 2);
    }
}
