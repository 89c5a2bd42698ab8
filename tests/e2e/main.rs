//! End-to-end tests: the real routers served over real HTTP on random ports, on a real SQLite
//! file. One test binary (zero2prod's shape) with `helpers::spawn_app`.

mod helpers;
#[path = "../support/logs.rs"]
mod logs;

mod audit_log;
mod auth;
mod config_without_code;
mod consents;
mod crm_outbound;
mod crm_outbound_delivery;
mod crm_outbound_support;
mod flows_admin;
mod hardening;
mod hie_faults;
mod hie_pipeline;
mod hl7_inbound;
mod hl7_inbound_ambiguous;
mod hl7_inbound_faults;
mod hl7_inbound_support;
mod hl7_value_limits;
mod no_phi_in_logs;
mod patient_search;
mod patients;
mod settings;
