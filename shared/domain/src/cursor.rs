//! Opaque page cursors for the adapters' keyset pagination (patient search, a patient's
//! appointments, the audit log): a few key strings, hex-encoded behind a version tag. Cursors
//! are short-lived and opaque to clients; [`decode`] accepts only what [`encode`] wrote.

use crate::StoreError;

/// The longest cursor [`decode`] reads.
const MAX_LEN: usize = 1024;

/// A cursor made of `parts` (hex of `v1` and the parts, separated by U+001F).
pub fn encode(parts: &[&str]) -> String {
    let mut text = String::from("v1");
    for part in parts {
        text.push('\u{1f}');
        text.push_str(part);
    }
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The `n` parts (none empty) of a cursor [`encode`] wrote; `InvalidCursor` for anything
/// else.
pub fn decode(text: &str, n: usize) -> Result<Vec<String>, StoreError> {
    let bad = || StoreError::InvalidCursor;
    if !text.len().is_multiple_of(2) || text.len() > MAX_LEN {
        return Err(bad());
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let plain = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = plain.split('\u{1f}');
    if parts.next() != Some("v1") {
        return Err(bad());
    }
    let parts: Vec<String> = parts.map(str::to_owned).collect();
    if parts.len() != n || parts.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode(&["nunez", "p-1"]);
        assert_eq!(decode(&c, 2).unwrap(), ["nunez", "p-1"]);
        assert!(decode(&c, 1).is_err());
        for bad in [
            "",
            "zz",
            "abc",
            &encode(&["", "p"]),
            &"x".repeat(2 * MAX_LEN),
        ] {
            assert!(
                matches!(decode(bad, 2), Err(StoreError::InvalidCursor)),
                "{bad}"
            );
        }
    }
}
