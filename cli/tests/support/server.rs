//! `connector serve` started by a test as a user starts it: the real binary on a random
//! loopback port, its "listening" line awaited, killed when dropped. Included by the cli tests
//! that need a running server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `connector serve`.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `connector serve` on a random loopback port and waits for its "listening" line.
pub fn serve(db: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start connector");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("connector exited before listening")
            .expect("read stdout");
        if let Some(url) = line.strip_prefix("connector listening on ") {
            break url.to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, address }
}
