//! The parser: finds the delimiters and the segment boundaries, nothing more.
//!
//! One pass counts the line terminators (to size the index exactly, so the index is the one
//! allocation of a parse), a second records each non-blank line as a segment and checks its
//! segment ID. Fields are found later, on demand, by the views in [`crate::message`].

use crate::charset::Charset;
use crate::error::ParseError;
use crate::separators::Separators;
use crate::text::{Lines, is_blank, is_segment_id};

/// Byte range of one segment in the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// Strips a leading UTF-8 byte order mark.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Indexes the segments of `text` (BOM already stripped).
pub(crate) fn index(text: &str) -> Result<(Separators, Vec<Span>), ParseError> {
    let bytes = text.as_bytes();
    if u32::try_from(bytes.len()).is_err() {
        return Err(ParseError::TooLarge {
            limit: u32::MAX as usize,
        });
    }
    let terminators = memchr::memchr2_iter(b'\r', b'\n', bytes).count();
    let mut spans = Vec::with_capacity(terminators + 1);
    let mut seps: Option<Separators> = None;
    for (start, end) in Lines::new(bytes) {
        let line = bytes.get(start..end).unwrap_or_default();
        if is_blank(line) {
            continue;
        }
        let number = spans.len() + 1;
        let seps = match seps {
            Some(s) => s,
            None => {
                if !line.starts_with(b"MSH") {
                    return Err(if is_segment_id(line.get(..3).unwrap_or_default()) {
                        ParseError::MissingMsh
                    } else {
                        ParseError::InvalidSegmentId { segment: 1 }
                    });
                }
                let s = Separators::from_header(line)?;
                seps = Some(s);
                s
            }
        };
        let id_ok = is_segment_id(line.get(..3).unwrap_or_default())
            && line.get(3).is_none_or(|&b| b == seps.field);
        if !id_ok {
            return Err(ParseError::InvalidSegmentId { segment: number });
        }
        // Both fit in u32: checked above.
        spans.push(Span {
            start: start as u32,
            end: end as u32,
        });
    }
    match seps {
        Some(s) => Ok((s, spans)),
        None => Err(ParseError::Empty),
    }
}

/// Reads MSH-18 (first repetition, first component) straight from the bytes of a message, before
/// the bytes are decoded. `Ok(None)` when the message has no MSH-18 or no readable MSH.
pub(crate) fn sniff_charset(bytes: &[u8]) -> Result<Option<Charset>, ParseError> {
    let Some(line) = Lines::new(bytes)
        .map(|(s, e)| bytes.get(s..e).unwrap_or_default())
        .find(|l| !is_blank(l))
    else {
        return Ok(None);
    };
    if !line.starts_with(b"MSH") {
        return Ok(None);
    }
    let Ok(seps) = Separators::from_header(line) else {
        return Ok(None);
    };
    // After "MSH|": piece 0 is MSH-2, so MSH-18 is piece 16.
    let Some(field) = line
        .get(4..)
        .unwrap_or_default()
        .split(|&b| b == seps.field)
        .nth(16)
    else {
        return Ok(None);
    };
    let first = field
        .split(|&b| b == seps.repetition)
        .next()
        .unwrap_or_default()
        .split(|&b| b == seps.component)
        .next()
        .unwrap_or_default();
    let name = std::str::from_utf8(first).map_err(|_| ParseError::UnsupportedCharset)?;
    Charset::from_msh18(name)
        .map(Some)
        .ok_or(ParseError::UnsupportedCharset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_segments_with_any_line_ending_and_blank_lines() {
        let text = "MSH|^~\\&|A\r\n\r\nPID|1\n  \nPV1|1\r";
        let (seps, spans) = index(text).unwrap();
        assert_eq!(seps, Separators::STANDARD);
        let lines: Vec<&str> = spans
            .iter()
            .map(|s| &text[s.start as usize..s.end as usize])
            .collect();
        assert_eq!(lines, ["MSH|^~\\&|A", "PID|1", "PV1|1"]);
    }

    #[test]
    fn errors_are_located() {
        assert_eq!(index(""), Err(ParseError::Empty));
        assert_eq!(index("\r\n \n"), Err(ParseError::Empty));
        assert_eq!(index("PID|1"), Err(ParseError::MissingMsh));
        assert_eq!(
            index("garbage"),
            Err(ParseError::InvalidSegmentId { segment: 1 })
        );
        assert_eq!(
            index("MSH|^~\\&\rPID|1\rpv1|2"),
            Err(ParseError::InvalidSegmentId { segment: 3 })
        );
        assert_eq!(
            index("MSH|^~\\&\rPIDX|1"),
            Err(ParseError::InvalidSegmentId { segment: 2 })
        );
        assert!(matches!(index("MSH|^~"), Err(ParseError::Separators(_))));
    }

    #[test]
    fn sniffs_msh18() {
        let m = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||8859/1~UNICODE UTF-8\rPID|";
        assert_eq!(sniff_charset(m), Ok(Some(Charset::Latin1)));
        assert_eq!(sniff_charset(b"MSH|^~\\&|A"), Ok(None));
        let bad = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||EBCDIC";
        assert_eq!(sniff_charset(bad), Err(ParseError::UnsupportedCharset));
    }
}
