//! Escape sequences: decoded on read, encoded on write.
//!
//! | sequence | meaning |
//! |---|---|
//! | `\F\` `\S\` `\T\` `\R\` `\E\` | field, component, subcomponent, repetition separator, escape character |
//! | `\P\` | truncation character (v2.7+, only when MSH-2 declares one) |
//! | `\Xhh..\` | bytes in hex: read as UTF-8 when they form UTF-8, else as ISO 8859-1 |
//! | `\.br\` | line break, decoded as `\n` |
//!
//! (Shown with the usual escape character `\`; the message's own escape character is used.)
//! Other sequences (`\H\`, `\N\`, `\.sp\`, `\Cxxyy\`, `\Mxxyyzz\`, `\Zxx\`...) are formatting
//! or character-set switches: they are kept verbatim, as HAPI does.
//!
//! Encoding writes each delimiter as its sequence, `\n` as `\.br\` and `\r` as `\X0D\`, so
//! `decode(encode(s)) == s` for every string.

use std::borrow::Cow;

use crate::separators::Separators;
use crate::text::slice;

/// Decodes the escape sequences of one leaf value. Borrows when there is none.
pub fn decode<'a>(text: &'a str, seps: &Separators) -> Cow<'a, str> {
    let esc = seps.escape;
    let bytes = text.as_bytes();
    let Some(first) = memchr::memchr(esc, bytes) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(slice(text, 0, first));
    let mut i = first; // bytes[i] == esc
    loop {
        let after = i + 1;
        let Some(rel) = memchr::memchr(esc, bytes.get(after..).unwrap_or_default()) else {
            // An escape character with no closing one: data.
            out.push_str(slice(text, i, bytes.len()));
            break;
        };
        let close = after + rel;
        let body = slice(text, after, close);
        if !decode_sequence(body, seps, &mut out) {
            out.push_str(slice(text, i, close + 1));
        }
        let next = close + 1;
        match memchr::memchr(esc, bytes.get(next..).unwrap_or_default()) {
            Some(rel) => {
                out.push_str(slice(text, next, next + rel));
                i = next + rel;
            }
            None => {
                out.push_str(slice(text, next, bytes.len()));
                break;
            }
        }
    }
    Cow::Owned(out)
}

/// Appends the meaning of one sequence body; `false` when the body is not one we decode.
fn decode_sequence(body: &str, seps: &Separators, out: &mut String) -> bool {
    let c = match body {
        "F" => seps.field,
        "S" => seps.component,
        "T" => seps.subcomponent,
        "R" => seps.repetition,
        "E" => seps.escape,
        "P" => match seps.truncation {
            Some(t) => t,
            None => return false,
        },
        ".br" => b'\n',
        _ => {
            return body
                .strip_prefix('X')
                .is_some_and(|hex| decode_hex(hex, out));
        }
    };
    out.push(char::from(c));
    true
}

fn decode_hex(hex: &str, out: &mut String) -> bool {
    let h = hex.as_bytes();
    if h.is_empty() || !h.len().is_multiple_of(2) || !h.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let bytes: Vec<u8> = h
        .chunks(2)
        .map(|pair| pair.iter().fold(0u8, |acc, d| acc * 16 + hex_value(*d)))
        .collect();
    match std::str::from_utf8(&bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.extend(bytes.iter().map(|&b| char::from(b))),
    }
    true
}

fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        b'A'..=b'F' => d - b'A' + 10,
        _ => 0,
    }
}

/// Whether a byte must be escaped in a value.
#[inline]
fn needs_escape(b: u8, seps: &Separators) -> bool {
    b == seps.field
        || b == seps.component
        || b == seps.repetition
        || b == seps.escape
        || b == seps.subcomponent
        || Some(b) == seps.truncation
        || b == b'\r'
        || b == b'\n'
}

/// Encodes a value for ER7: delimiters, `\r` and `\n` become escape sequences. Borrows when
/// nothing needs escaping.
pub fn encode<'a>(text: &'a str, seps: &Separators) -> Cow<'a, str> {
    if !text.bytes().any(|b| needs_escape(b, seps)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let e = seps.escape();
    for ch in text.chars() {
        let b = u32::from(ch);
        let seq = match u8::try_from(b) {
            Ok(b) if needs_escape(b, seps) => {
                if b == seps.field {
                    "F"
                } else if b == seps.component {
                    "S"
                } else if b == seps.subcomponent {
                    "T"
                } else if b == seps.repetition {
                    "R"
                } else if b == seps.escape {
                    "E"
                } else if b == b'\n' {
                    ".br"
                } else if b == b'\r' {
                    "X0D"
                } else {
                    "P"
                }
            }
            _ => {
                out.push(ch);
                continue;
            }
        };
        out.push(e);
        out.push_str(seq);
        out.push(e);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Separators = Separators::STANDARD;

    #[test]
    fn decodes_the_standard_sequences() {
        assert_eq!(
            decode(r"a\F\b\S\c\T\d\R\e\E\f\.br\g", &S),
            "a|b^c&d~e\\f\ng"
        );
        assert_eq!(decode(r"\X0D0A\", &S), "\r\n");
        assert_eq!(decode(r"caf\XC3A9\", &S), "café");
        assert_eq!(decode(r"caf\XE9\", &S), "café"); // not UTF-8: ISO 8859-1
        assert!(matches!(decode("plain", &S), Cow::Borrowed("plain")));
    }

    #[test]
    fn keeps_unknown_and_malformed_sequences() {
        assert_eq!(decode(r"\H\bold\N\", &S), r"\H\bold\N\");
        assert_eq!(decode(r"a\b", &S), r"a\b");
        assert_eq!(decode(r"\X0\", &S), r"\X0\");
        assert_eq!(decode(r"\\", &S), r"\\");
        assert_eq!(decode(r"\P\", &S), r"\P\"); // no truncation character declared
        let t = Separators::new('|', '^', '~', '\\', '&', Some('#')).unwrap();
        assert_eq!(decode(r"\P\", &t), "#");
    }

    #[test]
    fn encodes_and_round_trips() {
        let s = "O'Brien | Smith^Jones & co ~ 50% \\ line1\nline2\r#";
        let e = encode(s, &S);
        assert_eq!(
            e,
            r"O'Brien \F\ Smith\S\Jones \T\ co \R\ 50% \E\ line1\.br\line2\X0D\#"
        );
        assert_eq!(decode(&e, &S), s);
        assert!(matches!(encode("plain", &S), Cow::Borrowed("plain")));
    }

    #[test]
    fn custom_escape_character() {
        let s = Separators::new('#', '$', '*', '@', '!', None).unwrap();
        assert_eq!(decode("a@F@b@E@", &s), "a#b@");
        assert_eq!(encode("a#b@", &s), "a@F@b@E@");
    }
}
