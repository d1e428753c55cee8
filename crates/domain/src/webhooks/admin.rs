//! The administration use cases: endpoints (the secret shown once, at creation and at
//! each rotation), the deliveries log and redelivery.

use std::sync::Arc;

use chrono::TimeDelta;

use super::delivery::{Delivery, DeliveryId};
use super::endpoint::{EndpointId, EndpointSpec, WebhookEndpoint};
use super::ports::{OutboxError, OutboxStore, QueueStats, WebhookEndpoints};
use super::secret::{SigningKeys, WebhookSecret, DEFAULT_ROTATION_OVERLAP};
use crate::shared::BoxError;
use crate::{Clock, Page, PageRequest, RepoError};

/// An endpoint with the secret that signs for it from now on. The secret is in no other
/// answer: the caller shows it once.
#[derive(Clone, Debug)]
pub struct EndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: WebhookSecret,
}

/// How an administration call can fail.
#[derive(Debug, thiserror::Error)]
pub enum WebhookAdminError {
    #[error("webhook endpoint not found")]
    EndpointNotFound,
    #[error("webhook delivery not found")]
    DeliveryNotFound,
    /// Redelivery of a delivery that is being attempted right now.
    #[error("the delivery is being attempted")]
    InFlight,
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
    #[error("webhook storage failure")]
    Internal(#[source] BoxError),
}

impl WebhookAdminError {
    fn from_endpoints(error: RepoError) -> WebhookAdminError {
        match error {
            RepoError::NotFound => WebhookAdminError::EndpointNotFound,
            RepoError::Unavailable(cause) => WebhookAdminError::Unavailable(cause),
            RepoError::Conflict(what) => WebhookAdminError::Internal(what.into()),
            RepoError::Internal(cause) => WebhookAdminError::Internal(cause),
        }
    }

    fn from_outbox(error: OutboxError, not_found: WebhookAdminError) -> WebhookAdminError {
        match error {
            OutboxError::NotFound => not_found,
            OutboxError::InFlight => WebhookAdminError::InFlight,
            OutboxError::Unavailable(cause) => WebhookAdminError::Unavailable(cause),
            OutboxError::Internal(cause) => WebhookAdminError::Internal(cause),
            OutboxError::LeaseLost => {
                WebhookAdminError::Internal("lease lost outside the worker".into())
            }
        }
    }
}

/// The webhook administration service.
#[derive(Clone)]
pub struct WebhookAdmin {
    endpoints: Arc<dyn WebhookEndpoints>,
    outbox: Arc<dyn OutboxStore>,
    clock: Arc<dyn Clock>,
    rotation_overlap: TimeDelta,
}

impl WebhookAdmin {
    /// A service whose rotations keep the previous secret signing for
    /// [`DEFAULT_ROTATION_OVERLAP`].
    pub fn new(
        endpoints: Arc<dyn WebhookEndpoints>,
        outbox: Arc<dyn OutboxStore>,
        clock: Arc<dyn Clock>,
    ) -> WebhookAdmin {
        WebhookAdmin {
            endpoints,
            outbox,
            clock,
            rotation_overlap: DEFAULT_ROTATION_OVERLAP,
        }
    }

    /// Stores a new endpoint with a freshly generated secret.
    pub async fn create(
        &self,
        spec: EndpointSpec,
    ) -> Result<EndpointWithSecret, WebhookAdminError> {
        let secret = WebhookSecret::generate();
        let endpoint = self
            .endpoints
            .create(spec, SigningKeys::new(secret.clone()), self.clock.now())
            .await
            .map_err(WebhookAdminError::from_endpoints)?;
        Ok(EndpointWithSecret { endpoint, secret })
    }

    pub async fn list(
        &self,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, WebhookAdminError> {
        self.endpoints
            .list(page)
            .await
            .map_err(WebhookAdminError::from_endpoints)
    }

    pub async fn get(&self, id: EndpointId) -> Result<WebhookEndpoint, WebhookAdminError> {
        self.endpoints
            .get(id)
            .await
            .map_err(WebhookAdminError::from_endpoints)
    }

    pub async fn update(
        &self,
        id: EndpointId,
        spec: EndpointSpec,
    ) -> Result<WebhookEndpoint, WebhookAdminError> {
        self.endpoints
            .update(id, spec)
            .await
            .map_err(WebhookAdminError::from_endpoints)
    }

    pub async fn delete(&self, id: EndpointId) -> Result<(), WebhookAdminError> {
        self.endpoints
            .delete(id)
            .await
            .map_err(WebhookAdminError::from_endpoints)
    }

    /// Replaces the endpoint's secret with a fresh one; the previous one keeps signing
    /// for the rotation overlap.
    pub async fn rotate_secret(
        &self,
        id: EndpointId,
    ) -> Result<EndpointWithSecret, WebhookAdminError> {
        let secret = WebhookSecret::generate();
        let endpoint = self
            .endpoints
            .rotate_secret(id, secret.clone(), self.clock.now(), self.rotation_overlap)
            .await
            .map_err(WebhookAdminError::from_endpoints)?;
        Ok(EndpointWithSecret { endpoint, secret })
    }

    /// The endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        id: EndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, WebhookAdminError> {
        self.outbox
            .list_deliveries(id, page)
            .await
            .map_err(|e| WebhookAdminError::from_outbox(e, WebhookAdminError::EndpointNotFound))
    }

    /// A new series of attempts of the delivery's event, due now.
    pub async fn redeliver(&self, id: DeliveryId) -> Result<Delivery, WebhookAdminError> {
        self.outbox
            .redeliver(id, self.clock.now())
            .await
            .map_err(|e| WebhookAdminError::from_outbox(e, WebhookAdminError::DeliveryNotFound))
    }

    /// The outbox's depth and the creation time of its oldest pending event (metrics).
    pub async fn queue_stats(&self) -> Result<QueueStats, WebhookAdminError> {
        self.outbox.queue_stats().await.map_err(|e| {
            WebhookAdminError::from_outbox(e, WebhookAdminError::Internal("no queue".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::ManualClock;
    use crate::webhooks::ports::{MockOutboxStore, MockWebhookEndpoints};
    use chrono::{DateTime, Utc};
    use std::sync::Mutex;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn spec() -> EndpointSpec {
        EndpointSpec::new("https://panel.example/hooks", &["*"], None, None).unwrap()
    }

    fn service(endpoints: MockWebhookEndpoints, outbox: MockOutboxStore) -> WebhookAdmin {
        WebhookAdmin::new(
            Arc::new(endpoints),
            Arc::new(outbox),
            Arc::new(ManualClock::new(start())),
        )
    }

    #[tokio::test]
    async fn create_stores_a_fresh_secret_and_answers_it_once() {
        let stored: Arc<Mutex<Vec<SigningKeys>>> = Arc::default();
        let mut endpoints = MockWebhookEndpoints::new();
        let seen = stored.clone();
        endpoints
            .expect_create()
            .times(2)
            .returning(move |spec, keys, now| {
                assert_eq!(now, start());
                seen.lock().unwrap().push(keys.clone());
                Ok(WebhookEndpoint::new(
                    EndpointId::new(1).unwrap(),
                    spec,
                    keys,
                    now,
                ))
            });
        let admin = service(endpoints, MockOutboxStore::new());

        let first = admin.create(spec()).await.unwrap();
        let second = admin.create(spec()).await.unwrap();

        assert_ne!(
            first.secret, second.secret,
            "every endpoint gets its own secret"
        );
        let stored = stored.lock().unwrap();
        assert_eq!(stored[0].current(), &first.secret);
        assert!(stored[0].previous().is_none());
        assert!(first.secret.expose().starts_with("whsec_"));
    }

    #[tokio::test]
    async fn rotation_hands_a_new_secret_and_keeps_the_old_one_for_the_overlap() {
        let mut endpoints = MockWebhookEndpoints::new();
        let old = WebhookSecret::generate();
        let kept = old.clone();
        endpoints
            .expect_rotate_secret()
            .returning(move |id, new, now, overlap| {
                assert_eq!(now, start());
                assert_eq!(overlap, DEFAULT_ROTATION_OVERLAP);
                let keys = SigningKeys::new(kept.clone()).rotate(new, now, overlap);
                Ok(WebhookEndpoint::new(id, spec(), keys, now))
            });
        let admin = service(endpoints, MockOutboxStore::new());

        let rotated = admin
            .rotate_secret(EndpointId::new(4).unwrap())
            .await
            .unwrap();

        assert_ne!(rotated.secret, old);
        assert_eq!(rotated.endpoint.keys().current(), &rotated.secret);
        assert_eq!(
            rotated.endpoint.keys().active(start()),
            vec![rotated.secret.clone(), old]
        );
    }

    #[tokio::test]
    async fn storage_errors_become_admin_errors() {
        let mut endpoints = MockWebhookEndpoints::new();
        endpoints
            .expect_get()
            .returning(|_| Err(RepoError::NotFound));
        endpoints
            .expect_rotate_secret()
            .returning(|_, _, _, _| Err(RepoError::NotFound));
        let mut outbox = MockOutboxStore::new();
        outbox
            .expect_redeliver()
            .returning(|_, _| Err(OutboxError::InFlight));
        outbox
            .expect_list_deliveries()
            .returning(|_, _| Err(OutboxError::NotFound));
        let admin = service(endpoints, outbox);
        let id = EndpointId::new(9).unwrap();

        assert!(matches!(
            admin.get(id).await,
            Err(WebhookAdminError::EndpointNotFound)
        ));
        assert!(matches!(
            admin.rotate_secret(id).await,
            Err(WebhookAdminError::EndpointNotFound)
        ));
        assert!(matches!(
            admin.redeliver(DeliveryId::new(3).unwrap()).await,
            Err(WebhookAdminError::InFlight)
        ));
        assert!(matches!(
            admin.deliveries(id, PageRequest::default()).await,
            Err(WebhookAdminError::EndpointNotFound)
        ));
    }

    #[tokio::test]
    async fn redeliver_asks_for_a_series_due_now() {
        let mut outbox = MockOutboxStore::new();
        outbox
            .expect_redeliver()
            .withf(|id, now| id.get() == 3 && *now == start())
            .returning(|_, _| Err(OutboxError::NotFound));
        let admin = service(MockWebhookEndpoints::new(), outbox);
        assert!(matches!(
            admin.redeliver(DeliveryId::new(3).unwrap()).await,
            Err(WebhookAdminError::DeliveryNotFound)
        ));
    }
}
