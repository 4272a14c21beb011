//! The shared HMAC secret of Standard Webhooks (`whsec_<base64>`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::encoding::BASE64;

/// The prefix Standard Webhooks puts in front of the base64 of a secret.
pub(crate) const SECRET_PREFIX: &str = "whsec_";

/// An HMAC secret shared by a sender and a receiver.
///
/// Parsed from `whsec_<base64>` (the prefix and the base64 padding are both
/// optional, surrounding whitespace is ignored) and printed back as
/// `whsec_<base64>` by [`Display`](fmt::Display), so a secret can be stored in
/// and read from configuration. `Debug` never shows the key, and equality is
/// checked in constant time.
///
/// An empty secret is refused. The specification asks for secrets of 24 to
/// 64 bytes; one outside that range is accepted (the reference libraries
/// accept them, and existing senders use them) but logged once per parse with
/// `tracing::warn!`, since a short secret is easier to guess. [`Secret::generate`]
/// always draws 32 bytes.
///
/// ```
/// use palisade_webhooks::Secret;
///
/// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// assert_eq!(secret.as_bytes().len(), 24);
/// // The prefix is optional.
/// assert_eq!(secret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?);
/// assert_eq!(secret.to_string(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
///
/// let fresh = Secret::generate();
/// assert_eq!(fresh.as_bytes().len(), 32);
/// # Ok::<(), palisade_webhooks::sign::SecretError>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    bytes: Box<[u8]>,
}

impl Secret {
    /// The number of random bytes [`Secret::generate`] draws (the size
    /// Standard Webhooks recommends).
    pub const GENERATED_LEN: usize = 32;

    /// The secret lengths the Standard Webhooks specification asks for, in
    /// bytes; others are accepted with a warning.
    const SPEC_LEN: std::ops::RangeInclusive<usize> = 24..=64;

    /// Draws a fresh secret of [`GENERATED_LEN`](Self::GENERATED_LEN) bytes
    /// from the operating system's random number generator.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide randomness (see
    /// [`Secret::try_generate`] to handle that case instead).
    #[must_use]
    pub fn generate() -> Self {
        // An OS without entropy is not a condition a webhook sender can
        // recover from; `try_generate` is there for callers who want to try.
        #[allow(clippy::expect_used)]
        Self::try_generate().expect("the operating system's random number generator failed")
    }

    /// Draws a fresh secret like [`Secret::generate`], reporting a failing
    /// random number generator as an error.
    ///
    /// # Errors
    ///
    /// [`SecretError`] with kind `"rng_failed"` when the operating system
    /// cannot provide randomness.
    pub fn try_generate() -> Result<Self, SecretError> {
        use rand::TryRng as _;

        let mut bytes = [0u8; Self::GENERATED_LEN];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| SecretError(SecretErrorKind::RngFailed))?;
        Ok(Self {
            bytes: Box::new(bytes),
        })
    }

    /// Wraps raw key bytes.
    ///
    /// A secret shorter than 24 or longer than 64 bytes is accepted with a
    /// `tracing::warn!` (the specification's range; see the type's docs).
    ///
    /// # Errors
    ///
    /// [`SecretError`] with kind `"empty_secret"` when `bytes` is empty.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.is_empty() {
            return Err(SecretError::EMPTY);
        }
        if !Self::SPEC_LEN.contains(&bytes.len()) {
            tracing::warn!(
                len = bytes.len(),
                "webhook secret is {} bytes; Standard Webhooks asks for 24 to 64 bytes \
                 (a short secret is easier to guess): generate a new one with \
                 `Secret::generate` or `palisade webhook secret`",
                bytes.len()
            );
        }
        Ok(Self {
            bytes: bytes.into(),
        })
    }

    /// The raw key bytes (what the HMAC is keyed with).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    /// Parses `whsec_<base64>`; the prefix and the padding are optional.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let b64 = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        if b64.is_empty() {
            return Err(SecretError::EMPTY);
        }
        let bytes = BASE64
            .decode(b64)
            .map_err(|_| SecretError::INVALID_BASE64)?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for Secret {
    /// Prints `whsec_<base64>`, the form [`FromStr`] reads back. This is the
    /// key itself: only print it where a secret belongs (a config file, the
    /// output of a `secret` command), never into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", BASE64.encode(&self.bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for Secret {}

/// A secret could not be parsed or created.
///
/// ```
/// use palisade_webhooks::Secret;
///
/// let err = "whsec_".parse::<Secret>().unwrap_err();
/// assert_eq!(err.kind(), "empty_secret");
/// assert_eq!(err.to_string(), "secret is empty");
/// assert_eq!("whsec_!!!".parse::<Secret>().unwrap_err().kind(), "invalid_base64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretError(SecretErrorKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretErrorKind {
    Empty,
    InvalidBase64,
    #[cfg_attr(not(feature = "ed25519"), allow(dead_code))] // only ed25519 keys have a shape
    InvalidKey,
    RngFailed,
}

impl SecretError {
    pub(crate) const INVALID_BASE64: Self = Self(SecretErrorKind::InvalidBase64);
    #[cfg(feature = "ed25519")]
    pub(crate) const INVALID_KEY: Self = Self(SecretErrorKind::InvalidKey);
    pub(crate) const EMPTY: Self = Self(SecretErrorKind::Empty);
}

impl SecretError {
    /// A stable snake_case name of the cause: `"empty_secret"`,
    /// `"invalid_base64"`, `"invalid_key"` (an ed25519 key of the wrong
    /// length or an invalid point) or `"rng_failed"`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.0 {
            SecretErrorKind::Empty => "empty_secret",
            SecretErrorKind::InvalidBase64 => "invalid_base64",
            SecretErrorKind::InvalidKey => "invalid_key",
            SecretErrorKind::RngFailed => "rng_failed",
        }
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            SecretErrorKind::Empty => "secret is empty",
            SecretErrorKind::InvalidBase64 => "secret is not valid base64",
            SecretErrorKind::InvalidKey => "key has the wrong length or is not a valid key",
            SecretErrorKind::RngFailed => "the random number generator failed",
        })
    }
}

impl std::error::Error for SecretError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_optional() {
        let padded: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=".parse().unwrap();
        let unpadded: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS".parse().unwrap();
        assert_eq!(padded, unpadded);
    }

    #[test]
    fn display_round_trips() {
        let secret = Secret::generate();
        let back: Secret = secret.to_string().parse().unwrap();
        assert_eq!(secret, back);
        assert!(secret.to_string().starts_with("whsec_"));
    }

    #[test]
    fn generated_secrets_differ() {
        assert_ne!(Secret::generate(), Secret::generate());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let debug = format!("{secret:?}");
        assert!(!debug.contains("MfKQ"), "{debug}");
    }

    /// Runs `f` with a subscriber that records warnings, and returns them.
    fn warnings(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn secrets_outside_the_spec_range_are_accepted_with_a_warning() {
        for len in [1, 16, 23, 65, 200] {
            let mut secret = None;
            let logged = warnings(|| secret = Some(Secret::from_bytes(&vec![7; len]).unwrap()));
            assert_eq!(secret.unwrap().as_bytes().len(), len);
            assert!(logged.contains("WARN"), "{len}: {logged:?}");
            assert!(
                logged.contains(&format!("webhook secret is {len} bytes")),
                "{logged}"
            );
            assert!(logged.contains("24 to 64 bytes"), "{logged}");
        }
        // Parsing goes through the same check; the key never appears.
        let logged = warnings(|| {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"
                .parse::<Secret>()
                .unwrap();
        });
        assert!(logged.contains("is 23 bytes"), "{logged}");
        assert!(!logged.contains("MfKQ"), "{logged}");
        for len in [24, 32, 64] {
            let logged = warnings(|| drop(Secret::from_bytes(&vec![7; len]).unwrap()));
            assert_eq!(logged, "", "{len}");
        }
        assert_eq!(warnings(|| drop(Secret::generate())), "");
    }

    #[test]
    fn empty_inputs_are_rejected() {
        assert_eq!(Secret::from_bytes(&[]).unwrap_err().kind(), "empty_secret");
        assert_eq!("".parse::<Secret>().unwrap_err().kind(), "empty_secret");
        assert_eq!("  ".parse::<Secret>().unwrap_err().kind(), "empty_secret");
    }
}
