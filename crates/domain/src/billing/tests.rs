//! Property tests of the billing rules: what must hold for every price, period,
//! coupon and balance, not only for the worked examples.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::{AccountRef, Currency, Money, OrderId, TaxRate, UserId};

const MAX_PRICE: i64 = 100_000_000_000; // a billion in major units

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

fn instant(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(seconds)
}

/// A period of up to two years starting within 2020-2030, and a moment from a year
/// before it to a year after it.
fn period_and_moment() -> impl Strategy<Value = (Period, DateTime<Utc>)> {
    (
        0_i64..315_360_000,
        1_i64..63_072_000,
        -31_536_000_i64..94_608_000,
    )
        .prop_map(|(start, length, offset)| {
            let period = Period::new(instant(start), instant(start + length)).unwrap();
            (period, instant(start + offset))
        })
}

fn discount() -> impl Strategy<Value = CouponDiscount> {
    prop_oneof![
        (1_u32..=10_000)
            .prop_map(|bp| CouponDiscount::Percent(PercentOff::from_basis_points(bp).unwrap())),
        (1_i64..MAX_PRICE).prop_map(|minor| CouponDiscount::Amount(usd(minor))),
    ]
}

prop_compose! {
    fn pricing_input()(
        price in 0_i64..MAX_PRICE,
        paid in 0_i64..MAX_PRICE,
        (period, moment) in period_and_moment(),
        with_unused_time in any::<bool>(),
        coupon in proptest::option::of(discount()),
        bp in 0_u32..=10_000,
        balance in proptest::option::of(-1_000_i64..MAX_PRICE),
        yearly in any::<bool>(),
        old_bp in 0_u32..=10_000,
    ) -> PricingInput {
        let unused_time = with_unused_time.then(|| UnusedTime {
            credit: unused_time_credit(usd(paid), period, moment).unwrap(),
            plan_name: "Old".to_owned(),
            tax_rate_paid: TaxRate::from_basis_points(old_bp).unwrap(),
        });
        PricingInput {
            plan_name: "New".into(),
            cycle: if yearly { BillingCycle::Yearly } else { BillingCycle::Monthly },
            period_price: usd(price),
            unused_time,
            coupon: coupon.map(|d| (CouponCode::parse("PROP").unwrap(), d)),
            tax_rate: TaxRate::from_basis_points(bp).unwrap(),
            credit_balance: balance.map(usd),
        }
    }
}

fn sum(lines: &[BillLine]) -> i64 {
    lines.iter().map(|line| line.amount().minor()).sum()
}

proptest! {
    /// Credit <= paid: the unused-time credit is never more than was paid, never
    /// negative, and never more than the exact pro-rata share (rounded down, by less
    /// than one minor unit).
    #[test]
    fn unused_time_credit_never_exceeds_what_was_paid(paid in 0_i64..i64::MAX / 4, (period, at) in period_and_moment()) {
        let credit = unused_time_credit(usd(paid), period, at).unwrap();
        let amount = credit.amount().minor();
        prop_assert!((0..=paid).contains(&amount));
        let exact = i128::from(paid) * i128::from(credit.unused_seconds());
        let given = i128::from(amount) * i128::from(credit.period_seconds());
        prop_assert!(given <= exact, "rounded up");
        prop_assert!(exact - given < i128::from(credit.period_seconds()), "rounded down by a unit or more");
        prop_assert!(credit.first_unused_day() <= credit.last_unused_day());
    }

    /// Later means less credit: a credit never grows as time passes.
    #[test]
    fn unused_time_credit_shrinks_as_time_passes(paid in 0_i64..MAX_PRICE, (period, at) in period_and_moment(), later in 0_i64..10_000_000) {
        let now = unused_time_credit(usd(paid), period, at).unwrap().amount();
        let then = unused_time_credit(usd(paid), period, at + TimeDelta::seconds(later)).unwrap().amount();
        prop_assert!(then.minor() <= now.minor());
    }

    /// The sum of lines equals the total: every line of a bill adds up to the amount
    /// due, the taxable lines to the subtotal, subtotal plus tax to the total.
    #[test]
    fn lines_add_up_to_the_amount_due(input in pricing_input()) {
        let bill = price_order(input).unwrap();
        prop_assert_eq!(sum(bill.lines()), bill.amount_due().minor());
        let taxable: Vec<BillLine> = bill.lines().iter().filter(|l| l.kind().is_taxable()).cloned().collect();
        prop_assert_eq!(sum(&taxable), bill.subtotal().minor());
        prop_assert_eq!(bill.subtotal().minor() + bill.tax().minor(), bill.total().minor());
        prop_assert_eq!(bill.total().minor() - bill.credit_applied().minor(), bill.amount_due().minor());
        // The taxable lines are exactly what the order's charges store.
        let items: Vec<_> = taxable.iter().map(|l| l.item().clone()).collect();
        prop_assert_eq!(bill.charges().items(), items.as_slice());
    }

    /// Total >= 0: no bill has a negative subtotal, total or amount due.
    #[test]
    fn totals_are_never_negative(input in pricing_input()) {
        let bill = price_order(input).unwrap();
        prop_assert!(bill.subtotal().minor() >= 0);
        prop_assert!(bill.total().minor() >= 0);
        prop_assert!(bill.amount_due().minor() >= 0);
    }

    /// Discounts never make tax negative, and tax is the half-up tax of the subtotal
    /// after unused time and coupon (never of the list price, never of credit).
    #[test]
    fn tax_is_never_negative_and_is_on_the_discounted_price(input in pricing_input()) {
        let rate = input.tax_rate;
        let bill = price_order(input).unwrap();
        prop_assert!(bill.tax().minor() >= 0);
        prop_assert_eq!(bill.tax(), rate.tax_on(bill.subtotal()).unwrap());
        let expected_subtotal = bill.period_price().minor() - bill.unused_time_used().minor() - bill.coupon_discount().minor();
        prop_assert_eq!(bill.subtotal().minor(), expected_subtotal);
    }

    /// The unused-time credit is fully accounted for: what the order uses plus what
    /// moves to account credit is the whole credit, and the order uses at most its
    /// price.
    #[test]
    fn unused_time_is_used_or_moved_to_credit(input in pricing_input()) {
        let full = input.unused_time.as_ref().map_or(0, |u| u.credit.amount().minor());
        let old_rate = input.unused_time.as_ref().map_or(0, |u| u.tax_rate_paid.basis_points());
        let bill = price_order(input).unwrap();
        prop_assert_eq!(bill.unused_time_used().minor() + bill.credit_left_over().minor(), full);
        prop_assert!(bill.unused_time_used().minor() <= bill.period_price().minor());
        let left = bill.credit_left_over().minor();
        prop_assert!(left >= 0);
        // The ledger gets the left-over and the tax paid on it, never more than that
        // tax exactly, never less than a minor unit below it.
        let ledger = bill.credit_to_ledger().minor();
        let exact_with_tax = i128::from(left) * (10_000 + i128::from(old_rate));
        prop_assert!(i128::from(ledger) * 10_000 <= exact_with_tax);
        prop_assert!(exact_with_tax - i128::from(ledger) * 10_000 < 10_000);
    }

    /// A coupon never exceeds the price: its discount lies between nothing and what is
    /// left to pay after unused time.
    #[test]
    fn coupon_never_exceeds_the_price(d in discount(), price in -1_000_i64..MAX_PRICE) {
        let off = d.discount_on(usd(price)).unwrap().minor();
        prop_assert!(off >= 0);
        prop_assert!(off <= price.max(0));
    }

    /// Rounding is on the customer's side for coupons: a percentage discount is
    /// rounded up, so the price after it is never above the exact price after the
    /// percentage, and by less than one minor unit below it.
    #[test]
    fn percent_coupons_round_in_the_customers_favour(price in 0_i64..MAX_PRICE, bp in 1_u32..=10_000) {
        let off = CouponDiscount::Percent(PercentOff::from_basis_points(bp).unwrap()).discount_on(usd(price)).unwrap().minor();
        let exact_off_times_10000 = i128::from(price) * i128::from(bp);
        let given_times_10000 = i128::from(off) * 10_000;
        prop_assert!(given_times_10000 >= exact_off_times_10000, "customer pays more than the exact percentage");
        prop_assert!(given_times_10000 - exact_off_times_10000 < 10_000);
    }

    /// Customer-safe in the whole bill: the amount due with a coupon is never more than
    /// without it, and more credit never raises it.
    #[test]
    fn discounts_and_credit_only_ever_lower_the_amount_due(input in pricing_input(), extra in 0_i64..MAX_PRICE) {
        let with = price_order(input.clone()).unwrap();
        let without_coupon = price_order(PricingInput { coupon: None, ..input.clone() }).unwrap();
        prop_assert!(with.amount_due().minor() <= without_coupon.amount_due().minor());
        let richer_balance = input.credit_balance.map_or(usd(extra), |b| usd(b.minor().saturating_add(extra)));
        let richer = price_order(PricingInput { credit_balance: Some(richer_balance), ..input }).unwrap();
        prop_assert!(richer.amount_due().minor() <= with.amount_due().minor());
    }

    /// Credit application never makes a balance negative: what an order takes is at
    /// most the balance (when positive) and at most the total, and the balance after
    /// the debit passes the ledger's rule.
    #[test]
    fn applying_credit_never_makes_a_balance_negative(balance in -1_000_i64..MAX_PRICE, total in 0_i64..MAX_PRICE) {
        let applied = apply_credit(usd(balance), usd(total));
        prop_assert!(applied.minor() >= 0);
        prop_assert!(applied.minor() <= total);
        prop_assert!(applied.minor() <= balance.max(0));
        if balance >= 0 {
            let after = check_balance_change(usd(balance), Money::zero(Currency::USD).checked_sub(applied).unwrap()).unwrap();
            prop_assert!(after.minor() >= 0);
        }
    }

    /// The ledger rule: any sequence of changes accepted by `check_balance_change`
    /// keeps the balance (the sum of accepted entries) at or above zero, and a refused
    /// change is exactly one that would go below.
    #[test]
    fn the_ledger_never_goes_below_zero(changes in proptest::collection::vec(-50_000_i64..50_000, 0..60)) {
        let mut balance = usd(0);
        for change in changes.into_iter().filter(|c| *c != 0) {
            match check_balance_change(balance, usd(change)) {
                Ok(after) => {
                    prop_assert_eq!(after.minor(), balance.minor() + change);
                    balance = after;
                }
                Err(CreditError::WouldGoNegative { .. }) => prop_assert!(balance.minor() + change < 0),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
            prop_assert!(balance.minor() >= 0);
        }
    }

    /// Giving back restores the balance to what it was before the orders, and giving
    /// back twice gives nothing more.
    #[test]
    fn giving_back_restores_the_balance_once(grant in 1_i64..MAX_PRICE, totals in proptest::collection::vec(0_i64..MAX_PRICE / 10, 1..5)) {
        let account = AccountRef::User(UserId::new(1).unwrap());
        let at = instant(0);
        let mut next_id = 1;
        let mut store = |entries: &mut Vec<CreditEntry>, new: NewCreditEntry| {
            entries.push(CreditEntry::restore(CreditEntryId::new(next_id).unwrap(), new));
            next_id += 1;
        };
        let mut entries = Vec::new();
        store(&mut entries, NewCreditEntry::admin_adjustment(account, usd(grant), "grant", at).unwrap());
        let mut orders = Vec::new();
        for (i, total) in totals.iter().enumerate() {
            let order = OrderId::new(i as i64 + 1).unwrap();
            let applied = apply_credit(balance_in(&entries, Currency::USD).unwrap(), usd(*total));
            if !applied.is_zero() {
                store(&mut entries, NewCreditEntry::applied_to_order(account, applied, order, at).unwrap());
            }
            prop_assert!(balance_in(&entries, Currency::USD).unwrap().minor() >= 0);
            orders.push(order);
        }
        for order in &orders {
            for back in credit_to_give_back(*order, &entries, at).unwrap() {
                store(&mut entries, back);
            }
        }
        prop_assert_eq!(balance_in(&entries, Currency::USD).unwrap(), usd(grant));
        for order in &orders {
            prop_assert!(credit_to_give_back(*order, &entries, at).unwrap().is_empty());
        }
    }

    /// A coupon applies to exactly its number of periods.
    #[test]
    fn repeating_coupons_apply_to_exactly_their_periods(cycles in 1_u32..50, horizon in 0_u32..120) {
        let duration = CouponDuration::Repeating(std::num::NonZeroU32::new(cycles).unwrap());
        let applied = (0..horizon).filter(|i| duration.applies_to_period(*i)).count();
        prop_assert_eq!(applied, cycles.min(horizon) as usize);
    }

    /// Periods chain without gaps or overlaps and stay on the anchor's day where the
    /// month has it.
    #[test]
    fn periods_chain_without_gaps(start in 0_i64..315_360_000, index in 0_u32..200, yearly in any::<bool>()) {
        let cycle = if yearly { BillingCycle::Yearly } else { BillingCycle::Monthly };
        let anchor = instant(start);
        let this = Period::nth(anchor, cycle, index);
        let next = Period::nth(anchor, cycle, index + 1);
        prop_assert_eq!(this.end(), next.start());
        prop_assert!(this.start() < this.end());
        prop_assert!(this.seconds() >= 28 * 86_400);
    }

    /// Parsing coupon input never panics, and a valid code is its own normal form.
    #[test]
    fn coupon_codes_normalise(text in "\\PC{0,70}") {
        if let Ok(code) = CouponCode::parse(&text) {
            prop_assert_eq!(CouponCode::parse(code.as_str()).unwrap(), code.clone());
            prop_assert_eq!(CouponCode::parse(&code.as_str().to_ascii_lowercase()).unwrap(), code);
        }
        let _ = PercentOff::parse(&text);
    }
}

/// The worked examples of `docs/BILLING.md`, computed by the code the document
/// describes: a change here must change the document too.
mod worked_examples {
    use super::*;
    use crate::{Plan, PlanDraft, PlanId, PlanSpec};
    use std::num::NonZeroU32;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
    }

    fn plan(id: i64, name: &str, monthly: &str, yearly: &str) -> Plan {
        let spec = PlanSpec::new(PlanDraft {
            name: name.into(),
            price: monthly.into(),
            price_yearly: yearly.into(),
            ..PlanDraft::default()
        })
        .unwrap();
        Plan::new(PlanId::new(id).unwrap(), spec, at(2026, 1, 1))
    }

    fn basic() -> Plan {
        plan(1, "Basic", "19.99", "199")
    }

    fn pro() -> Plan {
        plan(2, "Pro", "49.99", "499")
    }

    fn vat() -> TaxRate {
        TaxRate::parse_percent("19").unwrap()
    }

    fn lines(bill: &Bill) -> Vec<(String, String)> {
        bill.lines()
            .iter()
            .map(|l| (l.description().to_owned(), l.amount().to_fixed_string()))
            .collect()
    }

    fn line(description: &str, amount: &str) -> (String, String) {
        (description.to_owned(), amount.to_owned())
    }

    #[test]
    fn upgrade_on_day_12_of_30() {
        let change = decide_plan_change(
            &basic(),
            BillingCycle::Monthly,
            &pro(),
            BillingCycle::Monthly,
            None,
        )
        .unwrap();
        assert_eq!(
            (change.kind(), change.when()),
            (ChangeKind::Upgrade, When::Now)
        );
        let period = Period::starting(at(2026, 11, 1), BillingCycle::Monthly);
        assert_eq!(period.seconds(), 30 * 86_400);
        let credit = unused_time_credit(basic().price(), period, at(2026, 11, 12)).unwrap();
        assert_eq!(credit.unused_seconds(), 19 * 86_400);
        let bill = price_order(PricingInput {
            plan_name: pro().name().into(),
            cycle: BillingCycle::Monthly,
            period_price: BillingCycle::Monthly.price_of(&pro()).unwrap(),
            unused_time: Some(UnusedTime {
                credit,
                plan_name: basic().name().into(),
                tax_rate_paid: vat(),
            }),
            coupon: None,
            tax_rate: vat(),
            credit_balance: None,
        })
        .unwrap();
        assert_eq!(
            lines(&bill),
            vec![
                line("Pro (monthly)", "49.99"),
                line(
                    "Unused time on Basic (2026-11-12 \u{2013} 2026-11-30)",
                    "-12.66"
                ),
                line("Tax 19.0%", "7.09"),
            ]
        );
        assert_eq!(bill.subtotal().to_fixed_string(), "37.33");
        assert_eq!(bill.amount_due().to_fixed_string(), "44.42");
        assert!(bill.credit_left_over().is_zero());
    }

    #[test]
    fn yearly_downgrade_waits_for_the_period_end() {
        let change = decide_plan_change(
            &pro(),
            BillingCycle::Yearly,
            &basic(),
            BillingCycle::Yearly,
            None,
        )
        .unwrap();
        assert_eq!(
            (change.kind(), change.when()),
            (ChangeKind::Downgrade, When::PeriodEnd)
        );
        let current = Period::starting(at(2026, 3, 15), BillingCycle::Yearly);
        assert_eq!(current.end(), at(2027, 3, 15));
        let renewal = price_order(PricingInput {
            plan_name: basic().name().into(),
            cycle: BillingCycle::Yearly,
            period_price: BillingCycle::Yearly.price_of(&basic()).unwrap(),
            unused_time: None,
            coupon: None,
            tax_rate: vat(),
            credit_balance: None,
        })
        .unwrap();
        assert_eq!(
            lines(&renewal),
            vec![line("Basic (yearly)", "199.00"), line("Tax 19.0%", "37.81")]
        );
        assert_eq!(renewal.amount_due().to_fixed_string(), "236.81");
    }

    #[test]
    fn yearly_downgrade_now_leaves_credit_over() {
        let change = decide_plan_change(
            &pro(),
            BillingCycle::Yearly,
            &basic(),
            BillingCycle::Yearly,
            Some(When::Now),
        )
        .unwrap();
        assert_eq!(
            (change.kind(), change.when()),
            (ChangeKind::Downgrade, When::Now)
        );
        let current = Period::starting(at(2026, 3, 15), BillingCycle::Yearly);
        let credit = unused_time_credit(pro().price_yearly(), current, at(2026, 9, 1)).unwrap();
        assert_eq!(
            (credit.unused_seconds() / 86_400, current.seconds() / 86_400),
            (195, 365)
        );
        assert_eq!(credit.amount().to_fixed_string(), "266.58");
        let bill = price_order(PricingInput {
            plan_name: basic().name().into(),
            cycle: BillingCycle::Yearly,
            period_price: BillingCycle::Yearly.price_of(&basic()).unwrap(),
            unused_time: Some(UnusedTime {
                credit,
                plan_name: pro().name().into(),
                tax_rate_paid: vat(),
            }),
            coupon: None,
            tax_rate: vat(),
            credit_balance: None,
        })
        .unwrap();
        assert_eq!(
            lines(&bill),
            vec![
                line("Basic (yearly)", "199.00"),
                line(
                    "Unused time on Pro (2026-09-01 \u{2013} 2027-03-14)",
                    "-266.58"
                ),
                line("Unused time moved to account credit", "67.58"),
                line("Tax 19.0%", "0.00"),
            ]
        );
        assert!(bill.amount_due().is_zero());
        assert_eq!(bill.credit_left_over().to_fixed_string(), "67.58");
        // 67.58 plus the 19% paid on it (12.8402 -> 12.84) goes to the ledger.
        assert_eq!(bill.credit_to_ledger().to_fixed_string(), "80.42");

        // A year later the renewal uses that credit after tax.
        let renewal = price_order(PricingInput {
            plan_name: basic().name().into(),
            cycle: BillingCycle::Yearly,
            period_price: BillingCycle::Yearly.price_of(&basic()).unwrap(),
            unused_time: None,
            coupon: None,
            tax_rate: vat(),
            credit_balance: Some(bill.credit_to_ledger()),
        })
        .unwrap();
        assert_eq!(
            lines(&renewal),
            vec![
                line("Basic (yearly)", "199.00"),
                line("Tax 19.0%", "37.81"),
                line("Account credit", "-80.42"),
            ]
        );
        assert_eq!(renewal.amount_due().to_fixed_string(), "156.39");
    }

    #[test]
    fn twenty_percent_for_three_months() {
        let spec = CouponSpec::new(CouponDraft {
            code: "spring20".into(),
            percent_off: Some("20".into()),
            duration: "repeating".into(),
            duration_in_cycles: Some(3),
            ..CouponDraft::default()
        })
        .unwrap();
        assert_eq!(
            spec.duration(),
            CouponDuration::Repeating(NonZeroU32::new(3).unwrap())
        );
        let due: Vec<String> = (0..5)
            .map(|period| {
                let coupon = spec
                    .duration()
                    .applies_to_period(period)
                    .then(|| (spec.code().clone(), spec.discount()));
                let bill = price_order(PricingInput {
                    plan_name: basic().name().into(),
                    cycle: BillingCycle::Monthly,
                    period_price: basic().price(),
                    unused_time: None,
                    coupon,
                    tax_rate: vat(),
                    credit_balance: None,
                })
                .unwrap();
                if period == 0 {
                    assert_eq!(
                        lines(&bill),
                        vec![
                            line("Basic (monthly)", "19.99"),
                            line("Coupon SPRING20", "-4.00"),
                            line("Tax 19.0%", "3.04"),
                        ]
                    );
                }
                bill.amount_due().to_fixed_string()
            })
            .collect();
        assert_eq!(due, vec!["19.03", "19.03", "19.03", "23.79", "23.79"]);
    }
}
