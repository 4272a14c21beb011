//! `palisade migrate`: applies the database migrations and exits.

use std::io::Write as _;
use std::process::ExitCode;

use crate::cli::logging::LogArgs;
use crate::database::DatabaseArgs;
use crate::serve::{StartError, exit, runtime};

/// The database to migrate.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Also write every webhook endpoint secret again under --secret-key
    /// (step two of a key rotation; without --secret-key, as plain text).
    #[arg(long)]
    pub reseal_secrets: bool,
}

/// Opens the database (creating the default SQLite file), applies every
/// pending migration, reseals secrets when asked, says so on stdout, and
/// exits: 0 when done, 2 for a bad URL or key, 1 when the database cannot
/// be reached or migrated.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // clap hands the arguments over by value
pub fn run(args: MigrateArgs) -> ExitCode {
    args.log.init();
    let result = (|| {
        let database = args.database.database().map_err(StartError::DatabaseUrl)?;
        let keyring = args.database.keyring().map_err(StartError::SecretKey)?;
        let key = keyring.current().map(|k| k.id().to_owned());
        let mut report = format!("migrations applied to {database}");
        runtime()?.block_on(async {
            if args.reseal_secrets {
                let n = database
                    .reseal_secrets(keyring)
                    .await
                    .map_err(StartError::Open)?;
                report.push_str(&match key {
                    Some(id) => format!("\n{n} endpoint secrets sealed with key {id}"),
                    None => format!("\n{n} endpoint secrets stored as plain text"),
                });
            } else {
                database
                    .open_with_server(keyring)
                    .await
                    .map_err(StartError::Open)?;
            }
            Ok::<_, StartError>(())
        })?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{report}")
            .and_then(|()| stdout.flush())
            .map_err(StartError::Output)
    })();
    exit(result)
}
