//! The API key format: `pal_<16 hex id>_<64 hex secret>`.
//!
//! The id is public (it names the key in lists, logs and the audit log);
//! the secret is shown once at creation and stored only as its SHA-256,
//! compared in constant time.

use std::fmt;

use rand::TryRng as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// A parsed API token. `Debug` never shows the secret.
///
/// ```
/// use palisade_server::auth::ApiToken;
///
/// let token = ApiToken::generate()?;
/// let stored = token.secret_hash(); // what the database keeps
/// let presented = ApiToken::parse(&token.reveal())?; // what a client sends
/// assert_eq!(presented.id(), token.id());
/// assert!(presented.matches(&stored));
/// assert!(ApiToken::parse("pal_guess").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    id: String,
    secret: String,
}

/// A string that is not `pal_<16 hex>_<64 hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedToken;

impl fmt::Display for MalformedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an API token: expected pal_<16 hex digits>_<64 hex digits>")
    }
}

impl std::error::Error for MalformedToken {}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `bytes` random bytes from the OS, as lowercase hex.
fn random_hex(bytes: usize) -> Result<String, rand::rngs::SysError> {
    let mut buf = vec![0; bytes];
    rand::rngs::SysRng.try_fill_bytes(&mut buf)?;
    Ok(hex::encode(buf))
}

impl ApiToken {
    /// Parses `pal_<16 hex>_<64 hex>` (lowercase hex).
    ///
    /// # Errors
    ///
    /// [`MalformedToken`] for anything else; the error never repeats the input.
    pub fn parse(text: &str) -> Result<Self, MalformedToken> {
        let rest = text.strip_prefix("pal_").ok_or(MalformedToken)?;
        let (id, secret) = rest.split_once('_').ok_or(MalformedToken)?;
        if !is_lower_hex(id, 16) || !is_lower_hex(secret, 64) {
            return Err(MalformedToken);
        }
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// A new token from the operating system's random generator.
    ///
    /// # Errors
    ///
    /// When the operating system has no randomness to give.
    pub fn generate() -> Result<Self, rand::rngs::SysError> {
        Ok(Self {
            id: random_hex(8)?,
            secret: random_hex(32)?,
        })
    }

    /// The public id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The SHA-256 of the secret, as stored.
    #[must_use]
    pub fn secret_hash(&self) -> [u8; 32] {
        Sha256::digest(self.secret.as_bytes()).into()
    }

    /// Whether this token's secret hashes to `stored`, compared in
    /// constant time.
    #[must_use]
    pub fn matches(&self, stored: &[u8]) -> bool {
        self.secret_hash().ct_eq(stored).into()
    }

    /// The whole token, `pal_<id>_<secret>`: show it once, never log it.
    #[must_use]
    pub fn reveal(&self) -> String {
        format!("pal_{}_{}", self.id, self.secret)
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiToken(pal_{}_***)", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_and_match_their_hash() {
        let token = ApiToken::generate().unwrap();
        let text = token.reveal();
        assert_eq!(text.len(), 4 + 16 + 1 + 64);
        let parsed = ApiToken::parse(&text).unwrap();
        assert_eq!(parsed, token);
        assert!(parsed.matches(&token.secret_hash()));
        assert!(!ApiToken::generate().unwrap().matches(&token.secret_hash()));
        assert!(!format!("{token:?}").contains(&token.secret));
    }

    #[test]
    fn anything_else_is_malformed() {
        let good = format!("pal_{}_{}", "a".repeat(16), "b".repeat(64));
        assert!(ApiToken::parse(&good).is_ok());
        for bad in [
            String::new(),
            "pal_".into(),
            format!("pk_{}_{}", "a".repeat(16), "b".repeat(64)),
            format!("pal_{}_{}", "a".repeat(15), "b".repeat(64)),
            format!("pal_{}_{}", "a".repeat(16), "b".repeat(63)),
            format!("pal_{}_{}", "A".repeat(16), "b".repeat(64)),
            format!("pal_{}_{}", "g".repeat(16), "b".repeat(64)),
            format!("pal_{}{}", "a".repeat(16), "b".repeat(64)),
        ] {
            assert_eq!(ApiToken::parse(&bad), Err(MalformedToken), "{bad}");
        }
    }
}
