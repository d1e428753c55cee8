//! The webhook transport: [`HttpTransport`] implements the domain's
//! [`WebhookTransport`] with `reqwest`.
