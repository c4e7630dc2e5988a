//! Every domain mutation against the Stalwart fake: allowed, denied (only the audit row,
//! nothing else changed, no call upstream) and invalid (nothing written).

use std::time::{Duration, Instant};

use platform_api::upstream::config::StalwartConfig;
use platform_api::upstream::{Credentials, HttpSettings, Secret, UpstreamsConfig};
use serde_json::{Value, json};

use super::{code, domain_row};
use crate::provisioning::quick_jobs;
use crate::support::fakes::{self, Fake};
use crate::support::tables::count;
use crate::support::{Level, Role, Tenant, TestApp, World};

const ADD: &str = r#"
mutation($input: AddDomainInput!) {
  addDomain(input: $input) {
    domain { name unicodeName primary status provisioned tenant { slug } }
  }
}"#;

const DMARC: &str = r#"
mutation($input: SetDomainDmarcInput!) {
  setDomainDmarc(input: $input) {
    domain { name dmarcPolicy dmarcRua expectedRecords { type name value } }
  }
}"#;

const PRIMARY: &str = r#"
mutation($input: DomainRefInput!) {
  setPrimaryDomain(input: $input) { domain { name primary tenant { primaryDomain } } }
}"#;

const REMOVE: &str = r#"
mutation($input: DomainRefInput!) {
  removeDomain(input: $input) { domain { name } }
}"#;

const EXPECTED: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    primaryDomain
    domains { nodes { name primary provisioned expectedRecords { type name value } } }
  }
}"#;

/// acme (partner p-one), other; Stalwart on the fake, no job workers.
/// root = operator, tadmin = admin of acme, member = member of acme, pstaff = staff of
/// p-one, outsider = owner of other, stranger = nobody.
async fn world(stalwart: &Fake<fakes::stalwart::StalwartState>) -> World {
    let upstreams = stalwart_only(stalwart);
    // Plenty of attempts for the ensure jobs it queues: a sibling's quick workers retry every
    // 200 ms at most, and a test must have time to let the fake's DKIM task run.
    let app = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        c.jobs.max_attempts = 100;
    })
    .await;
    World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .tenant("other")
        .operator("root")
        .member("tadmin", "acme", Role::Admin)
        .member("member", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .member("outsider", "other", Role::Owner)
        .user("stranger")
        .build(app)
        .await
}

/// Only Stalwart enabled, on `stalwart`; no retries inside the adapter.
fn stalwart_only(stalwart: &Fake<fakes::stalwart::StalwartState>) -> UpstreamsConfig {
    UpstreamsConfig {
        http: HttpSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_retries: 0,
            retry_base: Duration::from_millis(5),
            retry_max: Duration::from_secs(1),
        },
        authentik: None,
        stalwart: Some(StalwartConfig {
            url: stalwart.url.parse().unwrap(),
            credentials: Credentials::Bearer(Secret::new(fakes::stalwart::API_KEY)),
        }),
        ocis: None,
        stripe: None,
        stripe_webhook_secret: None,
        stripe_publishable_key: None,
    }
}

fn add(tenant: &str, name: &str) -> Value {
    json!({ "input": { "tenant": tenant, "name": name } })
}

fn domain_ref(tenant: &str, domain: &str) -> Value {
    json!({ "input": { "tenant": tenant, "domain": domain } })
}

async fn jobs(w: &World) -> i64 {
    let mut conn = w.db.connect().await;
    count(&mut conn, "jobs WHERE kind = 'domain_ensure'").await
}

#[tokio::test]
async fn add_domain() {
    let stalwart = fakes::stalwart::spawn().await;
    let w = world(&stalwart).await;
    let body = w
        .allowed(
            "tadmin",
            ADD,
            add("acme", " Bücher.Example. "),
            "domain.add",
        )
        .await;
    let domain = &body["data"]["addDomain"]["domain"];
    assert_eq!(domain["name"], "xn--bcher-kva.example");
    assert_eq!(domain["unicodeName"], "bücher.example");
    assert_eq!(domain["status"], "PENDING_VERIFICATION");
    assert_eq!(domain["primary"], false);
    assert_eq!(domain["provisioned"], false);
    assert_eq!(domain["tenant"]["slug"], "acme");
    assert_eq!(jobs(&w).await, 1, "the ensure job is queued with the row");
    for (who, name) in [("pstaff", "staff.example"), ("root", "root.example")] {
        w.allowed(who, ADD, add("acme", name), "domain.add").await;
    }
    for (who, code) in [
        (Some("member"), "FORBIDDEN"),
        (Some("outsider"), "NOT_FOUND"),
        (Some("stranger"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(who, ADD, add("acme", "new.example"), "domain.add", code)
            .await;
    }
    for bad in [
        "localhost",
        "under_score.example",
        "10.0.0.1",
        "a..example",
        "",
    ] {
        w.invalid("tadmin", ADD, add("acme", bad), "domain.add", "input.name")
            .await;
    }
    // Already held: by this tenant (in either form), or by another one, which is not named.
    let body = w
        .refused(
            Some("tadmin"),
            ADD,
            add("acme", "xn--bcher-kva.example"),
            "domain.add",
            "CONFLICT",
            "failure",
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already has")
    );
    let body = w
        .refused(
            Some("outsider"),
            ADD,
            add("other", "BÜCHER.example"),
            "domain.add",
            "CONFLICT",
            "failure",
        )
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("another tenant"), "{message}");
    assert!(
        !message.contains("acme"),
        "the holder is not named: {message}"
    );
    assert_eq!(jobs(&w).await, 3);
    assert!(
        stalwart.calls().is_empty(),
        "no worker ran: nothing upstream"
    );
}

/// Every job's kind, status, attempts and last error, for a timeout's message.
async fn job_states(w: &World) -> String {
    #[derive(diesel::QueryableByName)]
    struct Job {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = w.db.connect().await;
    let jobs: Vec<Job> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT concat_ws(' ', kind, status, attempts::text, last_error) AS line FROM jobs ORDER BY id",
        ),
        &mut conn,
    )
    .await
    .unwrap_or_default();
    jobs.into_iter()
        .map(|j| j.line)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Polls `tenant(slug)` as root until `done` or 30 s.
async fn wait_for(w: &World, slug: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = w
            .query_with("root", EXPECTED, json!({ "slug": slug }))
            .await;
        let tenant = body["data"]["tenant"].clone();
        if done(&tenant) {
            return tenant;
        }
        if Instant::now() >= deadline {
            panic!("timed out: {body}\njobs: {}", job_states(w).await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_added_domain_is_ensured_in_stalwart_with_its_records() {
    let stalwart = fakes::stalwart::spawn().await;
    stalwart.state().dkim_in_background = true;
    let w = world(&stalwart).await;
    w.allowed("tadmin", ADD, add("acme", "acme.example"), "domain.add")
        .await;
    let upstreams = w.state.config.upstreams.clone();
    let worker = w
        .spawn_sibling(|c| {
            c.upstreams = upstreams;
            quick_jobs(c, 1);
        })
        .await;
    // Created upstream, but its DKIM keys are not generated yet: the job keeps trying.
    let tenant = wait_for(&worker, "acme", |t| {
        t["domains"]["nodes"][0]["provisioned"] == true
    })
    .await;
    let kinds = |t: &Value| -> Vec<String> {
        t["domains"]["nodes"][0]["expectedRecords"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!kinds(&tenant).contains(&"DKIM".to_owned()), "{tenant}");
    assert_eq!(stalwart.state().domains.len(), 1);
    stalwart.state().run_dkim_task();
    let tenant = wait_for(&worker, "acme", |t| kinds(t).contains(&"DKIM".to_owned())).await;
    assert_eq!(
        kinds(&tenant),
        ["MX", "SPF", "DKIM", "DKIM", "DMARC", "OWNERSHIP"],
        "{tenant}"
    );
    let records = &tenant["domains"]["nodes"][0]["expectedRecords"];
    assert_eq!(records[1]["value"], "v=spf1 mx -all");
    assert_eq!(records[1]["name"], "acme.example");
    assert!(
        records[2]["name"]
            .as_str()
            .unwrap()
            .ends_with("._domainkey.acme.example")
    );
    let mut conn = w.db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        &mut conn,
        "jobs WHERE kind = 'domain_ensure' AND status = 'done'",
    )
    .await
        != 1
    {
        assert!(Instant::now() < deadline, "the job settles");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stalwart.state().domains.len(), 1, "ensured once");
}

#[tokio::test]
async fn set_domain_dmarc() {
    let stalwart = fakes::stalwart::spawn().await;
    let w = world(&stalwart).await;
    domain_row(&w, "acme", "acme.example", "verified", None).await;
    let input = |policy: &str, rua: Value| json!({ "input": { "tenant": "acme", "domain": "ACME.example", "policy": policy, "rua": rua } });
    let body = w
        .allowed(
            "tadmin",
            DMARC,
            input(
                "REJECT",
                json!(["mailto:DMARC@Acme.Example", "ops@bücher.example"]),
            ),
            "domain.set_dmarc",
        )
        .await;
    let domain = &body["data"]["setDomainDmarc"]["domain"];
    assert_eq!(domain["dmarcPolicy"], "REJECT");
    assert_eq!(
        domain["dmarcRua"],
        json!(["DMARC@acme.example", "ops@xn--bcher-kva.example"])
    );
    let dmarc = &domain["expectedRecords"][0];
    assert_eq!(dmarc["name"], "_dmarc.acme.example");
    assert_eq!(
        dmarc["value"],
        "v=DMARC1; p=reject; rua=mailto:DMARC@acme.example,mailto:ops@xn--bcher-kva.example"
    );
    w.allowed(
        "pstaff",
        DMARC,
        input("QUARANTINE", json!([])),
        "domain.set_dmarc",
    )
    .await;
    for (who, code) in [
        (Some("member"), "FORBIDDEN"),
        (Some("outsider"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(
            who,
            DMARC,
            input("NONE", json!([])),
            "domain.set_dmarc",
            code,
        )
        .await;
    }
    w.invalid(
        "tadmin",
        DMARC,
        input("NONE", json!(["ok@acme.example", "not-an-address"])),
        "domain.set_dmarc",
        "input.rua.1",
    )
    .await;
    let many: Vec<String> = (0..11).map(|i| format!("r{i}@acme.example")).collect();
    w.invalid(
        "tadmin",
        DMARC,
        input("NONE", json!(many)),
        "domain.set_dmarc",
        "input.rua",
    )
    .await;
    let unknown =
        json!({ "input": { "tenant": "acme", "domain": "nope.example", "policy": "NONE" } });
    w.refused(
        Some("tadmin"),
        DMARC,
        unknown,
        "domain.set_dmarc",
        "NOT_FOUND",
        "failure",
    )
    .await;
    // Another tenant's domain is not found through this tenant.
    domain_row(&w, "other", "other.example", "verified", None).await;
    let theirs =
        json!({ "input": { "tenant": "acme", "domain": "other.example", "policy": "NONE" } });
    w.refused(
        Some("root"),
        DMARC,
        theirs,
        "domain.set_dmarc",
        "NOT_FOUND",
        "failure",
    )
    .await;
}

#[tokio::test]
async fn set_primary_domain_moves_the_primary_row_and_the_tenants_primary_domain() {
    let stalwart = fakes::stalwart::spawn().await;
    let w = world(&stalwart).await;
    // The tenants column written the old way: its row follows (the expand trigger).
    let mut conn = w.db.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE tenants SET primary_domain = 'old.example' WHERE slug = 'acme'"),
        &mut conn,
    )
    .await
    .unwrap();
    domain_row(&w, "acme", "new.example", "verified", None).await;
    let before = wait_for(&w, "acme", |_| true).await;
    assert_eq!(before["primaryDomain"], "old.example");
    let primaries: Vec<_> = before["domains"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["primary"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        primaries,
        [
            ("new.example".to_owned(), false),
            ("old.example".to_owned(), true)
        ]
    );
    let body = w
        .allowed(
            "tadmin",
            PRIMARY,
            domain_ref("acme", "new.example"),
            "domain.set_primary",
        )
        .await;
    let domain = &body["data"]["setPrimaryDomain"]["domain"];
    assert_eq!(domain["primary"], true);
    assert_eq!(domain["tenant"]["primaryDomain"], "new.example");
    let after = wait_for(&w, "acme", |_| true).await;
    let flags: Vec<_> = after["domains"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["primary"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [true, false], "exactly one primary: {after}");
    for (who, code) in [
        (Some("member"), "FORBIDDEN"),
        (Some("stranger"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(
            who,
            PRIMARY,
            domain_ref("acme", "old.example"),
            "domain.set_primary",
            code,
        )
        .await;
    }
    w.invalid(
        "tadmin",
        PRIMARY,
        domain_ref("acme", "bad_name"),
        "domain.set_primary",
        "input.domain",
    )
    .await;
}

#[tokio::test]
async fn remove_domain_is_refused_while_stalwart_says_it_is_in_use() {
    let stalwart = fakes::stalwart::spawn().await;
    let w = world(&stalwart).await;
    let id = stalwart.state().seed_domain("used.example");
    stalwart.state().accounts.insert(
        "a1".into(),
        json!({ "id": "a1", "name": "alice", "domainId": id, "@type": "User" }),
    );
    domain_row(&w, "acme", "used.example", "verified", Some(&id)).await;
    let body = w
        .refused(
            Some("tadmin"),
            REMOVE,
            domain_ref("acme", "used.example"),
            "domain.remove",
            "CONFLICT",
            "failure",
        )
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "the domain is still in use by 1 mailbox"
    );
    assert!(
        stalwart.state().domains.contains_key(&id),
        "nothing deleted upstream"
    );
    // Denied: the mail server is not even asked.
    stalwart.clear_calls();
    for (who, code) in [
        (Some("member"), "FORBIDDEN"),
        (Some("outsider"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(
            who,
            REMOVE,
            domain_ref("acme", "used.example"),
            "domain.remove",
            code,
        )
        .await;
    }
    assert!(stalwart.calls().is_empty());
    w.invalid(
        "tadmin",
        REMOVE,
        domain_ref("acme", "-x.example"),
        "domain.remove",
        "input.domain",
    )
    .await;
    // Once the mailbox is gone, it goes.
    stalwart.state().accounts.clear();
    let body = w
        .allowed(
            "tadmin",
            REMOVE,
            domain_ref("acme", "used.example"),
            "domain.remove",
        )
        .await;
    assert_eq!(
        body["data"]["removeDomain"]["domain"]["name"],
        "used.example"
    );
    assert!(!stalwart.state().domains.contains_key(&id));
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(&mut conn, "domains WHERE name = 'used.example'").await,
        0
    );
}

#[tokio::test]
async fn the_primary_domain_cannot_be_removed() {
    let stalwart = fakes::stalwart::spawn().await;
    let w = world(&stalwart).await;
    domain_row(&w, "acme", "main.example", "verified", None).await;
    w.allowed(
        "tadmin",
        PRIMARY,
        domain_ref("acme", "main.example"),
        "domain.set_primary",
    )
    .await;
    let body = w
        .refused(
            Some("root"),
            REMOVE,
            domain_ref("acme", "main.example"),
            "domain.remove",
            "CONFLICT",
            "failure",
        )
        .await;
    assert!(code(&body) == "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("primary domain")
    );
}

/// The primary row that `tenants.primary_domain` writes (from `createTenant` and
/// `updateTenant`) gets its ensure job like an added domain, so its records are read from
/// Stalwart instead of staying unknown.
#[tokio::test]
async fn a_primary_domain_set_on_the_tenant_is_ensured_with_its_records() {
    const CREATE: &str = r#"
    mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { slug } } }"#;
    const UPDATE: &str = r#"
    mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { slug } } }"#;
    let stalwart = fakes::stalwart::spawn().await;
    let w = world(&stalwart).await;
    w.allowed(
        "root",
        CREATE,
        json!({ "input": { "slug": "fresh", "name": "Fresh", "primaryDomain": "fresh.example" } }),
        "tenant.create",
    )
    .await;
    assert_eq!(jobs(&w).await, 1, "the primary row's ensure job is queued");
    w.allowed(
        "root",
        UPDATE,
        json!({ "input": { "tenant": "acme", "primaryDomain": "acme-mail.example" } }),
        "tenant.update",
    )
    .await;
    assert_eq!(jobs(&w).await, 2);
    // A name change without a domain queues nothing.
    w.allowed(
        "root",
        UPDATE,
        json!({ "input": { "tenant": "acme", "name": "Acme Renamed" } }),
        "tenant.update",
    )
    .await;
    assert_eq!(jobs(&w).await, 2);
    assert!(stalwart.calls().is_empty(), "no worker ran yet");

    let upstreams = w.state.config.upstreams.clone();
    let worker = w
        .spawn_sibling(|c| {
            c.upstreams = upstreams;
            quick_jobs(c, 1);
        })
        .await;
    for (slug, name) in [("fresh", "fresh.example"), ("acme", "acme-mail.example")] {
        let tenant = wait_for(&worker, slug, |t| {
            t["domains"]["nodes"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|d| d["primary"] == true && d["provisioned"] == true)
            })
        })
        .await;
        assert_eq!(tenant["primaryDomain"], name);
        let primary = tenant["domains"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["primary"] == true)
            .unwrap()
            .clone();
        assert_eq!(primary["name"], name);
        let kinds: Vec<&str> = primary["expectedRecords"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"MX") && kinds.contains(&"DKIM"),
            "{primary}"
        );
    }
    let held: Vec<String> = stalwart
        .state()
        .domains
        .values()
        .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(held.iter().any(|d| d == "fresh.example"), "{held:?}");
    assert!(held.iter().any(|d| d == "acme-mail.example"), "{held:?}");
}

/// An ensure job that gives up before the mail server has generated the DKIM keys leaves the
/// domain without them; its next scheduled check asks the mail server again, and only then
/// (an unchanged answer does not start another round at once).
#[tokio::test]
async fn a_domain_still_without_dkim_is_ensured_again_by_its_next_check() {
    let stalwart = fakes::stalwart::spawn().await;
    stalwart.state().dkim_in_background = true;
    let w = world(&stalwart).await;
    w.allowed("tadmin", ADD, add("acme", "late.example"), "domain.add")
        .await;
    let mut conn = w.db.connect().await;
    // One attempt only: the first answer (no DKIM yet) is kept.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE jobs SET max_attempts = 1 WHERE kind = 'domain_ensure'"),
        &mut conn,
    )
    .await
    .unwrap();
    let upstreams = w.state.config.upstreams.clone();
    let worker = w
        .spawn_sibling(|c| {
            c.upstreams = upstreams;
            quick_jobs(c, 1);
            c.jobs.max_attempts = 1;
        })
        .await;
    let settled = async |conn: &mut diesel_async::AsyncPgConnection, done: i64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let live = count(
                conn,
                "jobs WHERE status IN ('queued', 'running') AND kind = 'domain_ensure'",
            )
            .await;
            let finished = count(
                conn,
                "jobs WHERE kind = 'domain_ensure' AND status = 'done'",
            )
            .await;
            if live == 0 && finished >= done {
                return finished;
            }
            assert!(
                Instant::now() < deadline,
                "jobs: {}",
                job_states(&worker).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // The first ensure, then the check it asks for, which ensures once more (still no key).
    settled(&mut conn, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rounds = settled(&mut conn, 2).await;
    assert_eq!(rounds, 2, "an unchanged answer starts no further round");
    let dkim = |t: &Value| {
        t["domains"]["nodes"][0]["expectedRecords"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "DKIM")
    };
    assert!(!dkim(&wait_for(&worker, "acme", |_| true).await));

    // The keys exist now; the domain's next check (made due here) asks again and gets them.
    stalwart.state().run_dkim_task();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE domains SET next_check_at = now()"),
        &mut conn,
    )
    .await
    .unwrap();
    // The scheduled run (queued up to a minute ahead) is brought forward.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE jobs SET run_at = now() WHERE kind = 'domain_recheck' AND status = 'queued'",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    platform_api::jobs::domains::recheck::queue_run(&mut conn, Duration::ZERO)
        .await
        .unwrap();
    let tenant = wait_for(&worker, "acme", dkim).await;
    assert_eq!(tenant["domains"]["nodes"][0]["provisioned"], true);
}
