//! Subscriptions (one current subscription per tenant).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::models::SubscriptionRow;
use crate::db::schema::subscriptions;

/// The subscriptions of `tenant_ids`.
pub async fn by_tenants(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[Uuid],
) -> QueryResult<Vec<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::tenant_id.eq_any(tenant_ids))
        .select(SubscriptionRow::as_select())
        .load(conn)
        .await
}
