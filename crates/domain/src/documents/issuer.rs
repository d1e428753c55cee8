//! Rendering and storing issued documents: right after numbering, on first download, and
//! in the start-up backfill.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use super::model::{DocumentKind, DocumentStore, StoredDocument};
use crate::orders::{
    invoice_document, BillingPolicy, InvoiceRenderer, Order, OrderRepository, RenderError,
};
use crate::shared::ids::{AccountRef, OrderId};
use crate::shared::repo::RepoError;

/// Stored documents kept in memory at most, in bytes. They never change once stored, so
/// a cached copy is always current.
const CACHE_BUDGET: usize = 32 * 1024 * 1024;
/// Orders read per backfill round.
const BACKFILL_BATCH: u32 = 100;

/// Why an issued document could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The document store failed.
    #[error("document storage failed")]
    Repo(#[source] RepoError),
    /// The renderer could not produce the PDF.
    #[error("document rendering failed")]
    Render(#[source] RenderError),
}

/// Renders documents once and stores them; answers stored ones (cached in memory).
#[derive(Clone)]
pub struct DocumentIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn DocumentStore>,
    renderer: Arc<dyn InvoiceRenderer>,
    orders: Arc<dyn OrderRepository>,
    policy: Arc<BillingPolicy>,
    cache: Mutex<Cache>,
}

/// A cached document and the account its owner belongs to (an order's account never
/// changes, so downloads can be authorised without reading the order again).
type Cached = (Arc<StoredDocument>, AccountRef);

#[derive(Default)]
struct Cache {
    documents: HashMap<(DocumentKind, i64), Cached>,
    order: VecDeque<(DocumentKind, i64)>,
    bytes: usize,
}

impl Cache {
    fn get(&self, key: (DocumentKind, i64)) -> Option<Cached> {
        self.documents.get(&key).cloned()
    }

    fn put(&mut self, document: Arc<StoredDocument>, account: AccountRef) {
        let key = (document.kind(), document.owner_id());
        let size = document.content().len();
        if size > CACHE_BUDGET || self.documents.contains_key(&key) {
            return;
        }
        while self.bytes + size > CACHE_BUDGET {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((evicted, _)) = self.documents.remove(&oldest) {
                self.bytes -= evicted.content().len();
            }
        }
        self.bytes += size;
        self.order.push_back(key);
        self.documents.insert(key, (document, account));
    }
}

impl DocumentIssuer {
    /// An issuer storing into `store` what `renderer` makes.
    pub fn new(
        store: Arc<dyn DocumentStore>,
        renderer: Arc<dyn InvoiceRenderer>,
        orders: Arc<dyn OrderRepository>,
        policy: Arc<BillingPolicy>,
    ) -> DocumentIssuer {
        DocumentIssuer {
            inner: Arc::new(Inner {
                store,
                renderer,
                orders,
                policy,
                cache: Mutex::default(),
            }),
        }
    }

    /// The renderer, for documents that are not stored (proformas).
    pub fn renderer(&self) -> &Arc<dyn InvoiceRenderer> {
        &self.inner.renderer
    }

    /// Renders and stores the invoice of a numbered order, right after numbering; the
    /// stored version wins if there already is one. `None` for an order without number.
    pub async fn issue_invoice(
        &self,
        order: &Order,
    ) -> Result<Option<Arc<StoredDocument>>, IssueError> {
        let Some(stored) = self.render_and_store(order).await? else {
            return Ok(None);
        };
        Ok(Some(self.remember(stored, order.account())))
    }

    /// Renders and stores the invoice of `order` as given (what [`super::IssueQueue`]'s
    /// worker does with the order its activation committed); the stored version wins if
    /// there already is one. The document is not kept in memory: nobody asked for it
    /// yet. Whether the order had a number to store an invoice for.
    pub async fn store_invoice(&self, order: &Order) -> Result<bool, IssueError> {
        if self
            .cached((DocumentKind::Invoice, order.id().get()))
            .is_some()
        {
            return Ok(true);
        }
        Ok(self.render_and_store(order).await?.is_some())
    }

    /// The render-and-insert-if-absent step: what the store holds afterwards.
    async fn render_and_store(&self, order: &Order) -> Result<Option<StoredDocument>, IssueError> {
        let Some(issued) = order.invoice() else {
            return Ok(None);
        };
        let frozen_at = issued.snapshot.frozen_at;
        let document = invoice_document(order, None, frozen_at, &self.inner.policy);
        let pdf = self
            .inner
            .renderer
            .render(&document)
            .await
            .map_err(IssueError::Render)?;
        let rendered = StoredDocument::invoice(order.id(), issued.number.clone(), pdf, frozen_at);
        let stored = self
            .inner
            .store
            .insert_if_absent(rendered)
            .await
            .map_err(IssueError::Repo)?;
        Ok(Some(stored))
    }

    /// The stored invoice of a numbered order, made now if a crash left it unmade.
    /// `None` for an order without number (a proforma, rendered on request).
    pub async fn stored_invoice(
        &self,
        order: &Order,
    ) -> Result<Option<Arc<StoredDocument>>, IssueError> {
        if order.invoice().is_none() {
            return Ok(None);
        }
        let key = (DocumentKind::Invoice, order.id().get());
        if let Some((cached, _)) = self.cached(key) {
            return Ok(Some(cached));
        }
        match self
            .inner
            .store
            .get(DocumentKind::Invoice, order.id().get())
            .await
            .map_err(IssueError::Repo)?
        {
            Some(stored) => Ok(Some(self.remember(stored, order.account()))),
            None => self.issue_invoice(order).await,
        }
    }

    /// Renders and stores the invoice of every numbered order that has none (orders
    /// numbered before documents were stored, or whose render a crash interrupted).
    /// Returns how many it made. Safe to run anywhere, any time, twice at once.
    pub async fn backfill(&self) -> Result<u64, IssueError> {
        let mut after = 0;
        let mut made = 0;
        loop {
            let missing = self
                .inner
                .store
                .invoices_missing(after, BACKFILL_BATCH)
                .await
                .map_err(IssueError::Repo)?;
            let Some(last) = missing.last() else {
                return Ok(made);
            };
            after = last.get();
            for id in missing {
                let order = match self.inner.orders.get(id).await {
                    Ok(order) => order,
                    Err(RepoError::NotFound) => continue,
                    Err(other) => return Err(IssueError::Repo(other)),
                };
                if self.render_and_store(&order).await?.is_some() {
                    made += 1;
                }
            }
        }
    }

    /// The invoice of order `id` and the order's account, if this instance has them in
    /// memory (no database read).
    pub fn cached_invoice(&self, id: OrderId) -> Option<(AccountRef, Arc<StoredDocument>)> {
        self.cached((DocumentKind::Invoice, id.get()))
            .map(|(document, account)| (account, document))
    }

    fn cached(&self, key: (DocumentKind, i64)) -> Option<Cached> {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
    }

    fn remember(&self, stored: StoredDocument, account: AccountRef) -> Arc<StoredDocument> {
        let stored = Arc::new(stored);
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(Arc::clone(&stored), account);
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use chrono::{TimeZone, Utc};

    use crate::catalogue::plan::{Plan, PlanDraft, PlanSpec};
    use crate::orders::document::{InvoiceDocument, MockInvoiceRenderer};
    use crate::orders::ports::MockOrderRepository;
    use crate::orders::{
        InvoiceSnapshot, IssuedInvoice, NewOrder, OrderRecord, OrderStatus, SellerDetails,
    };
    use crate::shared::ids::{PlanId, UserId};
    use crate::shared::money::TaxRate;

    /// Documents in memory, with the store's insert-if-absent rule.
    #[derive(Default)]
    struct MemoryStore {
        documents: Mutex<HashMap<(DocumentKind, i64), StoredDocument>>,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl DocumentStore for MemoryStore {
        async fn get(
            &self,
            kind: DocumentKind,
            owner_id: i64,
        ) -> Result<Option<StoredDocument>, RepoError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .documents
                .lock()
                .unwrap()
                .get(&(kind, owner_id))
                .cloned())
        }

        async fn insert_if_absent(
            &self,
            document: StoredDocument,
        ) -> Result<StoredDocument, RepoError> {
            let mut documents = self.documents.lock().unwrap();
            let key = (document.kind(), document.owner_id());
            Ok(documents.entry(key).or_insert(document).clone())
        }

        async fn invoices_missing(
            &self,
            after: i64,
            limit: u32,
        ) -> Result<Vec<OrderId>, RepoError> {
            let documents = self.documents.lock().unwrap();
            Ok((after + 1..=3)
                .filter(|id| !documents.contains_key(&(DocumentKind::Invoice, *id)))
                .take(limit as usize)
                .filter_map(OrderId::new)
                .collect())
        }
    }

    fn order(id: i64, numbered: bool) -> Order {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: "9.99".into(),
            ..PlanDraft::default()
        })
        .unwrap();
        let plan = Plan::new(PlanId::new(3).unwrap(), spec, at);
        let user = UserId::new(5).unwrap();
        let account = AccountRef::User(user);
        let rate = TaxRate::from_basis_points(0).unwrap();
        let new = NewOrder::for_plan(&plan, account, Some(user), rate, at).unwrap();
        Order::restore(OrderRecord {
            id: OrderId::new(id).unwrap(),
            account,
            placed_by: Some(user),
            plan_id: new.plan_id(),
            status: if numbered {
                OrderStatus::Active
            } else {
                OrderStatus::Pending
            },
            description: new.description().to_owned(),
            charges: new.charges().clone(),
            notes: None,
            payment_reference: None,
            renewal_of: None,
            created_at: at,
            activated_at: numbered.then_some(at),
            expires_at: numbered.then(|| at + chrono::TimeDelta::days(30)),
            cancelled_at: None,
            invoice: numbered.then(|| IssuedInvoice {
                number: format!("INV-2026-{id:06}"),
                year: 2026,
                seq: id,
                snapshot: InvoiceSnapshot {
                    seller: SellerDetails::default(),
                    buyer: Default::default(),
                    frozen_at: at,
                },
            }),
            billing: Default::default(),
        })
        .unwrap()
    }

    /// A renderer whose bytes name the invoice number, counting its calls.
    fn renderer(calls: Arc<AtomicUsize>) -> MockInvoiceRenderer {
        let mut renderer = MockInvoiceRenderer::new();
        renderer
            .expect_render()
            .returning(move |document: &InvoiceDocument| {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(format!("PDF of {:?} at {}", document.kind, document.issued_at).into_bytes())
            });
        renderer
    }

    fn issuer(store: Arc<MemoryStore>, calls: Arc<AtomicUsize>) -> DocumentIssuer {
        let mut orders = MockOrderRepository::new();
        orders
            .expect_get()
            .returning(|id| Ok(order(id.get(), true)));
        DocumentIssuer::new(
            store,
            Arc::new(renderer(calls)),
            Arc::new(orders),
            Arc::new(BillingPolicy::default()),
        )
    }

    #[tokio::test]
    async fn a_missing_invoice_is_rendered_and_stored_on_first_request() {
        let store = Arc::new(MemoryStore::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let issuer = issuer(store.clone(), calls.clone());
        let first = issuer
            .stored_invoice(&order(1, true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(first.number(), "INV-2026-000001");
        assert!(store.get(DocumentKind::Invoice, 1).await.unwrap().is_some());
        // Later requests: the stored bytes, from memory, no render, no read.
        let reads = store.gets.load(Ordering::SeqCst);
        let again = issuer
            .stored_invoice(&order(1, true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.content(), first.content());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(store.gets.load(Ordering::SeqCst), reads);
        // A proforma is never stored.
        assert!(issuer
            .stored_invoice(&order(2, false))
            .await
            .unwrap()
            .is_none());
        assert!(issuer
            .issue_invoice(&order(2, false))
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn the_first_stored_version_wins() {
        let store = Arc::new(MemoryStore::default());
        let earlier = StoredDocument::invoice(
            OrderId::new(1).unwrap(),
            "INV-2026-000001".into(),
            b"written first".to_vec(),
            Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap(),
        );
        store.insert_if_absent(earlier.clone()).await.unwrap();
        let issuer = issuer(store, Arc::new(AtomicUsize::new(0)));
        let issued = issuer
            .issue_invoice(&order(1, true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(issued.content(), earlier.content());
    }

    #[tokio::test]
    async fn the_backfill_stores_every_missing_invoice_once() {
        let store = Arc::new(MemoryStore::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let issuer = issuer(store.clone(), calls.clone());
        issuer.issue_invoice(&order(2, true)).await.unwrap();
        assert_eq!(issuer.backfill().await.unwrap(), 2);
        for id in 1..=3 {
            assert!(store
                .get(DocumentKind::Invoice, id)
                .await
                .unwrap()
                .is_some());
        }
        assert_eq!(issuer.backfill().await.unwrap(), 0, "nothing left to make");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// Waits (up to ten seconds) until `store` holds the invoices of orders 1 to 3.
    async fn all_three_stored(store: &MemoryStore) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.documents.lock().unwrap().len() < 3 {
            assert!(std::time::Instant::now() < deadline, "invoices not stored");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A queue of `capacity` over a fresh store, with orders 1 to 3 submitted before its
    /// worker starts: the store, the render count, the queue and its worker.
    fn three_submitted(
        capacity: usize,
    ) -> (
        Arc<MemoryStore>,
        Arc<AtomicUsize>,
        crate::documents::IssueQueue,
        crate::documents::IssueWorker,
    ) {
        let store = Arc::new(MemoryStore::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let (queue, worker) =
            crate::documents::IssueQueue::new(issuer(store.clone(), calls.clone()), capacity);
        for id in 1..=3 {
            queue.submit(&order(id, true));
        }
        (store, calls, queue, worker)
    }

    #[tokio::test]
    async fn queued_invoices_are_rendered_and_stored_by_the_worker_once() {
        let (store, calls, queue, worker) = three_submitted(8);
        let running = worker.start().expect("first start");
        assert!(worker.start().is_none(), "one worker per queue");
        all_three_stored(&store).await;
        drop(queue);
        running.await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            store
                .get(DocumentKind::Invoice, 2)
                .await
                .unwrap()
                .unwrap()
                .number(),
            "INV-2026-000002"
        );
    }

    #[tokio::test]
    async fn what_a_full_queue_turns_away_the_worker_backfills() {
        // The worker is not running yet: orders 2 and 3 find the queue full.
        let (store, calls, queue, worker) = three_submitted(1);
        let running = worker.start().unwrap();
        all_three_stored(&store).await;
        drop(queue);
        running.await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "each rendered once");
    }

    #[tokio::test]
    async fn a_one_shot_drain_stores_the_orders_as_submitted_without_reading_them_again() {
        let store = Arc::new(MemoryStore::default());
        let calls = Arc::new(AtomicUsize::new(0));
        // No expectation set: a read of an order would fail the test.
        let issuer = DocumentIssuer::new(
            store.clone(),
            Arc::new(renderer(calls.clone())),
            Arc::new(MockOrderRepository::new()),
            Arc::new(BillingPolicy::default()),
        );
        let (queue, worker) = crate::documents::IssueQueue::new(issuer, 8);
        for id in 1..=3 {
            queue.submit(&order(id, true));
        }
        queue.submit(&order(4, false)); // a proforma: nothing to store
        assert_eq!(worker.drain().await, 3);
        assert_eq!(store.documents.lock().unwrap().len(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(worker.drain().await, 0, "nothing left");
        assert!(
            worker.start().is_some(),
            "the worker can still start after a drain"
        );
    }
}
