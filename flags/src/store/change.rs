//! What subscribers of a [`LiveFlags`](super::LiveFlags) receive.

use std::sync::Arc;

use tokio::sync::broadcast;

/// One item of a change subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// These flags were added, changed or removed (sorted, never empty).
    Flags(Arc<[Arc<str>]>),
    /// The subscriber fell behind and `missed` updates were dropped for it:
    /// re-read every flag it cares about.
    Lagged {
        /// How many updates were missed.
        missed: u64,
    },
}

/// A subscription to the keys that change, from
/// [`LiveFlags::subscribe`](super::LiveFlags::subscribe). A slow subscriber
/// is told it lagged ([`Change::Lagged`]), never silently skipped.
#[derive(Debug)]
pub struct Subscription {
    pub(crate) receiver: broadcast::Receiver<Arc<[Arc<str>]>>,
}

impl Subscription {
    /// The next change; `None` once the [`LiveFlags`](super::LiveFlags) is
    /// dropped.
    pub async fn recv(&mut self) -> Option<Change> {
        match self.receiver.recv().await {
            Ok(keys) => Some(Change::Flags(keys)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Change::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next change if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<Change> {
        match self.receiver.try_recv() {
            Ok(keys) => Some(Change::Flags(keys)),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Some(Change::Lagged { missed }),
            Err(_) => None,
        }
    }
}
