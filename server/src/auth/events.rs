//! Security events: one log line under the `security` target and one count
//! in `palisade_security_events_total{kind}` for every refused or revoked
//! access. Never the secret: only the key id and the client address.

use std::net::SocketAddr;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecurityEvent {
    /// No token, a malformed one, an unknown key or a wrong secret.
    AuthFailed,
    /// A revoked key was presented, or a key was revoked.
    KeyRevoked,
    /// The key's scope does not cover the route.
    ScopeRefused,
    /// The key's tier is used up.
    RateLimited,
    /// The client address is outside `--api-allow` or inside `--api-deny`.
    IpDenied,
    /// An inbound webhook's headers, timestamp or signature did not verify.
    WebhookSignature,
    /// A verified inbound webhook was sent again (a replay).
    WebhookReplayed,
}

impl SecurityEvent {
    /// The `kind` label.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Self::AuthFailed => "auth_failed",
            Self::KeyRevoked => "key_revoked",
            Self::ScopeRefused => "scope_refused",
            Self::RateLimited => "rate_limited",
            Self::IpDenied => "ip_denied",
            Self::WebhookSignature => "webhook_signature",
            Self::WebhookReplayed => "webhook_replayed",
        }
    }

    /// Logs and counts the event.
    pub(crate) fn emit(self, key_id: Option<&str>, client: Option<SocketAddr>, reason: &str) {
        let kind = self.kind();
        let client = client.map(|c| c.ip().to_string());
        tracing::warn!(
            target: "security",
            kind,
            key_id = key_id.unwrap_or("-"),
            client = client.as_deref().unwrap_or("-"),
            "{reason}"
        );
        self.count();
    }

    /// Counts the event (for callers that log it themselves).
    pub(crate) fn count(self) {
        metrics::counter!("palisade_security_events_total", "kind" => self.kind()).increment(1);
    }
}
