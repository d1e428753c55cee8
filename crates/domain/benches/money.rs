//! Money and tax arithmetic: parsing decimal text, formatting, tax with half-up rounding.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tariff_domain::{Currency, Money, TaxRate};

fn money(c: &mut Criterion) {
    let rate = TaxRate::parse_percent("19").unwrap_or_default();
    let price = Money::from_minor(999, Currency::USD);
    c.bench_function("parse_decimal 9.99 USD", |b| {
        b.iter(|| Money::parse_decimal(black_box("9.99"), Currency::USD))
    });
    c.bench_function("to_json_number_text", |b| {
        b.iter(|| black_box(price).to_json_number_text())
    });
    c.bench_function("tax_on 19% half-up", |b| {
        b.iter(|| rate.tax_on(black_box(price)))
    });
    c.bench_function("order total: 3 lines + tax", |b| {
        b.iter(|| {
            let subtotal = [999_i64, 250, 1]
                .iter()
                .try_fold(Money::zero(Currency::USD), |acc, m| {
                    acc.checked_add(Money::from_minor(*m, Currency::USD))
                });
            subtotal.and_then(|s| rate.tax_on(s).and_then(|t| s.checked_add(t)))
        })
    });
}

criterion_group!(benches, money);
criterion_main!(benches);
