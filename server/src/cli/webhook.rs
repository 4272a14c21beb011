//! `palisade webhook …` (filled in by the webhook signatures issue).

use std::process::ExitCode;

/// Arguments of `palisade webhook`.
#[derive(Debug, clap::Args)]
pub struct WebhookArgs {}

/// Runs `palisade webhook …`.
#[must_use]
pub fn run(_args: WebhookArgs) -> ExitCode {
    ExitCode::FAILURE
}
