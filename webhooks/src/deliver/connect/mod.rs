//! The SSRF-safe outbound connection: webhooks go only where the
//! [`AddressPolicy`] allows.
//!
//! A webhook URL is chosen by a user, so without care a sender is an open
//! proxy into its own network: `http://169.254.169.254/` (cloud credentials),
//! `http://localhost:6379/`, or a name that resolves to `10.0.0.5` — or that
//! resolves to a public address when the endpoint is created and to
//! `127.0.0.1` a minute later (DNS rebinding). So:
//!
//! - [`AddressPolicy::validate_endpoint_url`] checks a URL when an endpoint is
//!   configured (scheme, host, no credentials, IP literals at once);
//! - [`SafeConnector`] resolves the host on **every** new connection, vets
//!   every address it gets ([`classify`], [`refused_ranges`]), and connects
//!   only to an allowed one; a refused destination fails with
//!   [`BlockedAddress`] before any packet is sent;
//! - [`SafeConnector::into_client`] builds the pooled hyper client for
//!   delivery, which never follows redirects.
//!
//! Refused by default: loopback, private (RFC 1918), link-local (including
//! `169.254.169.254`), carrier-grade NAT, unique-local, multicast, broadcast,
//! unspecified, reserved, documentation and benchmarking ranges, and the
//! IPv4-mapped, IPv4-compatible, 6to4, NAT64 and Teredo forms of them. An
//! allow-list of networks and host names opens exceptions.
//!
//! ```
//! use http_body_util::Empty;
//! use bytes::Bytes;
//! use palisade_webhooks::deliver::connect::{
//!     find_cause, AddressPolicy, BlockedAddress, RangeKind, SafeConnector, StaticResolver,
//! };
//!
//! // An attacker's name that resolves to the cloud metadata endpoint.
//! let resolver = StaticResolver::new().with("hooks.attacker.example", ["169.254.169.254".parse()?]);
//! let policy = AddressPolicy::new();
//! let uri = policy.validate_endpoint_url("http://hooks.attacker.example/latest/meta-data")?;
//!
//! # let tls = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
//! #     .with_safe_default_protocol_versions()?
//! #     .with_root_certificates(rustls::RootCertStore::empty())
//! #     .with_no_client_auth();
//! // `tls` would usually be `native_roots_tls_config()?`.
//! let client = SafeConnector::new(policy).with_resolver(resolver).into_client::<Empty<Bytes>>(tls);
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let err = client.get(uri).await.unwrap_err();
//! let blocked = find_cause::<BlockedAddress>(&err).expect("refused by the policy");
//! assert_eq!(blocked.kind(), RangeKind::CloudMetadata);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod connector;
mod dial;
pub mod error;
mod policy;
mod ranges;
mod resolve;
mod url;

/// The boxed error type the connector returns (as tower and hyper use).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub use client::{
    POOL_IDLE_TIMEOUT, POOL_MAX_IDLE_PER_HOST, WebhookClient, native_roots_tls_config,
};
pub use connector::{Connecting, DEFAULT_CONNECT_TIMEOUT, MAX_ADDRESSES_TRIED, SafeConnector};
pub use dial::{Dial, Dialing, TcpDialer};
pub use error::{
    BlockedAddress, ConnectFailed, HttpsRequired, InvalidTarget, ResolveFailed, find_cause,
};
pub use ipnet::IpNet;
pub use policy::{AddressPolicy, InvalidHostPattern};
pub use ranges::{Ipv6Embedding, RangeKind, Refusal, RefusedRange, classify, refused_ranges};
pub use resolve::{Resolve, Resolving, StaticResolver, SystemResolver};
pub use rustls;
pub use url::EndpointUrlError;

#[cfg(test)]
mod tests;
