//! The `palisade` binary: runs the reference server, or a command-line tool.

use clap::Parser;
use palisade_server::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or_default() {
        Command::Serve(args) => palisade_server::serve::run(args),
        Command::Webhook(args) => palisade_server::cli::webhook::run(args),
    }
}
