//! JSON encoding of the public plan list (20 plans), the hottest response body.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tariff_domain::{Plan, PlanDraft, PlanId, PlanSpec};
use tariff_http_api::dto::plan::PlanJson;

fn catalogue() -> Vec<Plan> {
    (1..=20)
        .filter_map(|i| {
            let spec = PlanSpec::new(PlanDraft {
                name: format!("Plan {i}"),
                price: format!("{}.99", i),
                description: Some("A realistic description of a hosting plan.".into()),
                ..PlanDraft::default()
            })
            .ok()?;
            Some(Plan::new(PlanId::new(i)?, spec, chrono::Utc::now()))
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let plans = catalogue();
    c.bench_function("encode 20 plans (panel dialect)", |b| {
        b.iter(|| {
            let body: Vec<PlanJson> = black_box(&plans).iter().map(PlanJson::from).collect();
            serde_json::to_vec(&body)
        })
    });
}

criterion_group!(benches, encode);
criterion_main!(benches);
