//! Signing secrets: `whsec_` followed by the base64 of random bytes, one per endpoint,
//! and the rotation that keeps the previous secret signing for a while.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;

const SECRET_PREFIX: &str = "whsec_";
/// The Standard Webhooks bounds on a symmetric key: 24 to 64 bytes.
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;
/// Length of the secrets Tariff generates.
pub const GENERATED_SECRET_BYTES: usize = 32;

/// How long the previous secret keeps signing after a rotation by default: long enough
/// for an administrator to install the new secret in the panel.
pub const DEFAULT_ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// An endpoint's HMAC key. `Debug` never shows it; [`WebhookSecret::expose`] gives the
/// `whsec_...` text, to be shown once to an administrator and stored by the adapter.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Text that is not a usable secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecret {
    #[error("a webhook secret starts with `whsec_`")]
    MissingPrefix,
    #[error("a webhook secret is `whsec_` followed by base64")]
    NotBase64,
    #[error("a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")]
    WrongLength,
}

impl WebhookSecret {
    /// A fresh secret of [`GENERATED_SECRET_BYTES`] random bytes from the operating
    /// system's generator.
    pub fn generate() -> WebhookSecret {
        let mut key = vec![0_u8; GENERATED_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        WebhookSecret { key }
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<WebhookSecret, InvalidSecret> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(InvalidSecret::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| InvalidSecret::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(InvalidSecret::WrongLength);
        }
        Ok(WebhookSecret { key })
    }

    /// The `whsec_...` text. Only for showing to an administrator once and for storage.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The HMAC key: the decoded bytes after `whsec_`.
    pub(crate) fn key_bytes(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

/// The secrets that sign an endpoint's deliveries: the current one and, for a while
/// after a rotation, the previous one. While both are active every delivery carries
/// two signatures, so a receiver verifies with either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeys {
    current: WebhookSecret,
    previous: Option<PreviousSecret>,
}

/// A replaced secret and the moment it stops signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousSecret {
    pub secret: WebhookSecret,
    pub signs_until: DateTime<Utc>,
}

impl SigningKeys {
    /// Keys for a new endpoint: one secret.
    pub fn new(current: WebhookSecret) -> SigningKeys {
        SigningKeys {
            current,
            previous: None,
        }
    }

    /// Reassembles stored keys.
    pub fn with_previous(current: WebhookSecret, previous: Option<PreviousSecret>) -> SigningKeys {
        SigningKeys { current, previous }
    }

    pub fn current(&self) -> &WebhookSecret {
        &self.current
    }

    pub fn previous(&self) -> Option<&PreviousSecret> {
        self.previous.as_ref()
    }

    /// Replaces the current secret with `new`; the old one keeps signing until
    /// `now + overlap`. A secret that was still in its overlap is dropped: only the
    /// last two secrets ever sign.
    pub fn rotate(
        &self,
        new: WebhookSecret,
        now: DateTime<Utc>,
        overlap: TimeDelta,
    ) -> SigningKeys {
        SigningKeys {
            current: new,
            previous: Some(PreviousSecret {
                secret: self.current.clone(),
                signs_until: now + overlap,
            }),
        }
    }

    /// The secrets that sign at `now`: the current one first, then the previous one
    /// while its overlap lasts.
    pub fn active(&self, now: DateTime<Utc>) -> Vec<WebhookSecret> {
        let mut active = vec![self.current.clone()];
        if let Some(previous) = &self.previous {
            if now < previous.signs_until {
                active.push(previous.secret.clone());
            }
        }
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_prefixed_random_and_parse_back() {
        let first = WebhookSecret::generate();
        let second = WebhookSecret::generate();
        assert_ne!(first, second);
        let text = first.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text), Ok(first.clone()));
        assert_eq!(first.key_bytes().len(), GENERATED_SECRET_BYTES);
        assert_eq!(format!("{first:?}"), "WebhookSecret(redacted)");
        assert!(!format!("{:?}", SigningKeys::new(first)).contains(&text[6..]));
    }

    #[test]
    fn parse_refuses_what_is_not_a_secret() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(InvalidSecret::MissingPrefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_!!!"),
            Err(InvalidSecret::NotBase64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ="),
            Err(InvalidSecret::WrongLength)
        );
        let too_long = format!("whsec_{}", STANDARD.encode([7_u8; MAX_SECRET_BYTES + 1]));
        assert_eq!(
            WebhookSecret::parse(&too_long),
            Err(InvalidSecret::WrongLength)
        );
    }

    #[test]
    fn rotation_keeps_the_previous_secret_signing_for_the_overlap() {
        let now = Utc::now();
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let keys = SigningKeys::new(old.clone()).rotate(new.clone(), now, TimeDelta::hours(1));
        assert_eq!(keys.active(now), vec![new.clone(), old.clone()]);
        assert_eq!(
            keys.active(now + TimeDelta::minutes(59)),
            vec![new.clone(), old]
        );
        assert_eq!(keys.active(now + TimeDelta::hours(1)), vec![new.clone()]);

        let newest = WebhookSecret::generate();
        let again = keys.rotate(newest.clone(), now, TimeDelta::hours(1));
        assert_eq!(again.active(now), vec![newest, new]);
    }
}
