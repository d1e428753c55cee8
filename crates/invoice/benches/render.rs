//! Render time of a typical invoice (built-in fonts, no logo), and of the async port
//! path. Run: `cargo bench -p tariff-invoice --bench render`.

// Benchmark set-up: a failure should stop the run on the spot, like in a test.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use tariff_domain::orders::InvoiceRenderer;
use tariff_invoice::GenpdfInvoiceRenderer;

#[path = "../tests/common/mod.rs"]
mod common;

fn render(c: &mut Criterion) {
    let renderer = GenpdfInvoiceRenderer::new().unwrap();
    let document = common::typical();
    let size = renderer.render_blocking(&document).unwrap().len();
    println!("typical invoice: {size} bytes");

    c.bench_function("render typical invoice", |b| {
        b.iter(|| renderer.render_blocking(&document).unwrap())
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    c.bench_function("render typical invoice (async port)", |b| {
        b.iter(|| runtime.block_on(renderer.render(&document)).unwrap())
    });

    // The rare fallback: a Cyrillic name makes the document embed Liberation Sans.
    let mut cyrillic = common::typical();
    cyrillic.buyer.name = "Дмитрий Ωμέγα".to_owned();
    let size = renderer.render_blocking(&cyrillic).unwrap().len();
    println!("embedded-font invoice: {size} bytes");
    let mut group = c.benchmark_group("fallback");
    group.sample_size(10);
    group.bench_function("render invoice with embedded font", |b| {
        b.iter(|| renderer.render_blocking(&cyrillic).unwrap())
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
