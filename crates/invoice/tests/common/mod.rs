//! Sample documents shared by the tests and the benchmark.
#![allow(dead_code)]

use chrono::{NaiveDate, TimeZone, Utc};
use tariff_domain::orders::{InvoiceDocument, InvoiceKind, InvoiceLine, Party};
use tariff_domain::shared::OrderId;
use tariff_domain::shared::{Currency, Money, TaxRate};

pub fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The contract's example order as a numbered invoice: two lines, 19% tax.
pub fn typical() -> InvoiceDocument {
    InvoiceDocument {
        kind: InvoiceKind::Invoice {
            number: "INV-2026-000001".to_owned(),
        },
        order_id: OrderId::new(101).unwrap(),
        status: "active".to_owned(),
        issued_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap(),
        issue_date: date(2026, 11, 21),
        due_date: date(2026, 12, 5),
        service_period: Some((date(2026, 11, 21), date(2026, 12, 20))),
        company_name: "Northwind Hosting".to_owned(),
        seller: Party {
            name: "Northwind Hosting GmbH".to_owned(),
            lines: vec![
                "Hafenstraße 12".to_owned(),
                "20457 Hamburg, Germany".to_owned(),
                "VAT ID DE123456789".to_owned(),
            ],
        },
        buyer: Party {
            name: "Zoë Müller".to_owned(),
            lines: vec![
                "Acme Widgets Ltd".to_owned(),
                "1 Market Street".to_owned(),
                "Springfield, IL 62701, USA".to_owned(),
            ],
        },
        lines: vec![
            InvoiceLine {
                description: "Pro (monthly)".to_owned(),
                quantity: 1,
                unit_price: usd(899),
                amount: usd(899),
            },
            InvoiceLine {
                description: "Extra backup storage, 10 GB".to_owned(),
                quantity: 2,
                unit_price: usd(50),
                amount: usd(100),
            },
        ],
        subtotal: usd(999),
        tax_rate: TaxRate::from_basis_points(1900).unwrap(),
        tax: usd(190),
        total: usd(1189),
        account_credit: None,
        payment_reference: Some("TARIFF-101".to_owned()),
        footer: Some(
            "Northwind Hosting GmbH · Registered at Amtsgericht Hamburg HRB 123456 · \
             Managing director: Jane Doe\nQuestions about this invoice? billing@northwind.example"
                .to_owned(),
        ),
        logo_path: None,
    }
}

/// A pending order: proforma, no number.
pub fn proforma() -> InvoiceDocument {
    InvoiceDocument {
        kind: InvoiceKind::Proforma,
        status: "pending".to_owned(),
        ..typical()
    }
}

/// A credit note for part of the typical invoice: one line before tax, the tax share,
/// the refunded amount.
pub fn credit_note() -> InvoiceDocument {
    let typical = typical();
    InvoiceDocument {
        kind: InvoiceKind::CreditNote {
            number: "CN-2026-000001".to_owned(),
            invoice_number: "INV-2026-000101".to_owned(),
            reason: "Service outage on 3 November".to_owned(),
        },
        lines: vec![InvoiceLine {
            description: "Credit for invoice INV-2026-000101".to_owned(),
            quantity: 1,
            unit_price: usd(421),
            amount: usd(421),
        }],
        subtotal: usd(421),
        tax: usd(79),
        total: usd(500),
        payment_reference: None,
        ..typical
    }
}

/// The typical invoice for a buyer in Cyrillic and Greek (embedded font subsets).
pub fn cyrillic_and_greek() -> InvoiceDocument {
    let mut document = typical();
    document.buyer.name = "Дмитрий Ωμέγα".to_owned();
    document.buyer.lines = vec![
        "ООО «Ромашка»".to_owned(),
        "ул. Ленина, 1, Москва".to_owned(),
        "Οδός Αθηνάς 5, Αθήνα".to_owned(),
    ];
    document.lines[0].description = "Хостинг Pro (ежемесячно)".to_owned();
    document
}

/// The typical invoice for a buyer in Hebrew, right to left with numbers inside.
pub fn hebrew() -> InvoiceDocument {
    let mut document = typical();
    document.buyer.name = "דוד לוי".to_owned();
    document.buyer.lines = vec!["רחוב הרצל 12, תל אביב".to_owned()];
    document.lines[0].description = "אחסון Pro חודשי".to_owned();
    document
}

/// The typical invoice for a buyer in Japanese and Chinese (needs an extra font).
pub fn cjk() -> InvoiceDocument {
    let mut document = typical();
    document.buyer.name = "山田太郎 株式会社".to_owned();
    document.buyer.lines = vec![
        "東京都千代田区丸の内1-1".to_owned(),
        "北京市朝阳区 100020".to_owned(),
    ];
    document.lines[0].description = "Pro 主机 (月付)".to_owned();
    document
}
