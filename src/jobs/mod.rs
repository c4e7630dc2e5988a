//! Durable jobs: a queue in PostgreSQL (its SQL is [`crate::domain::jobs`]), worked by tasks inside the server
//! process ([`worker`]). What needs upstream work is queued in the transaction of the change
//! that needs it (an outbox), so a rolled-back change queues nothing and a crash loses
//! nothing. Job kinds: [`provisioning`] (one tenant provisioning step per job), [`members`]
//! (one step of a member operation per job), [`domains`] (ensure a mail domain in Stalwart),
//! [`stripe`] (one stored Stripe webhook event per job), [`billing`] (change or cancel a
//! tenant's Stripe subscription), [`retention`] (deletes finished jobs and old events,
//! hourly), [`service_probe`] (liveness probes) and [`mfa_snapshot`] (refreshes the stored
//! MFA enrollment tenant health reads).

pub mod audit_export;
pub mod billing;
mod billing_customer;
pub mod config;
pub mod domains;
pub mod members;
pub mod mfa_snapshot;
pub mod provisioning;
pub mod retention;
pub mod service_probe;
pub mod stripe;
pub mod worker;

pub use config::JobsConfig;
pub use worker::{JobEnv, Workers};
