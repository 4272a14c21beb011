//! [`Backup`]: a local copy of the last good definitions, to start from
//! when the store cannot be reached.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::{Change, FileError, FileSource, LiveFlags};
use crate::model::FlagSet;
use crate::native::{self, Format};

/// A backup file (native JSON) of the definitions a [`LiveFlags`] serves.
///
/// [`keep`](Self::keep) writes it now and after every change, atomically
/// (a temporary file beside it, synced, then renamed over it), so a crash
/// mid-write leaves the previous good copy. [`fallback`](Self::fallback)
/// starts a [`LiveFlags`] from it when the store is unreachable.
///
/// ```no_run
/// use std::future::Future;
/// use std::sync::Arc;
/// use palisade_flags::store::{Backup, LiveFlags};
///
/// /// `connect_store` opens a SQLite or Postgres store and yields its `live()`.
/// async fn start(
///     connect_store: impl Future<Output = Result<Arc<LiveFlags>, Box<dyn std::error::Error>>>,
/// ) -> Result<(), Box<dyn std::error::Error>> {
///     let backup = Backup::new("/var/lib/app/flags.backup.json");
///     let (live, _keeping) = match connect_store.await {
///         Ok(live) => (Arc::clone(&live), Some(backup.keep(live))),
///         // Offline: serve the last good copy until the store is back.
///         Err(_) => (backup.fallback().await?, None),
///     };
/// #     let _ = live;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Backup {
    path: PathBuf,
}

/// A running [`Backup::keep`]; dropping it stops writing backups.
#[derive(Debug)]
pub struct BackupTask {
    task: JoinHandle<()>,
}

impl Drop for BackupTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backup {
    /// A backup at `path` (its directory must exist).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `set` atomically (temporary file, fsync, rename).
    ///
    /// # Errors
    ///
    /// The I/O error; the previous backup is then left as it was.
    pub fn write(&self, set: &FlagSet) -> std::io::Result<()> {
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(native::to_json(set).as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &self.path)
    }

    /// Reads and validates the backup.
    ///
    /// # Errors
    ///
    /// [`FileError`] when it is missing, unreadable or invalid.
    pub async fn load(&self) -> Result<FlagSet, FileError> {
        FileSource::new(&self.path)
            .format(Format::Json)
            .load()
            .await
    }

    /// A [`LiveFlags`] serving the backup, for when the store cannot be
    /// reached.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load).
    pub async fn fallback(&self) -> Result<Arc<LiveFlags>, FileError> {
        let set = self.load().await?;
        tracing::warn!(path = %self.path.display(), flags = set.len(), "serving flags from the backup");
        Ok(Arc::new(LiveFlags::new(set)))
    }

    /// Writes the snapshot `live` serves now and after every change, until
    /// the returned task is dropped. A failed write is logged and retried
    /// at the next change. Needs a tokio runtime.
    #[must_use = "backups stop when the task is dropped"]
    pub fn keep(&self, live: Arc<LiveFlags>) -> BackupTask {
        let backup = self.clone();
        let mut changes = live.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let set = live.snapshot();
                let writer = backup.clone();
                let written = tokio::task::spawn_blocking(move || writer.write(&set)).await;
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(path = %backup.path.display(), %error, "writing the flag backup failed");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the flag backup writer stopped");
                    }
                }
                // A lag notice also means "write the newest": the loop
                // writes the current snapshot whatever the item.
                match changes.recv().await {
                    Some(Change::Flags(_) | Change::Lagged { .. }) => {}
                    None => return,
                }
            }
        });
        BackupTask { task }
    }
}
