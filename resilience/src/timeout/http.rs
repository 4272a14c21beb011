//! The HTTP preset: [`TimeoutLayer::http`](super::TimeoutLayer::http), a
//! timeout each request may shorten.
//!
//! The layer's timeout is the most any request gets. A request asks for
//! less with
//!
//! - a [`RequestTimeout`] extension, set by the application (for example
//!   from the caller's remaining budget), or
//! - an [`x-request-timeout`](X_REQUEST_TIMEOUT) header: a whole number of
//!   milliseconds (ASCII digits only, as gRPC's `grpc-timeout` without the
//!   unit), set by the client.
//!
//! The call gets the shortest of the three; asking for more than the layer
//! allows changes nothing. A header that is not a whole number of
//! milliseconds fails the call at once, without calling the inner service,
//! with [`InvalidTimeout`] — at the HTTP edge (feature `axum`) a 400 problem
//! `invalid_timeout` — rather than being ignored.
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::timeout::TimeoutLayer;
//! use palisade_resilience::timeout::error::{Elapsed, InvalidTimeout};
//! use palisade_resilience::timeout::http::RequestTimeout;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let svc = TimeoutLayer::http(Duration::from_secs(5)).layer(service_fn(|_req: http::Request<()>| async {
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, std::io::Error>("done")
//! }));
//!
//! // The client allows 200 ms.
//! let request = http::Request::get("/").header("x-request-timeout", "200").body(()).unwrap();
//! let err = svc.clone().oneshot(request).await.unwrap_err();
//! assert_eq!(err.downcast_ref::<Elapsed>().unwrap().timeout(), Duration::from_millis(200));
//!
//! // The application allows 2 s: enough.
//! let mut request = http::Request::new(());
//! request.extensions_mut().insert(RequestTimeout(Duration::from_secs(2)));
//! assert_eq!(svc.clone().oneshot(request).await.unwrap(), "done");
//!
//! // A malformed header is refused.
//! let request = http::Request::get("/").header("x-request-timeout", "1.5s").body(()).unwrap();
//! assert!(svc.oneshot(request).await.unwrap_err().is::<InvalidTimeout>());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderValue;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::error::InvalidTimeout;
use super::future::ResponseFuture;
use super::{Http, Timeout};
use crate::BoxError;

/// The header a client sets to ask for a shorter timeout, in milliseconds.
pub const X_REQUEST_TIMEOUT: &str = "x-request-timeout";

/// A request extension asking for a shorter timeout than the
/// [HTTP timeout layer](super::TimeoutLayer::http)'s; a longer one changes
/// nothing.
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::timeout::http::RequestTimeout;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(RequestTimeout(Duration::from_millis(300)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeout(pub Duration);

/// The timeout `request` gets under a layer allowing at most `max`.
fn timeout_of<B>(request: &http::Request<B>, max: Duration) -> Result<Duration, InvalidTimeout> {
    let mut timeout = max;
    if let Some(own) = request.extensions().get::<RequestTimeout>() {
        timeout = timeout.min(own.0);
    }
    if let Some(value) = request.headers().get(X_REQUEST_TIMEOUT) {
        timeout = timeout.min(parse_millis(value)?);
    }
    Ok(timeout)
}

/// A whole number of milliseconds: ASCII digits only (no sign, no unit, no
/// spaces); too many to fit is still a valid, very long, timeout.
fn parse_millis(value: &HeaderValue) -> Result<Duration, InvalidTimeout> {
    let digits = value.as_bytes();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(InvalidTimeout::new());
    }
    let millis = digits.iter().try_fold(0_u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    Ok(millis.map_or(Duration::MAX, Duration::from_millis))
}

impl<S, B> Service<http::Request<B>> for Timeout<S, Http>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = HttpResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match timeout_of(&req, self.timeout) {
            Ok(timeout) => HttpResponseFuture {
                state: State::Timed {
                    fut: ResponseFuture::new(self.inner.call(req), timeout, self.name.clone()),
                },
            },
            Err(error) => HttpResponseFuture {
                state: State::Refused { error: Some(error) },
            },
        }
    }
}

pin_project! {
    /// The response future of the HTTP timeout: the timed inner call, or the
    /// refusal of a malformed header.
    #[derive(Debug)]
    pub struct HttpResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Timed {
            #[pin]
            fut: ResponseFuture<F>,
        },
        // The inner service was not called.
        Refused {
            error: Option<InvalidTimeout>,
        },
    }
}

impl<F, T, E> Future for HttpResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Timed { fut } => fut.poll(cx),
            StateProj::Refused { error } => Poll::Ready(Err(error.take().map_or_else(
                || "timeout future polled after completion".into(),
                Into::into,
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &'static str) -> Result<Duration, InvalidTimeout> {
        parse_millis(&HeaderValue::from_static(value))
    }

    #[test]
    fn only_whole_milliseconds_parse() {
        assert_eq!(header("0"), Ok(Duration::ZERO));
        assert_eq!(header("250"), Ok(Duration::from_millis(250)));
        assert_eq!(header("99999999999999999999999"), Ok(Duration::MAX));
        for bad in ["", "-1", "+5", "1.5", "10ms", " 10", "1e3"] {
            assert_eq!(header(bad), Err(InvalidTimeout::new()), "{bad:?}");
        }
    }
}
