//! Database access: the connection pool, migrations, the embedded cluster and the
//! generated `schema.rs`.

pub mod embedded;
pub mod migrate;
pub mod models;
pub mod pool;
#[rustfmt::skip]
pub mod schema;

pub use pool::{DbConn, DbPool};
