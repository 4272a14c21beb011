//! The hyper client for webhook delivery, built on [`SafeConnector`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{ConfigBuilderExt, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::connector::SafeConnector;
use super::dial::{Dial, TcpDialer};
use super::resolve::{Resolve, SystemResolver};

/// How long an idle pooled connection is kept: below the 60 s idle timeout
/// common in load balancers in front of receivers, so we rarely reuse a
/// connection the other side is closing.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept per receiver host.
pub const POOL_MAX_IDLE_PER_HOST: usize = 32;

/// The delivery client: `hyper_util`'s pooled client over https (rustls with
/// ring) or http, every connection made by a [`SafeConnector`].
///
/// It never follows redirects (hyper's client has no redirect support): a
/// `3xx` is the response of the attempt, like any other status.
pub type WebhookClient<B, R = SystemResolver, D = TcpDialer> =
    Client<HttpsConnector<SafeConnector<R, D>>, B>;

/// A TLS configuration with the ring provider, the safe default protocol
/// versions (TLS 1.2 and 1.3) and the operating system's root certificates.
///
/// # Errors
///
/// When no usable root certificate is found in the system store.
pub fn native_roots_tls_config() -> io::Result<rustls::ClientConfig> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_native_roots()?
    .with_no_client_auth())
}

impl<R: Resolve, D: Dial> SafeConnector<R, D> {
    /// The delivery client over this connector: `https` with `tls` (see
    /// [`native_roots_tls_config`]) and `http` unless the policy is
    /// https-only; HTTP/1.1; connections pooled per host
    /// ([`POOL_IDLE_TIMEOUT`], [`POOL_MAX_IDLE_PER_HOST`]); redirects never
    /// followed.
    ///
    /// ```no_run
    /// use palisade_webhooks::deliver::connect::{native_roots_tls_config, AddressPolicy, SafeConnector};
    ///
    /// let client = SafeConnector::new(AddressPolicy::new().https_only(true))
    ///     .into_client::<http_body_util::Full<bytes::Bytes>>(native_roots_tls_config()?);
    /// # drop(client);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn into_client<B>(self, tls: rustls::ClientConfig) -> WebhookClient<B, R, D>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
    {
        // `https_or_http` even when https-only: the SafeConnector refuses
        // `http` itself, with the typed `HttpsRequired` error.
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(self);
        Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .build(https)
    }
}
