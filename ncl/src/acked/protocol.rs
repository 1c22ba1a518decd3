//! The acknowledgement a subscriber sends to a message's reply subject, and the
//! subscriber side that sends it.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::jetstream::Backoff;
use crate::subscriber::pipeline::Outcome;

/// Default for [`SubscriberBuilder::nack_backoff`](crate::SubscriberBuilder::nack_backoff):
/// 100 ms, doubling per consecutive failure, at most 5 s, the Go NCL subscriber's
/// `DefaultBackoffInitialDelay` and `DefaultBackoffMaximumDelay`
/// (`pkg/lib/ncl/subscriber_config.go`).
pub const DEFAULT_NACK_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(100),
    factor: 2.0,
    max: Duration::from_secs(5),
};

/// The body of an acknowledgement, Go NCL's `Result` (`pkg/lib/ncl/result.go`): JSON
/// `{"error":"...","delay":<nanoseconds>}`, each field left out when empty or zero. An
/// acknowledgement is `{}`; a negative one has an error and usually a retry delay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AckBody {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) error: String,
    /// Retry delay in nanoseconds, Go's `time.Duration`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) delay: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

impl AckBody {
    /// Returns the retry delay, or `None` when it is zero or negative.
    pub(crate) fn delay(&self) -> Option<Duration> {
        u64::try_from(self.delay)
            .ok()
            .filter(|nanos| *nanos > 0)
            .map(Duration::from_nanos)
    }
}

/// The bytes of a positive acknowledgement.
const ACK: &[u8] = b"{}";

/// Encodes a negative acknowledgement with `error` and `delay`.
fn nack_body(error: &str, delay: Duration) -> Bytes {
    let body = AckBody {
        error: error.to_owned(),
        delay: i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX),
    };
    // Go's encoding/json escapes as go_json does, so both sides write the same bytes.
    match crate::go_json::to_vec(&body) {
        Ok(bytes) => Bytes::from(bytes),
        // Unreachable: a struct of a string and an integer always serializes.
        Err(_) => Bytes::from_static(b"{\"error\":\"failed to encode the error\"}"),
    }
}

/// Settings of a core subscriber's replies to messages that carry a reply subject.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AckSettings {
    /// Whether to reply at all.
    pub(crate) enabled: bool,
    /// Retry delays sent with negative acknowledgements.
    pub(crate) backoff: Backoff,
}

impl Default for AckSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            backoff: DEFAULT_NACK_BACKOFF,
        }
    }
}

/// Sends the acknowledgements of one subscription.
pub(crate) struct Acknowledger {
    client: async_nats::Client,
    backoff: Backoff,
    /// Failures since the last success, which choose the retry delay, as the Go subscriber
    /// counts them.
    consecutive_failures: u32,
}

impl Acknowledger {
    /// Returns an acknowledger, or `None` when `settings` disable acknowledgements.
    pub(crate) fn new(client: &async_nats::Client, settings: AckSettings) -> Option<Self> {
        settings.enabled.then(|| Self {
            client: client.clone(),
            backoff: settings.backoff,
            consecutive_failures: 0,
        })
    }

    /// Acknowledges a processed or filtered message, or negatively acknowledges a failed
    /// one with the failure and a retry delay from the backoff, and an unhandled one
    /// without a delay. `outcome` is `None` when
    /// the pipeline panicked.
    pub(crate) async fn reply(&mut self, reply: &async_nats::Subject, outcome: Option<&Outcome>) {
        let body = match outcome {
            Some(Outcome::Processed | Outcome::Filtered) => {
                self.consecutive_failures = 0;
                Bytes::from_static(ACK)
            }
            // Nothing would handle a retry either, so the publisher fails it at once.
            Some(Outcome::Unhandled { message_type }) => nack_body(
                &format!(
                    "no handler of this subscriber takes message type {message_type:?}; \
                     add a handler for it or publish it to a subscriber that has one"
                ),
                Duration::ZERO,
            ),
            Some(Outcome::Failed { error, .. }) => self.nack(error),
            None => self.nack("subscriber pipeline panicked"),
        };
        let publish = self.client.publish(reply.clone(), body);
        let sent =
            crate::timeout::timeout_after_first_poll(crate::DEFAULT_PUBLISH_TIMEOUT, publish).await;
        let error = match sent {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            Err(()) => format!("timed out after {:?}", crate::DEFAULT_PUBLISH_TIMEOUT),
        };
        tracing::debug!(reply = %reply, error = %error, "failed to send acknowledgement");
    }

    fn nack(&mut self, error: &str) -> Bytes {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        nack_body(error, self.backoff.delay(self.consecutive_failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_is_empty_object() {
        let body: AckBody = serde_json::from_slice(ACK).unwrap();
        assert_eq!(body, AckBody::default());
        assert_eq!(serde_json::to_vec(&AckBody::default()).unwrap(), ACK);
    }

    #[test]
    fn nack_carries_error_and_nanoseconds() {
        let body = nack_body("disk <full>", Duration::from_millis(250));
        assert_eq!(
            &body[..],
            br#"{"error":"disk \u003cfull\u003e","delay":250000000}"#
        );
        let decoded: AckBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(decoded.error, "disk <full>");
        assert_eq!(decoded.delay(), Some(Duration::from_millis(250)));
    }

    #[test]
    fn zero_or_negative_delay_is_none() {
        let body: AckBody = serde_json::from_str(r#"{"error":"x","delay":-5}"#).unwrap();
        assert_eq!(body.delay(), None);
        let body: AckBody = serde_json::from_str(r#"{"error":"x"}"#).unwrap();
        assert_eq!(body.delay(), None);
    }

    #[test]
    fn default_backoff_matches_go() {
        let delays: Vec<u128> = (1..=8)
            .map(|n| DEFAULT_NACK_BACKOFF.delay(n).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
