//! Sign and render one ticket, and the variants the renderer chose between.
//!
//! `cargo bench -p ticket-render` (release). The headline is `ticket/sign+render`.

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ticket_core::{EventId, KeyId, LocalTimes, Money, TicketId, TicketSigner, Tz};
use ticket_render::{
    Compression, Drawing, RenderOptions, TicketPdf, render_ticket, render_ticket_with,
};
use uuid::Uuid;

fn sample(code: &str) -> TicketPdf<'_> {
    TicketPdf {
        event_title: "RustConf Europe 2026 \u{2014} Workshops & Talks",
        when: LocalTimes::new(
            Tz::Europe__Zurich,
            Utc.with_ymd_and_hms(2026, 9, 10, 8, 30, 0).unwrap(),
            Some(Utc.with_ymd_and_hms(2026, 9, 10, 16, 0, 0).unwrap()),
        ),
        venue: "Kongresshaus Z\u{fc}rich, Gotthardstrasse 5",
        attendee_name: "Zo\u{eb} \u{c5}ngstr\u{f6}m",
        attendee_email: "zoe.angstrom@example.org",
        ticket_type: None,
        ticket_id: TicketId::from(Uuid::parse_str("019c8e52-3f1a-7b6d-9e24-5a7c1d3b8f60").unwrap()),
        price: Money {
            amount_minor: 14_900,
            currency: "EUR".parse().unwrap(),
        },
        organizer: "Ferris Events GmbH",
        code,
    }
}

fn bench(c: &mut Criterion) {
    ticket_render::warm_up();
    let signer = TicketSigner::from_seed(KeyId::new("K1").unwrap(), &[7; 32]);
    let ticket_id =
        TicketId::from(Uuid::parse_str("019c8e52-3f1a-7b6d-9e24-5a7c1d3b8f60").unwrap());
    let event_id = EventId::from(Uuid::parse_str("019c1f08-9a44-7c2e-8d51-2b6e4f9a0c37").unwrap());
    let code = signer.sign(ticket_id, event_id);

    let mut group = c.benchmark_group("ticket");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("sign+render", |b| {
        b.iter(|| {
            let code = signer.sign(black_box(ticket_id), black_box(event_id));
            render_ticket(&sample(&code)).unwrap()
        })
    });
    group.bench_function("sign", |b| {
        b.iter(|| signer.sign(black_box(ticket_id), black_box(event_id)))
    });
    group.bench_function("qr encode+rectangles", |b| {
        b.iter(|| ticket_render::internals::qr_shape(black_box(&code)))
    });
    group.bench_function("layout (qr + ops + glyph sets)", |b| {
        b.iter(|| {
            ticket_render::internals::page_op_count(&sample(black_box(&code)), Drawing::Bytes)
        })
    });
    group.finish();

    let default = RenderOptions::default();
    let with = |drawing: Drawing, compression: Compression| RenderOptions {
        drawing,
        compression,
        ..default.clone()
    };
    let variants = [
        ("bytes, deflate content 1 (default)", default.clone()),
        (
            "bytes, uncompressed",
            with(Drawing::Bytes, Compression::None),
        ),
        (
            "bytes, deflate content 6",
            with(Drawing::Bytes, Compression::Content(6)),
        ),
        (
            "bytes, deflate all 1",
            with(Drawing::Bytes, Compression::All(1)),
        ),
        (
            "bytes, deflate all 6",
            with(Drawing::Bytes, Compression::All(6)),
        ),
        (
            "bytes, printpdf optimize (all 9)",
            with(Drawing::Bytes, Compression::PrintpdfOptimize),
        ),
        (
            "ops, deflate content 1",
            with(Drawing::Ops, Compression::Content(1)),
        ),
        ("ops, uncompressed", with(Drawing::Ops, Compression::None)),
        (
            "polygon, uncompressed",
            with(Drawing::Polygon, Compression::None),
        ),
        (
            "polygon, printpdf optimize (all 9)",
            with(Drawing::Polygon, Compression::PrintpdfOptimize),
        ),
    ];
    let mut group = c.benchmark_group("render");
    group.measurement_time(Duration::from_secs(4));
    for (name, options) in &variants {
        let size = render_ticket_with(&sample(&code), options).unwrap().len();
        println!("render/{name}: {size} bytes");
        group.bench_function(*name, |b| {
            b.iter(|| render_ticket_with(&sample(black_box(&code)), options).unwrap())
        });
    }
    group.finish();

    // printpdf's own behaviour with a TrueType font and no `text_layout`: the whole face
    // embedded (and deflated at level 9) in every document.
    let mut group = c.benchmark_group("render-whole-font");
    group.sample_size(10);
    for (name, options) in [
        (
            "whole font, printpdf optimize (all 9)",
            RenderOptions {
                embed_whole_font: true,
                compression: Compression::PrintpdfOptimize,
                ..default.clone()
            },
        ),
        (
            "whole font, deflate content 1",
            RenderOptions {
                embed_whole_font: true,
                ..default.clone()
            },
        ),
    ] {
        let size = render_ticket_with(&sample(&code), &options).unwrap().len();
        println!("render-whole-font/{name}: {size} bytes");
        group.bench_function(name, |b| {
            b.iter(|| render_ticket_with(&sample(black_box(&code)), &options).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
