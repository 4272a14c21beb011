//! `palisade flags eval | lint`: evaluate a flag from a definition file, or
//! check a file, from a shell — the same evaluator and loader the server and
//! the library use.
//!
//! ```text
//! palisade flags eval --file flags.yaml --flag new-ui --context '{"userId":"u1"}'
//! palisade flags eval --unleash --file features.json --flag beta
//! palisade flags lint --file flags.json     # exit 1 with the line of each problem
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use palisade_flags::model::FlagSet;
use palisade_flags::native::{self, Format};
use palisade_flags::unleash::UnleashImport;
use palisade_flags::{Flags, Reason};
use serde_json::json;

use crate::api::flags::model::{ContextRequest, EvaluationAnswer};

/// `palisade flags`.
#[derive(Debug, clap::Args)]
pub struct FlagsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: FlagsCommand,
}

/// The subcommands of `palisade flags`.
#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// Evaluate one flag for a context; prints the evaluation as JSON (exit
    /// 1 when the evaluation is an error, such as an unknown flag).
    Eval(EvalArgs),
    /// Check a definition file; prints each problem with its line and exits
    /// 1 when there is one.
    Lint(LintArgs),
}

/// `palisade flags eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The definitions: our format (JSON, or YAML for `.yaml`/`.yml`), or
    /// Unleash client-API JSON with `--unleash`.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// The flag to evaluate.
    #[arg(long, value_name = "KEY")]
    pub flag: String,
    /// The context, as Unleash names its fields:
    /// `{"userId":…,"sessionId":…,"remoteAddress":…,"environment":…,"appName":…,"currentTime":…,"properties":{…}}`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub context: String,
    /// Read the file as Unleash client-API JSON.
    #[arg(long)]
    pub unleash: bool,
}

/// `palisade flags lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The definitions to check.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// Read the file as Unleash client-API JSON.
    #[arg(long)]
    pub unleash: bool,
}

/// Runs `palisade flags …`: 0 when all is well, 1 for an invalid file or a
/// failed evaluation, 2 for a usage error (unreadable file, bad context).
#[must_use]
#[allow(clippy::needless_pass_by_value)] // clap hands the arguments over by value
pub fn run(args: FlagsArgs) -> ExitCode {
    let result = match &args.command {
        FlagsCommand::Eval(eval) => run_eval(eval),
        FlagsCommand::Lint(lint) => run_lint(lint),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Invalid(report)) => {
            eprint!("{report}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// The command cannot run as asked.
    Usage(String),
    /// The definitions are invalid: the whole report, one problem a line.
    Invalid(String),
}

fn run_eval(args: &EvalArgs) -> Result<ExitCode, Failure> {
    let set = load(&args.file, args.unleash)?;
    let context: ContextRequest = serde_json::from_str(&args.context)
        .map_err(|e| Failure::Usage(format!("--context is not a valid context: {e}")))?;
    let evaluation = Flags::new(set).evaluate(&args.flag, &context.context());
    let failed = evaluation.reason() == Reason::Error;
    let answer = EvaluationAnswer::from(&evaluation);
    let output = json!({
        "flag": args.flag,
        "value": answer.value,
        "variant": answer.variant,
        "reason": answer.reason,
        "error_code": answer.error_code,
    });
    print(&output.to_string())?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_lint(args: &LintArgs) -> Result<ExitCode, Failure> {
    let set = load(&args.file, args.unleash)?;
    print(&format!(
        "{}: {} flags, {} segments, valid",
        args.file.display(),
        set.len(),
        set.segments().len()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Reads and validates the definitions; an invalid file is reported with
/// the line (and a caret under the column) when the parser names one.
fn load(path: &Path, unleash: bool) -> Result<FlagSet, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    if unleash {
        let imported = UnleashImport::new()
            .parse(&text)
            .map_err(|e| Failure::Invalid(format!("{}: {e}\n", path.display())))?;
        for warning in &imported.warnings {
            eprintln!("warning: {}: {warning}", path.display());
        }
        return Ok(imported.flags);
    }
    native::parse(&text, Format::from_path(path)).map_err(|error| {
        let mut report = String::new();
        match error.location() {
            Some((line, column)) => {
                let _ = writeln!(report, "{}:{line}:{column}: {error}", path.display());
                if let Some(source) = text.lines().nth(line.saturating_sub(1)) {
                    let _ = writeln!(report, "{line:>5} | {source}");
                    let _ = writeln!(report, "      | {}^", " ".repeat(column.saturating_sub(1)));
                }
            }
            None => {
                let _ = writeln!(report, "{}: {error}", path.display());
            }
        }
        Failure::Invalid(report)
    })
}

/// Writes the command's output; a closed stdout (`| head`) is a usage
/// failure, not a panic.
fn print(output: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{output}")
        .and_then(|()| stdout.flush())
        .map_err(|err| Failure::Usage(format!("cannot write to stdout: {err}")))
}
