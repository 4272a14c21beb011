//! Keys read from the request itself: [`HeaderKey`], [`AuthorityKey`] and
//! (feature `axum`) [`RouteKey`].

use std::num::NonZeroUsize;

use http::{HeaderName, Request};

use super::bytes::{DEFAULT_MAX_KEY_LEN, KeyBytes};
use super::{ExtractKey, MissingKey};

const DEFAULT_MAX_LEN: NonZeroUsize = match NonZeroUsize::new(DEFAULT_MAX_KEY_LEN) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Copies `value` into a key unless it is longer than `max_len`.
fn bounded(
    value: &[u8],
    max_len: NonZeroUsize,
    too_long: &'static str,
) -> Result<KeyBytes, MissingKey> {
    if value.len() > max_len.get() {
        return Err(MissingKey::from_client(too_long));
    }
    Ok(KeyBytes::copy_from(value))
}

/// Keys on a header's value, e.g. an API key.
///
/// The key is a copy of the value (see [`KeyBytes`]), at most `max_len`
/// bytes (default 256): a request without the header, or with a longer
/// value, is refused with a client-side [`MissingKey`] (`400` at the edge).
///
/// ```
/// use palisade_resilience::key::{ExtractKey, HeaderKey, KeyBytes};
///
/// let key = HeaderKey::new(http::HeaderName::from_static("x-api-key"));
/// let req = http::Request::builder().header("x-api-key", "k-123").body(()).unwrap();
/// assert_eq!(key.extract(&req), Ok(KeyBytes::from("k-123")));
/// assert!(key.extract(&http::Request::new(())).unwrap_err().is_client_error());
/// ```
#[derive(Debug, Clone)]
pub struct HeaderKey {
    name: HeaderName,
    max_len: NonZeroUsize,
}

impl HeaderKey {
    /// Keys on the header `name`.
    #[must_use]
    pub const fn new(name: HeaderName) -> Self {
        Self {
            name,
            max_len: DEFAULT_MAX_LEN,
        }
    }

    /// Refuses values longer than `max_len` bytes (default 256).
    #[must_use]
    pub const fn max_len(mut self, max_len: NonZeroUsize) -> Self {
        self.max_len = max_len;
        self
    }
}

impl<B> ExtractKey<Request<B>> for HeaderKey {
    type Key = KeyBytes;

    #[inline]
    fn extract(&self, req: &Request<B>) -> Result<KeyBytes, MissingKey> {
        let value = req
            .headers()
            .get(&self.name)
            .ok_or(MissingKey::from_client(
                "the header the key is read from is missing",
            ))?;
        bounded(
            value.as_bytes(),
            self.max_len,
            "the header the key is read from is longer than the key's maximum length",
        )
    }
}

/// Keys on the authority (`host:port`) of the request's URI, or its `Host`
/// header for origin-form URIs — one key per upstream on a client, per
/// virtual host on a server.
///
/// ```
/// use palisade_resilience::key::{AuthorityKey, ExtractKey, KeyBytes};
///
/// let req = http::Request::get("http://api.example:8443/v1").body(()).unwrap();
/// assert_eq!(AuthorityKey::new().extract(&req), Ok(KeyBytes::from("api.example:8443")));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AuthorityKey {
    max_len: NonZeroUsize,
}

impl AuthorityKey {
    /// Keys on the authority, at most 256 bytes.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_len: DEFAULT_MAX_LEN,
        }
    }

    /// Refuses authorities longer than `max_len` bytes (default 256).
    #[must_use]
    pub const fn max_len(mut self, max_len: NonZeroUsize) -> Self {
        self.max_len = max_len;
        self
    }
}

impl Default for AuthorityKey {
    fn default() -> Self {
        Self::new()
    }
}

impl<B> ExtractKey<Request<B>> for AuthorityKey {
    type Key = KeyBytes;

    #[inline]
    fn extract(&self, req: &Request<B>) -> Result<KeyBytes, MissingKey> {
        let authority = match req.uri().authority() {
            Some(authority) => authority.as_str().as_bytes(),
            None => req
                .headers()
                .get(http::header::HOST)
                .ok_or(MissingKey::from_client(
                    "the request has no authority in its URI and no Host header",
                ))?
                .as_bytes(),
        };
        bounded(
            authority,
            self.max_len,
            "the request's authority is longer than the key's maximum length",
        )
    }
}

/// Keys on the route template axum matched (`/users/{id}`, not
/// `/users/42`): one key per route, a small and fixed key space.
///
/// axum records the matched route for middleware added with
/// `Router::route_layer` or on a `MethodRouter`; a layer around the whole
/// router runs before routing, finds no route, and refuses the request with
/// a server-side [`MissingKey`].
#[cfg(feature = "axum")]
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteKey;

#[cfg(feature = "axum")]
impl<B> ExtractKey<Request<B>> for RouteKey {
    type Key = KeyBytes;

    #[inline]
    fn extract(&self, req: &Request<B>) -> Result<KeyBytes, MissingKey> {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|path| KeyBytes::from(path.as_str()))
            .ok_or(MissingKey::misconfigured(
                "no route was matched yet: add the layer with `Router::route_layer` \
                 (or on a method router) so that it runs after routing",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_header_values_are_refused_not_stored() {
        let key = HeaderKey::new(HeaderName::from_static("x-api-key"))
            .max_len(NonZeroUsize::new(8).unwrap());
        let ok = Request::builder()
            .header("x-api-key", "12345678")
            .body(())
            .unwrap();
        assert_eq!(key.extract(&ok).unwrap().as_bytes(), b"12345678");
        let long = Request::builder()
            .header("x-api-key", "123456789")
            .body(())
            .unwrap();
        assert!(key.extract(&long).unwrap_err().is_client_error());
    }

    #[test]
    fn a_key_does_not_keep_the_header_buffer_alive() {
        // hyper parses header values as slices of one buffer holding the
        // whole request head; a key that shared it kept 100 KB per key.
        let head = bytes::Bytes::from(vec![b'k'; 100_000]);
        let value = http::HeaderValue::from_maybe_shared(head.slice(..16)).unwrap();
        let req = Request::builder()
            .header("x-api-key", value)
            .body(())
            .unwrap();
        let key = HeaderKey::new(HeaderName::from_static("x-api-key"))
            .extract(&req)
            .unwrap();
        drop(req);
        assert!(
            head.is_unique(),
            "the key still references the request head"
        );
        assert_eq!(key.as_bytes(), &[b'k'; 16]);
    }

    #[test]
    fn authority_falls_back_to_the_host_header() {
        let req = Request::builder()
            .uri("/path")
            .header("host", "example.test")
            .body(())
            .unwrap();
        assert_eq!(
            AuthorityKey::new().extract(&req),
            Ok(KeyBytes::from("example.test"))
        );
        let bare = Request::builder().uri("/path").body(()).unwrap();
        assert!(AuthorityKey::new().extract(&bare).is_err());
    }
}
