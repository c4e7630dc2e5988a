//! The one way tests mint bearer tokens: a [`Token`] names the claims (subject, audience,
//! email, name, groups, lifetime) and is signed either by the app's development issuer
//! ([`Token::sign`], the default: the app runs with no `AUTH_ISSUERS`) or by a key of the
//! loopback OIDC provider in `oidc.rs` ([`Token::sign_oidc`], for tests of verification
//! itself). A [`World`](super::world::World) hands out tokens of its people ready-made.

use std::time::Duration;

use platform_api::auth::dev_issuer::DevTokenRequest;
use serde_json::{Value, json};

use super::TestApp;
use super::oidc::{FakeIssuer, TestKey, now};

/// The client id of the customer and partner portal.
pub const PORTAL: &str = "dezky-portal";
/// The client id of the operator console.
pub const OPERATOR: &str = "dezky-operator";

/// The claims of a token to sign; `Token::portal("alice")` is alice with the portal
/// audience, no email, name or groups claim, valid for ten minutes.
#[derive(Debug, Clone)]
#[must_use]
pub struct Token {
    sub: String,
    aud: String,
    email: Option<String>,
    name: Option<String>,
    groups: Option<Vec<String>>,
    ttl: Duration,
}

impl Token {
    /// `sub` with the portal audience.
    pub fn portal(sub: &str) -> Self {
        Self {
            sub: sub.into(),
            aud: PORTAL.into(),
            email: None,
            name: None,
            groups: None,
            ttl: Duration::from_secs(600),
        }
    }

    /// `sub` with the operator audience (operator powers also need `platform_admin`).
    pub fn operator(sub: &str) -> Self {
        Self::portal(sub).audience(OPERATOR)
    }

    /// Any audience, also one the app does not accept.
    pub fn audience(mut self, aud: &str) -> Self {
        self.aud = aud.into();
        self
    }

    /// The portal audience instead (keeps the other claims).
    pub fn via_portal(self) -> Self {
        self.audience(PORTAL)
    }

    /// The operator audience instead (keeps the other claims).
    pub fn via_operator(self) -> Self {
        self.audience(OPERATOR)
    }

    /// An email claim.
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.into());
        self
    }

    /// A name claim.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A groups claim (`&[]` is an empty claim, which differs from none).
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = Some(groups.iter().map(|g| g.to_string()).collect());
        self
    }

    /// How long the token is valid from now.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Signed by `app`'s development issuer, through the production signing code.
    pub fn sign(&self, app: &TestApp) -> String {
        let request = DevTokenRequest {
            sub: self.sub.clone(),
            aud: self.aud.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            groups: self.groups.clone(),
        };
        app.state
            .dev_issuer
            .as_ref()
            .expect("the development issuer is on (no AUTH_ISSUERS)")
            .sign(&request, self.ttl)
            .expect("sign a development token")
    }

    /// The JWT claims as `issuer` would put them (`iat` now); edit them to forge a bad token.
    pub fn claims(&self, issuer: &FakeIssuer) -> Value {
        let mut claims = json!({
            "iss": issuer.issuer(), "sub": self.sub, "aud": self.aud,
            "iat": now(), "exp": now() + self.ttl.as_secs(),
        });
        for (field, value) in [("email", &self.email), ("name", &self.name)] {
            if let Some(value) = value {
                claims[field] = json!(value);
            }
        }
        if let Some(groups) = &self.groups {
            claims["groups"] = json!(groups);
        }
        claims
    }

    /// Signed with `key` of the loopback OIDC provider `issuer`.
    pub fn sign_oidc(&self, issuer: &FakeIssuer, key: &TestKey) -> String {
        key.sign(&self.claims(issuer))
    }
}
