//! Signing secrets at rest. They are needed in clear to sign, so they cannot be hashed;
//! the stores keep them sealed (encrypted and authenticated) by a [`SecretSealer`] and
//! open them only to sign or to show a new secret once.

use super::secret::WebhookSecret;

/// Why a stored secret cannot be opened or a secret cannot be sealed. None of them
/// carries the secret or the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The stored text is neither a sealed secret nor a clear `whsec_` secret.
    #[error("stored webhook secret is malformed")]
    Malformed,
    /// Sealed under a key this instance does not hold (`webhooks.encryption_key` differs
    /// between instances, or was changed without the previous key).
    #[error(
        "stored webhook secret is sealed with a key this instance does not hold (key id {0:08x})"
    )]
    UnknownKey(u32),
    /// The key is right but the text was altered: authentication failed.
    #[error("stored webhook secret failed authentication")]
    Tampered,
    /// The platform's random generator or cipher failed.
    #[error("webhook secret sealing failed")]
    Crypto,
}

/// Encrypts signing secrets for storage and decrypts them again.
///
/// Error contract: [`SecretSealer::seal`] fails only with `Crypto`;
/// [`SecretSealer::open`] fails with `Malformed`, `UnknownKey` or `Tampered`. A stored
/// text in clear (`whsec_...`, from before secrets were sealed) opens as it is, so that
/// such rows stay readable until they are sealed again ([`SecretSealer::is_current`]
/// tells which rows need it).
pub trait SecretSealer: Send + Sync {
    /// The text to store for `secret`; it never contains the secret in clear, and two
    /// seals of one secret differ (a fresh nonce each).
    fn seal(&self, secret: &WebhookSecret) -> Result<String, SealError>;

    /// The secret a stored text holds.
    fn open(&self, stored: &str) -> Result<WebhookSecret, SealError>;

    /// Whether `stored` is sealed with this sealer's current key (false for a clear
    /// secret or one sealed with an older key: reseal it).
    fn is_current(&self, stored: &str) -> bool;
}
