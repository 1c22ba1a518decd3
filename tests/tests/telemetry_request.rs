//! Metrics of requests and of acknowledged publishing against a real nats-server.

mod telemetry_support;

use std::time::Duration;

use metrics_util::debugging::DebuggingRecorder;
use ncl::jetstream::Backoff;
use ncl::telemetry::names::{self, label, outcome};
use ncl::{
    AckError, AckedPublisher, AnyMessage, BoxError, ErrorResponse, Message, NclPayload, Publisher,
    Request, RequestError, RequestRouter, Responder, Subscriber,
};
use serde::{Deserialize, Serialize};
use telemetry_support::{Captured, run_recorded};
use tests::{NatsServer, connect, registry, within};

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

/// Replies to every probe except number 0, which it rejects.
#[ncl::handler]
async fn probe(request: &Message<Probe>) -> Result<ProbeReply, ErrorResponse> {
    match request.payload.seq {
        0 => Err(ErrorResponse::new(
            ncl::request::codes::BAD_REQUEST,
            "probe 0 is rejected",
        )),
        seq => Ok(ProbeReply { seq }),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Delivery {
    seq: u64,
}

#[test]
fn requests_are_counted_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || async {
        let server = NatsServer::start();
        let client = connect(&server).await;
        let responder = Responder::builder(client.clone())
            .name("prober")
            .subject("probes")
            .registry(registry())
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
        for seq in [1, 2] {
            let reply = within("request", asker.request(&Probe { seq }))
                .await
                .expect("request answered");
            assert_eq!(reply.payload.seq, seq);
        }
        let rejected = within("request", asker.request(&Probe { seq: 0 })).await;
        assert!(
            matches!(rejected, Err(RequestError::Remote { .. })),
            "{rejected:?}"
        );
        let lonely = Publisher::builder(client.clone())
            .name("lonely")
            .destination("nobody.listens")
            .registry(registry())
            .build()
            .expect("build publisher");
        let unanswered = within("request", lonely.request(&Probe { seq: 3 })).await;
        assert!(
            matches!(unanswered, Err(RequestError::NoResponders { .. })),
            "{unanswered:?}"
        );
        Captured::take(&recorder.snapshotter())
    });

    let requests = |instance: &str, outcome: &str| {
        let labels = [
            (label::INSTANCE, instance),
            (label::TYPE, "Probe"),
            (label::OUTCOME, outcome),
        ];
        captured.counter(names::REQUESTS, &labels)
    };
    assert_eq!(requests("asker", outcome::RESPONDED), 2);
    assert_eq!(requests("asker", outcome::REMOTE_ERROR), 1);
    assert_eq!(requests("lonely", outcome::NO_RESPONDERS), 1);
    assert_eq!(requests("lonely", outcome::RESPONDED), 0);
    let durations =
        captured.histogram_count(names::REQUEST_DURATION, &[(label::INSTANCE, "asker")]);
    assert_eq!(durations, 2, "one duration per answered request");
}

#[test]
fn acked_publishes_and_retries_are_counted() {
    let recorder = DebuggingRecorder::new();
    let captured = run_recorded(&recorder, || async {
        let server = NatsServer::start();
        let client = connect(&server).await;
        // Fails delivery 2 on its first attempt and delivery 3 on every attempt.
        let attempts = tests::Recorder::<u64>::new();
        let seen = attempts.clone();
        let subscriber = Subscriber::builder(client.clone())
            .registry(registry())
            .nack_backoff(Backoff {
                initial: Duration::from_millis(10),
                factor: 2.0,
                max: Duration::from_millis(50),
            })
            .handler(ncl::handler_fn(move |message: &AnyMessage| {
                let seq = message
                    .payload::<Delivery>()
                    .map_or(0, |delivery| delivery.seq);
                let earlier = seen.items().iter().filter(|&&seen| seen == seq).count();
                seen.push(seq);
                let result = match (seq, earlier) {
                    (2, 0) | (3, _) => Err(BoxError::from(format!("delivery {seq} failed"))),
                    _ => Ok(()),
                };
                async move { result }
            }))
            .build()
            .expect("build subscriber");
        within("subscribe", subscriber.subscribe(["deliveries"]))
            .await
            .expect("subscribe");
        let publisher = AckedPublisher::builder(client.clone())
            .name("courier")
            .destination("deliveries")
            .registry(registry())
            .max_attempts(2)
            .ack_wait(Duration::from_secs(5))
            .build();
        let publisher = within("build publisher", publisher)
            .await
            .expect("build publisher");
        for seq in [1, 2] {
            within("ack", publisher.publish(&Delivery { seq }))
                .await
                .expect("acknowledged");
        }
        let rejected = within("nack", publisher.publish(&Delivery { seq: 3 })).await;
        assert!(
            matches!(rejected, Err(AckError::Nack { .. })),
            "{rejected:?}"
        );
        Captured::take(&recorder.snapshotter())
    });

    let courier = (label::INSTANCE, "courier");
    let resolved = |outcome: &str| {
        captured.counter(
            names::ACKED_PUBLISHES,
            &[courier, (label::OUTCOME, outcome)],
        )
    };
    assert_eq!(resolved(outcome::ACKED), 2);
    assert_eq!(resolved(outcome::NACKED), 1);
    assert_eq!(resolved(outcome::TIMEOUT), 0);
    let retries = captured.counter(names::ACKED_RETRIES, &[courier]);
    assert_eq!(retries, 2, "deliveries 2 and 3 are each sent a second time");
    let pending = captured.gauge(names::ACKED_PENDING, &[courier]);
    assert_eq!(pending, 0.0);
}
