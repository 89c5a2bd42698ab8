//! An owned, editable message (see [`OwnedMessage`]).

use std::borrow::Cow;
use std::fmt;

#[cfg(feature = "chrono")]
use chrono::{DateTime, TimeZone};

use crate::charset::Charset;
#[cfg(feature = "chrono")]
use crate::datetime;
use crate::error::{BuildError, ParseError};
use crate::escape;
use crate::message::{Field, Message, Value, field_value};
use crate::path::{Path, SegmentId};
use crate::separators::Separators;

#[derive(Clone, PartialEq, Eq)]
struct OwnedSegment {
    id: SegmentId,
    /// `fields[i]` is field `i + 1`, ER7-encoded. For MSH/FHS/BHS, fields 1 and 2 are the
    /// delimiters.
    fields: Vec<String>,
}

impl OwnedSegment {
    fn empty(id: SegmentId, seps: &Separators) -> Self {
        let fields = if id.is_header() {
            vec![seps.field().to_string(), seps.encoding_characters()]
        } else {
            Vec::new()
        };
        Self { id, fields }
    }

    fn field_view(&self, number: usize, seps: Separators) -> Option<Field<'_>> {
        let raw = self.fields.get(number.checked_sub(1)?)?;
        let seps = if self.id.is_header() && number <= 2 {
            Separators::ATOMIC
        } else {
            seps
        };
        Some(Field::new(raw, seps))
    }
}

/// An owned, editable HL7 message: built from a template, set by path, written back to ER7. Its
/// `Debug` output shows no content.
///
/// Setting by path creates what is missing: segments (appended at the end of the message),
/// fields, repetitions, components and subcomponents. Values given to [`OwnedMessage::set`]
/// are escaped; [`OwnedMessage::set_raw`] takes ER7 text. After a set, trailing empty
/// repetitions, components and subcomponents of the touched field are dropped (HL7 allows
/// leaving them out), so setting `""` clears a position; setting `""` where nothing is does
/// nothing. Untouched segments are written back byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedMessage {
    seps: Separators,
    segments: Vec<OwnedSegment>,
}

impl fmt::Debug for OwnedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.segments.iter().map(|s| s.id.as_str()).collect();
        f.debug_struct("OwnedMessage")
            .field("segments", &ids)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for OwnedMessage {
    /// The ER7 text, each segment followed by `\r`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_er7())
    }
}

impl From<&Message<'_>> for OwnedMessage {
    fn from(msg: &Message<'_>) -> Self {
        OwnedMessage::from_message(msg)
    }
}

impl OwnedMessage {
    /// A message holding only `MSH` with MSH-1 and MSH-2 from `seps`.
    pub fn new(seps: Separators) -> Self {
        let msh = SegmentId::new("MSH").map(|id| OwnedSegment::empty(id, &seps));
        Self {
            seps,
            segments: msh.into_iter().collect(),
        }
    }

    /// A copy of a parsed message (the template).
    pub fn from_message(msg: &Message<'_>) -> Self {
        let segments = msg
            .segments()
            .filter_map(|seg| {
                Some(OwnedSegment {
                    id: SegmentId::new(seg.id())?,
                    fields: seg.fields().map(|f| f.raw().to_owned()).collect(),
                })
            })
            .collect();
        Self {
            seps: msg.separators(),
            segments,
        }
    }

    /// Parses a template.
    ///
    /// # Errors
    /// As [`Message::parse`].
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Message::parse(text).map(|m| Self::from_message(&m))
    }

    /// The delimiters.
    pub fn separators(&self) -> Separators {
        self.seps
    }

    /// How many segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The segment IDs in order.
    pub fn segment_ids(&self) -> impl Iterator<Item = SegmentId> + '_ {
        self.segments.iter().map(|s| s.id)
    }

    fn find(&self, id: SegmentId, occurrence: usize) -> Option<&OwnedSegment> {
        self.segments
            .iter()
            .filter(|s| s.id == id)
            .nth(occurrence.checked_sub(1)?)
    }

    /// The value at a path (see [`Value`]).
    pub fn value(&self, path: &Path) -> Value<'_> {
        let field = self
            .find(path.segment(), path.occurrence())
            .and_then(|s| s.field_view(path.field(), self.seps));
        field_value(
            field,
            path.repetition(),
            path.component(),
            path.subcomponent(),
        )
    }

    /// The value at a path: `None` when absent, `Some("")` when empty, `Some("\"\"")` for null.
    pub fn get(&self, path: &Path) -> Option<Cow<'_, str>> {
        self.value(path).into_option()
    }

    /// Sets a value at a path, escaping it. `"\"\""` sets the HL7 null.
    ///
    /// # Errors
    /// [`BuildError::ReadOnlyField`] for MSH-1/MSH-2, [`BuildError::SecondHeader`] for `MSH[2]`.
    pub fn set(&mut self, path: &Path, value: &str) -> Result<(), BuildError> {
        let encoded = escape::encode(value, &self.seps);
        self.set_encoded(path, &encoded)
    }

    /// Sets the HL7 null `""` at a path.
    ///
    /// # Errors
    /// As [`OwnedMessage::set`].
    pub fn set_null(&mut self, path: &Path) -> Result<(), BuildError> {
        self.set_encoded(path, "\"\"")
    }

    /// Sets ER7 text at a path, unescaped: it may hold delimiters of the levels below the path
    /// (e.g. `ACK^A01^ACK` at `MSH-9`) and escape sequences.
    ///
    /// # Errors
    /// [`BuildError::RawDelimiter`] when the text holds a line break, the field separator, or a
    /// delimiter of the path's level or above; and as [`OwnedMessage::set`].
    pub fn set_raw(&mut self, path: &Path, raw: &str) -> Result<(), BuildError> {
        let s = &self.seps;
        let mut forbidden = vec![b'\r', b'\n', s.field, s.repetition];
        if path.component().is_some() {
            forbidden.push(s.component);
        }
        if path.subcomponent().is_some() {
            forbidden.push(s.subcomponent);
        }
        if raw.bytes().any(|b| forbidden.contains(&b)) {
            return Err(BuildError::RawDelimiter {
                segment: path.segment(),
                field: path.field(),
            });
        }
        self.set_encoded(path, raw)
    }

    fn set_encoded(&mut self, path: &Path, encoded: &str) -> Result<(), BuildError> {
        let id = path.segment();
        if id.is_header() && path.field() <= 2 {
            return Err(BuildError::ReadOnlyField {
                segment: id,
                field: path.field(),
            });
        }
        if encoded.is_empty() && self.value(path).is_absent() {
            return Ok(());
        }
        let seps = self.seps;
        let seg = self.segment_mut(id, path.occurrence())?;
        while seg.fields.len() < path.field() {
            seg.fields.push(String::new());
        }
        if let Some(slot) = seg.fields.get_mut(path.field().saturating_sub(1)) {
            *slot = splice(
                slot,
                &seps,
                path.repetition(),
                path.component(),
                path.subcomponent(),
                encoded,
            );
        }
        Ok(())
    }

    fn segment_mut(
        &mut self,
        id: SegmentId,
        occurrence: usize,
    ) -> Result<&mut OwnedSegment, BuildError> {
        let count = self.segments.iter().filter(|s| s.id == id).count();
        if occurrence > count {
            if id.as_str() == "MSH" {
                return Err(BuildError::SecondHeader { occurrence });
            }
            for _ in count..occurrence {
                self.segments.push(OwnedSegment::empty(id, &self.seps));
            }
        }
        self.segments
            .iter_mut()
            .filter(|s| s.id == id)
            .nth(occurrence.saturating_sub(1))
            .ok_or(BuildError::SecondHeader { occurrence })
    }

    /// Sets a whole field (all repetitions) to ER7 text, for copying fields between messages.
    /// Text holding a line break or the field separator is refused.
    pub(crate) fn set_field_raw(
        &mut self,
        id: SegmentId,
        occurrence: usize,
        field: usize,
        raw: &str,
    ) -> Result<(), BuildError> {
        let sep = self.seps.field;
        if (id.is_header() && field <= 2)
            || field == 0
            || raw.bytes().any(|b| b == b'\r' || b == b'\n' || b == sep)
        {
            return Err(BuildError::RawDelimiter { segment: id, field });
        }
        let seg = self.segment_mut(id, occurrence)?;
        while seg.fields.len() < field {
            seg.fields.push(String::new());
        }
        if let Some(slot) = seg.fields.get_mut(field.saturating_sub(1)) {
            raw.clone_into(slot);
        }
        Ok(())
    }

    /// Appends an empty segment; returns its occurrence number.
    ///
    /// # Errors
    /// [`BuildError::SegmentId`] for an invalid ID, [`BuildError::SecondHeader`] for `MSH`.
    pub fn append_segment(&mut self, id: &str) -> Result<usize, BuildError> {
        let id = SegmentId::new(id).ok_or(BuildError::SegmentId)?;
        if id.as_str() == "MSH" {
            return Err(BuildError::SecondHeader { occurrence: 2 });
        }
        self.segments.push(OwnedSegment::empty(id, &self.seps));
        Ok(self.segments.iter().filter(|s| s.id == id).count())
    }

    /// Inserts an empty segment at a 0-based index (after MSH at the earliest; past the end
    /// appends).
    ///
    /// # Errors
    /// [`BuildError::SegmentId`] for an invalid ID, [`BuildError::SecondHeader`] for `MSH`.
    pub fn insert_segment(&mut self, index: usize, id: &str) -> Result<(), BuildError> {
        let id = SegmentId::new(id).ok_or(BuildError::SegmentId)?;
        if id.as_str() == "MSH" {
            return Err(BuildError::SecondHeader { occurrence: 2 });
        }
        let at = index.clamp(1, self.segments.len().max(1));
        self.segments.insert(
            at.min(self.segments.len()),
            OwnedSegment::empty(id, &self.seps),
        );
        Ok(())
    }

    /// Removes the `occurrence`th segment with this ID; `false` when there is none (MSH is
    /// never removed).
    pub fn remove_segment(&mut self, id: &str, occurrence: usize) -> bool {
        let Some(id) = SegmentId::new(id).filter(|i| i.as_str() != "MSH") else {
            return false;
        };
        let Some(index) = self
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id == id)
            .nth(occurrence.saturating_sub(1))
            .map(|(i, _)| i)
            .filter(|_| occurrence >= 1)
        else {
            return false;
        };
        self.segments.remove(index);
        true
    }

    /// Sets MSH-7 to `YYYYMMDDHHMMSS+ZZZZ` (the time in its own offset).
    #[cfg(feature = "chrono")]
    pub fn set_timestamp<Tz: TimeZone>(&mut self, at: &DateTime<Tz>) {
        let ts = datetime::format_timestamp(at);
        if let Ok(p) = Path::new("MSH", 7) {
            // Digits and a sign only: cannot fail.
            let _ = self.set_encoded(&p, &ts);
        }
    }

    /// Sets MSH-10, the message control ID (escaped).
    pub fn set_control_id(&mut self, id: &str) {
        if let Ok(p) = Path::new("MSH", 10) {
            // MSH-10 is never read-only and MSH[1] always exists: cannot fail.
            let _ = self.set(&p, id);
        }
    }

    /// The ER7 text, each segment followed by `\r`.
    pub fn to_er7(&self) -> String {
        self.to_er7_with_terminator("\r")
    }

    /// The ER7 text with another segment terminator (`"\n"` for a terminal).
    pub fn to_er7_with_terminator(&self, terminator: &str) -> String {
        let size: usize = self
            .segments
            .iter()
            .map(|s| 4 + s.fields.iter().map(|f| f.len() + 1).sum::<usize>())
            .sum();
        let mut out = String::with_capacity(size);
        let sep = self.seps.field();
        for seg in &self.segments {
            out.push_str(seg.id.as_str());
            let skip = usize::from(seg.id.is_header());
            for f in seg.fields.iter().skip(skip) {
                out.push(sep);
                out.push_str(f);
            }
            out.push_str(terminator);
        }
        out
    }

    /// The ER7 bytes in the character set MSH-18 names (UTF-8 when it names none or one this
    /// crate does not write); characters the set cannot hold become `?`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let text = self.to_er7();
        let charset = Path::new("MSH", 18)
            .and_then(|p| p.with_component(1))
            .ok()
            .and_then(|p| self.get(&p).and_then(|v| Charset::from_msh18(&v)))
            .unwrap_or(Charset::Utf8);
        charset.encode(&text).into_owned()
    }

    /// Parses the built text back into a [`Message`].
    ///
    /// # Errors
    /// Only if the template itself was unusable (cannot happen for one made by this crate).
    pub fn to_message(&self) -> Result<Message<'static>, ParseError> {
        let text = self.to_er7();
        Message::parse(&text).map(Message::into_owned)
    }
}

fn split_owned(s: &str, sep: char) -> Vec<String> {
    s.split(sep).map(str::to_owned).collect()
}

fn pad(v: &mut Vec<String>, n: usize) {
    while v.len() < n {
        v.push(String::new());
    }
}

fn trim_join(mut v: Vec<String>, sep: char) -> String {
    while v.len() > 1 && v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v.join(&sep.to_string())
}

/// Replaces one repetition / component / subcomponent of a field's ER7 text.
fn splice(
    field: &str,
    seps: &Separators,
    repetition: usize,
    component: Option<usize>,
    subcomponent: Option<usize>,
    encoded: &str,
) -> String {
    let mut reps = split_owned(field, seps.repetition());
    pad(&mut reps, repetition);
    if let Some(rep) = reps.get_mut(repetition.saturating_sub(1)) {
        *rep = match component {
            None => encoded.to_owned(),
            Some(c) => {
                let mut comps = split_owned(rep, seps.component());
                pad(&mut comps, c);
                if let Some(comp) = comps.get_mut(c.saturating_sub(1)) {
                    *comp = match subcomponent {
                        None => encoded.to_owned(),
                        Some(s) => {
                            let mut subs = split_owned(comp, seps.subcomponent());
                            pad(&mut subs, s);
                            if let Some(sub) = subs.get_mut(s.saturating_sub(1)) {
                                *sub = encoded.to_owned();
                            }
                            trim_join(subs, seps.subcomponent())
                        }
                    };
                }
                trim_join(comps, seps.component())
            }
        };
    }
    trim_join(reps, seps.repetition())
}

#[cfg(all(test, feature = "chrono"))]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    const TEMPLATE: &str =
        "MSH|^~\\&|CRM|HQ|EHR|CLINIC|||SIU^S12|TEMPLATE|P|2.5\rSCH||1\rPID|1||||Old^Name\r";

    #[test]
    fn sets_values_creating_what_is_missing() {
        let mut m = OwnedMessage::parse(TEMPLATE).unwrap();
        m.set(&p("PID-5.1"), "O'Brien^Smith").unwrap();
        m.set(&p("PID-3[2].4"), "MRN").unwrap();
        m.set(&p("PID-11.1.2"), "Main St").unwrap();
        m.set(&p("ZCC[2]-1"), "custom").unwrap();
        m.set(&p("PV1-2"), "O").unwrap();
        let er7 = m.to_er7();
        assert_eq!(
            er7,
            "MSH|^~\\&|CRM|HQ|EHR|CLINIC|||SIU^S12|TEMPLATE|P|2.5\r\
SCH||1\r\
PID|1||~^^^MRN||O'Brien\\S\\Smith^Name||||||&Main St\r\
ZCC\r\
ZCC|custom\r\
PV1||O\r"
        );
        let back = Message::parse(&er7).unwrap();
        assert_eq!(back.get(&p("PID-5.1")).as_deref(), Some("O'Brien^Smith"));
        assert_eq!(m.get(&p("PID-5.1")).as_deref(), Some("O'Brien^Smith"));
        assert_eq!(back.get(&p("PID-11.1.2")).as_deref(), Some("Main St"));
    }

    #[test]
    fn clearing_trims_and_empty_on_absent_is_a_no_op() {
        let mut m = OwnedMessage::parse(TEMPLATE).unwrap();
        m.set(&p("PID-5.2"), "").unwrap();
        assert_eq!(m.get(&p("PID-5")).as_deref(), Some("Old"));
        let before = m.to_er7();
        m.set(&p("ZZZ-9"), "").unwrap();
        m.set(&p("PID-30.2"), "").unwrap();
        assert_eq!(m.to_er7(), before);
        m.set_null(&p("PID-8")).unwrap();
        assert!(m.value(&p("PID-8")).is_null());
    }

    #[test]
    fn header_fields_and_raw_values() {
        let mut m = OwnedMessage::parse(TEMPLATE).unwrap();
        assert!(matches!(
            m.set(&p("MSH-2"), "x"),
            Err(BuildError::ReadOnlyField { field: 2, .. })
        ));
        assert!(matches!(
            m.set(&p("MSH[2]-3"), "x"),
            Err(BuildError::SecondHeader { occurrence: 2 })
        ));
        m.set_raw(&p("MSH-9"), "ACK^S12^ACK").unwrap();
        assert_eq!(m.get(&p("MSH-9.3")).as_deref(), Some("ACK"));
        assert!(m.set_raw(&p("MSH-9.1"), "A^B").is_err());
        assert!(m.set_raw(&p("MSH-9"), "A~B").is_err());
        assert!(m.set_raw(&p("MSH-9"), "A\rPID").is_err());
        let ts = FixedOffset::west_opt(5 * 3600)
            .unwrap()
            .with_ymd_and_hms(2024, 3, 9, 14, 5, 6)
            .unwrap();
        m.set_timestamp(&ts);
        m.set_control_id("ID|1");
        assert_eq!(m.get(&p("MSH-7")).as_deref(), Some("20240309140506-0500"));
        assert_eq!(m.get(&p("MSH-10")).as_deref(), Some("ID|1"));
        assert!(m.to_er7().contains("|ID\\F\\1|"));
    }

    #[test]
    fn segments_can_be_added_and_removed() {
        let mut m = OwnedMessage::new(Separators::STANDARD);
        assert_eq!(m.to_er7(), "MSH|^~\\&\r");
        assert_eq!(m.append_segment("NTE"), Ok(1));
        assert_eq!(m.append_segment("NTE"), Ok(2));
        assert_eq!(m.append_segment("nte"), Err(BuildError::SegmentId));
        assert!(m.append_segment("MSH").is_err());
        m.insert_segment(0, "EVN").unwrap();
        m.insert_segment(99, "ZZZ").unwrap();
        assert_eq!(m.to_er7(), "MSH|^~\\&\rEVN\rNTE\rNTE\rZZZ\r");
        assert!(m.remove_segment("EVN", 1) && m.remove_segment("ZZZ", 1));
        assert!(m.remove_segment("NTE", 2));
        assert!(!m.remove_segment("NTE", 2));
        assert!(!m.remove_segment("MSH", 1));
        assert_eq!(m.segment_ids().count(), 2);
        assert_eq!(m.to_er7_with_terminator("\n"), "MSH|^~\\&\nNTE\n");
        assert!(!format!("{m:?}").contains('&'));
    }

    #[test]
    fn to_bytes_uses_msh18() {
        let mut m =
            OwnedMessage::parse("MSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.4||||||8859/1\r").unwrap();
        m.set(&p("PID-5"), "Müller").unwrap();
        assert!(m.to_bytes().windows(2).any(|w| w == [b'M', 0xFC]));
        let back = Message::parse_bytes(&m.to_bytes())
            .unwrap()
            .get(&p("PID-5"))
            .map(Cow::into_owned);
        assert_eq!(back.as_deref(), Some("Müller"));
    }
}
