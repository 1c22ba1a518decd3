//! Metrics of a responder against a real nats-server.

mod telemetry_support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use metrics_util::debugging::DebuggingRecorder;
use ncl::metadata::keys;
use ncl::telemetry::names::{self, label, outcome};
use ncl::{
    EnvelopeSerializer, ErrorResponse, Message, Metadata, NclPayload, Publisher, RawMessage,
    Request, RequestError, RequestRouter, Responder,
};
use serde::{Deserialize, Serialize};
use telemetry_support::{Captured, run_recorded};
use tests::{NatsServer, connect, registry, within};

/// How long the responder lets a handler run.
const HANDLER_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Probe {
    seq: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct ProbeReply {
    seq: u64,
}

impl Request for Probe {
    type Response = ProbeReply;
}

/// A registered request type that no handler takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Stray {
    seq: u64,
}

impl Request for Stray {
    type Response = ProbeReply;
}

/// Rejects probe 0, outlives the handler timeout on probe 7, panics on probe 9 and
/// replies to every other probe.
#[ncl::handler]
async fn probe(request: &Message<Probe>) -> Result<ProbeReply, ErrorResponse> {
    match request.payload.seq {
        0 => Err(ErrorResponse::new(
            ncl::request::codes::BAD_REQUEST,
            "probe 0 is rejected",
        )),
        7 => {
            tokio::time::sleep(HANDLER_TIMEOUT * 20).await;
            Ok(ProbeReply { seq: 7 })
        }
        9 => panic!("probe 9 panics"),
        seq => Ok(ProbeReply { seq }),
    }
}

/// Builds an envelope of type `Probe` around `payload`, which need not be valid.
fn probe_envelope(payload: &str) -> Bytes {
    let metadata: Metadata = [
        (keys::MESSAGE_ID, "raw-1"),
        (keys::TYPE, "Probe"),
        (keys::PAYLOAD_ENCODING, "json"),
    ]
    .into_iter()
    .collect();
    let raw = RawMessage::new(metadata, payload.as_bytes().to_vec());
    EnvelopeSerializer::default()
        .serialize(&raw)
        .expect("encode envelope")
}

/// Sends `request` and returns the remote error's code.
async fn remote_code<R: Request<Response = ProbeReply>>(
    publisher: &Publisher,
    request: &R,
) -> String {
    match within("request", publisher.request(request)).await {
        Err(RequestError::Remote { code, .. }) => code,
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[test]
fn responder_counts_requests_and_responses_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || async {
        let server = NatsServer::start();
        let client = connect(&server).await;
        let responder = Responder::builder(client.clone())
            .name("prober")
            .subject("probes")
            .registry(registry())
            .handler_timeout(HANDLER_TIMEOUT)
            .handler(RequestRouter::new(()).expect("build the request router"))
            .build()
            .expect("build responder");
        within("listen", responder.listen()).await.expect("listen");
        let asker = Publisher::builder(client.clone())
            .name("asker")
            .destination("probes")
            .registry(registry())
            .build()
            .expect("build publisher");

        // Not a request: no reply subject, so the responder ignores it.
        within(
            "publish",
            client.publish("probes", probe_envelope(r#"{"seq":5}"#)),
        )
        .await
        .expect("publish");
        for seq in [1, 2] {
            let reply = within("request", asker.request(&Probe { seq }))
                .await
                .expect("request answered");
            assert_eq!(reply.payload.seq, seq);
        }
        assert_eq!(remote_code(&asker, &Probe { seq: 0 }).await, "BadRequest");
        assert_eq!(remote_code(&asker, &Probe { seq: 7 }).await, "TimeOut");
        assert_eq!(
            remote_code(&asker, &Probe { seq: 9 }).await,
            "InternalError"
        );
        assert_eq!(remote_code(&asker, &Stray { seq: 1 }).await, "NotFound");
        for body in [
            Bytes::from_static(b"not an envelope"),
            probe_envelope(r#"{"seq":"five"}"#),
        ] {
            within("raw request", client.request("probes", body))
                .await
                .expect("error response");
        }
        within("close", responder.close()).await;
        Captured::take(&recorder.snapshotter())
    });

    let instance = (label::INSTANCE, "prober");
    let received =
        |kind: &str| captured.counter(names::RESPONDER_REQUESTS, &[instance, (label::TYPE, kind)]);
    assert_eq!(
        received("Probe"),
        6,
        "probes 1, 2, 0, 7, 9 and the bad payload"
    );
    assert_eq!(received("Stray"), 1);
    assert_eq!(
        received("unknown"),
        1,
        "the message that is not an envelope"
    );

    let responses = |kind: &str, outcome: &str| {
        let labels = [instance, (label::TYPE, kind), (label::OUTCOME, outcome)];
        captured.counter(names::RESPONDER_RESPONSES, &labels)
    };
    assert_eq!(responses("Probe", outcome::RESPONDED), 2);
    assert_eq!(responses("Probe", outcome::HANDLER_ERROR), 1);
    assert_eq!(responses("Probe", outcome::TIMEOUT), 1);
    assert_eq!(responses("Probe", outcome::PANIC), 1);
    assert_eq!(responses("Probe", outcome::PAYLOAD_ERROR), 1);
    assert_eq!(responses("Probe", outcome::NOT_FOUND), 0);
    assert_eq!(responses("Stray", outcome::NOT_FOUND), 1);
    assert_eq!(responses("unknown", outcome::ENVELOPE_ERROR), 1);
    assert_eq!(
        captured.counter(names::RESPONDER_SEND_ERRORS, &[instance]),
        0
    );

    let probe_labels = [instance, (label::TYPE, "Probe")];
    let durations = captured.histogram_values(names::RESPONDER_HANDLER_DURATION, &probe_labels);
    assert_eq!(
        durations.len(),
        5,
        "one per handler call: probes 1, 2, 0, 7 and 9"
    );
    let longest = durations.iter().copied().fold(0.0, f64::max);
    assert!(
        longest >= HANDLER_TIMEOUT.as_secs_f64(),
        "the timed-out call ran at least the handler timeout: {durations:?}"
    );
    let stray_labels = [instance, (label::TYPE, "Stray")];
    let stray_calls = captured.histogram_count(names::RESPONDER_HANDLER_DURATION, &stray_labels);
    assert_eq!(stray_calls, 0, "a request no handler takes is not timed");

    let types = captured.label_values("ncl_responder_", label::TYPE);
    let expected: BTreeSet<String> = ["Probe", "Stray", "unknown"].map(String::from).into();
    assert_eq!(
        types, expected,
        "type labels are registered names or unknown"
    );
}
