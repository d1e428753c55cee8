//! Which panel's JSON Tariff speaks where the seed document and the real panel disagree
//! (`api.profile`, CONTRACT.md part two "Profiles"). Read once at start-up and kept in
//! [`crate::ApiState`]; only the DTO layer and the handlers' response envelopes look at
//! it. The domain knows nothing of profiles.

use std::fmt;
use std::str::FromStr;

/// The representation profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// The seed document exactly (part one of the contract).
    #[default]
    Seed,
    /// What the real EcliPanel frontend reads: `educational`, `null` for unlimited, the
    /// `{success, ...}` envelopes, `{orders, total, page, per}` for the admin order list.
    Eclipanel,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Seed => "seed",
            Profile::Eclipanel => "eclipanel",
        }
    }

    pub fn is_eclipanel(self) -> bool {
        self == Profile::Eclipanel
    }

    /// A limit as this profile writes it: `0` (seed) or `null` (eclipanel) for unlimited.
    pub fn limit(self, value: u64) -> Option<u64> {
        match (self, value) {
            (Profile::Eclipanel, 0) => None,
            _ => Some(value),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no profile.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a profile; use seed or eclipanel")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "seed" => Ok(Profile::Seed),
            "eclipanel" => Ok(Profile::Eclipanel),
            other => Err(UnknownProfile(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_write_unlimited_their_way() {
        assert_eq!("seed".parse(), Ok(Profile::Seed));
        assert_eq!("eclipanel".parse(), Ok(Profile::Eclipanel));
        assert!("panel".parse::<Profile>().is_err());
        assert_eq!(Profile::Seed.limit(0), Some(0));
        assert_eq!(Profile::Eclipanel.limit(0), None);
        assert_eq!(Profile::Eclipanel.limit(5), Some(5));
    }
}
