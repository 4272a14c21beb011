//! Keeping flags current: [`LiveFlags`] (feature `live`) applies validated
//! updates atomically and tells subscribers which keys changed; sources and
//! stores feed it.
//!
//! See [`LiveFlags`] for an example.

mod change;
#[cfg(feature = "file")]
mod file;
mod live;

pub use change::{Change, Subscription};
#[cfg(feature = "file")]
pub use file::{DEFAULT_INTERVAL, FileError, FileSource, FileWatch};
pub use live::{Applied, LiveFlags};
