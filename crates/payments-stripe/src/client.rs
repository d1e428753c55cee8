//! The HTTP calls: one POST helper that always sends the Bearer key, the pinned
//! `Stripe-Version` and an `Idempotency-Key`, one GET helper, and the one place where
//! Stripe's answers and transport failures become [`GatewayError`]s.

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tariff_domain::payments::{
    Decline, GatewayError, IdempotencyKey, Rejection, RejectionKind, UnavailableCause,
};

use crate::config::{Secret, StripeConfig, StripeConfigError, STRIPE_API_VERSION};
use crate::form::{self, Form};

/// Stripe's error envelope: `{"error":{"type","code","decline_code","message","param",
/// "payment_intent":{...}}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "type", default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<ErrorPaymentIntent>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorPaymentIntent {
    pub id: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

/// A non-2xx answer from Stripe, before it is mapped: callers that treat some refusals
/// as outcomes (off-session charges) look at it first.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    pub status: u16,
    pub body: ErrorBody,
}

impl ApiFailure {
    pub(crate) fn is_card_error(&self) -> bool {
        self.status == 402 || self.body.error_type.as_deref() == Some("card_error")
    }

    pub(crate) fn decline(&self) -> Decline {
        Decline {
            code: self.body.code.clone(),
            decline_code: self.body.decline_code.clone(),
            message: self.body.message.clone(),
        }
    }

    /// The one mapping of Stripe's statuses and error types to gateway errors.
    pub(crate) fn into_gateway_error(self) -> GatewayError {
        if self.is_card_error() {
            return GatewayError::Declined(self.decline());
        }
        let code = self.body.code.as_deref();
        let kind = match (self.status, self.body.error_type.as_deref()) {
            (status, _) if status < 400 => {
                return GatewayError::Unavailable(UnavailableCause::MalformedResponse)
            }
            (429, _) => return GatewayError::Unavailable(UnavailableCause::RateLimited),
            (409, _) if code == Some("idempotency_key_in_use") => {
                return GatewayError::Unavailable(UnavailableCause::ConcurrentRequest)
            }
            (status, _) if status >= 500 || status == 424 => {
                return GatewayError::Unavailable(UnavailableCause::ServerError(status))
            }
            (_, Some("api_error")) => {
                return GatewayError::Unavailable(UnavailableCause::ServerError(self.status))
            }
            (_, Some("idempotency_error")) | (409, _) => RejectionKind::IdempotencyConflict,
            (401, _) => RejectionKind::Authentication,
            (403, _) => RejectionKind::Permission,
            (404, _) => RejectionKind::NotFound,
            _ => RejectionKind::Invalid,
        };
        GatewayError::InvalidRequest(Rejection {
            kind,
            code: self.body.code,
            message: self.body.message,
            param: self.body.param,
        })
    }
}

/// How one call ended, before mapping.
pub(crate) enum CallError {
    Api(ApiFailure),
    Gateway(GatewayError),
}

impl CallError {
    pub(crate) fn into_gateway_error(self) -> GatewayError {
        match self {
            CallError::Api(failure) => failure.into_gateway_error(),
            CallError::Gateway(error) => error,
        }
    }
}

impl From<GatewayError> for CallError {
    fn from(error: GatewayError) -> Self {
        CallError::Gateway(error)
    }
}

fn transport(error: &reqwest::Error) -> GatewayError {
    let cause = if error.is_timeout() {
        UnavailableCause::Timeout
    } else if error.is_decode() {
        UnavailableCause::MalformedResponse
    } else {
        UnavailableCause::Network
    };
    GatewayError::Unavailable(cause)
}

/// The Stripe API client. `Debug` shows the base URL only.
#[derive(Clone)]
pub(crate) struct StripeClient {
    http: reqwest::Client,
    api_base: String,
    authorization: HeaderValue,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    pub(crate) fn new(config: &StripeConfig) -> Result<StripeClient, StripeConfigError> {
        let api_base = config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Stripe never redirects; following one could carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tariff/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(StripeConfigError::Client)?;
        Ok(StripeClient {
            http,
            api_base,
            authorization: bearer(&config.secret_key)?,
        })
    }

    /// POSTs `form` to `path` with the idempotency key; the 2xx body read as `T`.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        key: &IdempotencyKey,
    ) -> Result<T, CallError> {
        let body = form::encode(form)?;
        tracing::debug!(path, idempotency_key = key.as_str(), "Stripe POST");
        let request = self
            .http
            .post(format!("{}{path}", self.api_base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Stripe-Version", STRIPE_API_VERSION)
            .header("Idempotency-Key", key.as_str())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request, path).await
    }

    /// GETs `path`; the 2xx body read as `T`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        tracing::debug!(path, "Stripe GET");
        let request = self
            .http
            .get(format!("{}{path}", self.api_base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Stripe-Version", STRIPE_API_VERSION);
        self.send(request, path).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, CallError> {
        let response = request.send().await.map_err(|error| {
            let mapped = transport(&error);
            tracing::warn!(path, error = ?mapped, "Stripe call failed");
            CallError::Gateway(mapped)
        })?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|error| CallError::Gateway(transport(&error)))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|_| {
                tracing::warn!(path, status, ?request_id, "Stripe answer not understood");
                CallError::Gateway(GatewayError::Unavailable(
                    UnavailableCause::MalformedResponse,
                ))
            });
        }
        let body = serde_json::from_slice::<ErrorEnvelope>(&bytes)
            .map(|envelope| envelope.error)
            .unwrap_or_default();
        tracing::info!(
            path,
            status,
            ?request_id,
            error_type = ?body.error_type,
            code = ?body.code,
            decline_code = ?body.decline_code,
            "Stripe refused the call"
        );
        Err(CallError::Api(ApiFailure { status, body }))
    }
}

fn bearer(secret: &Secret) -> Result<HeaderValue, StripeConfigError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
        .map_err(|_| StripeConfigError::MissingSecretKey)?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, json: &str) -> GatewayError {
        let body = serde_json::from_str::<ErrorEnvelope>(json)
            .map(|e| e.error)
            .unwrap_or_default();
        ApiFailure { status, body }.into_gateway_error()
    }

    #[test]
    fn statuses_and_error_types_map_to_gateway_errors() {
        assert!(matches!(
            failure(402, r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#),
            GatewayError::Declined(Decline { decline_code: Some(ref d), .. }) if d == "insufficient_funds"
        ));
        assert_eq!(
            failure(500, r#"{"error":{"type":"api_error"}}"#),
            GatewayError::Unavailable(UnavailableCause::ServerError(500))
        );
        assert_eq!(
            failure(503, "<html>down</html>"),
            GatewayError::Unavailable(UnavailableCause::ServerError(503))
        );
        assert_eq!(
            failure(
                429,
                r#"{"error":{"type":"invalid_request_error","code":"rate_limit"}}"#
            ),
            GatewayError::Unavailable(UnavailableCause::RateLimited)
        );
        assert_eq!(
            failure(
                409,
                r#"{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}}"#
            ),
            GatewayError::Unavailable(UnavailableCause::ConcurrentRequest)
        );
        let kind = |error: GatewayError| match error {
            GatewayError::InvalidRequest(rejection) => Some(rejection.kind),
            _ => None,
        };
        assert_eq!(
            kind(failure(400, r#"{"error":{"type":"idempotency_error"}}"#)),
            Some(RejectionKind::IdempotencyConflict)
        );
        assert_eq!(
            kind(failure(
                401,
                r#"{"error":{"type":"invalid_request_error"}}"#
            )),
            Some(RejectionKind::Authentication)
        );
        assert_eq!(kind(failure(403, "{}")), Some(RejectionKind::Permission));
        assert_eq!(
            kind(failure(
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#
            )),
            Some(RejectionKind::NotFound)
        );
        assert_eq!(
            kind(failure(
                400,
                r#"{"error":{"type":"invalid_request_error","code":"parameter_missing","param":"amount"}}"#
            )),
            Some(RejectionKind::Invalid)
        );
    }

    #[test]
    fn the_client_never_prints_its_key() {
        let config = StripeConfig::new(Secret::new("sk_test_topsecret"), Secret::new("whsec_x"))
            .with_api_base("http://127.0.0.1:1");
        let client = StripeClient::new(&config).unwrap();
        let printed = format!("{client:?}");
        assert!(!printed.contains("topsecret"), "{printed}");
        assert!(client.authorization.is_sensitive());
    }
}
