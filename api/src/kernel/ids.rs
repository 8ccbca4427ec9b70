//! Opaque global IDs (Relay `Node`): the type name and the row ID, base64url-encoded, so
//! clients treat them as opaque strings and the server can tell which table an ID points to.
use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::kernel::error::ApiError;

/// The most IDs one `nodes` call takes.
pub const MAX_NODES: usize = 100;

/// A kind of record with a global ID: its GraphQL type name, which is also the prefix inside
/// the ID. Only names live here, for encoding and decoding IDs; the kinds themselves
/// (`NodeKind::Area`, …, and `NodeKind::ALL`) are declared by the domain's registry
/// (`domain/mod.rs`), one line per module, and what each kind is, is its module's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKind(&'static str);

impl NodeKind {
    /// The kind named so; the registry declares each one.
    pub const fn named(name: &'static str) -> Self {
        Self(name)
    }

    /// Every kind.
    pub fn all() -> &'static [NodeKind] {
        Self::ALL
    }

    /// The GraphQL type name, which is also the prefix inside the ID.
    pub fn type_name(self) -> &'static str {
        self.0
    }
}

impl NodeKind {
    /// The type's name with its indefinite article ("an Area", "a Theme"), for messages.
    pub fn with_article(self) -> String {
        let name = self.type_name();
        let article = if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name}")
    }

    pub fn from_type_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.type_name() == name)
    }

    /// The global ID of the row `id` of this kind.
    pub fn id(self, id: i64) -> ID {
        ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", self.type_name())))
    }
}

/// A decoded global ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub id: i64,
}

impl GlobalId {
    /// Decodes any global ID; `field` names the argument for the error message.
    pub fn decode(field: &str, id: &ID) -> Result<Self, ApiError> {
        let invalid =
            || ApiError::bad_input(field, format!("`{}` is not a valid ID.", id.as_str()));
        let bytes = URL_SAFE_NO_PAD
            .decode(id.as_str().trim_end_matches('='))
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (name, number) = text.split_once(':').ok_or_else(invalid)?;
        let kind = NodeKind::from_type_name(name).ok_or_else(invalid)?;
        let id: i64 = number.parse().map_err(|_| invalid())?;
        if id <= 0 || number.starts_with('+') || number.starts_with('0') {
            return Err(invalid());
        }
        Ok(Self { kind, id })
    }

    /// Decodes a global ID that must point to a record of `kind`.
    pub fn decode_as(field: &str, id: &ID, kind: NodeKind) -> Result<i64, ApiError> {
        let decoded = Self::decode(field, id)?;
        if decoded.kind != kind {
            return Err(ApiError::bad_input(
                field,
                format!(
                    "`{}` is the ID of {}, not of {}.",
                    id.as_str(),
                    decoded.kind.with_article(),
                    kind.with_article()
                ),
            ));
        }
        Ok(decoded.id)
    }

    /// Decodes a list of IDs that must all point to records of `kind`.
    pub fn decode_all(field: &str, ids: &[ID], kind: NodeKind) -> Result<Vec<i64>, ApiError> {
        ids.iter()
            .map(|id| Self::decode_as(field, id, kind))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = NodeKind::Initiative.id(42);
        assert_eq!(
            GlobalId::decode("id", &id).unwrap(),
            GlobalId {
                kind: NodeKind::Initiative,
                id: 42
            }
        );
    }

    #[test]
    fn refuses_garbage_and_wrong_kinds() {
        for bad in ["", "!!", "SW5pdGlhdGl2ZQ", "Zm9vOjE", "SW5pdGlhdGl2ZTotMQ"] {
            assert!(GlobalId::decode("id", &ID(bad.into())).is_err(), "{bad}");
        }
        let theme = NodeKind::Theme.id(1);
        let err = GlobalId::decode_as("id", &theme, NodeKind::Need).unwrap_err();
        assert!(err.to_string().contains("not of a Need"));
    }
}
