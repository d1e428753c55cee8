use super::*;

fn draft() -> PlanDraft {
    PlanDraft {
        name: "Pro".into(),
        price: "9.99".into(),
        ..PlanDraft::default()
    }
}

#[test]
fn valid_draft_becomes_spec() {
    let spec = PlanSpec::new(draft()).unwrap();
    assert_eq!(spec.price().minor(), 999);
    assert_eq!(spec.name(), "Pro");
    assert_eq!(spec.to_draft().price, "9.99");
}

#[test]
fn names_are_checked() {
    for bad in ["", "   ", &"x".repeat(101), "a\u{0}b"] {
        let err = PlanSpec::new(PlanDraft {
            name: bad.into(),
            ..draft()
        })
        .unwrap_err();
        assert_eq!(err.field, "name");
    }
    assert!(PlanSpec::new(PlanDraft {
        name: "é".repeat(100),
        ..draft()
    })
    .is_ok());
}

#[test]
fn free_text_keeps_control_characters_but_not_nul() {
    let spec = PlanSpec::new(PlanDraft {
        description: Some("line one\r\n\tline two \u{1b}[1m".into()),
        ..draft()
    })
    .unwrap();
    assert_eq!(spec.description(), Some("line one\r\n\tline two \u{1b}[1m"));
    let err = PlanSpec::new(PlanDraft {
        description: Some("a\u{0}b".into()),
        ..draft()
    })
    .unwrap_err();
    assert_eq!(err.field, "description");
    let err = PlanSpec::new(PlanDraft {
        stripe_plan_id: Some("price_\u{0}".into()),
        ..draft()
    })
    .unwrap_err();
    assert_eq!(err.field, "stripePlanId");
}

#[test]
fn prices_and_currency_and_type_are_checked() {
    let err = PlanSpec::new(PlanDraft {
        price: "-1".into(),
        ..draft()
    })
    .unwrap_err();
    assert_eq!(err.field, "price");
    let err = PlanSpec::new(PlanDraft {
        price_yearly: "1.999".into(),
        ..draft()
    })
    .unwrap_err();
    assert_eq!(err.field, "priceYearly");
    let err = PlanSpec::new(PlanDraft {
        currency: "ABC".into(),
        ..draft()
    })
    .unwrap_err();
    assert_eq!(err.field, "currency");
    let err = PlanSpec::new(PlanDraft {
        plan_type: "gold".into(),
        ..draft()
    })
    .unwrap_err();
    assert_eq!(err.field, "type");
}

#[test]
fn patch_changes_only_what_it_names() {
    let spec = PlanSpec::new(draft()).unwrap();
    let mut d = spec.to_draft();
    PlanPatch {
        price: Some("19.00".into()),
        description: Some(Some("Bigger".into())),
        limits: vec![(Resource::Servers, Limit::new(3))],
        ..PlanPatch::default()
    }
    .apply_to(&mut d);
    let patched = PlanSpec::new(d).unwrap();
    assert_eq!(patched.price().minor(), 1900);
    assert_eq!(patched.name(), "Pro");
    assert_eq!(patched.description(), Some("Bigger"));
    assert_eq!(patched.limits().get(Resource::Servers), Limit::new(3));
}

#[test]
fn a_plan_is_recorded_with_exact_prices_and_every_limit() {
    let spec = PlanSpec::new(PlanDraft {
        name: "Pro".into(),
        price: "9.99".into(),
        ..PlanDraft::default()
    })
    .unwrap();
    let plan = Plan::new(PlanId::new(3).unwrap(), spec, Utc::now());
    let state = serde_json::to_value(plan.audit_state()).unwrap();
    assert_eq!(state["price"], "9.99");
    assert_eq!(state["name"], "Pro");
    assert_eq!(state["limits"].as_object().unwrap().len(), 11);
}
