//! The Palisade reference server: every Palisade layer composed into one
//! running platform, and the `palisade` command-line tools.
//!
//! [`app`] builds the whole HTTP application as an axum `Router`, so tests (and
//! embedders) can serve it on any listener.

pub mod access_log;
pub mod api;
pub mod audit;
pub mod auth;
pub mod breakers;
pub mod cli;
pub mod database;
pub mod delivery;
pub mod duration;
pub mod events;
pub mod listener;
pub mod routes;
pub mod serve;
pub mod state;
pub mod store;

pub use routes::app;
pub use state::AppState;
