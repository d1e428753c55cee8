//! actix-web adapter for Tariff: routes and DTOs for the panel and packages dialects,
//! auth extractors, and the one place where domain errors become HTTP statuses
//! ([`error`]). Built and started by the `tariff` binary in `crates/app`.

pub mod auth;
pub mod cache;
pub mod dto;
pub mod error;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod profile;
pub mod routes;
pub mod state;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::{from_fn, Condition, ErrorHandlers};
use actix_web::{web, App, HttpRequest, HttpServer};

use crate::error::{ApiError, ErrorCode};
pub use crate::state::ApiState;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Server tuning from configuration.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub workers: usize,
    /// Time a client has to send its request head, and then again its body; slow or
    /// stalled clients are cut off (408 for a stalled body).
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
    /// How long in-flight requests may run after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// Origins allowed to call the API from a browser; empty leaves CORS off.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            workers: 2,
            client_request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            cors_allowed_origins: Vec::new(),
        }
    }
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "The request body is larger than 64 KiB.",
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the body as application/json.",
        ),
        JsonPayloadError::Payload(e) if middleware::is_body_timeout(e) => ApiError::new(
            ErrorCode::RequestTimeout,
            "The request body did not arrive in time.",
        ),
        JsonPayloadError::Deserialize(e) => json::body_error(e),
        _ => ApiError::new(
            ErrorCode::ValidationFailed,
            "The request body could not be read.",
        ),
    };
    api.into()
}

fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::validation("id", "Path ids must be positive integers.").into()
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        ErrorCode::ValidationFailed,
        format!("Invalid query string: {err}."),
    )
    .into()
}

/// A resource behind the billing switch: while billing is off it answers 503
/// `feature_disabled` (see [`middleware::require_billing`]). Use it for every plan,
/// package, order, invoice, usage and apply/cancel-plan resource.
pub fn billing_resource(
    path: &str,
) -> actix_web::Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(from_fn(middleware::require_billing))
}

/// Registers every route. Always through `web::resource(..).route(..)` (or
/// [`billing_resource`]): a resource answers a wrong method with 405 (and an `Allow`
/// header) instead of 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(routes::health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(routes::health::readyz)))
        .service(web::resource("/metrics").route(web::get().to(routes::health::metrics)))
        .service(web::resource("/api/openapi.json").route(web::get().to(openapi::openapi_json)))
        .service(billing_resource("/api/plans").route(web::get().to(routes::plans::list_plans)))
        .service(billing_resource("/api/plans/{id}").route(web::get().to(routes::plans::get_plan)))
        .service(
            billing_resource("/api/packages").route(web::get().to(routes::packages::list_packages)),
        )
        .service(
            billing_resource("/api/packages/{id}")
                .route(web::get().to(routes::packages::get_package)),
        )
        .configure(configure_orders)
        .configure(configure_quota)
        .configure(configure_billing);
}

/// Account credit and coupons, behind the billing switch like every billing route.
fn configure_billing(cfg: &mut web::ServiceConfig) {
    use routes::billing;
    cfg.service(
        billing_resource("/api/users/{id}/credit").route(web::get().to(billing::user_credit)),
    )
    .service(
        billing_resource("/api/organisations/{id}/credit")
            .route(web::get().to(billing::org_credit)),
    )
    .service(
        billing_resource("/api/admin/users/{id}/credit")
            .route(web::post().to(billing::adjust_user_credit)),
    )
    .service(
        billing_resource("/api/admin/organisations/{id}/credit")
            .route(web::post().to(billing::adjust_org_credit)),
    )
    .service(
        billing_resource("/api/admin/coupons")
            .route(web::get().to(billing::list_coupons))
            .route(web::post().to(billing::create_coupon)),
    )
    .service(
        billing_resource("/api/admin/coupons/{code}")
            .route(web::get().to(billing::get_coupon))
            .route(web::delete().to(billing::deactivate_coupon)),
    );
}

/// Quota routes: reading for accounts, overrides and the usage ledger for admins.
fn configure_quota(cfg: &mut web::ServiceConfig) {
    use routes::quota;
    cfg.service(billing_resource("/api/users/{id}/quota").route(web::get().to(quota::user_quota)))
        .service(
            billing_resource("/api/organisations/{id}/quota")
                .route(web::get().to(quota::org_quota)),
        )
        .service(
            web::resource("/api/admin/users/{id}/limits")
                .route(web::put().to(quota::set_user_limits)),
        )
        .service(
            web::resource("/api/admin/organisations/{id}/limits")
                .route(web::put().to(quota::set_org_limits)),
        )
        .service(
            billing_resource("/api/admin/users/{id}/usage")
                .route(web::post().to(quota::change_user_usage)),
        )
        .service(
            billing_resource("/api/admin/organisations/{id}/usage")
                .route(web::post().to(quota::change_org_usage)),
        )
        .service(
            billing_resource("/api/admin/users/{id}/usage/check")
                .route(web::post().to(quota::check_user_usage)),
        )
        .service(
            billing_resource("/api/admin/organisations/{id}/usage/check")
                .route(web::post().to(quota::check_org_usage)),
        );
    configure_accounts(cfg);
}

/// Accounts and access: sessions, tokens, organisations, admin users and plans.
fn configure_accounts(cfg: &mut web::ServiceConfig) {
    use routes::{admin_plans, admin_users, auth, organisations, tokens};
    cfg.service(web::resource("/api/auth/login").route(web::post().to(auth::login)))
        .service(web::resource("/api/auth/logout").route(web::post().to(auth::logout)))
        .service(web::resource("/api/me").route(web::get().to(auth::me)))
        .service(
            web::resource("/api/tokens")
                .route(web::get().to(tokens::list_tokens))
                .route(web::post().to(tokens::create_token)),
        )
        .service(web::resource("/api/tokens/{id}").route(web::delete().to(tokens::revoke_token)))
        .service(
            web::resource("/api/organisations")
                .route(web::post().to(organisations::create_organisation)),
        )
        .service(
            web::resource("/api/organisations/{id}")
                .route(web::get().to(organisations::get_organisation)),
        )
        .service(
            web::resource("/api/organisations/{id}/members")
                .route(web::post().to(organisations::set_member)),
        )
        .service(
            web::resource("/api/organisations/{id}/members/{user_id}")
                .route(web::delete().to(organisations::remove_member)),
        )
        .service(web::resource("/api/admin/audit").route(web::get().to(routes::audit::list_audit)))
        .service(
            web::resource("/api/admin/webhooks")
                .route(web::get().to(routes::webhooks::list_webhooks))
                .route(web::post().to(routes::webhooks::create_webhook)),
        )
        .service(
            web::resource("/api/admin/webhooks/{id}")
                .route(web::get().to(routes::webhooks::get_webhook))
                .route(web::put().to(routes::webhooks::update_webhook))
                .route(web::delete().to(routes::webhooks::delete_webhook)),
        )
        .service(
            web::resource("/api/admin/webhooks/{id}/rotate-secret")
                .route(web::post().to(routes::webhooks::rotate_secret)),
        )
        .service(
            web::resource("/api/admin/webhooks/{id}/deliveries")
                .route(web::get().to(routes::webhooks::list_deliveries)),
        )
        .service(
            web::resource("/api/admin/webhook-deliveries/{id}/redeliver")
                .route(web::post().to(routes::webhooks::redeliver)),
        )
        .service(
            web::resource("/api/admin/users")
                .route(web::get().to(admin_users::list_users))
                .route(web::post().to(admin_users::create_user)),
        )
        .service(
            web::resource("/api/admin/users/{id}")
                .route(web::get().to(admin_users::get_user))
                .route(web::put().to(admin_users::update_user)),
        )
        .service(
            billing_resource("/api/admin/plans")
                .route(web::get().to(admin_plans::list_plans))
                .route(web::post().to(admin_plans::create_plan)),
        )
        .service(
            billing_resource("/api/admin/plans/{id}")
                .route(web::put().to(admin_plans::update_plan))
                .route(web::delete().to(admin_plans::delete_plan)),
        );
}

/// Orders, the admin plan lifecycle and the settings (the billing switch itself is
/// never behind the switch).
fn configure_orders(cfg: &mut web::ServiceConfig) {
    use routes::{admin_orders, orders, settings};
    cfg.service(
        web::resource("/api/admin/settings")
            .route(web::get().to(settings::get_settings))
            .route(web::put().to(settings::put_settings)),
    )
    .service(
        billing_resource("/api/orders")
            .route(web::get().to(orders::list_orders))
            .route(web::post().to(orders::place_order)),
    )
    .service(
        billing_resource("/api/orders/preview")
            .route(web::post().to(routes::plan_changes::preview_order)),
    )
    .service(billing_resource("/api/orders/{id}").route(web::get().to(orders::get_order)))
    .service(
        billing_resource("/api/orders/{id}/scheduled-change")
            .route(web::delete().to(routes::plan_changes::drop_scheduled_change)),
    )
    .service(
        billing_resource("/api/orders/{id}/cancel").route(web::post().to(orders::cancel_order)),
    )
    .service(billing_resource("/api/orders/{id}/invoice").route(web::get().to(orders::get_invoice)))
    .service(
        billing_resource("/api/admin/users/{id}/apply-plan")
            .route(web::post().to(admin_orders::apply_plan)),
    )
    .service(
        billing_resource("/api/admin/users/{id}/cancel-plan")
            .route(web::post().to(admin_orders::cancel_plan)),
    )
    .service(
        billing_resource("/api/admin/users/{id}/current-plan")
            .route(web::get().to(admin_orders::current_plan)),
    )
    .service(billing_resource("/api/admin/orders").route(web::get().to(admin_orders::list_orders)))
    .service(
        billing_resource("/api/admin/orders/{id}/mark-paid")
            .route(web::post().to(admin_orders::mark_paid)),
    )
    .service(
        billing_resource("/api/orders/{id}/checkout")
            .route(web::post().to(routes::payments::checkout)),
    )
    .service(
        billing_resource("/api/orders/{id}/payments")
            .route(web::get().to(routes::payments::list_payments)),
    )
    // Not behind the billing switch: money the gateway took is recorded whatever the
    // switch says, so that no payment is lost while billing is off.
    .service(
        web::resource("/api/webhooks/stripe")
            .route(web::post().to(routes::payments::stripe_webhook)),
    );
    configure_credit_notes(cfg);
}

/// Refunds and credit notes (behind the billing switch, like invoices).
fn configure_credit_notes(cfg: &mut web::ServiceConfig) {
    use routes::credit_notes;
    cfg.service(
        billing_resource("/api/admin/orders/{id}/refund")
            .route(web::post().to(credit_notes::refund_order)),
    )
    .service(
        billing_resource("/api/orders/{id}/credit-notes")
            .route(web::get().to(credit_notes::list_credit_notes)),
    )
    .service(
        billing_resource("/api/credit-notes/{id}/pdf")
            .route(web::get().to(credit_notes::credit_note_pdf)),
    );
}

/// CORS for the configured origins (the middleware is not mounted at all without any):
/// the panel's frontend calls with credentials and its own headers.
fn cors(allowed_origins: &[String]) -> actix_cors::Cors {
    allowed_origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::ACCEPT,
            actix_web::http::header::HeaderName::from_static("x-requested-with"),
            actix_web::http::header::HeaderName::from_static("x-csrf-token"),
        ])
        // Echoes the request's exact origin (never `*`) with Allow-Credentials.
        .supports_credentials()
        .max_age(600)
}

/// The whole application with its middleware, ready for `HttpServer` or `test::init_service`.
pub fn app(
    state: ApiState,
    cors_allowed_origins: &[String],
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY_BYTES)
                .error_handler(json_error),
        )
        .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .configure(configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::not_found("No such resource."))
        }))
        .wrap(from_fn(middleware::body_deadline))
        .wrap(ErrorHandlers::new().default_handler(middleware::json_error_body))
        .wrap(from_fn(middleware::reject_oversized_bodies))
        .wrap(Condition::new(
            !cors_allowed_origins.is_empty(),
            cors(cors_allowed_origins),
        ))
        .wrap(middleware::security_headers())
        .wrap(from_fn(middleware::log_request))
}

/// Binds the server to an already-open listener (port 0 in tests). SIGTERM and SIGINT
/// stop accepting and let in-flight requests finish within `shutdown_timeout`.
pub fn server(
    listener: TcpListener,
    state: ApiState,
    options: &ServerOptions,
) -> std::io::Result<Server> {
    let origins = options.cors_allowed_origins.clone();
    let body_deadline = middleware::BodyDeadline(options.client_request_timeout);
    let server = HttpServer::new(move || app(state.clone(), &origins).app_data(body_deadline))
        .workers(options.workers.max(1))
        .client_request_timeout(options.client_request_timeout)
        .keep_alive(options.keep_alive)
        .shutdown_timeout(options.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
    Ok(server)
}
