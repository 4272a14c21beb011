//! axum extractors (feature `axum`) for handlers that branch on a flag or a
//! variant.
//!
//! - [`Gated`]: the [`Evaluation`](crate::Evaluation) a
//!   [`FlagGateLayer`](crate::gate::FlagGateLayer) put into the request (the
//!   variant of the gated flag).
//! - [`Flag<K>`](Flag): evaluates the flag named by `K` (see [`FlagKey`] and
//!   [`flag_key!`](crate::flag_key)) for this request, with the flags and
//!   the context extractor of a [`FlagState`] taken from the router's state.
//!
//! ```
//! use std::sync::Arc;
//! use axum::extract::FromRef;
//! use axum::{Router, routing::get};
//! use http::HeaderName;
//! use palisade_flags::extract::{Flag, FlagState};
//! use palisade_flags::gate::FromHeader;
//! use palisade_flags::model::{Flag as Definition, FlagKind, FlagSet, Variant};
//! use palisade_flags::{Flags, flag_key};
//! use tower::ServiceExt;
//!
//! flag_key! {
//!     /// Which checkout a user sees.
//!     Checkout = "checkout"
//! }
//!
//! #[derive(Clone)]
//! struct AppState {
//!     flags: FlagState,
//! }
//!
//! impl FromRef<AppState> for FlagState {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.flags.clone()
//!     }
//! }
//!
//! async fn checkout(checkout: Flag<Checkout>) -> String {
//!     match checkout.variant_name() {
//!         "one-page" => "the one-page checkout".into(),
//!         other => format!("the classic checkout ({other})"),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let definition = Definition::new("checkout", FlagKind::Variant)
//!     .variant(Variant::new("classic", 1))
//!     .variant(Variant::new("one-page", 0).override_for(
//!         palisade_flags::model::ContextField::UserId,
//!         ["tester"],
//!     ));
//! let flags = Arc::new(Flags::new(FlagSet::new([definition], [])?));
//! let state = AppState {
//!     flags: FlagState::new(flags).context(FromHeader::user_id(HeaderName::from_static("x-user-id"))),
//! };
//! let app = Router::new().route("/checkout", get(checkout)).with_state(state);
//!
//! let request = http::Request::get("/checkout").header("x-user-id", "tester").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(body, "the one-page checkout");
//! # Ok(())
//! # }
//! ```

mod flag;
mod gated;

pub use self::flag::{Flag, FlagKey, FlagState};
pub use self::gated::{GateMissing, Gated};

/// Declares a type that names a flag, for the [`Flag`] extractor.
///
/// ```
/// use palisade_flags::extract::FlagKey;
///
/// palisade_flags::flag_key! {
///     /// The new search page.
///     pub NewSearch = "new-search"
/// }
/// assert_eq!(NewSearch::KEY, "new-search");
/// ```
#[macro_export]
macro_rules! flag_key {
    ($(#[$meta:meta])* $vis:vis $name:ident = $key:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $crate::extract::FlagKey for $name {
            const KEY: &'static str = $key;
        }
    };
}
