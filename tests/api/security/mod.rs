//! Security settings: the policy and its validation, where it is enforced (client IPs,
//! trusted proxies, countries from a GeoIP database).

mod enforcement;
mod overview;
mod policy;
mod sso_apps;

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::support::World;

pub(crate) const POLICY: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    securityPolicy {
      mfaMode sessionIdleMinutes sessionAbsoluteHours allowedCountries ipAllowlist
      enforcement { field status reason }
    }
  }
}"#;

pub(crate) const UPDATE: &str = r#"
mutation($input: UpdateSecurityPolicyInput!) {
  updateSecurityPolicy(input: $input) {
    policy { mfaMode sessionIdleMinutes sessionAbsoluteHours allowedCountries ipAllowlist }
  }
}"#;

pub(crate) const NAME: &str = r#"
query($slug: String!) { tenant(slug: $slug) { name } }"#;

/// A request as `who` from the local address `from` (any of 127.0.0.0/8), with an
/// `X-Forwarded-For` header when given.
pub(crate) async fn from(
    w: &World,
    from: &str,
    xff: Option<&str>,
    who: &str,
    query: &str,
    variables: Value,
) -> Value {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut request = client
        .post(w.url("/graphql"))
        .bearer_auth(w.token(who))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(xff) = xff {
        request = request.header("x-forwarded-for", xff);
    }
    let response = request.send().await.expect("POST /graphql");
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The first error's code, or `""`.
pub(crate) fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[derive(diesel::QueryableByName)]
struct Details {
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    details: Value,
}

/// The `details` of the newest audit row of `action`.
pub(crate) async fn last_details(w: &World, action: &str) -> Value {
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    diesel::sql_query("SELECT details FROM audit_events WHERE action = $1 ORDER BY id DESC LIMIT 1")
        .bind::<diesel::sql_types::Text, _>(action)
        .get_result::<Details>(&mut conn)
        .await
        .expect("an audit row")
        .details
}
