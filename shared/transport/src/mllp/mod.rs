//! MLLP over TCP (optionally TLS): a client that delivers and a server that listens.
//! Framing is [`connector_hl7::mllp`]'s.

pub mod client;
pub mod server;
