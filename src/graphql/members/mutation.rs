//! Member mutations: thin wrappers over `domain::members`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::config::Config;
use crate::domain::ids::MemberId;
use crate::domain::members::lifecycle::Queued;
use crate::domain::members::sealing::SealingKey;
use crate::domain::members::{MemberRole, create, lifecycle, retry};
use crate::error::{ApiResult, AppError, AppResult};
use crate::graphql::context::caller;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::members::types::Member;
use crate::upstream::Upstreams;

/// A member's global id from the input; a malformed id or one of another type is
/// `BAD_USER_INPUT` on `field` (decided inside the audited change).
pub fn member_id(raw: &ID, field: &str) -> AppResult<MemberId> {
    let id = GlobalId::decode(raw, field)?;
    if id.ty != NodeType::Member {
        return Err(AppError::bad_input(field, "not a member id"));
    }
    Ok(MemberId(id.uuid()))
}

/// Input of `createMember`.
#[derive(InputObject)]
pub struct CreateMemberInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The address: on one of the tenant's domains. It is also the sign-in name and the
    /// mailbox.
    pub email: String,
    /// Full name (1–200 characters).
    pub name: String,
    /// Role in the tenant (only owners and above may create an owner).
    pub role: MemberRole,
}

/// Names one member of a tenant.
#[derive(InputObject)]
pub struct MemberRefInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The member's global id.
    pub member: ID,
}

/// Input of `changeMemberRole`.
#[derive(InputObject)]
pub struct ChangeMemberRoleInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The member's global id.
    pub member: ID,
    /// The new role.
    pub role: MemberRole,
}

/// What `resetMemberPassword` answers.
#[derive(SimpleObject)]
pub struct ResetMemberPasswordPayload {
    /// The member (its steps set the password on SSO and mailbox).
    pub member: Member,
    /// The new one-time password, shown exactly once (never stored in plain text).
    pub one_time_password: String,
}

/// What `forceLogoutMember` answers.
#[derive(SimpleObject)]
pub struct ForceLogoutMemberPayload {
    /// The member.
    pub member: Member,
    /// How many of the member's sign-in sessions were ended (only theirs).
    pub sessions_ended: i32,
}

/// What `createMember` answers.
#[derive(SimpleObject)]
pub struct CreateMemberPayload {
    /// The member: `PROVISIONING` until its steps finish (follow `memberProgress`).
    pub member: Member,
    /// The member's one-time password (sign-in and mailbox). Shown exactly once: it is not
    /// stored in plain text anywhere and cannot be read again.
    pub one_time_password: String,
    /// For people: e.g. the address's domain is not verified yet.
    pub warnings: Vec<String>,
}

/// A member after a mutation.
#[derive(SimpleObject)]
pub struct MemberPayload {
    /// The member as it is now.
    pub member: Member,
}

fn max_attempts(ctx: &Context<'_>) -> u32 {
    ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts
}

/// `suspendMember`, `resumeMember`, `removeMember`: one queued lifecycle change.
async fn queued(
    ctx: &Context<'_>,
    input: MemberRefInput,
    change: Queued,
) -> ApiResult<MemberPayload> {
    let row = lifecycle::queued(
        &caller(ctx).await?,
        &input.tenant,
        member_id(&input.member, "input.member"),
        max_attempts(ctx),
        change,
    )
    .await?;
    Ok(MemberPayload {
        member: Member(row),
    })
}

/// Member mutations.
#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Creates a member (tenant admins and owners, the tenant's partner, operators): their
    /// Authentik user with a one-time password in the tenant's group, a mailbox with the
    /// plan's quota, and an oCIS user in the tenant's space, through durable jobs (follow
    /// them with `memberProgress`). The address must be on one of the tenant's domains. Beyond
    /// the tenant's seats, or for a suspended tenant, `CONFLICT`. Audited.
    async fn create_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the new member.")] input: CreateMemberInput,
    ) -> ApiResult<CreateMemberPayload> {
        let key = ctx.data_unchecked::<Arc<SealingKey>>();
        let created = create::create(
            &caller(ctx).await?,
            key,
            &input.tenant,
            create::NewMember {
                email: input.email,
                name: input.name,
                role: input.role,
            },
            max_attempts(ctx),
        )
        .await?;
        Ok(CreateMemberPayload {
            member: Member(created.member),
            one_time_password: created.password.expose().to_owned(),
            warnings: created.warnings,
        })
    }

    /// Runs the failed steps of a member's latest operation again (same access as
    /// `createMember`). Audited.
    async fn retry_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the member.")] input: MemberRefInput,
    ) -> ApiResult<MemberPayload> {
        let row = retry::retry(
            &caller(ctx).await?,
            &input.tenant,
            member_id(&input.member, "input.member"),
            max_attempts(ctx),
        )
        .await?;
        Ok(MemberPayload {
            member: Member(row),
        })
    }
    /// Suspends a member (same access as `createMember`; owners only for an owner): access
    /// ends at once, then their Authentik and oCIS users are disabled (or, when they belong
    /// to another tenant too, taken out of this tenant's group and files space) and their
    /// mailbox's sign-in is disabled, its password kept. Suspending yourself is refused. Audited.
    async fn suspend_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the member.")] input: MemberRefInput,
    ) -> ApiResult<MemberPayload> {
        queued(ctx, input, Queued::Suspend).await
    }

    /// Resumes a suspended member: `ACTIVE` again once SSO, mailbox and files are enabled
    /// (the password is unchanged). Refused for a suspended tenant. Audited.
    async fn resume_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the member.")] input: MemberRefInput,
    ) -> ApiResult<MemberPayload> {
        queued(ctx, input, Queued::Resume).await
    }

    /// Ends every sign-in session of the member (only theirs) and says how many ended.
    /// Logging yourself out this way is refused. Audited.
    async fn force_logout_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the member.")] input: MemberRefInput,
    ) -> ApiResult<ForceLogoutMemberPayload> {
        let authentik = ctx.data_unchecked::<Arc<Upstreams>>().authentik.clone();
        let (row, ended) = lifecycle::force_logout(
            &caller(ctx).await?,
            authentik,
            &input.tenant,
            member_id(&input.member, "input.member"),
        )
        .await?;
        Ok(ForceLogoutMemberPayload {
            member: Member(row),
            sessions_ended: i32::try_from(ended).unwrap_or(i32::MAX),
        })
    }

    /// Gives the member a new one-time password, set on SSO and mailbox together by durable
    /// jobs. Returned exactly once. Audited.
    async fn reset_member_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the member.")] input: MemberRefInput,
    ) -> ApiResult<ResetMemberPasswordPayload> {
        let key = ctx.data_unchecked::<Arc<SealingKey>>();
        let (row, password) = lifecycle::reset_password(
            &caller(ctx).await?,
            key,
            &input.tenant,
            member_id(&input.member, "input.member"),
            max_attempts(ctx),
        )
        .await?;
        Ok(ResetMemberPasswordPayload {
            member: Member(row),
            one_time_password: password.expose().to_owned(),
        })
    }

    /// Changes a member's role; only owners and above grant or take `OWNER`, and the last
    /// owner cannot be demoted (`CONFLICT`). When their role in the tenant's files space
    /// changes (manager for owners and admins, editor for members), a durable job sets it on
    /// oCIS (follow it with `memberProgress`). Audited.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant, the member and the role.")] input: ChangeMemberRoleInput,
    ) -> ApiResult<MemberPayload> {
        let row = lifecycle::change_role(
            &caller(ctx).await?,
            &input.tenant,
            member_id(&input.member, "input.member"),
            input.role,
            max_attempts(ctx),
        )
        .await?;
        Ok(MemberPayload {
            member: Member(row),
        })
    }

    /// Removes a member: access ends at once, then the jobs delete their mailbox, and their
    /// Authentik and oCIS users unless they belong to another tenant (then only this
    /// tenant's group membership and files-space grant go). The last owner cannot be removed; removing yourself
    /// is refused. Audited.
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the member.")] input: MemberRefInput,
    ) -> ApiResult<MemberPayload> {
        queued(ctx, input, Queued::Remove).await
    }
}
