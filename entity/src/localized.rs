use std::collections::BTreeMap;

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// Text in several languages, keyed by locale code (`nl`, `en`, `fr-BE`…), stored as one JSON
/// object so a record and all its translations come back in a single row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct LocalizedText(pub BTreeMap<String, String>);

impl LocalizedText {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder used by seeds and tests: `LocalizedText::new().with("nl", "…").with("en", "…")`.
    pub fn with(mut self, locale: &str, text: impl Into<String>) -> Self {
        self.0.insert(locale.to_owned(), text.into());
        self
    }

    pub fn get(&self, locale: &str) -> Option<&str> {
        self.0.get(locale).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
