//! `HealthSource` for the handles of our layers (added as their features land).
