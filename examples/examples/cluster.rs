//! An orchestrator and three compute nodes exchanging jobs over NATS in one process.
//!
//! ```text
//! cargo run -p examples --example cluster
//! cargo run -p examples --example cluster -- --jobs 40 --fail-every 7 --silent-node node-2
//! cargo run -p examples --example cluster -- --metrics-addr 127.0.0.1:9464
//! cargo run -p examples --example cluster -- --help
//! ```
//!
//! It connects to `NATS_URL` when it is set. Otherwise it connects to
//! `nats://127.0.0.1:4222`, or starts a private `nats-server` on a free loopback port
//! when no server responds there. The connections
//! reconnect when the server restarts, and the run still finishes every job.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

use examples::cluster::{self, cli};
use examples::nats_server;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use tracing_subscriber::EnvFilter;

/// Exit status for a run whose jobs or messages went wrong, and for setup errors.
const EXIT_FAILURE: u8 = 1;
/// Exit status for invalid options.
const EXIT_USAGE: u8 = 2;
/// Exit status after Ctrl-C or SIGTERM: 128 + SIGINT, as shells report Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let (config, json, metrics_addr) = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Help) => {
            print!("{}", cli::help_text());
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Run {
            config,
            json,
            metrics_addr,
        }) => (*config, json, metrics_addr),
        Err(error) => {
            eprintln!("error: {error}; run with --help to list the options");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the tokio runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Publishers and subscribers record metrics only into a recorder installed before
    // they are built, so the exporter starts before the cluster.
    if let Some(address) = metrics_addr {
        let _runtime = runtime.enter();
        if let Err(error) = serve_metrics(address) {
            eprintln!("error: failed to serve metrics at {address}: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
        eprintln!("serving Prometheus metrics at http://{address}/metrics");
    }
    runtime.block_on(run(config, json))
}

/// Upper bounds, in seconds, of the histogram buckets of every `*_seconds` metric, from
/// 50 µs to 10 s. Buckets make Prometheus histograms, which aggregate across processes,
/// where the exporter would otherwise write summaries.
const DURATION_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25, 1.0, 10.0,
];

/// Installs the Prometheus recorder and serves its text format at `address`, on the
/// current runtime.
fn serve_metrics(address: SocketAddr) -> Result<(), BuildError> {
    PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &DURATION_BUCKETS)?
        .install()
}

async fn run(config: cluster::Config, json: bool) -> ExitCode {
    // The target owns the private server, if any, which stops when `target` drops at the
    // end of this function, whichever way the function returns.
    let target = match nats_server::from_env().await {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if let Some(server) = target.private_server() {
        eprintln!(
            "no NATS server responds at {}; started a private nats-server at {} (log in {})",
            nats_server::DEFAULT_URL,
            server.url(),
            server.dir().display()
        );
    }

    let result = tokio::select! {
        result = cluster::run(&config, target.url()) => result,
        () = examples::shutdown_signal() => {
            eprintln!("interrupted; stopping the cluster");
            return ExitCode::from(EXIT_INTERRUPTED);
        }
    };
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    println!("{report}");
    if json {
        println!("{}", report.to_json());
    }
    if report.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}
