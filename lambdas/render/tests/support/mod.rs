//! Shared by the integration tests: a sample ticket, a signer, and poppler/zbar wrappers.
//! The tools are required: a missing tool fails the test (scripts/test installs them).

#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use ticket_core::{EventId, KeyId, LocalTimes, Money, TicketId, TicketSigner, Tz};
use ticket_render::TicketPdf;
use uuid::Uuid;

pub fn signer() -> TicketSigner {
    TicketSigner::from_seed(KeyId::new("K1").unwrap(), &[42; 32])
}

pub fn ticket_id() -> TicketId {
    TicketId::from(Uuid::parse_str("019c8e52-3f1a-7b6d-9e24-5a7c1d3b8f60").unwrap())
}

pub fn event_id() -> EventId {
    EventId::from(Uuid::parse_str("019c1f08-9a44-7c2e-8d51-2b6e4f9a0c37").unwrap())
}

pub fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".parse().unwrap(),
    }
}

/// The sample ticket with `code`; tests override fields with struct update syntax.
pub fn sample(code: &str) -> TicketPdf<'_> {
    TicketPdf {
        event_title: "RustConf Europe 2026 \u{2014} Workshops & Talks",
        // 19:30 to 23:00 in Zürich (CET in December).
        when: LocalTimes::new(
            Tz::Europe__Zurich,
            Utc.with_ymd_and_hms(2026, 12, 12, 18, 30, 0).unwrap(),
            Some(Utc.with_ymd_and_hms(2026, 12, 12, 22, 0, 0).unwrap()),
        ),
        venue: "Kongresshaus Z\u{fc}rich, Gotthardstrasse 5",
        attendee_name: "Zo\u{eb} \u{c5}ngstr\u{f6}m",
        attendee_email: "zoe.angstrom@example.org",
        ticket_type: None,
        ticket_id: ticket_id(),
        price: eur(14_900),
        organizer: "Ferris Events GmbH",
        code,
    }
}

use ticket_testkit::pdf::run;

/// A word's box `(xMin, yMin, xMax, yMax, word)` in points from the top left.
pub type WordBox = (f32, f32, f32, f32, String);

/// Every word's box and the page size, from `pdftotext -bbox`.
pub fn word_boxes(pdf: &[u8]) -> ((f32, f32), Vec<WordBox>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ticket.pdf"), pdf).unwrap();
    let html =
        String::from_utf8(run("pdftotext", &["-bbox", "ticket.pdf", "-"], dir.path())).unwrap();
    let attr = |tag: &str, name: &str| -> f32 {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    };
    let mut page = (0.0, 0.0);
    let mut words = Vec::new();
    for line in html.lines().map(str::trim) {
        if line.starts_with("<page ") {
            page = (attr(line, "width"), attr(line, "height"));
        } else if line.starts_with("<word ") {
            let text_start = line.find('>').unwrap() + 1;
            let text_end = line.rfind("</word>").unwrap();
            words.push((
                attr(line, "xMin"),
                attr(line, "yMin"),
                attr(line, "xMax"),
                attr(line, "yMax"),
                line[text_start..text_end].to_owned(),
            ));
        }
    }
    (page, words)
}
