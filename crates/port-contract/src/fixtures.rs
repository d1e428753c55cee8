//! Set-up through the ports themselves: users, organisations, plans, orders and
//! activation terms. No adapter-specific seeding, so every adapter starts alike.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tariff_domain::identity::Role;
use tariff_domain::orders::{Activation, InvoiceNumberFormat, NewOrder, SellerDetails};
use tariff_domain::organisations::OrganisationSpec;
use tariff_domain::{
    AccountRef, BillingDraft, OrgId, Plan, PlanDraft, PlanSpec, TaxRate, UserId, UserSpec,
};

use crate::Repos;

/// A fixed instant of a day, 10:00 UTC (whole seconds: every backend stores them exactly).
pub fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 10, 0, 0).unwrap()
}

/// A UTC day of November 2026.
pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// A valid plan spec with a name and a monthly price.
pub fn plan_spec(name: &str, price: &str) -> PlanSpec {
    PlanSpec::new(PlanDraft {
        name: name.into(),
        price: price.into(),
        ..PlanDraft::default()
    })
    .unwrap()
}

/// A user spec with billing details in `country` (lower case is accepted and stored
/// upper case).
pub fn user_spec(email: &str, country: &str) -> UserSpec {
    UserSpec::new(
        email,
        "Some One",
        Role::User,
        BillingDraft {
            company: Some("Ünïcödé 'Ltd'; --".into()),
            address_line1: Some("Old Street 1".into()),
            city: Some("Berlin".into()),
            country: Some(country.into()),
            ..BillingDraft::default()
        },
    )
    .unwrap()
}

/// Activation terms with a seller and the default number format.
pub fn terms(activated: DateTime<Utc>, expires: DateTime<Utc>) -> Activation {
    Activation {
        activated_at: activated,
        expires_at: expires,
        payment_reference: None,
        seller: SellerDetails {
            company_name: "Seller Co".into(),
            issued_from_name: "Seller Billing".into(),
            issued_from_address: "1 Main St\nSpringfield".into(),
            logo_path: Some("/logo.png".into()),
        },
        numbering: InvoiceNumberFormat::default(),
    }
}

/// The repositories of one test and helpers that build its world through them.
pub struct Fixture {
    pub repos: Repos,
}

impl Fixture {
    pub fn new(repos: Repos) -> Fixture {
        Fixture { repos }
    }

    pub async fn user(&self, email: &str, country: &str) -> UserId {
        self.repos
            .users
            .create(user_spec(email, country), None, Utc::now(), None)
            .await
            .unwrap()
            .id()
    }

    pub async fn org(&self, name: &str, owner: UserId) -> OrgId {
        let spec = OrganisationSpec::new(
            name,
            BillingDraft {
                country: Some("FR".into()),
                ..BillingDraft::default()
            },
        )
        .unwrap();
        self.repos
            .organisations
            .create(spec, owner, Utc::now())
            .await
            .unwrap()
            .id()
    }

    pub async fn plan(&self, name: &str, price: &str) -> Plan {
        self.repos
            .plans
            .create(plan_spec(name, price), None)
            .await
            .unwrap()
    }

    /// A plan from a draft changed by `edit`.
    pub async fn plan_with(&self, name: &str, edit: impl FnOnce(&mut PlanDraft)) -> Plan {
        let mut draft = plan_spec(name, "0").to_draft();
        edit(&mut draft);
        self.repos
            .plans
            .create(PlanSpec::new(draft).unwrap(), None)
            .await
            .unwrap()
    }

    /// One month of `plan` at 19 % tax.
    pub fn order(
        &self,
        plan: &Plan,
        account: AccountRef,
        placed_by: Option<UserId>,
        created: DateTime<Utc>,
    ) -> NewOrder {
        NewOrder::for_plan(
            plan,
            account,
            placed_by,
            TaxRate::parse_percent("19").unwrap(),
            created,
        )
        .unwrap()
    }
}
