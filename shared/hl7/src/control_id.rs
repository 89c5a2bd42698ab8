//! MSH-10 message control IDs (see [`ControlIdGenerator`]).

use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

const NODE_SPACE: u64 = 36u64.pow(6);
const COUNTER_SPACE: u64 = 36u64.pow(3);

/// Generates MSH-10 message control IDs. Share one per process.
///
/// [`ControlIdGenerator::next`] returns 18 upper-case base-36 characters (MSH-10 allows 20
/// before v2.5 and 199 after): 6 for the generator's node, 9 for the milliseconds since
/// 1970 (good until the year 5000), 3 for a counter.
///
/// **Uniqueness.** IDs from one generator are strictly increasing (in the order of the
/// characters) and so never repeat, even when the clock stands still or goes back: the
/// generator keeps a logical clock that never falls behind its last ID, and when more than
/// 46,656 IDs are asked for in one millisecond it borrows the next millisecond. IDs from
/// different generators (processes, serverless instances) differ when their nodes differ: give
/// each a distinct node where you have one, or let [`ControlIdGenerator::random`] draw a
/// 31-bit node (two generators then collide only if they share the node, about one chance in
/// two billion per pair, *and* produce the same millisecond and counter).
#[derive(Debug)]
pub struct ControlIdGenerator {
    node: u64,
    state: Mutex<(u64, u64)>, // (logical millisecond, counter)
}

fn base36(mut v: u64, width: usize, out: &mut String) {
    let mut buf = vec![b'0'; width];
    for slot in buf.iter_mut().rev() {
        let d = (v % 36) as u8;
        *slot = if d < 10 { b'0' + d } else { b'A' + d - 10 };
        v /= 36;
    }
    out.extend(buf.iter().map(|&b| char::from(b)));
}

impl ControlIdGenerator {
    /// A generator for a given node number (taken modulo 36^6).
    pub fn new(node: u64) -> Self {
        Self {
            node: node % NODE_SPACE,
            state: Mutex::new((0, 0)),
        }
    }

    /// A generator with a random node, drawn from the standard library's per-process random
    /// hasher seed (no extra dependency, no I/O).
    pub fn random() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x6c37_5f63_6f6e_6e65);
        Self::new(h.finish() & 0x7fff_ffff)
    }

    /// The next ID, for the time `now`.
    pub fn next(&self, now: DateTime<Utc>) -> String {
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let (ms, counter) = {
            let mut st = match self.state.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let (last_ms, last_counter) = *st;
            let next = if now_ms > last_ms {
                (now_ms, 0)
            } else if last_counter + 1 < COUNTER_SPACE {
                (last_ms, last_counter + 1)
            } else {
                (last_ms + 1, 0)
            };
            *st = next;
            next
        };
        let mut id = String::with_capacity(18);
        base36(self.node, 6, &mut id);
        base36(ms, 9, &mut id);
        base36(counter, 3, &mut id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_are_unique_and_increasing_even_with_a_stuck_or_backward_clock() {
        let g = ControlIdGenerator::new(42);
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let mut prev = String::new();
        for i in 0..100_000u32 {
            let now = if i % 3 == 0 {
                t
            } else {
                t - chrono::Duration::seconds(1)
            };
            let id = g.next(now);
            assert_eq!(id.len(), 18);
            assert!(id > prev, "strictly increasing");
            prev = id;
        }
        assert!(prev.starts_with("000016"));
    }

    #[test]
    fn random_nodes_differ() {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let a = ControlIdGenerator::random().next(t);
        let b = ControlIdGenerator::random().next(t);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
    }
}
