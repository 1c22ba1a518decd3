//! Checkpointers that record the stream sequence of each handled message.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use tokio::sync::oneshot;

use super::CheckpointError;
use crate::{AnyMessage, BoxError, Checkpointer};

/// Returns the checkpoint value of `message`: its stream sequence as an `i64`.
fn checkpoint_of(message: &AnyMessage) -> Result<i64, CheckpointError> {
    let sequence =
        message
            .stream_sequence()
            .ok_or_else(|| CheckpointError::MissingStreamSequence {
                message_id: message.id().map(str::to_owned),
            })?;
    i64::try_from(sequence).map_err(|_| CheckpointError::SequenceOutOfRange { sequence })
}

/// Keeps the highest stream sequence checkpointed, in memory.
///
/// Clones share the value, so a test or a status page can read it with
/// [`MemoryCheckpointer::value`] while the subscriber owns another clone. The value is
/// lost when the process exits, so use [`FileCheckpointer`] to keep it across restarts.
///
/// # Examples
///
/// ```
/// use ncl::jetstream::MemoryCheckpointer;
///
/// let checkpointer = MemoryCheckpointer::new();
/// let view = checkpointer.clone();
/// // Hand `checkpointer` to `ncl::jetstream::SubscriberBuilder::checkpointer`.
/// assert_eq!(view.value(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryCheckpointer {
    last: Arc<AtomicI64>,
}

impl MemoryCheckpointer {
    /// Creates a checkpointer at 0, which skips nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a checkpointer at `sequence`: messages at or below it are skipped.
    pub fn starting_at(sequence: i64) -> Self {
        Self {
            last: Arc::new(AtomicI64::new(sequence)),
        }
    }

    /// Returns the highest stream sequence recorded so far.
    pub fn value(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }
}

impl Checkpointer for MemoryCheckpointer {
    /// Records the message's stream sequence unless a higher one was recorded.
    ///
    /// # Errors
    ///
    /// Returns [`CheckpointError::MissingStreamSequence`] for a message that did not come
    /// from a JetStream subscriber.
    async fn checkpoint(&self, message: &AnyMessage) -> Result<(), BoxError> {
        let value = checkpoint_of(message)?;
        self.last.fetch_max(value, Ordering::AcqRel);
        Ok(())
    }

    async fn last_checkpoint(&self) -> Result<i64, BoxError> {
        Ok(self.value())
    }
}

/// Keeps the highest stream sequence checkpointed in a file, so that it survives a
/// restart of the process.
///
/// The file contains the sequence in decimal and a newline. Each new checkpoint is written
/// to a temporary file in the same directory, flushed to disk with `fsync`, renamed over
/// the checkpoint file, and the directory is synced as well (on Unix). A crash therefore
/// leaves either the old or the new value, never a torn one, and
/// [`Checkpointer::checkpoint`] returns only once the new value is on disk.
///
/// [`Checkpointer::last_checkpoint`] reads the file again, so it reports what is on
/// disk even when another checkpointer (say, of a subscriber that was killed) wrote it
/// last. Reads and writes run on a thread the checkpointer owns, so they do not block
/// the async runtime, and a write that was started completes even when the
/// subscriber's task is cancelled. Concurrent checkpoints are written together, with
/// one `fsync`.
///
/// One checkpointer should own a file at a time: two writing the same file race, and
/// the file ends with whichever value was renamed last.
///
/// # Examples
///
/// ```no_run
/// use ncl::jetstream::FileCheckpointer;
///
/// # fn run() -> Result<(), ncl::jetstream::CheckpointError> {
/// let checkpointer = FileCheckpointer::open("/var/lib/worker/orders.checkpoint")?;
/// println!("resuming after stream sequence {}", checkpointer.value());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FileCheckpointer {
    path: PathBuf,
    /// The value on disk as of the last write or read.
    last: Arc<AtomicI64>,
    file: mpsc::Sender<FileRequest>,
}

/// A request to the file thread.
enum FileRequest {
    /// Write at least `value`, then report.
    Write {
        value: i64,
        done: oneshot::Sender<Result<(), Arc<io::Error>>>,
    },
    /// Read the file and report its value.
    Read {
        done: oneshot::Sender<Result<i64, CheckpointError>>,
    },
}

impl FileCheckpointer {
    /// Opens the checkpoint file at `path` and reads its value, counting a missing file
    /// as 0. The file's directory must exist. Starts the file thread.
    ///
    /// The read is a small blocking read, fine to do once at startup.
    ///
    /// # Errors
    ///
    /// Returns [`CheckpointError::Read`] when the file or its directory cannot be read,
    /// [`CheckpointError::Corrupt`] when the file contains no decimal number, and
    /// [`CheckpointError::Write`] when the file thread cannot be started.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref().to_path_buf();
        let directory = parent_directory(&path);
        std::fs::metadata(&directory).map_err(|source| CheckpointError::Read {
            path: path.clone(),
            source,
        })?;
        let value = read_checkpoint(&path)?;
        let last = Arc::new(AtomicI64::new(value));
        let (file, requests) = mpsc::channel();
        let thread = FileThread {
            path: path.clone(),
            temporary: temporary_path(&path),
            directory,
            written: value,
        };
        std::thread::Builder::new()
            .name("ncl-checkpoint".to_owned())
            .spawn(move || thread.run(requests))
            .map_err(|source| CheckpointError::Write {
                path: path.clone(),
                source,
            })?;
        tracing::debug!(path = %path.display(), checkpoint = value, "opened checkpoint file");
        Ok(Self { path, last, file })
    }

    /// Returns the path of the checkpoint file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the value on disk, as of the last completed write or read.
    pub fn value(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }
}

impl Checkpointer for FileCheckpointer {
    /// Writes the message's stream sequence unless a higher one is on disk, and returns
    /// once it is synced.
    ///
    /// # Errors
    ///
    /// Returns [`CheckpointError::MissingStreamSequence`] for a message that did not come
    /// from a JetStream subscriber, [`CheckpointError::Write`] when the write fails and
    /// [`CheckpointError::FileThreadStopped`] when the file thread is gone.
    async fn checkpoint(&self, message: &AnyMessage) -> Result<(), BoxError> {
        let value = checkpoint_of(message)?;
        if value <= self.value() {
            return Ok(());
        }
        let (done, written) = oneshot::channel();
        self.file
            .send(FileRequest::Write { value, done })
            .map_err(|_| self.stopped())?;
        match written.await {
            Ok(Ok(())) => {
                self.last.fetch_max(value, Ordering::AcqRel);
                Ok(())
            }
            Ok(Err(error)) => Err(Box::new(CheckpointError::Write {
                path: self.path.clone(),
                source: io::Error::new(error.kind(), error.to_string()),
            })),
            Err(_) => Err(Box::new(self.stopped())),
        }
    }

    /// Reads the value in the file, counting a missing file as 0.
    ///
    /// # Errors
    ///
    /// Returns [`CheckpointError::Read`] or [`CheckpointError::Corrupt`] when the file
    /// cannot be read or parsed, and [`CheckpointError::FileThreadStopped`] when the file
    /// thread is gone.
    async fn last_checkpoint(&self) -> Result<i64, BoxError> {
        let (done, read) = oneshot::channel();
        self.file
            .send(FileRequest::Read { done })
            .map_err(|_| self.stopped())?;
        let value = read.await.map_err(|_| self.stopped())??;
        self.last.store(value, Ordering::Release);
        Ok(value)
    }
}

impl FileCheckpointer {
    fn stopped(&self) -> CheckpointError {
        CheckpointError::FileThreadStopped {
            path: self.path.clone(),
        }
    }
}

/// The file thread's state.
struct FileThread {
    path: PathBuf,
    temporary: PathBuf,
    directory: PathBuf,
    /// The value on disk.
    written: i64,
}

impl FileThread {
    /// Serves requests until the [`FileCheckpointer`] is dropped.
    ///
    /// Requests that queued up while the thread was busy are served together: the
    /// writes by one write of their highest value, then each read.
    fn run(mut self, requests: mpsc::Receiver<FileRequest>) {
        while let Ok(first) = requests.recv() {
            let mut writes = Vec::new();
            let mut reads = Vec::new();
            for request in std::iter::once(first).chain(requests.try_iter()) {
                match request {
                    FileRequest::Write { value, done } => writes.push((value, done)),
                    FileRequest::Read { done } => reads.push(done),
                }
            }
            if let Some(value) = writes.iter().map(|(value, _)| *value).max() {
                let result = self.write_at_least(value);
                for (_, done) in writes {
                    // The requester may have been cancelled, but the value is on disk.
                    let _ = done.send(result.clone());
                }
            }
            for done in reads {
                let _ = done.send(read_checkpoint(&self.path));
            }
        }
    }

    fn write_at_least(&mut self, value: i64) -> Result<(), Arc<io::Error>> {
        if value <= self.written {
            return Ok(());
        }
        self.write(value).map_err(|error| {
            tracing::error!(
                path = %self.path.display(),
                checkpoint = value,
                error = %error,
                "failed to write checkpoint file"
            );
            Arc::new(error)
        })
    }

    fn write(&mut self, value: i64) -> io::Result<()> {
        let mut file = File::create(&self.temporary)?;
        writeln!(file, "{value}")?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temporary, &self.path)?;
        sync_directory(&self.directory)?;
        self.written = value;
        Ok(())
    }
}

/// Syncs `directory`, so that a rename inside it survives a power loss.
#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

/// Directories cannot be opened as files here, so the rename is as durable as the
/// platform makes it.
#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> io::Result<()> {
    Ok(())
}

fn parent_directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Returns a temporary file name beside `path`, unique to this process and checkpointer,
/// so that an old checkpointer still finishing a write cannot clobber a new one's file.
fn temporary_path(path: &Path) -> PathBuf {
    static NEXT_WRITER: AtomicU64 = AtomicU64::new(0);
    let writer = NEXT_WRITER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".to_owned());
    let file = format!(".{name}.{}-{writer}.tmp", std::process::id());
    parent_directory(path).join(file)
}

fn read_checkpoint(path: &Path) -> Result<i64, CheckpointError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(CheckpointError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let corrupt = || CheckpointError::Corrupt {
        path: path.to_path_buf(),
        content: String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned(),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| corrupt())?;
    text.trim().parse::<i64>().map_err(|_| corrupt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;

    fn message_at(sequence: u64) -> AnyMessage {
        let mut message = AnyMessage::new(Metadata::new(), ());
        message.set_stream_sequence(Some(sequence));
        message
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ncl-checkpoint-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        dir
    }

    #[tokio::test]
    async fn memory_keeps_highest_sequence() {
        let checkpointer = MemoryCheckpointer::new();
        checkpointer.checkpoint(&message_at(5)).await.unwrap();
        checkpointer.checkpoint(&message_at(3)).await.unwrap();
        assert_eq!(checkpointer.last_checkpoint().await.unwrap(), 5);
    }

    #[tokio::test]
    async fn message_without_sequence_is_rejected() {
        let checkpointer = MemoryCheckpointer::new();
        let error = checkpointer
            .checkpoint(&AnyMessage::new(Metadata::new(), ()))
            .await
            .unwrap_err();
        let error = error.downcast::<CheckpointError>().unwrap();
        assert!(matches!(
            *error,
            CheckpointError::MissingStreamSequence { .. }
        ));
    }

    #[tokio::test]
    async fn file_survives_reopen() {
        let dir = temp_dir("reopen");
        let path = dir.join("orders.checkpoint");
        let checkpointer = FileCheckpointer::open(&path).unwrap();
        assert_eq!(checkpointer.last_checkpoint().await.unwrap(), 0);
        checkpointer.checkpoint(&message_at(41)).await.unwrap();
        checkpointer.checkpoint(&message_at(42)).await.unwrap();
        checkpointer.checkpoint(&message_at(7)).await.unwrap();
        drop(checkpointer);

        let reopened = FileCheckpointer::open(&path).unwrap();
        assert_eq!(reopened.last_checkpoint().await.unwrap(), 42);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "42\n");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| name != "orders.checkpoint")
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_file_is_rejected() {
        let dir = temp_dir("corrupt");
        let path = dir.join("bad.checkpoint");
        std::fs::write(&path, "forty-two\n").unwrap();
        let error = FileCheckpointer::open(&path).unwrap_err();
        assert!(matches!(error, CheckpointError::Corrupt { .. }), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_is_rejected() {
        let path = std::env::temp_dir().join("ncl-no-such-dir-for-checkpoints/x.checkpoint");
        let error = FileCheckpointer::open(&path).unwrap_err();
        assert!(matches!(error, CheckpointError::Read { .. }), "{error}");
    }
}
