//! [`SecretSealer`] with AES-256-GCM, and the sealing key's storage: the configured
//! `webhooks.encryption_key`, else a key generated at first start and kept in
//! `webhook_sealing_key`. [`open_sealer`] also seals, at start, the secrets stored in
//! clear or under an older key.
//!
//! A sealed secret is `sealed:v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`: the key
//! id (8 hex digits, from a hash of the key) tells which key opens it, so that a
//! configured key can take over from the generated one without losing a secret.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Utc;
use diesel::prelude::*;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use tariff_domain::webhooks::{SealError, SecretSealer, WebhookSecret};
use tariff_domain::RepoError;

use crate::db::{Database, DbConn};
use crate::errors::DbError;
use crate::schema::{webhook_endpoints, webhook_sealing_key};

const SEALED_PREFIX: &str = "sealed:v1:";
const CLEAR_PREFIX: &str = "whsec_";
/// Bound into every seal: a sealed text opens only as a webhook secret.
const AAD: &[u8] = b"tariff webhook secret v1";
/// The sealing key's length: AES-256.
pub const SEALING_KEY_BYTES: usize = 32;

/// A 32-byte AES-256-GCM key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey {
    bytes: [u8; SEALING_KEY_BYTES],
}

/// Text that is not a sealing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("webhooks.encryption_key must be the base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)")]
pub struct InvalidSealingKey;

impl SealingKey {
    /// Reads the base64 of 32 bytes (surrounding blanks ignored).
    pub fn from_base64(text: &str) -> Result<SealingKey, InvalidSealingKey> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| InvalidSealingKey)?;
        let bytes: [u8; SEALING_KEY_BYTES] = bytes.try_into().map_err(|_| InvalidSealingKey)?;
        Ok(SealingKey { bytes })
    }

    /// A fresh key from the operating system's generator.
    pub fn generate() -> Result<SealingKey, SealError> {
        let mut bytes = [0_u8; SEALING_KEY_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError::Crypto)?;
        Ok(SealingKey { bytes })
    }

    fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// A short public name of the key: the first 4 bytes of SHA-256 over a label and
    /// the key. It identifies, it does not reveal.
    pub fn id(&self) -> u32 {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(b"tariff webhook sealing key id");
        context.update(&self.bytes);
        let digest = context.finish();
        let mut first = [0_u8; 4];
        first.copy_from_slice(&digest.as_ref()[..4]);
        u32::from_be_bytes(first)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey(id {:08x})", self.id())
    }
}

/// AES-256-GCM sealing with one current key (seals and opens) and older keys (open
/// only).
pub struct AeadSealer {
    current: (u32, LessSafeKey),
    older: Vec<(u32, LessSafeKey)>,
    random: SystemRandom,
}

impl fmt::Debug for AeadSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AeadSealer(key id {:08x})", self.current.0)
    }
}

fn cipher(key: &SealingKey) -> Result<(u32, LessSafeKey), SealError> {
    let unbound = UnboundKey::new(&AES_256_GCM, &key.bytes).map_err(|_| SealError::Crypto)?;
    Ok((key.id(), LessSafeKey::new(unbound)))
}

impl AeadSealer {
    /// Seals with `current`; opens what `current` or any of `older` sealed.
    pub fn new(current: &SealingKey, older: &[SealingKey]) -> Result<AeadSealer, SealError> {
        Ok(AeadSealer {
            current: cipher(current)?,
            older: older
                .iter()
                .filter(|key| key.id() != current.id())
                .map(cipher)
                .collect::<Result<_, _>>()?,
            random: SystemRandom::new(),
        })
    }

    fn key_for(&self, id: u32) -> Option<&LessSafeKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|(key_id, _)| *key_id == id)
            .map(|(_, key)| key)
    }
}

/// The key id and the sealed bytes of a sealed text.
fn parse_sealed(stored: &str) -> Result<(u32, Vec<u8>), SealError> {
    let rest = stored
        .strip_prefix(SEALED_PREFIX)
        .ok_or(SealError::Malformed)?;
    let (id, data) = rest.split_once(':').ok_or(SealError::Malformed)?;
    if id.len() != 8 {
        return Err(SealError::Malformed);
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| SealError::Malformed)?;
    let data = STANDARD.decode(data).map_err(|_| SealError::Malformed)?;
    if data.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(SealError::Malformed);
    }
    Ok((id, data))
}

impl SecretSealer for AeadSealer {
    fn seal(&self, secret: &WebhookSecret) -> Result<String, SealError> {
        let mut nonce = [0_u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Crypto)?;
        // The clear text sealed is the `whsec_` form: opening gives back exactly what
        // was shown to the administrator.
        let mut data = secret.expose().into_bytes();
        let (id, key) = &self.current;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD),
            &mut data,
        )
        .map_err(|_| SealError::Crypto)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(format!(
            "{SEALED_PREFIX}{id:08x}:{}",
            STANDARD.encode(sealed)
        ))
    }

    fn open(&self, stored: &str) -> Result<WebhookSecret, SealError> {
        if stored.starts_with(CLEAR_PREFIX) {
            return WebhookSecret::parse(stored).map_err(|_| SealError::Malformed);
        }
        let (id, mut data) = parse_sealed(stored)?;
        let key = self.key_for(id).ok_or(SealError::UnknownKey(id))?;
        let mut nonce = [0_u8; NONCE_LEN];
        nonce.copy_from_slice(&data[..NONCE_LEN]);
        let opened = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data[NONCE_LEN..],
            )
            .map_err(|_| SealError::Tampered)?;
        let text = std::str::from_utf8(opened).map_err(|_| SealError::Malformed)?;
        WebhookSecret::parse(text).map_err(|_| SealError::Malformed)
    }

    fn is_current(&self, stored: &str) -> bool {
        matches!(parse_sealed(stored), Ok((id, _)) if id == self.current.0)
    }
}

/// Where the sealing key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `webhooks.encryption_key`.
    Configured,
    /// Generated at first start and kept in the database (`webhook_sealing_key`).
    Stored,
}

/// What [`open_sealer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealerReport {
    pub source: KeySource,
    /// Secrets (current or previous) sealed again: stored in clear, or under the
    /// generated key when a configured key took over.
    pub resealed: usize,
    /// Whether the generated key was dropped from the database (a configured key took
    /// over and every secret is now sealed with it).
    pub dropped_stored_key: bool,
}

/// The sealer this instance uses, after sealing with its key every secret that is not
/// yet (in one transaction). With `configured`, that key seals; a key generated earlier
/// still opens what it sealed, and is deleted once nothing needs it. Without it, the
/// key kept in the database is used, generated at the first start.
/// Errors: `Unavailable`; `Internal` when a stored secret cannot be opened (sealed with
/// a key this instance does not hold) or the platform's cipher fails.
pub async fn open_sealer(
    db: &Database,
    configured: Option<SealingKey>,
) -> Result<(Arc<AeadSealer>, SealerReport), RepoError> {
    db.write(move |conn| {
        conn.write_transaction(|c| {
            let stored = match (&configured, stored_key(c)?) {
                (_, Some(key)) => Some(key),
                (Some(_), None) => None,
                (None, None) => Some(store_new_key(c)?),
            };
            let (current, older, source) = match (&configured, &stored) {
                (Some(key), older) => (
                    key.clone(),
                    older.iter().cloned().collect::<Vec<_>>(),
                    KeySource::Configured,
                ),
                (None, Some(key)) => (key.clone(), Vec::new(), KeySource::Stored),
                (None, None) => return Err(RepoError::internal("no sealing key").into()),
            };
            let sealer = AeadSealer::new(&current, &older).map_err(sealing_failed)?;
            let resealed = reseal_all(c, &sealer)?;
            let dropped_stored_key = source == KeySource::Configured && stored.is_some();
            if dropped_stored_key {
                c.execute(diesel::delete(webhook_sealing_key::table))?;
            }
            Ok((
                Arc::new(sealer),
                SealerReport {
                    source,
                    resealed,
                    dropped_stored_key,
                },
            ))
        })
    })
    .await
}

fn sealing_failed(err: SealError) -> DbError {
    RepoError::internal(format!("webhook secrets: {err}")).into()
}

fn stored_key(c: &mut DbConn<'_>) -> Result<Option<SealingKey>, DbError> {
    let text: Option<String> = c
        .get_result(
            webhook_sealing_key::table
                .filter(webhook_sealing_key::id.eq(1_i64))
                .select(webhook_sealing_key::key),
        )
        .optional()?;
    text.map(|text| {
        SealingKey::from_base64(&text)
            .map_err(|_| RepoError::internal("the stored webhook sealing key is malformed").into())
    })
    .transpose()
}

/// Generates the key and stores it; when another instance stored one first (same
/// moment, PostgreSQL), that one is used.
fn store_new_key(c: &mut DbConn<'_>) -> Result<SealingKey, DbError> {
    let key = SealingKey::generate().map_err(sealing_failed)?;
    c.execute(
        diesel::insert_into(webhook_sealing_key::table)
            .values((
                webhook_sealing_key::id.eq(1_i64),
                webhook_sealing_key::key.eq(key.to_base64()),
                webhook_sealing_key::created_at.eq(Utc::now().naive_utc()),
            ))
            .on_conflict_do_nothing(),
    )?;
    stored_key(c)?.ok_or_else(|| RepoError::internal("webhook sealing key vanished").into())
}

type KeyRow = (i64, String, Option<String>);

/// Seals again, with the current key, every secret that is not sealed with it.
fn reseal_all(c: &mut DbConn<'_>, sealer: &AeadSealer) -> Result<usize, DbError> {
    let rows: Vec<KeyRow> = c.load(
        webhook_endpoints::table
            .order(webhook_endpoints::id.asc())
            .select((
                webhook_endpoints::id,
                webhook_endpoints::secret,
                webhook_endpoints::previous_secret,
            )),
    )?;
    let mut resealed = 0;
    for (id, secret, previous) in rows {
        let stale = |text: &str| !sealer.is_current(text);
        let secret_stale = stale(&secret);
        let previous_stale = previous.as_deref().is_some_and(stale);
        if !secret_stale && !previous_stale {
            continue;
        }
        let reseal = |text: &str| {
            sealer
                .open(text)
                .and_then(|secret| sealer.seal(&secret))
                .map_err(sealing_failed)
        };
        let new_secret = if secret_stale {
            reseal(&secret)?
        } else {
            secret
        };
        let new_previous = match previous {
            Some(text) if previous_stale => Some(reseal(&text)?),
            other => other,
        };
        c.execute(
            diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id))).set((
                webhook_endpoints::secret.eq(new_secret),
                webhook_endpoints::previous_secret.eq(new_previous),
            )),
        )?;
        resealed += usize::from(secret_stale) + usize::from(previous_stale);
    }
    Ok(resealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealingKey {
        SealingKey {
            bytes: [byte; SEALING_KEY_BYTES],
        }
    }

    #[test]
    fn sealed_secrets_open_back_and_never_show_the_secret() {
        let sealer = AeadSealer::new(&key(1), &[]).unwrap();
        let secret = WebhookSecret::generate();
        let sealed = sealer.seal(&secret).unwrap();
        assert!(sealed.starts_with("sealed:v1:"));
        let clear = secret.expose();
        assert!(!sealed.contains(&clear[6..]));
        assert_ne!(
            sealer.seal(&secret).unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(sealer.open(&sealed), Ok(secret.clone()));
        assert!(sealer.is_current(&sealed));
        // Rows stored in clear stay readable, and are flagged for resealing.
        assert_eq!(sealer.open(&clear), Ok(secret));
        assert!(!sealer.is_current(&clear));
    }

    #[test]
    fn a_wrong_key_or_an_altered_text_does_not_open() {
        let first = AeadSealer::new(&key(1), &[]).unwrap();
        let second = AeadSealer::new(&key(2), &[]).unwrap();
        let sealed = first.seal(&WebhookSecret::generate()).unwrap();
        assert_eq!(
            second.open(&sealed),
            Err(SealError::UnknownKey(key(1).id()))
        );
        let taking_over = AeadSealer::new(&key(2), &[key(1)]).unwrap();
        assert!(taking_over.open(&sealed).is_ok());
        assert!(!taking_over.is_current(&sealed));

        let (id, mut data) = parse_sealed(&sealed).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        let altered = format!("{SEALED_PREFIX}{id:08x}:{}", STANDARD.encode(data));
        assert_eq!(first.open(&altered), Err(SealError::Tampered));
        assert_eq!(first.open("sealed:v1:zz:AAAA"), Err(SealError::Malformed));
        assert_eq!(first.open("nonsense"), Err(SealError::Malformed));
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only() {
        let text = STANDARD.encode([9_u8; 32]);
        assert_eq!(SealingKey::from_base64(&format!(" {text}\n")), Ok(key(9)));
        assert_eq!(
            SealingKey::from_base64(&STANDARD.encode([9_u8; 16])),
            Err(InvalidSealingKey)
        );
        assert_eq!(
            SealingKey::from_base64("not base64!"),
            Err(InvalidSealingKey)
        );
        assert!(!format!("{:?}", key(9)).contains(&text));
    }
}
