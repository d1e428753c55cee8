//! Taking money through a payment gateway: the [`PaymentGateway`] port, the validated
//! requests Tariff sends through it, the outcomes it answers and the verified inbound
//! events it reads. Gateway-neutral: Stripe is one adapter
//! (`crates/payments-stripe`); its wire format never shows here. Payments are kept as
//! records ([`Payment`]); the use cases ([`PaymentService`]) open checkouts and apply
//! the verified inbound events once each, through the [`PaymentStore`] port.

pub mod events;
pub mod gateway;
pub mod record;
pub mod refs;
pub mod refunds;
pub mod renewals;
pub mod requests;
pub mod service;
pub mod store;

pub use events::{
    ChargeRefund, CheckoutCompletion, CheckoutPaymentStatus, GatewayEvent, GatewayEventKind,
    PaymentFailure, RefundRecord,
};
#[cfg(any(test, feature = "mocks"))]
pub use gateway::MockPaymentGateway;
pub use gateway::{
    GatewayError, PaymentGateway, PaymentProvider, Rejection, RejectionKind, SignatureProblem,
    UnavailableCause,
};
pub use record::{Payment, PaymentStatus, UnknownPaymentStatus};
pub use refs::{
    ChargeId, CheckoutSessionId, GatewayCustomerId, GatewayEventId, IdempotencyKey,
    InvalidGatewayRef, PaymentMethodRef, PaymentReference, RefundId,
};
#[cfg(any(test, feature = "mocks"))]
pub use refunds::MockGatewayRefundNotes;
pub use refunds::{reported_refunds, GatewayRefundNotes, GatewayRefunder, RefundNoteError};
#[cfg(any(test, feature = "mocks"))]
pub use renewals::MockRenewalChargeStore;
pub use renewals::{
    attempt_key, next_attempt, AttemptOutcome, ChargeAttempt, ChargeReport, DueRenewal,
    DunningPolicy, RenewalChargeStore, RenewalCharges, RENEWAL_CHARGE_EVENT,
};
pub use requests::{
    ChargeOutcome, CheckoutRequest, CheckoutSession, CustomerRequest, Decline,
    InvalidPaymentRequest, LineItem, OffSessionCharge, RefundOutcome, RefundRequest, RefundStatus,
    ReturnUrls, MAX_ITEM_NAME_CHARS,
};
pub use service::{CheckoutPage, GatewaySetup, PaymentError, PaymentService, WebhookOutcome};
#[cfg(any(test, feature = "mocks"))]
pub use store::MockPaymentStore;
pub use store::{
    EventOutcome, InboundPayment, PaymentEffect, PaymentStore, ReportedPayment, StoredCheckout,
};
