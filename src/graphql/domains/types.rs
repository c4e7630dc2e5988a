//! The `Domain` type, its records, its connection and its `Node` source.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::domain::domains::expected::{self, ExpectedRecord};
pub use crate::domain::domains::{DmarcPolicy, DomainStatus, RecordKind, RecordStatus};
use crate::domain::domains::{DomainRow, RecordResult, name};
use crate::domain::ids::{DomainId, TenantId};
use crate::domain::tenants::TenantRow;
use crate::error::ApiResult;
use crate::graphql::connections::CountSource;
use crate::graphql::context::loaders;
use crate::graphql::domains::loaders::{DomainCountOfTenant, VisibleDomain};
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::loaders::ById;
use crate::graphql::node::NodeSource;
use crate::graphql::tenants::types::Tenant;

/// A mail domain of a tenant: what to publish in DNS and what the last check found.
pub struct Domain(pub DomainRow);

impl Domain {
    /// The sort key within the tenant (what a domain cursor encodes).
    pub fn key(&self) -> String {
        self.0.name.clone()
    }

    fn expected(&self) -> Vec<ExpectedRecord> {
        expected::records(
            &self.0.name,
            &self.0.published(),
            self.0.dmarc_policy,
            &self.0.rua(),
            &self.0.ownership_token,
        )
    }
}

/// A record the domain should publish.
#[derive(SimpleObject)]
pub struct ExpectedDnsRecord {
    /// What the record is for.
    #[graphql(name = "type")]
    pub kind: RecordKind,
    /// The DNS type to publish it as (`MX`, `TXT`).
    pub rr_type: String,
    /// Owner name (ASCII, no trailing dot).
    pub name: String,
    /// The value (a TXT value longer than 255 octets is published as several strings).
    pub value: String,
}

/// One record as the last check found it.
#[derive(SimpleObject)]
pub struct DnsRecordCheck {
    /// What the record is for.
    #[graphql(name = "type")]
    pub kind: RecordKind,
    /// Owner name.
    pub name: String,
    /// What should be published.
    pub expected: String,
    /// What the resolvers answered (TXT strings joined; several answers one per line);
    /// `null` when nothing or no answer.
    pub actual: Option<String>,
    /// The outcome.
    pub status: RecordStatus,
    /// Why, when not `OK` (e.g. "two SPF records: permerror"), or the override's reason.
    pub reason: Option<String>,
    /// `OK` only because an operator accepted this value (shown as "OK (overridden)"); it
    /// fails again once the published value changes.
    pub overridden: bool,
}

impl From<RecordResult> for DnsRecordCheck {
    fn from(r: RecordResult) -> Self {
        Self {
            kind: r.kind,
            name: r.name,
            expected: r.expected,
            actual: r.actual,
            status: r.status,
            reason: r.reason,
            overridden: r.overridden,
        }
    }
}

/// A mail domain of a tenant: what to publish in DNS and what the last check found.
#[Object]
impl Domain {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Domain, self.0.id.uuid()).to_id()
    }

    /// The name in ASCII (internationalised labels as punycode, e.g. `xn--bcher-kva.example`).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The name in Unicode (e.g. `bücher.example`); the same as `name` for an ASCII name.
    async fn unicode_name(&self) -> String {
        name::unicode(&self.0.name)
    }

    /// Whether this is the tenant's primary domain.
    async fn primary(&self) -> bool {
        self.0.is_primary
    }

    /// Where the domain's DNS stands.
    async fn status(&self) -> DomainStatus {
        self.0.status
    }

    /// The DMARC policy the domain should publish.
    async fn dmarc_policy(&self) -> DmarcPolicy {
        self.0.dmarc_policy
    }

    /// The DMARC aggregate report addresses (`rua`).
    async fn dmarc_rua(&self) -> Vec<String> {
        self.0.rua()
    }

    /// Whether the mail server holds the domain yet (its DNS records are known once it does).
    async fn provisioned(&self) -> bool {
        self.0.stalwart_id.is_some()
    }

    /// When the domain was last checked; `null` before the first check.
    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_checked_at
    }

    /// When the domain is checked next.
    async fn next_check_at(&self) -> DateTime<Utc> {
        self.0.next_check_at
    }

    /// Failed checks in a row (an unanswered record does not count).
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }

    /// The records to publish: MX, SPF and DKIM as the mail server computes them, DMARC from
    /// the domain's policy, and the ownership token.
    async fn expected_records(&self) -> Vec<ExpectedDnsRecord> {
        self.expected()
            .into_iter()
            .map(|r| ExpectedDnsRecord {
                kind: r.kind,
                rr_type: r.kind.rr_type().to_owned(),
                name: r.name,
                value: r.value,
            })
            .collect()
    }

    /// Each record as the last check found it; before the first check, the expected records
    /// with status `UNKNOWN`.
    async fn records(&self) -> Vec<DnsRecordCheck> {
        let results = self.0.results();
        if self.0.last_checked_at.is_some() {
            return results.into_iter().map(DnsRecordCheck::from).collect();
        }
        self.expected()
            .into_iter()
            .map(|r| DnsRecordCheck {
                kind: r.kind,
                name: r.name,
                expected: r.value,
                actual: None,
                status: RecordStatus::Unknown,
                reason: Some("not checked yet".into()),
                overridden: false,
            })
            .collect()
    }

    /// The tenant the domain belongs to.
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<Option<Tenant>> {
        Ok(loaders(ctx)
            .db
            .load_one(ById::<TenantRow>(self.0.tenant_id))
            .await?
            .map(|row| Tenant((*row).clone())))
    }

    /// When the domain was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A domain is visible to whoever may see its tenant; the rule is applied in SQL
/// (`domain::domains::visible`).
impl NodeSource for Domain {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let key = VisibleDomain {
            scope: Arc::new(viewer.scope()),
            id: DomainId(id),
        };
        let row = loaders(ctx).db.load_one(key).await?;
        Ok(row.map(|r| Self((*r).clone())))
    }
}

/// `totalCount` of a tenant's domains (one batched statement for every tenant of a page).
pub struct DomainsCount(pub TenantId);

impl CountSource for DomainsCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(DomainCountOfTenant(self.0))
            .await?
            .unwrap_or(0))
    }
}

crate::connection_type!(
    /// A page of a tenant's domains (a Relay connection).
    DomainConnection, Domain, DomainsCount
);
