//! Issue 20 (performance): what the hot paths cost in statements, the verified-token cache,
//! and two replicas on one database.

mod claim_plan;
mod idle_streams;
mod jobs;
mod progress_fanout;
mod statements;
mod token_cache;
