//! The command line: `palisade [serve]` and the tools for humans and scripts.

use clap::{Parser, Subcommand};

use crate::serve::ServeArgs;

pub mod flags;
pub mod healthcheck;
pub mod logging;
pub mod migrate;
pub mod webhook;

/// Palisade: resilience, webhooks and feature flags for tower services.
#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's options, for `palisade` without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands of `palisade`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reference server (the default).
    Serve(ServeArgs),
    /// Apply the database migrations and exit (`serve` applies them too).
    Migrate(migrate::MigrateArgs),
    /// Ask a running server's /health/live: exit 0 when live, 1 otherwise
    /// (for a container HEALTHCHECK).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Sign and verify webhooks, and generate secrets.
    Webhook(webhook::WebhookArgs),
    /// Evaluate feature flags from a file, and check definition files.
    Flags(flags::FlagsArgs),
}
