//! What the gate evaluates a flag for: an [`ExtractContext`] builds the
//! [`Context`] from a request's head.
//!
//! The context borrows from the request (header values, the extractor's own
//! property names) and from a [`Scratch`] on the stack (the client IP as
//! text), so building it allocates nothing.

use std::cell::OnceCell;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderName;
use http::request::Parts;

use crate::Context;

/// Builds the [`Context`] a flag is evaluated for from a request's head.
///
/// Provided extractors: [`FromHeader`] (user id, session id or a property
/// from a header), [`ClientIp`] (the connection's address) and
/// [`context_fn`] (a closure). A tuple of extractors applies each in turn;
/// `()` gives an empty context.
///
/// ```
/// use http::HeaderName;
/// use palisade_flags::gate::{ClientIp, ExtractContext, FromHeader, Scratch};
/// use palisade_flags::Context;
///
/// let extract = (
///     FromHeader::user_id(HeaderName::from_static("x-user-id")),
///     FromHeader::property(HeaderName::from_static("x-plan"), "plan"),
/// );
/// let (parts, ()) = http::Request::builder()
///     .header("x-user-id", "42")
///     .header("x-plan", "pro")
///     .body(())?
///     .into_parts();
/// let scratch = Scratch::new();
/// let context = extract.extract(&parts, &scratch, Context::new())?;
/// assert_eq!(context.get_user_id(), Some("42"));
/// assert_eq!(context.get_property("plan"), Some("pro"));
///
/// // The client IP is required when asked for: no address, no context.
/// assert!(ClientIp.extract(&parts, &scratch, Context::new()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ExtractContext {
    /// Adds what this extractor knows about `request` to `context`. Text
    /// that is not in the request (an address rendered as text) goes into
    /// `scratch`.
    ///
    /// # Errors
    /// [`MissingContext`] when the request cannot have what the extractor
    /// needs because of how the server is set up (no peer address
    /// recorded). A header the client did not send is not an error: the
    /// field stays unset, as for an anonymous user.
    fn extract<'r>(
        &'r self,
        request: &'r Parts,
        scratch: &'r Scratch,
        context: Context<'r>,
    ) -> Result<Context<'r>, MissingContext>;
}

impl ExtractContext for () {
    #[inline]
    fn extract<'r>(
        &'r self,
        _: &'r Parts,
        _: &'r Scratch,
        context: Context<'r>,
    ) -> Result<Context<'r>, MissingContext> {
        Ok(context)
    }
}

impl<X: ExtractContext + ?Sized> ExtractContext for Arc<X> {
    #[inline]
    fn extract<'r>(
        &'r self,
        request: &'r Parts,
        scratch: &'r Scratch,
        context: Context<'r>,
    ) -> Result<Context<'r>, MissingContext> {
        (**self).extract(request, scratch, context)
    }
}

macro_rules! tuple_extractor {
    ($($x:ident),+) => {
        impl<$($x: ExtractContext),+> ExtractContext for ($($x,)+) {
            #[inline]
            #[allow(non_snake_case)]
            fn extract<'r>(
                &'r self,
                request: &'r Parts,
                scratch: &'r Scratch,
                context: Context<'r>,
            ) -> Result<Context<'r>, MissingContext> {
                let ($($x,)+) = self;
                $(let context = $x.extract(request, scratch, context)?;)+
                Ok(context)
            }
        }
    };
}

tuple_extractor!(A);
tuple_extractor!(A, B);
tuple_extractor!(A, B, C);
tuple_extractor!(A, B, C, D);
tuple_extractor!(A, B, C, D, E);
tuple_extractor!(A, B, C, D, E, F);

/// Stack space for context text that is not in the request itself: the
/// client IP rendered as text. Lives beside the context for one request.
#[derive(Debug, Default)]
pub struct Scratch {
    addresses: [OnceCell<IpText>; 2],
}

impl Scratch {
    /// Empty scratch space.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `ip` as text, written into this scratch space (two addresses fit;
    /// `None` once both slots hold other addresses).
    #[must_use]
    pub fn ip_text(&self, ip: IpAddr) -> Option<&str> {
        self.addresses
            .iter()
            .find(|slot| slot.get().is_none_or(|text| text.ip == ip))
            .map(|slot| slot.get_or_init(|| IpText::new(ip)).as_str())
    }
}

/// An IP address and its text, without a heap allocation (the longest
/// IPv6 text is 45 bytes).
#[derive(Debug)]
struct IpText {
    ip: IpAddr,
    bytes: [u8; 48],
    len: usize,
}

impl IpText {
    fn new(ip: IpAddr) -> Self {
        let mut text = Self {
            ip,
            bytes: [0; 48],
            len: 0,
        };
        // Cannot fail: an address's text always fits.
        let _ = write!(text, "{ip}");
        text
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever written, so this never falls back.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let target = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        target.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Reads a context field from a request header.
///
/// A header the request does not have, or whose value is not UTF-8,
/// leaves the field unset (the flag sees an anonymous context).
#[derive(Debug, Clone)]
pub struct FromHeader {
    header: HeaderName,
    field: HeaderField,
}

#[derive(Debug, Clone)]
enum HeaderField {
    UserId,
    SessionId,
    Environment,
    Property(Arc<str>),
}

impl FromHeader {
    /// The user id (the default stickiness) from `header`.
    #[must_use]
    pub fn user_id(header: HeaderName) -> Self {
        Self {
            header,
            field: HeaderField::UserId,
        }
    }

    /// The session id from `header`.
    #[must_use]
    pub fn session_id(header: HeaderName) -> Self {
        Self {
            header,
            field: HeaderField::SessionId,
        }
    }

    /// The environment from `header`.
    #[must_use]
    pub fn environment(header: HeaderName) -> Self {
        Self {
            header,
            field: HeaderField::Environment,
        }
    }

    /// The custom property `property` from `header`.
    #[must_use]
    pub fn property(header: HeaderName, property: impl Into<Arc<str>>) -> Self {
        Self {
            header,
            field: HeaderField::Property(property.into()),
        }
    }
}

impl ExtractContext for FromHeader {
    #[inline]
    fn extract<'r>(
        &'r self,
        request: &'r Parts,
        _: &'r Scratch,
        context: Context<'r>,
    ) -> Result<Context<'r>, MissingContext> {
        let Some(value) = request
            .headers
            .get(&self.header)
            .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
        else {
            return Ok(context);
        };
        Ok(match &self.field {
            HeaderField::UserId => context.user_id(value),
            HeaderField::SessionId => context.session_id(value),
            HeaderField::Environment => context.environment(value),
            HeaderField::Property(name) => context.property(name, value),
        })
    }
}

/// The `remoteAddress` field from the connection's IP, for CIDR
/// constraints.
///
/// It reads a [`SocketAddr`] request extension (servers on hyper directly
/// insert one) and, with feature `axum`, axum's `ConnectInfo<SocketAddr>`
/// (serve with `into_make_service_with_connect_info::<SocketAddr>()`) or
/// `MockConnectInfo<SocketAddr>`. A request with none of them fails with
/// [`MissingContext`]: CIDR targeting would otherwise turn silently off for
/// everyone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientIp;

impl ExtractContext for ClientIp {
    #[inline]
    fn extract<'r>(
        &'r self,
        request: &'r Parts,
        scratch: &'r Scratch,
        context: Context<'r>,
    ) -> Result<Context<'r>, MissingContext> {
        let ip = peer_addr(&request.extensions)
            .ok_or(MissingContext::NO_PEER)?
            .ip();
        let text = scratch.ip_text(ip).ok_or(MissingContext::SCRATCH_FULL)?;
        Ok(context.remote_address(text))
    }
}

fn peer_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    let plain = extensions.get::<SocketAddr>().copied();
    #[cfg(feature = "axum")]
    let plain = plain.or_else(|| {
        use axum::extract::ConnectInfo;
        use axum::extract::connect_info::MockConnectInfo;
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr)
            .or_else(|| {
                extensions
                    .get::<MockConnectInfo<SocketAddr>>()
                    .map(|MockConnectInfo(addr)| *addr)
            })
    });
    plain
}

/// A closure that adds to the context; see [`context_fn`].
#[derive(Clone, Copy)]
pub struct ContextFn<F>(F);

impl<F> fmt::Debug for ContextFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContextFn")
    }
}

/// An extractor from a closure over the request head, for what the other
/// extractors do not read (a path segment, a cookie, a claim a previous
/// layer inserted).
///
/// ```
/// use palisade_flags::gate::{ExtractContext, Scratch, context_fn};
/// use palisade_flags::Context;
///
/// // The tenant is the first path segment.
/// let tenant = context_fn(|request, context| {
///     match request.uri.path().split('/').nth(1) {
///         Some(tenant) if !tenant.is_empty() => context.property("tenant", tenant),
///         _ => context,
///     }
/// });
/// let (parts, ()) = http::Request::get("/acme/orders").body(())?.into_parts();
/// let scratch = Scratch::new();
/// let context = tenant.extract(&parts, &scratch, Context::new())?;
/// assert_eq!(context.get_property("tenant"), Some("acme"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn context_fn<F>(f: F) -> ContextFn<F>
where
    F: for<'r> Fn(&'r Parts, Context<'r>) -> Context<'r>,
{
    ContextFn(f)
}

impl<F> ExtractContext for ContextFn<F>
where
    F: for<'r> Fn(&'r Parts, Context<'r>) -> Context<'r>,
{
    #[inline]
    fn extract<'r>(
        &'r self,
        request: &'r Parts,
        _: &'r Scratch,
        context: Context<'r>,
    ) -> Result<Context<'r>, MissingContext> {
        Ok((self.0)(request, context))
    }
}

/// The context cannot be built because of how the server is set up (for
/// example, no peer address is recorded for [`ClientIp`]). The gate answers
/// 500 problem+json `flag_context_unavailable` and logs the cause once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingContext {
    cause: &'static str,
}

impl MissingContext {
    const NO_PEER: Self = Self {
        cause: "no peer address is recorded for the request: serve an axum app with \
                `into_make_service_with_connect_info::<SocketAddr>()` (and enable \
                palisade-flags' `axum` feature), or insert the connection's `SocketAddr` \
                as a request extension",
    };

    const SCRATCH_FULL: Self = Self {
        cause: "more than two client addresses were extracted for one request",
    };

    /// A context extractor could not work, for `cause` (a set-up problem,
    /// shown in logs, never to the client).
    #[must_use]
    pub const fn new(cause: &'static str) -> Self {
        Self { cause }
    }

    /// What is missing and how to fix it.
    #[must_use]
    pub fn cause(&self) -> &'static str {
        self.cause
    }

    /// The problem+json answer: 500 `flag_context_unavailable` (the cause
    /// stays in the logs).
    pub fn to_problem(&self) -> palisade_problem::Problem {
        palisade_problem::Problem::palisade(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "flag_context_unavailable",
        )
        .with_title("Flag context unavailable")
        .with_detail("the server cannot evaluate a feature flag for this request")
    }
}

impl fmt::Display for MissingContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flag context unavailable: {}", self.cause)
    }
}

impl std::error::Error for MissingContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_renders_both_families_and_reuses_a_slot_for_the_same_address() {
        let scratch = Scratch::new();
        let v6: IpAddr = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(
            scratch.ip_text(IpAddr::from([10, 1, 2, 3])),
            Some("10.1.2.3")
        );
        assert_eq!(
            scratch.ip_text(IpAddr::from([10, 1, 2, 3])),
            Some("10.1.2.3")
        );
        assert_eq!(
            scratch.ip_text(v6),
            Some("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
        );
        assert_eq!(scratch.ip_text(IpAddr::from([10, 9, 9, 9])), None);
        let longest: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(
            Scratch::new().ip_text(longest),
            Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        );
    }
}
