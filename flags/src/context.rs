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
//!
//! A context may also hold several *kinds*, as LaunchDarkly's multi-kind
//! contexts do: besides the user, an `organization` or a `device`, each
//! with its own key and attributes. Constraints, stickiness and variant
//! overrides name them as `kind.attribute` (`organization.key` for the
//! key, `organization.plan` for an attribute). A context without that kind
//! reads the property of that whole name instead, as before kinds existed;
//! the user is the kind `user` (`user.key` is the user id).
//!
//! ```
//! use palisade_flags::model::{
//!     Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Stickiness, Strategy,
//! };
//! use palisade_flags::{Context, Flags};
//!
//! // Half of the organizations on the enterprise plan, all their users alike.
//! let rollout = Strategy::new("enterprise orgs")
//!     .constraint(Constraint::new(
//!         ContextField::kind_attribute("organization", "plan"),
//!         Operator::In(vec!["enterprise".into()]),
//!     ))
//!     .stickiness(Stickiness::Field(ContextField::kind_attribute("organization", "key")))
//!     .rollout(50)?;
//! let flags = Flags::new(FlagSet::new([Flag::new("audit-log", FlagKind::Boolean).strategy(rollout)], [])?);
//! let answer = |user: &str| {
//!     let member = Context::new()
//!         .user_id(user)
//!         .kind("organization", "acme")
//!         .kind_attribute("organization", "plan", "enterprise");
//!     flags.evaluate("audit-log", &member).is_enabled()
//! };
//! let first = answer("ana");
//! assert!((1..100).all(|n| answer(&n.to_string()) == first));
//! # Ok::<(), palisade_flags::model::DefinitionError>(())
//! ```

use crate::model::{ContextField, KindPath};
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
        self.properties.push(NO_KIND, name, value);
        self
    }

    /// Add context kind `kind` (`organization`, `device`, …) with its `key`,
    /// read as `kind.key`. The kind `user` is the user: this sets the user
    /// id.
    #[must_use]
    #[inline]
    pub fn kind(self, kind: &'a str, key: &'a str) -> Self {
        self.kind_attribute(kind, KEY, key)
    }

    /// An attribute of context kind `kind`, read as `kind.name`. For the
    /// kind `user` this is a property (and `key` the user id).
    #[must_use]
    #[inline]
    pub fn kind_attribute(mut self, kind: &'a str, name: &'a str, value: &'a str) -> Self {
        match (kind, name) {
            (USER, KEY) => self.user_id = Some(value),
            (USER, _) => self.properties.push(NO_KIND, name, value),
            _ => self.properties.push(kind, name, value),
        }
        self
    }

    /// The key of context kind `kind`, if the context has it.
    #[must_use]
    pub fn get_kind_key(&self, kind: &str) -> Option<&'a str> {
        if kind == USER {
            return self.user_id;
        }
        self.properties.get_of(kind, KEY)
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
            ContextField::Kind(path) => self.kind_field(path),
        }
    }

    /// `kind.attribute`, or the property of that whole name for a context
    /// without the kind (what the name meant before kinds).
    #[cold]
    fn kind_field(&self, path: &KindPath) -> Option<&'a str> {
        let (kind, attribute) = (path.kind(), path.attribute());
        let own = match (kind, attribute) {
            (USER, KEY) => self.user_id,
            (USER, _) => self.get_property(attribute),
            _ if self.properties.has_kind(kind) => return self.properties.get_of(kind, attribute),
            _ => None,
        };
        own.or_else(|| self.get_property(path.name()))
    }

    pub(crate) fn time(&self) -> CurrentTime {
        self.current_time
    }
}

/// The kind of a plain property (kind names are never empty).
const NO_KIND: &str = "";
/// The kind that is the user.
const USER: &str = "user";
/// The attribute that is a kind's key.
const KEY: &str = "key";

/// Properties and the attributes of other kinds, as `(kind, name, value)`
/// (`NO_KIND` for a plain property), stored inline up to
/// [`INLINE_PROPERTIES`], then in a `Vec`.
#[derive(Debug, Clone, Default)]
struct Properties<'a> {
    inline: [(&'a str, &'a str, &'a str); INLINE_PROPERTIES],
    inline_len: usize,
    spilled: Vec<(&'a str, &'a str, &'a str)>,
}

/// How many properties a context holds without allocating.
const INLINE_PROPERTIES: usize = 4;

impl<'a> Properties<'a> {
    #[inline]
    fn push(&mut self, kind: &'a str, name: &'a str, value: &'a str) {
        if self.inline_len < INLINE_PROPERTIES {
            self.inline[self.inline_len] = (kind, name, value);
            self.inline_len += 1;
        } else {
            self.spilled.push((kind, name, value));
        }
    }

    fn all(&self) -> impl DoubleEndedIterator<Item = &(&'a str, &'a str, &'a str)> {
        self.inline[..self.inline_len].iter().chain(&self.spilled)
    }

    /// The last value given for property `name`.
    #[inline]
    fn get(&self, name: &str) -> Option<&'a str> {
        self.get_of(NO_KIND, name)
    }

    /// The last value given for attribute `name` of `kind` (the spilled
    /// ones are the later ones).
    #[inline]
    fn get_of(&self, kind: &str, name: &str) -> Option<&'a str> {
        let is = |entry: &&(&'a str, &'a str, &'a str)| entry.1 == name && entry.0 == kind;
        self.spilled
            .iter()
            .rev()
            .find(is)
            .or_else(|| self.inline[..self.inline_len].iter().rev().find(is))
            .map(|&(_, _, value)| value)
    }

    /// Whether the context holds kind `kind` (its key or any attribute).
    fn has_kind(&self, kind: &str) -> bool {
        self.all().any(|(k, _, _)| *k == kind)
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

    #[test]
    fn kinds_are_read_by_kind_attribute_falling_back_to_the_whole_name() {
        let field = |name: &str| ContextField::from_unleash_name(name);
        let context = Context::new()
            .user_id("u1")
            .property("plan", "free")
            .kind("organization", "acme")
            .kind_attribute("organization", "plan", "enterprise")
            .property("device.key", "legacy");
        assert_eq!(context.field(&field("organization.key")), Some("acme"));
        assert_eq!(
            context.field(&field("organization.plan")),
            Some("enterprise")
        );
        assert_eq!(
            context.field(&field("organization.size")),
            None,
            "no fallback for a kind it has"
        );
        assert_eq!(
            context.field(&field("plan")),
            Some("free"),
            "kinds do not leak into properties"
        );
        assert_eq!(context.field(&field("user.key")), Some("u1"));
        assert_eq!(context.field(&field("user.plan")), Some("free"));
        assert_eq!(
            context.field(&field("device.key")),
            Some("legacy"),
            "without the kind: the property"
        );
        assert_eq!(context.get_kind_key("organization"), Some("acme"));
        assert_eq!(context.get_kind_key("user"), Some("u1"));
        assert_eq!(context.get_kind_key("device"), None);
        let user = Context::new()
            .kind("user", "u2")
            .kind_attribute("user", "plan", "pro");
        assert_eq!(
            (user.get_user_id(), user.get_property("plan")),
            (Some("u2"), Some("pro"))
        );
    }
}
