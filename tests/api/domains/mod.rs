//! Email domains: reads (`Tenant.domains`, `Domain` nodes, `domainsNeedingAttention`) and
//! the mutations against the Stalwart fake.

mod bench;
mod dns_server;
mod mutations;
mod reads;
mod recheck;
mod subscription;
mod verify;

use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::support::World;

/// Writes a domain row for `tenant` as it stands (arrangement for read tests): `status` in
/// the database spelling, `stalwart_id` if the mail server holds it. Returns its id.
pub async fn domain_row(
    w: &World,
    tenant: &str,
    name: &str,
    status: &str,
    stalwart_id: Option<&str>,
) -> uuid::Uuid {
    use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = SqlUuid)]
        id: uuid::Uuid,
    }
    let mut conn = w.db.connect().await;
    let row: Id = diesel::sql_query(
        "INSERT INTO domains (tenant_id, name, status, stalwart_id)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind::<SqlUuid, _>(w.id(tenant))
    .bind::<Text, _>(name)
    .bind::<Text, _>(status)
    .bind::<Nullable<Text>, _>(stalwart_id)
    .get_result(&mut conn)
    .await
    .expect("insert a domain");
    row.id
}

/// The first error's `extensions.code`, or `""`.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}
