//! The partner's team against the Authentik fake.

use platform_api::graphql::ids::{GlobalId, NodeType};
use serde_json::{Value, json};

use super::world;
use crate::support::World;
use crate::support::fakes;
use crate::support::tables::count;

const INVITE: &str = r#"
mutation($input: InviteStaffInput!) {
  inviteStaff(input: $input) { staff { userId email name accessLevel } }
}"#;

const CHANGE: &str = r#"
mutation($input: ChangeStaffAccessInput!) {
  changeStaffAccess(input: $input) { staff { email accessLevel } }
}"#;

const REMOVE: &str = r#"
mutation($input: RemoveStaffInput!) {
  removeStaff(input: $input) { staff { email } }
}"#;

const TEAM: &str = r#"
query($slug: String!) {
  tenant(slug: "acme") { slug }
  partners(first: 10) { nodes { slug } }
  partner(slug: $slug) {
    staff(first: 10) {
      totalCount
      nodes { email accessLevel mfaEnrolled lastSignInAt }
    }
  }
}"#;

fn user(w: &World, name: &str) -> String {
    GlobalId::new(NodeType::User, w.id(name)).encode()
}

fn invite(email: &str, level: &str) -> Value {
    json!({ "input": { "partner": "resell", "email": email, "name": "Nina New", "accessLevel": level } })
}

#[tokio::test]
async fn invite_is_idempotent_upstream_and_the_team_shows_mfa_from_authentik() {
    let authentik = fakes::authentik::spawn().await;
    let w = world(&authentik).await;
    let first = w
        .allowed(
            "padmin",
            INVITE,
            invite("nina@resell.example", "MEMBER"),
            "partner.staff.invite",
        )
        .await;
    let second = w
        .allowed(
            "padmin",
            INVITE,
            invite("Nina@Resell.Example", "MEMBER"),
            "partner.staff.invite",
        )
        .await;
    assert_eq!(
        first["data"]["inviteStaff"]["staff"]["userId"],
        second["data"]["inviteStaff"]["staff"]["userId"]
    );
    let pk = {
        let state = authentik.state();
        assert_eq!(state.users.len(), 1, "one Authentik user");
        assert_eq!(state.groups.len(), 1, "one partner group");
        let group = state.groups.values().next().unwrap();
        assert_eq!(group["name"], "dezky-partner-resell");
        let pk = state.users.values().next().unwrap()["pk"].as_i64().unwrap();
        assert_eq!(group["users"], json!([pk]), "one membership");
        pk
    };
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "partner_staff WHERE authentik_user_pk IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&mut conn, "users WHERE email = 'nina@resell.example'").await,
        1
    );
    // Another level for someone already on the team is a conflict, with no upstream call.
    let calls = authentik.calls().len();
    w.refused(
        Some("padmin"),
        INVITE,
        invite("nina@resell.example", "ADMIN"),
        "partner.staff.invite",
        "CONFLICT",
        "failure",
    )
    .await;
    assert_eq!(authentik.calls().len(), calls);

    // The team: MFA from Authentik's authenticators, fixtures (no Authentik user) unknown.
    authentik.add_device(pk, "totp");
    let before = authentik.calls().len();
    let body = w
        .query_with("pstaff", TEAM, json!({ "slug": "resell" }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let staff = &body["data"]["partner"]["staff"];
    assert_eq!(staff["totalCount"], 3);
    let nina = staff["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["email"] == "nina@resell.example")
        .unwrap();
    assert_eq!(nina["mfaEnrolled"], true);
    assert_eq!(nina["accessLevel"], "MEMBER");
    let padmin = staff["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["accessLevel"] == "ADMIN")
        .unwrap();
    assert_eq!(padmin["mfaEnrolled"], Value::Null);
    assert_eq!(
        authentik.calls().len() - before,
        2,
        "two calls for the one Authentik user"
    );
    // Not selected: no upstream call at all.
    let before = authentik.calls().len();
    w.query(
        "pstaff",
        r#"{ partner(slug: "resell") { staff { nodes { email } } } }"#,
    )
    .await;
    assert_eq!(authentik.calls().len(), before);
    // Customers and other partners do not see the team.
    let body = w
        .query(
            "tadmin",
            r#"{ partner(slug: "resell") { staff { totalCount } } }"#,
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}

#[tokio::test]
async fn denied_and_invalid_invites_call_nothing_and_write_nothing() {
    let authentik = fakes::authentik::spawn().await;
    let w = world(&authentik).await;
    let ok = invite("nina@resell.example", "MEMBER");
    w.denied(
        Some("pstaff"),
        INVITE,
        ok.clone(),
        "partner.staff.invite",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("tadmin"),
        INVITE,
        ok.clone(),
        "partner.staff.invite",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("oadmin"),
        INVITE,
        ok.clone(),
        "partner.staff.invite",
        "NOT_FOUND",
    )
    .await;
    w.denied(
        None,
        INVITE,
        ok.clone(),
        "partner.staff.invite",
        "UNAUTHENTICATED",
    )
    .await;
    for bad in [
        "nina",
        "nina@",
        "@resell.example",
        "nina@localhost",
        "ni na@resell.example",
    ] {
        w.invalid(
            "padmin",
            INVITE,
            invite(bad, "MEMBER"),
            "partner.staff.invite",
            "input.email",
        )
        .await;
    }
    assert!(authentik.calls().is_empty(), "no upstream call");
    // An upstream failure writes nothing either.
    authentik.fail_next(
        1,
        fakes::FaultKind::Status {
            status: 503,
            retry_after: None,
        },
    );
    w.refused(
        Some("padmin"),
        INVITE,
        ok.clone(),
        "partner.staff.invite",
        "UPSTREAM_UNAVAILABLE",
        "failure",
    )
    .await;
    w.allowed("root", INVITE, ok, "partner.staff.invite").await;
}

#[tokio::test]
async fn the_last_admin_stays_and_nobody_removes_themselves() {
    let authentik = fakes::authentik::spawn().await;
    let w = world(&authentik).await;
    let change = |who: &str, level: &str| json!({ "input": { "partner": "resell", "user": user(&w, who), "accessLevel": level } });
    let remove = |who: &str| json!({ "input": { "partner": "resell", "user": user(&w, who) } });
    // padmin is the only admin.
    w.refused(
        Some("padmin"),
        CHANGE,
        change("padmin", "MEMBER"),
        "partner.staff.change_access",
        "CONFLICT",
        "failure",
    )
    .await;
    w.refused(
        Some("root"),
        REMOVE,
        remove("padmin"),
        "partner.staff.remove",
        "CONFLICT",
        "failure",
    )
    .await;
    w.invalid(
        "padmin",
        REMOVE,
        remove("padmin"),
        "partner.staff.remove",
        "input.user",
    )
    .await;
    // Denied: a staff member, another partner's admin; invalid: not a user id.
    w.denied(
        Some("pstaff"),
        CHANGE,
        change("pstaff", "ADMIN"),
        "partner.staff.change_access",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("oadmin"),
        REMOVE,
        remove("pstaff"),
        "partner.staff.remove",
        "NOT_FOUND",
    )
    .await;
    w.invalid(
        "padmin",
        CHANGE,
        change("pstaff", "MEMBER"),
        "partner.staff.change_access",
        "input.accessLevel",
    )
    .await;
    let body = w
        .query_with(
            "padmin",
            REMOVE,
            json!({ "input": { "partner": "resell", "user": "bm90LWFuLWlk" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.user",
        "{body}"
    );
    // Promote pstaff; now padmin may be demoted, and removed by the other admin.
    w.allowed(
        "padmin",
        CHANGE,
        change("pstaff", "ADMIN"),
        "partner.staff.change_access",
    )
    .await;
    w.allowed(
        "pstaff",
        CHANGE,
        change("padmin", "MEMBER"),
        "partner.staff.change_access",
    )
    .await;
    w.allowed("pstaff", REMOVE, remove("padmin"), "partner.staff.remove")
        .await;
    assert!(
        authentik.calls().is_empty(),
        "fixtures have no Authentik user"
    );
    // An invited member is taken out of the partner's Authentik group.
    w.allowed(
        "pstaff",
        INVITE,
        invite("nina@resell.example", "MEMBER"),
        "partner.staff.invite",
    )
    .await;
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "partner_staff WHERE partner_id IN (SELECT id FROM partners WHERE slug = 'resell')"
        )
        .await,
        2
    );
    let nina = {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        let row: Id = diesel::sql_query("SELECT id FROM users WHERE email = 'nina@resell.example'")
            .get_result(&mut conn)
            .await
            .unwrap();
        GlobalId::new(NodeType::User, row.id).encode()
    };
    w.allowed(
        "pstaff",
        REMOVE,
        json!({ "input": { "partner": "resell", "user": nina } }),
        "partner.staff.remove",
    )
    .await;
    let state = authentik.state();
    assert_eq!(state.groups.values().next().unwrap()["users"], json!([]));
    assert_eq!(state.users.len(), 1, "the Authentik user stays");
}
