//! Small, panic-free scanning helpers shared by the parser, the views and the builder.

/// `s[start..end]`, or `""` when the range is not valid (never happens for ranges found by
/// scanning for ASCII delimiters, but slicing must never panic).
#[inline]
pub(crate) fn slice(s: &str, start: usize, end: usize) -> &str {
    s.get(start..end).unwrap_or_default()
}

/// The `n`th (1-based) piece of `s` split on `sep`; `None` past the last piece.
#[inline]
pub(crate) fn nth_piece(s: &str, sep: u8, n: usize) -> Option<&str> {
    if n == 0 {
        return None;
    }
    let bytes = s.as_bytes();
    let mut start = 0usize;
    let mut k = 1usize;
    loop {
        let rest = bytes.get(start..).unwrap_or_default();
        let end = memchr::memchr(sep, rest).map(|p| start + p);
        if k == n {
            return Some(slice(s, start, end.unwrap_or(bytes.len())));
        }
        start = end? + 1;
        k += 1;
    }
}

/// How many pieces `s` splits into on `sep` (at least 1).
#[inline]
pub(crate) fn piece_count(s: &str, sep: u8) -> usize {
    memchr::memchr_iter(sep, s.as_bytes()).count() + 1
}

/// Whether `s` holds any of the given bytes.
#[inline]
pub(crate) fn contains_any(s: &str, a: u8, b: u8, c: u8) -> bool {
    memchr::memchr3(a, b, c, s.as_bytes()).is_some()
}

/// Whether a line is blank (empty or only spaces and tabs): blank lines between segments are
/// tolerated.
#[inline]
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b' ' || b == b'\t')
}

/// Whether `id` is a segment ID: an upper-case ASCII letter then two upper-case letters or digits.
#[inline]
pub(crate) fn is_segment_id(id: &[u8]) -> bool {
    matches!(id, [a, b, c] if a.is_ascii_uppercase()
        && (b.is_ascii_uppercase() || b.is_ascii_digit())
        && (c.is_ascii_uppercase() || c.is_ascii_digit()))
}

/// Iterates the lines of `bytes` split on `\r`, `\n` and `\r\n`, as `(start, end)` byte ranges,
/// blank ones included.
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            done: false,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let rest = self.bytes.get(start..).unwrap_or_default();
        match memchr::memchr2(b'\r', b'\n', rest) {
            Some(p) => {
                self.pos = start + p + 1;
                Some((start, start + p))
            }
            None => {
                self.done = true;
                Some((start, self.bytes.len()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces() {
        assert_eq!(nth_piece("a|b||d", b'|', 1), Some("a"));
        assert_eq!(nth_piece("a|b||d", b'|', 3), Some(""));
        assert_eq!(nth_piece("a|b||d", b'|', 4), Some("d"));
        assert_eq!(nth_piece("a|b||d", b'|', 5), None);
        assert_eq!(nth_piece("", b'|', 1), Some(""));
        assert_eq!(nth_piece("x", b'|', 0), None);
        assert_eq!(piece_count("a|b||d", b'|'), 4);
    }

    #[test]
    fn lines() {
        let l: Vec<_> = Lines::new(b"a\r\nb\rc\n\nd").collect();
        assert_eq!(l, vec![(0, 1), (2, 2), (3, 4), (5, 6), (7, 7), (8, 9)]);
    }
}
