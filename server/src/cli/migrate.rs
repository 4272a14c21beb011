//! `palisade migrate`: applies the database migrations and exits.

use std::io::Write as _;
use std::process::ExitCode;

use crate::database::DatabaseArgs;
use crate::serve::{StartError, exit, init_logging, runtime};

/// The database to migrate.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Opens the database (creating the default SQLite file), applies every
/// pending migration, says so on stdout, and exits: 0 when done, 2 for a
/// bad URL, 1 when the database cannot be reached or migrated.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // clap hands the arguments over by value
pub fn run(args: MigrateArgs) -> ExitCode {
    init_logging();
    let result = args
        .database
        .database()
        .map_err(StartError::DatabaseUrl)
        .and_then(|database| {
            runtime()?.block_on(async {
                database.open().await.map_err(StartError::Open)?;
                Ok(database)
            })
        })
        .and_then(|database| {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "migrations applied to {database}")
                .and_then(|()| stdout.flush())
                .map_err(StartError::Output)
        });
    exit(result)
}
