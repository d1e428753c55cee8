//! Checking a delivery's Standard Webhooks signature as a receiver does, independently of
//! Tariff's own signing code.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether any `v1,<base64>` entry of the space-separated `header` is
/// `HMAC-SHA256(key, "<id>.<timestamp>.<body>")`, with the key base64-decoded from after
/// `whsec_` in `secret`. Compared in constant time (`verify_slice`).
pub fn signature_verifies(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> bool {
    let Ok(key) = STANDARD.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    header.split(' ').any(|entry| {
        let Some(given) = entry
            .strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
        else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    })
}
