//! [`StripeGateway`]: the [`PaymentGateway`] port over Stripe's REST API.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tariff_domain::payments::{
    ChargeOutcome, CheckoutRequest, CheckoutSession, CheckoutSessionId, CustomerRequest, Decline,
    GatewayCustomerId, GatewayError, GatewayEvent, OffSessionCharge, PaymentGateway,
    PaymentMethodRef, PaymentProvider, PaymentReference, RefundId, RefundOutcome, RefundRequest,
    RefundStatus, UnavailableCause,
};

use crate::amount::from_stripe_amount;
use crate::client::{CallError, StripeClient};
use crate::config::{Secret, StripeConfig, StripeConfigError, WEBHOOK_TOLERANCE_SECS};
use crate::form;
use crate::webhook::{self, IdOrObject};

/// The Stripe adapter. Cheap to clone; `Debug` prints no secret.
#[derive(Clone)]
pub struct StripeGateway {
    client: StripeClient,
    webhook_secret: Secret,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway")
            .field("client", &self.client)
            .field("webhook_secret", &self.webhook_secret)
            .finish()
    }
}

impl StripeGateway {
    /// Errors: an empty key or webhook secret, an API base that is not an http(s) URL,
    /// an https base in a build without TLS.
    pub fn new(config: &StripeConfig) -> Result<StripeGateway, StripeConfigError> {
        Ok(StripeGateway {
            client: StripeClient::new(config)?,
            webhook_secret: config.webhook_secret.clone(),
        })
    }
}

#[derive(Deserialize)]
struct SessionBody {
    id: String,
    url: Option<String>,
    expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct CustomerBody {
    id: String,
}

#[derive(Deserialize)]
struct PaymentIntentBody {
    id: String,
    status: String,
    #[serde(default)]
    payment_method: Option<IdOrObject>,
    #[serde(default)]
    last_payment_error: Option<webhook::RawPaymentError>,
}

#[derive(Deserialize)]
struct RefundBody {
    id: String,
    amount: i64,
    currency: String,
    status: Option<String>,
}

/// A 2xx answer whose content breaks the documented shape.
fn malformed() -> GatewayError {
    GatewayError::Unavailable(UnavailableCause::MalformedResponse)
}

fn id<T, E>(make: impl FnOnce(String) -> Result<T, E>, raw: String) -> Result<T, GatewayError> {
    make(raw).map_err(|_| malformed())
}

/// Path segments are Stripe ids: refuse anything that could leave the segment.
fn path_segment(raw: &str) -> Result<&str, GatewayError> {
    if raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(raw)
    } else {
        Err(GatewayError::InvalidRequest(
            tariff_domain::payments::Rejection::with_message(
                tariff_domain::payments::RejectionKind::Invalid,
                "reference is not a Stripe id",
            ),
        ))
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn provider(&self) -> PaymentProvider {
        PaymentProvider::Stripe
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, GatewayError> {
        let form = form::checkout_session(request)?;
        let body: SessionBody = self
            .client
            .post("/v1/checkout/sessions", &form, request.idempotency_key())
            .await
            .map_err(CallError::into_gateway_error)?;
        Ok(CheckoutSession {
            id: id(CheckoutSessionId::new, body.id)?,
            url: body.url.ok_or_else(malformed)?,
            expires_at: body
                .expires_at
                .and_then(|seconds| DateTime::from_timestamp(seconds, 0)),
        })
    }

    async fn ensure_customer(
        &self,
        request: &CustomerRequest,
    ) -> Result<GatewayCustomerId, GatewayError> {
        let form = form::customer(request);
        let body: CustomerBody = self
            .client
            .post("/v1/customers", &form, &request.idempotency_key)
            .await
            .map_err(CallError::into_gateway_error)?;
        id(GatewayCustomerId::new, body.id)
    }

    async fn payment_method_of(
        &self,
        payment: &PaymentReference,
    ) -> Result<Option<PaymentMethodRef>, GatewayError> {
        let path = format!("/v1/payment_intents/{}", path_segment(payment.as_str())?);
        let body: PaymentIntentBody = self
            .client
            .get(&path)
            .await
            .map_err(CallError::into_gateway_error)?;
        body.payment_method
            .map(|method| id(PaymentMethodRef::new, method.id()))
            .transpose()
    }

    async fn charge_off_session(
        &self,
        request: &OffSessionCharge,
    ) -> Result<ChargeOutcome, GatewayError> {
        let form = form::off_session_payment_intent(request)?;
        let answer: Result<PaymentIntentBody, CallError> = self
            .client
            .post("/v1/payment_intents", &form, request.idempotency_key())
            .await;
        match answer {
            Ok(intent) => charge_outcome(intent),
            Err(CallError::Api(failure)) if failure.is_card_error() => {
                let payment = failure
                    .body
                    .payment_intent
                    .as_ref()
                    .and_then(|intent| PaymentReference::new(intent.id.clone()).ok());
                match payment {
                    Some(payment)
                        if failure.body.code.as_deref() == Some("authentication_required") =>
                    {
                        Ok(ChargeOutcome::RequiresAction { payment })
                    }
                    payment => Ok(ChargeOutcome::Declined {
                        payment,
                        decline: failure.decline(),
                    }),
                }
            }
            Err(other) => Err(other.into_gateway_error()),
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        let form = form::refund(request)?;
        let body: RefundBody = self
            .client
            .post("/v1/refunds", &form, request.idempotency_key())
            .await
            .map_err(CallError::into_gateway_error)?;
        let amount = from_stripe_amount(body.amount, &body.currency).ok_or_else(malformed)?;
        let status = body
            .status
            .as_deref()
            .and_then(RefundStatus::from_gateway)
            .ok_or_else(malformed)?;
        Ok(RefundOutcome {
            id: id(RefundId::new, body.id)?,
            amount,
            status,
        })
    }

    fn parse_webhook<'a>(
        &self,
        payload: &'a [u8],
        signature_header: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, GatewayError> {
        webhook::verify_signature(
            self.webhook_secret.expose().as_bytes(),
            payload,
            signature_header,
            now,
            WEBHOOK_TOLERANCE_SECS,
        )
        .map_err(GatewayError::InvalidSignature)?;
        webhook::parse_event(payload)
    }
}

fn charge_outcome(intent: PaymentIntentBody) -> Result<ChargeOutcome, GatewayError> {
    let payment = id(PaymentReference::new, intent.id)?;
    Ok(match intent.status.as_str() {
        "succeeded" => ChargeOutcome::Succeeded { payment },
        "processing" => ChargeOutcome::Processing { payment },
        "requires_action" | "requires_confirmation" => ChargeOutcome::RequiresAction { payment },
        "requires_payment_method" | "canceled" => ChargeOutcome::Declined {
            payment: Some(payment),
            decline: intent
                .last_payment_error
                .map(|error| Decline {
                    code: error.code,
                    decline_code: error.decline_code,
                    message: error.message,
                })
                .unwrap_or_default(),
        },
        _ => return Err(malformed()),
    })
}
