//! The GraphQL schema: merged roots per area, limits, and the extensions that mask errors and
//! record metrics.

pub mod audience;
pub mod batch;
pub mod connections;
pub mod context;
pub mod cost;
pub mod cost_report;
pub mod depth;
pub mod edge;
pub mod errors;
pub mod ids;
pub mod input_text;
pub mod loaders;
pub mod money;
pub mod node;
pub mod observe;
pub mod pagination;
pub mod patch;
pub mod rate_limit;
pub mod scalars;
pub mod sdl;
pub mod services;
pub mod system;
pub mod viewer;

// The areas: each a folder with its types, queries, mutations, loaders and `Node` source.
pub mod audit;
pub mod billing;
pub mod branding;
pub mod domains;
pub mod flags;
pub mod health;
pub mod impersonation;
pub mod members;
pub mod partners;
pub mod provisioning;
pub mod reports;
pub mod security;
pub mod team;
pub mod tenants;
pub mod users;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

use crate::config::GraphqlLimits;

/// The root of every query.
#[derive(MergedObject, Default)]
pub struct Query(
    system::SystemQuery,
    node::NodeQuery,
    viewer::ViewerQuery,
    tenants::query::TenantQuery,
    partners::query::PartnerQuery,
    flags::query::FlagQuery,
    audit::query::AuditQuery,
    audit::export::AuditExportQuery,
    reports::ReportQuery,
    reports::saved::SavedReportQuery,
    branding::query::BrandingQuery,
    billing::plans::PlanQuery,
    billing::payouts::BillingQuery,
);

/// The root of every mutation: one part per area.
#[derive(MergedObject, Default)]
pub struct Mutation(
    tenants::mutation::TenantMutation,
    partners::mutation::PartnerMutation,
    flags::mutation::FlagMutation,
    provisioning::mutation::ProvisioningMutation,
    domains::mutation::DomainMutation,
    impersonation::mutation::ImpersonationMutation,
    members::mutation::MemberMutation,
    branding::mutation::BrandingMutation,
    team::mutation::TeamMutation,
    tenants::workspace::WorkspaceMutation,
    billing::plans::PlanMutation,
    billing::mutation::BillingMutation,
    audit::export::AuditExportMutation,
    reports::saved::SavedReportMutation,
    security::mutation::SecurityMutation,
    security::sso_apps::SsoAppMutation,
);

/// The root of every subscription: one part per area.
#[derive(async_graphql::MergedSubscription, Default)]
pub struct Subscription(
    flags::subscription::FlagSubscription,
    provisioning::subscription::ProvisioningSubscription,
    domains::subscription::DomainSubscription,
    members::subscription::MemberSubscription,
);

/// The executable schema.
pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// The schema with its limits and error masking, but no per-process data: what
/// `print-schema` renders and what `app::build` extends with its data and metrics.
pub fn schema_builder(limits: &GraphqlLimits) -> SchemaBuilder<Query, Mutation, Subscription> {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(limits.max_recursive_depth)
    .data(pagination::PageLimits::from(limits))
    // Masking first: it wraps the others and gives their refusals a code.
    .extension(errors::ErrorMasking)
    .extension(edge::EdgeChecks {
        max_selections: limits.max_selections,
    })
    .extension(depth::DepthLimit(limits.max_depth))
    .extension(audience::ResolveView);
    if !limits.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder
}

/// The SDL checked in as `schema.graphql`.
pub fn sdl() -> String {
    let limits = GraphqlLimits::defaults(crate::config::AppEnv::Development);
    let options = async_graphql::SDLExportOptions::new()
        .sorted_fields()
        .sorted_enum_items();
    schema_builder(&limits).finish().sdl_with_options(options)
}
