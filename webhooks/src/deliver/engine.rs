//! The engine: publish, then claim, send and report in a loop.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use palisade_resilience::circuit_breaker::{KeyedCircuitBreakerHandle, State};
use palisade_resilience::retry::http::{SystemClock, WallClock};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::client::{self, HttpClient};
use super::config::Config;
use super::connect::{AddressPolicy, SafeConnector, native_roots_tls_config};
use super::limits::EndpointLimits;
use super::operational;
use super::schema::{self, Schemas};
use super::{
    BuildError, EndpointError, EventTypeError, PublishError, RetrySchedule, attempt, headers,
};
use crate::store::{
    Claimed, Endpoint, EventType, Finished, NewEndpoint, NewMessage, Next, Published, Store,
};

/// The delivery engine. Cheap to clone: clones share the store, the
/// breakers and the limits.
///
/// Build it with [`Engine::builder`], publish with [`Engine::publish`], and
/// run the workers with [`Engine::start`] (in as many processes as you like
/// on a shared Postgres store).
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("instance", &self.shared.instance)
            .field("store", &self.shared.store)
            .finish_non_exhaustive()
    }
}

pub(super) struct Shared {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn WallClock>,
    pub(super) config: Config,
    pub(super) stack: HttpClient,
    pub(super) limits: EndpointLimits,
    pub(super) breakers: KeyedCircuitBreakerHandle<String>,
    policy: AddressPolicy,
    schemas: Schemas,
    pub(super) wake: Notify,
    instance: String,
    claims: AtomicU64,
}

impl Shared {
    /// What follows a failed attempt: the schedule's next delay, or a wait
    /// the endpoint asked for (longer of the two), or death.
    pub(super) fn next_after_failure(
        &self,
        claimed: &Claimed,
        attempts_made: u32,
        now: SystemTime,
        asked: Option<Duration>,
    ) -> Next {
        match self
            .config
            .schedule
            .delay_after(attempts_made, claimed.delivery_id)
        {
            Some(delay) => Next::RetryAt(now + asked.map_or(delay, |a| a.max(delay))),
            None => Next::Dead,
        }
    }
}

/// Settings for an [`Engine`]; from [`Engine::builder`].
#[must_use]
pub struct EngineBuilder {
    store: Arc<dyn Store>,
    client: Option<HttpClient>,
    policy: AddressPolicy,
    clock: Arc<dyn WallClock>,
    config: Config,
    max_endpoints: NonZeroUsize,
    instance: Option<String>,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// Which addresses endpoints may point at (default
    /// [`AddressPolicy::new`]: public addresses only). It checks endpoint
    /// URLs when they are saved and, through the default client's
    /// connector, every address on every attempt.
    pub fn address_policy(mut self, policy: AddressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends through this client instead of the default (a pooled hyper
    /// client whose [`SafeConnector`] applies the address policy, with
    /// rustls and the system's root certificates). A custom client is
    /// responsible for its own address checks; endpoint URLs are still
    /// checked against the policy when saved.
    pub fn client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// The wall clock stored times and signatures use (default: the
    /// system's).
    pub fn clock(mut self, clock: impl WallClock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// When failed deliveries are tried again (default
    /// [`RetrySchedule::default`]).
    pub fn schedule(mut self, schedule: RetrySchedule) -> Self {
        self.config.schedule = schedule;
        self
    }

    /// The most one attempt may take (default 15 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.config.attempt_timeout = timeout;
        self
    }

    /// How long a claim lasts before another worker may take the delivery
    /// (default 60 s; keep it well above the attempt timeout).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// How many deliveries one claim takes at most (default 64).
    pub fn batch_size(mut self, batch: u32) -> Self {
        self.config.batch_size = batch.max(1);
        self
    }

    /// How many attempts run at once in this engine (default 256). An
    /// attempt counts until its outcome is written to the store, so this
    /// also bounds how many deliveries a crash can send twice.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n.max(1);
        self
    }

    /// How often an idle worker looks for due deliveries (default 250 ms);
    /// publishing through this engine wakes it at once.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval;
        self
    }

    /// The longest `Retry-After` honoured on a 429 or 503 (default 1 h).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.config.max_retry_after = max;
        self
    }

    /// Disable an endpoint whose attempts have all failed for this long
    /// (default 5 days; `None` never disables).
    pub fn disable_after(mut self, after: Option<Duration>) -> Self {
        self.config.disable_after = after;
        self
    }

    /// The largest payload [`Engine::publish`] accepts (default 1 MiB).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.max_payload = bytes;
        self
    }

    /// How many bytes of each response body are kept with the attempt
    /// (default 1 KiB).
    pub fn response_excerpt(mut self, bytes: usize) -> Self {
        self.config.response_excerpt = bytes;
        self
    }

    /// How long an endpoint's breaker stays open before a probe (default
    /// 30 s). Deliveries to an open endpoint are postponed, their attempts
    /// unspent.
    pub fn breaker_open_for(mut self, wait: Duration) -> Self {
        self.config.breaker_open_for = wait;
        self
    }

    /// Publishes [operational events](super::operational) to this
    /// application (create the event types' subscriber endpoints in it).
    /// Off by default.
    pub fn operational_events(mut self, application: impl Into<String>) -> Self {
        self.config.operational_app = Some(application.into());
        self
    }

    /// After how many failed attempts in a row `message.attempt.failing` is
    /// sent (default 3).
    pub fn failing_after(mut self, attempts: u32) -> Self {
        self.config.failing_after = attempts.max(1);
        self
    }

    /// Removes payloads of messages whose deliveries all finished this long
    /// ago (attempts and message metadata stay). Default 30 days; `None`
    /// keeps payloads forever.
    pub fn retention(mut self, retention: Option<Duration>) -> Self {
        self.config.retention = retention;
        self
    }

    /// How often the queue gauges are refreshed and retention runs
    /// (default 5 s).
    pub fn upkeep_interval(mut self, interval: Duration) -> Self {
        self.config.upkeep_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Exports `webhook_endpoint_breaker_open{endpoint}`: one series per
    /// endpoint, so off by default.
    pub fn breaker_metrics(mut self, on: bool) -> Self {
        self.config.breaker_metrics = on;
        self
    }

    /// The name of this engine instance in claim tokens and logs (default
    /// a random one).
    pub fn instance(mut self, name: impl Into<String>) -> Self {
        self.instance = Some(name.into());
        self
    }

    /// Builds the engine.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the breaker settings are invalid or, for the
    /// default client, no root certificate can be loaded.
    pub fn build(self) -> Result<Engine, BuildError> {
        let breakers = client::endpoint_breakers(self.config.breaker_open_for, self.max_endpoints)
            .map_err(BuildError::Breaker)?;
        let client = match self.client {
            Some(client) => client,
            None => {
                let tls = native_roots_tls_config().map_err(BuildError::Tls)?;
                client::boxed_client(SafeConnector::new(self.policy.clone()).into_client(tls))
            }
        };
        let breaker_handles = breakers.handle();
        let stack = client::stack(breakers, self.config.attempt_timeout, client);
        let now = self.clock.now();
        Ok(Engine {
            shared: Arc::new(Shared {
                store: self.store,
                stack,
                limits: EndpointLimits::default(),
                wake: Notify::new(),
                instance: self
                    .instance
                    .unwrap_or_else(|| crate::store::new_id("eng_", now)),
                claims: AtomicU64::new(0),
                clock: self.clock,
                config: self.config,
                policy: self.policy,
                schemas: Schemas::default(),
                breakers: breaker_handles,
            }),
        })
    }
}

impl Engine {
    /// Starts configuring an engine that keeps its outbox in `store`.
    pub fn builder(store: Arc<dyn Store>) -> EngineBuilder {
        EngineBuilder {
            store,
            client: None,
            policy: AddressPolicy::new(),
            clock: Arc::new(SystemClock),
            config: Config::default(),
            max_endpoints: NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN),
            instance: None,
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Every endpoint with a breaker and its state (for dashboards and the
    /// server's breaker API; force open or reset through the handle).
    #[must_use]
    pub fn breakers(
        &self,
    ) -> Vec<(
        String,
        palisade_resilience::circuit_breaker::CircuitBreakerHandle,
    )> {
        self.shared.breakers.handles()
    }

    /// The breaker state of one endpoint (`Closed` if it has none yet).
    #[must_use]
    pub fn breaker_state(&self, endpoint_id: &str) -> State {
        self.shared
            .breakers
            .handle(&endpoint_id.to_owned())
            .map_or(State::Closed, |h| h.state())
    }

    /// Checks and stores a message with one delivery per subscribed endpoint,
    /// returning once both are committed, and wakes this engine's workers.
    ///
    /// # Errors
    ///
    /// [`PublishError`]: payload too large, not JSON or not matching its event
    /// type's schema, unknown event type, idempotency key reused for another
    /// message, or a store failure.
    /// Nothing is stored then.
    pub async fn publish(&self, message: NewMessage) -> Result<Published, PublishError> {
        let limit = self.shared.config.max_payload;
        if message.payload.len() > limit {
            return Err(PublishError::PayloadTooLarge {
                size: message.payload.len(),
                limit,
            });
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&message.payload)
            .map_err(|e| PublishError::InvalidJson(e.to_string()))?;
        self.shared
            .schemas
            .check(
                self.shared.store.as_ref(),
                &message.event_type,
                &message.payload,
            )
            .await?;
        let published = self
            .shared
            .store
            .publish(message, self.shared.clock.now())
            .await?;
        if published.deliveries > 0 {
            self.shared.wake.notify_one();
        }
        Ok(published)
    }

    /// Checks and stores an event type: its name, and its JSON Schema if it
    /// has one (payloads of this type are checked against it at publish).
    ///
    /// # Errors
    ///
    /// [`EventTypeError`]: an invalid name or schema, a name that exists, or
    /// a store failure.
    pub async fn create_event_type(&self, event_type: EventType) -> Result<(), EventTypeError> {
        schema::check_event_type(&event_type)?;
        Ok(self
            .shared
            .store
            .create_event_type(event_type, self.shared.clock.now())
            .await?)
    }

    /// Checks and stores an endpoint.
    ///
    /// # Errors
    ///
    /// [`EndpointError`]: a URL the address policy refuses (not absolute
    /// `http(s)`, credentials in it, a non-public IP literal, `http` when
    /// HTTPS is required), a forbidden or invalid custom header, or a store
    /// failure. Nothing is stored then.
    pub async fn create_endpoint(&self, endpoint: NewEndpoint) -> Result<Endpoint, EndpointError> {
        self.check_endpoint(&endpoint.url, &endpoint.headers)?;
        Ok(self
            .shared
            .store
            .create_endpoint(endpoint, self.shared.clock.now())
            .await?)
    }

    /// Checks and saves an endpoint's new settings (see
    /// [`Store::update_endpoint`]).
    ///
    /// # Errors
    ///
    /// As [`create_endpoint`](Self::create_endpoint), or an unknown
    /// endpoint.
    pub async fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), EndpointError> {
        self.check_endpoint(&endpoint.url, &endpoint.headers)?;
        Ok(self
            .shared
            .store
            .update_endpoint(endpoint, self.shared.clock.now())
            .await?)
    }

    fn check_endpoint(&self, url: &str, custom: &[(String, String)]) -> Result<(), EndpointError> {
        self.shared
            .policy
            .validate_endpoint_url(url)
            .map_err(|e| EndpointError::InvalidUrl(e.to_string()))?;
        headers::check(custom)
    }

    /// Starts the worker loop on the current tokio runtime.
    pub fn start(&self) -> Running {
        let (stop, stopped) = watch::channel(None);
        let task = tokio::spawn(run(Arc::clone(&self.shared), stopped));
        Running { stop, task }
    }
}

/// The running workers of an [`Engine`]; from [`Engine::start`].
#[derive(Debug)]
#[must_use = "dropping `Running` leaves the workers running; call `shutdown` to stop them"]
pub struct Running {
    stop: watch::Sender<Option<Duration>>,
    task: tokio::task::JoinHandle<ShutdownReport>,
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Attempts that finished after the shutdown began.
    pub finished_in_flight: u64,
    /// Attempts cut off at the deadline (their deliveries are due again
    /// at once, for any worker).
    pub cut_off: u64,
    /// Claimed deliveries handed back.
    pub released: u64,
}

impl Running {
    /// Stops claiming, lets in-flight attempts finish for up to `deadline`,
    /// cuts off the rest and hands every unfinished claim back to the store.
    /// Nothing is lost: what did not finish is due again at once.
    pub async fn shutdown(self, deadline: Duration) -> ShutdownReport {
        let _ = self.stop.send(Some(deadline));
        self.task.await.unwrap_or_default()
    }
}

/// Endpoints are read again at most this often, so changes (a new secret,
/// a new URL, a disable) apply within it.
const ENDPOINT_TTL: Duration = Duration::from_secs(1);

async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<Option<Duration>>) -> ShutdownReport {
    let permits = Arc::new(Semaphore::new(shared.config.max_in_flight));
    let (report, reports) = mpsc::unbounded_channel::<Report>();
    let reporter = tokio::spawn(report_loop(Arc::clone(&shared), reports));
    let upkeep = tokio::spawn(super::upkeep::run(
        Arc::clone(&shared),
        Arc::clone(&permits),
        stop.clone(),
    ));
    if shared.config.operational_app.is_some()
        && let Err(error) = operational::ensure_event_types(&shared).await
    {
        tracing::error!(%error, "creating the operational event types failed; operational events may be refused");
    }
    let mut tasks = JoinSet::new();
    let mut tokens: VecDeque<(Arc<str>, Instant)> = VecDeque::new();
    let mut endpoints: HashMap<String, (Option<Arc<Endpoint>>, Instant)> = HashMap::new();
    let lease = shared.config.lease;

    loop {
        if stop.borrow().is_some() {
            break;
        }
        // Reap finished attempt tasks so the set stays small.
        while tasks.try_join_next().is_some() {}
        let available = permits.available_permits();
        if available == 0 {
            // Permits come back when attempts are recorded (not when their
            // tasks end), so wait for one, not for a task.
            tokio::select! {
                permit = permits.acquire() => drop(permit),
                _ = stop.changed() => {}
            }
            continue;
        }
        let limit = u32::try_from(available)
            .unwrap_or(u32::MAX)
            .min(shared.config.batch_size);
        let n = shared.claims.fetch_add(1, Ordering::Relaxed);
        let token: Arc<str> = format!("{}:{n}", shared.instance).into();
        let batch = match shared
            .store
            .claim(&token, shared.clock.now(), lease, limit)
            .await
        {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, "claiming webhook deliveries failed; retrying");
                idle(&shared, &mut stop).await;
                continue;
            }
        };
        if batch.is_empty() {
            idle(&shared, &mut stop).await;
            continue;
        }
        tokens.push_back((Arc::clone(&token), Instant::now()));
        while tokens.front().is_some_and(|(_, at)| at.elapsed() > lease) {
            tokens.pop_front();
        }
        for claimed in batch {
            let endpoint = endpoint_of(&shared, &mut endpoints, &claimed.endpoint_id).await;
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                break;
            };
            let shared = Arc::clone(&shared);
            let report = report.clone();
            let token = Arc::clone(&token);
            let span = tracing::info_span!(
                "webhook.attempt",
                message_id = %claimed.message_id,
                endpoint_id = %claimed.endpoint_id,
                attempt = claimed.attempts + 1,
            );
            tasks.spawn(
                async move {
                    let finished = attempt::deliver(&shared, &claimed, endpoint.as_deref()).await;
                    super::telemetry::attempt_finished(&finished);
                    let event = operational::after_attempt(
                        &shared,
                        &claimed,
                        endpoint.as_deref(),
                        &finished,
                    );
                    // The permit goes with the report and is released once
                    // the outcome is written: an attempt counts as in flight
                    // until then, so a crash re-sends at most
                    // `max_in_flight` deliveries a receiver already got.
                    let _ = report.send((token, finished, permit));
                    if let Some(event) = event {
                        operational::publish(&shared, event).await;
                    }
                }
                .instrument(span),
            );
        }
        if endpoints.len() > 10_000 {
            endpoints.retain(|_, (_, at)| at.elapsed() < ENDPOINT_TTL);
            shared.limits.retain(&|id| endpoints.contains_key(id));
        }
    }

    // Graceful shutdown: no more claims; let attempts finish until the deadline.
    let deadline = stop.borrow().unwrap_or_default();
    let mut summary = ShutdownReport::default();
    let _ = tokio::time::timeout(deadline, async {
        while tasks.join_next().await.is_some() {
            summary.finished_in_flight += 1;
        }
    })
    .await;
    summary.cut_off = u64::try_from(tasks.len()).unwrap_or(u64::MAX);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Every report sent is written before claims are handed back, so a
    // finished attempt is never released and sent again.
    drop(report);
    let _ = reporter.await;
    let _ = upkeep.await;
    let now = shared.clock.now();
    for (token, _) in tokens {
        match shared.store.release(&token, now).await {
            Ok(n) => summary.released += n,
            Err(error) => {
                tracing::error!(%error, "handing back claims failed; they return when their lease ends")
            }
        }
    }
    tracing::info!(?summary, "webhook engine stopped");
    summary
}

/// Waits for a publish, the poll interval or a shutdown, whichever is first.
async fn idle(shared: &Shared, stop: &mut watch::Receiver<Option<Duration>>) {
    tokio::select! {
        () = shared.wake.notified() => {}
        () = tokio::time::sleep(shared.config.poll_interval) => {}
        _ = stop.changed() => {}
    }
}

async fn endpoint_of(
    shared: &Shared,
    cache: &mut HashMap<String, (Option<Arc<Endpoint>>, Instant)>,
    id: &str,
) -> Option<Arc<Endpoint>> {
    if let Some((endpoint, at)) = cache.get(id)
        && at.elapsed() < ENDPOINT_TTL
    {
        return endpoint.clone();
    }
    let endpoint = match shared.store.endpoint(id).await {
        Ok(endpoint) => Some(Arc::new(endpoint)),
        Err(crate::store::StoreError::UnknownEndpoint(_)) => None,
        Err(error) => {
            tracing::warn!(%error, endpoint_id = id, "reading an endpoint failed; using the last copy");
            return cache.get(id).and_then(|(e, _)| e.clone());
        }
    };
    cache.insert(id.to_owned(), (endpoint.clone(), Instant::now()));
    endpoint
}

/// A finished attempt on its way to the store: its claim token, its
/// outcome, and the in-flight permit it holds until the outcome is written.
type Report = (Arc<str>, Finished, OwnedSemaphorePermit);

/// Writes attempt reports in batches (one transaction per claim token),
/// then releases their in-flight permits.
async fn report_loop(shared: Arc<Shared>, mut reports: mpsc::UnboundedReceiver<Report>) {
    const MAX_BATCH: usize = 512;
    let mut buffer = Vec::with_capacity(MAX_BATCH);
    while reports.recv_many(&mut buffer, MAX_BATCH).await > 0 {
        let mut by_token: HashMap<Arc<str>, Vec<Finished>> = HashMap::new();
        let mut permits = Vec::with_capacity(buffer.len());
        for (token, finished, permit) in buffer.drain(..) {
            by_token.entry(token).or_default().push(finished);
            permits.push(permit);
        }
        for (token, finished) in by_token {
            write_report(&shared, &token, finished).await;
        }
        drop(permits);
    }
}

async fn write_report(shared: &Shared, token: &str, finished: Vec<Finished>) {
    let mut wait = Duration::from_millis(50);
    for _ in 0..5 {
        match shared
            .store
            .finish(
                token,
                &finished,
                shared.clock.now(),
                shared.config.disable_after,
            )
            .await
        {
            Ok(report) => {
                for (endpoint_id, message_id) in report.recovered {
                    if let Ok(endpoint) = shared.store.endpoint(&endpoint_id).await
                        && let Some(event) = operational::recovered(shared, &endpoint, &message_id)
                    {
                        operational::publish(shared, event).await;
                    }
                }
                for endpoint_id in report.disabled {
                    tracing::warn!(endpoint_id, "webhook endpoint disabled");
                    super::telemetry::endpoint_disabled();
                    if let Ok(endpoint) = shared.store.endpoint(&endpoint_id).await
                        && let Some(event) = operational::disabled(shared, &endpoint)
                    {
                        operational::publish(shared, event).await;
                    }
                }
                return;
            }
            Err(error) => {
                tracing::error!(%error, "recording webhook attempts failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
    // The deliveries stay claimed until their lease ends, then are sent
    // again: at least once, never lost.
    tracing::error!(
        token,
        "gave up recording webhook attempts; they will be retried after the lease"
    );
}
