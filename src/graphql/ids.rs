//! Opaque global ids: `base64url("<Type>:<uuid>")`, the handle `node(id:)` resolves.
//!
//! Clients must treat them as opaque strings; slugs are the human handles.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::AppError;

pub use crate::graphql::node::NodeType;

/// The key a global id carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKey {
    /// A UUID primary key.
    Uuid(Uuid),
    /// A serial (bigint) primary key.
    Serial(i64),
}

/// A decoded global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalId {
    /// Which type the id names.
    pub ty: NodeType,
    /// The row's primary key.
    pub key: NodeKey,
}

impl GlobalId {
    /// An id for a UUID-keyed row of `ty`.
    pub const fn new(ty: NodeType, id: Uuid) -> Self {
        Self {
            ty,
            key: NodeKey::Uuid(id),
        }
    }

    /// An id for a serial-keyed row of `ty`.
    pub const fn serial(ty: NodeType, id: i64) -> Self {
        Self {
            ty,
            key: NodeKey::Serial(id),
        }
    }

    /// The UUID key (the nil UUID for a serial key, which no row has).
    pub fn uuid(&self) -> Uuid {
        match self.key {
            NodeKey::Uuid(id) => id,
            NodeKey::Serial(_) => Uuid::nil(),
        }
    }

    /// The opaque wire form.
    pub fn encode(&self) -> String {
        let key = match self.key {
            NodeKey::Uuid(id) => id.to_string(),
            NodeKey::Serial(n) => n.to_string(),
        };
        URL_SAFE_NO_PAD.encode(format!("{}:{key}", self.ty.name()))
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
        let (name, key) = text.split_once(':').ok_or_else(bad)?;
        let ty = NodeType::ALL
            .iter()
            .copied()
            .find(|t| t.name() == name)
            .ok_or_else(bad)?;
        let key = if ty.serial() {
            NodeKey::Serial(key.parse().map_err(|_| bad())?)
        } else {
            NodeKey::Uuid(Uuid::parse_str(key).map_err(|_| bad())?)
        };
        Ok(Self { ty, key })
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
    fn serial_ids_round_trip() {
        let id = GlobalId::serial(NodeType::AuditEvent, 42);
        assert_eq!(GlobalId::decode(&id.encode(), "id").unwrap(), id);
        let uuid_for_serial =
            URL_SAFE_NO_PAD.encode("AuditEvent:6f1c8c1e-4b7a-4a53-9a43-3c1f2f0f0b11");
        assert!(GlobalId::decode(&uuid_for_serial, "id").is_err());
        assert!(GlobalId::decode(&URL_SAFE_NO_PAD.encode("Tenant:42"), "id").is_err());
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
