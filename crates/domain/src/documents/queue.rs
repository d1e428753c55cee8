//! Invoices rendered off the request path: a numbered order's id goes into a bounded
//! queue, and one worker renders and stores its PDF.
//!
//! Why: rendering a PDF costs about as much CPU as the whole activation that numbered
//! it, and nobody waits for the bytes: the download path renders on first request what is
//! not stored yet, from the same frozen snapshot, so the answer is the same either way.
//! One worker renders one document at a time, so a burst of activations cannot take
//! every core away from the requests that follow it.
//!
//! Nothing is lost when the queue is full or the process stops before the worker reaches
//! an id: the database knows every numbered order without a stored invoice. A full queue
//! is remembered, and once the worker has drained what it holds it runs the backfill
//! ([`DocumentIssuer::backfill`]), as every start does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;

use super::issuer::DocumentIssuer;
use crate::shared::ids::OrderId;

/// Where numbered orders wait for their invoice PDF. Cheap to clone.
#[derive(Clone)]
pub struct IssueQueue {
    sender: mpsc::Sender<OrderId>,
    overflowed: Arc<AtomicBool>,
}

/// The worker of an [`IssueQueue`], built but not started.
pub struct IssueWorker {
    receiver: Mutex<Option<mpsc::Receiver<OrderId>>>,
    overflowed: Arc<AtomicBool>,
    issuer: DocumentIssuer,
}

impl IssueQueue {
    /// A queue holding at most `capacity` ids (at least one), and its worker, which
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

    /// Asks for the invoice of numbered order `order`. Never waits: when the queue is
    /// full (or its worker is gone) the order is left to the backfill.
    pub fn submit(&self, order: OrderId) {
        match self.sender.try_send(order) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.overflowed.store(true, Ordering::Release),
            Err(TrySendError::Closed(_)) => {
                tracing::warn!(
                    order = order.get(),
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
                if let Err(err) = issuer.issue_invoice_of(order).await {
                    tracing::warn!(
                        order = order.get(),
                        error = %super::error_chain(&err),
                        "invoice not stored after numbering; the backfill or first download will"
                    );
                }
                if receiver.is_empty() && overflowed.swap(false, Ordering::AcqRel) {
                    match issuer.backfill().await {
                        Ok(made) => tracing::info!(made, "stored the invoices a full queue left"),
                        Err(err) => tracing::warn!(
                            error = %super::error_chain(&err),
                            "invoice backfill after a full queue failed"
                        ),
                    }
                }
            }
        }))
    }
}
