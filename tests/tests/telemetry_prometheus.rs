//! The metrics of a subscriber and a publisher, served by metrics-exporter-prometheus's
//! HTTP listener on a loopback port and scraped once.
//!
//! The exporter installs a process-wide recorder, so this file contains a single test.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use ncl::{AnyMessage, NclPayload, Publisher, Subscriber};
use serde::{Deserialize, Serialize};
use tests::{NatsServer, connect, free_port, registry, wait_for_settled, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, NclPayload)]
struct Scraped {
    n: u32,
}

/// Fetches `/metrics` from 127.0.0.1:`port` with HTTP/1.0, retrying while the listener
/// starts, and returns the response body.
async fn scrape(port: u16) -> String {
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut stream) => {
                stream
                    .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    .await
                    .expect("send the request");
                let mut response = String::new();
                stream
                    .read_to_string(&mut response)
                    .await
                    .expect("read the response");
                let (head, body) = response
                    .split_once("\r\n\r\n")
                    .expect("response has a header and a body");
                assert!(
                    head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
                    "{head}"
                );
                return body.to_owned();
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Returns the value of the sample `name` whose labels include every pair of `labels`.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = series.split_once('{')?;
        let matches = series_name == name
            && labels
                .iter()
                .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_endpoint_serves_ncl_metrics() {
    let port = free_port();
    PrometheusBuilder::new()
        .with_http_listener(([127, 0, 0, 1], port))
        .install()
        .expect("install the Prometheus exporter");

    let server = NatsServer::start();
    let client = connect(&server).await;
    let subscriber = Subscriber::builder(client.clone())
        .name("scraped")
        .registry(registry())
        .handler(ncl::handler_fn(|_message: &AnyMessage| async { Ok(()) }))
        .build()
        .expect("build subscriber");
    subscriber.subscribe(["scraped"]).await.expect("subscribe");
    let publisher = Publisher::builder(client.clone())
        .name("scraper")
        .destination("scraped")
        .registry(registry())
        .build()
        .expect("build publisher");
    for n in 0..3 {
        publisher.publish(&Scraped { n }).await.expect("publish");
    }
    wait_for_settled(&subscriber, 3).await;

    let body = within("the scrape", scrape(port)).await;
    let processed = sample(
        &body,
        "ncl_received_messages_total",
        &[
            ("instance", "scraped"),
            ("type", "Scraped"),
            ("outcome", "processed"),
        ],
    );
    assert_eq!(processed, Some(3.0), "body:\n{body}");
    let published = sample(
        &body,
        "ncl_published_messages_total",
        &[("instance", "scraper"), ("outcome", "published")],
    );
    assert_eq!(published, Some(3.0), "body:\n{body}");
    let durations = sample(
        &body,
        "ncl_processing_duration_seconds_count",
        &[
            ("instance", "scraped"),
            ("type", "Scraped"),
            ("stage", "total"),
        ],
    );
    assert_eq!(durations, Some(3.0), "body:\n{body}");
    assert!(
        body.contains("# TYPE ncl_received_messages_total counter"),
        "body:\n{body}"
    );
    assert!(
        body.contains("# HELP ncl_received_messages_total"),
        "body:\n{body}"
    );
    subscriber.close().await;
}
