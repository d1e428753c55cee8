//! Plans: the catalogue's unit of sale, with prices, limits and permissions.

use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

use crate::audit::snapshot::{PermissionsSnapshot, PlanSnapshot};
use crate::catalogue::limits::{Limit, Limits, Permissions, Resource};
use crate::shared::ids::PlanId;
use crate::shared::money::{Currency, Money, MoneyError};

/// What kind of plan this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanType {
    /// Free.
    Free,
    /// Paid.
    Paid,
    /// Edu.
    Edu,
    /// Enterprise.
    Enterprise,
}

impl PlanType {
    /// All.
    pub const ALL: [PlanType; 4] = [
        PlanType::Free,
        PlanType::Paid,
        PlanType::Edu,
        PlanType::Enterprise,
    ];

    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanType::Free => "free",
            PlanType::Paid => "paid",
            PlanType::Edu => "edu",
            PlanType::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for PlanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlanType {
    type Err = PlanValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlanType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                PlanValidationError::new(
                    "type",
                    format!("`{s}` is not one of free, paid, edu, enterprise"),
                )
            })
    }
}

/// A plan field failed validation; `field` is the contract's JSON name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlanValidationError {
    /// Field.
    pub field: &'static str,
    /// Message.
    pub message: String,
}

impl PlanValidationError {
    /// Creates it from its parts.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Unvalidated plan input, as it comes from an API body or an import file.
/// Prices are decimal text so that they are parsed exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanDraft {
    /// Name.
    pub name: String,
    /// Plan type.
    pub plan_type: String,
    /// Description.
    pub description: Option<String>,
    /// Currency.
    pub currency: String,
    /// Price.
    pub price: String,
    /// Price hourly.
    pub price_hourly: String,
    /// Price yearly.
    pub price_yearly: String,
    /// Limits.
    pub limits: Limits,
    /// Server permissions.
    pub server_permissions: Permissions,
    /// Site permissions.
    pub site_permissions: Permissions,
    /// Features.
    pub features: serde_json::Map<String, serde_json::Value>,
    /// Hidden.
    pub hidden: bool,
    /// Whether it is the default plan.
    pub is_default: bool,
    /// Stripe plan id.
    pub stripe_plan_id: Option<String>,
}

impl Default for PlanDraft {
    fn default() -> Self {
        PlanDraft {
            name: String::new(),
            plan_type: "paid".into(),
            description: None,
            currency: "USD".into(),
            price: "0".into(),
            price_hourly: "0".into(),
            price_yearly: "0".into(),
            limits: Limits::unlimited(),
            server_permissions: Permissions::ALL,
            site_permissions: Permissions::ALL,
            features: serde_json::Map::new(),
            hidden: false,
            is_default: false,
            stripe_plan_id: None,
        }
    }
}

/// A partial change to a plan: `None` leaves a field as it is. For the nullable
/// fields, `Some(None)` clears them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanPatch {
    /// Name.
    pub name: Option<String>,
    /// Plan type.
    pub plan_type: Option<String>,
    /// Description.
    pub description: Option<Option<String>>,
    /// Currency.
    pub currency: Option<String>,
    /// Price.
    pub price: Option<String>,
    /// Price hourly.
    pub price_hourly: Option<String>,
    /// Price yearly.
    pub price_yearly: Option<String>,
    /// Limits.
    pub limits: Vec<(Resource, Limit)>,
    /// Server permissions.
    pub server_permissions: Option<Permissions>,
    /// Site permissions.
    pub site_permissions: Option<Permissions>,
    /// Features.
    pub features: Option<serde_json::Map<String, serde_json::Value>>,
    /// Hidden.
    pub hidden: Option<bool>,
    /// Whether it is the default plan.
    pub is_default: Option<bool>,
    /// Stripe plan id.
    pub stripe_plan_id: Option<Option<String>>,
}

impl PlanPatch {
    /// Applies the patch to a draft; validation happens when the draft becomes a spec.
    pub fn apply_to(self, draft: &mut PlanDraft) {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { draft.$field = v; } )* };
        }
        take!(
            name,
            plan_type,
            description,
            currency,
            price,
            price_hourly,
            price_yearly,
            server_permissions,
            site_permissions,
            features,
            hidden,
            is_default,
            stripe_plan_id
        );
        for (resource, limit) in self.limits {
            draft.limits.set(resource, limit);
        }
    }
}

const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 2_000;
const MAX_STRIPE_ID_CHARS: usize = 255;
const MAX_FEATURES_BYTES: usize = 16 * 1024;

/// A validated plan, without its identity: name, type, prices, limits, permissions.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanSpec {
    name: String,
    plan_type: PlanType,
    description: Option<String>,
    price: Money,
    price_hourly: Money,
    price_yearly: Money,
    limits: Limits,
    server_permissions: Permissions,
    site_permissions: Permissions,
    features: serde_json::Map<String, serde_json::Value>,
    hidden: bool,
    is_default: bool,
    stripe_plan_id: Option<String>,
}

fn price(
    field: &'static str,
    text: &str,
    currency: Currency,
) -> Result<Money, PlanValidationError> {
    Money::parse_decimal(text, currency).map_err(|e| match e {
        MoneyError::Negative => PlanValidationError::new(field, "must be zero or more"),
        other => PlanValidationError::new(field, other.to_string()),
    })
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

impl PlanSpec {
    /// Validates a draft: name 1..=100 characters, a known currency, prices >= 0
    /// with no more decimals than the currency has, a known plan type.
    pub fn new(draft: PlanDraft) -> Result<PlanSpec, PlanValidationError> {
        let name = draft.name.trim().to_owned();
        let name_chars = name.chars().count();
        if name_chars == 0 || name_chars > MAX_NAME_CHARS {
            return Err(PlanValidationError::new(
                "name",
                "must be 1 to 100 characters",
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(PlanValidationError::new(
                "name",
                "must not contain control characters",
            ));
        }
        let plan_type: PlanType = draft.plan_type.parse()?;
        let currency = Currency::from_code(&draft.currency)
            .map_err(|e| PlanValidationError::new("currency", e.to_string()))?;
        let description = non_blank(draft.description);
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err(PlanValidationError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
        if description.as_ref().is_some_and(|d| d.contains('\0')) {
            // Multi-line text may hold control characters, but not NUL: PostgreSQL
            // cannot store it, and no invoice or panel can show it.
            return Err(PlanValidationError::new(
                "description",
                "must not contain NUL characters",
            ));
        }
        let stripe_plan_id = non_blank(draft.stripe_plan_id);
        if stripe_plan_id
            .as_ref()
            .is_some_and(|s| s.chars().any(char::is_control))
        {
            return Err(PlanValidationError::new(
                "stripePlanId",
                "must not contain control characters",
            ));
        }
        if stripe_plan_id
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_STRIPE_ID_CHARS)
        {
            return Err(PlanValidationError::new(
                "stripePlanId",
                "must be at most 255 characters",
            ));
        }
        for (resource, limit) in draft.limits.iter() {
            if i64::try_from(limit.value()).is_err() {
                return Err(PlanValidationError::new(resource.key(), "is too large"));
            }
        }
        let features_len = serde_json::to_string(&draft.features)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if features_len > MAX_FEATURES_BYTES {
            return Err(PlanValidationError::new(
                "features",
                "must be at most 16 KiB of JSON",
            ));
        }
        Ok(PlanSpec {
            price: price("price", &draft.price, currency)?,
            price_hourly: price("priceHourly", &draft.price_hourly, currency)?,
            price_yearly: price("priceYearly", &draft.price_yearly, currency)?,
            name,
            plan_type,
            description,
            limits: draft.limits,
            server_permissions: draft.server_permissions,
            site_permissions: draft.site_permissions,
            features: draft.features,
            hidden: draft.hidden,
            is_default: draft.is_default,
            stripe_plan_id,
        })
    }

    /// The spec as a draft again, for applying a patch.
    pub fn to_draft(&self) -> PlanDraft {
        PlanDraft {
            name: self.name.clone(),
            plan_type: self.plan_type.as_str().to_owned(),
            description: self.description.clone(),
            currency: self.price.currency().code().to_owned(),
            price: self.price.to_fixed_string(),
            price_hourly: self.price_hourly.to_fixed_string(),
            price_yearly: self.price_yearly.to_fixed_string(),
            limits: self.limits,
            server_permissions: self.server_permissions,
            site_permissions: self.site_permissions,
            features: self.features.clone(),
            hidden: self.hidden,
            is_default: self.is_default,
            stripe_plan_id: self.stripe_plan_id.clone(),
        }
    }

    /// The free starter plan created on an empty database.
    pub fn starter_free() -> PlanSpec {
        PlanSpec {
            name: "Free".into(),
            plan_type: PlanType::Free,
            description: Some("Starter plan every account falls back to.".into()),
            price: Money::zero(Currency::USD),
            price_hourly: Money::zero(Currency::USD),
            price_yearly: Money::zero(Currency::USD),
            limits: Limits::unlimited()
                .with(Resource::Memory, Limit::new(1024))
                .with(Resource::Disk, Limit::new(5120))
                .with(Resource::Cpu, Limit::new(100))
                .with(Resource::Servers, Limit::new(1))
                .with(Resource::Sites, Limit::new(1))
                .with(Resource::Databases, Limit::new(1))
                .with(Resource::Backups, Limit::new(1))
                .with(Resource::PortCount, Limit::new(1))
                .with(Resource::TunnelPortCount, Limit::new(1))
                .with(Resource::EmailDailyLimit, Limit::new(10))
                .with(Resource::EmailQueueLimit, Limit::new(5)),
            server_permissions: Permissions::ALL,
            site_permissions: Permissions::ALL,
            features: serde_json::Map::new(),
            hidden: false,
            is_default: true,
            stripe_plan_id: None,
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The plan type.
    pub fn plan_type(&self) -> PlanType {
        self.plan_type
    }
    /// The description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// The currency.
    pub fn currency(&self) -> Currency {
        self.price.currency()
    }
    /// The monthly price.
    pub fn price(&self) -> Money {
        self.price
    }
    /// The price hourly.
    pub fn price_hourly(&self) -> Money {
        self.price_hourly
    }
    /// The price yearly.
    pub fn price_yearly(&self) -> Money {
        self.price_yearly
    }
    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The server permissions.
    pub fn server_permissions(&self) -> Permissions {
        self.server_permissions
    }
    /// The site permissions.
    pub fn site_permissions(&self) -> Permissions {
        self.site_permissions
    }
    /// The features.
    pub fn features(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.features
    }
    /// The hidden.
    pub fn hidden(&self) -> bool {
        self.hidden
    }
    /// Whether it is default.
    pub fn is_default(&self) -> bool {
        self.is_default
    }
    /// The stripe plan id.
    pub fn stripe_plan_id(&self) -> Option<&str> {
        self.stripe_plan_id.as_deref()
    }
}

/// A stored plan: its identity, its spec and when it was created.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    id: PlanId,
    spec: PlanSpec,
    created_at: DateTime<Utc>,
}

impl Plan {
    /// Creates it from its parts.
    pub fn new(id: PlanId, spec: PlanSpec, created_at: DateTime<Utc>) -> Plan {
        Plan {
            id,
            spec,
            created_at,
        }
    }
    /// The id.
    pub fn id(&self) -> PlanId {
        self.id
    }
    /// The spec.
    pub fn spec(&self) -> &PlanSpec {
        &self.spec
    }
    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// Catalogue order: price ascending, ties by id.
    pub fn catalogue_order(a: &Plan, b: &Plan) -> std::cmp::Ordering {
        (a.spec.price.minor(), a.id).cmp(&(b.spec.price.minor(), b.id))
    }
}

impl std::ops::Deref for Plan {
    type Target = PlanSpec;
    fn deref(&self) -> &PlanSpec {
        &self.spec
    }
}

impl Plan {
    /// The plan as the audit log records it.
    pub fn audit_state(&self) -> PlanSnapshot {
        let permissions = |p: Permissions| PermissionsSnapshot {
            create: p.create,
            update: p.update,
            delete: p.delete,
        };
        PlanSnapshot {
            id: self.id().get(),
            name: self.name().to_owned(),
            plan_type: self.plan_type().as_str().to_owned(),
            description: self.description().map(str::to_owned),
            price: self.price().to_fixed_string(),
            price_hourly: self.price_hourly().to_fixed_string(),
            price_yearly: self.price_yearly().to_fixed_string(),
            currency: self.currency().code().to_owned(),
            limits: self
                .limits()
                .iter()
                .map(|(resource, limit)| (resource.key().to_owned(), limit.value()))
                .collect(),
            server_permissions: permissions(self.server_permissions()),
            site_permissions: permissions(self.site_permissions()),
            features: self.features().clone(),
            hidden: self.hidden(),
            is_default: self.is_default(),
            stripe_plan_id: self.stripe_plan_id().map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests;
