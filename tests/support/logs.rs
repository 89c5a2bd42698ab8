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
