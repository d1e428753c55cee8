//! Refunds and credit notes: an administrator's refund, an order's credit notes, a
//! credit note's PDF (same access rule as the order).

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use tariff_domain::credit_notes::{CreditNoteId, RefundInput as DomainRefund};
use tariff_domain::OrderId;

use crate::auth::{Admin, Authenticated};
use crate::dto::credit_note::{CreditNoteBody, RefundInput};
use crate::error::ApiError;
use crate::json::Json;
use crate::routes::orders::names_etag;
use crate::routes::path_id;
use crate::state::ApiState;

/// Refunds (part of) a paid order (active, expired, or cancelled after payment) and
/// issues its credit note. `amount` defaults to what is left refundable; the sum of an
/// order's credit notes never exceeds its total, also under concurrent refunds.
/// `to: original` refunds through Stripe when the order was paid there, else records a
/// manual refund; `to: credit` adds the amount to the account's credit. `cancel: true`
/// also cancels the (active) order. All in one transaction with the audit entry and
/// the `credit_note.issued` event.
#[utoipa::path(
    post, path = "/api/admin/orders/{id}/refund", tag = "admin",
    params(("id" = i64, Path, description = "Order id")),
    request_body = RefundInput,
    responses(
        (status = 201, description = "The credit note", body = CreditNoteBody),
        (status = 400, description = "A bad amount (zero, negative, more decimals than the currency has) or reason", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, description = "Not an administrator", body = crate::error::ErrorBody),
        (status = 404, description = "No such order", body = crate::error::ErrorBody),
        (status = 409, description = "The order was never paid, is refunded in full, the amount is more than is left refundable, or the payment gateway refused the refund", body = crate::error::ErrorBody),
        (status = 503, description = "feature_disabled, database_unavailable, or upstream_unavailable (the payment gateway could not be reached; nothing was refunded)", body = crate::error::ErrorBody)
    )
)]
pub async fn refund_order(
    state: web::Data<ApiState>,
    Admin(admin): Admin,
    id: web::Path<i64>,
    body: Json<RefundInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let input = body.into_inner();
    let note = state
        .credit_notes
        .refund(
            admin,
            id,
            DomainRefund {
                amount: input.amount.map(|amount| amount.0),
                reason: input.reason,
                to: input.to.into(),
                cancel: input.cancel,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CreditNoteBody::from(&note)))
}

/// The order's credit notes, oldest first (same access rule as the order).
#[utoipa::path(
    get, path = "/api/orders/{id}/credit-notes", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "Credit notes, oldest first", body = [CreditNoteBody]),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such order, or not yours", body = crate::error::ErrorBody)
    )
)]
pub async fn list_credit_notes(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), OrderId::new, "Order")?;
    let notes = state.credit_notes.list(caller, id).await?;
    let body: Vec<CreditNoteBody> = notes.iter().map(CreditNoteBody::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// The credit note's PDF (same access rule as its order): the bytes stored when its
/// number was issued, with an `ETag`; 304 when `If-None-Match` names it.
#[utoipa::path(
    get, path = "/api/credit-notes/{id}/pdf", tag = "orders",
    params(
        ("id" = i64, Path, description = "Credit note id"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of this credit note seen before")
    ),
    responses(
        (status = 200, description = "`application/pdf`, as an attachment `credit-note-<number>.pdf`, with an `ETag`", content_type = "application/pdf", body = Vec<u8>),
        (status = 304, description = "The stored PDF is the one `If-None-Match` names; no body"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No such credit note, or not yours", body = crate::error::ErrorBody)
    )
)]
pub async fn credit_note_pdf(
    state: web::Data<ApiState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(id.into_inner(), CreditNoteId::new, "Credit note")?;
    let pdf = state.credit_notes.pdf(caller, id).await?;
    let etag = pdf.document.etag();
    // Stored bytes never change: a client may keep them and revalidate.
    let cache_control = "private, no-cache";
    let seen = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok());
    if names_etag(seen, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"credit-note-{}.pdf\"",
                file_name_safe(pdf.note.number())
            ),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(Bytes::copy_from_slice(pdf.document.content())))
}

/// A number as a file name: letters, digits, `-` and `_` kept, anything else `_` (a
/// configured format may hold characters a header's quoted string cannot).
fn file_name_safe(number: &str) -> String {
    number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
