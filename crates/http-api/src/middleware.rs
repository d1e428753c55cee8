//! Cross-cutting HTTP behaviour: request ids, one log line per request, security headers, and the
//! catch-all that gives every error response the contract's JSON body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlerResponse};
use actix_web::web::Bytes;
use actix_web::{web, Error};
use futures_util::Stream;
use tracing::Instrument;

use crate::error::{error_response, ErrorCode, ErrorDetails};
use crate::state::ApiState;

/// Security headers sent on every response.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
}

/// The header that carries a request's id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest client-chosen request id that is kept; a longer or stranger one is
/// replaced by a fresh id, so log lines stay short and cannot be forged into new lines.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The request id a client (or a proxy in front) chose, when it is safe to log as is.
fn accepted_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let plausible = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    plausible.then(|| value.to_owned())
}

/// A fresh request id: 64 random bits in hex, unique enough to find one request's lines
/// among several instances' logs.
fn fresh_request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Logs one line per request: method, path, status, latency, inside a `request` span
/// that carries the request id, so every line logged while the request runs (the 5xx
/// cause line included) names it. The id is taken from `X-Request-Id` when the client
/// sent a plausible one, made otherwise, and returned in that header. Query strings are
/// left out on purpose: they may carry search terms or tokens.
pub async fn log_request<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let request_id = accepted_request_id(&req).unwrap_or_else(fresh_request_id);
    let span = tracing::info_span!("request", request_id = %request_id);
    let header_value = HeaderValue::from_str(&request_id).ok();
    let mut result = log_within_span(req, next).instrument(span).await;
    if let (Ok(res), Some(value)) = (&mut result, header_value) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    result
}

async fn log_within_span<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let metrics = req
        .app_data::<web::Data<ApiState>>()
        .map(|state| state.metrics.clone());
    let result = next.call(req).await;
    let elapsed = started.elapsed();
    let latency_us = elapsed.as_micros();
    match &result {
        Ok(res) => {
            let status = res.status().as_u16();
            if let Some(metrics) = metrics {
                let route = res
                    .request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                metrics.record(method.as_str(), &route, status, elapsed);
            }
            if status >= 500 {
                tracing::warn!(%method, %path, status, latency_us, "request");
            } else {
                tracing::info!(%method, %path, status, latency_us, "request");
            }
        }
        Err(err) => tracing::warn!(%method, %path, error = %err, latency_us, "request failed"),
    }
    result
}

/// Error responses made outside our handlers (unknown route, wrong method, extractor
/// failures that slipped through) get the contract's JSON body.
pub fn json_error_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = ErrorCode::for_status(status);
    let message = match code {
        ErrorCode::NotFound => "No such resource.",
        ErrorCode::MethodNotAllowed => "This method is not allowed on this resource.",
        ErrorCode::PayloadTooLarge => "The request body is larger than 64 KiB.",
        ErrorCode::UnsupportedMediaType => "Send the body as application/json.",
        ErrorCode::RequestTimeout => "The request did not arrive in time.",
        ErrorCode::Internal => "An internal error occurred.",
        _ => "The request could not be processed.",
    };
    let (req, old) = res.into_parts();
    let mut new = error_response(code, message, &ErrorDetails::default());
    // Keep the Allow header of a 405 so clients learn which methods exist.
    if let Some(allow) = old.headers().get(header::ALLOW).cloned() {
        new.headers_mut().insert(header::ALLOW, allow);
    }
    let res = ServiceResponse::new(req, new).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// A constant header value for `Cache-Control` on public, cacheable reads.
pub fn public_cache() -> HeaderValue {
    HeaderValue::from_static("public, max-age=1")
}

/// The billing switch's gate, wrapped around every plan, package, order, invoice, usage
/// and apply/cancel-plan resource: while billing is off they answer 503
/// `feature_disabled` before any other work. Reads this instance's in-memory switch
/// (kept current by a background poll), so it costs one atomic load.
pub async fn require_billing<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let enabled = req
        .app_data::<web::Data<ApiState>>()
        .is_none_or(|state| state.settings.billing_enabled_now());
    if enabled {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let response = error_response(
        ErrorCode::FeatureDisabled,
        "Billing is switched off on this service.",
        &ErrorDetails::default(),
    );
    Ok(req.into_response(response).map_into_right_body())
}

/// Refuses a request whose declared body is over [`crate::MAX_BODY_BYTES`] with 413
/// before any other work, on every route: routes that read no body would otherwise
/// answer as if nothing had been sent. A body sent without a length is cut off with
/// the same 413 where it is read.
pub async fn reject_oversized_bodies<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let limit = u64::try_from(crate::MAX_BODY_BYTES).unwrap_or(u64::MAX);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_none_or(|length| length <= limit) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let response = error_response(
        ErrorCode::PayloadTooLarge,
        "The request body is larger than 64 KiB.",
        &ErrorDetails::default(),
    );
    Ok(req.into_response(response).map_into_right_body())
}

/// How long a client has to deliver its whole request body once its head has arrived
/// (app data; without it bodies have no deadline). Complements actix's
/// `client_request_timeout`, which only covers the head.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadline(pub Duration);

/// Gives request bodies a deadline: a client that announces a body and stalls gets 408
/// `request_timeout` instead of holding its connection (and a worker's handler) forever.
pub async fn body_deadline<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let deadline = req.app_data::<BodyDeadline>().map(|d| d.0);
    if let Some(deadline) = deadline.filter(|_| has_body(&req)) {
        let inner = std::mem::replace(req.parts_mut().1, Payload::None);
        req.set_payload(Payload::Stream {
            payload: Box::pin(DeadlinePayload {
                inner,
                timer: Box::pin(tokio::time::sleep(deadline)),
            }),
        });
    }
    next.call(req).await
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// A request body that fails with `TimedOut` once its timer fires.
struct DeadlinePayload {
    inner: Payload,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body deadline passed",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether a payload error is the body deadline firing.
pub fn is_body_timeout(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use std::sync::{Arc, Mutex};

    use actix_web::middleware::from_fn;
    use actix_web::{test, App, HttpResponse};

    use super::*;
    use crate::error::ApiError;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn failing() -> Result<HttpResponse, ApiError> {
        let cause = std::io::Error::other("disk on fire");
        Err(ApiError::internal(&cause))
    }

    #[actix_web::test]
    async fn the_request_id_is_on_every_line_of_a_request_the_cause_line_included() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let app = test::init_service(
            App::new()
                .route("/boom", web::get().to(failing))
                .wrap(from_fn(log_request)),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/boom")
            .insert_header((REQUEST_ID_HEADER, "trace-me-42"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status().as_u16(), 500);
        assert_eq!(
            response.headers().get(REQUEST_ID_HEADER).unwrap(),
            "trace-me-42"
        );

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cause = lines.iter().find(|l| l.contains("disk on fire"));
        let summary = lines.iter().find(|l| l.contains("status=500"));
        assert!(
            cause.is_some_and(|l| l.contains("request_id=trace-me-42")),
            "{text}"
        );
        assert!(
            summary.is_some_and(|l| l.contains("request_id=trace-me-42")),
            "{text}"
        );
        assert!(lines.iter().all(|l| l.contains("trace-me-42")), "{text}");
    }
}
