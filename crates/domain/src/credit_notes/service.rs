//! The refund use cases: an administrator's refund, the credit note of a refund made in
//! the gateway's dashboard, reading notes and their PDFs.

use std::sync::Arc;

use super::model::{
    CreditNote, CreditNoteId, CreditNoteReason, InvalidCreditNote, RefundDestination, RefundDetails,
};
use super::ports::{
    CreditNoteRequest, CreditNoteStore, IssueOutcome, OriginalPaymentRefunder, RefundGatewayError,
};
use super::rules::{check_refundable, credit_note_document, decide_refund, RefundRefusal};
use crate::audit::{Actor, AuditAction, AuditEntry, TargetKind};
use crate::documents::{DocumentKind, DocumentStore, StoredDocument};
use crate::identity::Caller;
use crate::orders::{
    BillingPolicy, InvoiceNumberFormat, InvoiceRenderer, Order, OrderError, OrderService,
    RenderError,
};
use crate::payments::{GatewayError, IdempotencyKey, PaymentProvider, RefundId, RefundStatus};
use crate::shared::clock::Clock;
use crate::shared::ids::OrderId;
use crate::shared::money::Money;
use crate::shared::repo::{RepoError, StoreFailure};

/// Credit notes read per backfill round.
const BACKFILL_BATCH: u32 = 100;

/// Errors of the refund use cases.
#[derive(Debug, thiserror::Error)]
pub enum CreditNoteError {
    /// Only administrators may refund.
    #[error("only administrators may refund orders")]
    AdminOnly,
    /// The order does not exist, or the caller may not see it.
    #[error("order {0} does not exist")]
    OrderNotFound(OrderId),
    /// The credit note does not exist, or the caller may not see its order.
    #[error("credit note {0} does not exist")]
    NotFound(CreditNoteId),
    /// Bad input.
    #[error("{field}: {message}")]
    Invalid {
        /// The JSON field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The refund rule refused it (HTTP: 409).
    #[error(transparent)]
    Refused(RefundRefusal),
    /// The gateway refused the refund; nothing was refunded (HTTP: 409).
    #[error("the payment gateway refused the refund")]
    GatewayRefused(#[source] GatewayError),
    /// The gateway could not be reached; nothing was recorded (HTTP: 503).
    #[error("the payment gateway is unavailable")]
    GatewayUnavailable(#[source] GatewayError),
    /// The PDF could not be made.
    #[error("the credit note could not be rendered")]
    Render(#[source] RenderError),
    /// The order use cases failed in a way they have no answer for.
    #[error("order failure")]
    Order(#[source] OrderError),
    /// The store failed.
    #[error("credit note failure")]
    Store(#[from] StoreFailure),
}

impl CreditNoteError {
    fn from_order(err: OrderError, id: OrderId) -> CreditNoteError {
        match err {
            OrderError::OrderNotFound(_) => CreditNoteError::OrderNotFound(id),
            OrderError::Store(failure) => CreditNoteError::Store(failure),
            other => CreditNoteError::Order(other),
        }
    }

    fn repo(err: RepoError) -> CreditNoteError {
        CreditNoteError::Store(err.into())
    }
}

/// An administrator's refund (`POST /api/admin/orders/:id/refund`).
#[derive(Clone, Debug, Default)]
pub struct RefundInput {
    /// Exact decimal text in the order's currency; `None`: everything left.
    pub amount: Option<String>,
    /// Why (printed on the note).
    pub reason: String,
    /// Where the money goes.
    pub to: RefundDestination,
    /// Also cancel the order.
    pub cancel: bool,
}

/// The credit note of a gateway refund, and whether it was made by this call.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayRefundNote {
    /// The note.
    pub note: CreditNote,
    /// False when a note for this refund existed already (a repeated event, or the
    /// refund Tariff itself made).
    pub issued_now: bool,
}

/// A credit note's stored PDF.
#[derive(Clone, Debug)]
pub struct CreditNotePdf {
    /// The note.
    pub note: CreditNote,
    /// Its PDF, as stored when it was issued.
    pub document: Arc<StoredDocument>,
}

/// Refunds, credit notes and their documents.
#[derive(Clone)]
pub struct CreditNoteService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn CreditNoteStore>,
    orders: OrderService,
    documents: Arc<dyn DocumentStore>,
    renderer: Arc<dyn InvoiceRenderer>,
    policy: Arc<BillingPolicy>,
    numbering: InvoiceNumberFormat,
    refunder: Option<Arc<dyn OriginalPaymentRefunder>>,
    clock: Arc<dyn Clock>,
}

/// What [`CreditNoteService::new`] needs.
pub struct CreditNotePorts {
    /// The credit notes.
    pub store: Arc<dyn CreditNoteStore>,
    /// Orders, for the access rule and the invoice a note corrects.
    pub orders: OrderService,
    /// Where PDFs are kept.
    pub documents: Arc<dyn DocumentStore>,
    /// What renders them.
    pub renderer: Arc<dyn InvoiceRenderer>,
    /// The seller and footer printed.
    pub policy: Arc<BillingPolicy>,
    /// `invoice.credit_note_format`.
    pub numbering: InvoiceNumberFormat,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl CreditNoteService {
    /// The service; `original` refunds are recorded as manual until
    /// [`with_refunder`](Self::with_refunder) connects the payments.
    pub fn new(ports: CreditNotePorts) -> CreditNoteService {
        CreditNoteService {
            inner: Arc::new(Inner {
                store: ports.store,
                orders: ports.orders,
                documents: ports.documents,
                renderer: ports.renderer,
                policy: ports.policy,
                numbering: ports.numbering,
                refunder: None,
                clock: ports.clock,
            }),
        }
    }

    /// Refunds `original` payments through `refunder` (payments on).
    pub fn with_refunder(self, refunder: Arc<dyn OriginalPaymentRefunder>) -> CreditNoteService {
        let inner = &self.inner;
        CreditNoteService {
            inner: Arc::new(Inner {
                store: inner.store.clone(),
                orders: inner.orders.clone(),
                documents: inner.documents.clone(),
                renderer: inner.renderer.clone(),
                policy: inner.policy.clone(),
                numbering: inner.numbering.clone(),
                refunder: Some(refunder),
                clock: inner.clock.clone(),
            }),
        }
    }

    /// Administrators: refunds (part of) a paid order and issues its credit note.
    ///
    /// The amount defaults to what is left refundable. `to: credit` appends it to the
    /// account's credit; `to: original` refunds the gateway payment when the order was
    /// paid through one (see [`OriginalPaymentRefunder`]), else records a manual refund.
    /// The note, the credit, the cancellation (`cancel`), the audit entry and the
    /// `credit_note.issued` event are one transaction; the PDF is rendered and stored
    /// right after (or on first download, should that fail).
    pub async fn refund(
        &self,
        admin: Caller,
        id: OrderId,
        input: RefundInput,
    ) -> Result<CreditNote, CreditNoteError> {
        if !admin.is_admin() {
            return Err(CreditNoteError::AdminOnly);
        }
        let order = self
            .inner
            .orders
            .get(admin, id)
            .await
            .map_err(|e| CreditNoteError::from_order(e, id))?;
        let reason = CreditNoteReason::parse(&input.reason).map_err(invalid("reason"))?;
        let amount = input
            .amount
            .as_deref()
            .map(|text| parse_amount(text, &order))
            .transpose()?;
        // A first check outside the transaction, so that nothing is sent to the
        // gateway for a refund the store would refuse; the store checks again. Only
        // money received can be refunded: an order numbered without a payment (a free
        // plan, apply-plan) has no `paidAt` and is refused like a pending one.
        check_refundable(
            order.status(),
            order.invoice().is_some() && order.paid_at().is_some(),
        )
        .map_err(CreditNoteError::Refused)?;
        let refunded = self
            .inner
            .store
            .refunded(id)
            .await
            .map_err(CreditNoteError::repo)?;
        let total = order.charges().total();
        let amount = decide_refund(total, refunded, amount).map_err(CreditNoteError::Refused)?;
        let refund = match input.to {
            RefundDestination::Credit => RefundDetails::to_credit(),
            RefundDestination::Original => self.refund_original(&order, refunded, amount).await?,
        };
        let audit = AuditEntry::new(
            Actor::User(admin.user_id()),
            AuditAction::OrderRefund,
            TargetKind::Order,
            Some(id.get()),
        );
        let note = self
            .issue(CreditNoteRequest {
                order: id,
                amount: Some(amount),
                reason,
                refund,
                cancel: input.cancel,
                at: self.inner.clock.now(),
                numbering: self.inner.numbering.clone(),
                audit,
            })
            .await?;
        if input.cancel {
            self.inner.orders.freshness().touched(order.account());
        }
        Ok(note.note)
    }

    /// The credit note of refund `refund` (made at the gateway, for instance in its
    /// dashboard) of `amount` on order `order`, unless one was issued for that refund
    /// already: then that one, with `issued_now: false`. The refund id is unique over
    /// all credit notes (held by the database), so a repeated or concurrent event
    /// issues one note. For the `charge.refunded` webhook.
    /// Errors: `OrderNotFound`, `Refused` (never paid, or more than is left: the note
    /// would break the sum rule), `Store`.
    pub async fn issue_for_gateway_refund(
        &self,
        order: OrderId,
        provider: PaymentProvider,
        refund: &RefundId,
        amount: Money,
        status: RefundStatus,
    ) -> Result<GatewayRefundNote, CreditNoteError> {
        if let Some(note) = self
            .inner
            .store
            .by_reference(refund.as_str())
            .await
            .map_err(CreditNoteError::repo)?
        {
            return Ok(GatewayRefundNote {
                note,
                issued_now: false,
            });
        }
        let reason = CreditNoteReason::parse(&format!(
            "Refund {} made at {}",
            refund.as_str(),
            provider.as_str()
        ))
        .map_err(invalid("reason"))?;
        let audit = AuditEntry::new(
            Actor::Operator,
            AuditAction::OrderRefund,
            TargetKind::Order,
            Some(order.get()),
        );
        self.issue(CreditNoteRequest {
            order,
            amount: Some(amount),
            reason,
            refund: RefundDetails::gateway(
                provider.into(),
                status.into(),
                refund.as_str().to_owned(),
            ),
            cancel: false,
            at: self.inner.clock.now(),
            numbering: self.inner.numbering.clone(),
            audit,
        })
        .await
    }

    /// Every credit note of `order`, whoever asks (for the gateway's refund reports).
    pub(super) async fn notes_of(&self, order: OrderId) -> Result<Vec<CreditNote>, RepoError> {
        self.inner.store.for_order(order).await
    }

    /// The credit notes of an order the caller may see, oldest first.
    pub async fn list(
        &self,
        caller: Caller,
        id: OrderId,
    ) -> Result<Vec<CreditNote>, CreditNoteError> {
        self.inner
            .orders
            .get(caller, id)
            .await
            .map_err(|e| CreditNoteError::from_order(e, id))?;
        self.inner
            .store
            .for_order(id)
            .await
            .map_err(CreditNoteError::repo)
    }

    /// A credit note's PDF, if the caller may see its order: the bytes stored when it
    /// was issued (made now if a crash left them unmade).
    pub async fn pdf(
        &self,
        caller: Caller,
        id: CreditNoteId,
    ) -> Result<CreditNotePdf, CreditNoteError> {
        let note = match self.inner.store.get(id).await {
            Ok(note) => note,
            Err(RepoError::NotFound) => return Err(CreditNoteError::NotFound(id)),
            Err(other) => return Err(CreditNoteError::repo(other)),
        };
        let order = match self.inner.orders.get(caller, note.order_id()).await {
            Ok(order) => order,
            Err(OrderError::OrderNotFound(_)) => return Err(CreditNoteError::NotFound(id)),
            Err(other) => return Err(CreditNoteError::from_order(other, note.order_id())),
        };
        let stored = self
            .inner
            .documents
            .get(DocumentKind::CreditNote, id.get())
            .await
            .map_err(CreditNoteError::repo)?;
        let document = match stored {
            Some(document) => document,
            None => self.store_document(&note, &order).await?,
        };
        Ok(CreditNotePdf {
            note,
            document: Arc::new(document),
        })
    }

    /// Renders and stores the PDF of every credit note without one (a crash between
    /// the number and the render). Returns how many it made. Safe to run anywhere, any
    /// time, twice at once.
    pub async fn backfill(&self) -> Result<u64, CreditNoteError> {
        let mut after = 0;
        let mut made = 0;
        loop {
            let missing = self
                .inner
                .store
                .without_document(after, BACKFILL_BATCH)
                .await
                .map_err(CreditNoteError::repo)?;
            let Some(last) = missing.last() else {
                return Ok(made);
            };
            after = last.get();
            for id in missing {
                let note = self
                    .inner
                    .store
                    .get(id)
                    .await
                    .map_err(CreditNoteError::repo)?;
                let order = self
                    .inner
                    .orders
                    .get_for_operator(note.order_id())
                    .await
                    .map_err(|e| CreditNoteError::from_order(e, note.order_id()))?;
                self.store_document(&note, &order).await?;
                made += 1;
            }
        }
    }

    /// Issues through the store, then renders and stores the PDF of a new note. A
    /// render failure is logged, not answered: the note stands, and its PDF is made on
    /// first download or at the next start.
    async fn issue(
        &self,
        request: CreditNoteRequest,
    ) -> Result<GatewayRefundNote, CreditNoteError> {
        let order_id = request.order;
        let outcome = match self.inner.store.issue(request).await {
            Ok(outcome) => outcome,
            Err(RepoError::NotFound) => return Err(CreditNoteError::OrderNotFound(order_id)),
            Err(other) => return Err(CreditNoteError::repo(other)),
        };
        let note = match outcome {
            IssueOutcome::Issued(note) => note,
            IssueOutcome::AlreadyIssued(note) => {
                return Ok(GatewayRefundNote {
                    note,
                    issued_now: false,
                })
            }
            IssueOutcome::Refused(refusal) => return Err(CreditNoteError::Refused(refusal)),
        };
        match self.inner.orders.get_for_operator(order_id).await {
            Ok(order) => {
                if let Err(err) = self.store_document(&note, &order).await {
                    tracing::warn!(
                        error = %crate::shared::error_chain(&err),
                        credit_note = note.id().get(),
                        "credit note PDF not stored; made on first download"
                    );
                }
            }
            Err(err) => tracing::warn!(
                error = %crate::shared::error_chain(&err),
                credit_note = note.id().get(),
                "credit note PDF not stored; made on first download"
            ),
        }
        Ok(GatewayRefundNote {
            note,
            issued_now: true,
        })
    }

    /// Renders `note` and stores it unless a version is stored already; the stored one.
    async fn store_document(
        &self,
        note: &CreditNote,
        order: &Order,
    ) -> Result<StoredDocument, CreditNoteError> {
        let document = credit_note_document(note, order, &self.inner.policy)
            .map_err(|e| CreditNoteError::Render(RenderError::Layout(e.to_string())))?;
        let pdf = self
            .inner
            .renderer
            .render(&document)
            .await
            .map_err(CreditNoteError::Render)?;
        let rendered = StoredDocument::new(
            DocumentKind::CreditNote,
            note.id().get(),
            note.number().to_owned(),
            pdf,
            note.created_at(),
        );
        self.inner
            .documents
            .insert_if_absent(rendered)
            .await
            .map_err(CreditNoteError::repo)
    }

    /// Refunds through the gateway when one is wired and took the order's payment;
    /// otherwise a manual refund.
    async fn refund_original(
        &self,
        order: &Order,
        refunded: Money,
        amount: Money,
    ) -> Result<RefundDetails, CreditNoteError> {
        let Some(refunder) = &self.inner.refunder else {
            return Ok(RefundDetails::manual());
        };
        // Derived from the order's refund state, not the time: the same refund retried
        // after a crash has the same key, so the gateway refunds once; the next refund
        // of the order starts from another refunded sum, so it has another key.
        let key = IdempotencyKey::new(format!(
            "order-{}-refund-after-{}-of-{}",
            order.id(),
            refunded.minor(),
            amount.minor()
        ))
        .map_err(|e| CreditNoteError::Store(RepoError::internal(e.to_string()).into()))?;
        match refunder.refund_original(order.id(), amount, &key).await {
            Ok(None) => Ok(RefundDetails::manual()),
            Ok(Some(refund)) => Ok(RefundDetails::gateway(
                refund.provider.into(),
                refund.status.into(),
                refund.id.as_str().to_owned(),
            )),
            Err(RefundGatewayError::Gateway(err @ GatewayError::Unavailable(_))) => {
                Err(CreditNoteError::GatewayUnavailable(err))
            }
            Err(RefundGatewayError::Gateway(err)) => Err(CreditNoteError::GatewayRefused(err)),
            Err(RefundGatewayError::Store(err)) => Err(CreditNoteError::repo(err)),
        }
    }
}

/// Parses an amount in the order's currency: exact, above zero.
fn parse_amount(text: &str, order: &Order) -> Result<Money, CreditNoteError> {
    let currency = order.charges().currency();
    let amount =
        Money::parse_decimal(text.trim(), currency).map_err(|e| CreditNoteError::Invalid {
            field: "amount",
            message: e.to_string(),
        })?;
    if amount.minor() <= 0 {
        return Err(invalid("amount")(InvalidCreditNote::NotPositive));
    }
    Ok(amount)
}

fn invalid(field: &'static str) -> impl Fn(InvalidCreditNote) -> CreditNoteError {
    move |e| CreditNoteError::Invalid {
        field,
        message: e.to_string(),
    }
}
