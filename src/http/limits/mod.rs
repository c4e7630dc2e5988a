//! Limits applied at the edge: headers, the client address, request rates.

pub mod client_ip;
pub mod config;
pub mod headers;
pub mod overload;
pub mod rate;

pub use config::{LimitsConfig, Rate};
