//! Whatever the text fields hold, rendering neither panics nor fails.

mod support;

use proptest::prelude::*;
use ticket_render::{TicketPdf, render_ticket};

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        // Anything at all: control characters, unpaired marks, private use, astral planes.
        any::<String>(),
        // Very long.
        ".{200,1200}",
        // Right-to-left (Hebrew, Arabic) with bidi controls and digits.
        "[\u{0590}-\u{06FF}\u{200E}\u{200F}\u{202A}-\u{202E}\u{2066}-\u{2069} 0-9]{0,120}",
        // Whitespace and control characters only.
        "[\u{0}-\u{1F}\u{7F}-\u{9F}\u{2028}\u{2029} ]{0,40}",
        // Combining marks, emoji sequences, CJK.
        "[a-z\u{0300}-\u{036F}\u{1F300}-\u{1F64F}\u{200D}\u{FE0F}\u{4E00}-\u{4E20}]{0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_renders(
        title in field(),
        venue in field(),
        name in field(),
        email in field(),
        organizer in field(),
        amount in 0i64..100_000_000,
    ) {
        let code = support::signer().sign(support::ticket_id(), support::event_id());
        let pdf = render_ticket(&TicketPdf {
            event_title: &title,
            venue: &venue,
            attendee_name: &name,
            attendee_email: &email,
            ticket_type: None,
            organizer: &organizer,
            price: support::eur(amount),
            ..support::sample(&code)
        })
        .unwrap();
        prop_assert!(pdf.starts_with(b"%PDF-"));
        prop_assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
    }
}
