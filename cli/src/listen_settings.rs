//! `connector serve`'s connection settings: the HTTP server's timeouts and connection cap, and
//! the MLLP listener's (named after Mirth Connect's TCP Listener settings). See README,
//! "Operations".

use std::time::Duration;

use connector_transport::mllp::server::{self, IpNet, ServerConfig};

use crate::http_server::HttpLimits;

/// HTTP connection limits of `connector serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpSettings {
    /// Seconds a client may take to send a request's line and headers (also how long a
    /// kept-alive connection may wait for its next request); then the connection is closed.
    #[arg(
        long,
        default_value_t = 30,
        env = "CONNECTOR_HTTP_HEADER_READ_TIMEOUT_SECS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    http_header_read_timeout_secs: u64,
    /// Seconds a client may take to send a request's body after its headers; a body still
    /// arriving then is answered 408 and the connection closed.
    #[arg(
        long,
        default_value_t = 60,
        env = "CONNECTOR_HTTP_BODY_READ_TIMEOUT_SECS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    http_body_read_timeout_secs: u64,
    /// Connections open at once; further ones wait in the listen backlog until one closes.
    #[arg(
        long,
        default_value_t = 512,
        env = "CONNECTOR_HTTP_MAX_CONNECTIONS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    http_max_connections: u64,
}

impl HttpSettings {
    /// The server's limits.
    pub fn limits(&self) -> HttpLimits {
        HttpLimits {
            header_read_timeout: Duration::from_secs(self.http_header_read_timeout_secs),
            body_read_timeout: Duration::from_secs(self.http_body_read_timeout_secs),
            max_connections: usize::try_from(self.http_max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// MLLP listener settings of `connector serve` (used with --mllp).
#[derive(Debug, Clone, clap::Args)]
pub struct MllpSettings {
    /// Connections served at once. At the cap, a new connection closes the one idle longest
    /// (logged with both addresses), so idle connections cannot lock the EHR out.
    #[arg(
        long,
        default_value_t = 256,
        env = "CONNECTOR_MLLP_MAX_CONNECTIONS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    mllp_max_connections: u64,
    /// Milliseconds a connection may send nothing before it is closed; 0: never (EHRs keep
    /// their connection open for hours).
    #[arg(long, default_value_t = 0, env = "CONNECTOR_MLLP_RECEIVE_TIMEOUT_MS")]
    mllp_receive_timeout_ms: u64,
    /// Whether a connection stays open after each answer (true) or is closed (false).
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        env = "CONNECTOR_MLLP_KEEP_CONNECTION_OPEN"
    )]
    mllp_keep_connection_open: bool,
    /// Seconds without traffic before TCP keep-alive probes check that the peer is still
    /// there; 0: no keep-alive.
    #[arg(long, default_value_t = 60, env = "CONNECTOR_MLLP_TCP_KEEPALIVE_SECS")]
    mllp_tcp_keepalive_secs: u64,
    /// Source addresses allowed to connect: CIDR blocks or addresses, comma-separated (e.g.
    /// 10.20.0.0/16,192.168.1.7). Others are closed at once and logged. Default: any.
    #[arg(
        long,
        env = "CONNECTOR_MLLP_ALLOW",
        value_delimiter = ',',
        value_parser = server::parse_source
    )]
    mllp_allow: Vec<IpNet>,
}

impl MllpSettings {
    /// The listener's settings, with frames up to `max_frame_size` bytes.
    pub fn config(&self, max_frame_size: usize) -> ServerConfig {
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        ServerConfig {
            max_frame_size,
            receive_timeout: nonzero(Duration::from_millis(self.mllp_receive_timeout_ms)),
            max_connections: usize::try_from(self.mllp_max_connections).unwrap_or(usize::MAX),
            keep_connection_open: self.mllp_keep_connection_open,
            tcp_keepalive: nonzero(Duration::from_secs(self.mllp_tcp_keepalive_secs)),
            allow: self.mllp_allow.clone(),
            ..ServerConfig::default()
        }
    }
}
