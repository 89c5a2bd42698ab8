//! What the e2e and aws test binaries share: one [`TestApp`](app::TestApp) built per backend
//! (a SQLite temp file served over HTTP, or DynamoDB Local + moto behind the Lambda handlers),
//! one [`Reply`](reply::Reply), one way to send HTTP, MLLP and signed requests, the fixtures,
//! the log capture, and the HIE scenarios written once and run on both backends.
//!
//! Each binary includes this folder with `#[path]` and uses part of it (the e2e binary never
//! polls SQS, the aws binary never reads an outbox), hence the `dead_code` and `unused_imports` allowances.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod aws;
pub mod fixtures;
pub mod hie;
pub mod hl7;
pub mod listing;
pub mod logs;
pub mod reply;
pub mod scenario;

pub use app::{
    Backend, Caller, QueueSetup, TestApp, spawn_app, spawn_app_with, spawn_on_aws,
    spawn_on_aws_with,
};
pub use aws::Polled;
pub use fixtures::{
    actions, appointment_json, n, patient_json, phi_values, s, sample_event, start_time,
};
pub use logs::{capture_logs, captured_logs, mentions};
pub use reply::Reply;
