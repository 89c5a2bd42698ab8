//! HL7 inbound benchmark: messages per second through the whole EHR -> CRM pipeline of the real
//! `connector serve` binary (release build) on a temp SQLite file with the embedded CRM, over
//! HTTP (`POST /hl7/{channel}`, HMAC-signed) and over MLLP, with per-message latency.
//!
//! Set-up (not timed): `connector flows apply` writes the `bench-ehr` channel (secret
//! `env:CONNECTOR_SECRET_BENCH_HMAC`), an ADT^A04 lead flow (capture, primary key MRN,
//! secondary key email) and an SIU^S12 activity flow (capture, matched on the appointment id);
//! then `connector serve --listen 127.0.0.1:0 --mllp 127.0.0.1:0 --mllp-channel bench-ehr
//! --collect-every 0` starts with its default logging (JSON lines to stdout, drained here).
//!
//! Each mode sends N distinct messages, as N/2 invented patients each registered (ADT^A04:
//! patient + opt-out HIE side + lead created after two searches) and then booked (SIU^S12:
//! patient update + appointment + lead found + activity created), every message with its own
//! MSH-10 and each patient with its own MRN. A patient's two messages go through the same
//! client in order. Modes: one client sending sequentially, then K clients at once (HTTP: K
//! tasks sharing one keep-alive pool; MLLP: K connections). A message's latency runs from the
//! first byte written to the whole ACK read; every ACK must be an AA for this message's MSH-10.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-inbound cargo build --release -p connector-cli
//! CARGO_TARGET_DIR=/work/target-inbound cargo bench -p connector-benches --bench hl7_inbound -- \
//!     --messages 2000 --clients 8
//! ```
//!
//! Options: `--messages N` (2000 per mode, even), `--clients K` (8), `--transport
//! http|mllp|both` (both), `--bin PATH` (the `connector` binary; default `../connector` next
//! to this bench's executable, i.e. the release build of the same target dir).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use connector_benches::harness::{
    self, BoxError, Server, ServerSetup, connector_binary, latency_cells, mib, number, per_second,
    print_table,
};
use connector_domain::flow::fixtures as ff;
use connector_hl7::{AckCode, AckInfo, Message, MllpDecoder};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHANNEL: &str = "bench-ehr";
const SECRET_ENV: &str = "CONNECTOR_SECRET_BENCH_HMAC";
const SECRET: &str = "bench-ehr-shared-secret-not-for-production";
const ER7: &str = "x-application/hl7-v2+er7";
const ADT_A04: &str = include_str!("../../events/hl7-inbound/adt-a04.hl7");
const SIU_S12: &str = include_str!("../../events/hl7-inbound/siu-s12.hl7");

/// Command-line options.
#[derive(Debug, Clone)]
struct Args {
    messages: usize,
    clients: usize,
    transport: String,
    bin: Option<PathBuf>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            messages: 2_000,
            clients: 8,
            transport: "both".into(),
            bin: None,
        };
        harness::parse_options(
            "options: --messages N --clients K --transport http|mllp|both --bin PATH",
            |arg, value| {
                match arg {
                    "--messages" | "-n" => args.messages = number(arg, value()?)? as usize,
                    "--clients" | "-k" => args.clients = (number(arg, value()?)? as usize).max(1),
                    "--transport" => args.transport = value()?,
                    "--bin" => args.bin = Some(PathBuf::from(value()?)),
                    other => return Err(format!("unknown option {other}")),
                }
                Ok(())
            },
        )?;
        if args.messages < 2 || !args.messages.is_multiple_of(2) {
            return Err("--messages must be even (A04 + S12 per patient) and at least 2".into());
        }
        if !matches!(args.transport.as_str(), "http" | "mllp" | "both") {
            return Err("--transport must be http, mllp or both".into());
        }
        Ok(args)
    }

    fn binary(&self) -> Result<PathBuf, BoxError> {
        connector_binary(self.bin.as_deref())
    }
}

/// The flows configuration `connector flows apply` takes.
fn flows_config() -> Value {
    let lead_mappings = ff::registration_mappings();
    let mut activity_mappings = lead_mappings.clone();
    activity_mappings.extend([
        json!({"hl7_path": "SCH-2.1", "crm_field": "mx_Custom_1", "target": "activity", "required": true}),
        ff::activity("SCH-11.4", "ActivityDateTime"),
        ff::activity("SCH-7.2", "ActivityNote"),
        ff::activity("SCH-25", "mx_Custom_3"),
    ]);
    let chicago = "America/Chicago";
    let leads = ff::ehr_to_crm_lead(
        "Registrations become leads",
        CHANNEL,
        chicago,
        ADT_A04,
        lead_mappings,
    );
    let appointments = ff::ehr_to_crm_lead(
        "Bookings become activities",
        CHANNEL,
        chicago,
        SIU_S12,
        activity_mappings,
    );
    json!({
        "channels": {
            CHANNEL: {
                "name": "Benchmark EHR",
                "inbound": {"secret": format!("env:{SECRET_ENV}"), "replay_window_secs": 300}
            }
        },
        "flows": {
            "bench-a04-leads": ff::with(leads, json!({"secondary_search": ff::email_search()})),
            "bench-s12-appointments": ff::with(appointments, json!({
                "entity": "activity",
                "event_type": "SIU^S12",
                "activity_sync": "capture",
                "activity_type": 201,
                "activity_match": {"crm_field": "mx_Custom_1", "hl7_path": "SCH-2.1"},
            })),
        }
    })
}

/// One message to send: its MSH-10 and its ER7 text.
#[derive(Debug, Clone)]
struct Outgoing {
    control_id: String,
    text: String,
}

/// Patient `i` of the run `tag`: its ADT^A04 then its SIU^S12 (invented: the sample patient
/// under a generated MRN, email and appointment id).
fn patient_messages(tag: &str, i: usize) -> [Outgoing; 2] {
    let mrn = format!("B{tag}{i:07}");
    let email = format!("bench.{}.{i}@example.invalid", tag.to_ascii_lowercase());
    let appointment = format!("APT-{tag}-{i:07}");
    let personalise = |text: &str, control_id: &str, sample_id: &str| Outgoing {
        control_id: control_id.to_owned(),
        text: text
            .replace(sample_id, control_id)
            .replace("MRN20001", &mrn)
            .replace("casey.rivera@example.org", &email)
            .replace("APT-5001", &appointment),
    };
    [
        personalise(ADT_A04, &format!("{tag}-A04-{i:07}"), "NE-A04-0001"),
        personalise(SIU_S12, &format!("{tag}-S12-{i:07}"), "NE-S12-0004"),
    ]
}

/// The messages of one mode, split over `clients` (a patient's two messages stay together).
fn workload(tag: &str, messages: usize, clients: usize) -> Vec<Vec<Outgoing>> {
    let mut per_client = vec![Vec::new(); clients];
    for i in 0..messages / 2 {
        per_client[i % clients].extend(patient_messages(tag, i));
    }
    per_client
}

/// Starts `connector serve` with the flows and an MLLP listener on the channel.
fn start_server(bin: &Path, dir: &Path) -> Result<Server, BoxError> {
    let flows = serde_json::to_vec_pretty(&flows_config())?;
    let setup = ServerSetup {
        flows: &flows,
        secret: (SECRET_ENV, SECRET),
        mllp_channel: Some(CHANNEL),
    };
    Server::start(bin, dir, &setup)
}

/// Checks an ACK: an AA for `control_id`.
fn check_ack(ack: &[u8], control_id: &str) -> Result<(), BoxError> {
    let message = Message::parse_bytes(ack)?;
    let info = AckInfo::read(&message)?;
    if info.code != AckCode::ApplicationAccept || !info.acknowledges(control_id) {
        return Err(format!("{control_id}: {} {:?}", info.code.as_str(), info.control_id).into());
    }
    Ok(())
}

/// Sends one client's messages over HTTP, in order; returns each message's latency.
async fn http_client(
    client: reqwest::Client,
    url: String,
    messages: Vec<Outgoing>,
) -> Result<Vec<Duration>, BoxError> {
    let mut latencies = Vec::with_capacity(messages.len());
    for message in messages {
        let began = Instant::now();
        let now = chrono::Utc::now().timestamp();
        let (timestamp, signature) = connector_app::ehr_to_crm::signature::sign(
            SECRET.as_bytes(),
            now,
            message.text.as_bytes(),
        );
        let response = client
            .post(&url)
            .header("content-type", ER7)
            .header("x-connector-timestamp", timestamp)
            .header("x-connector-signature", signature)
            .body(message.text)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        latencies.push(began.elapsed());
        if !status.is_success() {
            return Err(format!("{}: HTTP {status}", message.control_id).into());
        }
        check_ack(&body, &message.control_id)?;
    }
    Ok(latencies)
}

/// Sends one client's messages over one MLLP connection, each after the previous ACK.
async fn mllp_client(
    address: SocketAddr,
    messages: Vec<Outgoing>,
) -> Result<Vec<Duration>, BoxError> {
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let mut decoder = MllpDecoder::new(1 << 20);
    let mut buffer = vec![0u8; 16 * 1024];
    let mut latencies = Vec::with_capacity(messages.len());
    for message in messages {
        let began = Instant::now();
        stream
            .write_all(&connector_hl7::mllp::encode(message.text.as_bytes()))
            .await?;
        let ack = loop {
            if let Some(frame) = decoder.next_frame() {
                break frame?;
            }
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                return Err("the MLLP listener closed the connection".into());
            }
            decoder.push(&buffer[..n]);
        };
        latencies.push(began.elapsed());
        check_ack(&ack, &message.control_id)?;
    }
    Ok(latencies)
}

/// One mode's figures.
struct ModeResult {
    transport: &'static str,
    clients: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

async fn run_mode(
    server: &Server,
    transport: &'static str,
    tag: &str,
    messages: usize,
    clients: usize,
) -> Result<ModeResult, BoxError> {
    let work = workload(tag, messages, clients);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let url = format!("http://{}/hl7/{CHANNEL}", server.http);
    let mllp = server.mllp.ok_or("no MLLP listener")?;
    let began = Instant::now();
    let mut latencies = harness::run_clients(work, |messages| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            match transport {
                "http" => http_client(http, url, messages).await,
                _ => mllp_client(mllp, messages).await,
            }
        }
    })
    .await?;
    let elapsed = began.elapsed();
    latencies.sort_unstable();
    Ok(ModeResult {
        transport,
        clients,
        latencies,
        elapsed,
    })
}

/// Leads and activities in the embedded CRM after the run, read from the file.
async fn crm_counts(db: &Path) -> Result<(usize, usize), BoxError> {
    let db = connector_embedded::SqliteDb::open(db)?;
    let crm = db.crm_records();
    let leads = crm.leads().await?;
    let mut activities = 0;
    for lead in &leads {
        activities += crm.activities(&lead.id).await?.len();
    }
    Ok((leads.len(), activities))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = harness::or_usage_exit(Args::parse());
    let bin = args.binary()?;
    let dir = tempfile::tempdir()?;
    let server = start_server(&bin, dir.path())?;
    eprintln!(
        "connector serve ({}) on http://{} and mllp://{}",
        bin.display(),
        server.http,
        server.mllp.ok_or("no MLLP listener")?
    );

    let transports: &[&'static str] = match args.transport.as_str() {
        "http" => &["http"],
        "mllp" => &["mllp"],
        _ => &["http", "mllp"],
    };
    let mut results = Vec::new();
    for &transport in transports {
        for clients in [1, args.clients] {
            let tag = format!("{}{clients}", &transport[..1].to_ascii_uppercase());
            eprintln!(
                "{transport}, {clients} client(s): {} messages...",
                args.messages
            );
            let result = run_mode(&server, transport, &tag, args.messages, clients).await?;
            results.push(result);
        }
    }
    let log_lines = server.log_lines();
    let db_path = server.db.clone();
    server.stop()?;
    let (leads, activities) = crm_counts(&db_path).await?;
    let expected = results.len() * args.messages / 2;
    if (leads, activities) != (expected, expected) {
        return Err(format!(
            "expected {expected} leads and {expected} activities, found {leads} and {activities}"
        )
        .into());
    }

    println!("# HL7 inbound benchmark\n");
    println!(
        "`connector serve` ({}), embedded store and embedded CRM on a temp SQLite file; {} \
         messages per mode ({} patients: ADT^A04 then SIU^S12), every ACK an AA.\n",
        bin.display(),
        args.messages,
        args.messages / 2
    );
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let mut row = vec![
                r.transport.to_owned(),
                r.clients.to_string(),
                r.latencies.len().to_string(),
                format!("{:.2}", r.elapsed.as_secs_f64()),
                format!("{:.0}", per_second(r.latencies.len(), r.elapsed)),
            ];
            row.extend(latency_cells(&r.latencies));
            row
        })
        .collect();
    print_table(
        &[
            "transport",
            "clients",
            "messages",
            "elapsed (s)",
            "msgs/s",
            "p50 (ms)",
            "p99 (ms)",
            "max (ms)",
        ],
        1,
        &rows,
    );
    println!(
        "\nAfterwards: {leads} leads and {activities} activities in the embedded CRM (as \
         expected); {log_lines} log lines from the server; database {:.1} MiB.",
        mib(&db_path)?
    );
    Ok(())
}
