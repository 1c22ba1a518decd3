//! Runnable examples of the ncl crate, and the code they share.
//!
//! - [`cluster`]: an orchestrator and compute nodes exchanging jobs, status reports and
//!   heartbeats. Run it with `cargo run -p examples --example cluster`.
//! - [`nats_server`]: finds the NATS server an example connects to, or starts a private
//!   one.

pub mod cluster;
pub mod nats_server;
mod signal;

pub use signal::shutdown_signal;
