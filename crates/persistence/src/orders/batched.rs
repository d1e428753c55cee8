//! PostgreSQL: invoice numbers issued for a whole batch of activations at once (see
//! `crate::db::pg_batches` for the batches themselves).
//!
//! An activation in a batch does all its writes in its own savepoint without touching
//! the year's invoice counter: where its invoice number belongs (the order's row, its
//! audit entry, its webhook events) it writes a placeholder, a token unique to the order
//! and to the batch's connection (a random nonce, so no customer text can contain it).
//! Once every activation of the batch has run, [`Deferred::issue`] locks the counter
//! and takes one number per placeholder with one `UPDATE`, then replaces the
//! placeholders with the numbers in one statement, just before the batch commits. The
//! counter's row lock is held for those two statements and the commit, shared by the
//! whole batch, so numbers stay gapless: a number is taken only by a transaction that
//! is about to commit, and a batch that fails rolls its numbers back with it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use tariff_domain::orders::InvoiceNumberFormat;
use tariff_domain::RepoError;

use super::queries::create_invoice_counter;
use super::statements::{BumpInvoiceCounterBy, FillNumbers, Watermarks};
use crate::db::DbConn;
use crate::errors::DbError;

/// An invoice number a batch issued, for the caller of the activation that asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issued {
    pub(crate) order_id: i64,
    pub(crate) year: i32,
    pub(crate) seq: i64,
    pub(crate) number: String,
}

/// How an activation numbers its invoice.
#[derive(Clone, Copy)]
pub(crate) enum Numbering<'a> {
    /// At once, in the activation's own transaction (SQLite, whose writer is alone; on
    /// PostgreSQL the counter's row lock is then held until that transaction commits).
    Now,
    /// By the batch the activation runs in: it writes placeholders (see the module docs).
    Batched(&'a Deferred),
}

/// One order waiting for its number.
struct Pending {
    order_id: i64,
    year: i32,
    format: InvoiceNumberFormat,
    token: String,
    /// How many activations of the same account came before this one's in the batch:
    /// a later one's rows can hold an earlier one's placeholder too (the order it
    /// replaced), so placeholders are filled in rounds, one per activation of an account.
    round: usize,
}

/// The placeholders of one batch transaction, in the order they were written.
pub(crate) struct Deferred {
    nonce: String,
    /// The last audit row id and webhook event id before the batch began: every row
    /// holding a placeholder comes after them.
    audit_after: i64,
    events_after: i64,
    pending: RefCell<Vec<Pending>>,
    /// The round of the activation now running (see [`Pending::round`]).
    round: Cell<usize>,
    /// How many activations of each account the batch has run.
    seen: RefCell<HashMap<(bool, i64), usize>>,
}

impl Deferred {
    /// Opens a batch's placeholders, inside its transaction and before any of its
    /// activations writes.
    pub(crate) fn open(conn: &mut PgConnection, nonce: &str) -> Result<Deferred, DbError> {
        let (audit_after, events_after): (i64, i64) = Watermarks.get_result(conn)?;
        Ok(Deferred {
            nonce: nonce.to_owned(),
            audit_after,
            events_after,
            pending: RefCell::new(Vec::new()),
            round: Cell::new(0),
            seen: RefCell::new(HashMap::new()),
        })
    }

    /// Marks the start of an activation of `account` (`(is an organisation, id)`).
    pub(crate) fn begin(&self, account: (bool, i64)) {
        let mut seen = self.seen.borrow_mut();
        let count = seen.entry(account).or_insert(0);
        self.round.set(*count);
        *count += 1;
    }

    /// Registers order `order_id` for a number of `year` in `format`; returns the
    /// placeholder to write where the number goes.
    pub(crate) fn defer(&self, order_id: i64, year: i32, format: &InvoiceNumberFormat) -> String {
        let token = format!("~{}-{order_id}~", self.nonce);
        self.pending.borrow_mut().push(Pending {
            order_id,
            year,
            format: format.clone(),
            token: token.clone(),
            round: self.round.get(),
        });
        token
    }

    /// How many placeholders are registered; an activation's are those it added.
    pub(crate) fn len(&self) -> usize {
        self.pending.borrow().len()
    }

    /// Forgets the placeholders from `len` on (their activation rolled back).
    pub(crate) fn truncate(&self, len: usize) {
        self.pending.borrow_mut().truncate(len);
    }

    /// Numbers every registered placeholder: per year, one `UPDATE` of the counter takes
    /// as many numbers as there are placeholders (in the order they were written), then
    /// one statement writes them over the placeholders. Returns the numbers in the same
    /// order as the placeholders.
    pub(crate) fn issue(&self, conn: &mut PgConnection) -> Result<Vec<Issued>, DbError> {
        let pending = self.pending.borrow();
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let mut years: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (at, entry) in pending.iter().enumerate() {
            years.entry(entry.year).or_default().push(at);
        }
        let mut issued: Vec<Option<Issued>> = vec![None; pending.len()];
        for (year, indexes) in years {
            let count =
                i64::try_from(indexes.len()).map_err(|_| RepoError::internal("batch too large"))?;
            let last = take_numbers(conn, year, count)?;
            for (offset, at) in (0_i64..).zip(indexes) {
                let entry = &pending[at];
                let seq = last - count + 1 + offset;
                issued[at] = Some(Issued {
                    order_id: entry.order_id,
                    year,
                    seq,
                    number: entry.format.render(year, seq),
                });
            }
        }
        let issued: Vec<Issued> = issued.into_iter().flatten().collect();
        let rounds = pending.iter().map(|p| p.round).max().unwrap_or(0);
        let mut numbered = 0_i64;
        for round in 0..=rounds {
            let (entries, numbers): (Vec<&Pending>, Vec<&Issued>) = pending
                .iter()
                .zip(&issued)
                .filter(|(entry, _)| entry.round == round)
                .unzip();
            let fill = FillNumbers {
                order_ids: numbers.iter().map(|i| i.order_id).collect(),
                seqs: numbers.iter().map(|i| i.seq).collect(),
                numbers: numbers.iter().map(|i| i.number.clone()).collect(),
                tokens: entries.iter().map(|p| p.token.clone()).collect(),
                // Audit states and event bodies are JSON text: the number goes in as a
                // JSON string's content.
                json_numbers: numbers.iter().map(|i| json_content(&i.number)).collect(),
                audit_after: self.audit_after,
                events_after: self.events_after,
            };
            numbered += fill.get_result::<i64>(conn)?;
        }
        if usize::try_from(numbered).ok() != Some(issued.len()) {
            return Err(DbError::Repo(RepoError::internal(format!(
                "a batch numbered {numbered} of its {} orders",
                issued.len()
            ))));
        }
        Ok(issued)
    }
}

/// Takes `count` numbers of `year`; returns the last. Locks the year's counter row until
/// the batch commits.
fn take_numbers(conn: &mut PgConnection, year: i32, count: i64) -> Result<i64, DbError> {
    let bump = || BumpInvoiceCounterBy { year, count };
    if let Some(last) = bump().get_result(conn).optional()? {
        return Ok(last);
    }
    create_invoice_counter(&mut DbConn::Postgres(conn), year)?;
    Ok(bump().get_result(conn)?)
}

/// `text` as it appears inside a JSON string (quotes and backslashes escaped).
fn json_content(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    quoted
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::json_content;

    #[test]
    fn a_number_goes_into_json_escaped() {
        assert_eq!(json_content("INV-2026-000001"), "INV-2026-000001");
        assert_eq!(json_content("A\"B\\C"), "A\\\"B\\\\C");
    }
}
