//! The renderer port: what a ticket shows, and the trait that turns it into a PDF. The PDF
//! renderer lives in `ticket-render`, which depends on this crate, so the port is here.

use crate::ids::TicketId;
use crate::local_time::LocalTimes;
use crate::money::Money;

/// What the ticket's header band names when the organizer has no profile: the organizer's id
/// is an opaque identity-provider subject, so the band names the platform that issued it.
pub const TICKET_ISSUER: &str = "Ticketd";

/// What a ticket shows. Text fields take any input: characters the font lacks are replaced,
/// control characters dropped, and long values cut with an ellipsis to fit the layout.
#[derive(Debug, Clone)]
pub struct TicketPdf<'a> {
    pub event_title: &'a str,
    /// The start, and the end if known, in the venue's zone.
    pub when: LocalTimes,
    pub venue: &'a str,
    pub attendee_name: &'a str,
    pub attendee_email: &'a str,
    /// Printed with the price when the event sells several types.
    pub ticket_type: Option<&'a str>,
    pub ticket_id: TicketId,
    /// What was paid; 0 shows as "Free".
    pub price: Money,
    pub organizer: &'a str,
    /// The signed ticket code the QR symbol carries, byte for byte.
    pub code: &'a str,
}

/// The ticket could not be drawn (a retry will not help).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ticket could not be rendered: {0}")]
pub struct RenderFailure(pub String);

/// Turns a ticket into a PDF document. CPU only (a few milliseconds), so it is not async.
pub trait TicketRenderer: Send + Sync {
    fn render(&self, ticket: &TicketPdf<'_>) -> Result<Vec<u8>, RenderFailure>;
}
