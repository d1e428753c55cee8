//! The form bodies the adapter POSTs, in Stripe's encoding
//! (`application/x-www-form-urlencoded`, nested keys as `a[b][0][c]`). Amounts are
//! written as the integer Stripe expects, never as decimals.

use tariff_domain::payments::{
    CheckoutRequest, CustomerRequest, GatewayError, OffSessionCharge, RefundRequest,
};

use crate::amount::{stripe_currency, to_stripe_amount};

/// The form fields of one request, in the order they are sent.
pub type Form = Vec<(String, String)>;

/// Metadata key tying Stripe objects to a Tariff order.
pub const ORDER_METADATA_KEY: &str = "tariff_order_id";

fn field(form: &mut Form, key: impl Into<String>, value: impl Into<String>) {
    form.push((key.into(), value.into()));
}

/// `POST /v1/checkout/sessions`: a payment-mode session whose `price_data` line items
/// add up to the order total, tagged with the order id three ways (client reference,
/// session metadata, payment metadata) so every later event can be traced to it.
pub fn checkout_session(request: &CheckoutRequest) -> Result<Form, GatewayError> {
    let order = request.order_id().to_string();
    let currency = stripe_currency(request.total().currency());
    let mut form = Form::new();
    field(&mut form, "mode", "payment");
    field(&mut form, "client_reference_id", order.clone());
    field(
        &mut form,
        format!("metadata[{ORDER_METADATA_KEY}]"),
        order.clone(),
    );
    field(&mut form, "customer", request.customer().as_str());
    field(&mut form, "success_url", request.urls().success());
    field(&mut form, "cancel_url", request.urls().cancel());
    for (index, item) in request.line_items().iter().enumerate() {
        let prefix = format!("line_items[{index}]");
        field(
            &mut form,
            format!("{prefix}[price_data][currency]"),
            currency.clone(),
        );
        field(
            &mut form,
            format!("{prefix}[price_data][unit_amount]"),
            to_stripe_amount(item.unit_amount())?.to_string(),
        );
        field(
            &mut form,
            format!("{prefix}[price_data][product_data][name]"),
            item.name(),
        );
        field(
            &mut form,
            format!("{prefix}[quantity]"),
            item.quantity().to_string(),
        );
    }
    field(
        &mut form,
        format!("payment_intent_data[metadata][{ORDER_METADATA_KEY}]"),
        order,
    );
    if request.save_payment_method() {
        field(
            &mut form,
            "payment_intent_data[setup_future_usage]",
            "off_session",
        );
    }
    Ok(form)
}

/// `POST /v1/customers`: the account's kind and id in metadata, email and name if known.
pub fn customer(request: &CustomerRequest) -> Form {
    let mut form = Form::new();
    if let Some(email) = &request.email {
        field(&mut form, "email", email.as_str());
    }
    if let Some(name) = &request.name {
        field(&mut form, "name", name.clone());
    }
    field(
        &mut form,
        "metadata[tariff_account_kind]",
        request.account.kind(),
    );
    field(
        &mut form,
        "metadata[tariff_account_id]",
        request.account.raw_id().to_string(),
    );
    form
}

/// `POST /v1/payment_intents`: created and confirmed at once, off-session, on the saved
/// payment method; redirect-based methods are excluded since nobody is there to follow
/// a redirect.
pub fn off_session_payment_intent(request: &OffSessionCharge) -> Result<Form, GatewayError> {
    let mut form = Form::new();
    field(
        &mut form,
        "amount",
        to_stripe_amount(request.amount())?.to_string(),
    );
    field(
        &mut form,
        "currency",
        stripe_currency(request.amount().currency()),
    );
    field(&mut form, "customer", request.customer().as_str());
    field(
        &mut form,
        "payment_method",
        request.payment_method().as_str(),
    );
    field(&mut form, "off_session", "true");
    field(&mut form, "confirm", "true");
    field(&mut form, "automatic_payment_methods[enabled]", "true");
    field(
        &mut form,
        "automatic_payment_methods[allow_redirects]",
        "never",
    );
    field(
        &mut form,
        format!("metadata[{ORDER_METADATA_KEY}]"),
        request.order_id().to_string(),
    );
    Ok(form)
}

/// `POST /v1/refunds`: an amount of one PaymentIntent.
pub fn refund(request: &RefundRequest) -> Result<Form, GatewayError> {
    let mut form = Form::new();
    field(&mut form, "payment_intent", request.payment().as_str());
    field(
        &mut form,
        "amount",
        to_stripe_amount(request.amount())?.to_string(),
    );
    Ok(form)
}

/// The body bytes of a form, as sent on the wire.
pub fn encode(form: &Form) -> Result<String, GatewayError> {
    serde_urlencoded::to_string(form).map_err(|_| {
        GatewayError::InvalidRequest(tariff_domain::payments::Rejection::with_message(
            tariff_domain::payments::RejectionKind::Invalid,
            "form could not be encoded",
        ))
    })
}
