//! [`PeerIp`]: the address of the connection a request came over.

use std::net::{IpAddr, SocketAddr};

use http::{Extensions, Request};

use super::{ExtractKey, MissingKey};

/// Keys on the client IP: the address of the connection the request came
/// over.
///
/// It reads, in order, a plain [`SocketAddr`] request extension (servers on
/// hyper directly insert one) and — with feature `axum` — axum's
/// `ConnectInfo<SocketAddr>` (from `into_make_service_with_connect_info`) and
/// `MockConnectInfo<SocketAddr>` (tests). A request with none of them is
/// refused with [`MissingKey`] rather than pooled with every other client:
/// see the [module docs](super) for what to do. Behind a reverse proxy use
/// [`ForwardedIp`](super::ForwardedIp).
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use palisade_resilience::key::{ExtractKey, PeerIp};
///
/// let mut req = http::Request::new(());
/// assert!(PeerIp.extract(&req).is_err());
/// req.extensions_mut().insert(SocketAddr::from(([192, 0, 2, 7], 4711)));
/// assert_eq!(PeerIp.extract(&req), Ok(IpAddr::from([192, 0, 2, 7])));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerIp;

pub(super) const NO_PEER: &str = "no peer address is recorded for the request: serve an axum app with \
     `into_make_service_with_connect_info::<SocketAddr>()` (and enable palisade-resilience's \
     `axum` feature), or insert the connection's `SocketAddr` as a request extension";

impl<B> ExtractKey<Request<B>> for PeerIp {
    type Key = IpAddr;

    #[inline]
    fn extract(&self, req: &Request<B>) -> Result<IpAddr, MissingKey> {
        peer_addr(req.extensions())
            .map(|addr| addr.ip())
            .ok_or(MissingKey::misconfigured(NO_PEER))
    }
}

/// The peer address recorded in `extensions`: a plain `SocketAddr`, else
/// (feature `axum`) axum's `ConnectInfo<SocketAddr>`, else its
/// `MockConnectInfo<SocketAddr>`.
#[must_use]
pub fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
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

#[cfg(all(test, feature = "axum"))]
mod tests {
    use axum::extract::ConnectInfo;

    use super::*;

    #[test]
    fn reads_axum_connect_info_without_any_other_layer() {
        let mut req = Request::new(());
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 2], 1))));
        assert_eq!(PeerIp.extract(&req), Ok(IpAddr::from([127, 0, 0, 2])));
        // A plain address wins: it is what a hyper server set explicitly.
        req.extensions_mut()
            .insert(SocketAddr::from(([127, 0, 0, 3], 1)));
        assert_eq!(PeerIp.extract(&req), Ok(IpAddr::from([127, 0, 0, 3])));
    }
}
