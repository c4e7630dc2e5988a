//! The named connection types of the schema. async-graphql's generic `Connection` registers
//! its types without a description; these wrappers keep its edges and page info but give
//! every connection type a name and a description of its own.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields, PageInfo};
use async_graphql::{Context, Object, OutputType};

use crate::error::ApiResult;
use crate::graphql::audit::types::AuditEvent;
use crate::graphql::flags::types::FeatureFlag;
use crate::graphql::members::types::Member;
use crate::graphql::pagination::ConnectionFields;
use crate::graphql::partners::types::Partner;
use crate::graphql::tenants::types::Tenant;
use crate::graphql::totals::Total;

/// Where a connection's `totalCount` comes from.
pub trait CountSource: Send + Sync {
    /// The number of items in the whole list.
    fn count(&self, ctx: &Context<'_>) -> impl std::future::Future<Output = ApiResult<i64>> + Send;
}

impl CountSource for Total {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Total::count(self, ctx).await
    }
}

impl CountSource for ConnectionFields {
    async fn count(&self, _ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(self.total_count)
    }
}

fn page_info<T: OutputType>(c: &Connection<String, T, impl async_graphql::ObjectType>) -> PageInfo {
    PageInfo {
        has_previous_page: c.has_previous_page,
        has_next_page: c.has_next_page,
        start_cursor: c.edges.first().map(|e| e.cursor.encode_cursor()),
        end_cursor: c.edges.last().map(|e| e.cursor.encode_cursor()),
    }
}

macro_rules! connection_type {
    ($(#[doc = $doc:literal])* $name:ident, $node:ty, $fields:ty) => {
        $(#[doc = $doc])*
        pub struct $name(pub Connection<String, $node, $fields>);

        $(#[doc = $doc])*
        #[Object]
        impl $name {
            /// The items of this page with their cursors.
            async fn edges(&self) -> &[Edge<String, $node, EmptyFields>] {
                &self.0.edges
            }

            /// The items of this page.
            async fn nodes(&self) -> Vec<&$node> {
                self.0.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page sits in the whole list.
            async fn page_info(&self) -> PageInfo {
                page_info(&self.0)
            }

            /// How many items the whole list holds (ignoring pagination); computed only when
            /// selected.
            async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
                self.0.additional_fields.count(ctx).await
            }
        }

        impl From<Connection<String, $node, $fields>> for $name {
            fn from(c: Connection<String, $node, $fields>) -> Self {
                Self(c)
            }
        }
    };
}

connection_type!(
    /// A page of tenants (a Relay connection).
    TenantConnection, Tenant, Total
);
connection_type!(
    /// A page of partners (a Relay connection).
    PartnerConnection, Partner, Total
);
connection_type!(
    /// A page of a tenant's members (a Relay connection).
    MemberConnection, Member, Total
);
connection_type!(
    /// A page of the audit log, newest first (a Relay connection).
    AuditEventConnection, AuditEvent, ConnectionFields
);
connection_type!(
    /// A page of feature flags (a Relay connection).
    FeatureFlagConnection, FeatureFlag, Total
);
