//! [`OutlierDiscover`]: a `Discover` whose services report into a detector.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use pin_project_lite::pin_project;
use tower::discover::{Change, Discover};

use super::detector::OutlierDetector;
use super::service::Endpoint;

pin_project! {
    /// Wraps a [`Discover`]: each service it inserts becomes an
    /// [`Endpoint`] of the detector's pool, named by its key's `Debug`
    /// form. Removed services leave the pool when the balancer drops them.
    ///
    /// Made by [`OutlierDetector::discover`]; feed it to
    /// `tower::balance::p2c::Balance` (through a `Load` wrapper such as
    /// `PendingRequestsDiscover`, inside or outside this one).
    pub struct OutlierDiscover<D, C> {
        #[pin]
        inner: D,
        detector: OutlierDetector<C>,
    }
}

impl<D, C> OutlierDiscover<D, C> {
    pub(crate) fn new(inner: D, detector: OutlierDetector<C>) -> Self {
        Self { inner, detector }
    }
}

impl<D, C> Stream for OutlierDiscover<D, C>
where
    D: Discover,
    D::Key: fmt::Debug,
    C: Clone,
{
    type Item = Result<Change<D::Key, Endpoint<D::Service, C>>, D::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let change = ready!(this.inner.poll_discover(cx));
        Poll::Ready(change.map(|change| {
            change.map(|change| match change {
                Change::Insert(key, service) => {
                    let name: Arc<str> = Arc::from(format!("{key:?}"));
                    let endpoint = this.detector.endpoint(name, service);
                    Change::Insert(key, endpoint)
                }
                Change::Remove(key) => Change::Remove(key),
            })
        }))
    }
}

impl<D: fmt::Debug, C> fmt::Debug for OutlierDiscover<D, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlierDiscover")
            .field("inner", &self.inner)
            .field("detector", &self.detector.handle())
            .finish()
    }
}
