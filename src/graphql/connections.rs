//! Named connection types. async-graphql's generic `Connection` registers its types without a
//! description; [`connection_type!`](crate::connection_type) wraps it with a name and a
//! description of its own, keeping its edges and page info. Each area declares its
//! connection types next to its types, with its own [`CountSource`] for `totalCount`.

use async_graphql::connection::{Connection, CursorType, PageInfo};
use async_graphql::{Context, OutputType};

use crate::error::ApiResult;
use crate::graphql::pagination::ConnectionFields;

/// Where a connection's `totalCount` comes from (computed only when selected).
pub trait CountSource: Send + Sync {
    /// The number of items in the whole list.
    fn count(&self, ctx: &Context<'_>) -> impl std::future::Future<Output = ApiResult<i64>> + Send;
}

impl CountSource for ConnectionFields {
    async fn count(&self, _ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(self.total_count)
    }
}

/// The page info of a connection.
pub fn page_info<T: OutputType>(c: &Connection<String, T>) -> PageInfo {
    PageInfo {
        has_previous_page: c.has_previous_page,
        has_next_page: c.has_next_page,
        start_cursor: c.edges.first().map(|e| e.cursor.encode_cursor()),
        end_cursor: c.edges.last().map(|e| e.cursor.encode_cursor()),
    }
}

/// Declares a named connection type: `connection_type!(/// doc NameConnection, Node, Count);`
/// where `Count` implements [`CountSource`].
#[macro_export]
macro_rules! connection_type {
    ($(#[doc = $doc:literal])* $name:ident, $node:ty, $fields:ty) => {
        $(#[doc = $doc])*
        pub struct $name(pub $crate::graphql::pagination::Paged<$node, $fields>);

        $(#[doc = $doc])*
        #[async_graphql::Object]
        impl $name {
            /// The items of this page with their cursors.
            async fn edges(
                &self,
            ) -> &[async_graphql::connection::Edge<
                String,
                $node,
                async_graphql::connection::EmptyFields,
            >] {
                &self.0.connection.edges
            }

            /// The items of this page.
            async fn nodes(&self) -> Vec<&$node> {
                self.0.connection.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page sits in the whole list.
            async fn page_info(&self) -> async_graphql::connection::PageInfo {
                $crate::graphql::connections::page_info(&self.0.connection)
            }

            /// How many items the whole list holds (ignoring pagination); computed only when
            /// selected. Costs 10 towards the complexity limit: each selection is a count.
            #[graphql(complexity = 10)]
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> $crate::error::ApiResult<i64> {
                $crate::graphql::connections::CountSource::count(&self.0.count, ctx).await
            }
        }

        impl From<$crate::graphql::pagination::Paged<$node, $fields>> for $name {
            fn from(page: $crate::graphql::pagination::Paged<$node, $fields>) -> Self {
                Self(page)
            }
        }
    };
}
