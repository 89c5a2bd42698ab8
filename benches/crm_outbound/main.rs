//! CRM outbound benchmark: webhook-to-ACK delivery through the real `connector serve` binary
//! (release build) on a temp SQLite file: LeadSquared lead update webhooks POSTed over HTTP to
//! `/crm/webhooks/{channel}`, mapped to ADT^A08, queued per patient and delivered by the
//! server's delivery worker over MLLP to a listener in this bench that answers AA.
//!
//! Set-up (not timed): `connector flows apply` writes the `bench-ehr` channel (outbound MLLP to
//! this bench's listener, webhook token) and a `lead_update` -> ADT^A08 flow; then `connector
//! serve --listen 127.0.0.1:0 --collect-every 0` starts with its default logging (JSON lines to
//! stdout, drained here).
//!
//! The run POSTs N webhooks (invented: the sample lead of `events/crm-outbound` under generated
//! ProspectIDs and MRNs) for P patients, each webhook a new modification of its lead, from K
//! concurrent senders (a patient's webhooks all from one sender, in order). Per message the
//! latency runs from the start of its webhook POST to the moment the listener has written the
//! AA for it; the listener records times by MSH-10, and the webhook's `DeliveryIds` are mapped
//! to MSH-10s through the database after the run. Throughput is messages over the time from the
//! first POST to the last ACK. The run checks itself: every delivery delivered, each MSH-10
//! received exactly once, and each patient's messages received in the order of its webhooks.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-outbound cargo build --release -p connector-cli
//! CARGO_TARGET_DIR=/work/target-outbound cargo bench -p connector-benches --bench crm_outbound -- \
//!     --messages 2000 --patients 200 --senders 8
//! ```
//!
//! Options: `--messages N` (2000), `--patients P` (200), `--senders K` (8), `--rate R`
//! (webhooks per second over all senders, open loop; default 0: every sender posts its next
//! webhook as soon as the previous one is answered), `--bin PATH` (the `connector` binary;
//! default `../connector` next to this bench's executable, i.e. the release build of the same
//! target dir).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_benches::harness::{
    self, BoxError, Server, ServerSetup, connector_binary, latency_cells, mib, ms, number,
    per_second, percentile, print_table,
};
use connector_domain::delivery::{DeliveryId, DeliveryState};
use connector_domain::flow::fixtures as ff;
use connector_hl7::{Message, MllpDecoder, Path as Hl7Path};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHANNEL: &str = "bench-ehr";
const SECRET_ENV: &str = "CONNECTOR_SECRET_BENCH_HMAC";
const SECRET: &str = "bench-ehr-shared-secret-not-for-production";
const TOKEN_HEADER: &str = "x-connector-webhook-token";
const TOKEN: &str = "bench-webhook-token-not-for-production";
/// SHA-256 of [`TOKEN`].
const TOKEN_SHA256: &str = "29b60796f0bf0f60d3453c47104f970dbb692b51fe0ce3015c3cd8532f8faa4f";
const LEAD_UPDATE: &str = include_str!("../../events/crm-outbound/lead-update.payload.json");
const A08_TEMPLATE: &str = "MSH|^~\\&|CONNECTOR|CRM|BENCHEHR|BENCHCLINIC|20260101000000||ADT^A08^ADT_A01|TEMPLATE|P|2.5\r\
EVN|A08|20260101000000\r\
PID|1||SAMPLE^^^BENCHCLINIC^MR||Sample^Patient||19000101|U|||1 Sample St^^Sampletown^ST^00000||(000)000-0000\r\
PV1|1|O\r";

/// Command-line options.
#[derive(Debug, Clone)]
struct Args {
    messages: usize,
    patients: usize,
    senders: usize,
    /// Webhooks per second over all senders (0: each sender as fast as it is answered).
    rate: f64,
    bin: Option<PathBuf>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            messages: 2_000,
            patients: 200,
            senders: 8,
            rate: 0.0,
            bin: None,
        };
        harness::parse_options(
            "options: --messages N --patients P --senders K --rate R --bin PATH",
            |arg, value| {
                match arg {
                    "--messages" | "-n" => args.messages = number(arg, value()?)? as usize,
                    "--patients" | "-p" => args.patients = number(arg, value()?)? as usize,
                    "--senders" | "-k" => args.senders = (number(arg, value()?)? as usize).max(1),
                    "--rate" | "-r" => {
                        let v = value()?;
                        args.rate = v
                            .parse::<f64>()
                            .ok()
                            .filter(|r| r.is_finite() && *r >= 0.0)
                            .ok_or(format!("--rate: `{v}` is not a rate"))?;
                    }
                    "--bin" => args.bin = Some(PathBuf::from(value()?)),
                    other => return Err(format!("unknown option {other}")),
                }
                Ok(())
            },
        )?;
        if args.messages == 0 || args.patients == 0 || args.patients > args.messages {
            return Err("need 1 <= --patients <= --messages".into());
        }
        Ok(args)
    }

    fn binary(&self) -> Result<PathBuf, BoxError> {
        connector_binary(self.bin.as_deref())
    }
}

/// The flows configuration `connector flows apply` takes: the channel delivers to `ehr`.
fn flows_config(ehr: SocketAddr) -> Value {
    json!({
        "channels": {
            CHANNEL: {
                "name": "Benchmark EHR",
                "inbound": {"secret": format!("env:{SECRET_ENV}"), "replay_window_secs": 300},
                "outbound": {
                    "type": "mllp",
                    "host": ehr.ip().to_string(),
                    "port": ehr.port(),
                    "connect_timeout_ms": 5000,
                    "ack_timeout_ms": 30000,
                    "max_attempts": 5,
                    "backoff_initial_ms": 1000,
                    "backoff_max_ms": 60000
                },
                "crm_webhook": {"header_name": TOKEN_HEADER, "token_hash": TOKEN_SHA256}
            }
        },
        "flows": {
            "bench-lead-updates": ff::lead_updates_to_ehr(CHANNEL, A08_TEMPLATE),
        }
    })
}

/// One webhook to send.
#[derive(Debug, Clone)]
struct Webhook {
    /// Its index in the run.
    index: usize,
    /// The patient's index.
    patient: usize,
    /// The lead's ProspectID.
    lead: String,
    /// The JSON body.
    body: Vec<u8>,
}

/// Webhook `index`: patient `index % patients`, that patient's `index / patients`th change.
fn webhook(template: &Value, index: usize, patients: usize) -> Result<Webhook, BoxError> {
    let patient = index % patients;
    let version = index / patients;
    let lead = format!("bench-lead-{patient:05}");
    let mut body = template.clone();
    body["ProspectID"] = json!(lead);
    body["mx_MRN"] = json!(format!("BMRN{patient:07}"));
    // One modification per second of the lead's day: unique per webhook of a patient.
    body["ModifiedOn"] = json!(format!(
        "2026-11-21 {:02}:{:02}:{:02}",
        version / 3600,
        version / 60 % 60,
        version % 60
    ));
    Ok(Webhook {
        index,
        patient,
        lead,
        body: serde_json::to_vec(&body)?,
    })
}

/// The webhooks per sender: a patient's webhooks all go to one sender, in order.
fn workload(args: &Args) -> Result<Vec<Vec<Webhook>>, BoxError> {
    let template: Value = serde_json::from_str(LEAD_UPDATE)?;
    let mut per_sender = vec![Vec::new(); args.senders];
    for index in 0..args.messages {
        let w = webhook(&template, index, args.patients)?;
        per_sender[w.patient % args.senders].push(w);
    }
    Ok(per_sender)
}

/// What the EHR listener saw: per MSH-10, the PID-3.1 and when its AA was written, in arrival
/// order.
#[derive(Default)]
struct Received {
    acks: Vec<(String, String, Instant)>,
}

fn ack_for(control_id: &str) -> Vec<u8> {
    connector_hl7::mllp::encode(
        format!(
            "MSH|^~\\&|BENCHEHR|BENCHCLINIC|CONNECTOR|CRM|20261121090000||ACK^A08^ACK|A{control_id}|P|2.5\rMSA|AA|{control_id}\r"
        )
        .as_bytes(),
    )
}

/// Serves one MLLP connection: every frame is answered AA and recorded.
async fn ehr_connection(
    mut stream: TcpStream,
    received: Arc<Mutex<Received>>,
) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    let mut decoder = MllpDecoder::new(1 << 20);
    let mut buffer = vec![0u8; 16 * 1024];
    let msh10: Hl7Path = "MSH-10".parse()?;
    let pid3: Hl7Path = "PID-3.1".parse()?;
    loop {
        while let Some(frame) = decoder.next_frame() {
            let frame = frame?;
            let message = Message::parse_bytes(&frame)?;
            let control_id = message.get(&msh10).unwrap_or_default().into_owned();
            let mrn = message.get(&pid3).unwrap_or_default().into_owned();
            stream.write_all(&ack_for(&control_id)).await?;
            let at = Instant::now();
            received
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .acks
                .push((control_id, mrn, at));
        }
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        decoder.push(&buffer[..n]);
    }
}

/// The EHR: an MLLP listener answering AA to everything.
async fn start_ehr() -> Result<(SocketAddr, Arc<Mutex<Received>>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let received = Arc::new(Mutex::new(Received::default()));
    let shared = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let received = Arc::clone(&shared);
            tokio::spawn(async move {
                if let Err(e) = ehr_connection(stream, received).await {
                    eprintln!("EHR connection failed: {e}");
                }
            });
        }
    });
    Ok((address, received))
}

/// Starts `connector serve` with the flows delivering to `ehr`.
fn start_server(bin: &Path, dir: &Path, ehr: SocketAddr) -> Result<Server, BoxError> {
    let flows = serde_json::to_vec_pretty(&flows_config(ehr))?;
    let setup = ServerSetup {
        flows: &flows,
        secret: (SECRET_ENV, SECRET),
        mllp_channel: None,
    };
    Server::start(bin, dir, &setup)
}

/// What one webhook POST gave.
struct Posted {
    index: usize,
    patient: usize,
    began: Instant,
    response_time: Duration,
    delivery_id: String,
}

/// Sends one sender's webhooks in order, each after the previous answer and, when the run is
/// paced (`rate` > 0), not before its turn (`start + index / rate`).
async fn sender(
    client: reqwest::Client,
    base: String,
    webhooks: Vec<Webhook>,
    start: tokio::time::Instant,
    rate: f64,
) -> Result<Vec<Posted>, BoxError> {
    let mut posted = Vec::with_capacity(webhooks.len());
    for w in webhooks {
        if rate > 0.0 {
            tokio::time::sleep_until(start + Duration::from_secs_f64(w.index as f64 / rate)).await;
        }
        let url = format!(
            "{base}/crm/webhooks/{CHANNEL}?event=lead_update&entityType=Lead&entityId={}&eventType=Lead_Post_Update",
            w.lead
        );
        let began = Instant::now();
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header(TOKEN_HEADER, TOKEN)
            .body(w.body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        let response_time = began.elapsed();
        if !status.is_success() || body["Status"] != "Success" {
            return Err(format!("webhook {}: HTTP {status} {body}", w.index).into());
        }
        let ids = body["DeliveryIds"]
            .as_array()
            .ok_or("no DeliveryIds in the answer")?;
        let [id] = ids.as_slice() else {
            return Err(
                format!("webhook {}: {} deliveries, expected 1", w.index, ids.len()).into(),
            );
        };
        posted.push(Posted {
            index: w.index,
            patient: w.patient,
            began,
            response_time,
            delivery_id: id.as_str().ok_or("a delivery id")?.to_owned(),
        });
    }
    Ok(posted)
}

/// Each delivery's MSH-10 and state, read from the database file after the run.
async fn deliveries(
    db: &Path,
    ids: &[String],
) -> Result<HashMap<String, (String, DeliveryState)>, BoxError> {
    let db = connector_embedded::SqliteDb::open(db)?;
    let store = db.deliveries();
    let mut out = HashMap::with_capacity(ids.len());
    for id in ids {
        let delivery = store
            .get(&DeliveryId::parse(id.as_str())?)
            .await?
            .ok_or_else(|| format!("delivery {id} is not in the store"))?;
        out.insert(
            id.clone(),
            (delivery.control_id.as_str().to_owned(), delivery.state),
        );
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = harness::or_usage_exit(Args::parse());
    let bin = args.binary()?;
    let dir = tempfile::tempdir()?;
    let (ehr, received) = start_ehr().await?;
    let server = start_server(&bin, dir.path(), ehr)?;
    eprintln!(
        "connector serve ({}) on http://{}, EHR listener on mllp://{ehr}",
        bin.display(),
        server.http
    );
    let work = workload(&args)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.senders)
        .build()?;
    let base = format!("http://{}", server.http);

    let pace = if args.rate > 0.0 {
        format!("paced at {} webhooks/s", args.rate)
    } else {
        "unpaced".to_owned()
    };
    eprintln!(
        "{} webhooks for {} patients from {} senders, {pace}...",
        args.messages, args.patients, args.senders
    );
    let began = Instant::now();
    let start = tokio::time::Instant::now();
    let posted = harness::run_clients(work, |webhooks| {
        sender(client.clone(), base.clone(), webhooks, start, args.rate)
    })
    .await?;
    let posted_in = began.elapsed();
    // Wait for the last ACK (the worker polls every 500 ms when idle).
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let count = received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .acks
            .len();
        if count >= args.messages {
            break;
        }
        if Instant::now() > deadline {
            return Err(
                format!("only {count} of {} messages reached the EHR", args.messages).into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A little longer, to catch a message delivered twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log_lines = server.log_lines();
    let db_path = server.db.clone();
    server.stop()?;

    let received = std::mem::take(&mut *received.lock().unwrap_or_else(|p| p.into_inner()));
    let ids: Vec<String> = posted.iter().map(|p| p.delivery_id.clone()).collect();
    let stored = deliveries(&db_path, &ids).await?;

    // Checks: each delivered, each MSH-10 received once, each patient's order kept.
    let mut acked: HashMap<&str, (usize, Instant)> = HashMap::new();
    for (position, (control_id, _, at)) in received.acks.iter().enumerate() {
        if acked.insert(control_id.as_str(), (position, *at)).is_some() {
            return Err(format!("{control_id} was delivered twice").into());
        }
    }
    if received.acks.len() != args.messages {
        return Err(format!(
            "{} messages received for {} webhooks",
            received.acks.len(),
            args.messages
        )
        .into());
    }
    let mut latencies = Vec::with_capacity(posted.len());
    let mut last_position: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut in_order = posted.iter().collect::<Vec<_>>();
    in_order.sort_by_key(|p| p.index);
    let mut last_ack = began;
    for p in in_order {
        let (control_id, state) = &stored[&p.delivery_id];
        if *state != DeliveryState::Delivered {
            return Err(format!("delivery {} is {}", p.delivery_id, state.as_str()).into());
        }
        let (position, at) = acked
            .get(control_id.as_str())
            .copied()
            .ok_or_else(|| format!("{control_id} never reached the EHR"))?;
        if let Some((previous_index, previous_position)) = last_position.get(&p.patient)
            && *previous_position > position
        {
            return Err(format!(
                "patient {}: webhook {} arrived before webhook {previous_index}",
                p.patient, p.index
            )
            .into());
        }
        last_position.insert(p.patient, (p.index, position));
        latencies.push(at.duration_since(p.began));
        last_ack = last_ack.max(at);
    }
    latencies.sort_unstable();
    let mut responses: Vec<Duration> = posted.iter().map(|p| p.response_time).collect();
    responses.sort_unstable();
    let elapsed = last_ack.duration_since(began);

    println!("# CRM outbound benchmark\n");
    println!(
        "`connector serve` ({}), embedded store on a temp SQLite file; {} lead update webhooks \
         for {} patients from {} concurrent senders, {pace} (a patient's webhooks in order \
         from one sender), each mapped to one ADT^A08 and delivered over one MLLP connection \
         to a listener answering AA.\n",
        bin.display(),
        args.messages,
        args.patients,
        args.senders
    );
    let mut row = vec![
        latencies.len().to_string(),
        format!("{:.2}", posted_in.as_secs_f64()),
        format!("{:.2}", elapsed.as_secs_f64()),
        format!("{:.0}", per_second(latencies.len(), elapsed)),
    ];
    row.extend(latency_cells(&latencies));
    row.push(format!("{:.1}", ms(percentile(&responses, 50.0))));
    row.push(format!("{:.1}", ms(percentile(&responses, 99.0))));
    print_table(
        &[
            "messages",
            "webhooks posted in (s)",
            "first POST to last ACK (s)",
            "msgs/s",
            "webhook->ACK p50 (ms)",
            "p99 (ms)",
            "max (ms)",
            "webhook response p50 (ms)",
            "p99 (ms)",
        ],
        0,
        &[row],
    );
    println!(
        "\nChecked: {} deliveries delivered, each MSH-10 received exactly once, every patient's \
         messages in webhook order; {log_lines} log lines from the server; database {:.1} MiB.",
        stored.len(),
        mib(&db_path)?
    );
    Ok(())
}
