//! `--log-format pretty|json`: how the server's logs are written.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines, coloured only when written to a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The logging flags shared by `serve` and `migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// How logs are written to stdout: `pretty` (coloured only on a
    /// terminal) or `json` (one object per line). `RUST_LOG` filters them
    /// (default `info`).
    #[arg(
        long,
        env = "PALISADE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Pretty
    )]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Installs the global subscriber; does nothing if one is already set
    /// (as in a test that runs several commands).
    pub fn init(&self) {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let installed = match self.log_format {
            LogFormat::Pretty => tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::stdout().is_terminal())
                .try_init(),
            LogFormat::Json => tracing_subscriber::fmt()
                .json()
                .with_env_filter(filter)
                .with_ansi(false)
                .try_init(),
        };
        // Already installed: keep that one.
        drop(installed);
    }
}
