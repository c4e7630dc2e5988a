//! Stalwart 0.16: mail domains (with server-generated DKIM and the DNS records to publish)
//! and mailbox accounts, managed as JMAP registry objects.
//!
//! Wire facts (`../shared/upstreams.md` §2; object and field names from the 0.16 registry
//! schema `resources/schema/schema.json.gz`): the REST management API is gone in 0.16;
//! everything is JMAP at the session's `apiUrl` (discovered from `/.well-known/jmap`), with
//! the `urn:stalwart:jmap` capability and methods `x:<Object>/get|query|set` on `x:Domain`,
//! `x:DkimSignature` and `x:Account` (`@type` `User`). `/set` failures are `SetError`s
//! (`primaryKeyViolation`, `objectIsLinked`, `invalidProperties`, …).

mod http;
mod jmap;
pub mod zone;

use async_trait::async_trait;

pub use http::HttpStalwartClient;
pub use zone::DnsRecord;

use super::Secret;
use super::error::{CallError, unavailable};
use crate::AppError;

/// A mail domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The registry id.
    pub id: String,
    /// The domain name.
    pub name: String,
}

/// What to publish in DNS for a domain, as the server computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDns {
    /// The domain.
    pub domain: Domain,
    /// `dnsZoneFile`: BIND text, computed by the server on each read.
    pub zone_file: String,
    /// The zone file's records (TXT strings joined).
    pub records: Vec<DnsRecord>,
    /// The domain's DKIM keys (generated in the background after the domain is created, so
    /// possibly none yet).
    pub dkim: Vec<DkimKey>,
}

/// A DKIM key of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    /// `Dkim1Ed25519Sha256`, `Dkim1RsaSha256`, …
    pub algorithm: String,
    /// The selector; the record lives at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// Bare base64 public key (server-computed).
    pub public_key: String,
    /// `active`, `pending`, `retiring` or `retired`.
    pub stage: String,
}

/// A mailbox account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// The local part (accounts are `name@domain` since 0.16).
    pub name: String,
    /// The domain's registry id.
    pub domain_id: String,
    /// The initial password (checked for strength by the server).
    pub password: Secret,
    /// `quotas.maxDiskQuota`, in bytes.
    pub quota_bytes: Option<u64>,
    /// Full name (shown as the account's description).
    pub description: Option<String>,
}

/// A mailbox account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The registry id.
    pub id: String,
    /// The local part.
    pub name: String,
    /// `name@domain`, set by the server (empty if its creation answer left it out).
    pub email_address: String,
}

/// Changes to an account; `None` fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpdate {
    /// A new password (replaces the account's `Password` credential).
    pub password: Option<Secret>,
    /// A new disk quota in bytes; `Some(None)` removes the quota.
    pub quota_bytes: Option<Option<u64>>,
    /// `false` disables sign-in (the `authenticate` permission is disabled); `true`
    /// returns to the inherited permissions.
    pub enabled: Option<bool>,
    /// A new full name.
    pub description: Option<String>,
    /// The complete new list of aliases (replaces the old one; empty removes all).
    pub aliases: Option<Vec<EmailAlias>>,
}

/// An extra address delivering to an account (`x:EmailAlias`: `name` + `domainId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAlias {
    /// The local part.
    pub name: String,
    /// The domain's registry id.
    pub domain_id: String,
}

/// The `type` of a JMAP `SetError` (RFC 8620 §5.3 plus Stalwart's registry errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetErrorKind {
    /// `forbidden`.
    Forbidden,
    /// `notFound`.
    NotFound,
    /// `invalidProperties`: see `properties`.
    InvalidProperties,
    /// `invalidPatch`.
    InvalidPatch,
    /// `overQuota`.
    OverQuota,
    /// `primaryKeyViolation`: a duplicate name or alias.
    PrimaryKeyViolation,
    /// `objectIsLinked`: other objects still refer to this one.
    ObjectIsLinked,
    /// `invalidForeignKey`: a referenced object does not exist.
    InvalidForeignKey,
    /// `validationFailed`.
    ValidationFailed,
    /// Anything else, verbatim.
    Other(String),
}

impl SetErrorKind {
    /// Parses the wire name.
    pub fn parse(kind: &str) -> Self {
        match kind {
            "forbidden" => Self::Forbidden,
            "notFound" => Self::NotFound,
            "invalidProperties" => Self::InvalidProperties,
            "invalidPatch" => Self::InvalidPatch,
            "overQuota" => Self::OverQuota,
            "primaryKeyViolation" => Self::PrimaryKeyViolation,
            "objectIsLinked" => Self::ObjectIsLinked,
            "invalidForeignKey" => Self::InvalidForeignKey,
            "validationFailed" => Self::ValidationFailed,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// How a Stalwart call failed.
#[derive(Debug, thiserror::Error)]
pub enum StalwartError {
    /// The object does not exist.
    #[error("{what} not found")]
    NotFound {
        /// `domain`, `account`.
        what: &'static str,
    },
    /// Destroying a domain that accounts or lists still use (`objectIsLinked`).
    #[error("domain still in use")]
    DomainInUse {
        /// What uses it, as the server's `linkedObjects` names it (e.g. `2 mailboxes`).
        linked: Vec<String>,
    },
    /// A `/set` refused one object.
    #[error("{what} refused ({kind:?}): {description}")]
    Set {
        /// `domain`, `account`.
        what: &'static str,
        /// The `SetError` type.
        kind: SetErrorKind,
        /// The server's description.
        description: String,
        /// The properties at fault (`invalidProperties`).
        properties: Vec<String>,
    },
    /// A method-level error (`["error", {"type": …}, id]`), e.g. `unknownMethod`,
    /// `accountNotFound`, `serverFail`.
    #[error("JMAP method error {kind}: {description}")]
    Method {
        /// The error type.
        kind: String,
        /// The server's description.
        description: String,
    },
    /// A request-level error (`application/problem+json`, e.g. `…:error:notRequest`).
    #[error("JMAP request refused ({kind})")]
    Request {
        /// The problem type URI.
        kind: String,
    },
    /// Transport failure, 5xx, 429 or refused credentials (401).
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<StalwartError> for AppError {
    fn from(err: StalwartError) -> Self {
        match err {
            StalwartError::NotFound { what } => AppError::NotFound { what },
            StalwartError::DomainInUse { linked } if linked.is_empty() => {
                AppError::Conflict("the domain is still in use by mailboxes or lists".into())
            }
            StalwartError::DomainInUse { linked } => AppError::Conflict(format!(
                "the domain is still in use by {}",
                linked.join(", ")
            )),
            StalwartError::Set {
                kind: SetErrorKind::PrimaryKeyViolation,
                what,
                ..
            } => AppError::Conflict(format!("the {what} already exists")),
            StalwartError::Set {
                kind: SetErrorKind::InvalidProperties,
                ref properties,
                ref description,
                ..
            } => AppError::bad_input(properties.join(","), description.clone()),
            StalwartError::Method { ref kind, .. }
                if matches!(kind.as_str(), "serverUnavailable" | "serverFail") =>
            {
                unavailable("stalwart", err)
            }
            StalwartError::Call(_) => unavailable("stalwart", err),
            other => AppError::internal(other),
        }
    }
}

/// The Stalwart operations the control plane uses.
#[async_trait]
pub trait StalwartClient: Send + Sync {
    /// The cheapest authenticated call (`GET /jmap/session`), sent once: proves the server
    /// answers and accepts our credentials.
    async fn probe(&self) -> Result<(), StalwartError>;

    /// Finds the domain by exact name or creates it with automatic DKIM (the server then
    /// generates the keys in the background).
    async fn ensure_domain(&self, name: &str) -> Result<Domain, StalwartError>;

    /// Every domain.
    async fn list_domains(&self) -> Result<Vec<Domain>, StalwartError>;

    /// Destroys a domain; an absent one counts as destroyed, one still used by accounts is
    /// [`StalwartError::DomainInUse`].
    async fn delete_domain(&self, domain_id: &str) -> Result<(), StalwartError>;

    /// The DNS records to publish for a domain and its DKIM keys, read back from the server.
    async fn domain_dns(&self, domain_id: &str) -> Result<DomainDns, StalwartError>;

    /// Finds the `User` account `name@domain` or creates it.
    async fn ensure_account(&self, account: &NewAccount) -> Result<Account, StalwartError>;

    /// Changes an account's password, quota, sign-in permission, name or aliases (absolute
    /// values, so repeating it is harmless).
    async fn update_account(
        &self,
        account_id: &str,
        update: &AccountUpdate,
    ) -> Result<(), StalwartError>;

    /// Destroys an account (the server removes its data in the background); an absent one
    /// counts as destroyed.
    async fn delete_account(&self, account_id: &str) -> Result<(), StalwartError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn errors_map_to_app_codes() {
        let in_use = AppError::from(StalwartError::DomainInUse { linked: vec![] });
        assert_eq!(in_use.code(), ErrorCode::Conflict);
        assert!(in_use.public_message().contains("still in use"));
        let named = AppError::from(StalwartError::DomainInUse {
            linked: vec!["2 mailboxes".into()],
        });
        assert_eq!(
            named.public_message(),
            "the domain is still in use by 2 mailboxes"
        );
        let duplicate = StalwartError::Set {
            what: "domain",
            kind: SetErrorKind::PrimaryKeyViolation,
            description: String::new(),
            properties: Vec::new(),
        };
        assert_eq!(AppError::from(duplicate).code(), ErrorCode::Conflict);
        let weak = StalwartError::Set {
            what: "account",
            kind: SetErrorKind::InvalidProperties,
            description: "Password is too weak".into(),
            properties: vec!["credentials/0/secret".into()],
        };
        let weak = AppError::from(weak);
        assert_eq!(weak.code(), ErrorCode::BadUserInput);
        assert_eq!(weak.public_message(), "Password is too weak");
        let down = StalwartError::Method {
            kind: "serverUnavailable".into(),
            description: String::new(),
        };
        assert_eq!(AppError::from(down).code(), ErrorCode::UpstreamUnavailable);
        let bug = StalwartError::Method {
            kind: "unknownMethod".into(),
            description: String::new(),
        };
        assert_eq!(AppError::from(bug).code(), ErrorCode::Internal);
        assert_eq!(
            SetErrorKind::parse("objectIsLinked"),
            SetErrorKind::ObjectIsLinked
        );
        assert_eq!(SetErrorKind::parse("x"), SetErrorKind::Other("x".into()));
    }
}
