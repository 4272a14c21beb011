//! The `palisade` binary: runs the reference server, or a command-line tool.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use palisade_server::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A bad flag or variable value is bad configuration: one line, exit 2.
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::ValueValidation | ErrorKind::InvalidValue
            ) =>
        {
            let rendered = err.render().to_string();
            eprintln!(
                "{}",
                rendered.lines().next().unwrap_or("error: invalid value")
            );
            return ExitCode::from(2);
        }
        Err(err) => err.exit(),
    };
    match cli.command {
        None => palisade_server::serve::run(cli.serve),
        Some(Command::Serve(args)) => palisade_server::serve::run(args),
        Some(Command::Migrate(args)) => palisade_server::cli::migrate::run(args),
        Some(Command::Webhook(args)) => palisade_server::cli::webhook::run(args),
        Some(Command::Healthcheck(args)) => palisade_server::cli::healthcheck::run(args),
        Some(Command::Flags(args)) => palisade_server::cli::flags::run(args),
    }
}
