//! Stripe adapter for Tariff's [`PaymentGateway`](tariff_domain::payments::PaymentGateway)
//! port.
//!
//! What it sends (all `POST`s form-encoded, each with `Authorization: Bearer <secret key>`,
//! the pinned [`STRIPE_API_VERSION`] as `Stripe-Version`, and the caller's
//! `Idempotency-Key`):
//! - `POST /v1/checkout/sessions`: `mode=payment`, `client_reference_id` and
//!   `metadata[tariff_order_id]` = the order id, `customer`, `success_url`, `cancel_url`,
//!   one `line_items[i][price_data]` (`currency`, `unit_amount`, `product_data[name]`) and
//!   `line_items[i][quantity]` per line, `payment_intent_data[metadata][tariff_order_id]`,
//!   and `payment_intent_data[setup_future_usage]=off_session` when the method is saved.
//! - `POST /v1/customers`: `email`, `name`, `metadata[tariff_account_kind|id]`.
//! - `POST /v1/payment_intents`: `amount`, `currency`, `customer`, `payment_method`,
//!   `off_session=true`, `confirm=true`, `automatic_payment_methods[enabled]=true`,
//!   `automatic_payment_methods[allow_redirects]=never`, `metadata[tariff_order_id]`.
//! - `POST /v1/refunds`: `payment_intent`, `amount`.
//! - `GET /v1/payment_intents/:id`: to read the saved `payment_method`.
//!
//! Amounts are integers in Stripe's minor unit ([`amount`]); inbound webhooks are verified
//! with Stripe's `Stripe-Signature` scheme in constant time ([`webhook`]).
//!
//! # Why hand-written calls rather than `async-stripe`
//! Tariff needs five endpoints and five event types. `async-stripe` generates the whole
//! Stripe API: with only the features Tariff would use, its crates hold about 360,000
//! lines and took 173 s of a 7-minute `cargo check` on the shared two-core machine
//! (`docs/PAYMENTS.md`); its 1.0 release candidates need Rust 1.89 where the workspace
//! supports 1.88, bring a hyper client next to the workspace's reqwest, and type the
//! objects of their own pinned API version rather than ours. A hundred lines of form fields, read against Stripe's API reference, are
//! cheaper to build, to audit (nothing secret can be logged by code we did not write) and
//! to test against a fake Stripe on the wire. The signature scheme is small and is tested
//! with Stripe's own construction.
//!
//! # TLS
//! The workspace's `reqwest` enables no TLS backend; the default `tls` feature of this
//! crate adds rustls with the bundled Mozilla roots, so `https://api.stripe.com` works
//! without OpenSSL or a system CA store. Without the feature only `http://` bases (the
//! tests' fake Stripe) are accepted, and an https base is refused when the adapter is built.

pub mod amount;
mod client;
pub mod config;
pub mod form;
mod gateway;
pub mod webhook;

pub use config::{
    Secret, StripeConfig, StripeConfigError, DEFAULT_API_BASE, DEFAULT_TIMEOUT, STRIPE_API_VERSION,
    WEBHOOK_TOLERANCE_SECS,
};
pub use gateway::StripeGateway;
