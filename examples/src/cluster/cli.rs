//! Command-line options of the cluster example.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::Config;

/// Action requested on the command line.
#[derive(Debug)]
pub enum Command {
    /// Print the help text.
    Help,
    /// Run the cluster.
    Run {
        /// Settings of the run, boxed because they are much larger than `Help`.
        config: Box<Config>,
        /// Print the summary as one JSON object on the last line of stdout.
        json: bool,
        /// Loopback address at which to serve Prometheus metrics, if any.
        metrics_addr: Option<SocketAddr>,
    },
}

/// Error in the command line, with the option it concerns.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// The option is not one of those listed by `--help`.
    #[error("unknown option {0:?}")]
    UnknownOption(String),
    /// The option needs a value and none followed it.
    #[error("missing value for {0}")]
    MissingValue(String),
    /// The value does not parse or is out of range.
    #[error("invalid value {value:?} for {option}: {reason}")]
    InvalidValue {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// Expected form of the value.
        reason: String,
    },
    /// The options parse but do not make a valid run.
    #[error("{0}")]
    InvalidConfig(String),
}

/// Returns the help text, listing every option with its unit and default.
pub fn help_text() -> String {
    let defaults = Config::default();
    format!(
        "\
Runs an orchestrator and compute nodes in one process, each with its own NATS connection,
and prints a live view of the jobs and a summary. The orchestrator requests bids from the nodes
(request/reply) and sends each job to the least loaded node with room for it, which
acknowledges the assignment. The connections reconnect without limit and the orchestrator
resends assignments that get no status report, so a run survives a restart of the NATS
server.

Usage: cluster [OPTIONS]

Options:
  --jobs N                   jobs to run [default: {jobs}]
  --nodes N                  compute nodes, named node-1 to node-N [default: {nodes}]
  --fail-every N             plan every Nth job to fail; 0 plans none [default: 0]
  --silent-node ID           stop the heartbeats of node ID after its first one, so that
                             the orchestrator marks it unhealthy; use with --jobs 40 or
                             more to see it before the run ends [default: none]
  --batch-size N             jobs assigned per batch [default: {batch_size}]
  --batch-interval-ms MS     milliseconds between batches [default: {batch_ms}]
  --heartbeat-interval-ms MS milliseconds between heartbeats of a node [default: {hb_ms}]
  --heartbeat-timeout-ms MS  milliseconds without a heartbeat before a node is marked
                             unhealthy [default: {timeout_ms}]
  --status-timeout-ms MS     milliseconds without a status report on an unfinished job
                             before its assignment is sent again [default: {status_ms}]
  --node-capacity N          jobs a node runs at once; it declines bids beyond that
                             [default: {capacity}]
  --reply-timeout-ms MS      milliseconds to wait for a bid, and for the acknowledgement
                             of each send of an assignment [default: {reply_ms}]
  --timeout-s S              seconds before the run gives up [default: {run_s}]
  --json                     print the summary as one JSON object on the last line
  --quiet                    print only the summary, without the live view
  --metrics-addr ADDR        serve Prometheus metrics at http://ADDR/metrics; ADDR is a
                             loopback address and port, such as 127.0.0.1:9464
                             [default: none]
  -h, --help                 print this help

Environment:
  NATS_URL   server to connect to; the run fails when none responds there. When unset,
             nats://127.0.0.1:4222 is used, or, when no server responds there, a
             private nats-server on a free loopback port.
  NATS_SERVER_BIN
             nats-server binary for the private server [default: the first nats-server
             on PATH, else /usr/sbin/nats-server]
  RUST_LOG   log filter for stderr, such as debug or ncl=trace [default: warn]

Exit status: 0 when every job reached its planned state and no message failed to
decode, 1 otherwise, 2 for invalid options, 130 when interrupted.
",
        jobs = defaults.jobs,
        nodes = defaults.nodes,
        batch_size = defaults.batch_size,
        batch_ms = defaults.batch_interval.as_millis(),
        hb_ms = defaults.heartbeat_interval.as_millis(),
        timeout_ms = defaults.heartbeat_timeout.as_millis(),
        status_ms = defaults.status_timeout.as_millis(),
        capacity = defaults.node_capacity,
        reply_ms = defaults.reply_timeout.as_millis(),
        run_s = defaults.run_timeout.as_secs(),
    )
}

/// Parses the arguments that follow the program name.
///
/// Options take their value as the next argument or after `=`, as in `--jobs=5`.
///
/// # Errors
///
/// Returns a [`CliError`] for an unknown option, a missing or invalid value, or
/// settings that [`Config::validate`] rejects.
pub fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = String>,
{
    let mut config = Config::default();
    let mut json = false;
    let mut metrics_addr = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (option, inline_value) = match arg.split_once('=') {
            Some((option, value)) if option.starts_with("--") => {
                (option.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| CliError::MissingValue(option.clone()))
        };
        match option.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" => json = true,
            "--quiet" => config.live_view = false,
            "--metrics-addr" => metrics_addr = Some(parse_loopback(&option, &value()?)?),
            "--jobs" => config.jobs = parse_number(&option, &value()?)?,
            "--nodes" => config.nodes = parse_number(&option, &value()?)?,
            "--fail-every" => config.fail_every = parse_number(&option, &value()?)?,
            "--silent-node" => config.silent_node = Some(value()?),
            "--batch-size" => config.batch_size = parse_number(&option, &value()?)?,
            "--batch-interval-ms" => config.batch_interval = parse_millis(&option, &value()?)?,
            "--heartbeat-interval-ms" => {
                config.heartbeat_interval = parse_millis(&option, &value()?)?;
            }
            "--heartbeat-timeout-ms" => {
                config.heartbeat_timeout = parse_millis(&option, &value()?)?;
            }
            "--status-timeout-ms" => config.status_timeout = parse_millis(&option, &value()?)?,
            "--node-capacity" => config.node_capacity = parse_number(&option, &value()?)?,
            "--reply-timeout-ms" => config.reply_timeout = parse_millis(&option, &value()?)?,
            "--timeout-s" => {
                config.run_timeout = Duration::from_secs(parse_number(&option, &value()?)?);
            }
            _ => return Err(CliError::UnknownOption(option)),
        }
    }
    config.validate().map_err(CliError::InvalidConfig)?;
    Ok(Command::Run {
        config: Box::new(config),
        json,
        metrics_addr,
    })
}

/// Parses a socket address whose IP is a loopback address, so that the metrics endpoint
/// is reachable from this machine only.
fn parse_loopback(option: &str, value: &str) -> Result<SocketAddr, CliError> {
    let invalid = |reason: &str| CliError::InvalidValue {
        option: option.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let address: SocketAddr = value
        .parse()
        .map_err(|_| invalid("expected an IP address and port, such as 127.0.0.1:9464"))?;
    if !address.ip().is_loopback() {
        return Err(invalid(
            "expected a loopback address (127.0.0.1 or ::1), so that the metrics are not \
             served to other machines",
        ));
    }
    Ok(address)
}

fn parse_number<T: FromStr>(option: &str, value: &str) -> Result<T, CliError> {
    value.parse().map_err(|_| CliError::InvalidValue {
        option: option.to_owned(),
        value: value.to_owned(),
        reason: "expected a whole number".to_owned(),
    })
}

fn parse_millis(option: &str, value: &str) -> Result<Duration, CliError> {
    parse_number(option, value).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    fn run_config(args: &[&str]) -> (Config, bool) {
        match parse_strs(args) {
            Ok(Command::Run { config, json, .. }) => (*config, json),
            other => panic!("expected a run for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn no_arguments_give_defaults() {
        let (config, json) = run_config(&[]);
        assert_eq!(config.jobs, 20);
        assert_eq!(config.nodes, 3);
        assert_eq!(config.fail_every, 0);
        assert!(!json);
        assert!(config.live_view);
    }

    #[test]
    fn options_take_separate_or_inline_values() {
        let (config, json) = run_config(&[
            "--jobs",
            "7",
            "--fail-every=3",
            "--silent-node",
            "node-2",
            "--batch-interval-ms",
            "100",
            "--status-timeout-ms=750",
            "--node-capacity",
            "2",
            "--reply-timeout-ms=300",
            "--json",
            "--quiet",
        ]);
        assert_eq!(config.jobs, 7);
        assert_eq!(config.fail_every, 3);
        assert_eq!(config.silent_node.as_deref(), Some("node-2"));
        assert_eq!(config.batch_interval, Duration::from_millis(100));
        assert_eq!(config.status_timeout, Duration::from_millis(750));
        assert_eq!(config.node_capacity, 2);
        assert_eq!(config.reply_timeout, Duration::from_millis(300));
        assert!(json);
        assert!(!config.live_view);
    }

    #[test]
    fn help_option_wins() {
        assert!(matches!(
            parse_strs(&["--jobs", "3", "--help"]),
            Ok(Command::Help)
        ));
        assert!(matches!(parse_strs(&["-h"]), Ok(Command::Help)));
    }

    #[test]
    fn bad_arguments_are_rejected() {
        let unknown = parse_strs(&["--frobnicate"]).unwrap_err();
        assert_eq!(unknown, CliError::UnknownOption("--frobnicate".into()));

        let missing = parse_strs(&["--jobs"]).unwrap_err();
        assert_eq!(missing, CliError::MissingValue("--jobs".into()));

        let invalid = parse_strs(&["--jobs", "many"]).unwrap_err();
        assert!(
            matches!(invalid, CliError::InvalidValue { .. }),
            "{invalid:?}"
        );

        let config = parse_strs(&["--nodes", "2", "--silent-node", "node-3"]).unwrap_err();
        assert!(matches!(config, CliError::InvalidConfig(_)), "{config:?}");
    }

    #[test]
    fn help_lists_every_option() {
        let help = help_text();
        for option in [
            "--jobs",
            "--nodes",
            "--fail-every",
            "--silent-node",
            "--batch-size",
            "--batch-interval-ms",
            "--heartbeat-interval-ms",
            "--heartbeat-timeout-ms",
            "--status-timeout-ms",
            "--node-capacity",
            "--reply-timeout-ms",
            "--timeout-s",
            "--json",
            "--quiet",
            "--metrics-addr",
            "--help",
        ] {
            assert!(help.contains(option), "help does not mention {option}");
        }
    }

    #[test]
    fn metrics_address_must_be_loopback() {
        let Ok(Command::Run { metrics_addr, .. }) = parse_strs(&["--metrics-addr=127.0.0.1:9464"])
        else {
            panic!("expected a run");
        };
        assert_eq!(metrics_addr, Some(SocketAddr::from(([127, 0, 0, 1], 9464))));

        let Ok(Command::Run { metrics_addr, .. }) = parse_strs(&[]) else {
            panic!("expected a run");
        };
        assert_eq!(metrics_addr, None);

        for value in ["0.0.0.0:9464", "192.0.2.1:9464", "localhost:9464", "9464"] {
            let error = parse_strs(&["--metrics-addr", value]).unwrap_err();
            assert!(
                matches!(error, CliError::InvalidValue { .. }),
                "{value}: {error:?}"
            );
        }
    }
}
