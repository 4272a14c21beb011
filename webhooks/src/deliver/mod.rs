//! Webhook delivery.

pub mod connect;
