//! `mrr_totals`, the MRR the reports read, is kept by triggers: after any sequence of changes
//! to subscriptions (and tenants moving between partners), sequential or concurrent, it equals
//! the sum computed here, in Rust, from the subscriptions themselves with billing's rules.

use std::collections::BTreeMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use platform_api::domain::billing::{BillingCycle, SubscriptionStatus};
use platform_api::domain::reports::mrr::monthly_minor;
use uuid::Uuid;

use super::{exec, subscribe};
use crate::support::{Tenant, World};

type Totals = BTreeMap<(Option<Uuid>, String, String), (i64, i64)>;

#[derive(QueryableByName)]
struct TotalRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    partner_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    plan: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    subscriptions: i64,
    #[diesel(sql_type = BigInt)]
    mrr_minor: i64,
}

#[derive(QueryableByName)]
struct SubscriptionRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    partner_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    plan: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    billing_cycle: String,
    #[diesel(sql_type = BigInt)]
    price_minor: i64,
}

/// What the triggers kept.
async fn kept(conn: &mut AsyncPgConnection) -> Totals {
    let rows: Vec<TotalRow> = diesel::sql_query(
        "SELECT partner_id, plan, currency, subscriptions, mrr_minor FROM mrr_totals",
    )
    .load(conn)
    .await
    .unwrap();
    let mut out = Totals::new();
    for r in rows {
        let previous = out.insert(
            (r.partner_id, r.plan, r.currency),
            (r.subscriptions, r.mrr_minor),
        );
        assert!(previous.is_none(), "a group is kept in one row");
    }
    out
}

/// The same sums from the subscriptions, with billing's paying statuses and Rust's monthly rule.
async fn expected(conn: &mut AsyncPgConnection) -> Totals {
    let rows: Vec<SubscriptionRow> = diesel::sql_query(
        "SELECT t.partner_id, s.plan, s.currency, s.status, s.billing_cycle, s.price_minor
           FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id",
    )
    .load(conn)
    .await
    .unwrap();
    let mut out = Totals::new();
    for r in rows {
        let status = SubscriptionStatus::parse(&r.status).unwrap();
        if !SubscriptionStatus::PAYING.contains(&status) {
            continue;
        }
        let yearly = r.billing_cycle == BillingCycle::Yearly.as_str();
        let entry = out.entry((r.partner_id, r.plan, r.currency)).or_default();
        entry.0 += 1;
        entry.1 += monthly_minor(r.price_minor, yearly);
    }
    out
}

#[tokio::test]
async fn the_database_and_billing_agree_on_what_pays_and_how_much() {
    let w = World::new().spawn().await;
    let mut conn = w.db.connect().await;
    #[derive(QueryableByName)]
    struct Pays {
        #[diesel(sql_type = Bool)]
        pays: bool,
    }
    #[derive(QueryableByName)]
    struct Monthly {
        #[diesel(sql_type = BigInt)]
        amount: i64,
    }
    for status in SubscriptionStatus::ALL {
        let row: Pays = diesel::sql_query("SELECT subscription_pays($1) AS pays")
            .bind::<Text, _>(status.as_str())
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            row.pays,
            SubscriptionStatus::PAYING.contains(status),
            "{status:?}"
        );
    }
    for cycle in BillingCycle::ALL {
        for price in [
            0,
            1,
            5,
            6,
            7,
            11,
            12,
            17,
            18,
            1000,
            1002,
            99_999,
            i64::MAX / 2,
        ] {
            let row: Monthly =
                diesel::sql_query("SELECT subscription_monthly_minor($1, $2) AS amount")
                    .bind::<Text, _>(cycle.as_str())
                    .bind::<BigInt, _>(price)
                    .get_result(&mut conn)
                    .await
                    .unwrap();
            let yearly = *cycle == BillingCycle::Yearly;
            assert_eq!(
                row.amount,
                monthly_minor(price, yearly),
                "{cycle:?} {price}"
            );
        }
    }
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SLUGS: [&str; 8] = ["ant", "bee", "cat", "dog", "elk", "fox", "gnu", "hen"];
const PARTNERS: [&str; 3] = ["one", "two", "three"];

/// Partners one, two and three; ant to dog belong to one, elk and fox to two, gnu and hen are
/// direct customers.
async fn world() -> World {
    World::new()
        .partner("one")
        .partner("two")
        .partner("three")
        .tenant(Tenant::of("ant", "one"))
        .tenant(Tenant::of("bee", "one"))
        .tenant(Tenant::of("cat", "one"))
        .tenant(Tenant::of("dog", "one"))
        .tenant(Tenant::of("elk", "two"))
        .tenant(Tenant::of("fox", "two"))
        .tenant(Tenant::new("gnu"))
        .tenant(Tenant::new("hen"))
        .spawn()
        .await
}

#[tokio::test]
async fn mrr_totals_follow_every_change_of_the_subscriptions_and_tenants() {
    let w = world().await;
    let mut conn = w.db.connect().await;
    let statuses: Vec<&str> = SubscriptionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let plans = ["standard", "business"];
    let currencies = ["EUR", "USD"];
    let cycles = ["monthly", "yearly"];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen_groups = std::collections::BTreeSet::new();
    for step in 0..300 {
        let slug = rng.pick(&SLUGS);
        let of_tenant = format!("tenant_id = (SELECT id FROM tenants WHERE slug = '{slug}')");
        let sql = match rng.below(9) {
            0 | 1 => format!(
                "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
                 SELECT id, '{}', '{}', 5, {}, '{}', '{}' FROM tenants WHERE slug = '{slug}'
                 ON CONFLICT (tenant_id) DO NOTHING",
                rng.pick(&plans),
                rng.pick(&statuses),
                rng.below(5000),
                rng.pick(&currencies),
                rng.pick(&cycles)
            ),
            2 => format!(
                "UPDATE subscriptions SET status = '{}' WHERE {of_tenant}",
                rng.pick(&statuses)
            ),
            3 => format!(
                "UPDATE subscriptions SET price_minor = {} WHERE {of_tenant}",
                rng.below(5000)
            ),
            4 => format!(
                "UPDATE subscriptions SET plan = '{}', billing_cycle = '{}' WHERE {of_tenant}",
                rng.pick(&plans),
                rng.pick(&cycles)
            ),
            5 => format!(
                "UPDATE subscriptions SET currency = '{}' WHERE {of_tenant}",
                rng.pick(&currencies)
            ),
            // Nothing that moves money: the totals must not change.
            6 => format!(
                "UPDATE subscriptions SET seats = seats + 1, cancel_at_period_end = true WHERE {of_tenant}"
            ),
            7 => {
                let to = match rng.below(4) {
                    3 => "NULL".to_string(),
                    i => format!("(SELECT id FROM partners WHERE slug = '{}')", PARTNERS[i % 3]),
                };
                format!("UPDATE tenants SET partner_id = {to} WHERE slug = '{slug}'")
            }
            _ => format!("DELETE FROM subscriptions WHERE {of_tenant}"),
        };
        diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let (kept, expected) = (kept(&mut conn).await, expected(&mut conn).await);
        assert_eq!(kept, expected, "after step {step}: {sql}");
        seen_groups.extend(kept.into_keys());
    }
    // Partners one, two, three and none, two plans, two currencies: most groups were met.
    assert!(
        seen_groups.len() >= 10,
        "the sequence met only {} groups",
        seen_groups.len()
    );

    // A statement that changes many rows at once, and one that changes several in one
    // transaction, roll back as a whole: the totals with them.
    exec(
        &w,
        "UPDATE subscriptions SET price_minor = price_minor + 100, status = 'active'",
    )
    .await;
    assert_eq!(kept(&mut conn).await, expected(&mut conn).await);
    let before = kept(&mut conn).await;
    conn.batch_execute(
        "BEGIN; UPDATE subscriptions SET price_minor = 1, status = 'active'; ROLLBACK;",
    )
    .await
    .unwrap();
    assert_eq!(
        kept(&mut conn).await,
        before,
        "a rolled back change leaves no trace"
    );

    // Every subscription gone: no group is left, not even an empty one.
    exec(&w, "DELETE FROM subscriptions").await;
    assert!(kept(&mut conn).await.is_empty());
}

#[tokio::test]
async fn concurrent_changes_of_one_group_lose_nothing() {
    let w = world().await;
    // Every tenant in one group (partner one, standard, EUR) from eight connections at once,
    // then their prices and statuses changed at once, then half of them deleted at once.
    exec(
        &w,
        "UPDATE tenants SET partner_id = (SELECT id FROM partners WHERE slug = 'one')",
    )
    .await;
    let rounds: [&dyn Fn(&str) -> String; 3] = [
        &|slug| {
            format!(
                "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
                 SELECT id, 'standard', 'active', 5, 1200, 'EUR', 'yearly' FROM tenants WHERE slug = '{slug}'"
            )
        },
        &|slug| {
            format!(
                "UPDATE subscriptions SET price_minor = price_minor + length('{slug}') * 12 + 1
                  WHERE tenant_id = (SELECT id FROM tenants WHERE slug = '{slug}')"
            )
        },
        &|slug| {
            if slug < "elk" {
                format!(
                    "DELETE FROM subscriptions WHERE tenant_id = (SELECT id FROM tenants WHERE slug = '{slug}')"
                )
            } else {
                format!(
                    "UPDATE subscriptions SET status = 'trialing' WHERE tenant_id = (SELECT id FROM tenants WHERE slug = '{slug}')"
                )
            }
        },
    ];
    let mut conn = w.db.connect().await;
    for round in rounds {
        let mut tasks = Vec::new();
        for slug in SLUGS {
            let sql = round(slug);
            let mut c = w.db.connect().await;
            tasks.push(tokio::spawn(async move {
                diesel::sql_query(&sql)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(kept(&mut conn).await, expected(&mut conn).await);
    }
    let totals = kept(&mut conn).await;
    assert_eq!(totals.len(), 1, "{totals:?}");
    let (count, mrr) = totals.values().next().copied().unwrap();
    // ant, bee, cat and dog deleted; elk, fox, gnu and hen at (1200 + 3 * 12 + 1) / 12 = 103.
    assert_eq!((count, mrr), (4, 4 * 103));
    // A second group appears beside it.
    subscribe(&w, "ant", "business", "active", 500, "USD", "monthly").await;
    assert_eq!(kept(&mut conn).await.len(), 2);
    assert_eq!(kept(&mut conn).await, expected(&mut conn).await);
}
