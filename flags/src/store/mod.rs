//! Keeping flags current: [`LiveFlags`] (feature `live`) applies validated
//! updates atomically and tells subscribers which keys changed; sources and
//! stores feed it.
//!
//! See [`LiveFlags`] for an example.

#[cfg(feature = "file")]
mod backup;
mod change;
#[cfg(feature = "db")]
mod error;
#[cfg(feature = "file")]
mod file;
#[cfg(feature = "db")]
mod flag_store;
mod live;
#[cfg(feature = "postgres")]
mod postgres;
mod schedule;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "file")]
pub use backup::{Backup, BackupTask};
pub use change::{Change, Subscription};
#[cfg(feature = "file")]
pub use file::{DEFAULT_INTERVAL, FileError, FileSource, FileWatch};
pub use live::{Applied, LiveFlags};
pub use schedule::ScheduleTask;

#[cfg(feature = "db")]
pub use error::StoreError;
#[cfg(feature = "db")]
pub use flag_store::{AuditAction, AuditEntry, Edit, Expect, FlagStore, StoredFlag, StoredSegment};
#[cfg(feature = "postgres")]
pub use postgres::{NOTIFY_CHANNEL, PostgresFlagStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteFlagStore;
