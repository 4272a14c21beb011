//! The `palisade` binary: runs the reference server, or a command-line tool.

use clap::Parser;
use palisade_server::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => palisade_server::serve::run(cli.serve),
        Some(Command::Serve(args)) => palisade_server::serve::run(args),
        Some(Command::Webhook(args)) => palisade_server::cli::webhook::run(args),
    }
}
