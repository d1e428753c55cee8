use super::*;
use chrono::TimeZone;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn percent(code: &str, p: &str) -> CouponDraft {
    CouponDraft {
        code: code.into(),
        percent_off: Some(p.into()),
        duration: "once".into(),
        ..CouponDraft::default()
    }
}

fn coupon(draft: CouponDraft, active: bool, redeemed: u32) -> Coupon {
    Coupon::restore(CouponRecord {
        spec: CouponSpec::new(draft).unwrap(),
        active,
        times_redeemed: redeemed,
        created_at: at(2026, 1, 1),
    })
}

fn context(plan: i64) -> RedemptionContext {
    RedemptionContext {
        plan: PlanId::new(plan).unwrap(),
        currency: Currency::USD,
        at: at(2026, 6, 1),
        already_redeemed_by_account: false,
    }
}

#[test]
fn codes_are_case_insensitive() {
    assert_eq!(
        CouponCode::parse(" spring20 ").unwrap(),
        CouponCode::parse("SPRING20").unwrap()
    );
    assert_eq!(CouponCode::parse("a-b_1").unwrap().as_str(), "A-B_1");
    for bad in ["", "   ", "two words", "üml", &"X".repeat(65)] {
        assert_eq!(CouponCode::parse(bad).unwrap_err().field, "code", "{bad}");
    }
}

#[test]
fn drafts_are_validated_field_by_field() {
    let field = |draft: CouponDraft| CouponSpec::new(draft).unwrap_err().field;
    let base = percent("X", "20");
    assert!(CouponSpec::new(base.clone()).is_ok());
    assert_eq!(
        field(CouponDraft {
            percent_off: None,
            ..base.clone()
        }),
        "percentOff"
    );
    assert_eq!(
        field(CouponDraft {
            amount_off: Some("5".into()),
            ..base.clone()
        }),
        "amountOff"
    );
    for bad in ["0", "100.5", "12.345", "-5", "abc"] {
        assert_eq!(field(percent("X", bad)), "percentOff", "{bad}");
    }
    assert!(CouponSpec::new(percent("X", "100")).is_ok());
    assert_eq!(
        field(CouponDraft {
            currency: Some("USD".into()),
            ..base.clone()
        }),
        "currency"
    );
    let amount = CouponDraft {
        percent_off: None,
        amount_off: Some("5".into()),
        currency: Some("usd".into()),
        ..base.clone()
    };
    assert_eq!(
        CouponSpec::new(amount.clone()).unwrap().discount(),
        CouponDiscount::Amount(Money::from_minor(500, Currency::USD))
    );
    assert_eq!(
        field(CouponDraft {
            currency: None,
            ..amount.clone()
        }),
        "currency"
    );
    assert_eq!(
        field(CouponDraft {
            currency: Some("XXX".into()),
            ..amount.clone()
        }),
        "currency"
    );
    assert_eq!(
        field(CouponDraft {
            amount_off: Some("0".into()),
            ..amount.clone()
        }),
        "amountOff"
    );
    assert_eq!(
        field(CouponDraft {
            amount_off: Some("5.001".into()),
            ..amount
        }),
        "amountOff"
    );
    assert_eq!(
        field(CouponDraft {
            duration: "weekly".into(),
            ..base.clone()
        }),
        "duration"
    );
    assert_eq!(
        field(CouponDraft {
            duration: "repeating".into(),
            ..base.clone()
        }),
        "durationInCycles"
    );
    assert_eq!(
        field(CouponDraft {
            duration_in_cycles: Some(3),
            ..base.clone()
        }),
        "durationInCycles"
    );
    assert_eq!(
        field(CouponDraft {
            duration: "repeating".into(),
            duration_in_cycles: Some(0),
            ..base.clone()
        }),
        "durationInCycles"
    );
    assert_eq!(
        field(CouponDraft {
            max_redemptions: Some(0),
            ..base.clone()
        }),
        "maxRedemptions"
    );
    assert_eq!(
        field(CouponDraft {
            valid_from: Some(at(2026, 2, 1)),
            valid_until: Some(at(2026, 2, 1)),
            ..base.clone()
        }),
        "validUntil"
    );
    assert_eq!(
        field(CouponDraft {
            plan_ids: vec![3, 0],
            ..base.clone()
        }),
        "planIds"
    );
    let spec = CouponSpec::new(CouponDraft {
        plan_ids: vec![3, 1, 3],
        ..base
    })
    .unwrap();
    assert_eq!(
        spec.plan_ids(),
        &[PlanId::new(1).unwrap(), PlanId::new(3).unwrap()]
    );
}

#[test]
fn every_rejection_reason_is_reachable_and_named() {
    let reason = |c: &Coupon, ctx: RedemptionContext| c.check(&ctx).unwrap_err().reason;
    let ok = coupon(percent("OK", "20"), true, 0);
    assert_eq!(ok.check(&context(1)), Ok(()));
    assert_eq!(
        reason(&coupon(percent("A", "20"), false, 0), context(1)),
        RejectionReason::Inactive
    );
    let window = CouponDraft {
        valid_from: Some(at(2026, 7, 1)),
        valid_until: Some(at(2026, 8, 1)),
        ..percent("W", "20")
    };
    let windowed = coupon(window, true, 0);
    assert_eq!(reason(&windowed, context(1)), RejectionReason::NotYetValid);
    assert_eq!(
        reason(
            &windowed,
            RedemptionContext {
                at: at(2026, 8, 1),
                ..context(1)
            }
        ),
        RejectionReason::Expired
    );
    assert!(windowed
        .check(&RedemptionContext {
            at: at(2026, 7, 1),
            ..context(1)
        })
        .is_ok());
    let limited = CouponDraft {
        max_redemptions: Some(2),
        ..percent("L", "20")
    };
    assert!(coupon(limited.clone(), true, 1).check(&context(1)).is_ok());
    assert_eq!(
        reason(&coupon(limited, true, 2), context(1)),
        RejectionReason::Exhausted
    );
    let for_plan = coupon(
        CouponDraft {
            plan_ids: vec![2],
            ..percent("P", "20")
        },
        true,
        0,
    );
    assert_eq!(reason(&for_plan, context(1)), RejectionReason::OtherPlan);
    assert!(for_plan.check(&context(2)).is_ok());
    let euro = coupon(
        CouponDraft {
            percent_off: None,
            amount_off: Some("5".into()),
            currency: Some("EUR".into()),
            ..percent("E", "1")
        },
        true,
        0,
    );
    assert_eq!(reason(&euro, context(1)), RejectionReason::OtherCurrency);
    let once = coupon(
        CouponDraft {
            once_per_account: true,
            ..percent("O", "20")
        },
        true,
        0,
    );
    let used = RedemptionContext {
        already_redeemed_by_account: true,
        ..context(1)
    };
    assert_eq!(reason(&once, used), RejectionReason::AlreadyUsed);
    assert!(
        ok.check(&used).is_ok(),
        "only once-per-account coupons care"
    );

    let rejection = once.check(&used).unwrap_err();
    assert_eq!(rejection.field(), "couponCode");
    assert_eq!(
        rejection.to_string(),
        "coupon O has already been used by this account"
    );
    assert_eq!(
        CouponRejection::unknown(" nope ").to_string(),
        "coupon NOPE is unknown"
    );
}

#[test]
fn percent_rounds_up_and_amounts_are_capped() {
    let usd = |m| Money::from_minor(m, Currency::USD);
    let twenty = CouponDiscount::Percent(PercentOff::parse("20").unwrap());
    assert_eq!(twenty.discount_on(usd(999)).unwrap(), usd(200)); // 199.8 -> 200
    assert_eq!(twenty.discount_on(usd(1000)).unwrap(), usd(200));
    assert_eq!(twenty.discount_on(usd(0)).unwrap(), usd(0));
    assert_eq!(twenty.discount_on(usd(-5)).unwrap(), usd(0));
    let all = CouponDiscount::Percent(PercentOff::parse("100").unwrap());
    assert_eq!(all.discount_on(usd(1234)).unwrap(), usd(1234));
    let five = CouponDiscount::Amount(usd(500));
    assert_eq!(five.discount_on(usd(300)).unwrap(), usd(300));
    assert_eq!(five.discount_on(usd(900)).unwrap(), usd(500));
    assert!(five
        .discount_on(Money::from_minor(900, Currency::EUR))
        .is_err());
    assert_eq!(PercentOff::parse("12.5").unwrap().to_percent_text(), "12.5");
}

#[test]
fn durations_count_periods_from_the_redeeming_order() {
    let three = CouponDuration::Repeating(NonZeroU32::new(3).unwrap());
    let periods: Vec<bool> = (0..5).map(|i| three.applies_to_period(i)).collect();
    assert_eq!(periods, vec![true, true, true, false, false]);
    assert!(three.applies_to_renewal(2) && !three.applies_to_renewal(3));
    assert!(CouponDuration::Once.applies_to_period(0));
    assert!(!CouponDuration::Once.applies_to_renewal(1));
    assert!(CouponDuration::Forever.applies_to_renewal(1_000));
    assert!(!CouponDuration::Forever.applies_to_renewal(0));
    assert_eq!(three.duration_in_cycles(), Some(3));
    assert_eq!(three.as_str(), "repeating");
}
