//! Renders the sample ticket and writes `docs/sample-ticket.pdf`'s picture,
//! `docs/sample-ticket.png` (150 dpi, through poppler's `pdftoppm`).
//!
//! ```sh
//! cargo run -p ticket-render --example sample_ticket [-- OUT.png]
//! ```

use std::path::PathBuf;
use std::process::Command;

use chrono::{TimeZone, Utc};
use ticket_core::{EventId, KeyId, LocalTimes, Money, TicketId, TicketSigner, Tz};
use ticket_render::{TicketPdf, render_ticket};
use uuid::Uuid;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/sample-ticket.png")
        });

    // A fixed demonstration key, so the sample is reproducible. Not a production key.
    let signer = TicketSigner::from_seed(KeyId::new("K1")?, &[7; 32]);
    let ticket_id = TicketId::from(Uuid::parse_str("019c8e52-3f1a-7b6d-9e24-5a7c1d3b8f60")?);
    let event_id = EventId::from(Uuid::parse_str("019c1f08-9a44-7c2e-8d51-2b6e4f9a0c37")?);
    let code = signer.sign(ticket_id, event_id);

    let pdf = render_ticket(&TicketPdf {
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
        ticket_id,
        price: Money {
            amount_minor: 14_900,
            currency: "EUR".parse()?,
        },
        organizer: "Ferris Events GmbH",
        code: &code,
    })?;

    let dir = tempfile::tempdir()?;
    let pdf_path = dir.path().join("ticket.pdf");
    std::fs::write(&pdf_path, &pdf)?;
    let stem = dir.path().join("page");
    let status = Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(&pdf_path)
        .arg(&stem)
        .status()?;
    if !status.success() {
        return Err(format!("pdftoppm failed: {status}").into());
    }
    std::fs::copy(stem.with_extension("png"), &out)?;
    if let Some(pdf_out) = std::env::var_os("SAMPLE_PDF") {
        std::fs::write(pdf_out, &pdf)?;
    }
    println!("{} ({} bytes of PDF)", out.display(), pdf.len());
    Ok(())
}
