//! `palisade webhook sign|verify|secret`: signing and verifying webhooks from
//! a shell, for humans debugging an integration and for scripts.
//!
//! Bodies are read as raw bytes from stdin (or `--body-file`), so any payload
//! works, UTF-8 or not. Exit codes: 0 on success (`verify` prints `valid`), 1
//! when the webhook is not valid or something failed (the reason goes to
//! stderr), 2 for usage errors, as clap does.
//!
//! ```text
//! $ palisade webhook secret
//! whsec_…
//! $ printf '{"type":"ping"}' | palisade webhook sign --secret whsec_… --id msg_1 --timestamp 1700000000
//! v1,…
//! $ printf '{"type":"ping"}' | palisade webhook verify --secret whsec_… \
//!     -H 'webhook-id: msg_1' -H 'webhook-timestamp: 1700000000' -H 'webhook-signature: v1,…' --now 1700000000
//! valid
//! ```

use std::fmt;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use palisade_webhooks::sign::SigningKey;
use palisade_webhooks::verify::PublicKey;
use palisade_webhooks::{
    Clock as _, GitHub, Scheme, Secret, Signer, StandardWebhooks, Stripe, SystemClock,
};

/// Arguments of `palisade webhook`.
#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: WebhookCommand,
}

/// The subcommands of `palisade webhook`.
#[derive(Debug, clap::Subcommand)]
pub enum WebhookCommand {
    /// Sign a body read from stdin (or --body-file) and print the signature
    /// header value.
    Sign(SignArgs),
    /// Verify a body read from stdin (or --body-file) against its headers;
    /// prints `valid` or exits 1 with the reason on stderr.
    Verify(VerifyArgs),
    /// Print a fresh secret (`whsec_…`, 32 random bytes).
    Secret(SecretArgs),
}

/// The signature schemes the CLI speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemeName {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,…` (and `v1a,…` with `whsk_`/`whpk_` keys).
    #[default]
    Standard,
    /// Stripe: `Stripe-Signature: t=…,v1=…`.
    Stripe,
    /// GitHub: `X-Hub-Signature-256: sha256=…`.
    Github,
}

/// Arguments of `palisade webhook sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The signature scheme.
    #[arg(long, value_enum, default_value_t)]
    pub scheme: SchemeName,
    /// The secret: `whsec_…` (or `whsk_…` for ed25519) for standard, the
    /// endpoint secret as is for stripe and github. Repeat it to sign with
    /// several secrets while rotating.
    #[arg(
        long = "secret",
        value_name = "SECRET",
        env = "PALISADE_WEBHOOK_SECRET",
        hide_env_values = true,
        required = true
    )]
    pub secrets: Vec<String>,
    /// The message id (`webhook-id`); required for standard.
    #[arg(long)]
    pub id: Option<String>,
    /// The send time in Unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    pub timestamp: Option<i64>,
    /// Read the body from this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Print every header as `name: value` lines instead of the signature
    /// value alone.
    #[arg(long)]
    pub headers: bool,
}

/// Arguments of `palisade webhook verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The signature scheme.
    #[arg(long, value_enum, default_value_t)]
    pub scheme: SchemeName,
    /// A secret to accept: `whsec_…` (or `whpk_…` for ed25519) for standard,
    /// the endpoint secret as is for stripe and github. Repeat it to accept
    /// several.
    #[arg(
        long = "secret",
        value_name = "SECRET",
        env = "PALISADE_WEBHOOK_SECRET",
        hide_env_values = true,
        required = true
    )]
    pub secrets: Vec<String>,
    /// A request header, as `NAME: VALUE`; repeat for each header.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<HeaderArg>,
    /// Verify as if the time were this (Unix seconds; default: now).
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
    /// How far the timestamp may be from now, in seconds (default 300;
    /// standard and stripe).
    #[arg(long, value_name = "SECS")]
    pub tolerance: Option<u64>,
    /// Read the body from this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

/// Arguments of `palisade webhook secret`.
#[derive(Debug, clap::Args)]
pub struct SecretArgs {
    /// Print an ed25519 key pair instead (`whsk_…` to sign, then `whpk_…` to
    /// verify), for Standard Webhooks `v1a`.
    #[arg(long)]
    pub ed25519: bool,
}

/// One `--header NAME: VALUE`.
#[derive(Debug, Clone)]
pub struct HeaderArg {
    /// The header name.
    pub name: HeaderName,
    /// The header value.
    pub value: HeaderValue,
}

fn parse_header(arg: &str) -> Result<HeaderArg, String> {
    let (name, value) = arg
        .split_once(':')
        .ok_or_else(|| "expected `NAME: VALUE`".to_owned())?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of `{name}` is not a valid header value"))?;
    Ok(HeaderArg { name, value })
}

/// Runs `palisade webhook …`.
#[must_use]
pub fn run(args: WebhookArgs) -> ExitCode {
    let result = match args.command {
        WebhookCommand::Sign(args) => sign(&args),
        WebhookCommand::Verify(args) => verify(&args),
        WebhookCommand::Secret(args) => secret(&args),
    };
    match result.and_then(|output| print(&output)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}

/// Why a command did not succeed.
#[derive(Debug)]
enum Failure {
    /// The arguments cannot work together (exit 2, as clap's own errors).
    Usage(String),
    /// The webhook is not valid, or input/output failed (exit 1).
    Failed(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(2),
            Self::Failed(_) => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(msg) | Self::Failed(msg) => f.write_str(msg),
        }
    }
}

/// Writes the command's output; a closed stdout (`| head`) is a failure, not
/// a panic.
fn print(output: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{output}")
        .and_then(|()| stdout.flush())
        .map_err(|err| Failure::Failed(format!("cannot write to stdout: {err}")))
}

fn read_body(file: Option<&Path>) -> Result<Vec<u8>, Failure> {
    match file {
        Some(path) => std::fs::read(path)
            .map_err(|err| Failure::Failed(format!("cannot read {}: {err}", path.display()))),
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("reading the body from stdin; end it with Ctrl-D");
            }
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut body)
                .map_err(|err| Failure::Failed(format!("cannot read stdin: {err}")))?;
            Ok(body)
        }
    }
}

/// The error for a `--secret` that does not parse; never echoes the secret.
fn bad_secret(err: impl fmt::Display) -> Failure {
    Failure::Usage(format!("invalid value for '--secret': {err}"))
}

fn sign(args: &SignArgs) -> Result<String, Failure> {
    // Everything that can be a usage error is checked before stdin is read.
    enum Prepared<'a> {
        Standard(Signer, &'a str),
        Stripe(Stripe),
        Github(GitHub),
    }
    let prepared = match args.scheme {
        SchemeName::Standard => {
            let id = args.id.as_deref().ok_or_else(|| {
                Failure::Usage("'--id' is required with '--scheme standard'".to_owned())
            })?;
            Prepared::Standard(standard_signer(&args.secrets)?, id)
        }
        SchemeName::Stripe => Prepared::Stripe(stripe(&args.secrets)?),
        SchemeName::Github => {
            let (first, rest) = split_secrets(&args.secrets)?;
            if !rest.is_empty() {
                return Err(Failure::Usage(
                    "GitHub signs with one secret: give '--secret' once".to_owned(),
                ));
            }
            Prepared::Github(GitHub::new(first).map_err(bad_secret)?)
        }
    };
    let timestamp = args.timestamp.unwrap_or_else(|| SystemClock.now_unix());
    let body = read_body(args.body_file.as_deref())?;
    Ok(match prepared {
        Prepared::Standard(signer, id) => {
            let signed = signer
                .sign(id, timestamp, &body)
                .map_err(|err| Failure::Usage(format!("cannot sign: {err}")))?;
            if args.headers {
                format!(
                    "webhook-id: {}\nwebhook-timestamp: {}\nwebhook-signature: {}",
                    signed.id, signed.timestamp, signed.signature
                )
            } else {
                signed.signature
            }
        }
        Prepared::Stripe(stripe) => with_name(
            args.headers,
            "stripe-signature",
            stripe.sign(timestamp, &body),
        ),
        Prepared::Github(github) => {
            with_name(args.headers, "x-hub-signature-256", github.sign(&body))
        }
    })
}

fn with_name(headers: bool, name: &str, value: String) -> String {
    if headers {
        format!("{name}: {value}")
    } else {
        value
    }
}

fn split_secrets(secrets: &[String]) -> Result<(&String, &[String]), Failure> {
    secrets
        .split_first()
        .ok_or_else(|| Failure::Usage("'--secret' is required".to_owned()))
}

/// A Stripe scheme with every `--secret`; an empty one is refused.
fn stripe(secrets: &[String]) -> Result<Stripe, Failure> {
    let (first, rest) = split_secrets(secrets)?;
    let first = Stripe::new(first).map_err(bad_secret)?;
    rest.iter()
        .try_fold(first, |s, secret| s.add_secret(secret))
        .map_err(bad_secret)
}

/// A GitHub verifier with every `--secret`; an empty one is refused.
fn github(secrets: &[String]) -> Result<GitHub, Failure> {
    let (first, rest) = split_secrets(secrets)?;
    let first = GitHub::new(first).map_err(bad_secret)?;
    rest.iter()
        .try_fold(first, |s, secret| s.add_secret(secret))
        .map_err(bad_secret)
}

/// A Standard Webhooks signer: `whsk_…` are ed25519 signing keys, anything
/// else a `whsec_` secret.
fn standard_signer(secrets: &[String]) -> Result<Signer, Failure> {
    let mut signer: Option<Signer> = None;
    for secret in secrets {
        if secret.trim().starts_with("whpk_") {
            return Err(Failure::Usage(
                "invalid value for '--secret': `whpk_…` is an ed25519 public key, which can only \
                 verify; sign with its signing key (`whsk_…`)"
                    .to_owned(),
            ));
        }
        signer = Some(if secret.trim().starts_with("whsk_") {
            let key: SigningKey = secret.parse().map_err(bad_secret)?;
            match signer {
                Some(signer) => signer.add_signing_key(key),
                None => Signer::from_signing_key(key),
            }
        } else {
            let secret: Secret = secret.parse().map_err(bad_secret)?;
            match signer {
                Some(signer) => signer.add_secret(secret),
                None => Signer::new(secret),
            }
        });
    }
    signer.ok_or_else(|| Failure::Usage("'--secret' is required".to_owned()))
}

/// A Standard Webhooks verifier: `whpk_…` are ed25519 public keys, anything
/// else a `whsec_` secret.
fn standard_verifier(secrets: &[String]) -> Result<StandardWebhooks, Failure> {
    let mut scheme: Option<StandardWebhooks> = None;
    for secret in secrets {
        if secret.trim().starts_with("whsk_") {
            return Err(Failure::Usage(
                "invalid value for '--secret': `whsk_…` is an ed25519 signing key; verify with \
                 its public key (`whpk_…`, the second line of `palisade webhook secret --ed25519`) \
                 and keep the signing key with the sender"
                    .to_owned(),
            ));
        }
        scheme = Some(if secret.trim().starts_with("whpk_") {
            let key: PublicKey = secret.parse().map_err(bad_secret)?;
            match scheme {
                Some(scheme) => scheme.add_public_key(key),
                None => StandardWebhooks::from_public_key(key),
            }
        } else {
            let secret: Secret = secret.parse().map_err(bad_secret)?;
            match scheme {
                Some(scheme) => scheme.add_secret(secret),
                None => StandardWebhooks::new(secret),
            }
        });
    }
    scheme.ok_or_else(|| Failure::Usage("'--secret' is required".to_owned()))
}

fn verify(args: &VerifyArgs) -> Result<String, Failure> {
    let tolerance = args.tolerance.map(Duration::from_secs);
    let scheme: Box<dyn Scheme> = match args.scheme {
        SchemeName::Standard => {
            let scheme = standard_verifier(&args.secrets)?;
            Box::new(match tolerance {
                Some(tolerance) => scheme.tolerance(tolerance),
                None => scheme,
            })
        }
        SchemeName::Stripe => {
            let scheme = stripe(&args.secrets)?;
            Box::new(match tolerance {
                Some(tolerance) => scheme.tolerance(tolerance),
                None => scheme,
            })
        }
        SchemeName::Github => {
            if tolerance.is_some() {
                return Err(Failure::Usage(
                    "'--tolerance' does not apply to '--scheme github' (no timestamp)".to_owned(),
                ));
            }
            Box::new(github(&args.secrets)?)
        }
    };
    let mut headers = HeaderMap::new();
    for header in &args.headers {
        headers.append(header.name.clone(), header.value.clone());
    }
    let now = args.now.unwrap_or_else(|| SystemClock.now_unix());
    let body = read_body(args.body_file.as_deref())?;
    match scheme.verify(&headers, &body, now) {
        Ok(_) => Ok("valid".to_owned()),
        Err(err) => Err(Failure::Failed(format!(
            "invalid webhook: {err} ({})",
            err.kind()
        ))),
    }
}

fn secret(args: &SecretArgs) -> Result<String, Failure> {
    let no_entropy = |err: palisade_webhooks::sign::SecretError| {
        Failure::Failed(format!("cannot draw random bytes from the system: {err}"))
    };
    if args.ed25519 {
        let key = SigningKey::try_generate().map_err(no_entropy)?;
        Ok(format!("{key}\n{}", key.public_key()))
    } else {
        Ok(Secret::try_generate().map_err(no_entropy)?.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_with_or_without_spaces() {
        let header = parse_header("Webhook-Id:msg_1").unwrap();
        assert_eq!(header.name, "webhook-id");
        assert_eq!(header.value, "msg_1");
        let header = parse_header("  stripe-signature :  t=1,v1=ab  ").unwrap();
        assert_eq!(header.name, "stripe-signature");
        assert_eq!(header.value, "t=1,v1=ab");
        // Only the first colon splits.
        assert_eq!(parse_header("x: a:b").unwrap().value, "a:b");
    }

    #[test]
    fn malformed_header_arguments_are_rejected() {
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
        assert!(parse_header("bad name: value").is_err());
        assert!(parse_header("x: a\u{7f}b").is_err());
    }

    #[test]
    fn empty_secrets_are_usage_errors_for_every_scheme() {
        let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        for secrets in [vec![String::new()], vec![whsec, " ".to_owned()]] {
            let err = stripe(&secrets).unwrap_err();
            assert!(matches!(err, Failure::Usage(_)), "{err}");
            assert_eq!(
                err.to_string(),
                "invalid value for '--secret': secret is empty"
            );
            let err = github(&secrets).unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid value for '--secret': secret is empty"
            );
            let err = standard_verifier(&secrets).unwrap_err();
            assert!(err.to_string().contains("secret is empty"), "{err}");
        }
    }

    #[test]
    fn a_bad_secret_is_not_echoed() {
        let err = standard_signer(&["whsec_!!not-base64-hunter2".to_owned()]).unwrap_err();
        assert!(matches!(err, Failure::Usage(_)));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
