//! Buffering a request body up to a limit.
//!
//! Signatures cover the raw bytes, so the whole body has to be in memory
//! before it can be verified. The limit is enforced as early as possible: a
//! `Content-Length` (or an exact size hint) above it is refused before a
//! single byte is read, and a body without one is refused as soon as the
//! bytes read pass the limit, without waiting for the rest.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body::Body;
use pin_project_lite::pin_project;

use super::Rejection;

/// Whether the request announces more than `limit` bytes, through its
/// `Content-Length` header or its body's size hint.
fn announced_too_large<B: Body>(headers: &HeaderMap, body: &B, limit: usize) -> bool {
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    // An unparsable Content-Length is the HTTP server's problem, not ours:
    // the limit below still holds while reading.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    declared.is_some_and(|len| len > limit) || body.size_hint().lower() > limit
}

pin_project! {
    /// Reads a body into one `Bytes`, failing once more than `limit` bytes
    /// have arrived (or at the first poll, if the request announced more).
    /// Trailers are dropped: no webhook scheme signs them.
    pub(crate) struct Collect<B> {
        #[pin]
        body: B,
        chunks: Vec<Bytes>,
        len: usize,
        limit: usize,
        announced_too_large: bool,
    }
}

impl<B: Body> Collect<B> {
    pub(crate) fn new(headers: &HeaderMap, body: B, limit: usize) -> Self {
        Self {
            announced_too_large: announced_too_large(headers, &body, limit),
            body,
            chunks: Vec::new(),
            len: 0,
            limit,
        }
    }
}

impl<B> Future for Collect<B>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Bytes, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let too_large = Rejection::PayloadTooLarge { limit: *this.limit };
        if *this.announced_too_large {
            return Poll::Ready(Err(too_large));
        }
        loop {
            let Some(frame) = ready!(this.body.as_mut().poll_frame(cx)) else {
                return Poll::Ready(Ok(concat(std::mem::take(this.chunks), *this.len)));
            };
            let frame = frame.map_err(|err| {
                let err: Box<dyn std::error::Error + Send + Sync> = err.into();
                tracing::debug!(error = %err, "cannot read the webhook body");
                Rejection::BodyUnreadable
            })?;
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            let chunk = data.copy_to_bytes(data.remaining());
            *this.len = this.len.saturating_add(chunk.len());
            if *this.len > *this.limit {
                return Poll::Ready(Err(too_large));
            }
            if !chunk.is_empty() {
                this.chunks.push(chunk);
            }
        }
    }
}

/// Joins the chunks, without copying when the body came in one piece (the
/// common case for small webhook payloads).
fn concat(mut chunks: Vec<Bytes>, len: usize) -> Bytes {
    match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut joined = BytesMut::with_capacity(len);
            for chunk in chunks {
                joined.extend_from_slice(&chunk);
            }
            joined.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use http_body::Frame;
    use http_body_util::Full;

    use super::*;

    /// A body that yields the given chunks one frame at a time.
    struct Chunked(VecDeque<Bytes>);

    impl Body for Chunked {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    fn chunked(parts: &[&'static [u8]]) -> Chunked {
        Chunked(parts.iter().map(|part| Bytes::from_static(part)).collect())
    }

    #[tokio::test]
    async fn joins_chunks_within_the_limit() {
        let bytes = Collect::new(&HeaderMap::new(), chunked(&[b"ab", b"", b"cd"]), 4)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"abcd");
    }

    #[tokio::test]
    async fn fails_once_the_limit_is_passed() {
        let body = chunked(&[b"ab", b"cde", b"f"]);
        let mut collect = std::pin::pin!(Collect::new(&HeaderMap::new(), body, 4));
        let result = collect.as_mut().await;
        assert_eq!(result, Err(Rejection::PayloadTooLarge { limit: 4 }));
        // The rest of the body is never read.
        assert_eq!(collect.project().body.0.len(), 1);
    }

    #[test]
    fn content_length_and_size_hint_are_checked_before_reading() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, "5".parse().unwrap());
        let small = Full::new(Bytes::from_static(b"ab"));
        assert!(announced_too_large(&headers, &small, 4));
        assert!(!announced_too_large(&HeaderMap::new(), &small, 4));
        let big = Full::new(Bytes::from_static(b"abcde"));
        assert!(announced_too_large(&HeaderMap::new(), &big, 4));
        headers.insert(CONTENT_LENGTH, "garbage".parse().unwrap());
        assert!(!announced_too_large(&headers, &small, 4));
    }
}
