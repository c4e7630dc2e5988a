//! White-label branding (issue 22, acceptance 1 and 2): field-by-field inheritance from the
//! partner, colour and logo validation, the readable text colour, and email templates
//! (validation with the line, previews, escaping).

mod inheritance;
mod templates;

use crate::support::{Level, Role, Tenant, World};

/// resell (partner) with acme (its tenant) and solo (direct); root = operator, padmin =
/// admin of resell, pstaff = staff member of resell, tadmin = admin of acme, tmember =
/// member of acme, outsider = owner of solo.
pub async fn world() -> World {
    World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell"))
        .tenant("solo")
        .operator("root")
        .staff("padmin", "resell", Level::Admin)
        .staff("pstaff", "resell", Level::Member)
        .member("tadmin", "acme", Role::Admin)
        .member("tmember", "acme", Role::Member)
        .member("outsider", "solo", Role::Owner)
        .spawn()
        .await
}

pub const UPDATE: &str = r#"
mutation($input: UpdateBrandingInput!) {
  updateBranding(input: $input) {
    branding { productName accentColor logoUrl readableTextColor }
  }
}"#;

pub const EFFECTIVE: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    branding { productName accentColor logoUrl }
    effectiveBranding {
      productName { value source }
      accentColor { value source }
      logoUrl { value source }
      readableTextColor
      emailTemplates { key subject source }
    }
  }
}"#;
