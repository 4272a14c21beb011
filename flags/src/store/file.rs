//! [`FileSource`]: a JSON or YAML definition file, watched by polling.

use std::hash::{BuildHasher as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use super::LiveFlags;
use crate::model::FlagSet;
use crate::native::{self, Format, NativeError};

/// How often the file is looked at unless configured otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// A definition file in the native format (JSON, or YAML with the `yaml`
/// feature), read once with [`load`](Self::load) and then watched with
/// [`watch`](Self::watch).
///
/// Watching polls the file's modification time and size every interval
/// (1 s by default; no inotify dependency) and, when they moved, reads it
/// and compares a hash of its content: an edit that changes nothing is not
/// a reload. A changed file is parsed and validated, then handed to
/// [`LiveFlags::apply`]: a broken edit (bad syntax, an unknown segment, a
/// cycle, a missing file) is logged and counted once, and the last good
/// definitions stay in service until the file is fixed.
///
/// ```no_run
/// # async fn run() -> Result<(), palisade_flags::store::FileError> {
/// use std::sync::Arc;
/// use palisade_flags::store::{FileSource, LiveFlags};
///
/// let source = FileSource::new("flags.yaml");
/// let live = Arc::new(LiveFlags::new(source.load().await?));
/// let _watch = source.watch(Arc::clone(&live)); // stops when dropped
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    format: Format,
    interval: Duration,
}

/// Why a definition file could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file's content is not a valid definition document.
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column for syntax errors.
        source: NativeError,
    },
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Invalid { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Invalid { source, .. } => Some(source),
        }
    }
}

impl FileSource {
    /// The file at `path`, its format from the extension (`.yaml`/`.yml`
    /// is YAML, anything else JSON), polled every second.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            format: Format::from_path(&path),
            path,
            interval: DEFAULT_INTERVAL,
        }
    }

    /// Read the file as `format` whatever its extension.
    #[must_use]
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Look at the file every `interval` (a zero interval is taken as 1 ms).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and validates the file now.
    ///
    /// # Errors
    ///
    /// [`FileError::Read`] when it cannot be read, [`FileError::Invalid`]
    /// when it is not a valid definition document.
    pub async fn load(&self) -> Result<FlagSet, FileError> {
        let bytes = self.read().await?;
        self.parse(&bytes)
    }

    /// Watches the file and applies every valid change to `live`, until
    /// the returned [`FileWatch`] is dropped. Needs a tokio runtime.
    #[must_use = "the watch stops when dropped"]
    pub fn watch(self, live: Arc<LiveFlags>) -> FileWatch {
        FileWatch {
            task: tokio::spawn(self.run(live)),
        }
    }

    async fn run(self, live: Arc<LiveFlags>) {
        let source = format!("file {}", self.path.display());
        let mut seen: Option<(Option<SystemTime>, u64)> = None;
        let mut last_hash: Option<u64> = None;
        let mut missing = false;
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let stamp = match tokio::fs::metadata(&self.path).await {
                Ok(meta) => (meta.modified().ok(), meta.len()),
                Err(source_error) => {
                    // Reported once per disappearance, not on every tick.
                    if !missing {
                        missing = true;
                        seen = None;
                        last_hash = None;
                        let _ = live.apply(
                            &source,
                            Err::<FlagSet, _>(FileError::Read {
                                path: self.path.clone(),
                                source: source_error,
                            }),
                        );
                    }
                    continue;
                }
            };
            missing = false;
            if seen == Some(stamp) {
                continue;
            }
            seen = Some(stamp);
            let bytes = match self.read().await {
                Ok(bytes) => bytes,
                Err(error) => {
                    last_hash = None;
                    let _ = live.apply(&source, Err::<FlagSet, _>(error));
                    continue;
                }
            };
            let hash = content_hash(&bytes);
            if last_hash == Some(hash) {
                continue;
            }
            last_hash = Some(hash);
            // Errors are logged and counted by `apply`; the watch goes on.
            let _ = live.apply(&source, self.parse(&bytes));
        }
    }

    async fn read(&self) -> Result<Vec<u8>, FileError> {
        tokio::fs::read(&self.path)
            .await
            .map_err(|source| FileError::Read {
                path: self.path.clone(),
                source,
            })
    }

    fn parse(&self, bytes: &[u8]) -> Result<FlagSet, FileError> {
        let invalid = |source| FileError::Invalid {
            path: self.path.clone(),
            source,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            invalid(NativeError::Syntax {
                format: self.format,
                line: 0,
                column: 0,
                message: format!("not UTF-8: {e}"),
            })
        })?;
        native::parse(text, self.format).map_err(invalid)
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = foldhash::quality::FixedState::with_seed(0).build_hasher();
    hasher.write(bytes);
    hasher.finish()
}

/// A running [`FileSource::watch`]; dropping it stops the watch.
#[derive(Debug)]
pub struct FileWatch {
    task: JoinHandle<()>,
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
