//! `palisade serve`: opens the database, starts webhook delivery, binds the
//! listener and runs until a shutdown signal, then drains requests and
//! stops delivery gracefully.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use palisade_flags::store::ScheduleTask;
use palisade_flags::time::SystemClock;
use palisade_webhooks::Secret;
use palisade_webhooks::deliver::Engine;
use palisade_webhooks::store::SecretKeyring;

use crate::api::webhooks::Webhooks;
use crate::auth::ApiToken;
use crate::auth::args::ApiArgs;
use crate::cli::logging::LogArgs;
use crate::database::{Database, DatabaseArgs, DatabaseUrlError, OpenError, SecretKeyError};
use crate::delivery::{DeliveryArgs, DeliveryConfigError};
use crate::duration::parse_duration;
use crate::listener::{self, BindAddr, ListenerConfig};
use crate::routes::health::DeliveryStatus;
use crate::{AppState, app};

/// How the server runs.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on, `HOST[:PORT]`: an IP address or a host
    /// name, e.g. `0.0.0.0`, `localhost:8080`, `[::1]:9000`.
    #[arg(long, env = "PALISADE_ADDR", value_name = "HOST[:PORT]", default_value_t = BindAddr::ip(IpAddr::V4(Ipv4Addr::LOCALHOST)))]
    pub addr: BindAddr,
    /// The port to listen on when `--addr` names none (0 picks a free one).
    #[arg(long, env = "PALISADE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// How long a shutdown (Ctrl-C, SIGTERM) lets in-flight HTTP requests and
    /// webhook attempts finish; then open connections are closed and
    /// unfinished attempts go back to the queue. A second signal exits at
    /// once (code 130).
    #[arg(
        long,
        env = "PALISADE_SHUTDOWN_DEADLINE",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub shutdown_deadline: Duration,
    /// How long a client has to send a complete request head; a connection
    /// that sends nothing is closed after it.
    #[arg(
        long,
        env = "PALISADE_HEADER_READ_TIMEOUT",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may stay open with no request.
    #[arg(
        long,
        env = "PALISADE_IDLE_TIMEOUT",
        value_name = "DURATION",
        default_value = "60s",
        value_parser = parse_duration
    )]
    pub idle_timeout: Duration,
    /// How many connections may be open at once; more are accepted and
    /// closed at once.
    #[arg(long, env = "PALISADE_MAX_CONNECTIONS", default_value = "1024")]
    pub max_connections: NonZeroUsize,
    /// Serve `POST /demo/webhooks/inbound`, verifying Standard Webhooks
    /// signed with this secret (`whsec_…`, e.g. from `palisade webhook
    /// secret`); failed verifications are security events. Without it (or
    /// with an empty value) the route is not served.
    #[arg(
        long,
        env = "PALISADE_INBOUND_WEBHOOK_SECRET",
        value_name = "WHSEC",
        hide_env_values = true
    )]
    pub inbound_webhook_secret: Option<String>,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Webhook delivery.
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// Access to /api.
    #[command(flatten)]
    pub api: Box<ApiArgs>,
}

/// Runs the server; returns a failing exit code if it cannot start (2 for
/// bad configuration, 1 for anything else), after one line on stderr.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // clap hands the arguments over by value
pub fn run(args: ServeArgs) -> ExitCode {
    args.log.init();
    let result = args
        .database
        .database()
        .map_err(StartError::DatabaseUrl)
        .and_then(|database| {
            args.delivery.check().map_err(StartError::Delivery)?;
            args.api.check().map_err(StartError::Api)?;
            args.inbound_webhook_secret()?;
            let keyring = args.database.keyring().map_err(StartError::SecretKey)?;
            runtime()?.block_on(serve(&args, &database, keyring))
        });
    exit(result)
}

/// Prints a start-up failure as one line and picks the exit code.
pub(crate) fn exit(result: Result<(), StartError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            err.exit_code()
        }
    }
}

/// The error and its causes on one line, each cause once (an error's
/// message often repeats its source's already).
fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)
}

/// The server composed from its settings, before it serves: the state of
/// every route and the delivery engine, not yet started. What
/// [`run`] serves, and what tests run in-process.
#[derive(Debug)]
#[non_exhaustive]
pub struct Composed {
    /// The state of every route.
    pub state: AppState,
    /// The webhook delivery engine; [`Engine::start`] runs its workers.
    pub engine: Engine,
    /// What readiness reports about the workers: set it running once the
    /// engine is started.
    pub delivery: DeliveryStatus,
    /// The admin key created by a first start with no `--admin-token`, to
    /// show once.
    pub first_admin: Option<ApiToken>,
}

/// Opens `database` (applying migrations), registers the first admin key
/// and composes the routes and the delivery engine from `args`, as `palisade
/// serve` does before it listens.
///
/// # Errors
///
/// A [`StartError`] when the database cannot be opened or a setting is
/// unusable.
pub async fn compose(
    args: &ServeArgs,
    database: &Database,
    keyring: SecretKeyring,
) -> Result<Composed, StartError> {
    let platform = database
        .open_platform(keyring)
        .await
        .map_err(StartError::Open)?;
    let (outbox, server_db) = (platform.outbox, platform.server);
    tracing::info!(%database, "database open, migrations applied");
    let delivery = DeliveryStatus::default();
    let auth = args.api.auth(server_db).map_err(StartError::Api)?;
    let engine = args
        .delivery
        .engine(outbox.clone())
        .map_err(StartError::Delivery)?;
    let base = AppState::new().map_err(|e| StartError::Internal(e.to_string()))?;
    // Last of what can fail: a created admin key must reach the caller to
    // be shown.
    let first_admin = auth
        .bootstrap_admin(args.api.admin_token.as_deref())
        .await
        .map_err(|e| StartError::Api(e.to_string()))?;
    let mut state = base
        .with_database(database.kind(), outbox)
        .with_webhooks(Webhooks::new(
            engine.clone(),
            args.delivery.address_policy(),
        ))
        .with_flags(platform.flags)
        .with_server(auth)
        .with_stack(args.api.stack())
        .with_delivery(delivery.clone());
    if let Some(secret) = args.inbound_webhook_secret()? {
        state = state.with_inbound_webhooks(secret);
    }
    Ok(Composed {
        state,
        engine,
        delivery,
        first_admin,
    })
}

/// Starts applying the scheduled changes of `state`'s flags (each written
/// through the flag store as a version by `schedule`, at its time, and at
/// once for a time already past), as `palisade serve` does; `None` when the
/// state has no flag store. The scheduler stops when the task is dropped.
///
/// # Panics
/// Outside a tokio runtime (the scheduler is a task).
#[must_use]
pub fn schedule_flags(state: &AppState) -> Option<ScheduleTask> {
    let store = state.flags.clone()?;
    Some(ScheduleTask::store(store, SystemClock::default()))
}

async fn serve(
    args: &ServeArgs,
    database: &Database,
    keyring: SecretKeyring,
) -> Result<(), StartError> {
    // Bind first: a taken port fails at once, before anything is created.
    let listener = bind(&args.addr, args.port).await?;
    let Composed {
        state,
        engine,
        delivery: delivery_status,
        first_admin,
    } = compose(args, database, keyring).await?;
    if let Some(token) = first_admin {
        // The one time this secret is shown: stderr, not the log, so it
        // does not end up in a log pipeline.
        eprintln!(
            "palisade: created the first admin API key (shown once, store it now): {}",
            token.reveal()
        );
    }
    let local = listener.local_addr().map_err(StartError::Serve)?;

    let (stop, stopping) = watch::channel(false);
    let delivery = engine.start();
    let flag_schedule = schedule_flags(&state);
    let mut signals = Signals::new();
    delivery_status.set_running(true);
    tracing::info!(addr = %local, "palisade listening");
    let stopped = || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    // Live event streams never end on their own: they are closed as the
    // shutdown starts, so draining does not wait for them.
    let events = state.events.clone();
    let shutdown = async {
        stopped().await;
        events.close();
    };
    let http = async {
        let served = listener::serve(listener, app(state), args.listener(), shutdown).await;
        tracing::info!("HTTP connections closed");
        // Serving can also end with an error: delivery stops with it.
        stop.send_replace(true);
        served
    };
    let webhooks = async {
        stopped().await;
        let deadline = args.shutdown_deadline;
        tracing::info!(?deadline, "stopping webhook delivery");
        delivery_status.set_running(false);
        delivery.shutdown(deadline).await
    };
    // Stopped with the shutdown: no flag changes while draining.
    let schedule = async {
        stopped().await;
        if let Some(task) = flag_schedule {
            drop(task);
            tracing::info!("flag schedule stopped");
        }
    };
    let signals = async {
        signals.next().await;
        tracing::info!(
            "shutting down: draining requests and webhook deliveries (a second signal exits at once)"
        );
        stop.send_replace(true);
        signals.next().await;
        tracing::warn!("second shutdown signal: exiting at once");
    };
    tokio::select! {
        (served, report, ()) = async { tokio::join!(http, webhooks, schedule) } => {
            tracing::info!(?report, "webhook delivery stopped");
            served.map_err(StartError::Serve)
        }
        () = signals => Err(StartError::Interrupted),
    }
}

/// Binds the first address `addr` resolves to that can be bound.
async fn bind(addr: &BindAddr, default_port: u16) -> Result<TcpListener, StartError> {
    let candidates = addr
        .resolve(default_port)
        .await
        .map_err(|source| StartError::Resolve {
            addr: addr.to_string(),
            source,
        })?;
    let mut first_error = None;
    for candidate in candidates {
        match TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(source) => {
                tracing::debug!(%candidate, %source, "cannot bind");
                first_error.get_or_insert(StartError::Bind {
                    addr: candidate,
                    source,
                });
            }
        }
    }
    Err(first_error.unwrap_or_else(|| StartError::Internal(format!("{addr} resolved to nothing"))))
}

impl ServeArgs {
    /// The secret of `POST /demo/webhooks/inbound`, if one is set.
    ///
    /// # Errors
    ///
    /// [`StartError::InboundSecret`] when it is not a `whsec_…` secret (the
    /// message never repeats it, unlike a flag parser's would).
    pub fn inbound_webhook_secret(&self) -> Result<Option<Secret>, StartError> {
        self.inbound_webhook_secret
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(|text| text.parse::<Secret>().map_err(StartError::InboundSecret))
            .transpose()
    }

    /// The limits of the HTTP listener.
    #[must_use]
    pub fn listener(&self) -> ListenerConfig {
        ListenerConfig::default()
            .header_read_timeout(self.header_read_timeout)
            .idle_timeout(self.idle_timeout)
            .max_connections(self.max_connections)
            .shutdown_deadline(self.shutdown_deadline)
    }
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM (what orchestrators send),
/// listened for from before the server says it listens until it exits, so
/// that no signal finds the default handler (which would kill the process)
/// and a second signal is seen too.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers; must be called inside the runtime.
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for {name}");
                    None
                }
            };
            Self {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves on the next Ctrl-C or SIGTERM.
    #[cfg(unix)]
    async fn next(&mut self) {
        async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => {}
            () = recv(&mut self.terminate) => {}
        }
    }

    /// Resolves on the next Ctrl-C.
    #[cfg(not(unix))]
    async fn next(&mut self) {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    }
}

/// Why the server (or `palisade migrate`) could not start or stopped with
/// an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// `--database-url` / `DATABASE_URL` is unusable.
    DatabaseUrl(DatabaseUrlError),
    /// `--secret-key` / `--old-secret-key` is unusable.
    SecretKey(SecretKeyError),
    /// The database cannot be opened or migrated.
    Open(OpenError),
    /// The webhook delivery settings are unusable.
    Delivery(DeliveryConfigError),
    /// `--addr` names a host that does not resolve.
    Resolve {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The listener cannot be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime cannot start.
    Runtime(std::io::Error),
    /// Serving failed.
    Serve(std::io::Error),
    /// A second shutdown signal arrived while draining.
    Interrupted,
    /// Writing the command's output failed.
    Output(std::io::Error),
    /// A built-in component refused its own configuration (a bug).
    Internal(String),
    /// The API's access settings are unusable (admin token, Redis URL).
    Api(String),
    /// `--inbound-webhook-secret` is not a `whsec_…` secret.
    InboundSecret(palisade_webhooks::sign::SecretError),
}

impl StartError {
    /// 2 for configuration the user can fix by changing a flag, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::DatabaseUrl(_)
            | Self::SecretKey(_)
            | Self::Delivery(DeliveryConfigError::LeaseTooShort { .. })
            | Self::Resolve { .. }
            | Self::Api(_)
            | Self::InboundSecret(_) => ExitCode::from(2),
            Self::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                ExitCode::from(2)
            }
            // What a shell reports for a process ended by SIGINT.
            Self::Interrupted => ExitCode::from(130),
            _ => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DatabaseUrl(e) => e.fmt(f),
            Self::SecretKey(e) => e.fmt(f),
            Self::Open(e) => e.fmt(f),
            Self::Delivery(e) => e.fmt(f),
            Self::Resolve { addr, .. } => write!(f, "cannot resolve --addr {addr}"),
            Self::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
                write!(
                    f,
                    "cannot listen on {addr}: the address is already in use (is another server running? pick another --port or --addr)"
                )
            }
            Self::Bind { addr, .. } => write!(f, "cannot listen on {addr}"),
            Self::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            Self::Serve(e) => write!(f, "serving failed: {e}"),
            Self::Interrupted => f.write_str("interrupted by a second shutdown signal"),
            Self::Output(e) => write!(f, "cannot write to stdout: {e}"),
            Self::Internal(e) => write!(f, "internal configuration error: {e}"),
            Self::Api(e) => f.write_str(e),
            Self::InboundSecret(_) => f.write_str(
                "--inbound-webhook-secret / PALISADE_INBOUND_WEBHOOK_SECRET is not a Standard Webhooks secret (whsec_<base64>)",
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::DatabaseUrl(e) => Some(e),
            Self::SecretKey(e) => Some(e),
            Self::InboundSecret(e) => Some(e),
            Self::Open(e) => Some(e),
            Self::Delivery(e) => Some(e),
            Self::Bind { source, .. } | Self::Resolve { source, .. } => Some(source),
            Self::Runtime(e) | Self::Serve(e) | Self::Output(e) => Some(e),
            Self::Internal(_) | Self::Interrupted | Self::Api(_) => None,
        }
    }
}
