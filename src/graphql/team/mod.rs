//! A partner's self-service: its settings (`updatePartnerSettings`) and its team
//! (`Partner.staff`, `inviteStaff`, `changeStaffAccess`, `removeStaff`).

pub mod loaders;
pub mod mutation;
pub mod types;
