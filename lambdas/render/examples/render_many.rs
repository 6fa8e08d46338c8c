//! Signs and renders N tickets (default 10,000) one after another and reports peak memory
//! (VmHWM from /proc/self/status) after the first ticket, after 1,000 and at the end, to
//! show that memory stays flat.
//!
//! ```sh
//! cargo run --release -p ticket-render --example render_many [-- N]
//! ```

use std::time::Instant;

use chrono::{TimeZone, Utc};
use ticket_core::{EventId, KeyId, LocalTimes, Money, TicketId, TicketSigner, Tz};
use ticket_render::{TicketPdf, render_ticket};
use uuid::Uuid;

/// A field of /proc/self/status, in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn report(label: &str) {
    println!(
        "{label:>16}: peak RSS (VmHWM) {:.1} MB, RSS now {:.1} MB",
        status_kb("VmHWM:") as f64 / 1024.0,
        status_kb("VmRSS:") as f64 / 1024.0
    );
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("N is a number"))
        .unwrap_or(10_000);
    report("start");

    let signer = TicketSigner::from_seed(KeyId::new("K1").unwrap(), &[7; 32]);
    let event_id = EventId::from(Uuid::from_u128(0x019c_1f08_9a44_7c2e_8d51_2b6e_4f9a_0c37));
    let starts_at = Utc.with_ymd_and_hms(2026, 9, 10, 8, 30, 0).unwrap();
    let names = [
        "Zoë Ångström",
        "Jürgen Weiß",
        "Ana María Núñez",
        "Łukasz Żółć",
        "Priya Raman",
    ];

    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..count {
        let ticket_id = TicketId::from(Uuid::from_u128(
            0x019c_8e52_3f1a_7b6d_9e24_0000_0000_0000 + i as u128,
        ));
        let code = signer.sign(ticket_id, event_id);
        let name = format!("{} {i}", names[i % names.len()]);
        let email = format!("attendee{i}@example.org");
        let pdf = render_ticket(&TicketPdf {
            event_title: "RustConf Europe 2026 \u{2014} Workshops & Talks",
            when: LocalTimes::new(Tz::Europe__Zurich, starts_at, None),
            venue: "Kongresshaus Z\u{fc}rich, Gotthardstrasse 5",
            attendee_name: &name,
            attendee_email: &email,
            ticket_type: None,
            ticket_id,
            price: Money {
                amount_minor: 14_900 + (i as i64 % 3) * 2_500,
                currency: "EUR".parse().unwrap(),
            },
            organizer: "Ferris Events GmbH",
            code: &code,
        })
        .expect("renders");
        bytes += pdf.len();
        if i == 0 {
            println!(
                "first ticket (one-time font parsing included): {:.2} ms",
                started.elapsed().as_secs_f64() * 1e3
            );
            report("after 1");
        }
        if i + 1 == 1_000 {
            report("after 1,000");
        }
    }
    let elapsed = started.elapsed();
    report(&format!("after {count}"));
    println!(
        "{count} tickets in {:.2} s: {:.1} µs per ticket (sign + render), {:.1} KB per PDF on average",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / count as f64,
        bytes as f64 / count as f64 / 1024.0
    );
}
