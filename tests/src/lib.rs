//! Test support: real `nats-server` processes on free loopback ports.
//!
//! Every integration test starts its own server through [`NatsServer`], so tests can
//! stop, restart and reconfigure it without touching any other server on the machine.
//! The waiting helpers ([`within`], [`wait_for_stats`], [`wait_for_settled`]) put every
//! wait under [`WAIT_TIMEOUT`], and [`Recorder`] and [`RecordingCheckpointer`] let a test
//! see what its handlers and checkpointer were given.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long [`NatsServer`] waits for a started server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for a test server.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Enables JetStream, storing its data in the server's temporary directory.
    pub jetstream: bool,
    /// Sets `max_payload` in bytes; the server's default (1 MiB) when `None`.
    pub max_payload: Option<usize>,
}

/// A `nats-server` child process listening on a free port of 127.0.0.1.
///
/// The server runs in its own temporary directory (log file, JetStream store) and is
/// killed when this value is dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    options: ServerOptions,
    dir: PathBuf,
}

impl NatsServer {
    /// Starts a server with default options.
    ///
    /// # Panics
    ///
    /// Panics with an install hint when `nats-server` is not installed, and when the
    /// server does not accept connections within 10 seconds.
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server with `options`.
    ///
    /// # Panics
    ///
    /// As [`NatsServer::start`].
    pub fn start_with(options: ServerOptions) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ncl-test-nats-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the server's temporary directory");
        let mut server = Self {
            child: None,
            port,
            options,
            dir,
        };
        server.spawn();
        server
    }

    /// Returns the client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Returns the port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the server's temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server and waits for the process to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and with the same options.
    ///
    /// # Panics
    ///
    /// As [`NatsServer::start`].
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let binary = nats_server_binary();
        let mut command = Command::new(&binary);
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut config = String::new();
        if let Some(max_payload) = self.options.max_payload {
            config.push_str(&format!("max_payload: {max_payload}\n"));
        }
        if self.options.jetstream {
            let store = self.dir.join("jetstream");
            config.push_str(&format!("jetstream {{ store_dir: {:?} }}\n", store));
        }
        if !config.is_empty() {
            let path = self.dir.join("server.conf");
            std::fs::write(&path, config).expect("write the server configuration");
            command.arg("-c").arg(path);
        }
        let child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "failed to start {}: {error}. Install nats-server (Debian: apt-get install \
                 nats-server) or set NATS_SERVER_BIN to its path",
                binary.display()
            )
        });
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                panic!("nats-server exited with {status} before becoming ready; its log:\n{log}");
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nats-server on port {} was not ready within {READY_TIMEOUT:?}",
            self.port
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Returns the `nats-server` to run: `NATS_SERVER_BIN`, else the first on `PATH`, else
/// Debian's `/usr/sbin/nats-server`.
pub fn nats_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener
        .local_addr()
        .expect("read the bound address")
        .port()
}

/// Connects a client to `server`, retrying for up to the ready timeout.
///
/// # Panics
///
/// Panics when no connection succeeds in time.
pub async fn connect(server: &NatsServer) -> async_nats::Client {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match async_nats::connect(server.url()).await {
            Ok(client) => return client,
            Err(error) if Instant::now() >= deadline => {
                panic!("failed to connect to {}: {error}", server.url())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// How long a test waits for a condition before it fails.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`wait_for_stats`] reads the counters.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Awaits `future`, failing the test when it does not finish within [`WAIT_TIMEOUT`].
///
/// # Panics
///
/// Panics with `description` on timeout.
pub async fn within<F: Future>(description: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT_TIMEOUT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT_TIMEOUT:?} waiting for {description}"),
    }
}

/// Polls `subscriber`'s counters until `condition` is true and returns them.
///
/// # Panics
///
/// Panics with `description` and the last counters when the condition is still false after
/// [`WAIT_TIMEOUT`].
pub async fn wait_for_stats(
    subscriber: &ncl::Subscriber,
    description: &str,
    condition: impl Fn(&ncl::SubscriberStats) -> bool,
) -> ncl::SubscriberStats {
    let poll = async {
        loop {
            let stats = subscriber.stats();
            if condition(&stats) {
                return stats;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    match tokio::time::timeout(WAIT_TIMEOUT, poll).await {
        Ok(stats) => stats,
        Err(_) => panic!(
            "timed out after {WAIT_TIMEOUT:?} waiting for {description}; last stats: {:?}",
            subscriber.stats()
        ),
    }
}

/// Waits until `subscriber` has received `count` messages and finished each of them, then
/// returns its counters after checking that they add up.
///
/// # Panics
///
/// As [`wait_for_stats`], and when the counters do not add up.
pub async fn wait_for_settled(subscriber: &ncl::Subscriber, count: u64) -> ncl::SubscriberStats {
    let description = format!("{count} messages to be received and finished");
    let stats = wait_for_stats(subscriber, &description, |stats| {
        stats.received >= count && finished(stats) >= count
    })
    .await;
    assert_stats_add_up(&stats);
    stats
}

/// Checks that every received message ended as processed, filtered or failed.
///
/// # Panics
///
/// Panics when `received != processed + filtered + failed()`.
pub fn assert_stats_add_up(stats: &ncl::SubscriberStats) {
    assert_eq!(
        stats.received,
        finished(stats),
        "received should equal processed + filtered + failed(); stats: {stats:?}"
    );
}

fn finished(stats: &ncl::SubscriberStats) -> u64 {
    stats.processed + stats.filtered + stats.failed()
}

/// Builds a registry of every payload type that derives `NclPayload` in the test binary.
///
/// # Panics
///
/// Panics when two payload types share a wire name.
pub fn registry() -> Arc<ncl::PayloadRegistry> {
    Arc::new(ncl::PayloadRegistry::from_inventory().expect("build the payload registry"))
}

/// A list shared between a test and the handlers or checkpointers it builds.
#[derive(Debug)]
pub struct Recorder<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> Clone for Recorder<T> {
    fn clone(&self) -> Self {
        Self {
            items: Arc::clone(&self.items),
        }
    }
}

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Self {
            items: Arc::default(),
        }
    }
}

impl<T: Clone> Recorder<T> {
    /// Creates an empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `item`.
    pub fn push(&self, item: T) {
        self.lock().push(item);
    }

    /// Returns a copy of the items recorded so far, in recording order.
    pub fn items(&self) -> Vec<T> {
        self.lock().clone()
    }

    /// Returns the number of items recorded so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Returns `true` when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        // A handler that panics while holding the lock leaves the Vec consistent.
        self.items
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A checkpointer that records the `MessageID` of every message it is given.
#[derive(Clone, Debug, Default)]
pub struct RecordingCheckpointer {
    /// The recorded message ids, in checkpoint order; `"<none>"` for a message without one.
    pub ids: Recorder<String>,
}

impl ncl::Checkpointer for RecordingCheckpointer {
    async fn checkpoint(&self, message: &ncl::AnyMessage) -> Result<(), ncl::BoxError> {
        self.ids.push(message.id().unwrap_or("<none>").to_owned());
        Ok(())
    }

    /// Returns the number of checkpoints recorded, used as the position.
    async fn last_checkpoint(&self) -> Result<i64, ncl::BoxError> {
        Ok(i64::try_from(self.ids.len()).unwrap_or(i64::MAX))
    }
}

/// Connects a client to `server` with the options that `options` builds, retrying for up
/// to the ready timeout. Each attempt gets fresh options, because connecting consumes them.
///
/// # Panics
///
/// Panics when no connection succeeds in time.
pub async fn connect_with(
    server: &NatsServer,
    options: impl Fn() -> async_nats::ConnectOptions,
) -> async_nats::Client {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match options().connect(server.url()).await {
            Ok(client) => return client,
            Err(error) if Instant::now() >= deadline => {
                panic!("failed to connect to {}: {error}", server.url())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Polls `condition` until it returns `true`.
///
/// # Panics
///
/// Panics with `description` when the condition is still false after [`WAIT_TIMEOUT`].
pub async fn wait_until(description: &str, mut condition: impl FnMut() -> bool) {
    let poll = async {
        while !condition() {
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    if tokio::time::timeout(WAIT_TIMEOUT, poll).await.is_err() {
        panic!("timed out after {WAIT_TIMEOUT:?} waiting for {description}");
    }
}
