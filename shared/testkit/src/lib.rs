//! Test support for Clinic Connector: the contract suites every store and queue adapter must pass,
//! invented patient fixtures, fault-injecting decorators, races of concurrent tasks, log capture for the no-PHI-in-logs tests, and the launcher for the
//! local AWS endpoints (DynamoDB Local, moto).
//!
//! Only test code depends on this crate.

pub mod contract;
pub mod faults;
pub mod fixtures;
pub mod local_aws;
pub mod race;
