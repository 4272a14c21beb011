//! The state shared by every route.

/// Everything the routes need, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct AppState {}
