//! What the benchmarks that drive the real `connector serve` binary share: the command line
//! walk, locating the release binary, starting and stopping the server (flows applied first,
//! its JSON logs drained), running concurrent clients, latency percentiles and the Markdown
//! report.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Any error a benchmark reports.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Walks the command line, skipping what `cargo bench` adds (`--bench`, `--`): hands each
/// option to `option` with a way to take its value; `--help` answers with `usage`.
pub fn parse_options(
    usage: &str,
    mut option: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<(), String>,
) -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--bench" || arg == "--" {
            continue;
        }
        if arg == "--help" || arg == "-h" {
            return Err(usage.to_owned());
        }
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        option(&arg, &mut value)?;
    }
    Ok(())
}

/// The parsed options, or (on a usage error) the message on stderr and exit status 2.
pub fn or_usage_exit<T>(parsed: Result<T, String>) -> T {
    parsed.unwrap_or_else(|message| {
        eprintln!("{message}");
        std::process::exit(2)
    })
}

/// A whole number option's value (`_` allowed as a separator).
pub fn number(arg: &str, value: String) -> Result<u64, String> {
    value
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| format!("{arg}: `{value}` is not a number"))
}

/// The `connector` binary: `bin`, or the release build next to this bench's executable
/// (`target/release/deps/<bench>-<hash>` -> `target/release/connector`).
pub fn connector_binary(bin: Option<&Path>) -> Result<PathBuf, BoxError> {
    let path = match bin {
        Some(path) => path.to_owned(),
        None => {
            let exe = std::env::current_exe()?;
            let release = exe
                .parent()
                .and_then(Path::parent)
                .ok_or("cannot locate the target directory")?;
            release.join(format!("connector{}", std::env::consts::EXE_SUFFIX))
        }
    };
    if !path.is_file() {
        return Err(format!(
            "{} not found: build it first with `cargo build --release -p connector-cli` \
             (same CARGO_TARGET_DIR), or pass --bin PATH",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// How to start `connector serve`.
pub struct ServerSetup<'a> {
    /// The flows configuration (JSON) `connector flows apply` takes first.
    pub flows: &'a [u8],
    /// The channel secret's environment variable and value (references must resolve).
    pub secret: (&'a str, &'a str),
    /// The channel an MLLP listener is bound to, if the server should open one.
    pub mllp_channel: Option<&'a str>,
}

/// A started `connector serve` on a temp SQLite file, HTTP (and MLLP) on random ports.
pub struct Server {
    child: Child,
    /// The HTTP address.
    pub http: SocketAddr,
    /// The MLLP address, when asked for.
    pub mllp: Option<SocketAddr>,
    /// Log lines the server wrote so far.
    pub log_lines: Arc<AtomicU64>,
    /// The database file.
    pub db: PathBuf,
}

impl Server {
    /// Applies the flows, then starts `bin serve` in `dir` with its default logging (JSON lines
    /// to stdout, drained here) and waits for its address lines.
    pub fn start(bin: &Path, dir: &Path, setup: &ServerSetup<'_>) -> Result<Self, BoxError> {
        let db = dir.join("connector.db");
        let config = dir.join("flows.json");
        std::fs::write(&config, setup.flows)?;
        let (secret_env, secret) = setup.secret;
        let apply = Command::new(bin)
            .args(["flows", "apply"])
            .arg(&config)
            .arg("--db")
            .arg(&db)
            .env(secret_env, secret)
            .output()?;
        if !apply.status.success() {
            return Err(format!(
                "connector flows apply failed: {}{}",
                String::from_utf8_lossy(&apply.stdout),
                String::from_utf8_lossy(&apply.stderr)
            )
            .into());
        }
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--collect-every", "0"]);
        if let Some(channel) = setup.mllp_channel {
            command.args(["--mllp", "127.0.0.1:0", "--mllp-channel", channel]);
        }
        let mut child = command
            .arg("--db")
            .arg(&db)
            .arg("--outbox")
            .arg(dir.join("outbox"))
            .env(secret_env, secret)
            .env_remove("CONNECTOR_CRM")
            .env_remove("CONNECTOR_STORE")
            .env_remove("CONNECTOR_MLLP_LISTEN")
            .env_remove("CONNECTOR_MLLP_CHANNEL")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let log_lines = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&log_lines);
        // Reads the address lines, then drains the JSON logs so the server never blocks.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                counter.fetch_add(1, Ordering::Relaxed);
                for (prefix, kind) in [
                    ("connector listening on http://", "http"),
                    ("connector MLLP listening on ", "mllp"),
                ] {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        let address = rest.split_whitespace().next().unwrap_or_default();
                        let _ = tx.send((kind, address.to_owned()));
                    }
                }
            }
        });
        let (mut http, mut mllp) = (None, None);
        while http.is_none() || (setup.mllp_channel.is_some() && mllp.is_none()) {
            let (kind, address) = rx
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| "connector serve did not start listening within 30 s")?;
            let address: SocketAddr = address.parse()?;
            match kind {
                "http" => http = Some(address),
                _ => mllp = Some(address),
            }
        }
        Ok(Self {
            child,
            http: http.ok_or("no HTTP address")?,
            mllp,
            log_lines,
            db,
        })
    }

    /// The log lines so far.
    pub fn log_lines(&self) -> u64 {
        self.log_lines.load(Ordering::Relaxed)
    }

    /// SIGTERM (graceful shutdown), then waits.
    pub fn stop(mut self) -> Result<(), BoxError> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs one task per client's work at once; returns everything they return, client by
/// client, or the first error.
pub async fn run_clients<W, T, F, Fut>(work: Vec<W>, client: F) -> Result<Vec<T>, BoxError>
where
    F: Fn(W) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, BoxError>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = work.into_iter().map(|w| tokio::spawn(client(w))).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await??);
    }
    Ok(out)
}

/// The `p`th percentile (nearest rank) of sorted durations; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `n` per second over `elapsed`.
pub fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// p50, p99 and max of sorted latencies, in milliseconds with one decimal.
pub fn latency_cells(sorted: &[Duration]) -> [String; 3] {
    [
        format!("{:.1}", ms(percentile(sorted, 50.0))),
        format!("{:.1}", ms(percentile(sorted, 99.0))),
        format!("{:.1}", ms(sorted.last().copied().unwrap_or_default())),
    ]
}

/// Prints a Markdown table: the first `left` columns left-aligned, the rest right-aligned.
pub fn print_table(columns: &[&str], left: usize, rows: &[Vec<String>]) {
    println!("| {} |", columns.join(" | "));
    let rule: Vec<&str> = (0..columns.len())
        .map(|i| if i < left { "---" } else { "---:" })
        .collect();
    println!("|{}|", rule.join("|"));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

/// A file's size in MiB.
pub fn mib(path: &Path) -> Result<f64, BoxError> {
    Ok(std::fs::metadata(path)?.len() as f64 / (1024.0 * 1024.0))
}
