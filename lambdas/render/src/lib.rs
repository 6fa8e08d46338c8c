//! PDF tickets: one A6 landscape page with the event, the attendee and the signed ticket code
//! as a vector QR symbol, in embedded DejaVu Sans (Latin scripts, Greek, Cyrillic, Hebrew, the
//! rupee sign; characters it lacks, such as CJK and most emoji, show as U+FFFD). See the
//! crate's README for the design and the measured costs.
//!
//! ```no_run
//! # fn demo(ticket: &ticket_render::TicketPdf<'_>) -> Result<(), ticket_render::RenderError> {
//! let pdf: Vec<u8> = ticket_render::render_ticket(ticket)?;
//! # Ok(()) }
//! ```

mod bidi;
mod font;
mod layout;
mod qr;
mod subset;

use std::cell::RefCell;

use chrono::Utc;
use printpdf::{
    DictItem, ExternalStream, ExternalXObject, FontId, OffsetDateTime, PdfDocument, PdfFont,
    PdfPage, PdfSaveOptions, PdfWarnMsg, XObject, XObjectId,
};
use ticket_core::{RenderFailure, TicketId, TicketRenderer};

/// Does the one-time work now (parsing both fonts, serialising the card, the mask
/// tables: a few milliseconds) instead of in the first [`render_ticket`] call. Optional.
pub fn warm_up() {
    font::warm_up();
    layout::warm_up();
    qr::warm_up();
}

/// What a ticket shows: defined in `ticket-core` (the registration saga's renderer port needs it
/// and `ticket-core` cannot depend on this crate), re-exported here for this crate's callers.
pub use ticket_core::TicketPdf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the ticket code cannot be drawn as a QR code: {0}")]
    Qr(qrcode::types::QrError),
    /// The code needs a denser symbol than the ticket can print legibly (version 11, 61
    /// modules); signed ticket codes need version 7.
    #[error("the ticket code is too long for the ticket's QR code (version {0}, at most 11)")]
    CodeTooLong(i16),
    #[error("the ticket code is empty")]
    EmptyCode,
}

/// Renders one ticket as a PDF document.
pub fn render_ticket(ticket: &TicketPdf<'_>) -> Result<Vec<u8>, RenderError> {
    render_ticket_with(ticket, &RenderOptions::default())
}

/// The registration saga's [`TicketRenderer`]: [`render_ticket`] with the default options.
#[derive(Debug, Default, Clone, Copy)]
pub struct PdfRenderer;

impl TicketRenderer for PdfRenderer {
    fn render(&self, ticket: &TicketPdf<'_>) -> Result<Vec<u8>, RenderFailure> {
        render_ticket(ticket).map_err(|error| RenderFailure(error.to_string()))
    }
}

/// The ticket number printed on the ticket: 8 hex digits of the ticket id, upper-case, in two
/// groups (`9F3A-07C2`). These are the id's *last* 8 digits: ids are UUIDv7, whose first 8
/// digits are the top of a millisecond timestamp and so shared by every ticket issued in
/// the same ~65 seconds; the last 8 are random.
pub fn short_ticket_id(id: &TicketId) -> String {
    let hex = id.as_uuid().simple().to_string().to_ascii_uppercase();
    format!("{}-{}", &hex[24..28], &hex[28..32])
}

/// How the card and the QR symbol get into the PDF.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawing {
    /// One form XObject with the card's content bytes (made by printpdf once per process)
    /// and the symbol as one path of `x y w h re` rectangles in module units, filled once.
    Bytes,
    /// printpdf ops on the page: the card, and the rectangles as raw `re` operators (passed
    /// through with printpdf's `secure` flag off).
    Ops,
    /// printpdf ops on the page, the symbol as one `Polygon` with a ring (`m l l l`) per
    /// rectangle.
    Polygon,
}

/// Which streams get deflated, and how.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Nothing: the largest files, the least CPU.
    None,
    /// The content streams (page text, card and symbol) at this zlib level: they shrink to
    /// a third. Font programs and ToUnicode maps stay as they are (glyph outlines shrink by
    /// a quarter at best, for most of the deflate time).
    Content(u32),
    /// Every stream at this zlib level.
    All(u32),
    /// printpdf's `optimize`: every stream at level 9 (lopdf's `Compression::best()`).
    PrintpdfOptimize,
}

/// Knobs the benchmark compares. [`RenderOptions::default`] is what [`render_ticket`] uses.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    pub drawing: Drawing,
    pub compression: Compression,
    /// Embed the whole font program (printpdf's own behaviour without `text_layout`)
    /// instead of the per-document subset. For comparison only: 1.4 MB per ticket.
    pub embed_whole_font: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            drawing: Drawing::Bytes,
            compression: Compression::Content(1),
            embed_whole_font: false,
        }
    }
}

const REGULAR_ID: &str = "FR";
const BOLD_ID: &str = "FB";

#[doc(hidden)]
pub fn render_ticket_with(
    ticket: &TicketPdf<'_>,
    options: &RenderOptions,
) -> Result<Vec<u8>, RenderError> {
    if ticket.code.is_empty() {
        return Err(RenderError::EmptyCode);
    }
    let matrix = qr::Matrix::encode(ticket.code).map_err(|error| match error {
        qr::EncodeError::Qr(error) => RenderError::Qr(error),
        qr::EncodeError::TooLong(version) => RenderError::CodeTooLong(version),
    })?;
    let mut page = layout::draw(ticket, &matrix, options.drawing);

    let mut doc = PdfDocument::new(&ticket_title(ticket));
    let info = &mut doc.metadata.info;
    info.creator = "ticket-render".into();
    info.producer = "printpdf 0.12".into();
    if let Ok(now) = OffsetDateTime::from_unix_timestamp(Utc::now().timestamp()) {
        (
            info.creation_date,
            info.modification_date,
            info.metadata_date,
        ) = (now, now, now);
    }
    for (id, weight, glyphs) in [
        (REGULAR_ID, font::Weight::Regular, &page.regular),
        (BOLD_ID, font::Weight::Bold, &page.bold),
    ] {
        if glyphs.is_empty() {
            continue;
        }
        let face = weight.face();
        let parsed = if options.embed_whole_font {
            glyphs.whole_font(face)
        } else {
            glyphs.subset_font(face)
        };
        doc.resources
            .fonts
            .map
            .insert(FontId(id.into()), PdfFont::new(parsed));
    }
    if let Some(content) = page.form.take() {
        let dict = [
            ("Type", DictItem::Name(b"XObject".to_vec())),
            ("Subtype", DictItem::Name(b"Form".to_vec())),
            ("BBox", layout::bbox()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        let stream = ExternalStream {
            dict,
            content,
            compress: true,
        };
        doc.resources.xobjects.map.insert(
            XObjectId(layout::CARD_XOBJECT.into()),
            XObject::External(ExternalXObject {
                stream,
                width: None,
                height: None,
                dpi: None,
            }),
        );
    }
    doc.pages.push(PdfPage::new(
        layout::PAGE_WIDTH,
        layout::PAGE_HEIGHT,
        page.ops,
    ));

    let optimize = options.compression == Compression::PrintpdfOptimize;
    let save = PdfSaveOptions {
        optimize,
        subset_fonts: false,
        secure: options.drawing != Drawing::Ops,
        image_optimization: None,
    };
    let mut warnings: Vec<PdfWarnMsg> = Vec::new();
    let (level, fonts_too) = match options.compression {
        Compression::None | Compression::PrintpdfOptimize => {
            return Ok(doc.save(&save, &mut warnings));
        }
        Compression::Content(level) => (level, false),
        Compression::All(level) => (level, true),
    };
    let mut lo = doc.to_lopdf_document(&save, &mut warnings);
    for object in lo.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object {
            let font_data = stream.dict.has(b"Length1") || stream.content.starts_with(b"/CIDInit");
            if fonts_too || !font_data {
                deflate(stream, level);
            }
        }
    }
    let mut bytes = Vec::with_capacity(32 * 1024);
    lo.save_to(&mut bytes)
        .expect("writing a PDF into memory does not fail");
    Ok(bytes)
}

fn ticket_title(ticket: &TicketPdf<'_>) -> String {
    let title: String = ticket
        .event_title
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!(
        "Ticket {} \u{2013} {}",
        short_ticket_id(&ticket.ticket_id),
        title.trim()
    )
}

thread_local! {
    /// One compressor per thread, reset between streams: a new one allocates and zeroes
    /// ~230 KB of tables, which cost more than compressing a ticket's small streams.
    static DEFLATER: RefCell<(u32, flate2::Compress)> =
        RefCell::new((1, flate2::Compress::new(flate2::Compression::new(1), true)));
}

/// What lopdf's `Stream::compress` does, at a chosen level instead of the best.
fn deflate(stream: &mut lopdf::Stream, level: u32) {
    if !stream.allows_compression || stream.dict.has(b"Filter") || stream.content.len() < 64 {
        return;
    }
    let compressed = DEFLATER.with_borrow_mut(|(current, deflater)| {
        if *current != level {
            *deflater = flate2::Compress::new(flate2::Compression::new(level), true);
            *current = level;
        }
        deflater.reset();
        let input = &stream.content;
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        loop {
            let consumed = deflater.total_in() as usize;
            let status = deflater
                .compress_vec(&input[consumed..], &mut out, flate2::FlushCompress::Finish)
                .ok()?;
            if status == flate2::Status::StreamEnd {
                return Some(out);
            }
            out.reserve(out.capacity().max(1024));
        }
    });
    if let Some(compressed) = compressed
        && compressed.len() + 19 < stream.content.len()
    {
        stream.dict.set("Filter", "FlateDecode");
        stream.set_content(compressed);
    }
}

/// The pieces, for tests and the benchmark.
#[doc(hidden)]
pub mod internals {
    pub use crate::qr::{EC_LEVEL, QUIET_ZONE};

    /// QR version and width (modules) the code encodes to, and how many rectangles draw it.
    pub fn qr_shape(code: &str) -> Option<(i16, u16, usize)> {
        let matrix = crate::qr::Matrix::encode(code).ok()?;
        Some((matrix.version, matrix.width, matrix.rectangles().len()))
    }

    /// Ops on the page, for the op-count figures.
    pub fn page_op_count(ticket: &crate::TicketPdf<'_>, drawing: crate::Drawing) -> Option<usize> {
        let matrix = crate::qr::Matrix::encode(ticket.code).ok()?;
        Some(crate::layout::draw(ticket, &matrix, drawing).ops.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ticket_core::Money;

    fn ticket(code: &str) -> TicketPdf<'_> {
        TicketPdf {
            event_title: "Port test",
            when: ticket_core::LocalTimes::new(
                ticket_core::Tz::UTC,
                Utc.with_ymd_and_hms(2030, 1, 1, 20, 0, 0).unwrap(),
                None,
            ),
            venue: "Hall",
            attendee_name: "Ada",
            attendee_email: "ada@example.org",
            ticket_type: None,
            ticket_id: TicketId::from(uuid::Uuid::from_u128(7)),
            price: Money {
                amount_minor: 0,
                currency: "EUR".parse().unwrap(),
            },
            organizer: ticket_core::registration::TICKET_ISSUER,
            code,
        }
    }

    #[test]
    fn the_port_renders_a_pdf_and_reports_what_failed() {
        let pdf = PdfRenderer.render(&ticket("T1.K1.ABC")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "a PDF document");
        let failure = PdfRenderer.render(&ticket("")).unwrap_err();
        assert_eq!(
            failure.to_string(),
            "the ticket could not be rendered: the ticket code is empty"
        );
    }
}
