//! The webhook delivery engine the server runs: its flags and how they
//! become an [`Engine`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::deliver::{BuildError, Engine};
use palisade_webhooks::store::Store;

use crate::duration::parse_duration;

/// How the server delivers webhooks.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliveryArgs {
    /// Allow webhook endpoints in this network although it is private,
    /// loopback or otherwise refused (e.g. 10.0.0.0/8 for your own network).
    /// Repeatable; the variable takes a comma-separated list.
    #[arg(
        long = "webhook-allow-net",
        env = "PALISADE_WEBHOOK_ALLOW_NET",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_net
    )]
    pub allow_nets: Vec<IpNet>,
    /// Allow webhook endpoints on this host name (or `*.domain`) whatever it
    /// resolves to. Repeatable; the variable takes a comma-separated list.
    #[arg(
        long = "webhook-allow-host",
        env = "PALISADE_WEBHOOK_ALLOW_HOST",
        value_name = "HOST",
        value_delimiter = ',',
        value_parser = parse_host
    )]
    pub allow_hosts: Vec<String>,
    /// Refuse plain http:// webhook endpoints (recommended in production).
    #[arg(
        long = "webhook-https-only",
        env = "PALISADE_WEBHOOK_HTTPS_ONLY",
        value_parser = clap::builder::FalseyValueParser::new(),
        default_value_t = false
    )]
    pub https_only: bool,
    /// The most webhook attempts in flight at once.
    #[arg(
        long = "webhook-max-in-flight",
        env = "PALISADE_WEBHOOK_MAX_IN_FLIGHT",
        value_name = "N",
        default_value_t = 256,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub max_in_flight: u32,
    /// How many due deliveries one claim takes at most.
    #[arg(
        long = "webhook-batch-size",
        env = "PALISADE_WEBHOOK_BATCH_SIZE",
        value_name = "N",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub batch_size: u32,
    /// The most one attempt may take (e.g. 500ms, 15s).
    #[arg(
        long = "webhook-attempt-timeout",
        env = "PALISADE_WEBHOOK_ATTEMPT_TIMEOUT",
        value_name = "DURATION",
        default_value = "15s",
        value_parser = parse_duration
    )]
    pub attempt_timeout: Duration,
    /// How long a claimed delivery is held before another instance (or this
    /// one after a crash) sends it again; longer than the attempt timeout.
    #[arg(
        long = "webhook-lease",
        env = "PALISADE_WEBHOOK_LEASE",
        value_name = "DURATION",
        default_value = "60s",
        value_parser = parse_duration
    )]
    pub lease: Duration,
}

fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| "not a network; write e.g. 10.0.0.0/8, 127.0.0.1 or fd00::/8".to_owned())
}

fn parse_host(text: &str) -> Result<String, String> {
    let text = text.trim();
    AddressPolicy::new()
        .allow_host(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

impl DeliveryArgs {
    /// The address policy these flags describe.
    #[must_use]
    pub fn address_policy(&self) -> AddressPolicy {
        let mut policy = AddressPolicy::new().https_only(self.https_only);
        for net in &self.allow_nets {
            policy = policy.allow_net(*net);
        }
        for host in &self.allow_hosts {
            // Checked by the value parser; a pattern cannot become invalid.
            if let Ok(allowed) = policy.clone().allow_host(host) {
                policy = allowed;
            }
        }
        policy
    }

    /// Checks the settings that depend on each other, before anything is
    /// opened.
    ///
    /// # Errors
    ///
    /// [`DeliveryConfigError::LeaseTooShort`] when the lease is not longer
    /// than the attempt timeout.
    pub fn check(&self) -> Result<(), DeliveryConfigError> {
        if self.lease <= self.attempt_timeout {
            return Err(DeliveryConfigError::LeaseTooShort {
                lease: self.lease,
                attempt_timeout: self.attempt_timeout,
            });
        }
        Ok(())
    }

    /// Builds the engine over `store`.
    ///
    /// # Errors
    ///
    /// [`DeliveryConfigError`] when the lease is not longer than the attempt
    /// timeout, or the engine cannot be built (no root certificates).
    pub fn engine(&self, store: Arc<dyn Store>) -> Result<Engine, DeliveryConfigError> {
        self.check()?;
        Engine::builder(store)
            .address_policy(self.address_policy())
            .max_in_flight(usize::try_from(self.max_in_flight).unwrap_or(usize::MAX))
            .batch_size(self.batch_size)
            .attempt_timeout(self.attempt_timeout)
            .lease(self.lease)
            .build()
            .map_err(DeliveryConfigError::Build)
    }
}

/// The delivery settings do not make a working engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeliveryConfigError {
    /// A lease no longer than an attempt would let a slow attempt be sent
    /// twice at once.
    LeaseTooShort {
        /// `--webhook-lease`.
        lease: Duration,
        /// `--webhook-attempt-timeout`.
        attempt_timeout: Duration,
    },
    /// The engine refused its settings.
    Build(BuildError),
}

impl fmt::Display for DeliveryConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LeaseTooShort {
                lease,
                attempt_timeout,
            } => write!(
                f,
                "--webhook-lease ({lease:?}) must be longer than --webhook-attempt-timeout ({attempt_timeout:?})"
            ),
            Self::Build(e) => write!(f, "cannot start webhook delivery: {e}"),
        }
    }
}

impl std::error::Error for DeliveryConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Build(e) => Some(e),
            Self::LeaseTooShort { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_single_addresses_are_accepted() {
        assert_eq!(parse_net("127.0.0.0/8"), Ok("127.0.0.0/8".parse().unwrap()));
        assert_eq!(parse_net(" 10.1.2.3 "), Ok("10.1.2.3/32".parse().unwrap()));
        assert_eq!(parse_net("fd00::/8"), Ok("fd00::/8".parse().unwrap()));
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("example.com").is_err());
    }

    #[test]
    fn host_patterns_are_checked() {
        assert_eq!(
            parse_host("*.internal.example"),
            Ok("*.internal.example".into())
        );
        assert!(parse_host("a*.example").is_err());
        assert!(parse_host("").is_err());
    }
}
