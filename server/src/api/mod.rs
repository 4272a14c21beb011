//! The `/api` routes: JSON in and out, every error RFC 9457 problem+json.
//!
//! Contract shared by every API module:
//! - a handler that needs a caller takes a [`Caller`] argument (inserted into
//!   the request's extensions by the authentication layer) and calls
//!   [`Caller::require`] with the scope it needs before doing anything;
//! - every change is recorded once it has succeeded with
//!   [`Audit::record`](crate::audit::Audit::record), naming the caller, the
//!   action, the target and the before/after JSON.

mod caller;

pub use caller::{Caller, Scope};
