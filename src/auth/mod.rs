//! Identity: bearer-token verification (JWKS cache), the development issuer, and the
//! Viewer — who is calling and what the database says they may touch.
//!
//! A JWT only says who the caller is. Authorization always comes from the database
//! (memberships, partner staff rows, `platform_admin`), resolved once per request, and
//! [`policy`] is the one place that turns it into access.

pub mod claims;
pub mod context;
pub mod dev_issuer;
pub mod impersonation;
pub mod jwks;
pub mod policy;
pub mod token_cache;
pub mod verify;
pub mod viewer;

pub use claims::{Audience, Claims, VerifiedToken};
pub use context::{AuthContext, ContextAuth};
pub use policy::{PartnerAccess, Scope, TenantAccess, TenantRef};
pub use verify::{AuthError, TokenVerifier};
pub use viewer::Viewer;
