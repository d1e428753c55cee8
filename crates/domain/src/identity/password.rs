//! Passwords: a policy, argon2id hashing and constant-time verification.
//!
//! Parameters are OWASP's argon2id recommendation (m = 19 MiB, t = 2, p = 1); each hash
//! carries its own parameters and a 16-byte random salt in the PHC string format, so
//! raising them later does not break existing hashes. Hashing costs tens of
//! milliseconds of CPU on purpose: services call these functions on the blocking pool.

use std::fmt;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::shared::text::AccountValidationError;

/// Memory cost in KiB.
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// Iterations.
pub const ARGON2_T_COST: u32 = 2;
/// Lanes.
pub const ARGON2_P_COST: u32 = 1;

const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;

/// A password that meets the policy (8 to 1024 characters). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Creates it from its parts.
    pub fn new(text: String) -> Result<Password, AccountValidationError> {
        let chars = text.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err(AccountValidationError::new(
                "password",
                "must be 8 to 1024 characters",
            ));
        }
        Ok(Password(text))
    }

    /// The expose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// An argon2id hash in PHC string format (`$argon2id$v=19$m=...`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a stored hash.
    pub fn from_stored(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// Hashing failed; only possible with broken parameters.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashingError(String);

fn hasher() -> Result<Argon2<'static>, HashingError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| HashingError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &Password) -> Result<PasswordHash, HashingError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashingError(e.to_string()))?;
    let hash = hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| HashingError(e.to_string()))?;
    Ok(PasswordHash(hash.to_string()))
}

/// Whether `candidate` matches `hash`. The final comparison is constant-time; a stored
/// value that is not a valid hash never matches. CPU-heavy: call from a blocking thread.
pub fn verify_password(candidate: &str, hash: &PasswordHash) -> bool {
    let Ok(parsed) = argon2::password_hash::PasswordHash::new(hash.as_str()) else {
        return false;
    };
    // The hash's own algorithm and parameters are used, whatever `hasher()` says today.
    Argon2::default()
        .verify_password(candidate.as_bytes(), &parsed)
        .is_ok()
}

/// A hash of a random password nobody knows, with the current parameters.
static DUMMY_HASH: LazyLock<Option<PasswordHash>> = LazyLock::new(|| {
    let secret: [u8; 24] = rand::random();
    let password = Password(hex::encode(secret));
    hash_password(&password).ok()
});

/// Spends the same time as verifying a real password, and fails: used for unknown
/// emails and password-less accounts so that timing does not tell them apart.
pub fn verify_against_dummy(candidate: &str) -> bool {
    if let Some(hash) = DUMMY_HASH.as_ref() {
        let _ = verify_password(candidate, hash);
    }
    false
}

/// Computes the dummy hash now (at start-up) rather than on the first failed login.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let password = Password::new("correct horse battery".into()).unwrap();
        let a = hash_password(&password).unwrap();
        let b = hash_password(&password).unwrap();
        assert_ne!(a, b, "salts must differ");
        assert!(a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterY", &a));
        assert!(!verify_password("", &a));
        assert!(!verify_password(
            "x",
            &PasswordHash::from_stored("not a hash".into())
        ));
    }

    #[test]
    fn dummy_never_matches_and_shares_parameters() {
        assert!(!verify_against_dummy("anything"));
        let dummy = DUMMY_HASH.as_ref().unwrap();
        assert!(dummy
            .as_str()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn policy_and_redaction() {
        assert_eq!(Password::new("short".into()).unwrap_err().field, "password");
        assert!(Password::new("é".repeat(8)).is_ok());
        assert!(Password::new("x".repeat(1025)).is_err());
        let p = Password::new("hunter2hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        let h = hash_password(&p).unwrap();
        assert!(!format!("{h:?}").contains("argon2"));
    }
}
