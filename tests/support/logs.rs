//! Log capture for a test binary: the production JSON subscriber, installed once, writing into a
//! buffer the tests read (the no-PHI checks and the checks of what a fault logs). Included by the
//! e2e and aws test binaries.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything any test in this binary logged.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the production JSON subscriber once for this binary, writing into a buffer.
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = CaptureWriter(Arc::clone(&buffer));
        connector_app::telemetry::init(move || writer.clone());
        buffer
    });
}

/// The log output captured so far.
pub fn captured_logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap_or_else(|p| p.into_inner())).into_owned())
        .unwrap_or_default()
}

/// Whether `text` holds the PHI `value`. A value made only of digits (postal code, phone, birth
/// date) counts only where it stands as a whole number, not inside a longer run of letters and
/// digits: otherwise a UUID or a timestamp in the logs that happens to contain `62704` would read
/// as a leak (seen: about one run in ten once the binary logged enough ids).
pub fn mentions(text: &str, value: &str) -> bool {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return text.contains(value);
    }
    text.match_indices(value).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + value.len()..].chars().next();
        ![before, after]
            .into_iter()
            .flatten()
            .any(|c| c.is_ascii_alphanumeric())
    })
}

#[test]
fn a_number_inside_an_id_is_not_a_mention_but_a_standalone_one_is() {
    assert!(!mentions(
        "queue_message_id 0840e2f62704fe7 at .627041Z",
        "62704"
    ));
    assert!(mentions(r#"{"zip":"62704"}"#, "62704"));
    assert!(mentions("IL^62704||", "62704"));
    assert!(mentions("Rivera^Casey", "Rivera"));
}
