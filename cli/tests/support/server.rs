//! `connector serve` started by a test as a user starts it: the real binary on a random
//! loopback port, its "listening" line awaited, killed when dropped. Included by the cli tests
//! that need a running server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running `connector serve`.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Everything the server wrote to stdout (its log) so far.
    pub log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `connector serve` on a random loopback port and waits for its "listening" line.
pub fn serve(db: &std::path::Path, extra: &[&str]) -> Server {
    serve_with_env(db, extra, &[])
}

/// [`serve`] with environment variables set for the server.
pub fn serve_with_env(db: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start connector");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut early = String::new();
    let address = loop {
        let line = lines
            .next()
            .expect("connector exited before listening")
            .expect("read stdout");
        if let Some(url) = line.strip_prefix("connector listening on ") {
            break url.to_owned();
        }
        early.push_str(&line);
        early.push('\n');
    };
    // Keep draining stdout so the server never blocks on a full pipe, keeping it for the test.
    let log = Arc::new(Mutex::new(early));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Server {
        child,
        address,
        log,
    }
}
