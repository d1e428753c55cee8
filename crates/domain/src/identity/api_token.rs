//! An API token as its owner sees it.

use chrono::{DateTime, Utc};

use crate::shared::ids::TokenId;

/// A token as its owner sees it: never the secret, never its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    id: TokenId,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Creates it from its parts.
    pub fn new(
        id: TokenId,
        name: String,
        created_at: DateTime<Utc>,
        last_used_at: Option<DateTime<Utc>>,
    ) -> ApiToken {
        ApiToken {
            id,
            name,
            created_at,
            last_used_at,
        }
    }
    /// The id.
    pub fn id(&self) -> TokenId {
        self.id
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// Recorded at most once a minute.
    pub fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.last_used_at
    }
}
