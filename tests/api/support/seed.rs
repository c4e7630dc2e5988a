//! The old one-row-at-a-time seeding, kept only because `auth/guards.rs` (which issue 14
//! removes with the guards it tests) still calls it. Everything else arranges with
//! [`World`](super::world::World); delete this file with `auth/guards.rs`.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::world::sql as raw;

/// A partner.
pub async fn partner(conn: &mut AsyncPgConnection, slug: &str) -> Uuid {
    raw::insert_partner(conn, slug).await
}

/// A tenant, optionally under a partner.
pub async fn tenant(conn: &mut AsyncPgConnection, slug: &str, partner: Option<Uuid>) -> Uuid {
    raw::insert_plain_tenant(conn, slug, partner).await
}

/// A user by subject.
pub async fn user(conn: &mut AsyncPgConnection, subject: &str, platform_admin: bool) -> Uuid {
    raw::upsert_user(conn, subject, platform_admin).await
}

/// A membership.
pub async fn membership(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    tenant: Uuid,
    role: &str,
    status: &str,
) {
    raw::insert_membership(conn, user, tenant, role, status).await
}

/// A partner staff row.
pub async fn staff(conn: &mut AsyncPgConnection, user: Uuid, partner: Uuid, level: &str) {
    raw::insert_staff(conn, user, partner, level).await
}
