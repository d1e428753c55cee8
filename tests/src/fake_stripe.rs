//! A fake Stripe for payment tests: a real HTTP server on 127.0.0.1 port 0 speaking
//! Stripe's wire format (form-encoded requests, Stripe-shaped JSON answers) for the
//! calls Tariff makes (`POST /v1/customers`, `POST /v1/checkout/sessions`,
//! `POST /v1/refunds`, off-session `POST /v1/payment_intents` and
//! `GET /v1/payment_intents/:id`), replaying the first answer to a repeated
//! `Idempotency-Key` as Stripe does (errors included), and recording every request.
//! Off-session charges can be declined on demand, and the answer to one can be "lost"
//! (the charge is made, the caller gets a 500) to stand for a crash or a timeout after
//! Stripe acted. Also: Stripe's webhook signature (`Stripe-Signature: t=..,v1=..`), computed
//! here with HMAC-SHA256 and not with Tariff's code, and Stripe-shaped event bodies.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The secret key tests configure; the fake refuses any other.
pub const SECRET_KEY: &str = "sk_test_fake_tariff_secret";
/// The webhook signing secret tests configure.
pub const WEBHOOK_SECRET: &str = "whsec_fake_tariff_webhook_secret";

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The single value of a form field.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    recorded: Mutex<Vec<Recorded>>,
    /// Idempotency key → the status and answer first given for it.
    answered: Mutex<HashMap<String, (u16, Value)>>,
    next_id: AtomicU64,
    /// Off-session charges decline while this is set.
    decline_charges: AtomicBool,
    /// How many of the next charges are made but answered with a 500.
    lose_answers: AtomicU64,
    /// Charges made (money taken), not counting replays.
    charges_made: AtomicU64,
}

/// The payment method every PaymentIntent of the fake used (saved by checkout).
pub const SAVED_METHOD: &str = "pm_fake_saved_card";

/// A running fake Stripe; stopped when dropped.
pub struct FakeStripe {
    /// What Tariff's `payments.stripe.api_base` is set to.
    pub base: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn stripe_error(status: u16, kind: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .json(json!({"error": {"type": kind, "message": message}}))
}

async fn answer(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let recorded = Recorded {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        headers,
        form,
    };
    if let Ok(mut all) = state.recorded.lock() {
        all.push(recorded.clone());
    }
    if recorded.header("authorization") != Some(&format!("Bearer {SECRET_KEY}")) {
        return stripe_error(401, "invalid_request_error", "Invalid API Key provided");
    }
    let key = recorded.header("idempotency-key").map(str::to_owned);
    if let Some(key) = &key {
        if let Some((status, previous)) =
            state.answered.lock().ok().and_then(|a| a.get(key).cloned())
        {
            return HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
            )
            .insert_header(("Idempotent-Replayed", "true"))
            .json(previous);
        }
    }
    let n = state.next_id.fetch_add(1, Ordering::SeqCst) + 1;
    let created = chrono::Utc::now().timestamp();
    let mut status = 200_u16;
    let body = match (recorded.method.as_str(), recorded.path.as_str()) {
        ("POST", "/v1/payment_intents") => {
            let intent = json!({
                "id": format!("pi_fake_offsession{n}"),
                "object": "payment_intent",
                "amount": recorded.field("amount").and_then(|a| a.parse::<i64>().ok()),
                "currency": recorded.field("currency"),
                "customer": recorded.field("customer"),
                "payment_method": recorded.field("payment_method"),
                "metadata": {"tariff_order_id": recorded.field("metadata[tariff_order_id]")},
                "livemode": false,
            });
            if state.decline_charges.load(Ordering::SeqCst) {
                status = 402;
                let mut declined = intent;
                declined["status"] = json!("requires_payment_method");
                json!({"error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                    "payment_intent": declined,
                }})
            } else {
                state.charges_made.fetch_add(1, Ordering::SeqCst);
                let mut paid = intent;
                paid["status"] = json!("succeeded");
                paid
            }
        }
        ("GET", path) if path.starts_with("/v1/payment_intents/") => json!({
            "id": path.trim_start_matches("/v1/payment_intents/"),
            "object": "payment_intent",
            "status": "succeeded",
            "payment_method": SAVED_METHOD,
            "livemode": false,
        }),
        ("POST", "/v1/customers") => json!({
            "id": format!("cus_fake{n}"),
            "object": "customer",
            "created": created,
            "email": recorded.field("email"),
            "livemode": false,
        }),
        ("POST", "/v1/checkout/sessions") => {
            let id = format!("cs_test_fake{n}");
            json!({
                "id": id,
                "object": "checkout.session",
                "mode": "payment",
                "status": "open",
                "payment_status": "unpaid",
                "client_reference_id": recorded.field("client_reference_id"),
                "customer": recorded.field("customer"),
                "currency": recorded.field("line_items[0][price_data][currency]"),
                "url": format!("https://checkout.stripe.test/c/pay/{id}"),
                "created": created,
                "expires_at": created + 24 * 3600,
                "livemode": false,
            })
        }
        ("POST", "/v1/refunds") => json!({
            "id": format!("re_fake{n}"),
            "object": "refund",
            "amount": recorded.field("amount").and_then(|a| a.parse::<i64>().ok()),
            "currency": "usd",
            "payment_intent": recorded.field("payment_intent"),
            "status": "succeeded",
            "created": created,
        }),
        _ => return stripe_error(404, "invalid_request_error", "Unrecognized request URL"),
    };
    if let Some(key) = key {
        if let Ok(mut answered) = state.answered.lock() {
            answered.insert(key, (status, body.clone()));
        }
    }
    if recorded.path == "/v1/payment_intents"
        && state
            .lose_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        return stripe_error(500, "api_error", "the answer was lost on its way");
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .json(body)
}

impl FakeStripe {
    /// Starts the fake on a free port.
    pub async fn start() -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .listen(listener)
        .unwrap_or_else(|e| panic!("listen: {e}"))
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeStripe {
            base: format!("http://{address}"),
            state,
            handle,
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .recorded
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Off-session charges decline (`true`) or succeed (`false`, the default).
    pub fn decline_charges(&self, decline: bool) {
        self.state.decline_charges.store(decline, Ordering::SeqCst);
    }

    /// The next `count` off-session charges are made but answered with a 500, as if
    /// the caller crashed or timed out after Stripe took the money.
    pub fn lose_charge_answers(&self, count: u64) {
        self.state.lose_answers.store(count, Ordering::SeqCst);
    }

    /// Off-session charges that took money (replays of a key not counted).
    pub fn charges_made(&self) -> u64 {
        self.state.charges_made.load(Ordering::SeqCst)
    }

    /// The off-session charge requests (`POST /v1/payment_intents`), replays included.
    pub fn charge_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/payment_intents")
            .collect()
    }

    /// The requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

/// Turns payments on against `base` (a fake Stripe, or any address for tests that only
/// send webhooks).
pub fn enable_payments(settings: &mut tariff_app::settings::Settings, base: &str) {
    let secret = |value: &str| {
        serde_json::from_value(Value::String(value.to_owned()))
            .unwrap_or_else(|e| panic!("secret setting: {e}"))
    };
    settings.payments.stripe.secret_key = secret(SECRET_KEY);
    settings.payments.stripe.webhook_secret = secret(WEBHOOK_SECRET);
    settings.payments.stripe.api_base = base.to_owned();
    settings.payments.success_url =
        "https://shop.example/paid?session={CHECKOUT_SESSION_ID}".into();
    settings.payments.cancel_url = "https://shop.example/cancelled".into();
}

/// `Stripe-Signature` for `body` signed at `timestamp` with `secret`, as Stripe writes it.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|e| panic!("hmac key: {e}"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// A Stripe event envelope around `object`.
pub fn event(id: &str, event_type: &str, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": chrono::Utc::now().timestamp(),
        "livemode": false,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": object},
    })
    .to_string()
}

/// A completed Checkout Session for `order` that charged `amount_minor` in `currency`.
pub fn checkout_session(
    order: i64,
    amount_minor: i64,
    currency: &str,
    payment_status: &str,
    payment_intent: &str,
) -> Value {
    json!({
        "id": format!("cs_test_for_{order}"),
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": payment_status,
        "amount_subtotal": amount_minor,
        "amount_total": amount_minor,
        "currency": currency,
        "client_reference_id": order.to_string(),
        "metadata": {"tariff_order_id": order.to_string()},
        "customer": "cus_fake1",
        "payment_intent": payment_intent,
        "livemode": false,
    })
}

/// A failed PaymentIntent for `order`.
pub fn failed_payment_intent(order: i64, amount_minor: i64, currency: &str, id: &str) -> Value {
    json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount_minor,
        "currency": currency,
        "status": "requires_payment_method",
        "customer": "cus_fake1",
        "metadata": {"tariff_order_id": order.to_string()},
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds."
        },
        "livemode": false,
    })
}

/// A `charge.refunded` event's object: a charge of `payment_intent` of which
/// `amount_refunded_minor` is refunded so far, without the list of its refunds (as Stripe
/// sends it unless the endpoint expands `refunds`).
pub fn refunded_charge(
    charge: &str,
    payment_intent: &str,
    amount_minor: i64,
    amount_refunded_minor: i64,
) -> Value {
    json!({
        "id": charge,
        "object": "charge",
        "amount": amount_minor,
        "amount_refunded": amount_refunded_minor,
        "currency": "usd",
        "payment_intent": payment_intent,
        "refunded": amount_refunded_minor >= amount_minor,
        "status": "succeeded",
    })
}
