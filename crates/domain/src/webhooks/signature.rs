//! The Standard Webhooks signature: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the decoded secret; several
//! space-separated signatures while a rotated secret still signs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secret::{WebhookSecret, MAX_SECRET_BYTES};

type HmacSha256 = Hmac<Sha256>;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
const SYMMETRIC_VERSION: &str = "v1";

/// How far a receiver should let `webhook-timestamp` stray from its clock (the Standard
/// Webhooks libraries use five minutes).
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// The three headers of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
}

impl SignedHeaders {
    /// The headers as (name, value) pairs, in the order they are sent.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_ID, self.id.as_str()),
            (HEADER_TIMESTAMP, self.timestamp.as_str()),
            (HEADER_SIGNATURE, self.signature.as_str()),
        ]
    }
}

fn keyed_mac(secret: &WebhookSecret) -> HmacSha256 {
    // HMAC pads keys shorter than the hash's 64-byte block with zeros (RFC 2104), so a
    // zero-padded block is the same key; secrets never exceed the block by construction.
    let bytes = secret.key_bytes();
    let mut block = hmac::digest::Key::<HmacSha256>::default();
    let used = bytes.len().min(MAX_SECRET_BYTES);
    block[..used].copy_from_slice(&bytes[..used]);
    <HmacSha256 as hmac::digest::KeyInit>::new(&block)
}

fn mac_over(secret: &WebhookSecret, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = keyed_mac(secret);
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// One `v1,<base64>` signature of `id.timestamp.body` with `secret`.
pub fn sign_one(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac_over(secret, id, &timestamp.to_string(), body).finalize();
    format!("{SYMMETRIC_VERSION},{}", STANDARD.encode(tag.into_bytes()))
}

/// The headers of one attempt sent at `timestamp` (unix seconds), signed with every
/// secret in `secrets` (current first), space-separated.
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let signature = secrets
        .iter()
        .map(|secret| sign_one(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    SignedHeaders {
        id: id.to_owned(),
        timestamp: timestamp.to_string(),
        signature,
    }
}

/// Why a delivery did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a whole number of seconds")]
    MalformedTimestamp,
    #[error("webhook-timestamp is too far from the current time")]
    TimestampOutOfTolerance,
    #[error("no signature in webhook-signature matches")]
    NoMatchingSignature,
}

/// Checks a received delivery the way a receiver must: the timestamp within
/// `tolerance` of `now` (against replays), then each `v1` signature in the header until
/// one matches, compared in constant time. Signatures of other versions are skipped.
pub fn verify(
    secret: &WebhookSecret,
    headers: &SignedHeaders,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), VerifyError> {
    let seconds: i64 = headers
        .timestamp
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp)?;
    let sent = DateTime::from_timestamp(seconds, 0).ok_or(VerifyError::MalformedTimestamp)?;
    if (now - sent).abs() > tolerance {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let expected = mac_over(secret, &headers.id, &headers.timestamp, body);
    let matched = headers
        .signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SYMMETRIC_VERSION)
        .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
        .any(|candidate| expected.clone().verify_slice(&candidate).is_ok());
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks reference libraries.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            sign_one(&secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
        let headers = sign(&[secret], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(headers.id, SPEC_ID);
        assert_eq!(headers.timestamp, "1614265330");
        assert_eq!(headers.signature, SPEC_SIGNATURE);
    }

    #[test]
    fn verifies_the_standard_webhooks_test_vector_and_refuses_tampering() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        let headers = SignedHeaders {
            id: SPEC_ID.into(),
            timestamp: SPEC_TIMESTAMP.to_string(),
            signature: SPEC_SIGNATURE.into(),
        };
        let now = at(SPEC_TIMESTAMP + 10);
        assert_eq!(
            verify(&secret, &headers, SPEC_BODY, now, DEFAULT_TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(
                &secret,
                &headers,
                br#"{"test": 2432232315}"#,
                now,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoMatchingSignature)
        );
        let other_id = SignedHeaders {
            id: "msg_other".into(),
            ..headers.clone()
        };
        assert_eq!(
            verify(&secret, &other_id, SPEC_BODY, now, DEFAULT_TOLERANCE),
            Err(VerifyError::NoMatchingSignature)
        );
        let moved = SignedHeaders {
            timestamp: (SPEC_TIMESTAMP + 1).to_string(),
            ..headers.clone()
        };
        assert_eq!(
            verify(&secret, &moved, SPEC_BODY, now, DEFAULT_TOLERANCE),
            Err(VerifyError::NoMatchingSignature)
        );
        let late = at(SPEC_TIMESTAMP + 301);
        assert_eq!(
            verify(&secret, &headers, SPEC_BODY, late, DEFAULT_TOLERANCE),
            Err(VerifyError::TimestampOutOfTolerance)
        );
        let garbled = SignedHeaders {
            timestamp: "soon".into(),
            ..headers
        };
        assert_eq!(
            verify(&secret, &garbled, SPEC_BODY, now, DEFAULT_TOLERANCE),
            Err(VerifyError::MalformedTimestamp)
        );
    }

    #[test]
    fn generated_secrets_round_trip_and_others_do_not_verify() {
        let secret = WebhookSecret::generate();
        let stranger = WebhookSecret::generate();
        let body = br#"{"id":"evt_x","type":"plan.created"}"#;
        let now = Utc::now();
        let headers = sign(
            std::slice::from_ref(&secret),
            "evt_x",
            now.timestamp(),
            body,
        );
        assert_eq!(
            verify(&secret, &headers, body, now, DEFAULT_TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(&stranger, &headers, body, now, DEFAULT_TOLERANCE),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn during_rotation_either_secret_verifies() {
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let body = b"{}";
        let now = Utc::now();
        let headers = sign(&[new.clone(), old.clone()], "evt_r", now.timestamp(), body);
        let parts: Vec<_> = headers.signature.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign_one(&new, "evt_r", now.timestamp(), body));
        assert_eq!(parts[1], sign_one(&old, "evt_r", now.timestamp(), body));
        assert_eq!(verify(&new, &headers, body, now, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(verify(&old, &headers, body, now, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(
            verify(
                &WebhookSecret::generate(),
                &headers,
                body,
                now,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn unknown_versions_and_garbage_entries_are_skipped() {
        let secret = WebhookSecret::generate();
        let body = b"{}";
        let now = Utc::now();
        let good = sign_one(&secret, "evt_v", now.timestamp(), body);
        let signature = format!("v1a,AAAA v1,not-base64 nonsense {good}");
        let headers = SignedHeaders {
            id: "evt_v".into(),
            timestamp: now.timestamp().to_string(),
            signature,
        };
        assert_eq!(
            verify(&secret, &headers, body, now, DEFAULT_TOLERANCE),
            Ok(())
        );
        // The right bytes under another version tag are not accepted.
        let relabelled = SignedHeaders {
            signature: good.replacen("v1,", "v2,", 1),
            ..headers
        };
        assert_eq!(
            verify(&secret, &relabelled, body, now, DEFAULT_TOLERANCE),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}
