//! Waiting for the signals that should stop an example cleanly.

/// Completes when the process receives Ctrl-C (SIGINT) or, on Unix, SIGTERM.
///
/// Returning from `main` after this completes runs every destructor, which stops a
/// private `nats-server`. The default action of these signals would skip them.
/// A signal whose handler cannot be installed is logged and then ignored here, so it
/// keeps its default action.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %error, "failed to listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
