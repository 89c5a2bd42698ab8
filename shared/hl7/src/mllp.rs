//! MLLP framing: `0x0B payload 0x1C 0x0D`. No I/O: the transport wraps this around sockets.
//!
//! [`MllpDecoder`] is a streaming decoder: push bytes as they arrive, pull complete frames.
//! It copes with frames split across reads, several frames in one read, bytes between frames
//! (skipped and counted), and a maximum frame size (an error, then resynchronisation at the
//! next start byte).
//!
//! ```
//! use connector_hl7::mllp::{self, MllpDecoder};
//!
//! let wire = [mllp::encode(b"MSH|first"), mllp::encode(b"MSH|second")].concat();
//! let mut decoder = MllpDecoder::new(1 << 20);
//! let (a, b) = wire.split_at(7);
//! decoder.push(a);
//! assert!(decoder.next_frame().is_none());
//! decoder.push(b);
//! assert_eq!(decoder.next_frame(), Some(Ok(b"MSH|first".to_vec())));
//! assert_eq!(decoder.next_frame(), Some(Ok(b"MSH|second".to_vec())));
//! assert_eq!(decoder.next_frame(), None);
//! ```

use crate::error::MllpError;

/// Start block byte (VT).
pub const START: u8 = 0x0B;
/// First end block byte (FS).
pub const END: u8 = 0x1C;
/// Second end block byte (CR).
pub(crate) const END_CR: u8 = 0x0D;

/// Frames a payload.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 3);
    encode_into(payload, &mut out);
    out
}

/// Frames a payload onto the end of `out`.
pub(crate) fn encode_into(payload: &[u8], out: &mut Vec<u8>) {
    out.push(START);
    out.extend_from_slice(payload);
    out.push(END);
    out.push(END_CR);
}

/// A streaming MLLP decoder (see the [module documentation](self)).
///
/// A `0x1C` not followed by `0x0D` is payload. Memory use is bounded by the frame limit plus
/// the largest chunk pushed at once (frames are pulled as they complete).
#[derive(Debug, Clone)]
pub struct MllpDecoder {
    buf: Vec<u8>,
    /// Whether `buf` starts inside a frame (its start byte already consumed).
    in_frame: bool,
    /// How far into `buf` the end of the current frame has been searched for.
    scanned: usize,
    max_frame: usize,
    skipped: u64,
}

impl MllpDecoder {
    /// A decoder refusing frames larger than `max_frame` payload bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            buf: Vec::new(),
            in_frame: false,
            scanned: 0,
            max_frame,
            skipped: 0,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes were skipped outside frames (including dropped oversize frames).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// How many bytes are held waiting for the end of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a frame has started and not yet ended (to tell a clean close from a cut one).
    pub fn in_frame(&self) -> bool {
        self.in_frame
    }

    fn drop_front(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
    }

    /// The next complete frame's payload, an error about a dropped frame, or `None` when more
    /// bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, MllpError>> {
        loop {
            if !self.in_frame {
                match memchr::memchr(START, &self.buf) {
                    Some(p) => {
                        self.skipped += p as u64;
                        self.drop_front(p + 1);
                        self.in_frame = true;
                        self.scanned = 0;
                    }
                    None => {
                        self.skipped += self.buf.len() as u64;
                        self.buf.clear();
                        return None;
                    }
                }
            }
            let from = self.scanned.min(self.buf.len());
            let found = memchr::memchr2(END, START, self.buf.get(from..).unwrap_or_default())
                .map(|p| from + p);
            match found {
                Some(i) if self.buf.get(i) == Some(&START) => {
                    // A new frame starts before this one ended: drop the unterminated one.
                    self.drop_front(i + 1);
                    self.scanned = 0;
                    return Some(Err(MllpError::UnterminatedFrame { discarded: i }));
                }
                Some(i) => match self.buf.get(i + 1) {
                    Some(&END_CR) => {
                        let too_large = i > self.max_frame;
                        let frame = if too_large {
                            Vec::new()
                        } else {
                            self.buf.get(..i).unwrap_or_default().to_vec()
                        };
                        self.drop_front(i + 2);
                        self.in_frame = false;
                        self.scanned = 0;
                        if too_large {
                            self.skipped += i as u64 + 2;
                            return Some(Err(MllpError::FrameTooLarge {
                                limit: self.max_frame,
                            }));
                        }
                        return Some(Ok(frame));
                    }
                    Some(_) => {
                        // 0x1C inside the payload: keep looking after it.
                        self.scanned = i + 1;
                        continue;
                    }
                    None => {
                        self.scanned = i; // re-check this 0x1C when the next byte arrives
                    }
                },
                None => self.scanned = self.buf.len(),
            }
            if self.buf.len() > self.max_frame.saturating_add(1) {
                // Too large: drop it and skip everything up to the next start byte.
                self.skipped += self.buf.len() as u64;
                self.buf.clear();
                self.in_frame = false;
                self.scanned = 0;
                return Some(Err(MllpError::FrameTooLarge {
                    limit: self.max_frame,
                }));
            }
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut MllpDecoder) -> Vec<Result<Vec<u8>, MllpError>> {
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn byte_by_byte_and_many_per_read() {
        let wire = [encode(b"one"), encode(b""), encode(b"three\x1cx")].concat();
        let mut d = MllpDecoder::new(100);
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            got.extend(drain(&mut d));
        }
        let want: Vec<Result<Vec<u8>, MllpError>> = vec![
            Ok(b"one".to_vec()),
            Ok(Vec::new()),
            Ok(b"three\x1cx".to_vec()),
        ];
        assert_eq!(got, want);
        let mut d = MllpDecoder::new(100);
        d.push(&wire);
        assert_eq!(drain(&mut d), want);
        assert_eq!(d.skipped_bytes(), 0);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn garbage_is_skipped_and_counted() {
        let wire = [
            &b"noise"[..],
            &encode(b"a"),
            b"\r\n",
            &encode(b"b"),
            b"tail",
        ]
        .concat();
        let mut d = MllpDecoder::new(100);
        d.push(&wire);
        assert_eq!(drain(&mut d), vec![Ok(b"a".to_vec()), Ok(b"b".to_vec())]);
        assert_eq!(d.skipped_bytes(), 5 + 2 + 4);
        assert!(!d.in_frame());
    }

    #[test]
    fn oversize_frames_error_then_resync() {
        let big = vec![b'x'; 50];
        let mut d = MllpDecoder::new(10);
        // all at once
        d.push(&[encode(&big), encode(b"ok")].concat());
        assert_eq!(
            drain(&mut d),
            vec![
                Err(MllpError::FrameTooLarge { limit: 10 }),
                Ok(b"ok".to_vec())
            ]
        );
        // streamed: the error comes before the end arrives, memory stays bounded
        let mut d = MllpDecoder::new(10);
        let wire = [encode(&big), encode(b"ok")].concat();
        let mut got = Vec::new();
        for chunk in wire.chunks(4) {
            d.push(chunk);
            assert!(d.buffered() <= 16);
            got.extend(drain(&mut d));
        }
        assert_eq!(
            got,
            vec![
                Err(MllpError::FrameTooLarge { limit: 10 }),
                Ok(b"ok".to_vec())
            ]
        );
        // exactly at the limit is fine
        let mut d = MllpDecoder::new(3);
        d.push(&encode(b"abc"));
        assert_eq!(drain(&mut d), vec![Ok(b"abc".to_vec())]);
    }

    #[test]
    fn unterminated_frame_is_dropped_at_the_next_start() {
        let mut d = MllpDecoder::new(100);
        d.push(b"\x0bcut off");
        assert_eq!(d.next_frame(), None);
        assert!(d.in_frame());
        d.push(&encode(b"next"));
        assert_eq!(
            drain(&mut d),
            vec![
                Err(MllpError::UnterminatedFrame { discarded: 7 }),
                Ok(b"next".to_vec())
            ]
        );
    }
}
