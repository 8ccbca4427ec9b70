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
