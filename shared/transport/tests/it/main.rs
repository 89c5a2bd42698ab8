//! connector-transport against real sockets on 127.0.0.1: a fake EHR for the clients, raw
//! TCP peers for the server.

mod helpers;
mod https;
mod mllp_client;
mod mllp_server;
