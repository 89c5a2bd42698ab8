//! The flows service: creating, replacing and deleting channels and flows with their
//! validation and audit ([`admin`]), what a flow would do without doing it ([`preview`]), and
//! the embedded deployment's `local:` secrets ([`secrets`]). The consent API's admin routes
//! ([`crate::http::flows_api`]) and `connector flows` both go through it.

pub mod admin;
pub mod preview;
pub mod secrets;
