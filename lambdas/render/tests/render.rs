//! The rendered PDF, read back by poppler (pdftoppm, pdftotext) and zbar (zbarimg).

mod support;

use chrono::{TimeDelta, TimeZone, Utc};
use support::{eur, event_id, sample, signer, ticket_id, word_boxes};
use ticket_core::{LocalTimes, Money, Tz};
use ticket_render::{RenderError, TicketPdf, render_ticket, short_ticket_id};
use ticket_testkit::pdf::{scan, text};

#[test]
fn the_qr_code_scans_back_to_the_signed_code() {
    let signer = signer();
    let code = signer.sign(ticket_id(), event_id());
    assert_eq!(code.len(), 160);
    let pdf = render_ticket(&sample(&code)).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));

    let found = scan(&pdf);
    assert_eq!(found, std::slice::from_ref(&code), "exactly the code, once");
    let verified = signer.verifier().verify(&found[0]).unwrap();
    assert_eq!(verified.ticket_id, ticket_id());
    assert_eq!(verified.event_id, event_id());
}

#[test]
fn the_symbol_is_version_7_at_level_m() {
    let code = signer().sign(ticket_id(), event_id());
    let (version, width, rectangles) = ticket_render::internals::qr_shape(&code).unwrap();
    assert_eq!((version, width), (7, 45));
    assert_eq!(ticket_render::internals::EC_LEVEL, qrcode::EcLevel::M);
    assert!(rectangles < 600, "{rectangles} rectangles");
}

#[test]
fn an_end_on_another_day_is_printed_whole() {
    let code = signer().sign(ticket_id(), event_id());
    let start = Utc.with_ymd_and_hms(2030, 7, 31, 16, 0, 0).unwrap();
    let festival = TicketPdf {
        when: LocalTimes::new(
            Tz::America__New_York,
            start,
            Some(start + TimeDelta::days(3)),
        ),
        ..sample(&code)
    };
    let text = text(&render_ticket(&festival).unwrap());
    for expected in [
        "Wed 31 Jul 2030, 12:00 EDT\n",
        "– Sat 3 Aug 2030, 12:00 EDT\n",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn the_ticket_shows_what_it_was_given() {
    let code = signer().sign(ticket_id(), event_id());
    let pdf = render_ticket(&sample(&code)).unwrap();
    let text = text(&pdf);
    for expected in [
        "RustConf Europe 2026",
        "Workshops & Talks",
        "Sat 12 Dec 2026, 19:30 – 23:00 CET",
        "Kongresshaus Z\u{fc}rich, Gotthardstrasse 5",
        "Zo\u{eb} \u{c5}ngstr\u{f6}m",
        "zoe.angstrom@example.org",
        "149.00 EUR",
        "1D3B-8F60",
        "FERRIS EVENTS GMBH",
        "ADMIT ONE",
        "Show this QR code at the entrance. Each ticket admits once.",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(short_ticket_id(&ticket_id()), "1D3B-8F60");
}

#[test]
fn a_free_ticket_says_free() {
    let code = signer().sign(ticket_id(), event_id());
    let pdf = render_ticket(&TicketPdf {
        price: eur(0),
        ..sample(&code)
    })
    .unwrap();
    let text = text(&pdf);
    assert!(text.contains("Free"), "{text}");
    assert!(!text.contains("EUR"), "{text}");
}

#[test]
fn a_ticket_of_an_event_with_several_types_names_its_type_by_the_price() {
    let code = signer().sign(ticket_id(), event_id());
    let pdf = render_ticket(&TicketPdf {
        ticket_type: Some("VIP"),
        ..sample(&code)
    })
    .unwrap();
    let text = text(&pdf);
    assert!(text.contains("VIP \u{b7} "), "{text}");
    let single = text_of_sample(&code);
    assert!(!single.contains('\u{b7}'), "{single}");
}

fn text_of_sample(code: &str) -> String {
    text(&render_ticket(&sample(code)).unwrap())
}

#[test]
fn non_latin_text_never_breaks_the_ticket() {
    let code = signer().sign(ticket_id(), event_id());
    let pdf = render_ticket(&TicketPdf {
        event_title: "Caf\u{e9} Z\u{fc}rich \u{2014} Stra\u{df}e \u{20b9} \u{6771}\u{4eac} \u{1f39f}\u{fe0f}",
        venue: "Gr\u{fc}ner Weg 5, \u{6771}\u{4eac}",
        attendee_name: "Zo\u{eb} \u{c5}ngstr\u{f6}m-Wei\u{df} \u{1f980}",
        organizer: "\u{d1}and\u{fa} Eventos",
        price: Money {
            amount_minor: 149_900,
            currency: "INR".parse().unwrap(),
        },
        ..sample(&code)
    })
    .unwrap();
    // Lines joined: where the title wraps is the layout's business.
    let text = text(&pdf).split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        // CJK and the emoji show as U+FFFD each.
        "Caf\u{e9} Z\u{fc}rich \u{2014} Stra\u{df}e \u{20b9} \u{fffd}\u{fffd} \u{fffd}",
        "Gr\u{fc}ner Weg 5, \u{fffd}\u{fffd}",
        "Zo\u{eb} \u{c5}ngstr\u{f6}m-Wei\u{df} \u{fffd}",
        "\u{d1}AND\u{da} EVENTOS",
        "1499.00 INR",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(
        !text.contains('\u{6771}'),
        "CJK has no glyph and is replaced"
    );
    assert_eq!(scan(&pdf), [code]);
}

#[test]
fn overlong_text_is_cut_to_the_layout() {
    let code = signer().sign(ticket_id(), event_id());
    let long_words = "Wunderbar ".repeat(40);
    let one_word = "W".repeat(300);
    let email = format!("{}@example.org", "w".repeat(250));
    let pdf = render_ticket(&TicketPdf {
        event_title: &long_words,
        venue: &one_word,
        attendee_name: &one_word,
        attendee_email: &email,
        ticket_type: None,
        organizer: &long_words,
        ..sample(&code)
    })
    .unwrap();
    let ((width, height), words) = word_boxes(&pdf);
    assert!(words.len() > 10);
    // The perforation is at x = 272 pt; nothing crosses it or leaves the card (7 pt inset).
    for (x0, y0, x1, y1, word) in &words {
        assert!(
            *x0 >= 7.0 && *x1 <= width - 7.0 && *y0 >= 7.0 && *y1 <= height - 7.0,
            "{word:?} at {x0},{y0}-{x1},{y1} leaves the card"
        );
        assert!(
            *x1 <= 272.0 || *x0 >= 272.0,
            "{word:?} at {x0}-{x1} crosses the perforation"
        );
    }
    let text = text(&pdf);
    assert!(text.matches('\u{2026}').count() >= 4, "{text}");
    assert_eq!(scan(&pdf), [code]);
}

#[test]
fn codes_that_cannot_be_drawn_are_errors() {
    let empty = render_ticket(&sample(""));
    assert!(matches!(empty, Err(RenderError::EmptyCode)), "{empty:?}");
    let dense = "A".repeat(600); // too dense to print in the ticket's square
    let too_long = render_ticket(&sample(&dense));
    assert!(
        matches!(too_long, Err(RenderError::CodeTooLong(v)) if v > 11),
        "{too_long:?}"
    );
    let huge = "A".repeat(5_000); // more than any QR code holds
    let too_long = render_ticket(&sample(&huge));
    assert!(matches!(too_long, Err(RenderError::Qr(_))), "{too_long:?}");
}

/// The variants the benchmark compares all make the same, readable ticket.
#[test]
fn every_drawing_and_compression_variant_reads_back() {
    use ticket_render::{Compression, Drawing, RenderOptions, render_ticket_with};

    let code = signer().sign(ticket_id(), event_id());
    for drawing in [Drawing::Bytes, Drawing::Ops, Drawing::Polygon] {
        for compression in [
            Compression::None,
            Compression::Content(1),
            Compression::All(6),
            Compression::PrintpdfOptimize,
        ] {
            let options = RenderOptions {
                drawing,
                compression,
                embed_whole_font: false,
            };
            let pdf = render_ticket_with(&sample(&code), &options).unwrap();
            assert_eq!(scan(&pdf), std::slice::from_ref(&code), "{options:?}");
            let text = text(&pdf);
            assert!(
                text.contains("Zo\u{eb} \u{c5}ngstr\u{f6}m"),
                "{options:?}: {text}"
            );
        }
    }
}
