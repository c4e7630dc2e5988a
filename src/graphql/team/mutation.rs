//! Partner self-service mutations: thin wrappers over `domain::partners::{settings, staff}`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};

use crate::domain::ids::UserId;
use crate::domain::partners::AccessLevel;
use crate::domain::partners::settings::{self, SettingsUpdate};
use crate::domain::partners::staff::{self, Invite};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::partners::types::Partner;
use crate::graphql::patch::patch;
use crate::graphql::team::types::StaffMember;
use crate::upstream::Upstreams;

/// Input of `updatePartnerSettings`. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdatePartnerSettingsInput {
    /// Slug of the partner.
    pub partner: String,
    /// New display name.
    pub name: Option<String>,
    /// New web domain; `null` clears it.
    pub domain: MaybeUndefined<String>,
    /// New contact details (a JSON object, at most 16 KiB; replaces the old one).
    pub contact_info: Option<Json<serde_json::Value>>,
    /// New billing details (a JSON object, at most 16 KiB; replaces the old one).
    pub billing_info: Option<Json<serde_json::Value>>,
}

/// Input of `inviteStaff`.
#[derive(InputObject)]
pub struct InviteStaffInput {
    /// Slug of the partner.
    pub partner: String,
    /// The person's e-mail address (their Authentik username).
    pub email: String,
    /// Their display name (default: the e-mail address).
    pub name: Option<String>,
    /// Their level on the team.
    pub access_level: AccessLevel,
}

/// Input of `changeStaffAccess`.
#[derive(InputObject)]
pub struct ChangeStaffAccessInput {
    /// Slug of the partner.
    pub partner: String,
    /// The staff member (`StaffMember.userId`).
    pub user: ID,
    /// The new level.
    pub access_level: AccessLevel,
}

/// Input of `removeStaff`.
#[derive(InputObject)]
pub struct RemoveStaffInput {
    /// Slug of the partner.
    pub partner: String,
    /// The staff member (`StaffMember.userId`).
    pub user: ID,
}

/// The partner after `updatePartnerSettings`.
#[derive(SimpleObject)]
pub struct PartnerSettingsPayload {
    /// The partner as it is now.
    pub partner: Partner,
}

/// A staff member after a mutation.
#[derive(SimpleObject)]
pub struct StaffPayload {
    /// The staff member (as they were, for `removeStaff`).
    pub staff: StaffMember,
}

fn user_id(id: &ID) -> ApiResult<UserId> {
    let global = GlobalId::decode(id, "input.user")?;
    if global.ty != NodeType::User || global.uuid().is_nil() {
        return Err(crate::error::AppError::bad_input("input.user", "not a user id").into());
    }
    Ok(UserId(global.uuid()))
}

fn member(row: staff::StaffRow) -> StaffPayload {
    StaffPayload {
        staff: StaffMember {
            row,
            upstream: None,
        },
    }
}

/// Partner self-service mutations.
#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Changes a partner's name, domain, contact and billing details (the partner's admins
    /// and operators; margin and status stay with operators). Audited
    /// (`partner.update_settings`, naming the fields changed, not their values).
    async fn update_partner_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and the fields to change.")]
        input: UpdatePartnerSettingsInput,
    ) -> ApiResult<PartnerSettingsPayload> {
        let update = SettingsUpdate {
            partner: input.partner,
            name: input.name,
            domain: patch(input.domain),
            contact_info: input.contact_info.map(|j| j.0),
            billing_info: input.billing_info.map(|j| j.0),
        };
        let row = settings::update(&caller(ctx).await?, update).await?;
        Ok(PartnerSettingsPayload {
            partner: Partner(row),
        })
    }

    /// Adds a person to a partner's team: their Authentik user is ensured (by e-mail) and
    /// added to the partner's staff group; inviting again changes nothing. The partner's
    /// admins and operators. Audited (`partner.staff.invite`).
    async fn invite_staff(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who and at which level.")] input: InviteStaffInput,
    ) -> ApiResult<StaffPayload> {
        let authentik = ctx.data_unchecked::<Arc<Upstreams>>().authentik.clone();
        let invite = Invite {
            partner: input.partner,
            email: input.email,
            name: input.name,
            access_level: input.access_level,
        };
        let row = staff::invite(&caller(ctx).await?, authentik, invite).await?;
        Ok(member(row))
    }

    /// Changes a staff member's level; the last admin cannot be demoted (`CONFLICT`). The
    /// partner's admins and operators. Audited (`partner.staff.change_access`).
    async fn change_staff_access(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who and the new level.")] input: ChangeStaffAccessInput,
    ) -> ApiResult<StaffPayload> {
        let user = user_id(&input.user)?;
        let row = staff::change_access(
            &caller(ctx).await?,
            &input.partner,
            user,
            input.access_level,
        )
        .await?;
        Ok(member(row))
    }

    /// Takes a person off a partner's team and out of its Authentik group. The last admin
    /// cannot be removed (`CONFLICT`), nor can you remove yourself. The partner's admins and
    /// operators. Audited (`partner.staff.remove`).
    async fn remove_staff(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who.")] input: RemoveStaffInput,
    ) -> ApiResult<StaffPayload> {
        let user = user_id(&input.user)?;
        let authentik = ctx.data_unchecked::<Arc<Upstreams>>().authentik.clone();
        let row = staff::remove(&caller(ctx).await?, authentik, &input.partner, user).await?;
        Ok(member(row))
    }
}
