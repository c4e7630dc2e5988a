//! Opaque global ids: `base64url("<Type>:<uuid>")`, the handle `node(id:)` resolves.
//!
//! Clients must treat them as opaque strings; slugs are the human handles.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::AppError;

/// The object types that carry global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// A person known to the platform.
    User,
    /// A customer organisation.
    Tenant,
    /// A reseller.
    Partner,
    /// A user's membership of a tenant.
    Member,
}

impl NodeType {
    const ALL: [Self; 4] = [Self::User, Self::Tenant, Self::Partner, Self::Member];

    /// The GraphQL type name, as encoded in the id.
    pub const fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Tenant => "Tenant",
            Self::Partner => "Partner",
            Self::Member => "Member",
        }
    }
}

/// A decoded global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalId {
    /// Which type the id names.
    pub ty: NodeType,
    /// The row's primary key.
    pub id: Uuid,
}

impl GlobalId {
    /// An id for a row of `ty`.
    pub const fn new(ty: NodeType, id: Uuid) -> Self {
        Self { ty, id }
    }

    /// The opaque wire form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.ty.name(), self.id))
    }

    /// The wire form as a GraphQL `ID`.
    pub fn to_id(&self) -> async_graphql::ID {
        async_graphql::ID(self.encode())
    }

    /// Decodes a client-supplied id; anything malformed is `BAD_USER_INPUT` on `field`.
    pub fn decode(raw: &str, field: &str) -> Result<Self, AppError> {
        let bad = || AppError::bad_input(field, "not a valid id");
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim_end_matches('='))
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (name, id) = text.split_once(':').ok_or_else(bad)?;
        let ty = NodeType::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(bad)?;
        let id = Uuid::parse_str(id).map_err(|_| bad())?;
        Ok(Self { ty, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn ids_round_trip_and_are_opaque() {
        let id = GlobalId::new(NodeType::User, Uuid::new_v4());
        let wire = id.encode();
        assert!(!wire.contains("User"));
        assert_eq!(GlobalId::decode(&wire, "id").unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_bad_input_on_the_named_field() {
        for raw in [
            "",
            "%%%",
            &URL_SAFE_NO_PAD.encode("User"),
            &URL_SAFE_NO_PAD.encode("Nope:6f1c8c1e-4b7a-4a53-9a43-3c1f2f0f0b11"),
            &URL_SAFE_NO_PAD.encode("User:not-a-uuid"),
        ] {
            let err = GlobalId::decode(raw, "ids.0").unwrap_err();
            assert_eq!(err.code(), ErrorCode::BadUserInput, "{raw}");
            assert!(matches!(err, AppError::BadUserInput { ref field, .. } if field == "ids.0"));
        }
    }
}
