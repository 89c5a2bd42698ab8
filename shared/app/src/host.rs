#![cfg(feature = "ehr-transport")]
//! The local host's assembly, written once: the router every API is served on and the workers
//! that run beside it. `connector serve` runs exactly this on the embedded store; the end-to-end
//! tests build their app from the same functions, so what they test is what `serve` runs.
//!
//! On AWS each part is its own function instead (see `crate::lambda`): the same routers and
//! jobs, hosted one per Lambda.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use connector_transport::mllp::server::{ServerConfig, serve_with};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Context;
use crate::crm_to_ehr::delivery::{self, EhrDelivery};
use crate::hie::collector::{self, CollectorOptions};
use crate::hie::sender::HieSender;
use crate::http::auth::{Authenticate, authenticated};
use crate::jobs::worker;

/// Every route of the local host: the consent API behind `auth`; the HL7 inbound and CRM
/// webhook routes beside it, since channels authenticate those (signatures, tokens).
pub fn router(ctx: &Arc<Context>, auth: Arc<dyn Authenticate>) -> Router {
    authenticated(crate::http::router(Arc::clone(ctx)), auth)
        .merge(crate::http::hl7_inbound::router(Arc::clone(ctx)))
        .merge(crate::http::crm_outbound::router(Arc::clone(ctx)))
}

/// How often the local host's workers run.
#[derive(Debug, Clone)]
pub struct Workers {
    /// The HIE sender's longest pause on an empty queue (a send ends it sooner).
    pub hie_idle: Duration,
    /// The EHR delivery's longest pause on an empty queue (a send ends it sooner).
    pub delivery_idle: Duration,
    /// Between batch collector runs; `None`: no collector (`connector collect` runs one).
    pub collect_every: Option<Duration>,
    /// Between re-enqueues of deliveries left queued ([`delivery::requeue_stale`]).
    pub requeue_every: Duration,
    /// How long a delivery stays queued before it counts as stale.
    pub requeue_after: chrono::Duration,
}

impl Default for Workers {
    /// `connector serve`'s: 1 s, 500 ms, a collector run every minute, a stale-delivery
    /// sweep every minute for deliveries queued over two minutes.
    fn default() -> Self {
        Self {
            hie_idle: Duration::from_secs(1),
            delivery_idle: Duration::from_millis(500),
            collect_every: Some(Duration::from_secs(60)),
            requeue_every: Duration::from_secs(60),
            requeue_after: chrono::Duration::minutes(2),
        }
    }
}

/// Starts the workers on `ctx`'s queues: the HIE sender, the EHR delivery, the stale-delivery
/// sweep and (if set) the batch collector. They stop when `stop` turns true; await the handles.
pub fn spawn_workers(
    ctx: &Arc<Context>,
    workers: &Workers,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut jobs = vec![
        tokio::spawn(worker::run(
            Arc::clone(ctx),
            HieSender,
            workers.hie_idle,
            stop.clone(),
        )),
        tokio::spawn(worker::run(
            Arc::clone(ctx),
            EhrDelivery,
            workers.delivery_idle,
            stop.clone(),
        )),
        tokio::spawn(requeue_stale_deliveries(
            Arc::clone(ctx),
            workers.requeue_every,
            workers.requeue_after,
            stop.clone(),
        )),
    ];
    if let Some(every) = workers.collect_every {
        jobs.push(tokio::spawn(collector::run_every(
            Arc::clone(ctx),
            every,
            CollectorOptions::default(),
            stop.clone(),
        )));
    }
    jobs
}

/// Every `every`, puts back on the delivery queue deliveries left queued for over `after`
/// (their enqueue failed after the webhook was recorded).
async fn requeue_stale_deliveries(
    ctx: Arc<Context>,
    every: Duration,
    after: chrono::Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = delivery::requeue_stale(&ctx, after).await {
            tracing::error!(error = %e, "cannot re-enqueue stale deliveries");
        }
    }
}

/// Serves HL7 over MLLP for `channel` on `listener` until `shutdown`: the same EHR -> CRM pipeline
/// as `POST /hl7/{channel_id}` (see [`crate::ehr_to_crm::mllp_handler`]).
pub fn spawn_mllp(
    ctx: &Arc<Context>,
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    channel: String,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let handler = crate::ehr_to_crm::mllp_handler(Arc::clone(ctx), channel);
    tokio::spawn(serve_with(listener, config, handler, shutdown))
}
