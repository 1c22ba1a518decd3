//! An orchestrator and three compute nodes exchanging jobs over NATS in one process.
//!
//! ```text
//! cargo run -p examples --example cluster
//! cargo run -p examples --example cluster -- --jobs 40 --fail-every 7 --silent-node node-2
//! cargo run -p examples --example cluster -- --help
//! ```
//!
//! It connects to `NATS_URL` (default `nats://127.0.0.1:4222`), or starts a private
//! `nats-server` on a free loopback port when no server responds there. The connections
//! reconnect when the server restarts, and the run still finishes every job.

use std::io::IsTerminal;
use std::process::ExitCode;

use examples::cluster::{self, cli};
use examples::nats_server;
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

    let (config, json) = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Help) => {
            print!("{}", cli::help_text());
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Run { config, json }) => (*config, json),
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
    runtime.block_on(run(config, json))
}

async fn run(config: cluster::Config, json: bool) -> ExitCode {
    let url = nats_server::url_from_env();
    // The target owns the private server, if any, which stops when `target` drops at the
    // end of this function, whichever way the function returns.
    let target = match nats_server::connect_or_start(&url).await {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if let Some(server) = target.private_server() {
        eprintln!(
            "no NATS server responds at {url}; started a private nats-server at {} (log in {})",
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
