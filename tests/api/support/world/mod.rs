//! The one fixture builder: partners, tenants, people and their roles, one line each, written
//! straight to the test's database (arrangement, not the system under test), then handed
//! back with the app, every id by name and a ready token per person.
//!
//! ```ignore
//! let w = World::new()
//!     .partner("resell")
//!     .tenant(Tenant::of("acme", "resell"))
//!     .operator("root")
//!     .member("bob", "acme", Role::Admin)
//!     .staff("sue", "resell", Level::Member)
//!     .build(TestApp::spawn().await)
//!     .await;
//! w.id("acme");       // the tenant's uuid
//! w.token("bob");     // bob's token (portal audience; operators get the operator audience)
//! ```
//!
//! Every SQL write of the suite's fixtures is in `sql.rs` beside this file.

use std::collections::HashMap;
use std::ops::Deref;

pub(super) mod sql;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform_api::config::Config;
use serde_json::Value;
use uuid::Uuid;

use super::TestApp;
use super::token::Token;
use sql::{
    insert_bulk, insert_event, insert_flag, insert_membership, insert_partner, insert_plan,
    insert_staff, insert_tenant, set_platform_admin, slugs_and_ids, upsert_user,
};

/// A role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    fn as_sql(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// An access level of partner staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Admin,
    Member,
}

impl Level {
    fn as_sql(self) -> &'static str {
        match self {
            Level::Admin => "admin",
            Level::Member => "member",
        }
    }
}

/// A tenant to create: `pending`, named like its slug, on plan `standard` unless told.
#[derive(Debug, Clone)]
#[must_use]
pub struct Tenant {
    slug: String,
    partner: Option<String>,
    plan: Option<String>,
    status: Option<String>,
    stripe_customer: Option<String>,
}

impl Tenant {
    /// A direct customer (no partner).
    pub fn new(slug: &str) -> Self {
        Self {
            slug: slug.into(),
            partner: None,
            plan: None,
            status: None,
            stripe_customer: None,
        }
    }

    /// A customer of `partner` (created earlier in the same world).
    pub fn of(slug: &str, partner: &str) -> Self {
        Self {
            partner: Some(partner.into()),
            ..Self::new(slug)
        }
    }

    /// On another plan.
    pub fn plan(mut self, plan: &str) -> Self {
        self.plan = Some(plan.into());
        self
    }

    /// With a Stripe customer (as the `stripe_customer` provisioning step leaves it).
    pub fn stripe_customer(mut self, id: &str) -> Self {
        self.stripe_customer = Some(id.into());
        self
    }

    /// In another status (`active`, `suspended`, `terminated`).
    pub fn status(mut self, status: &str) -> Self {
        self.status = Some(status.into());
        self
    }
}

impl From<&str> for Tenant {
    fn from(slug: &str) -> Self {
        Tenant::new(slug)
    }
}

/// An audit row to insert as it stands (the table is append-only; inserts are allowed).
/// Tenant and partner are named by slug; `label` is stored as `request_id`.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub label: String,
    pub tenant: Option<String>,
    pub partner: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
enum Step {
    Partner(String, Option<String>),
    Tenant(Tenant),
    User {
        name: String,
        platform_admin: bool,
    },
    Member {
        user: String,
        tenant: String,
        role: Role,
        status: &'static str,
    },
    Staff {
        user: String,
        partner: String,
        level: Level,
    },
    Bulk {
        partners: i32,
        tenants_each: i32,
        members_each: i32,
    },
    Event(AuditEvent),
    Plan(String),
    Flag {
        key: String,
        default_value: bool,
        rules: Value,
    },
}

/// What to arrange, in the order written; see the module docs.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Arrange {
    steps: Vec<Step>,
}

/// The app with what was arranged in it. Derefs to the [`TestApp`].
pub struct World {
    /// The app (and its database).
    pub app: TestApp,
    ids: HashMap<String, Uuid>,
    /// People by name; `true` for platform admins.
    people: HashMap<String, bool>,
}

impl World {
    /// An empty arrangement; add to it and [`Arrange::build`] it.
    #[expect(
        clippy::new_ret_no_self,
        reason = "World::new() reads as the start of a world"
    )]
    pub fn new() -> Arrange {
        Arrange::default()
    }

    /// An app with nothing arranged.
    pub fn empty(app: TestApp) -> Self {
        Self {
            app,
            ids: HashMap::new(),
            people: HashMap::new(),
        }
    }

    /// A second server process on this world's database (another replica), with the same
    /// people and ids.
    pub async fn spawn_sibling(&self, adjust: impl FnOnce(&mut Config)) -> World {
        World {
            app: self.app.spawn_sibling(adjust).await,
            ids: self.ids.clone(),
            people: self.people.clone(),
        }
    }

    /// Writes more into this world (ids and people join the ones already here).
    pub async fn arrange(&mut self, more: Arrange) {
        let mut conn = self.app.db.connect().await;
        for step in more.steps {
            self.write(&mut conn, step).await;
        }
    }

    /// The id of the partner, tenant or person `name`.
    pub fn id(&self, name: &str) -> Uuid {
        *self
            .ids
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in this world"))
    }

    /// The token `name` would sign in with: their email (as stored), the operator audience
    /// for platform admins and the portal audience for everyone else. Change it (audience,
    /// groups, ttl…) and [`Token::sign`] it with the world.
    pub fn who(&self, name: &str) -> Token {
        let platform_admin = *self.people.get(name).unwrap_or_else(|| {
            panic!("{name} is not in this world (Token::portal signs for strangers)")
        });
        let token = Token::portal(name).email(&email(name));
        if platform_admin {
            token.via_operator()
        } else {
            token
        }
    }

    /// [`World::who`], signed.
    pub fn token(&self, name: &str) -> String {
        self.who(name).sign(&self.app)
    }

    /// Runs `query` as `name`; returns the response body.
    pub async fn query(&self, name: &str, query: &str) -> Value {
        self.app.graphql_as(&self.token(name), query).await
    }

    /// Runs `query` with `variables` as `name`; returns the response body.
    pub async fn query_with(&self, name: &str, query: &str, variables: Value) -> Value {
        self.app
            .graphql_as_with(&self.token(name), query, variables)
            .await
    }

    /// Grants or revokes `platform_admin` of the user with `subject` behind the app's back
    /// (as an administrator with database access would).
    pub async fn set_platform_admin(&self, subject: &str, value: bool) {
        set_platform_admin(&mut self.db.connect().await, subject, value).await;
    }

    async fn write(&mut self, conn: &mut AsyncPgConnection, step: Step) {
        match step {
            Step::Partner(slug, status) => {
                let id = insert_partner(conn, &slug, status.as_deref()).await;
                self.ids.insert(slug, id);
            }
            Step::Tenant(tenant) => {
                let partner = tenant.partner.as_deref().map(|p| self.id(p));
                let id = insert_tenant(conn, &tenant, partner).await;
                self.ids.insert(tenant.slug, id);
            }
            Step::User {
                name,
                platform_admin,
            } => {
                self.user(conn, &name, platform_admin).await;
            }
            Step::Member {
                user,
                tenant,
                role,
                status,
            } => {
                let user = self.person(conn, &user).await;
                insert_membership(conn, user, self.id(&tenant), role.as_sql(), status).await;
            }
            Step::Staff {
                user,
                partner,
                level,
            } => {
                let user = self.person(conn, &user).await;
                insert_staff(conn, user, self.id(&partner), level.as_sql()).await;
            }
            Step::Bulk {
                partners,
                tenants_each,
                members_each,
            } => {
                insert_bulk(conn, partners, tenants_each, members_each).await;
                self.ids.extend(slugs_and_ids(conn).await);
            }
            Step::Flag {
                key,
                default_value,
                rules,
            } => insert_flag(conn, &key, default_value, &rules).await,
            Step::Plan(key) => insert_plan(conn, &key).await,
            Step::Event(event) => {
                let tenant = event.tenant.as_deref().map(|t| self.id(t));
                let partner = event.partner.as_deref().map(|p| self.id(p));
                insert_event(conn, &event, tenant, partner).await;
            }
        }
    }

    /// `name`'s user, created (without platform admin) on first mention.
    async fn person(&mut self, conn: &mut AsyncPgConnection, name: &str) -> Uuid {
        match self.people.get(name) {
            Some(_) => self.id(name),
            None => self.user(conn, name, false).await,
        }
    }

    async fn user(&mut self, conn: &mut AsyncPgConnection, name: &str, admin: bool) -> Uuid {
        let id = upsert_user(conn, name, admin).await;
        self.ids.insert(name.into(), id);
        self.people.insert(name.into(), admin);
        id
    }
}

impl Deref for World {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Arrange {
    fn with(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// A partner (active, named like its slug).
    pub fn partner(self, slug: &str) -> Self {
        self.with(Step::Partner(slug.into(), None))
    }

    /// A partner in another status (`suspended`, `terminated`).
    pub fn partner_in(self, slug: &str, status: &str) -> Self {
        self.with(Step::Partner(slug.into(), Some(status.into())))
    }

    /// A tenant: `.tenant("acme")` or `.tenant(Tenant::of("acme", "resell").plan("business"))`.
    pub fn tenant(self, tenant: impl Into<Tenant>) -> Self {
        self.with(Step::Tenant(tenant.into()))
    }

    /// A platform admin (who gets operator tokens).
    pub fn operator(self, name: &str) -> Self {
        self.with(Step::User {
            name: name.into(),
            platform_admin: true,
        })
    }

    /// A user with no role anywhere (people named in a role are created on the way).
    pub fn user(self, name: &str) -> Self {
        self.with(Step::User {
            name: name.into(),
            platform_admin: false,
        })
    }

    /// An active membership of `name` in `tenant`.
    pub fn member(self, name: &str, tenant: &str, role: Role) -> Self {
        self.with(Step::Member {
            user: name.into(),
            tenant: tenant.into(),
            role,
            status: "active",
        })
    }

    /// A suspended membership (it grants nothing).
    pub fn suspended_member(self, name: &str, tenant: &str, role: Role) -> Self {
        self.with(Step::Member {
            user: name.into(),
            tenant: tenant.into(),
            role,
            status: "suspended",
        })
    }

    /// `name` on the staff of `partner`.
    pub fn staff(self, name: &str, partner: &str, level: Level) -> Self {
        self.with(Step::Staff {
            user: name.into(),
            partner: partner.into(),
            level,
        })
    }

    /// Volume, set-based: `partners` partners `p-000`… (named `Partner 0`…), each with
    /// `tenants_each` active tenants `p-000-t-00`… (at least two digits), each with
    /// `members_each` members `<tenant>-u-<n>` and a monthly 10.00 EUR subscription. The
    /// partners and tenants are in [`World::id`]; the members are not people of the world.
    pub fn bulk(self, partners: i32, tenants_each: i32, members_each: i32) -> Self {
        self.with(Step::Bulk {
            partners,
            tenants_each,
            members_each,
        })
    }

    /// A feature flag with `rules` as stored (`[{"kind": "plans", "plans": [..], "value":
    /// true}]`), enabled, not archived.
    pub fn feature_flag(self, key: &str, default_value: bool, rules: Value) -> Self {
        self.with(Step::Flag {
            key: key.into(),
            default_value,
            rules,
        })
    }

    /// A plan of the catalogue, named like its key, with the migration's default limits
    /// (tenants of the world create the plan they name by themselves).
    pub fn plan(self, key: &str) -> Self {
        self.with(Step::Plan(key.into()))
    }

    /// An audit row.
    pub fn event(self, event: AuditEvent) -> Self {
        self.with(Step::Event(event))
    }

    /// Writes everything into `app`'s database.
    pub async fn build(self, app: TestApp) -> World {
        let mut world = World::empty(app);
        world.arrange(self).await;
        world
    }

    /// Writes everything into a fresh app with the default configuration.
    pub async fn spawn(self) -> World {
        self.build(TestApp::spawn().await).await
    }
}

/// The email a person of a world has: `<name>@example.com`.
pub fn email(name: &str) -> String {
    format!("{name}@example.com")
}
