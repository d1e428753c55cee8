//! Resource limits (0 = unlimited) and create/update/delete permissions.

use std::fmt;
use std::str::FromStr;

/// A metered resource. Its key is the same in `limits`, `usage` and `remaining` JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// Memory.
    Memory,
    /// Disk.
    Disk,
    /// Cpu.
    Cpu,
    /// Servers.
    Servers,
    /// Sites.
    Sites,
    /// Databases.
    Databases,
    /// Backups.
    Backups,
    /// Port count.
    PortCount,
    /// Tunnel port count.
    TunnelPortCount,
    /// Email daily limit.
    EmailDailyLimit,
    /// Email queue limit.
    EmailQueueLimit,
}

impl Resource {
    /// All.
    pub const ALL: [Resource; 11] = [
        Resource::Memory,
        Resource::Disk,
        Resource::Cpu,
        Resource::Servers,
        Resource::Sites,
        Resource::Databases,
        Resource::Backups,
        Resource::PortCount,
        Resource::TunnelPortCount,
        Resource::EmailDailyLimit,
        Resource::EmailQueueLimit,
    ];

    /// The JSON key (and the value of a usage call's `resource`).
    pub fn key(self) -> &'static str {
        match self {
            Resource::Memory => "memory",
            Resource::Disk => "disk",
            Resource::Cpu => "cpu",
            Resource::Servers => "servers",
            Resource::Sites => "sites",
            Resource::Databases => "databases",
            Resource::Backups => "backups",
            Resource::PortCount => "portCount",
            Resource::TunnelPortCount => "tunnelPortCount",
            Resource::EmailDailyLimit => "emailDailyLimit",
            Resource::EmailQueueLimit => "emailQueueLimit",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The text was not one of the resource keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource `{0}`")]
pub struct UnknownResource(pub String);

impl FromStr for Resource {
    type Err = UnknownResource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Resource::ALL
            .into_iter()
            .find(|r| r.key() == s)
            .ok_or_else(|| UnknownResource(s.to_owned()))
    }
}

/// One limit: a non-negative count where 0 means unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Limit(u64);

impl Limit {
    /// Unlimited.
    pub const UNLIMITED: Limit = Limit(0);

    /// Database columns are signed; a negative stored value is treated as corrupt.
    pub fn from_stored(raw: i64) -> Option<Limit> {
        u64::try_from(raw).ok().map(Limit)
    }

    /// Creates it from its parts.
    pub fn new(value: u64) -> Limit {
        Limit(value)
    }

    /// Value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// Whether it is unlimited.
    pub fn is_unlimited(self) -> bool {
        self.0 == 0
    }

    /// Whether `used + requested` fits. Unlimited always fits.
    pub fn allows(self, used: u64, requested: u64) -> bool {
        self.is_unlimited()
            || used
                .checked_add(requested)
                .is_some_and(|total| total <= self.0)
    }

    /// What is left, or `None` when unlimited. Usage above the limit leaves 0.
    pub fn remaining(self, used: u64) -> Option<u64> {
        (!self.is_unlimited()).then(|| self.0.saturating_sub(used))
    }
}

/// A full set of limits, one per resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Limits([Limit; 11]);

impl Limits {
    /// Unlimited.
    pub fn unlimited() -> Limits {
        Limits::default()
    }

    /// The raw value.
    pub fn get(&self, resource: Resource) -> Limit {
        self.0[resource.index()]
    }

    /// Set.
    pub fn set(&mut self, resource: Resource, limit: Limit) {
        self.0[resource.index()] = limit;
    }

    /// With.
    pub fn with(mut self, resource: Resource, limit: Limit) -> Limits {
        self.set(resource, limit);
        self
    }

    /// The iter.
    pub fn iter(&self) -> impl Iterator<Item = (Resource, Limit)> + '_ {
        Resource::ALL.into_iter().map(|r| (r, self.get(r)))
    }
}

/// Create/update/delete permissions for servers or sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permissions {
    /// Create.
    pub create: bool,
    /// Update.
    pub update: bool,
    /// Delete.
    pub delete: bool,
}

impl Permissions {
    /// All.
    pub const ALL: Permissions = Permissions {
        create: true,
        update: true,
        delete: true,
    };
    /// None.
    pub const NONE: Permissions = Permissions {
        create: false,
        update: false,
        delete: false,
    };
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_means_unlimited() {
        assert!(Limit::UNLIMITED.allows(u64::MAX - 1, 1));
        assert_eq!(Limit::UNLIMITED.remaining(10), None);
    }

    #[test]
    fn limits_bound_usage() {
        let ten = Limit::new(10);
        assert!(ten.allows(9, 1));
        assert!(!ten.allows(10, 1));
        assert!(!ten.allows(u64::MAX, 1));
        assert_eq!(ten.remaining(4), Some(6));
        assert_eq!(ten.remaining(12), Some(0));
    }

    #[test]
    fn resource_keys_parse_back() {
        for r in Resource::ALL {
            assert_eq!(r.key().parse::<Resource>().unwrap(), r);
        }
        assert!("serverLimit".parse::<Resource>().is_err());
    }

    proptest! {
        #[test]
        fn allows_matches_arithmetic(limit in 1_u64..1_000_000, used in 0_u64..2_000_000, req in 0_u64..1_000_000) {
            prop_assert_eq!(Limit::new(limit).allows(used, req), used + req <= limit);
        }

        #[test]
        fn remaining_agrees_with_allows(limit in 0_u64..1_000_000, used in 0_u64..2_000_000, req in 0_u64..1_000_000) {
            let limit = Limit::new(limit);
            match limit.remaining(used) {
                None => prop_assert!(limit.is_unlimited() && limit.allows(used, req)),
                Some(left) => {
                    prop_assert_eq!(limit.allows(used, req), used <= limit.value() && req <= left);
                    prop_assert!(left <= limit.value());
                }
            }
        }

        #[test]
        fn huge_numbers_never_overflow_into_a_yes(limit in 1_u64..=u64::MAX, used in 0_u64..=u64::MAX, req in 0_u64..=u64::MAX) {
            let allowed = Limit::new(limit).allows(used, req);
            prop_assert_eq!(allowed, u128::from(used) + u128::from(req) <= u128::from(limit));
        }

        #[test]
        fn a_granted_request_never_leaves_usage_above_the_limit(limit in 1_u64..10_000, steps in proptest::collection::vec(0_u64..500, 0..60)) {
            let limit = Limit::new(limit);
            let mut used = 0_u64;
            for step in steps {
                if limit.allows(used, step) {
                    used += step;
                }
                prop_assert!(used <= limit.value());
            }
        }

        #[test]
        fn stored_values_round_trip(value in i64::MIN..=i64::MAX) {
            prop_assert_eq!(Limit::from_stored(value).map(Limit::value), u64::try_from(value).ok());
        }
    }
}
