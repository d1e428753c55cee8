//! Render time of a typical invoice (built-in fonts, no logo), of the async port path,
//! and of invoices that embed font subsets (Cyrillic and Greek; Hebrew, right to left).
//! Run: `cargo bench -p tariff-invoice --bench render`.

// Benchmark set-up: a failure should stop the run on the spot, like in a test.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use tariff_domain::orders::{InvoiceDocument, InvoiceRenderer};
use tariff_invoice::GenpdfInvoiceRenderer;

#[path = "../tests/common/mod.rs"]
mod common;

/// CPU time this thread has run, in nanoseconds (Linux), if available.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Mean CPU time of one render, which a loaded machine does not inflate the way it
/// inflates wall-clock time (the machine these figures come from is shared).
fn cpu_per_render(renderer: &GenpdfInvoiceRenderer, document: &InvoiceDocument, name: &str) {
    const RUNS: u32 = 200;
    let Some(start) = thread_cpu_ns() else {
        return;
    };
    for _ in 0..RUNS {
        renderer.render_blocking(document).unwrap();
    }
    if let Some(end) = thread_cpu_ns() {
        let micros = (end - start) / u64::from(RUNS) / 1000;
        println!("{name}: {micros} µs CPU per render (mean of {RUNS})");
    }
}

fn render(c: &mut Criterion) {
    let renderer = GenpdfInvoiceRenderer::new().unwrap();
    cpu_per_render(&renderer, &common::typical(), "typical invoice");
    cpu_per_render(
        &renderer,
        &common::cyrillic_and_greek(),
        "Cyrillic and Greek invoice",
    );
    cpu_per_render(&renderer, &common::hebrew(), "Hebrew invoice");
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

    // Text beyond WinAnsi: the document embeds subsets of Liberation Sans.
    let cyrillic = common::cyrillic_and_greek();
    let size = renderer.render_blocking(&cyrillic).unwrap().len();
    println!("Cyrillic and Greek invoice: {size} bytes");
    c.bench_function("render Cyrillic and Greek invoice (font subsets)", |b| {
        b.iter(|| renderer.render_blocking(&cyrillic).unwrap())
    });
    let hebrew = common::hebrew();
    let size = renderer.render_blocking(&hebrew).unwrap().len();
    println!("Hebrew invoice: {size} bytes");
    c.bench_function("render Hebrew invoice (font subsets, bidi)", |b| {
        b.iter(|| renderer.render_blocking(&hebrew).unwrap())
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
