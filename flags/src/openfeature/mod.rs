//! An [OpenFeature](https://openfeature.dev) provider (feature
//! `openfeature`): [`PalisadeProvider`] lets code written against the
//! `open-feature` SDK evaluate Palisade flags.
//!
//! Typed resolution follows the flag kinds: `bool` for Boolean, Percentage
//! and Kill switch flags; `string` for a Variant flag (the variant name) or
//! a Config flag holding a JSON string; `int`, `float` and `struct` for
//! Config flags holding a number or an object. Reasons are ours
//! (`STATIC`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`, `DEFAULT`), as are the
//! error codes: `FLAG_NOT_FOUND`, `TYPE_MISMATCH` (the flag's value is not
//! of the type asked for), `INVALID_CONTEXT` (a context field the
//! evaluator cannot read).
//!
//! The OpenFeature context maps onto ours: the targeting key is the user
//! id; the custom fields `userId`, `sessionId`, `remoteAddress`,
//! `environment`, `appName` and `currentTime` are the built-in fields
//! (`currentTime` as RFC 3339 text or a date-time); every other field is a
//! property, numbers and booleans as their text.
//!
//! ```
//! use std::sync::Arc;
//! use open_feature::{EvaluationContext, EvaluationReason, OpenFeature};
//! use palisade_flags::model::{Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Strategy};
//! use palisade_flags::openfeature::PalisadeProvider;
//! use palisade_flags::Flags;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pro = Strategy::new("pro plan")
//!     .constraint(Constraint::new(ContextField::property("plan"), Operator::In(vec!["pro".into()])));
//! let flags = Arc::new(Flags::new(FlagSet::new(
//!     [Flag::new("export-csv", FlagKind::Boolean).strategy(pro)],
//!     [],
//! )?));
//!
//! let mut api = OpenFeature::default();
//! api.set_provider(PalisadeProvider::new(flags)).await;
//! let client = api.create_client();
//!
//! let context = EvaluationContext::default()
//!     .with_targeting_key("user-7")
//!     .with_custom_field("plan", "pro");
//! let details = client
//!     .get_bool_details("export-csv", Some(&context), None)
//!     .await
//!     .map_err(|error| format!("{:?}: {:?}", error.code, error.message))?;
//! assert!(details.value);
//! assert_eq!(details.reason, Some(EvaluationReason::TargetingMatch));
//! # Ok(())
//! # }
//! ```

mod context;
mod provider;
mod value;

pub use self::provider::PalisadeProvider;
