//! The CECI network of instances: how an instance announces itself, so that partner cities'
//! instances can tell whom they follow (its name, municipality, country and languages) and
//! where its GraphQL API and change feed are.
pub mod follower;
pub mod following;
mod mirror;
pub mod source;

pub use following::{FollowMutation, FollowQuery, FollowedInstance};

use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::kernel::error::ApiError;
use crate::kernel::i18n::FALLBACK_LOCALES;

/// Who runs an instance, as its operator configures it.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// Its name, as the instances following it show it.
    pub name: String,
    /// The municipality running it (its name in any of its languages), when it is one city's.
    pub municipality: Option<String>,
    /// The address others reach it at (`None`: the address a request came in at).
    pub public_url: Option<String>,
}

/// The document at `/.well-known/stroom`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Announcement {
    pub name: String,
    /// The municipality running the instance: its global ID and name per language.
    pub municipality: Option<AnnouncedMunicipality>,
    /// ISO 3166-1 alpha-2, of the municipality.
    pub country: Option<String>,
    /// The municipality's own language first, then those every text falls back to.
    pub languages: Vec<String>,
    pub graphql: String,
    /// The change feed as newline-delimited JSON, resumable with `after`.
    pub feed: String,
    /// Changes whenever the schema does: the first 16 hex digits of its SDL's SHA-256.
    pub schema_version: String,
    pub software: String,
}

#[derive(Debug, Serialize)]
pub struct AnnouncedMunicipality {
    pub id: String,
    pub name: std::collections::BTreeMap<String, String>,
}

/// The first 16 hex digits of the SHA-256 of a schema's SDL.
pub fn schema_version(sdl: &str) -> String {
    let digest = Sha256::digest(sdl.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The announcement of this instance, reached at `base` (no trailing slash).
pub async fn announce(
    db: &impl ConnectionTrait,
    instance: &Instance,
    base: &str,
    schema_version: &str,
) -> Result<Announcement, ApiError> {
    let municipality = match &instance.municipality {
        Some(wanted) => {
            let wanted = wanted.trim().to_lowercase();
            entity::municipality::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .filter(|m| m.archived_at.is_none())
                .find(|m| m.name.0.values().any(|n| n.trim().to_lowercase() == wanted))
        }
        None => None,
    };
    let mut languages: Vec<String> = Vec::new();
    for locale in municipality
        .iter()
        .map(|m| m.default_locale.as_str())
        .chain(FALLBACK_LOCALES.iter().copied())
    {
        if !languages.iter().any(|l| l == locale) {
            languages.push(locale.to_owned());
        }
    }
    let base = base.trim_end_matches('/');
    Ok(Announcement {
        name: instance.name.clone(),
        country: municipality.as_ref().map(|m| m.country.clone()),
        municipality: municipality.map(|m| AnnouncedMunicipality {
            id: crate::kernel::ids::NodeKind::Municipality.id(m.id).0.to_string(),
            name: m.name.0,
        }),
        languages,
        graphql: format!("{base}/graphql"),
        feed: format!("{base}/changes.ndjson"),
        schema_version: schema_version.to_owned(),
        software: format!("stroom/{}", env!("CARGO_PKG_VERSION")),
    })
}
