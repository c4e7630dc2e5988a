//! Typed ids: one newtype per kind of row, so a tenant id can never be passed where a partner
//! id is expected. Each is stored as the `uuid` it wraps (`DieselNewType`), serialises as
//! that uuid, and converts from and to [`Uuid`] at the edges (global ids, job payloads).

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[derive(
            DieselNewType, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash,
            PartialOrd, Ord,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The wrapped uuid.
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// `tenants.id`.
    TenantId
);
uuid_id!(
    /// `partners.id`.
    PartnerId
);
uuid_id!(
    /// `users.id`.
    UserId
);
uuid_id!(
    /// `memberships.id`: one user's membership of one tenant.
    MemberId
);
uuid_id!(
    /// `domains.id`: one mail domain of a tenant.
    DomainId
);

/// Rows that can be read many at a time by id, in one statement (what the per-request
/// loaders batch `node(id:)` and parent → child lookups into).
pub trait ByIds: Sized + Send + Sync + 'static {
    /// The row's id type.
    type Id: Copy + Eq + std::hash::Hash + Send + Sync + 'static;

    /// This row's id.
    fn id(&self) -> Self::Id;

    /// The rows with these ids (unscoped: callers apply the access policy).
    fn by_ids(
        conn: &mut diesel_async::AsyncPgConnection,
        ids: &[Self::Id],
    ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<Self>>> + Send;
}
