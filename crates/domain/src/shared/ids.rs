//! Identifier newtypes: a plan id can never be passed where an order id is expected.

use std::fmt;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a database id. Ids are positive; anything else is rejected.
            pub fn new(raw: i64) -> Option<Self> {
                (raw > 0).then_some(Self(raw))
            }

            /// The raw value.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_newtype!(
    /// Identifies a plan (a "package" in the packages dialect).
    PlanId
);
id_newtype!(
    /// Identifies a user account.
    UserId
);
id_newtype!(
    /// Identifies an organisation.
    OrgId
);
id_newtype!(
    /// Identifies an order.
    OrderId
);
id_newtype!(
    /// Identifies an API token (not the secret itself).
    TokenId
);

/// Who holds a plan, usage and orders: a single user or an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountRef {
    /// User.
    User(UserId),
    /// Org.
    Org(OrgId),
}

impl AccountRef {
    /// The stable kind tag stored in the database (`user` or `org`).
    pub fn kind(self) -> &'static str {
        match self {
            AccountRef::User(_) => "user",
            AccountRef::Org(_) => "org",
        }
    }

    /// Raw id.
    pub fn raw_id(self) -> i64 {
        match self {
            AccountRef::User(id) => id.get(),
            AccountRef::Org(id) => id.get(),
        }
    }

    /// Rebuilds an account reference from its stored kind tag and id.
    pub fn from_parts(kind: &str, id: i64) -> Option<Self> {
        match kind {
            "user" => UserId::new(id).map(AccountRef::User),
            "org" => OrgId::new(id).map(AccountRef::Org),
            _ => None,
        }
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind(), self.raw_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_positive() {
        assert!(PlanId::new(0).is_none());
        assert!(PlanId::new(-3).is_none());
        assert_eq!(PlanId::new(7).map(PlanId::get), Some(7));
    }

    #[test]
    fn account_ref_round_trips_through_its_parts() {
        let user = AccountRef::User(UserId::new(5).unwrap());
        assert_eq!(
            AccountRef::from_parts(user.kind(), user.raw_id()),
            Some(user)
        );
        let org = AccountRef::Org(OrgId::new(9).unwrap());
        assert_eq!(AccountRef::from_parts(org.kind(), org.raw_id()), Some(org));
        assert_eq!(AccountRef::from_parts("team", 1), None);
    }
}
