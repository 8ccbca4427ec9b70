//! Who is asking: the viewer of a request and what its role may see.
//!
//! The role is read once per request (from the API key, if any) and every query path (lists,
//! nested fields, `node`/`nodes`) asks the same questions of it, so privacy is decided here.

/// A role, from least to most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Anonymous,
    Partner,
    Editor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Anonymous, Role::Partner, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::Partner => "partner",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// A viewer of this role with no key of its own: what the role may see of a record whose
    /// visibility follows its values is the same for every key of the role.
    pub fn viewer(self) -> Viewer {
        Viewer {
            role: self,
            key: None,
            municipality_id: None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub role: Role,
    /// The API key's ID and name, for the audit trail; `None` when anonymous.
    pub key: Option<(i64, String)>,
    /// The municipality an editor may write to.
    pub municipality_id: Option<i64>,
}

impl Viewer {
    pub fn anonymous() -> Self {
        Self {
            role: Role::Anonymous,
            key: None,
            municipality_id: None,
        }
    }

    /// Contact people (names, e-mails, phones) are personal data.
    pub fn sees_personal_data(&self) -> bool {
        self.role >= Role::Partner
    }

    /// Learnings shared with partners only.
    pub fn sees_partner_content(&self) -> bool {
        self.role >= Role::Partner
    }
}

/// Why a presented key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Malformed,
    Unknown,
    Revoked,
    Expired,
}

impl KeyRefusal {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Malformed => "The Authorization header must be `Bearer <API key>`.",
            Self::Unknown => "This API key is not valid.",
            Self::Revoked => "This API key has been revoked.",
            Self::Expired => "This API key has expired.",
        }
    }

    /// The reason as a stable word, for clients that act on it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "MALFORMED",
            Self::Unknown => "UNKNOWN",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// The prefix every token starts with, so leaked keys are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "stroom_";

/// A new random token: 32 bytes from the operating system's generator, base64url-encoded.
pub fn generate_token() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The stored form of a token. Tokens are long and random, so a fast hash is enough: there
/// is nothing to guess that a slow hash would protect.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How often `last_used_at` is written for a busy key.
const LAST_USE_PRECISION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The viewer of a request from its `Authorization` header: anonymous without one, the key's
/// role with a valid one, refused with a bad, revoked or expired one.
#[tracing::instrument(level = "debug", skip_all, fields(key = header.is_some()))]
pub async fn authenticate(
    db: &sea_orm::DatabaseConnection,
    header: Option<&str>,
) -> Result<Result<Viewer, KeyRefusal>, sea_orm::DbErr> {
    use entity::api_key::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let Some(header) = header else {
        return Ok(Ok(Viewer::anonymous()));
    };
    let token = match header.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => return Ok(Err(KeyRefusal::Malformed)),
    };
    let Some(key) = Entity::find()
        .filter(Column::TokenHash.eq(hash_token(token)))
        .one(db)
        .await?
    else {
        return Ok(Err(KeyRefusal::Unknown));
    };
    let now = crate::kernel::time::now();
    let viewer = match standing(&key, now) {
        Ok(viewer) => viewer,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USE_PRECISION)
    {
        // Best effort: a failed bookkeeping write must not fail the request.
        let _ = Entity::update_many()
            .col_expr(Column::LastUsedAt, sea_orm::sea_query::Expr::val(now))
            .filter(Column::Id.eq(key.id))
            .exec(db)
            .await;
    }
    Ok(Ok(viewer))
}

/// What a stored key may do at `now`: the viewer it makes, or why it makes none. Every check of
/// a key, at admission and again for whatever acts for the key later, asks this.
pub fn standing(
    key: &entity::api_key::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Viewer, KeyRefusal> {
    use entity::enums::KeyRole;
    if key.revoked_at.is_some() {
        return Err(KeyRefusal::Revoked);
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(KeyRefusal::Expired);
    }
    let role = match key.role {
        KeyRole::Partner => Role::Partner,
        KeyRole::Editor => Role::Editor,
        KeyRole::Admin => Role::Admin,
    };
    Ok(Viewer {
        role,
        key: Some((key.id, key.name.clone())),
        municipality_id: key.municipality_id,
    })
}

/// The standing now of each of these keys, read in one statement: for streams, deliveries and
/// anything else that acts for a key long after it was admitted. A key that no longer exists
/// is `Unknown`.
pub async fn standings(
    db: &impl sea_orm::ConnectionTrait,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Result<Viewer, KeyRefusal>>, sea_orm::DbErr> {
    use entity::api_key::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let now = crate::kernel::time::now();
    let mut found: std::collections::HashMap<i64, Result<Viewer, KeyRefusal>> = ids
        .iter()
        .map(|id| (*id, Err(KeyRefusal::Unknown)))
        .collect();
    if ids.is_empty() {
        return Ok(found);
    }
    for key in Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        found.insert(key.id, standing(&key, now));
    }
    Ok(found)
}

/// Why a key no longer admits what an admin key registered (a webhook endpoint, a followed
/// instance), from its standing (`standings`); `None` while it is still an admin key.
pub fn admin_refusal(standing: Option<&Result<Viewer, KeyRefusal>>) -> Option<&'static str> {
    match standing {
        Some(Ok(viewer)) if viewer.role == Role::Admin => None,
        Some(Ok(_)) => Some("is no longer an admin key"),
        Some(Err(KeyRefusal::Revoked)) => Some("was revoked"),
        Some(Err(KeyRefusal::Expired)) => Some("has expired"),
        Some(Err(_)) | None => Some("no longer exists"),
    }
}

impl Viewer {
    /// The stored API key this viewer acts for. The command line acts for none: its key 0
    /// only names it in the audit trail.
    pub fn api_key(&self) -> Option<i64> {
        self.key.as_ref().map(|(id, _)| *id).filter(|id| *id > 0)
    }

    /// Whether `now` grants the same rights as when this viewer was admitted: the same role
    /// and the same municipality. A key whose rights changed must be admitted anew.
    pub fn same_rights(&self, now: &Viewer) -> bool {
        self.role == now.role && self.municipality_id == now.municipality_id
    }

    /// The rights alone, without the key: what decides what a viewer may see.
    pub fn rights(&self) -> Self {
        Self {
            role: self.role,
            key: None,
            municipality_id: self.municipality_id,
        }
    }
}
