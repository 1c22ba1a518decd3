//! Finds a NATS server for an example: the one at `NATS_URL`, or a private `nats-server`.
//!
//! [`connect_or_start`] tries the URL first. When no server responds there, it starts
//! `nats-server` on a free port of 127.0.0.1, in its own temporary directory, and stops
//! it when the returned [`NatsTarget`] is dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::ConnectErrorKind;

/// URL used when `NATS_URL` is not set.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Install instructions for the error message shown when no server can be found.
pub const INSTALL_HINT: &str = "install nats-server (Debian: apt-get install nats-server) \
                                or set NATS_URL to the URL of a running server";

/// Time allowed for the probe connection to `NATS_URL`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Time a private server gets to accept connections after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Number of ports tried when a private server exits before it is ready, which happens
/// when another process takes the free port between the check and the server's bind.
const START_ATTEMPTS: usize = 3;

/// Error returned when no NATS server can be reached or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No server responds at the URL and no `nats-server` binary was found.
    #[error("no NATS server responds at {url} and nats-server was not found; {INSTALL_HINT}")]
    NotFound {
        /// The URL that was tried.
        url: String,
    },
    /// `NATS_URL` is set and no server responds there. No private server is started in
    /// that case, so that a mistyped URL is not hidden.
    #[error(
        "no NATS server responds at {url}, the URL in NATS_URL; start one there, fix the \
         URL, or unset NATS_URL to use a private nats-server"
    )]
    Unreachable {
        /// The URL, without credentials.
        url: String,
    },
    /// A server responded at the URL but the connection failed, for example because it
    /// requires credentials. No private server is started in that case.
    #[error("failed to connect to {url}: {source}")]
    Connect {
        /// The URL that was tried.
        url: String,
        /// The client's error.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The private server's directory could not be created or the process not started.
    #[error("failed to start {binary}: {source}")]
    Spawn {
        /// The `nats-server` binary.
        binary: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The private server exited before it accepted connections.
    #[error("nats-server exited with {status} before accepting connections; its log:\n{log}")]
    Exited {
        /// The process's exit status.
        status: std::process::ExitStatus,
        /// Contents of the server's log file.
        log: String,
    },
    /// The private server did not accept connections in time.
    #[error("nats-server on port {port} did not accept connections within {timeout:?}")]
    NotReady {
        /// The port the server was started on.
        port: u16,
        /// The time it was given.
        timeout: Duration,
    },
}

/// The NATS server an example connects to: an existing one, or a private one that
/// lives as long as this value.
#[derive(Debug)]
pub struct NatsTarget {
    url: String,
    private: Option<PrivateServer>,
}

impl NatsTarget {
    /// Returns the URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the private server, when one was started.
    pub fn private_server(&self) -> Option<&PrivateServer> {
        self.private.as_ref()
    }
}

/// Returns `NATS_URL`, or `None` when it is unset or empty.
pub fn url_from_env() -> Option<String> {
    std::env::var("NATS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// Returns the server an example uses: the one at `NATS_URL` when it is set, else the one
/// at [`DEFAULT_URL`] when it responds, else a private one.
///
/// # Errors
///
/// Returns [`ServerError::Unreachable`] when `NATS_URL` is set and no server responds
/// there, and the errors of [`connect_or_start`] otherwise.
pub async fn from_env() -> Result<NatsTarget, ServerError> {
    let Some(url) = url_from_env() else {
        return connect_or_start(DEFAULT_URL).await;
    };
    match probe(&url).await? {
        true => Ok(NatsTarget { url, private: None }),
        false => Err(ServerError::Unreachable { url: redact(&url) }),
    }
}

/// Returns `url` with its user name and password, if any, replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let host_start = rest.find('/').unwrap_or(rest.len());
    match rest[..host_start].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Connects to `url` to learn whether a server responds there: `Ok(true)` when it does,
/// `Ok(false)` when the connection is refused, fails with another I/O error, or times
/// out after 2 seconds.
async fn probe(url: &str) -> Result<bool, ServerError> {
    let probe = async_nats::ConnectOptions::new()
        .name("ncl-examples-probe")
        .connection_timeout(PROBE_TIMEOUT)
        .connect(url)
        .await;
    match probe {
        Ok(client) => {
            drop(client);
            Ok(true)
        }
        Err(error)
            if matches!(
                error.kind(),
                ConnectErrorKind::Io | ConnectErrorKind::TimedOut
            ) =>
        {
            tracing::debug!(url = %redact(url), error = %error, "no NATS server responds");
            Ok(false)
        }
        Err(source) => Err(ServerError::Connect {
            url: redact(url),
            source,
        }),
    }
}

/// Returns the server at `url` when one responds there, and otherwise starts a private one.
///
/// The probe counts as "no server responds" when the connection is refused, fails with
/// another I/O error, or times out after 2 seconds.
///
/// # Errors
///
/// Returns [`ServerError::Connect`] when a server responds but the connection fails
/// (authentication, TLS, a malformed URL), [`ServerError::NotFound`] when no server
/// responds and `nats-server` is not installed, and the errors of
/// [`PrivateServer::start`].
pub async fn connect_or_start(url: &str) -> Result<NatsTarget, ServerError> {
    if probe(url).await? {
        return Ok(NatsTarget {
            url: url.to_owned(),
            private: None,
        });
    }
    let binary = find_binary().ok_or_else(|| ServerError::NotFound { url: redact(url) })?;
    let server = PrivateServer::start(&binary).await?;
    Ok(NatsTarget {
        url: server.url(),
        private: Some(server),
    })
}

/// Returns the `nats-server` to run: `NATS_SERVER_BIN` when set, else the first
/// `nats-server` on `PATH`, else Debian's `/usr/sbin/nats-server` when it exists.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    let debian = PathBuf::from("/usr/sbin/nats-server");
    on_path.or_else(|| debian.is_file().then_some(debian))
}

/// A `nats-server` child process listening on a free port of 127.0.0.1.
///
/// It runs in its own temporary directory, which contains its log, and in its own process
/// group, so that Ctrl-C in a terminal reaches only the example, which then stops the
/// server. Dropping the value kills the process and removes the directory.
#[derive(Debug)]
pub struct PrivateServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl PrivateServer {
    /// Starts `binary` on a free loopback port and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// Returns [`ServerError::Spawn`] when the process cannot be started,
    /// [`ServerError::Exited`] when it exits early on each of 3 ports, and
    /// [`ServerError::NotReady`] when it does not accept connections within 10 seconds.
    pub async fn start(binary: &Path) -> Result<Self, ServerError> {
        let mut attempt = 1;
        loop {
            match Self::start_once(binary).await {
                Err(ServerError::Exited { status, log }) if attempt < START_ATTEMPTS => {
                    tracing::debug!(%status, %log, attempt, "nats-server exited early; trying another port");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(binary: &Path) -> Result<Self, ServerError> {
        let spawn_error = |source| ServerError::Spawn {
            binary: binary.to_owned(),
            source,
        };
        let port = free_port().map_err(spawn_error)?;
        let dir =
            std::env::temp_dir().join(format!("ncl-examples-nats-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(spawn_error)?;

        let mut command = Command::new(binary);
        command
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .arg("-l")
            .arg(dir.join("server.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);

        // From here on, Drop kills the child and removes the directory on every error path.
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.child = Some(command.spawn().map_err(spawn_error)?);
        server.wait_ready().await?;
        tracing::debug!(port, dir = %server.dir.display(), "started a private nats-server");
        Ok(server)
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

    /// Kills the server and waits for the process to exit. Calling it again does nothing.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Err(error) = child.kill() {
                tracing::warn!(pid = child.id(), error = %error, "failed to kill nats-server");
            }
            let _ = child.wait();
            tracing::debug!(port = self.port, "stopped the private nats-server");
        }
    }

    async fn wait_ready(&mut self) -> Result<(), ServerError> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                self.child = None;
                return Err(ServerError::Exited { status, log });
            }
            let connect = tokio::net::TcpStream::connect(address);
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(100), connect).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ServerError::NotReady {
            port: self.port,
            timeout: READY_TIMEOUT,
        })
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Returns a port of 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_error_has_install_hint() {
        let error = ServerError::NotFound {
            url: DEFAULT_URL.to_owned(),
        };
        let message = error.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("apt-get install nats-server"), "{message}");
        assert!(message.contains("NATS_URL"), "{message}");
    }

    #[test]
    fn redact_hides_credentials_only() {
        assert_eq!(
            redact("nats://user:secret@127.0.0.1:4222"),
            "nats://***@127.0.0.1:4222"
        );
        assert_eq!(redact("nats://token@localhost"), "nats://***@localhost");
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("127.0.0.1:4222"), "127.0.0.1:4222");
        assert_eq!(redact("ws://host/path@x"), "ws://host/path@x");
    }

    #[tokio::test]
    async fn dead_url_is_unreachable_not_replaced() {
        let port = free_port().expect("find a free port");
        let url = format!("nats://user:secret@127.0.0.1:{port}");
        assert!(
            !probe(&url).await.expect("probe"),
            "nothing listens on {port}"
        );
        let error = ServerError::Unreachable { url: redact(&url) };
        let message = error.to_string();
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("unset NATS_URL"), "{message}");
    }
}
