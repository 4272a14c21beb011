//! The command-line settings of the API's access control.

use std::time::Duration;

use ipnet::IpNet;

use super::{Auth, DEFAULT_KEY_CACHE_TTL, IpRules, RateTiers, TierArg};
use crate::duration::parse_duration;
use crate::routes::stack::{DEFAULT_BODY_LIMIT, DEFAULT_REQUEST_TIMEOUT, StackConfig};
use crate::store::ServerDb;

/// The default prefix of every rate-limit key in Redis.
pub const DEFAULT_REDIS_PREFIX: &str = "palisade:api:";

/// Who may call `/api` and how often, and the limits of every route.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The first admin API key, a full `pal_<16 hex>_<64 hex>` token,
    /// registered at start when its id is not stored yet. Without it, the
    /// first start creates an admin key and prints it once on stderr.
    #[arg(
        long = "admin-token",
        env = "PALISADE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Only these client networks may call /api (CIDR, repeatable; the
    /// variable is comma-separated). Default: every address.
    #[arg(
        long = "api-allow",
        env = "PALISADE_API_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub api_allow: Vec<IpNet>,
    /// These client networks may never call /api (CIDR, repeatable; the
    /// variable is comma-separated); wins over --api-allow.
    #[arg(
        long = "api-deny",
        env = "PALISADE_API_DENY",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub api_deny: Vec<IpNet>,
    /// A rate-limit tier, NAME=REQUESTS_PER_MINUTE per API key (repeatable;
    /// the variable is comma-separated). Adds to or overrides the defaults
    /// low=5, standard=60, high=120.
    #[arg(
        long = "rate-tier",
        env = "PALISADE_RATE_TIERS",
        value_name = "NAME=N",
        value_delimiter = ','
    )]
    pub rate_tiers: Vec<TierArg>,
    /// Share the per-key rate limits with every instance through this
    /// Redis (`redis://host:6379`). Without it, each instance limits on its
    /// own. While Redis does not answer, requests are admitted. An empty
    /// value (`REDIS_URL=`) counts as unset.
    #[arg(
        long = "redis-url",
        env = "REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// The prefix of the rate-limit keys in Redis: instances with the same
    /// prefix share limits; give deployments sharing one Redis their own.
    #[arg(
        long = "redis-prefix",
        env = "PALISADE_REDIS_PREFIX",
        value_name = "PREFIX",
        default_value = DEFAULT_REDIS_PREFIX
    )]
    pub redis_prefix: String,
    /// The largest request body on every route, in bytes (413 above it).
    #[arg(
        long = "body-limit",
        env = "PALISADE_BODY_LIMIT",
        value_name = "BYTES",
        default_value_t = DEFAULT_BODY_LIMIT
    )]
    pub body_limit: usize,
    /// How long any request may take before it is answered 504.
    #[arg(
        long = "request-timeout",
        env = "PALISADE_REQUEST_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub request_timeout: Duration,
    /// How long an API key read from the database is trusted before it is
    /// read again (0 reads it on every request). A key revoked through this
    /// instance is refused at once; one revoked through another instance,
    /// or in the database directly, once this has passed.
    #[arg(
        long = "key-cache-ttl",
        env = "PALISADE_KEY_CACHE_TTL",
        value_name = "DURATION",
        default_value = "5s",
        value_parser = parse_duration
    )]
    pub key_cache_ttl: Duration,
}

impl Default for ApiArgs {
    fn default() -> Self {
        Self {
            admin_token: None,
            api_allow: Vec::new(),
            api_deny: Vec::new(),
            rate_tiers: Vec::new(),
            redis_url: None,
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            key_cache_ttl: DEFAULT_KEY_CACHE_TTL,
        }
    }
}

impl ApiArgs {
    /// Checks what can be checked before anything is opened: the admin
    /// token's format.
    ///
    /// # Errors
    ///
    /// A message naming the setting (never repeating the token).
    pub fn check(&self) -> Result<(), String> {
        if let Some(token) = &self.admin_token {
            super::ApiToken::parse(token.trim())
                .map_err(|e| format!("PALISADE_ADMIN_TOKEN: {e}"))?;
        }
        Ok(())
    }

    /// The body limit and request timeout of every route.
    #[must_use]
    pub fn stack(&self) -> StackConfig {
        StackConfig {
            body_limit: self.body_limit,
            request_timeout: self.request_timeout,
        }
    }

    /// The authentication handle for keys in `db`.
    ///
    /// # Errors
    ///
    /// A `--redis-url` that is not a Redis URL (the message never repeats it).
    pub fn auth(&self, db: ServerDb) -> Result<Auth, String> {
        let tiers = RateTiers::with(&self.rate_tiers);
        let ip_rules = IpRules::new(self.api_allow.clone(), self.api_deny.clone());
        // An empty variable is how many deployment tools "unset" one.
        let auth = match self.redis_url.as_deref().filter(|url| !url.is_empty()) {
            None => Auth::new(db, tiers, ip_rules),
            Some(url) => Auth::with_redis(db, tiers, ip_rules, url, &self.redis_prefix)
                .map_err(|_| "--redis-url / REDIS_URL: not a usable Redis URL".to_owned())?,
        };
        Ok(auth.with_key_cache_ttl(self.key_cache_ttl))
    }
}
