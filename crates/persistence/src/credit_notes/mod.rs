//! `CreditNoteStore` on diesel: the `credit_notes` table and its own number series.
//!
//! Issuing is one write transaction that first serialises on the order (PostgreSQL: its
//! row locked `FOR UPDATE` until commit, after the account's row for a refund to credit;
//! SQLite: the one writer, which the transaction holds), then reads what the order's notes add up to (the latest note's
//! `refunded_after_minor`) and applies the domain's sum rule; the row also stores the
//! running sum and the order's total, which `CHECK (refunded_after_minor <=
//! order_total_minor)` and the unique `(order_id, refunded_after_minor)` hold even if a
//! writer skipped the lock. Numbers come from `credit_note_counters`, bumped with
//! `UPDATE ... RETURNING` as the transaction's last write (the row stays locked until
//! commit), so they are gapless per year and never reused, as invoice numbers are.
//! One gateway refund has at most one note: `refund_reference` is unique.

mod rows;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDateTime};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use tariff_domain::audit::CreditNoteSnapshot;
use tariff_domain::billing::NewCreditEntry;
use tariff_domain::credit_notes::{
    check_refundable, decide_refund, CreditNote, CreditNoteId, CreditNoteJson, CreditNoteRequest,
    CreditNoteStore, IssueOutcome, RefundDestination,
};
use tariff_domain::documents::DocumentKind;
use tariff_domain::orders::OrderStatus;
use tariff_domain::shared::ConflictKind;
use tariff_domain::webhooks::{EventDraft, EventPayloads, EventType};
use tariff_domain::{AccountRef, Currency, Money, OrderId, RepoError};

use self::rows::CreditNoteRow;
use crate::audit;
use crate::credit::queries as credit;
use crate::db::{Columns, Database, DbConn};
use crate::errors::DbError;
use crate::schema::{credit_note_counters, credit_notes, documents, orders};
use crate::webhooks::store_event;

/// Credit notes on either backend.
#[derive(Clone)]
pub struct DieselCreditNotes {
    db: Database,
    payloads: Arc<dyn CreditNoteJson>,
    order_events: Option<Arc<dyn EventPayloads>>,
}

impl DieselCreditNotes {
    /// `payloads` renders the `credit_note.issued` event's data.
    pub fn new(db: Database, payloads: Arc<dyn CreditNoteJson>) -> Self {
        Self {
            db,
            payloads,
            order_events: None,
        }
    }

    /// The same store, also storing `order.cancelled` and `account.plan_changed` when a
    /// refund cancels its order (`cancel: true`), built with `payloads`.
    pub fn with_order_events(mut self, payloads: Arc<dyn EventPayloads>) -> Self {
        self.order_events = Some(payloads);
        self
    }
}

/// What issuing reads of the order, under its lock.
struct OrderFacts {
    status: String,
    account_kind: String,
    account_id: i64,
    currency: String,
    total_minor: i64,
    invoice_number: Option<String>,
}

type OrderFactsRow = (String, String, i64, String, i64, Option<String>);

/// Reads the order's facts; on PostgreSQL its row stays locked until commit, so that
/// the refunds of one order take turns. `None`: no such order.
fn lock_order(c: &mut DbConn<'_>, id: i64) -> QueryResult<Option<OrderFacts>> {
    let query = orders::table.find(id).select((
        orders::status,
        orders::account_kind,
        orders::account_id,
        orders::currency,
        orders::total_minor,
        orders::invoice_number,
    ));
    let row: Option<OrderFactsRow> = match c {
        DbConn::Postgres(conn) => query.for_update().get_result(&mut **conn).optional()?,
        DbConn::Sqlite(_) => c.get_result(query).optional()?,
    };
    Ok(row.map(
        |(status, account_kind, account_id, currency, total_minor, invoice_number)| OrderFacts {
            status,
            account_kind,
            account_id,
            currency,
            total_minor,
            invoice_number,
        },
    ))
}

/// What the order's credit notes add up to: the latest one's running sum, 0 without.
fn refunded_minor(c: &mut DbConn<'_>, order: i64) -> QueryResult<i64> {
    let latest: Option<i64> = c
        .get_result(
            credit_notes::table
                .filter(credit_notes::order_id.eq(order))
                .order(credit_notes::id.desc())
                .select(credit_notes::refunded_after_minor)
                .limit(1),
        )
        .optional()?;
    Ok(latest.unwrap_or(0))
}

fn by_reference(c: &mut DbConn<'_>, reference: &str) -> QueryResult<Option<CreditNoteRow>> {
    c.get_result(
        credit_notes::table
            .filter(credit_notes::refund_reference.eq(reference))
            .select(CreditNoteRow::columns()),
    )
    .optional()
}

/// The next gapless number of `year`'s series; locks the counter row until commit.
fn next_seq(c: &mut DbConn<'_>, year: i32) -> QueryResult<i64> {
    let bump = || {
        diesel::update(credit_note_counters::table.find(year))
            .set(credit_note_counters::last_seq.eq(credit_note_counters::last_seq + 1))
            .returning(credit_note_counters::last_seq)
    };
    if let Some(seq) = c.get_result(bump()).optional()? {
        return Ok(seq);
    }
    c.execute(
        diesel::insert_into(credit_note_counters::table)
            .values((
                credit_note_counters::year.eq(year),
                credit_note_counters::last_seq.eq(0_i64),
            ))
            .on_conflict_do_nothing(),
    )?;
    c.get_result(bump())
}

fn corrupt(what: &str) -> DbError {
    DbError::Repo(RepoError::internal(format!("order has a corrupt {what}")))
}

/// The issuing transaction's body (see the module docs).
fn issue_in(
    c: &mut DbConn<'_>,
    request: &CreditNoteRequest,
    payloads: &dyn CreditNoteJson,
    order_events: Option<&dyn EventPayloads>,
) -> Result<IssueOutcome, DbError> {
    if let Some(reference) = &request.refund.reference {
        if let Some(row) = by_reference(c, reference)? {
            return Ok(IssueOutcome::AlreadyIssued(row.try_into()?));
        }
    }
    let order_id = request.order.get();
    if request.refund.to == RefundDestination::Credit {
        // Account first, then order: the order write path takes the account's lock
        // (to spend credit) before it touches the account's orders, so taking them in
        // the other order here could deadlock with it.
        let account: Option<(String, i64)> = c
            .get_result(
                orders::table
                    .find(order_id)
                    .select((orders::account_kind, orders::account_id)),
            )
            .optional()?;
        let Some((kind, id)) = account else {
            return Err(DbError::Repo(RepoError::NotFound));
        };
        let account = AccountRef::from_parts(&kind, id).ok_or_else(|| corrupt("account"))?;
        credit::lock_account(c, account)?;
    }
    let Some(order) = lock_order(c, order_id)? else {
        return Err(DbError::Repo(RepoError::NotFound));
    };
    let status: OrderStatus = order.status.parse().map_err(|_| corrupt("status"))?;
    let account = AccountRef::from_parts(&order.account_kind, order.account_id)
        .ok_or_else(|| corrupt("account"))?;
    let currency = Currency::from_code(&order.currency).map_err(|_| corrupt("currency"))?;
    if let Err(refusal) = check_refundable(status, order.invoice_number.is_some()) {
        return Ok(IssueOutcome::Refused(refusal));
    }
    let Some(invoice_number) = order.invoice_number else {
        return Err(corrupt("invoice number"));
    };
    let total = Money::from_minor(order.total_minor, currency);
    let refunded = Money::from_minor(refunded_minor(c, order_id)?, currency);
    let amount = match decide_refund(total, refunded, request.amount) {
        Ok(amount) => amount,
        Err(refusal) => return Ok(IssueOutcome::Refused(refusal)),
    };
    let after = refunded
        .checked_add(amount)
        .map_err(|e| DbError::Repo(RepoError::internal(e.to_string())))?;
    if request.refund.to == RefundDestination::Credit {
        let entry = NewCreditEntry::refund(account, amount, request.order, request.at)
            .map_err(|e| DbError::Repo(RepoError::internal(e.to_string())))?;
        credit::append(c, &entry)?;
    }
    let at: NaiveDateTime = request.at.naive_utc();
    let cancelled = request.cancel
        && status == OrderStatus::Active
        && c.execute(
            diesel::update(
                orders::table
                    .find(order_id)
                    .filter(orders::status.eq(OrderStatus::Active.as_str())),
            )
            .set((
                orders::status.eq(OrderStatus::Cancelled.as_str()),
                orders::cancelled_at.eq(Some(at)),
            )),
        )? == 1;
    if cancelled {
        let order = crate::orders::load_order(c, order_id)?;
        crate::orders::order_transitioned(c, order_events, OrderStatus::Active, &order)?;
    }
    // Last: the counter row's lock is held until commit.
    let year = request.at.year();
    let seq = next_seq(c, year)?;
    let row: CreditNoteRow = c.get_result(
        diesel::insert_into(credit_notes::table)
            .values((
                credit_notes::number.eq(request.numbering.render(year, seq)),
                credit_notes::year.eq(year),
                credit_notes::seq.eq(seq),
                credit_notes::order_id.eq(order_id),
                credit_notes::account_kind.eq(account.kind()),
                credit_notes::account_id.eq(account.raw_id()),
                credit_notes::invoice_number.eq(&invoice_number),
                credit_notes::amount_minor.eq(amount.minor()),
                credit_notes::currency.eq(currency.code()),
                credit_notes::order_total_minor.eq(total.minor()),
                credit_notes::refunded_after_minor.eq(after.minor()),
                credit_notes::reason.eq(request.reason.text()),
                credit_notes::refund_to.eq(request.refund.to.as_str()),
                credit_notes::refund_provider.eq(request.refund.provider.as_str()),
                credit_notes::refund_status.eq(request.refund.status.as_str()),
                credit_notes::refund_reference.eq(request.refund.reference.as_deref()),
                credit_notes::created_at.eq(at),
            ))
            .returning(CreditNoteRow::columns()),
    )?;
    let note = CreditNote::try_from(row)?;
    let entry = request.audit.clone().with_after(CreditNoteSnapshot {
        credit_note_id: note.id().get(),
        number: note.number().to_owned(),
        order_id,
        amount: note.amount().to_fixed_string(),
        currency: currency.code().to_owned(),
        reason: note.reason().text().to_owned(),
        to: note.refund().to.as_str().to_owned(),
        provider: note.refund().provider.as_str().to_owned(),
        reference: note.refund().reference.clone(),
        cancelled_order: cancelled,
    });
    audit::record(c, Some(&entry))?;
    let draft = EventDraft::new(
        EventType::CreditNoteIssued,
        Some(account),
        payloads.credit_note(&note),
    )
    .map_err(|e| DbError::Repo(RepoError::internal(e.to_string())))?;
    store_event(c, draft, request.at)?;
    Ok(IssueOutcome::Issued(note))
}

#[async_trait]
impl CreditNoteStore for DieselCreditNotes {
    async fn issue(&self, request: CreditNoteRequest) -> Result<IssueOutcome, RepoError> {
        let payloads = self.payloads.clone();
        let order_events = self.order_events.clone();
        let reference = request.refund.reference.clone();
        let issued = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    issue_in(c, &request, &*payloads, order_events.as_deref())
                })
            })
            .await;
        match (issued, reference) {
            // A concurrent issue for the same gateway refund committed first: theirs
            // is the note.
            (Err(RepoError::Conflict(ConflictKind::AlreadyExists)), Some(reference)) => {
                match self.by_reference(&reference).await? {
                    Some(note) => Ok(IssueOutcome::AlreadyIssued(note)),
                    None => Err(RepoError::Conflict(ConflictKind::AlreadyExists)),
                }
            }
            (result, _) => result,
        }
    }

    async fn refunded(&self, order: OrderId) -> Result<Money, RepoError> {
        self.db
            .query(move |c| {
                let currency: Option<String> = c
                    .get_result(orders::table.find(order.get()).select(orders::currency))
                    .optional()?;
                let currency = currency.ok_or(DbError::Repo(RepoError::NotFound))?;
                let currency = Currency::from_code(&currency).map_err(|_| corrupt("currency"))?;
                Ok(Money::from_minor(refunded_minor(c, order.get())?, currency))
            })
            .await
    }

    async fn for_order(&self, order: OrderId) -> Result<Vec<CreditNote>, RepoError> {
        let rows: Vec<CreditNoteRow> = self
            .db
            .query(move |c| {
                Ok(c.load(
                    credit_notes::table
                        .filter(credit_notes::order_id.eq(order.get()))
                        .order(credit_notes::id.asc())
                        .select(CreditNoteRow::columns()),
                )?)
            })
            .await?;
        rows.into_iter().map(CreditNote::try_from).collect()
    }

    async fn get(&self, id: CreditNoteId) -> Result<CreditNote, RepoError> {
        let row: CreditNoteRow = self
            .db
            .query(move |c| {
                Ok(c.get_result(
                    credit_notes::table
                        .find(id.get())
                        .select(CreditNoteRow::columns()),
                )?)
            })
            .await?;
        CreditNote::try_from(row)
    }

    async fn by_reference(&self, reference: &str) -> Result<Option<CreditNote>, RepoError> {
        let reference = reference.to_owned();
        let row = self
            .db
            .query(move |c| Ok(by_reference(c, &reference)?))
            .await?;
        row.map(CreditNote::try_from).transpose()
    }

    async fn without_document(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CreditNoteId>, RepoError> {
        let ids: Vec<i64> = self
            .db
            .query(move |c| {
                Ok(c.load(
                    credit_notes::table
                        .filter(credit_notes::id.gt(after))
                        .filter(not(exists(
                            documents::table
                                .filter(documents::kind.eq(DocumentKind::CreditNote.as_str()))
                                .filter(documents::owner_id.eq(credit_notes::id)),
                        )))
                        .order(credit_notes::id.asc())
                        .limit(i64::from(limit))
                        .select(credit_notes::id),
                )?)
            })
            .await?;
        ids.into_iter()
            .map(|id| {
                CreditNoteId::new(id)
                    .ok_or_else(|| RepoError::internal(format!("credit note id {id} invalid")))
            })
            .collect()
    }
}
