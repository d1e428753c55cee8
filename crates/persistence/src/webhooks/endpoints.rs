//! `WebhookEndpoints` on diesel.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tariff_domain::webhooks::{
    EndpointId, EndpointSpec, SecretSealer, SigningKeys, WebhookEndpoint, WebhookEndpoints,
    WebhookSecret,
};
use tariff_domain::{Page, PageRequest, RepoError};

use super::queries;
use super::rows::{keys_of, EndpointSettings, KeyColumns};
use crate::db::{sql_bounds, Database};

/// Webhook endpoints and their signing keys, on both backends; the secrets are stored
/// sealed by `sealer`.
#[derive(Clone)]
pub struct DieselWebhookEndpoints {
    db: Database,
    sealer: Arc<dyn SecretSealer>,
}

impl DieselWebhookEndpoints {
    pub fn new(db: Database, sealer: Arc<dyn SecretSealer>) -> Self {
        Self { db, sealer }
    }
}

fn not_found_if_absent(found: bool) -> Result<(), RepoError> {
    if found {
        Ok(())
    } else {
        Err(RepoError::NotFound)
    }
}

#[async_trait]
impl WebhookEndpoints for DieselWebhookEndpoints {
    async fn create(
        &self,
        spec: EndpointSpec,
        keys: SigningKeys,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, RepoError> {
        let columns = KeyColumns::from_keys(&*self.sealer, &keys)?;
        let row = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let now = now.naive_utc();
                    let settings = EndpointSettings::from_spec(&spec, now);
                    Ok(queries::insert_endpoint(c, &settings, &columns, now)?)
                })
            })
            .await?;
        row.into_endpoint(&*self.sealer)
    }

    async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, RepoError> {
        let (offset, limit) = sql_bounds(page);
        let (rows, total) = self
            .db
            .query(move |conn| {
                conn.read_snapshot(|c| {
                    let total = queries::count_endpoints(c)?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    Ok((queries::page_endpoints(c, offset, limit)?, total))
                })
            })
            .await?;
        let total =
            u64::try_from(total).map_err(|_| RepoError::internal("negative endpoint count"))?;
        let items = rows
            .into_iter()
            .map(|row| row.into_endpoint(&*self.sealer))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(items, total))
    }

    async fn get(&self, id: EndpointId) -> Result<WebhookEndpoint, RepoError> {
        let row = self
            .db
            .query(move |c| Ok(queries::get_endpoint(c, id.get())?))
            .await?;
        row.into_endpoint(&*self.sealer)
    }

    async fn update(
        &self,
        id: EndpointId,
        spec: EndpointSpec,
    ) -> Result<WebhookEndpoint, RepoError> {
        let row = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let settings = EndpointSettings::from_spec(&spec, Utc::now().naive_utc());
                    not_found_if_absent(queries::update_endpoint(c, id.get(), &settings)?)?;
                    Ok(queries::get_endpoint(c, id.get())?)
                })
            })
            .await?;
        row.into_endpoint(&*self.sealer)
    }

    async fn delete(&self, id: EndpointId) -> Result<(), RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    Ok(not_found_if_absent(queries::delete_endpoint(c, id.get())?)?)
                })
            })
            .await
    }

    async fn rotate_secret(
        &self,
        id: EndpointId,
        new: WebhookSecret,
        now: DateTime<Utc>,
        overlap: TimeDelta,
    ) -> Result<WebhookEndpoint, RepoError> {
        let sealer = self.sealer.clone();
        let row = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    // Lock the row first, so that a concurrent rotation waits and then
                    // reads the keys this one wrote: no shown secret is lost.
                    not_found_if_absent(queries::touch_endpoint(c, id.get())?)?;
                    let stored = queries::get_endpoint(c, id.get())?;
                    let keys = keys_of(
                        &*sealer,
                        &stored.secret,
                        stored.previous_secret.as_deref(),
                        stored.previous_signs_until,
                    )?;
                    let rotated = keys.rotate(new, now, overlap);
                    queries::set_keys(c, id.get(), &KeyColumns::from_keys(&*sealer, &rotated)?)?;
                    Ok(queries::get_endpoint(c, id.get())?)
                })
            })
            .await?;
        row.into_endpoint(&*self.sealer)
    }
}
