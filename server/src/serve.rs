//! `palisade serve`: opens the database, starts webhook delivery, binds the
//! listener and runs until a shutdown signal, then drains requests and
//! stops delivery gracefully.

use std::convert::Infallible;
use std::fmt;
use std::io::IsTerminal as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use palisade_webhooks::store::SecretKeyring;

use crate::auth::args::ApiArgs;
use crate::database::{Database, DatabaseArgs, DatabaseUrlError, OpenError, SecretKeyError};
use crate::delivery::{DeliveryArgs, DeliveryConfigError};
use crate::duration::parse_duration;
use crate::{AppState, app};

/// How the server runs.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The address to bind.
    #[arg(long, env = "PALISADE_ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub addr: IpAddr,
    /// The port to bind (0 picks a free one).
    #[arg(long, env = "PALISADE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// How long a shutdown (Ctrl-C, SIGTERM) lets in-flight webhook attempts
    /// finish before handing the rest back to the queue.
    #[arg(
        long,
        env = "PALISADE_SHUTDOWN_DEADLINE",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub shutdown_deadline: Duration,
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
    init_logging();
    let result = args
        .database
        .database()
        .map_err(StartError::DatabaseUrl)
        .and_then(|database| {
            args.delivery.check().map_err(StartError::Delivery)?;
            args.api.check().map_err(StartError::Api)?;
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

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), coloured only on
/// a terminal.
pub(crate) fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)
}

async fn serve(
    args: &ServeArgs,
    database: &Database,
    keyring: SecretKeyring,
) -> Result<(), StartError> {
    let (outbox, server_db) = database
        .open_with_server(keyring)
        .await
        .map_err(StartError::Open)?;
    tracing::info!(%database, "database open, migrations applied");
    let delivery_status = crate::routes::health::DeliveryStatus::default();
    let auth = args.api.auth(server_db).map_err(StartError::Api)?;
    let first_admin = auth
        .bootstrap_admin(args.api.admin_token.as_deref())
        .await
        .map_err(|e| StartError::Api(e.to_string()))?;
    if let Some(token) = first_admin {
        // The one time this secret is shown: stderr, not the log, so it
        // does not end up in a log pipeline.
        eprintln!(
            "palisade: created the first admin API key (shown once, store it now): {}",
            token.reveal()
        );
    }
    let engine = args
        .delivery
        .engine(outbox.clone())
        .map_err(StartError::Delivery)?;
    let state = AppState::new()
        .map_err(|e| StartError::Internal(e.to_string()))?
        .with_database(database.kind(), outbox)
        .with_server(auth)
        .with_stack(args.api.stack())
        .with_delivery(delivery_status.clone());
    let addr = SocketAddr::new(args.addr, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(StartError::Serve)?;

    let (stop, stopping) = watch::channel(false);
    let delivery = engine.start();
    delivery_status.set_running(true);
    tracing::info!(addr = %local, "palisade listening");
    let stopped = || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    let http = async {
        // The client address feeds --api-allow/--api-deny and the
        // security log.
        let served = axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped())
        .await;
        tracing::info!("HTTP requests drained");
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
    let signals = async {
        shutdown_signal().await;
        stop.send_replace(true);
        std::future::pending::<Infallible>().await
    };
    tokio::select! {
        (served, report) = async { tokio::join!(http, webhooks) } => {
            tracing::info!(?report, "webhook delivery stopped");
            served.map_err(StartError::Serve)
        }
        never = signals => match never {},
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what orchestrators send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: draining requests and webhook deliveries");
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
    /// Writing the command's output failed.
    Output(std::io::Error),
    /// A built-in component refused its own configuration (a bug).
    Internal(String),
    /// The API's access settings are unusable (admin token, Redis URL).
    Api(String),
}

impl StartError {
    /// 2 for configuration the user can fix by changing a flag, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::DatabaseUrl(_)
            | Self::SecretKey(_)
            | Self::Api(_)
            | Self::Delivery(DeliveryConfigError::LeaseTooShort { .. }) => ExitCode::from(2),
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
            Self::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            Self::Serve(e) => write!(f, "serving failed: {e}"),
            Self::Output(e) => write!(f, "cannot write to stdout: {e}"),
            Self::Internal(e) => write!(f, "internal configuration error: {e}"),
            Self::Api(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::DatabaseUrl(e) => Some(e),
            Self::SecretKey(e) => Some(e),
            Self::Open(e) => Some(e),
            Self::Delivery(e) => Some(e),
            Self::Bind { source, .. } => Some(source),
            Self::Runtime(e) | Self::Serve(e) | Self::Output(e) => Some(e),
            Self::Internal(_) | Self::Api(_) => None,
        }
    }
}
