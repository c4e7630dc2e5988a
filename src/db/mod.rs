//! Database access: the connection pool, migrations, the embedded cluster and the
//! generated `schema.rs`.

pub mod cached;
pub mod embedded;
pub mod inflight;
pub mod migrate;
pub mod pool;
#[rustfmt::skip]
pub mod schema;

pub use cached::cached;
pub use pool::{DbConn, DbPool};
