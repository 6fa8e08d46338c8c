//! The page: an A6 landscape ticket with a tear-off stub holding the QR symbol.
//!
//! Coordinates are PDF points from the bottom left of the page.

use std::sync::LazyLock;

use printpdf::{
    Color, CurTransMat, DictItem, FontId, LineDashPattern, LinePoint, Mm, Op, PaintMode,
    PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, Rect,
    Rgb, TextItem, TextMatrix, WindingOrder, XObjectId, XObjectTransform,
};

use crate::font::{GlyphSet, Weight};
use crate::qr::{Matrix, QUIET_ZONE};
use crate::{Drawing, TicketPdf, short_ticket_id};

pub const PAGE_WIDTH: Mm = Mm(148.0);
pub const PAGE_HEIGHT: Mm = Mm(105.0);
const W: f32 = 148.0 * 72.0 / 25.4;
const H: f32 = 105.0 * 72.0 / 25.4;

/// The card: inset from the page edge, rounded, notched where the stub tears off.
const INSET: f32 = 7.0;
const CARD_LEFT: f32 = INSET;
const CARD_RIGHT: f32 = W - INSET;
const CARD_BOTTOM: f32 = INSET;
const CARD_TOP: f32 = H - INSET;
const CORNER: f32 = 10.0;
const NOTCH: f32 = 9.0;
const BAND: f32 = 38.0;
const BAND_BOTTOM: f32 = CARD_TOP - BAND;
/// The perforation between the ticket and its stub.
const STUB_X: f32 = 272.0;

const LEFT: f32 = CARD_LEFT + 18.0;
const MAIN_WIDTH: f32 = STUB_X - 16.0 - LEFT;
const STUB_CENTER: f32 = (STUB_X + CARD_RIGHT) / 2.0;
const STUB_WIDTH: f32 = CARD_RIGHT - STUB_X;
/// The white square under the QR symbol, quiet zone included.
const QR_BOX: f32 = 124.0;
const QR_TOP: f32 = BAND_BOTTOM - 22.0;
/// The rule above the attendee block.
const ATTENDEE_RULE: f32 = 123.0;

type Rgb8 = [u8; 3];
const NAVY: Rgb8 = [0x1E, 0x29, 0x45];
const ACCENT: Rgb8 = [0xE0, 0x5A, 0x1B];
const INK: Rgb8 = [0x16, 0x1A, 0x24];
const MUTED: Rgb8 = [0x64, 0x6B, 0x78];
const HAIRLINE: Rgb8 = [0xD5, 0xD9, 0xE1];
const STUB_TINT: Rgb8 = [0xF3, 0xF4, 0xF8];
const WHITE: Rgb8 = [0xFF, 0xFF, 0xFF];
const BAND_TEXT: Rgb8 = [0xC9, 0xD0, 0xE0];

pub struct Page {
    pub ops: Vec<Op>,
    pub regular: GlyphSet,
    pub bold: GlyphSet,
    /// Content of the [`CARD_XOBJECT`] form the page draws, if any.
    pub form: Option<Vec<u8>>,
}

#[derive(Clone, Copy)]
struct Style {
    weight: Weight,
    size: f32,
    color: Rgb8,
    /// Extra space after each character (PDF `Tc`), in points.
    tracking: f32,
}

const LABEL: Style = Style {
    weight: Weight::Bold,
    size: 6.2,
    color: MUTED,
    tracking: 0.9,
};

/// The form XObject the page draws when drawn from bytes: the card and the symbol.
pub const CARD_XOBJECT: &str = "Card";

pub fn draw(ticket: &TicketPdf<'_>, qr: &Matrix, drawing: Drawing) -> Page {
    let mut page = Canvas::default();
    let mut form = None;
    match drawing {
        Drawing::Bytes => {
            let mut content = Vec::with_capacity(CARD_BYTES.len() + 8 * 1024);
            content.extend_from_slice(&CARD_BYTES);
            qr_bytes(qr, &mut content);
            form = Some(content);
            page.ops.push(Op::UseXobject {
                id: XObjectId(CARD_XOBJECT.into()),
                transform: XObjectTransform::default(),
            });
        }
        Drawing::Ops | Drawing::Polygon => {
            page.card();
            page.qr(qr, drawing == Drawing::Polygon);
        }
    }
    page.text_block(ticket);
    let mut page = page.finish();
    page.form = form;
    page
}

/// The card (band, stub tint, outline, perforation, the white square under the symbol) as
/// content stream bytes: the same printpdf ops, serialised by printpdf once per process.
/// (Deflating them once too, in an XObject of their own, saved nothing measurable: the
/// second XObject cost what the smaller deflate saved.)
static CARD_BYTES: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut card = Canvas::default();
    card.card();
    let mut doc = PdfDocument::new("card");
    doc.pages
        .push(PdfPage::new(PAGE_WIDTH, PAGE_HEIGHT, card.ops));
    let options = PdfSaveOptions {
        optimize: false,
        ..PdfSaveOptions::default()
    };
    let lo = doc.to_lopdf_document(&options, &mut Vec::new());
    let page = lo.get_pages().into_values().next().expect("one page");
    lo.get_page_content(page)
});

/// The page, as a form XObject's bounding box.
pub fn bbox() -> DictItem {
    DictItem::Array([0.0, 0.0, W, H].into_iter().map(DictItem::Real).collect())
}

pub fn warm_up() {
    LazyLock::force(&CARD_BYTES);
}

/// Where the symbol goes: its module size and the top left corner of its first module.
fn qr_geometry(qr: &Matrix) -> (f32, f32, f32) {
    let x = STUB_CENTER - QR_BOX / 2.0;
    let module = QR_BOX / f32::from(qr.width + 2 * QUIET_ZONE);
    let origin_x = x + module * f32::from(QUIET_ZONE);
    let origin_y = QR_TOP - module * f32::from(QUIET_ZONE);
    (module, origin_x, origin_y)
}

/// The symbol as one path of `re` rectangles in module units (integers) under one `cm`,
/// filled once.
fn qr_bytes(qr: &Matrix, out: &mut Vec<u8>) {
    use std::io::Write;

    let (module, origin_x, origin_y) = qr_geometry(qr);
    let [r, g, b] = INK.map(|c| f32::from(c) / 255.0);
    let _ = write!(
        out,
        "q\n{r:.3} {g:.3} {b:.3} rg\n{module:.5} 0 0 {:.5} {origin_x:.3} {origin_y:.3} cm\n",
        -module
    );
    for rect in qr.rectangles() {
        for (index, value) in rect.into_iter().enumerate() {
            push_small_int(out, value);
            out.push(if index == 3 { b'\n' } else { b' ' });
        }
        out.extend_from_slice(b"re ");
    }
    out.extend_from_slice(b"f\nQ\n");
}

/// Appends `value` in decimal (module coordinates are below 1,000).
fn push_small_int(out: &mut Vec<u8>, value: u16) {
    if value >= 100 {
        out.push(b'0' + (value / 100 % 10) as u8);
    }
    if value >= 10 {
        out.push(b'0' + (value / 10 % 10) as u8);
    }
    out.push(b'0' + (value % 10) as u8);
}

#[derive(Default)]
struct Canvas {
    ops: Vec<Op>,
    text: Vec<Op>,
    regular: GlyphSet,
    bold: GlyphSet,
    font: Option<(Weight, f32)>,
    fill: Option<Rgb8>,
    tracking: f32,
}

fn color(rgb: Rgb8) -> Color {
    Color::Rgb(Rgb {
        r: f32::from(rgb[0]) / 255.0,
        g: f32::from(rgb[1]) / 255.0,
        b: f32::from(rgb[2]) / 255.0,
        icc_profile: None,
    })
}

fn rect(x: f32, y: f32, width: f32, height: f32) -> Rect {
    Rect {
        x: Pt(x),
        y: Pt(y),
        width: Pt(width),
        height: Pt(height),
        mode: Some(PaintMode::Fill),
        winding_order: Some(WindingOrder::NonZero),
    }
}

/// A path outline built from straight segments and circular arcs (cubic Béziers).
#[derive(Default)]
struct Outline {
    points: Vec<LinePoint>,
}

impl Outline {
    fn to(&mut self, x: f32, y: f32) {
        self.points.push(LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        });
    }

    fn control(&mut self, x: f32, y: f32) {
        self.points.push(LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: true,
        });
    }

    /// An arc around `(cx, cy)` from `start` degrees, sweeping `sweep` degrees (a multiple
    /// of 90; positive is counter-clockwise). Starts with a line to the arc's first point.
    fn arc(&mut self, cx: f32, cy: f32, r: f32, start: f32, sweep: f32) {
        const K: f32 = 0.552_284_8;
        let point = |deg: f32| {
            let (s, c) = deg.to_radians().sin_cos();
            (cx + r * c, cy + r * s)
        };
        let (x, y) = point(start);
        self.to(x, y);
        let quarters = (sweep / 90.0).abs().round() as i32;
        let step = 90.0 * sweep.signum();
        let mut angle = start;
        for _ in 0..quarters {
            let (a_sin, a_cos) = angle.to_radians().sin_cos();
            let (b_sin, b_cos) = (angle + step).to_radians().sin_cos();
            let dir = sweep.signum();
            let (x0, y0) = (cx + r * a_cos, cy + r * a_sin);
            let (x3, y3) = (cx + r * b_cos, cy + r * b_sin);
            self.control(x0 - dir * K * r * a_sin, y0 + dir * K * r * a_cos);
            self.control(x3 + dir * K * r * b_sin, y3 - dir * K * r * b_cos);
            self.to(x3, y3);
            angle += step;
        }
    }

    fn rounded_rect(x0: f32, y0: f32, x1: f32, y1: f32, r: f32) -> Self {
        let mut o = Outline::default();
        o.arc(x0 + r, y0 + r, r, 180.0, 90.0);
        o.arc(x1 - r, y0 + r, r, 270.0, 90.0);
        o.arc(x1 - r, y1 - r, r, 0.0, 90.0);
        o.arc(x0 + r, y1 - r, r, 90.0, 90.0);
        o
    }

    fn polygon(self, mode: PaintMode) -> Op {
        Op::DrawPolygon {
            polygon: Polygon {
                rings: vec![PolygonRing {
                    points: self.points,
                }],
                mode,
                winding_order: WindingOrder::NonZero,
            },
        }
    }
}

/// The card's outline: rounded corners and a half-circle notch at each end of the
/// perforation, counter-clockwise from the bottom left corner.
fn card_outline() -> Outline {
    let (x0, y0, x1, y1, r) = (CARD_LEFT, CARD_BOTTOM, CARD_RIGHT, CARD_TOP, CORNER);
    let mut o = Outline::default();
    o.arc(x0 + r, y0 + r, r, 180.0, 90.0);
    o.arc(STUB_X, y0, NOTCH, 180.0, -180.0);
    o.arc(x1 - r, y0 + r, r, 270.0, 90.0);
    o.arc(x1 - r, y1 - r, r, 0.0, 90.0);
    o.arc(STUB_X, y1, NOTCH, 0.0, -180.0);
    o.arc(x0 + r, y1 - r, r, 90.0, 90.0);
    o
}

impl Canvas {
    fn fill(&mut self, rgb: Rgb8) {
        self.ops.push(Op::SetFillColor { col: color(rgb) });
    }

    fn stroke(&mut self, rgb: Rgb8, width: f32) {
        self.ops.push(Op::SetOutlineColor { col: color(rgb) });
        self.ops.push(Op::SetOutlineThickness { pt: Pt(width) });
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32, rgb: Rgb8, width: f32) {
        self.stroke(rgb, width);
        self.ops.push(Op::DrawLine {
            line: printpdf::Line {
                points: vec![
                    LinePoint {
                        p: Point {
                            x: Pt(x0),
                            y: Pt(y),
                        },
                        bezier: false,
                    },
                    LinePoint {
                        p: Point {
                            x: Pt(x1),
                            y: Pt(y),
                        },
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
    }

    /// Card, header band, stub tint, perforation.
    fn card(&mut self) {
        self.ops.push(Op::SaveGraphicsState);
        self.ops.push(card_outline().polygon(PaintMode::Clip));
        self.fill(STUB_TINT);
        self.ops.push(Op::DrawRectangle {
            rectangle: rect(
                STUB_X,
                CARD_BOTTOM,
                CARD_RIGHT - STUB_X,
                BAND_BOTTOM - CARD_BOTTOM,
            ),
        });
        self.fill(NAVY);
        self.ops.push(Op::DrawRectangle {
            rectangle: rect(CARD_LEFT, BAND_BOTTOM, CARD_RIGHT - CARD_LEFT, BAND),
        });
        self.fill(ACCENT);
        self.ops.push(Op::DrawRectangle {
            rectangle: rect(CARD_LEFT, BAND_BOTTOM - 2.5, STUB_X - CARD_LEFT, 2.5),
        });
        self.ops.push(Op::RestoreGraphicsState);

        self.stroke(HAIRLINE, 0.8);
        self.ops.push(card_outline().polygon(PaintMode::Stroke));

        // Perforation: round dots, light on the band and grey below it.
        self.ops.push(Op::SaveGraphicsState);
        self.ops.push(Op::SetLineCapStyle {
            cap: printpdf::LineCapStyle::Round,
        });
        self.ops.push(Op::SetLineDashPattern {
            dash: LineDashPattern::new(0.0, &[0.0, 4.5]),
        });
        for (from, to, rgb) in [
            (
                CARD_BOTTOM + NOTCH + 3.0,
                BAND_BOTTOM - 3.0,
                [0xA8, 0xAF, 0xBD],
            ),
            (
                BAND_BOTTOM + 3.0,
                CARD_TOP - NOTCH - 3.0,
                [0x5B, 0x66, 0x82],
            ),
        ] {
            self.stroke(rgb, 1.6);
            self.ops.push(Op::DrawLine {
                line: printpdf::Line {
                    points: vec![
                        LinePoint {
                            p: Point {
                                x: Pt(STUB_X),
                                y: Pt(from),
                            },
                            bezier: false,
                        },
                        LinePoint {
                            p: Point {
                                x: Pt(STUB_X),
                                y: Pt(to),
                            },
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            });
        }
        self.ops.push(Op::RestoreGraphicsState);

        // The white square under the symbol: its quiet zone.
        let x = STUB_CENTER - QR_BOX / 2.0;
        let y = QR_TOP - QR_BOX;
        self.fill(WHITE);
        self.ops.push(
            Outline::rounded_rect(x, y, x + QR_BOX, y + QR_BOX, 6.0).polygon(PaintMode::Fill),
        );
    }

    /// The symbol, as printpdf ops: `re` rectangles or one polygon with a ring each.
    fn qr(&mut self, qr: &Matrix, polygon: bool) {
        let (module, origin_x, origin_y) = qr_geometry(qr);
        let rects = qr.rectangles();
        self.fill(INK);
        match polygon {
            false => {
                // Module grid: x right, y down, one unit per module; integers only.
                self.ops.push(Op::SaveGraphicsState);
                self.ops.push(Op::SetTransformationMatrix {
                    matrix: CurTransMat::Raw([module, 0.0, 0.0, -module, origin_x, origin_y]),
                });
                for [rx, ry, rw, rh] in rects {
                    self.ops.push(Op::Unknown {
                        key: "re".into(),
                        value: vec![
                            DictItem::Int(rx.into()),
                            DictItem::Int(ry.into()),
                            DictItem::Int(rw.into()),
                            DictItem::Int(rh.into()),
                        ],
                    });
                }
                self.ops.push(Op::Unknown {
                    key: "f".into(),
                    value: Vec::new(),
                });
                self.ops.push(Op::RestoreGraphicsState);
            }
            true => {
                let rings = rects
                    .into_iter()
                    .map(|[rx, ry, rw, rh]| {
                        let left = origin_x + module * f32::from(rx);
                        let right = origin_x + module * f32::from(rx + rw);
                        let top = origin_y - module * f32::from(ry);
                        let bottom = origin_y - module * f32::from(ry + rh);
                        PolygonRing {
                            points: [(left, top), (right, top), (right, bottom), (left, bottom)]
                                .into_iter()
                                .map(|(x, y)| LinePoint {
                                    p: Point { x: Pt(x), y: Pt(y) },
                                    bezier: false,
                                })
                                .collect(),
                        }
                    })
                    .collect();
                self.ops.push(Op::DrawPolygon {
                    polygon: Polygon {
                        rings,
                        mode: PaintMode::Fill,
                        winding_order: WindingOrder::NonZero,
                    },
                });
            }
        }
    }

    /// `raw` made drawable (see `Face::clean`) and cut to `max_width`.
    fn fit(&self, style: Style, raw: &str, max_width: f32) -> String {
        let face = style.weight.face();
        let clean = face.clean(raw);
        face.truncate(&clean, style.size, style.tracking, max_width, false)
    }

    fn width(&self, style: Style, text: &str) -> f32 {
        style.weight.face().width(text, style.size, style.tracking)
    }

    /// Draws `text` (already cleaned and fitted) with its left end at `x`.
    fn text(&mut self, style: Style, x: f32, y: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        let face = style.weight.face();
        match style.weight {
            Weight::Regular => self.regular.add(face, text),
            Weight::Bold => self.bold.add(face, text),
        }
        if self.font != Some((style.weight, style.size)) {
            let id = match style.weight {
                Weight::Regular => crate::REGULAR_ID,
                Weight::Bold => crate::BOLD_ID,
            };
            self.text.push(Op::SetFont {
                font: PdfFontHandle::External(FontId(id.into())),
                size: Pt(style.size),
            });
            self.font = Some((style.weight, style.size));
        }
        if self.fill != Some(style.color) {
            self.text.push(Op::SetFillColor {
                col: color(style.color),
            });
            self.fill = Some(style.color);
        }
        if self.tracking != style.tracking {
            self.text.push(Op::SetCharacterSpacing {
                multiplier: style.tracking,
            });
            self.tracking = style.tracking;
        }
        self.text.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(x), Pt(y)),
        });
        self.text.push(Op::ShowText {
            items: vec![TextItem::Text(crate::bidi::visual(text).into_owned())],
        });
    }

    fn centered(&mut self, style: Style, center: f32, y: f32, text: &str) {
        let x = center - self.width(style, text) / 2.0;
        self.text(style, x, y, text);
    }

    /// A small-caps style label over a value, returning the value's baseline.
    fn labelled(&mut self, label: &str, style: Style, x: f32, top: f32, value: &str, width: f32) {
        self.text(LABEL, x, top, label);
        let value = self.fit(style, value, width);
        self.text(style, x, top - style.size - 4.5, &value);
    }

    fn text_block(&mut self, ticket: &TicketPdf<'_>) {
        // Band: organizer on the left, "ADMIT ONE" over the stub.
        let organizer = Style {
            weight: Weight::Bold,
            size: 8.0,
            color: BAND_TEXT,
            tracking: 1.2,
        };
        let organizer_text = self.fit(organizer, &ticket.organizer.to_uppercase(), MAIN_WIDTH);
        self.text(
            organizer,
            LEFT,
            BAND_BOTTOM + BAND / 2.0 - 3.0,
            &organizer_text,
        );
        let admit = Style {
            weight: Weight::Bold,
            size: 11.0,
            color: WHITE,
            tracking: 2.2,
        };
        // Tracking adds space after the last letter too; centre the letters themselves.
        self.centered(
            admit,
            STUB_CENTER + admit.tracking / 2.0,
            BAND_BOTTOM + BAND / 2.0 - 4.0,
            "ADMIT ONE",
        );

        // Title: bold, up to two lines, shrinking before it truncates.
        let title_face = Weight::Bold.face();
        let title = title_face.clean(ticket.event_title);
        let mut chosen = None;
        for size in [20.0, 18.0, 16.5, 15.0] {
            let (lines, fits) = title_face.wrap(&title, size, MAIN_WIDTH, 2);
            let done = fits || size == 15.0;
            chosen = Some((size, lines));
            if done {
                break;
            }
        }
        let (size, lines) = chosen.unwrap_or_default();
        let title_style = Style {
            weight: Weight::Bold,
            size,
            color: INK,
            tracking: 0.0,
        };

        // When and where: the date in the accent colour, the venue below it. A start and an end
        // on another day do not fit one line: the end goes on a second, and the venue keeps one.
        let date_style = Style {
            weight: Weight::Bold,
            size: 11.0,
            color: ACCENT,
            tracking: 0.0,
        };
        let when = ticket.when.to_string();
        let dates = match ticket.when.end() {
            Some(end) if self.width(date_style, &when) > MAIN_WIDTH => {
                vec![
                    self.fit(date_style, &ticket.when.start().to_string(), MAIN_WIDTH),
                    self.fit(date_style, &format!("– {end}"), MAIN_WIDTH),
                ]
            }
            _ => vec![self.fit(date_style, &when, MAIN_WIDTH)],
        };
        let venue_style = Style {
            weight: Weight::Regular,
            size: 10.0,
            color: INK,
            tracking: 0.0,
        };
        let venue_face = venue_style.weight.face();
        let venue = venue_face.clean(ticket.venue);
        let venue_line_limit = 3 - dates.len();
        let (venue_lines, _) =
            venue_face.wrap(&venue, venue_style.size, MAIN_WIDTH, venue_line_limit);

        // The block, centred between the band and the attendee rule: from the title's cap
        // height to the venue's descenders.
        let title_step = size * 1.18;
        let date_drop = title_step + 6.0;
        let venue_step = 15.0;
        let date_step = 14.0;
        let depth = title_step * (lines.len().max(1) - 1) as f32
            + date_drop
            + date_step * (dates.len() - 1) as f32
            + venue_step * venue_lines.len() as f32;
        let height = 0.73 * size + depth + 3.0;
        let (region_top, region_bottom) = (BAND_BOTTOM - 2.5, ATTENDEE_RULE);
        let mut y =
            region_top - ((region_top - region_bottom - height) / 2.0).max(8.0) - 0.73 * size;
        for (index, line) in lines.iter().enumerate() {
            if index > 0 {
                y -= title_step;
            }
            self.text(title_style, LEFT, y, line);
        }
        y -= date_drop;
        for (index, line) in dates.iter().enumerate() {
            if index > 0 {
                y -= date_step;
            }
            self.text(date_style, LEFT, y, line);
        }
        for line in &venue_lines {
            y -= venue_step;
            self.text(venue_style, LEFT, y, line);
        }

        // Attendee, then price and ticket number, then the footer.
        let attendee_top = ATTENDEE_RULE - 11.0;
        self.hline(LEFT, LEFT + MAIN_WIDTH, ATTENDEE_RULE, HAIRLINE, 0.6);
        self.text(LABEL, LEFT, attendee_top, "ATTENDEE");
        let name_style = Style {
            weight: Weight::Bold,
            size: 13.0,
            color: INK,
            tracking: 0.0,
        };
        let name = self.fit(name_style, ticket.attendee_name, MAIN_WIDTH);
        self.text(name_style, LEFT, attendee_top - 17.0, &name);
        let email_style = Style {
            weight: Weight::Regular,
            size: 8.5,
            color: MUTED,
            tracking: 0.0,
        };
        let email = self.fit(email_style, ticket.attendee_email, MAIN_WIDTH);
        self.text(email_style, LEFT, attendee_top - 30.0, &email);

        let row_top = 62.0;
        let value_style = Style {
            weight: Weight::Bold,
            size: 11.0,
            color: INK,
            tracking: 0.0,
        };
        let price = if ticket.price.is_free() {
            "Free".to_owned()
        } else {
            ticket.price.to_string()
        };
        let price = match ticket.ticket_type {
            Some(ticket_type) => format!("{ticket_type} · {price}"),
            None => price,
        };
        let column = MAIN_WIDTH / 2.0;
        self.labelled("PRICE", value_style, LEFT, row_top, &price, column - 8.0);
        let number = short_ticket_id(&ticket.ticket_id);
        self.labelled(
            "TICKET NO.",
            value_style,
            LEFT + column,
            row_top,
            &number,
            column,
        );

        let footer = Style {
            weight: Weight::Regular,
            size: 6.8,
            color: MUTED,
            tracking: 0.0,
        };
        self.hline(LEFT, LEFT + MAIN_WIDTH, 34.0, HAIRLINE, 0.6);
        self.text(
            footer,
            LEFT,
            CARD_BOTTOM + 13.0,
            "Show this QR code at the entrance. Each ticket admits once.",
        );

        // Stub, under the symbol: the number again and the date, for the door staff.
        let stub_number = Style {
            weight: Weight::Bold,
            size: 10.0,
            color: INK,
            tracking: 1.0,
        };
        let below_qr = QR_TOP - QR_BOX;
        self.centered(
            LABEL,
            STUB_CENTER + LABEL.tracking / 2.0,
            below_qr - 16.0,
            "TICKET NO.",
        );
        self.centered(
            stub_number,
            STUB_CENTER + stub_number.tracking / 2.0,
            below_qr - 30.0,
            &number,
        );
        let stub_date = Style {
            weight: Weight::Regular,
            size: 7.0,
            color: MUTED,
            tracking: 0.0,
        };
        let short_when = self.fit(
            stub_date,
            &ticket.when.start().to_string(),
            STUB_WIDTH - 16.0,
        );
        self.centered(stub_date, STUB_CENTER, below_qr - 44.0, &short_when);
    }

    fn finish(mut self) -> Page {
        self.ops.push(Op::StartTextSection);
        self.ops.append(&mut self.text);
        self.ops.push(Op::EndTextSection);
        Page {
            ops: self.ops,
            regular: self.regular,
            bold: self.bold,
            form: None,
        }
    }
}
