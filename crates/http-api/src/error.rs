//! The one place where errors become HTTP responses. Every error body has the contract's
//! shape `{"error": code, "message": sentence, ...details}`; 5xx causes are logged once
//! with their chain and never sent to the client.

use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tariff_domain::billing::{CouponError, CreditServiceError};
use tariff_domain::catalogue::CatalogueError;
use tariff_domain::credit_notes::CreditNoteError;
use tariff_domain::identity::AccountError;
use tariff_domain::identity::AuthError;
use tariff_domain::identity::TokenError;
use tariff_domain::orders::{InvoiceError, OrderError};
use tariff_domain::organisations::OrgError;
use tariff_domain::payments::PaymentError;
use tariff_domain::quota::QuotaError;
use tariff_domain::settings::SettingsError;
use tariff_domain::shared::error_chain;
use tariff_domain::webhooks::{EndpointError, WebhookAdminError};
use tariff_domain::{PageRequestError, RepoError, StoreFailure};

/// The contract's error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    QuotaExceeded,
    PayloadTooLarge,
    UnsupportedMediaType,
    RequestTimeout,
    RateLimited,
    Internal,
    FeatureDisabled,
    DatabaseUnavailable,
    /// The panel that signs users in, or the payment gateway, did not answer usably.
    UpstreamUnavailable,
    /// An inbound webhook whose signature is missing or does not verify.
    InvalidSignature,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::FeatureDisabled => "feature_disabled",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::UpstreamUnavailable => "upstream_unavailable",
            ErrorCode::InvalidSignature => "invalid_signature",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationFailed | ErrorCode::InvalidSignature => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict | ErrorCode::QuotaExceeded => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::FeatureDisabled
            | ErrorCode::DatabaseUnavailable
            | ErrorCode::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code for a bare status produced outside a handler (routing, extractors).
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::RequestTimeout,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::DatabaseUnavailable,
            400..=499 => ErrorCode::ValidationFailed,
            _ => ErrorCode::Internal,
        }
    }
}

/// Optional detail fields of an error body.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The JSON error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Machine-readable code, e.g. `validation_failed`.
    pub error: &'a str,
    /// One human sentence.
    pub message: &'a str,
    #[serde(flatten)]
    #[schema(inline, value_type = Object)]
    pub details: &'a ErrorDetails,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    // Boxed: most errors carry no details, and handlers return `Result<_, ApiError>`.
    details: Option<Box<ErrorDetails>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ValidationFailed, message).with_details(ErrorDetails {
            field: Some(field.into()),
            ..ErrorDetails::default()
        })
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, what)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "Authentication is required.")
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(ErrorCode::Forbidden, "You are not allowed to do this.")
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }

    pub fn with_details(mut self, details: ErrorDetails) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// An unexpected failure: the cause chain is logged here, once, and hidden.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        tracing::error!(error = %error_chain(cause), "request failed");
        ApiError::new(ErrorCode::Internal, "An internal error occurred.")
    }

    /// The database could not be reached: logged once, answered 503.
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        if is_upstream(cause) {
            tracing::warn!(error = %error_chain(cause), "panel unavailable");
            return ApiError::new(
                ErrorCode::UpstreamUnavailable,
                "The panel that signs users in is unavailable; try again shortly.",
            );
        }
        tracing::warn!(error = %error_chain(cause), "database unavailable");
        ApiError::new(
            ErrorCode::DatabaseUnavailable,
            "The database is unavailable; try again shortly.",
        )
    }
}

/// Whether an unavailability was the sign-in panel's rather than the database's.
fn is_upstream(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<tariff_domain::UpstreamUnavailable>() {
            return true;
        }
        current = e.source();
    }
    false
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// Serialises an error body; shared by handlers and the catch-all error middleware.
pub fn error_response(code: ErrorCode, message: &str, details: &ErrorDetails) -> HttpResponse {
    let body = ErrorBody {
        error: code.as_str(),
        message,
        details,
    };
    let mut response = HttpResponse::build(code.status());
    if let Some(seconds) = details.retry_after {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.json(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        match &self.details {
            Some(details) => error_response(self.code, &self.message, details),
            None => error_response(self.code, &self.message, &ErrorDetails::default()),
        }
    }
}

impl From<RepoError> for ApiError {
    fn from(err: RepoError) -> ApiError {
        match err {
            RepoError::NotFound => ApiError::not_found("Not found."),
            RepoError::Conflict(kind) => {
                ApiError::conflict(capitalised_sentence(&kind.to_string()))
            }
            err @ RepoError::Unavailable(_) => ApiError::unavailable(&err),
            err @ RepoError::Internal(_) => ApiError::internal(&err),
        }
    }
}

/// A store failure: 503 when the database is unreachable, else 500; logged either way.
impl From<StoreFailure> for ApiError {
    fn from(failure: StoreFailure) -> ApiError {
        if failure.is_unavailable() {
            ApiError::unavailable(&failure)
        } else {
            ApiError::internal(&failure)
        }
    }
}

impl From<CreditServiceError> for ApiError {
    fn from(err: CreditServiceError) -> ApiError {
        match err {
            CreditServiceError::Invalid(e) => match e.field() {
                Some(field) => ApiError::validation(field, capitalised_sentence(&e.to_string())),
                None => ApiError::conflict(capitalised_sentence(&e.to_string())),
            },
            CreditServiceError::AccountNotFound(account) => ApiError::not_found(match account {
                tariff_domain::AccountRef::User(id) => format!("User {id} does not exist."),
                tariff_domain::AccountRef::Org(id) => format!("Organisation {id} does not exist."),
            }),
            err @ CreditServiceError::WouldGoNegative { .. } => {
                ApiError::conflict(capitalised_sentence(&err.to_string()))
            }
            CreditServiceError::Store(failure) => failure.into(),
        }
    }
}

impl From<CouponError> for ApiError {
    fn from(err: CouponError) -> ApiError {
        match err {
            CouponError::Invalid(e) => {
                let field = e.field;
                ApiError::validation(field, format!("{field} {}.", e.message))
            }
            err @ CouponError::NotFound(_) => {
                ApiError::not_found(capitalised_sentence(&err.to_string()))
            }
            err @ CouponError::CodeTaken(_) => {
                ApiError::conflict(capitalised_sentence(&err.to_string()))
            }
            CouponError::Store(failure) => failure.into(),
        }
    }
}

impl From<CatalogueError> for ApiError {
    fn from(err: CatalogueError) -> ApiError {
        match err {
            CatalogueError::NotFound(id) => {
                ApiError::not_found(format!("Plan {id} does not exist."))
            }
            CatalogueError::Invalid(e) => ApiError::validation(e.field, e.to_string()),
            err @ CatalogueError::Conflict(_) => {
                ApiError::conflict(capitalised_sentence(&err.to_string()))
            }
            CatalogueError::Store(failure) => failure.into(),
        }
    }
}

impl From<EndpointError> for ApiError {
    fn from(err: EndpointError) -> ApiError {
        ApiError::validation(err.field(), capitalised_sentence(&err.to_string()))
    }
}

impl From<WebhookAdminError> for ApiError {
    fn from(err: WebhookAdminError) -> ApiError {
        match err {
            WebhookAdminError::EndpointNotFound => {
                ApiError::not_found("The webhook endpoint does not exist.")
            }
            WebhookAdminError::DeliveryNotFound => {
                ApiError::not_found("The webhook delivery does not exist.")
            }
            WebhookAdminError::InFlight => ApiError::conflict(
                "The delivery is being attempted right now; try again in a moment.",
            ),
            err @ WebhookAdminError::Unavailable(_) => ApiError::unavailable(&err),
            err @ WebhookAdminError::Internal(_) => ApiError::internal(&err),
        }
    }
}

impl From<PageRequestError> for ApiError {
    fn from(err: PageRequestError) -> ApiError {
        // The parameter name leads, as the client wrote it: "per_page must be ...".
        ApiError::validation(err.field(), format!("{err}."))
    }
}

impl From<QuotaError> for ApiError {
    fn from(err: QuotaError) -> ApiError {
        let about = |resource: tariff_domain::Resource| ErrorDetails {
            resource: Some(resource.key().to_owned()),
            ..ErrorDetails::default()
        };
        match err {
            QuotaError::AccountNotFound(_) => {
                ApiError::not_found(capitalised_sentence(&err.to_string()))
            }
            QuotaError::InvalidDelta(why) => {
                ApiError::validation("delta", format!("delta {why}."))
            }
            QuotaError::InvalidIdempotencyKey => {
                ApiError::validation("idempotencyKey", capitalised_sentence(&err.to_string()))
            }
            QuotaError::OverrideTooLarge(resource) => ApiError::validation(
                resource.key(),
                format!("The override for {resource} must be at most {}.", i64::MAX),
            ),
            QuotaError::Exceeded {
                resource,
                limit,
                used,
                requested,
            } => ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "The {resource} quota does not allow {requested} more: {used} of {limit} in use."
                ),
            )
            .with_details(ErrorDetails {
                limit: Some(limit),
                used: Some(used),
                requested: Some(requested),
                ..about(resource)
            }),
            QuotaError::NotPermitted { resource, reason } => ApiError::new(
                ErrorCode::Forbidden,
                crate::dto::quota::refusal_sentence(resource, reason),
            )
            .with_details(about(resource)),
            QuotaError::BelowZero {
                resource,
                used,
                released,
            } => ApiError::new(
                ErrorCode::ValidationFailed,
                format!("Cannot release {released} {resource}: only {used} in use."),
            )
            .with_details(ErrorDetails {
                field: Some("delta".into()),
                used: Some(used),
                requested: Some(released),
                ..about(resource)
            }),
            QuotaError::IdempotencyKeyReused => ApiError::conflict(
                "This idempotencyKey was already used for a different resource or delta.",
            )
            .with_details(ErrorDetails {
                field: Some("idempotencyKey".into()),
                ..ErrorDetails::default()
            }),
            QuotaError::Store(failure) => failure.into(),
        }
    }
}

impl From<tariff_domain::AccountValidationError> for ApiError {
    fn from(e: tariff_domain::AccountValidationError) -> ApiError {
        ApiError::validation(e.field, e.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> ApiError {
        match err {
            AccountError::NotFound(id) => ApiError::not_found(format!("User {id} does not exist.")),
            AccountError::UnknownEmail(email) => {
                ApiError::not_found(format!("No user has the email {email}."))
            }
            AccountError::Invalid(e) => e.into(),
            AccountError::EmailTaken => ApiError::conflict(
                "A user with that email already exists.",
            )
            .with_details(ErrorDetails {
                field: Some("email".into()),
                ..ErrorDetails::default()
            }),
            AccountError::Store(failure) => failure.into(),
            err @ AccountError::Hashing(_) => ApiError::internal(&err),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> ApiError {
        match err {
            AuthError::InvalidCredentials => {
                ApiError::new(ErrorCode::Unauthorized, "Invalid email or password.")
            }
            AuthError::RateLimited { retry_after_secs } => ApiError::new(
                ErrorCode::RateLimited,
                format!("Too many login attempts; try again in {retry_after_secs} seconds."),
            )
            .with_details(ErrorDetails {
                retry_after: Some(retry_after_secs),
                ..ErrorDetails::default()
            }),
            AuthError::Store(failure) => failure.into(),
            err @ AuthError::Hashing(_) => ApiError::internal(&err),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> ApiError {
        match err {
            TokenError::NotFound(id) => ApiError::not_found(format!("Token {id} does not exist.")),
            TokenError::UnknownUser(id) => {
                ApiError::not_found(format!("User {id} does not exist."))
            }
            TokenError::Invalid(e) => e.into(),
            TokenError::Store(failure) => failure.into(),
        }
    }
}

impl From<OrgError> for ApiError {
    fn from(err: OrgError) -> ApiError {
        match err {
            OrgError::NotFound(id) => {
                ApiError::not_found(format!("Organisation {id} does not exist."))
            }
            OrgError::NotAMember(id) => {
                ApiError::not_found(format!("User {id} is not a member of this organisation."))
            }
            OrgError::UnknownUser(id) => ApiError::not_found(format!("User {id} does not exist.")),
            OrgError::Forbidden(why) => ApiError::new(ErrorCode::Forbidden, why),
            OrgError::Invalid(e) => e.into(),
            err @ OrgError::Conflict(_) => {
                ApiError::conflict(capitalised_sentence(&err.to_string()))
            }
            OrgError::Store(failure) => failure.into(),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(err: OrderError) -> ApiError {
        match err {
            OrderError::OrderNotFound(id) => {
                ApiError::not_found(format!("Order {id} does not exist."))
            }
            OrderError::PlanNotFound(id) => {
                ApiError::not_found(format!("Plan {id} does not exist."))
            }
            OrderError::UserNotFound(id) => {
                ApiError::not_found(format!("User {id} does not exist."))
            }
            OrderError::OrgNotFound(id) => {
                ApiError::not_found(format!("Organisation {id} does not exist."))
            }
            err @ (OrderError::NotOrgManager | OrderError::AdminOnly) => {
                ApiError::new(ErrorCode::Forbidden, capitalised_sentence(&err.to_string()))
            }
            OrderError::IllegalTransition(e) => {
                ApiError::conflict(capitalised_sentence(&e.to_string()))
            }
            err @ OrderError::Conflict(_) => {
                ApiError::conflict(capitalised_sentence(&err.to_string()))
            }
            OrderError::Invalid { field, message } => {
                ApiError::validation(field, format!("{field} {message}."))
            }
            OrderError::Store(failure) => failure.into(),
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(err: PaymentError) -> ApiError {
        match err {
            PaymentError::Disabled => ApiError::new(
                ErrorCode::FeatureDisabled,
                "Payments are not configured (payments.stripe.secret_key).",
            ),
            PaymentError::Order(e) => ApiError::from(e),
            err @ (PaymentError::NotPending { .. } | PaymentError::NothingToPay(_)) => {
                ApiError::conflict(capitalised_sentence(&err.to_string()))
            }
            err @ PaymentError::GatewayUnavailable(_) => {
                tracing::warn!(error = %err, "payment gateway unavailable");
                ApiError::new(
                    ErrorCode::UpstreamUnavailable,
                    "The payment gateway is unavailable; try again later.",
                )
            }
            err @ PaymentError::GatewayRejected(_) => {
                // Tariff's own request was refused: a key or account problem for the
                // operator, not something the caller can fix.
                tracing::error!(error = %err, "payment gateway refused Tariff's request");
                ApiError::new(
                    ErrorCode::UpstreamUnavailable,
                    "The payment gateway refused the request; the operator has been told.",
                )
            }
            PaymentError::InvalidSignature(problem) => {
                tracing::warn!(?problem, "inbound payment webhook refused");
                ApiError::new(
                    ErrorCode::InvalidSignature,
                    "The webhook signature is missing or does not verify.",
                )
            }
            PaymentError::MalformedEvent(message) => {
                tracing::warn!(%message, "signed payment webhook that is not a readable event");
                ApiError::validation("body", "The webhook body is not an event Tariff can read.")
            }
            err @ PaymentError::Request(_) => ApiError::internal(&err),
            PaymentError::Store(failure) => failure.into(),
        }
    }
}

impl From<InvoiceError> for ApiError {
    fn from(err: InvoiceError) -> ApiError {
        match err {
            InvoiceError::Order(e) => ApiError::from(e),
            err @ InvoiceError::Render(_) => ApiError::internal(&err),
            InvoiceError::Store(failure) => failure.into(),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(err: SettingsError) -> ApiError {
        match err {
            SettingsError::Store(failure) => failure.into(),
        }
    }
}

impl From<CreditNoteError> for ApiError {
    fn from(err: CreditNoteError) -> ApiError {
        match err {
            err @ CreditNoteError::AdminOnly => {
                ApiError::new(ErrorCode::Forbidden, capitalised_sentence(&err.to_string()))
            }
            CreditNoteError::OrderNotFound(id) => {
                ApiError::not_found(format!("Order {id} does not exist."))
            }
            CreditNoteError::NotFound(id) => {
                ApiError::not_found(format!("Credit note {id} does not exist."))
            }
            CreditNoteError::Invalid { field, message } => {
                ApiError::validation(field, capitalised_sentence(&message))
            }
            CreditNoteError::Refused(refusal) => {
                ApiError::conflict(capitalised_sentence(&refusal.to_string()))
            }
            err @ CreditNoteError::GatewayRefused(_) => {
                tracing::info!(error = %error_chain(&err), "refund refused by the gateway");
                ApiError::conflict("The payment gateway refused the refund; nothing was refunded.")
            }
            err @ CreditNoteError::GatewayUnavailable(_) => {
                tracing::warn!(error = %error_chain(&err), "payment gateway unavailable");
                ApiError::new(
                    ErrorCode::UpstreamUnavailable,
                    "The payment gateway is unavailable; nothing was refunded. Try again shortly.",
                )
            }
            err @ CreditNoteError::Render(_) => ApiError::internal(&err),
            CreditNoteError::Order(e) => ApiError::from(e),
            CreditNoteError::Store(failure) => failure.into(),
        }
    }
}

/// Makes a domain message read as one sentence.
pub fn capitalised_sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::from("Conflict."),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ErrorCode::QuotaExceeded.status(), StatusCode::CONFLICT);
        assert_eq!(
            ErrorCode::FeatureDisabled.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ErrorCode::for_status(StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::MethodNotAllowed
        );
        assert_eq!(
            ErrorCode::for_status(StatusCode::BAD_REQUEST),
            ErrorCode::ValidationFailed
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::from(RepoError::internal("SELECT * FROM secret_table failed"));
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.message.contains("secret_table"));
    }

    #[test]
    fn chain_lists_every_cause() {
        let err = CatalogueError::Store(RepoError::internal("disk on fire").into());
        assert_eq!(
            error_chain(&err),
            "catalogue failure: repository failure: disk on fire"
        );
    }
}
