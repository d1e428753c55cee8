//! Invoices rendered off the request path: a numbered order, as its activation
//! committed it, goes into a bounded queue, and one worker renders and stores its PDF.
//!
//! Why: rendering a PDF costs about as much CPU as the whole activation that numbered
//! it, and nobody waits for the bytes: the download path renders on first request what is
//! not stored yet, from the same frozen snapshot, so the answer is the same either way.
//! One worker renders one document at a time, so a burst of activations cannot take
//! every core away from the requests that follow it.
//!
//! The queue holds the order as the numbering committed it, not its id: the PDF shows
//! the order's status and period, and an order replaced or cancelled a moment later
//! must still get the invoice of its activation.
//!
//! Nothing is lost when the queue is full or the process stops before the worker reaches
//! an order: the database knows every numbered order without a stored invoice. A full
//! queue is remembered, and once the worker has drained what it holds it runs the
//! backfill ([`DocumentIssuer::backfill`]), as every start does. One-shot commands that
//! activate orders (`tariff sweep` charging renewals) call [`IssueWorker::drain`]
//! before they exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;

use super::issuer::DocumentIssuer;
use crate::orders::Order;

/// Where numbered orders wait for their invoice PDF. Cheap to clone.
#[derive(Clone)]
pub struct IssueQueue {
    sender: mpsc::Sender<Order>,
    overflowed: Arc<AtomicBool>,
}

/// The worker of an [`IssueQueue`], built but not started.
pub struct IssueWorker {
    receiver: Mutex<Option<mpsc::Receiver<Order>>>,
    overflowed: Arc<AtomicBool>,
    issuer: DocumentIssuer,
}

impl IssueQueue {
    /// A queue holding at most `capacity` orders (at least one), and its worker, which
    /// renders with `issuer`.
    pub fn new(issuer: DocumentIssuer, capacity: usize) -> (IssueQueue, IssueWorker) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let overflowed = Arc::new(AtomicBool::new(false));
        (
            IssueQueue {
                sender,
                overflowed: Arc::clone(&overflowed),
            },
            IssueWorker {
                receiver: Mutex::new(Some(receiver)),
                overflowed,
                issuer,
            },
        )
    }

    /// Asks for the invoice of `order`, just numbered. Never waits: when the queue is
    /// full (or its worker is gone) the order is left to the backfill.
    pub fn submit(&self, order: &Order) {
        match self.sender.try_send(order.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.overflowed.store(true, Ordering::Release),
            Err(TrySendError::Closed(order)) => {
                tracing::warn!(
                    order = order.id().get(),
                    "invoice queue has no worker; the next start's backfill stores it"
                );
            }
        }
    }
}

impl IssueWorker {
    /// Starts the worker on the current runtime; `None` if it was started before. It ends
    /// when every [`IssueQueue`] handle is dropped and the queue is drained.
    pub fn start(&self) -> Option<JoinHandle<()>> {
        let mut receiver = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        let overflowed = Arc::clone(&self.overflowed);
        let issuer = self.issuer.clone();
        Some(tokio::spawn(async move {
            while let Some(order) = receiver.recv().await {
                issue(&issuer, &order).await;
                if receiver.is_empty() && overflowed.swap(false, Ordering::AcqRel) {
                    backfill(&issuer).await;
                }
            }
        }))
    }

    /// Renders and stores what is queued now, without waiting for more, unless the
    /// worker was started (then it does that itself); returns how many it stored. For
    /// one-shot commands, before they exit.
    pub async fn drain(&self) -> usize {
        let Some(mut receiver) = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return 0;
        };
        let mut stored = 0;
        while let Ok(order) = receiver.try_recv() {
            stored += usize::from(issue(&self.issuer, &order).await);
        }
        if self.overflowed.swap(false, Ordering::AcqRel) {
            backfill(&self.issuer).await;
        }
        *self.receiver.lock().unwrap_or_else(PoisonError::into_inner) = Some(receiver);
        stored
    }
}

/// Renders and stores the invoice of `order`; a failure is logged (the backfill or the
/// first download makes it later). Whether one was stored.
async fn issue(issuer: &DocumentIssuer, order: &Order) -> bool {
    match issuer.store_invoice(order).await {
        Ok(stored) => stored,
        Err(err) => {
            tracing::warn!(
                order = order.id().get(),
                error = %crate::shared::error_chain(&err),
                "invoice not stored after numbering; the backfill or first download will"
            );
            false
        }
    }
}

async fn backfill(issuer: &DocumentIssuer) {
    match issuer.backfill().await {
        Ok(made) => tracing::info!(made, "stored the invoices a full queue left"),
        Err(err) => tracing::warn!(
            error = %crate::shared::error_chain(&err),
            "invoice backfill after a full queue failed"
        ),
    }
}
