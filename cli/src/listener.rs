//! What the cli's MLLP listeners (`connector hl7 listen`, `connector mllp-bridge`) share: a
//! multi-threaded runtime, the bound listener, and a shutdown token a stop signal cancels; and
//! the stop signal itself, which `connector serve` waits for too.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Binds `address` on a new multi-threaded runtime and runs `serve` with the listener and a
/// token that is cancelled when `stop` completes; returns what `serve` returns.
///
/// # Errors
/// The runtime cannot start, `address` cannot be bound, or `serve` fails.
pub fn serve_until<F, Fut>(
    address: SocketAddr,
    stop: impl Future<Output = ()> + Send + 'static,
    serve: F,
) -> anyhow::Result<()>
where
    F: FnOnce(TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let shutdown = CancellationToken::new();
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            stop.await;
            cancel.cancel();
        });
        serve(listener, shutdown).await
    })
}

/// Completes on Ctrl-C or, on Unix, SIGTERM (how a service manager or a container stops us).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
