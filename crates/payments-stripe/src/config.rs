//! The adapter's settings. Secrets are wrapped so that no `Debug`, `Display` or log line
//! ever prints them.

use std::fmt;
use std::time::Duration;

/// The Stripe API version every request pins with `Stripe-Version`, so that an account
/// upgrade in the dashboard never changes what the adapter reads. Webhook endpoints
/// must be created with the same version (their payloads follow the endpoint's version).
pub const STRIPE_API_VERSION: &str = "2025-08-27.basil";

/// Where the Stripe API lives unless configured otherwise (tests point at a local server).
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// How long one API call may take, connection included, before it counts as unavailable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// How far a webhook's signed timestamp may be from now, either way: Stripe's default.
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends or uses it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Why the adapter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StripeConfigError {
    #[error("payments.stripe.secret_key is empty")]
    MissingSecretKey,
    #[error("payments.stripe.webhook_secret is empty")]
    MissingWebhookSecret,
    #[error("payments.stripe.api_base must be an absolute http(s) URL")]
    BadApiBase,
    #[error("payments.stripe.api_base uses https, but this build has no TLS (feature `tls`)")]
    TlsUnavailable,
    #[error("HTTP client could not be built")]
    Client(#[source] reqwest::Error),
}

/// Everything the adapter needs: the secret API key, the webhook signing secret, the
/// API base URL and the per-call timeout.
#[derive(Clone, Debug)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    pub api_base: String,
    pub timeout: Duration,
}

impl StripeConfig {
    /// The production defaults for the base URL and timeout.
    pub fn new(secret_key: Secret, webhook_secret: Secret) -> StripeConfig {
        StripeConfig {
            secret_key,
            webhook_secret,
            api_base: DEFAULT_API_BASE.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_api_base(mut self, api_base: impl Into<String>) -> StripeConfig {
        self.api_base = api_base.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> StripeConfig {
        self.timeout = timeout;
        self
    }

    pub(crate) fn validate(&self) -> Result<String, StripeConfigError> {
        if self.secret_key.is_empty() {
            return Err(StripeConfigError::MissingSecretKey);
        }
        if self.webhook_secret.is_empty() {
            return Err(StripeConfigError::MissingWebhookSecret);
        }
        let base = self.api_base.trim().trim_end_matches('/');
        let host = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        match host {
            Some(host) if !host.is_empty() => {}
            _ => return Err(StripeConfigError::BadApiBase),
        }
        if base.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(StripeConfigError::TlsUnavailable);
        }
        Ok(base.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secrets() {
        let config = StripeConfig::new(
            Secret::new("sk_test_supersecret"),
            Secret::new("whsec_alsosecret"),
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        assert!(!printed.contains("alsosecret"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn config_needs_both_secrets_and_an_http_base() {
        let ok = StripeConfig::new(Secret::new("sk"), Secret::new("wh"));
        if cfg!(feature = "tls") {
            assert_eq!(ok.validate().unwrap(), "https://api.stripe.com");
        } else {
            assert!(matches!(
                ok.validate(),
                Err(StripeConfigError::TlsUnavailable)
            ));
        }
        assert!(matches!(
            StripeConfig::new(Secret::new(" "), Secret::new("wh")).validate(),
            Err(StripeConfigError::MissingSecretKey)
        ));
        assert!(matches!(
            StripeConfig::new(Secret::new("sk"), Secret::new("")).validate(),
            Err(StripeConfigError::MissingWebhookSecret)
        ));
        assert!(matches!(
            ok.clone().with_api_base("ftp://x").validate(),
            Err(StripeConfigError::BadApiBase)
        ));
        assert_eq!(
            ok.with_api_base("http://127.0.0.1:9/").validate().unwrap(),
            "http://127.0.0.1:9"
        );
    }
}
