//! The jobs of email domains: [`ensure`] (the domain in Stalwart and its records) and
//! [`recheck`] (the continuous DNS verification, claimed in batches of due domains).

pub mod config;
pub mod ensure;
pub mod recheck;

pub use config::DomainsConfig;
