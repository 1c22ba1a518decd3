//! A timeout that costs nothing for futures that complete on their first poll.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// Runs `future` to completion, or until `duration` has passed since its first poll.
///
/// Unlike `tokio::time::timeout`, it polls the future once before reading the clock,
/// so a future that is ready at once (most handlers and publishes) pays for no clock
/// read and no timer.
///
/// # Errors
///
/// Returns `Err(())` when the duration elapsed first; the future is dropped then.
pub(crate) async fn timeout_after_first_poll<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, ()> {
    let mut future = pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout(duration, future).await.map_err(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_future_completes_without_timer() {
        let output = timeout_after_first_poll(Duration::ZERO, async { 7 }).await;
        assert_eq!(output, Ok(7));
    }

    #[tokio::test]
    async fn pending_future_times_out() {
        let output =
            timeout_after_first_poll(Duration::from_millis(10), std::future::pending::<()>()).await;
        assert_eq!(output, Err(()));
    }

    #[tokio::test]
    async fn slow_future_within_deadline_completes() {
        let slow = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            3
        };
        let output = timeout_after_first_poll(Duration::from_secs(5), slow).await;
        assert_eq!(output, Ok(3));
    }
}
