//! What a flag is evaluated for: the user, session, address, environment and
//! any custom properties.
//!
//! A [`Context`] borrows its strings and keeps up to
//! four custom properties inline, so building one per request allocates
//! nothing.
//!
//! ```
//! use palisade_flags::Context;
//!
//! let context = Context::new()
//!     .user_id("42")
//!     .environment("production")
//!     .property("plan", "pro");
//! assert_eq!(context.get_user_id(), Some("42"));
//! assert_eq!(context.get_property("plan"), Some("pro"));
//! ```

use crate::model::ContextField;
use crate::time::Timestamp;

/// The facts a flag's strategies and constraints are evaluated against.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    user_id: Option<&'a str>,
    session_id: Option<&'a str>,
    remote_address: Option<&'a str>,
    environment: Option<&'a str>,
    app_name: Option<&'a str>,
    current_time: CurrentTime,
    properties: Properties<'a>,
}

/// Where date constraints read the current time from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum CurrentTime {
    /// The evaluator's clock.
    #[default]
    Clock,
    /// A time the caller set.
    At(Timestamp),
    /// The caller gave a time that did not parse: date constraints fail.
    Invalid,
}

impl<'a> Context<'a> {
    /// An empty context.
    #[must_use]
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// The user id (the default stickiness and the `userId` field).
    #[must_use]
    #[inline]
    pub fn user_id(mut self, user_id: &'a str) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// The session id (`sessionId`).
    #[must_use]
    #[inline]
    pub fn session_id(mut self, session_id: &'a str) -> Self {
        self.session_id = Some(session_id);
        self
    }

    /// The client's address (`remoteAddress`), matched by CIDR constraints.
    #[must_use]
    #[inline]
    pub fn remote_address(mut self, remote_address: &'a str) -> Self {
        self.remote_address = Some(remote_address);
        self
    }

    /// The environment (`environment`).
    #[must_use]
    #[inline]
    pub fn environment(mut self, environment: &'a str) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The application name (`appName`).
    #[must_use]
    #[inline]
    pub fn app_name(mut self, app_name: &'a str) -> Self {
        self.app_name = Some(app_name);
        self
    }

    /// The instant date constraints compare against (instead of the clock).
    #[must_use]
    #[inline]
    pub fn current_time(mut self, at: Timestamp) -> Self {
        self.current_time = CurrentTime::At(at);
        self
    }

    /// The current time as RFC 3339 text, as the Unleash context carries it.
    /// Text that does not parse makes every date constraint fail (it never
    /// falls back to the clock).
    #[must_use]
    #[inline]
    pub fn current_time_text(mut self, text: &str) -> Self {
        self.current_time = text.parse().map_or(CurrentTime::Invalid, CurrentTime::At);
        self
    }

    /// A custom property (read by constraints and custom stickiness on
    /// `name`). A later value for the same name wins.
    #[must_use]
    #[inline]
    pub fn property(mut self, name: &'a str, value: &'a str) -> Self {
        self.properties.push(name, value);
        self
    }

    /// The user id, if set.
    #[must_use]
    #[inline]
    pub fn get_user_id(&self) -> Option<&'a str> {
        self.user_id
    }

    /// A custom property, if set.
    #[must_use]
    #[inline]
    pub fn get_property(&self, name: &str) -> Option<&'a str> {
        self.properties.get(name)
    }

    /// The value of `field`: a built-in field, or else the property of that
    /// name (Unleash resolves custom names through `properties`).
    #[inline]
    pub(crate) fn field(&self, field: &ContextField) -> Option<&'a str> {
        match field {
            ContextField::UserId => self.user_id,
            ContextField::SessionId => self.session_id,
            ContextField::RemoteAddress => self.remote_address,
            ContextField::Environment => self.environment,
            ContextField::AppName => self.app_name,
            // The time is read as a timestamp by date constraints only.
            ContextField::CurrentTime => None,
            ContextField::Property(name) => self.get_property(name),
        }
    }

    pub(crate) fn time(&self) -> CurrentTime {
        self.current_time
    }
}

/// Properties stored inline up to [`INLINE_PROPERTIES`], then in a `Vec`.
#[derive(Debug, Clone, Default)]
struct Properties<'a> {
    inline: [(&'a str, &'a str); INLINE_PROPERTIES],
    inline_len: usize,
    spilled: Vec<(&'a str, &'a str)>,
}

/// How many properties a context holds without allocating.
const INLINE_PROPERTIES: usize = 4;

impl<'a> Properties<'a> {
    #[inline]
    fn push(&mut self, name: &'a str, value: &'a str) {
        if self.inline_len < INLINE_PROPERTIES {
            self.inline[self.inline_len] = (name, value);
            self.inline_len += 1;
        } else {
            self.spilled.push((name, value));
        }
    }

    /// The last value given for `name`.
    fn get(&self, name: &str) -> Option<&'a str> {
        self.inline[..self.inline_len]
            .iter()
            .chain(&self.spilled)
            .rev()
            .find(|(key, _)| *key == name)
            .map(|&(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_property_wins_inline_or_spilled() {
        let mut context = Context::new();
        for (i, value) in ["0", "1", "2", "3", "4", "5"].into_iter().enumerate() {
            context = context.property(if i % 2 == 0 { "even" } else { "odd" }, value);
        }
        assert_eq!(context.get_property("even"), Some("4"));
        assert_eq!(context.get_property("odd"), Some("5"));
        assert_eq!(context.get_property("none"), None);
        let overridden = Context::new().property("a", "1").property("a", "2");
        assert_eq!(overridden.get_property("a"), Some("2"));
    }
}
