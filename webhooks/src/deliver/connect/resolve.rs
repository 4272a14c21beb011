//! Name resolution for the connector: the [`Resolve`] trait, the system
//! resolver and a fixed table for tests and pinned hosts.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

use super::policy::normalize_host;

/// The future a [`Resolve`] implementation returns.
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves a host name to its addresses. The connector vets every address
/// returned and connects only to allowed ones, so a resolver needs no
/// policy of its own.
///
/// Implement it to use another DNS client, a cache, or (in tests) names that
/// change their answer:
///
/// ```
/// use std::net::IpAddr;
/// use palisade_webhooks::deliver::connect::{Resolve, Resolving};
///
/// /// Every name is 192.0.2.1 (a documentation address).
/// struct Fixed;
///
/// impl Resolve for Fixed {
///     fn resolve(&self, _host: &str) -> Resolving {
///         Box::pin(async { Ok(vec![IpAddr::from([192, 0, 2, 1])]) })
///     }
/// }
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an IP literal: the connector
    /// does not resolve those). An empty list is treated as a failure.
    fn resolve(&self, host: &str) -> Resolving;
}

/// The operating system's resolver through [`tokio::net::lookup_host`]
/// (`getaddrinfo` on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Resolving {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A fixed table from host names to addresses; unknown names fail with
/// [`io::ErrorKind::NotFound`]. For tests (no real DNS) and for pinning
/// hosts. Names match ignoring ASCII case and a trailing dot.
///
/// ```
/// use palisade_webhooks::deliver::connect::{Resolve, StaticResolver};
///
/// let resolver = StaticResolver::new().with("hooks.test", ["127.0.0.1".parse()?]);
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// assert_eq!(resolver.resolve("HOOKS.test.").await?, ["127.0.0.1".parse::<std::net::IpAddr>()?]);
/// assert!(resolver.resolve("other.test").await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `host` to `addrs` (replacing an earlier entry).
    #[must_use]
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.table
            .insert(normalize_host(host), addrs.into_iter().collect());
        self
    }
}

impl fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticResolver")
            .field("hosts", &self.table.len())
            .finish()
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, host: &str) -> Resolving {
        let found = self.table.get(&normalize_host(host)).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} is not in the static table"),
                )
            })
        })
    }
}
