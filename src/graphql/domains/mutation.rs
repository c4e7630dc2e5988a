//! Domain mutations: thin wrappers over `domain::domains::changes`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::config::Config;
use crate::domain::domains::changes;
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::domains::types::{DmarcPolicy, Domain, RecordKind};
use crate::upstream::Upstreams;
use crate::upstream::dns::DnsClient;

/// Input of `addDomain`.
#[derive(InputObject)]
pub struct AddDomainInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The domain, in Unicode or ASCII (`bücher.example` or `xn--bcher-kva.example`).
    pub name: String,
}

/// Names one domain of a tenant.
#[derive(InputObject)]
pub struct DomainRefInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The domain's name, in Unicode or ASCII.
    pub domain: String,
}

/// Input of `setDomainDmarc`.
#[derive(InputObject)]
pub struct SetDomainDmarcInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The domain's name, in Unicode or ASCII.
    pub domain: String,
    /// The policy to publish (`p=`).
    pub policy: DmarcPolicy,
    /// Aggregate report addresses (`rua=mailto:…`), at most 10; omitted means none.
    pub rua: Option<Vec<String>>,
}

/// Input of `overrideDomainRecord`.
#[derive(InputObject)]
pub struct OverrideDomainRecordInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The domain's name, in Unicode or ASCII.
    pub domain: String,
    /// What the failing record is for.
    #[graphql(name = "type")]
    pub kind: RecordKind,
    /// The record's owner name, as `records` shows it.
    pub name: String,
    /// Why it is accepted (required; at most 500 characters).
    pub reason: Option<String>,
}

/// The domain after a mutation.
#[derive(SimpleObject)]
pub struct DomainPayload {
    /// The domain as it is now (for `removeDomain`: as it was).
    pub domain: Domain,
}

/// Domain mutations.
#[derive(Default)]
pub struct DomainMutation;

#[Object]
impl DomainMutation {
    /// Adds a mail domain to a tenant (tenant admins and owners, the tenant's partner,
    /// operators). It is `PENDING_VERIFICATION` until a check passes; a job creates it on the
    /// mail server and reads the records to publish. A domain any tenant already holds is
    /// `CONFLICT`. Audited.
    async fn add_domain(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the domain.")] input: AddDomainInput,
    ) -> ApiResult<DomainPayload> {
        let max_attempts = ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts;
        let row = changes::add(
            &caller(ctx).await?,
            &input.tenant,
            &input.name,
            max_attempts,
        )
        .await?;
        Ok(DomainPayload {
            domain: Domain(row),
        })
    }

    /// Sets the DMARC policy and report addresses a domain should publish (same access as
    /// `addDomain`). Audited.
    async fn set_domain_dmarc(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain, the policy and the report addresses.")]
        input: SetDomainDmarcInput,
    ) -> ApiResult<DomainPayload> {
        let row = changes::set_dmarc(
            &caller(ctx).await?,
            &input.tenant,
            &input.domain,
            input.policy,
            input.rua.unwrap_or_default(),
        )
        .await?;
        Ok(DomainPayload {
            domain: Domain(row),
        })
    }

    /// Makes a domain the tenant's primary one (also `Tenant.primaryDomain`; same access as
    /// `addDomain`). Audited.
    async fn set_primary_domain(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain.")] input: DomainRefInput,
    ) -> ApiResult<DomainPayload> {
        let row = changes::set_primary(&caller(ctx).await?, &input.tenant, &input.domain).await?;
        Ok(DomainPayload {
            domain: Domain(row),
        })
    }

    /// Checks a domain's DNS records now (same access as `addDomain`; at most once a minute
    /// per domain, else `RATE_LIMITED`). The result is stored like a scheduled check's.
    /// Audited.
    async fn recheck_domain(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain.")] input: DomainRefInput,
    ) -> ApiResult<DomainPayload> {
        let config = ctx.data_unchecked::<Arc<Config>>();
        let settings = changes::RecheckSettings {
            failing_after: config.domains.failing_after,
            interval: config.domains.recheck_interval,
        };
        let dns = Arc::clone(ctx.data_unchecked::<Arc<DnsClient>>());
        let row = changes::recheck(
            &caller(ctx).await?,
            dns,
            &input.tenant,
            &input.domain,
            settings,
        )
        .await?;
        Ok(DomainPayload {
            domain: Domain(row),
        })
    }

    /// Accepts a failing record of a domain's last check as it is, with a reason, for a known
    /// resolver quirk (operators). The record shows `OK` with `overridden: true` until its
    /// published value changes. Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn override_domain_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record and why.")] input: OverrideDomainRecordInput,
    ) -> ApiResult<DomainPayload> {
        let row = changes::override_record(
            &caller(ctx).await?,
            &input.tenant,
            &input.domain,
            input.kind,
            &input.name,
            input.reason,
        )
        .await?;
        Ok(DomainPayload {
            domain: Domain(row),
        })
    }

    /// Removes a domain (same access as `addDomain`). While mailboxes, aliases or lists use
    /// it, the mail server refuses and so does this: `CONFLICT` naming what uses it, nothing
    /// removed. The primary domain cannot be removed. Audited.
    async fn remove_domain(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The domain.")] input: DomainRefInput,
    ) -> ApiResult<DomainPayload> {
        let stalwart = ctx.data_unchecked::<Arc<Upstreams>>().stalwart.clone();
        let row =
            changes::remove(&caller(ctx).await?, stalwart, &input.tenant, &input.domain).await?;
        Ok(DomainPayload {
            domain: Domain(row),
        })
    }
}
