//! [`SafeConnector`]: resolve, vet every address, connect only to a vetted one.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::BoxError;
use super::dial::{Dial, TcpDialer};
use super::error::{
    self, BlockedAddress, ConnectFailed, HttpsRequired, InvalidTarget, ResolveFailed,
};
use super::policy::{AddressPolicy, normalize_host};
use super::resolve::{Resolve, SystemResolver};

/// How long one TCP connect attempt may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many allowed addresses of one host are tried per connection,
/// so a name with dozens of unreachable addresses costs at most this many
/// connect timeouts.
pub const MAX_ADDRESSES_TRIED: usize = 4;

/// A `tower::Service<http::Uri>` connector for `hyper_util`'s legacy
/// `Client` that refuses to reach addresses its [`AddressPolicy`] refuses.
///
/// On every call (every new connection, so DNS rebinding between two
/// connections is caught) it:
///
/// 1. refuses schemes other than `http`/`https`, and `http` when the policy
///    is https-only ([`HttpsRequired`]);
/// 2. takes an IP literal host as is, or resolves a name with its
///    [`Resolve`]r within the connect timeout ([`ResolveFailed`]);
/// 3. vets every address: refused ones are skipped, and if none is left the
///    call fails with [`BlockedAddress`] (naming the first refused address and
///    its range) without any connection being attempted;
/// 4. connects to the allowed addresses in order, each attempt bounded by the
///    connect timeout, until one succeeds (at most [`MAX_ADDRESSES_TRIED`];
///    [`ConnectFailed`] when none does);
/// 5. checks the peer address of the new socket against the policy again
///    and sets `TCP_NODELAY`.
///
/// Errors are `BoxError`s holding one of the types in
/// [`error`](super::error); find them in a client error with
/// [`find_cause`](super::find_cause). Wrap it with
/// `hyper_rustls::HttpsConnectorBuilder::wrap_connector` for https, or use
/// [`SafeConnector::into_client`] which does that.
pub struct SafeConnector<R = SystemResolver, D = TcpDialer> {
    policy: Arc<AddressPolicy>,
    resolver: Arc<R>,
    dialer: Arc<D>,
    connect_timeout: Duration,
}

impl SafeConnector {
    /// A connector with the system resolver, plain TCP and
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    #[must_use]
    pub fn new(policy: AddressPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
            resolver: Arc::new(SystemResolver),
            dialer: Arc::new(TcpDialer),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl<R, D> SafeConnector<R, D> {
    /// Uses `resolver` for host names.
    #[must_use]
    pub fn with_resolver<R2>(self, resolver: R2) -> SafeConnector<R2, D> {
        SafeConnector {
            policy: self.policy,
            resolver: Arc::new(resolver),
            dialer: self.dialer,
            connect_timeout: self.connect_timeout,
        }
    }

    /// Uses `dialer` to open TCP connections.
    #[must_use]
    pub fn with_dialer<D2>(self, dialer: D2) -> SafeConnector<R, D2> {
        SafeConnector {
            policy: self.policy,
            resolver: self.resolver,
            dialer: Arc::new(dialer),
            connect_timeout: self.connect_timeout,
        }
    }

    /// Bounds name resolution and each TCP connect attempt (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    /// A zero timeout is raised to one millisecond so that a connect is
    /// always attempted.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The policy every connection is checked against.
    #[must_use]
    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }
}

impl<R, D> Clone for SafeConnector<R, D> {
    fn clone(&self) -> Self {
        Self {
            policy: Arc::clone(&self.policy),
            resolver: Arc::clone(&self.resolver),
            dialer: Arc::clone(&self.dialer),
            connect_timeout: self.connect_timeout,
        }
    }
}

impl<R, D> fmt::Debug for SafeConnector<R, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeConnector")
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl<R: Resolve, D: Dial> Service<Uri> for SafeConnector<R, D> {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Connecting {
            inner: Box::pin(async move { this.connect(&uri).await }),
        }
    }
}

impl<R: Resolve, D: Dial> SafeConnector<R, D> {
    async fn connect(&self, uri: &Uri) -> Result<TokioIo<TcpStream>, BoxError> {
        let default_port = match uri.scheme_str() {
            Some("https") => 443,
            Some("http") if self.policy.is_https_only() => return Err(HttpsRequired.into()),
            Some("http") => 80,
            _ => return Err(InvalidTarget::new("the scheme is not http or https").into()),
        };
        let host = match uri.host() {
            Some(host) if !host.is_empty() => normalize_host(host),
            _ => return Err(InvalidTarget::new("the URI has no host").into()),
        };
        let port = uri.port_u16().unwrap_or(default_port);

        let addrs = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let resolving = self.resolver.resolve(&host);
                let addrs = match tokio::time::timeout(self.connect_timeout, resolving).await {
                    Ok(resolved) => resolved.map_err(|err| ResolveFailed::new(&host, err))?,
                    Err(_elapsed) => {
                        let err = error::timed_out("resolve", self.connect_timeout);
                        return Err(ResolveFailed::new(&host, err).into());
                    }
                };
                if addrs.is_empty() {
                    let none = io::Error::new(io::ErrorKind::NotFound, "no addresses");
                    return Err(ResolveFailed::new(&host, none).into());
                }
                addrs
            }
        };

        let mut first_refused = None;
        let mut attempts = Vec::new();
        for ip in addrs {
            if let Some(reason) = self.policy.refusal(Some(&host), ip) {
                tracing::debug!(%host, %ip, %reason, "webhook connect: address refused");
                first_refused.get_or_insert(BlockedAddress::new(host.as_str(), ip, reason));
                continue;
            }
            if attempts.len() == MAX_ADDRESSES_TRIED {
                break;
            }
            let addr = SocketAddr::new(ip, port);
            let dialed = tokio::time::timeout(self.connect_timeout, self.dialer.dial(addr)).await;
            let stream = match dialed {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    attempts.push((addr, err));
                    continue;
                }
                Err(_elapsed) => {
                    attempts.push((addr, error::timed_out("connect", self.connect_timeout)));
                    continue;
                }
            };
            // Whatever the dialer did, the socket must end at an allowed address.
            let peer = stream.peer_addr()?;
            if let Some(reason) = self.policy.refusal(Some(&host), peer.ip()) {
                return Err(BlockedAddress::new(host.as_str(), peer.ip(), reason).into());
            }
            stream.set_nodelay(true)?;
            return Ok(TokioIo::new(stream));
        }
        match first_refused {
            Some(blocked) if attempts.is_empty() => Err(blocked.into()),
            _ => Err(ConnectFailed::new(&host, attempts).into()),
        }
    }
}

/// The future [`SafeConnector`] returns: resolving, vetting and connecting.
/// Boxed, as it runs once per new connection, not per request.
pub struct Connecting {
    inner: Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, BoxError>> + Send>>,
}

impl fmt::Debug for Connecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connecting").finish_non_exhaustive()
    }
}

impl Future for Connecting {
    type Output = Result<TokioIo<TcpStream>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}
