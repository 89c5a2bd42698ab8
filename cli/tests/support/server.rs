//! The real `connector` binary as the cli tests start it: [`serve`] runs `connector serve` as a
//! user starts it (a random loopback port, its "listening" line awaited, killed when dropped);
//! [`start_listening`] starts any listening command (serve with options, the MLLP bridge) and
//! awaits its line; [`run`] runs a one-shot command with standard input; [`token_add`] adds a
//! token to a token file.
//! Included by the cli tests that need it; not every test uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
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

impl Server {
    /// The server's URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
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
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .envs(env.iter().copied());
    let log = Arc::new(Mutex::new(String::new()));
    let keep = |log: &Arc<Mutex<String>>, line: String| {
        let mut log = log.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
    };
    let (child, address, lines) =
        start_listening(&mut command, "connector listening on ", |line| {
            keep(&log, line)
        });
    // Keep draining stdout so the server never blocks on a full pipe, keeping it for the test.
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            keep(&sink, line);
        }
    });
    Server {
        child,
        address,
        log,
    }
}

/// Starts `command` (stdout piped, stderr discarded) and reads its stdout up to the line that
/// starts with `prefix`, handing every line before it to `before` (a test's checks, its log).
/// Returns the process, the rest of that line (the address), and the lines still to come: the
/// caller keeps draining them so the process never blocks on a full pipe.
pub fn start_listening(
    command: &mut Command,
    prefix: &str,
    mut before: impl FnMut(String),
) -> (Child, String, Lines<BufReader<ChildStdout>>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start connector");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    loop {
        let line = lines
            .next()
            .expect("connector exited before listening")
            .expect("read stdout");
        match line.strip_prefix(prefix) {
            Some(rest) => return (child, rest.to_owned(), lines),
            None => before(line),
        }
    }
}

/// Runs `connector token add` for `user` with `role` on the token file `file` (created or
/// extended); returns the token it printed. Panics if the command fails.
pub fn token_add(file: &std::path::Path, user: &str, role: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["token", "add", "--user", user, "--role", role, "--file"])
        .arg(file)
        .output()
        .expect("run connector token add");
    assert!(output.status.success(), "token add");
    String::from_utf8(output.stdout)
        .expect("a UTF-8 token")
        .trim()
        .to_owned()
}

/// Runs `command` to its end with `stdin` as its standard input: (success, stdout, stderr).
pub fn run(command: &mut Command, stdin: &[u8]) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run connector");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("connector ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
