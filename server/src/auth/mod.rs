//! Who may call `/api`: API keys (`pal_<id>_<secret>`), their scopes and
//! rate-limit tiers, client address rules, and the first admin key.
//!
//! The [`Auth`] handle lives in the [`AppState`](crate::AppState); the
//! `/api` router runs the guard (`guard::authenticate`) before every handler.

pub mod args;
mod events;
pub(crate) mod guard;
mod ip;
mod key_cache;
mod limit;
mod token;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use self::ip::IpRules;
pub use self::key_cache::{DEFAULT_KEY_CACHE_TTL, KEY_CACHE_CAPACITY, KEY_CACHE_METRIC};
pub use self::limit::{DEFAULT_TIER, RateTiers, TierArg};
pub use self::token::{ApiToken, MalformedToken};
pub(crate) use events::SecurityEvent;
use key_cache::KeyCache;
use limit::TierLimiters;

use crate::api::Scope;
use crate::store::keys::StoredKey;
use crate::store::{DbError, ServerDb};

/// The authentication handle: the key store and its cache, the tiers and
/// their limiters, the address rules. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Auth {
    pub(crate) db: ServerDb,
    /// Keys recently read from `db`, for [`DEFAULT_KEY_CACHE_TTL`] unless
    /// set with [`Auth::with_key_cache_ttl`].
    pub(crate) keys: Arc<KeyCache>,
    pub(crate) tiers: Arc<RateTiers>,
    pub(crate) limiters: Arc<TierLimiters>,
    pub(crate) ip_rules: Arc<IpRules>,
    /// The Redis of the shared limits, pinged by readiness.
    pub(crate) redis: Option<redis::aio::ConnectionManager>,
}

impl Auth {
    /// Keys in `db`, limited per tier in this process.
    #[must_use]
    pub fn new(db: ServerDb, tiers: RateTiers, ip_rules: IpRules) -> Self {
        Self {
            db,
            keys: Arc::new(KeyCache::new(DEFAULT_KEY_CACHE_TTL)),
            limiters: Arc::new(TierLimiters::local(&tiers)),
            tiers: Arc::new(tiers),
            ip_rules: Arc::new(ip_rules),
            redis: None,
        }
    }

    /// Keys in `db`, limited per tier in the Redis at `redis_url` (keys
    /// under `prefix`), so every instance shares each key's limit.
    ///
    /// # Errors
    ///
    /// A URL that is not Redis's, or a call outside a Tokio runtime.
    pub fn with_redis(
        db: ServerDb,
        tiers: RateTiers,
        ip_rules: IpRules,
        redis_url: &str,
        prefix: &str,
    ) -> Result<Self, palisade_resilience::BoxError> {
        let conn = palisade_resilience::rate_limit::redis::lazy_connection(
            redis_url,
            limit::REDIS_TIMEOUT,
        )?;
        Ok(Self {
            db,
            keys: Arc::new(KeyCache::new(DEFAULT_KEY_CACHE_TTL)),
            limiters: Arc::new(TierLimiters::redis(&tiers, &conn, prefix)?),
            tiers: Arc::new(tiers),
            ip_rules: Arc::new(ip_rules),
            redis: Some(conn),
        })
    }

    /// Trusts a key read from the database for `ttl` before reading it
    /// again (default [`DEFAULT_KEY_CACHE_TTL`]); zero reads it on every
    /// request. A key revoked with [`Auth::revoke_key`] is refused at once;
    /// one revoked by another instance, or in the database directly, is
    /// refused once `ttl` has passed.
    ///
    /// ```
    /// # async fn demo(db: palisade_server::store::ServerDb) {
    /// use std::time::Duration;
    /// use palisade_server::auth::{Auth, IpRules, RateTiers};
    ///
    /// let auth = Auth::new(db, RateTiers::default(), IpRules::default())
    ///     .with_key_cache_ttl(Duration::from_secs(2));
    /// # let _ = auth;
    /// # }
    /// ```
    #[must_use]
    pub fn with_key_cache_ttl(mut self, ttl: Duration) -> Self {
        self.keys = Arc::new(KeyCache::new(ttl));
        self
    }

    /// The key store.
    #[must_use]
    pub fn db(&self) -> &ServerDb {
        &self.db
    }

    /// The configured tiers.
    #[must_use]
    pub fn tiers(&self) -> &RateTiers {
        &self.tiers
    }

    /// Creates and stores a new key; the returned token is the only time
    /// its secret exists outside the caller's hands.
    ///
    /// # Errors
    ///
    /// [`CreateKeyError`] when the OS has no randomness or the database fails.
    pub async fn create_key(
        &self,
        name: String,
        scope: Scope,
        tier: String,
    ) -> Result<(StoredKey, ApiToken), CreateKeyError> {
        let token = ApiToken::generate().map_err(|e| CreateKeyError::Random(e.to_string()))?;
        // Creation time is metadata shown to humans, not a timer.
        #[allow(clippy::disallowed_methods)]
        let key = StoredKey {
            id: token.id().to_owned(),
            name,
            scope,
            tier,
            created_at: SystemTime::now(),
            revoked_at: None,
        };
        if !self.db.insert_key(&key, &token.secret_hash()).await? {
            // 64 random bits collided with a stored id: vanishingly rare,
            // and never a reason to overwrite another key.
            return Err(CreateKeyError::Random("key id collision; try again".into()));
        }
        Ok((key, token))
    }

    /// Revokes the key `id` in the database and forgets it from this
    /// instance's cache, so it is refused from the next request on. Returns
    /// the key as it was before, or `None` when no key has this id.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn revoke_key(&self, id: &str, at: SystemTime) -> Result<Option<StoredKey>, DbError> {
        let revoked = self.db.revoke_key(id, at).await;
        // Evicted whatever the outcome: after an error the row may or may
        // not have changed, and reading it again is always safe.
        self.keys.evict(id);
        revoked
    }

    /// The first admin key: `admin_token` (a full `pal_…` token from
    /// `PALISADE_ADMIN_TOKEN`) is registered when its id is not stored yet;
    /// without one, when no key exists at all, an admin key is created and
    /// returned so the caller can show it once.
    ///
    /// # Errors
    ///
    /// [`CreateKeyError`] for a malformed token, no randomness, or the database.
    pub async fn bootstrap_admin(
        &self,
        admin_token: Option<&str>,
    ) -> Result<Option<ApiToken>, CreateKeyError> {
        if let Some(text) = admin_token {
            let token = ApiToken::parse(text.trim()).map_err(CreateKeyError::Malformed)?;
            #[allow(clippy::disallowed_methods)] // creation metadata
            let key = StoredKey {
                id: token.id().to_owned(),
                name: "admin (PALISADE_ADMIN_TOKEN)".to_owned(),
                scope: Scope::Admin,
                tier: self.bootstrap_tier(),
                created_at: SystemTime::now(),
                revoked_at: None,
            };
            if self.db.insert_key(&key, &token.secret_hash()).await? {
                tracing::info!(key_id = %key.id, "registered the admin key of PALISADE_ADMIN_TOKEN");
            }
            return Ok(None);
        }
        if self.db.key_count().await? > 0 {
            return Ok(None);
        }
        let (key, token) = self
            .create_key(
                "admin (first start)".to_owned(),
                Scope::Admin,
                self.bootstrap_tier(),
            )
            .await?;
        tracing::info!(key_id = %key.id, "created the first admin key");
        Ok(Some(token))
    }

    /// The admin's tier: the most generous one, so the operator is not
    /// locked out by their own limit.
    fn bootstrap_tier(&self) -> String {
        if self.tiers.contains("high") {
            return "high".to_owned();
        }
        self.tiers.names().last().unwrap_or(DEFAULT_TIER).to_owned()
    }
}

/// A key could not be created.
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateKeyError {
    /// `PALISADE_ADMIN_TOKEN` is not a `pal_…` token.
    Malformed(MalformedToken),
    /// The operating system gave no randomness.
    Random(String),
    /// The database failed.
    Database(DbError),
}

impl From<DbError> for CreateKeyError {
    fn from(e: DbError) -> Self {
        Self::Database(e)
    }
}

impl std::fmt::Display for CreateKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "PALISADE_ADMIN_TOKEN: {e}"),
            Self::Random(e) => write!(f, "cannot generate an API key: {e}"),
            Self::Database(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CreateKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Malformed(e) => Some(e),
            Self::Database(e) => Some(e),
            Self::Random(_) => None,
        }
    }
}
