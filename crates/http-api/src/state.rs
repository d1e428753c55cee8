//! What handlers share: the domain services and probes, built by the app crate.

use std::sync::Arc;

use tariff_domain::catalogue::CatalogueService;

use crate::cache::BodyCache;
use tariff_domain::ports::{CallerResolver, Clock, HealthProbe, MembershipRepository};
use tariff_domain::quota::QuotaService;

/// Everything the HTTP layer needs, wired by `crates/app`.
#[derive(Clone)]
pub struct ApiState {
    pub catalogue: CatalogueService,
    pub health: Arc<dyn HealthProbe>,
    pub auth: Arc<dyn CallerResolver>,
    pub memberships: Arc<dyn MembershipRepository>,
    pub clock: Arc<dyn Clock>,
    /// The encoded public plan list (`GET /api/plans`).
    pub plan_list_cache: Arc<BodyCache<()>>,
    /// Encoded package pages by (admin visibility, raw query string).
    pub package_page_cache: Arc<BodyCache<(bool, String)>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Absolute base URL clients reach the service at (`server.public_url`, no trailing
    /// slash): the start of every pagination link.
    pub public_url: Arc<str>,
    pub quota: QuotaService,
}
