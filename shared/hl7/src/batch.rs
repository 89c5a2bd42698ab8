//! Batch files: `[FHS] { [BHS] { MSH ... } [BTS] } [FTS]`.
//!
//! [`Batch::parse`] cuts a file into its messages (each a slice of the input, to give to
//! [`crate::Message::parse`]) and keeps the header and trailer segments as views. Plain
//! concatenated messages (no FHS/BHS) are read as one batch too.

use crate::error::BatchError;
use crate::message::Segment;
use crate::separators::Separators;
use crate::text::{Lines, is_blank, is_segment_id, slice};

/// One batch (BHS ... BTS) of a file.
#[derive(Debug, Clone)]
pub struct BatchGroup<'a> {
    /// BHS, if present.
    pub header: Option<Segment<'a>>,
    /// BTS, if present.
    pub trailer: Option<Segment<'a>>,
    /// The messages, each from its MSH to the end of its last segment.
    pub messages: Vec<&'a str>,
}

/// A batch file.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The delimiters of the first header (FHS, BHS or MSH).
    pub separators: Separators,
    /// FHS, if present.
    pub file_header: Option<Segment<'a>>,
    /// FTS, if present.
    pub file_trailer: Option<Segment<'a>>,
    /// The batches in order.
    pub batches: Vec<BatchGroup<'a>>,
}

fn count_field(seg: Option<&Segment<'_>>) -> Option<usize> {
    seg?.field(1)?.raw().parse().ok()
}

/// A `trailer` (BTS, FTS) whose count field is valued must count what was `found`.
fn check_count(
    name: &'static str,
    trailer: Option<&Segment<'_>>,
    found: usize,
) -> Result<(), BatchError> {
    match count_field(trailer) {
        Some(declared) if declared != found => Err(BatchError::CountMismatch {
            trailer: name,
            declared,
            found,
        }),
        _ => Ok(()),
    }
}

impl<'a> Batch<'a> {
    /// Cuts a batch file into batches and messages.
    ///
    /// # Errors
    /// [`BatchError`] when the file does not start with FHS, BHS or MSH, a segment is out of
    /// place, or a line does not start with a segment ID.
    pub fn parse(text: &'a str) -> Result<Batch<'a>, BatchError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let bytes = text.as_bytes();
        let mut seps: Option<Separators> = None;
        let mut file_header = None;
        let mut file_trailer = None;
        let mut batches: Vec<BatchGroup<'a>> = Vec::new();
        let mut current: Option<BatchGroup<'a>> = None;
        // Start byte of the message being read, and end of its last segment so far.
        let mut message: Option<(usize, usize)> = None;
        let mut number = 0usize;

        fn close_message<'a>(
            text: &'a str,
            message: &mut Option<(usize, usize)>,
            current: &mut Option<BatchGroup<'a>>,
        ) {
            if let Some((s, e)) = message.take() {
                current
                    .get_or_insert_with(|| BatchGroup {
                        header: None,
                        trailer: None,
                        messages: Vec::new(),
                    })
                    .messages
                    .push(slice(text, s, e));
            }
        }

        for (start, end) in Lines::new(bytes) {
            let line = bytes.get(start..end).unwrap_or_default();
            if is_blank(line) {
                continue;
            }
            number += 1;
            let id = line.get(..3).unwrap_or_default();
            if !is_segment_id(id) {
                return Err(BatchError::InvalidSegmentId { segment: number });
            }
            let s = match seps {
                Some(s) => s,
                None => {
                    if !matches!(id, b"FHS" | b"BHS" | b"MSH") {
                        return Err(BatchError::MissingHeader);
                    }
                    let s = Separators::from_header(line)?;
                    seps = Some(s);
                    s
                }
            };
            if line.get(3).is_some_and(|&b| b != s.field) {
                return Err(BatchError::InvalidSegmentId { segment: number });
            }
            if file_trailer.is_some() {
                return Err(BatchError::UnexpectedSegment { segment: number });
            }
            let seg = Segment::new(slice(text, start, end), s, number - 1);
            match id {
                b"FHS" => {
                    if number != 1 {
                        return Err(BatchError::UnexpectedSegment { segment: number });
                    }
                    file_header = Some(seg);
                }
                b"BHS" => {
                    close_message(text, &mut message, &mut current);
                    if let Some(done) = current.take() {
                        batches.push(done);
                    }
                    current = Some(BatchGroup {
                        header: Some(seg),
                        trailer: None,
                        messages: Vec::new(),
                    });
                }
                b"BTS" => {
                    close_message(text, &mut message, &mut current);
                    let mut done = current.take().unwrap_or(BatchGroup {
                        header: None,
                        trailer: None,
                        messages: Vec::new(),
                    });
                    done.trailer = Some(seg);
                    batches.push(done);
                }
                b"FTS" => {
                    close_message(text, &mut message, &mut current);
                    if let Some(done) = current.take() {
                        batches.push(done);
                    }
                    file_trailer = Some(seg);
                }
                b"MSH" => {
                    close_message(text, &mut message, &mut current);
                    message = Some((start, end));
                }
                _ => match message.as_mut() {
                    Some(m) => m.1 = end,
                    None => return Err(BatchError::UnexpectedSegment { segment: number }),
                },
            }
        }
        close_message(text, &mut message, &mut current);
        if let Some(done) = current.take() {
            batches.push(done);
        }
        let separators = seps.ok_or(BatchError::Empty)?;
        Ok(Batch {
            separators,
            file_header,
            file_trailer,
            batches,
        })
    }

    /// All messages of all batches, in order.
    pub fn messages(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.batches.iter().flat_map(|b| b.messages.iter().copied())
    }

    /// Checks BTS-1 (message count of each batch) and FTS-1 (batch count) where they are
    /// valued.
    ///
    /// # Errors
    /// [`BatchError::CountMismatch`].
    pub fn check_counts(&self) -> Result<(), BatchError> {
        for b in &self.batches {
            check_count("BTS", b.trailer.as_ref(), b.messages.len())?;
        }
        check_count("FTS", self.file_trailer.as_ref(), self.batches.len())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    const FILE: &str = "FHS|^~\\&|LAB|ACME|||20240101\r\
BHS|^~\\&|LAB|ACME\r\
MSH|^~\\&|LAB|ACME|EHR|CLINIC|20240101||ORU^R01|1|P|2.5\r\
PID|1||A1\r\
OBX|1|NM|x||1\r\
MSH|^~\\&|LAB|ACME|EHR|CLINIC|20240101||ORU^R01|2|P|2.5\r\
PID|1||A2\r\
BTS|2\r\
BHS|^~\\&|LAB|ACME\r\
MSH|^~\\&|LAB|ACME|EHR|CLINIC|20240101||ORU^R01|3|P|2.5\r\
BTS|1\r\
FTS|2\r";

    #[test]
    fn cuts_batches_and_messages() {
        let b = Batch::parse(FILE).unwrap();
        assert_eq!(b.batches.len(), 2);
        assert_eq!(b.batches[0].messages.len(), 2);
        assert_eq!(b.messages().count(), 3);
        assert_eq!(b.file_header.unwrap().field(3).unwrap().raw(), "LAB");
        assert_eq!(b.file_header.unwrap().field(2).unwrap().raw(), "^~\\&");
        b.check_counts().unwrap();
        let ids: Vec<String> = b
            .messages()
            .map(|m| {
                Message::parse(m)
                    .unwrap()
                    .control_id()
                    .unwrap()
                    .into_owned()
            })
            .collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(b.batches[0].messages[0].ends_with("OBX|1|NM|x||1"));
    }

    #[test]
    fn counts_are_checked() {
        let wrong = FILE.replace("BTS|2", "BTS|5");
        assert_eq!(
            Batch::parse(&wrong).unwrap().check_counts(),
            Err(BatchError::CountMismatch {
                trailer: "BTS",
                declared: 5,
                found: 2
            })
        );
    }

    #[test]
    fn plain_concatenation_and_errors() {
        let b = Batch::parse("MSH|^~\\&|A\nPID|1\n\nMSH|^~\\&|B\n").unwrap();
        assert_eq!(b.messages().count(), 2);
        assert!(matches!(
            Batch::parse("PID|1"),
            Err(BatchError::MissingHeader)
        ));
        assert!(matches!(
            Batch::parse("BHS|^~\\&\rPID|1"),
            Err(BatchError::UnexpectedSegment { segment: 2 })
        ));
        assert!(matches!(
            Batch::parse("FHS|^~\\&\rFTS|0\rMSH|^~\\&"),
            Err(BatchError::UnexpectedSegment { segment: 3 })
        ));
        assert!(matches!(Batch::parse(""), Err(BatchError::Empty)));
    }
}
