use http::HeaderName;
use tower_layer::Layer;

use super::{RandomRequestId, RequestId, X_REQUEST_ID};

/// Applies [`RequestId`] to a service: keeps a valid incoming request id,
/// makes one otherwise, and echoes it on the response.
///
/// See the [module docs](super) for the rules and an example.
#[derive(Clone, Debug)]
pub struct RequestIdLayer<M = RandomRequestId> {
    header_name: HeaderName,
    make: M,
}

impl RequestIdLayer {
    /// The `x-request-id` header, new ids from [`RandomRequestId`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            header_name: X_REQUEST_ID,
            make: RandomRequestId,
        }
    }
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> RequestIdLayer<M> {
    /// Reads and writes `name` instead of `x-request-id` (for example
    /// `x-correlation-id`).
    #[must_use]
    pub fn header_name(mut self, name: HeaderName) -> Self {
        self.header_name = name;
        self
    }

    /// Makes new ids with `make` instead.
    #[must_use]
    pub fn make_request_id<M2>(self, make: M2) -> RequestIdLayer<M2> {
        RequestIdLayer {
            header_name: self.header_name,
            make,
        }
    }

    /// The header read and written.
    #[must_use]
    pub fn get_header_name(&self) -> &HeaderName {
        &self.header_name
    }
}

impl<S, M: Clone> Layer<S> for RequestIdLayer<M> {
    type Service = RequestId<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId::from_parts(inner, self.header_name.clone(), self.make.clone())
    }
}
