//! The embedded DejaVu Sans faces: parsed once per process, measured with their own advances,
//! and subset per document so each PDF carries only the glyphs it shows.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use printpdf::{FontMetrics, FontType, ParsedFont, PdfFontMetricsStub};

use crate::subset;

static REGULAR_TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");

/// Shown in place of a character the face has no glyph for (CJK, emoji, ...).
const REPLACEMENT: char = '\u{FFFD}';
const ELLIPSIS: char = '\u{2026}';

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    Regular,
    Bold,
}

impl Weight {
    pub fn face(self) -> &'static Face {
        match self {
            Weight::Regular => &REGULAR,
            Weight::Bold => &BOLD,
        }
    }
}

static REGULAR: LazyLock<Face> =
    LazyLock::new(|| Face::parse(REGULAR_TTF, "DejaVuSans").expect("bundled font parses"));
static BOLD: LazyLock<Face> =
    LazyLock::new(|| Face::parse(BOLD_TTF, "DejaVuSans-Bold").expect("bundled font parses"));

/// Parses both faces now, so the first ticket does not pay for it.
pub fn warm_up() {
    LazyLock::force(&REGULAR);
    LazyLock::force(&BOLD);
}

/// One TrueType face, parsed once. Character lookups and advances come from printpdf's own
/// parser (allsorts underneath, so no second font parser is linked); the raw tables stay in the
/// binary (`include_bytes!`) and are sliced by the subsetter.
pub struct Face {
    pub(crate) data: &'static [u8],
    pub(crate) postscript_name: &'static str,
    /// Glyph of each Basic Multilingual Plane character (0: none), indexed directly.
    bmp: Vec<u16>,
    cmap: BTreeMap<u32, u16>,
    advances: Vec<u16>,
    pub(crate) units_per_em: u16,
    pub(crate) metrics: FontMetrics,
    pub(crate) pdf_metrics: PdfFontMetricsStub,
    pub(crate) tables: subset::Tables,
    /// The subsets' `name` table.
    pub(crate) name_table: Vec<u8>,
    replacement: char,
    ellipsis: Option<u16>,
}

impl Face {
    fn parse(data: &'static [u8], postscript_name: &'static str) -> Option<Self> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(data, 0, &mut warnings)?;
        let tables = subset::Tables::read(data)?;
        let advances = (0..tables.num_glyphs)
            .map(|gid| parsed.glyph_widths.get(&gid).copied().unwrap_or(0))
            .collect();
        let mut bmp = vec![0u16; 0x1_0000];
        for (&c, &gid) in parsed.codepoint_to_glyph.range(..0x1_0000) {
            bmp[c as usize] = gid;
        }
        let mut face = Face {
            data,
            postscript_name,
            bmp,
            cmap: parsed.codepoint_to_glyph,
            advances,
            units_per_em: parsed.units_per_em.max(1),
            metrics: parsed.font_metrics,
            pdf_metrics: parsed.pdf_font_metrics,
            tables,
            name_table: subset::name_table(postscript_name),
            replacement: '?',
            ellipsis: None,
        };
        if face.glyph(REPLACEMENT).is_some() {
            face.replacement = REPLACEMENT;
        }
        face.ellipsis = face.glyph(ELLIPSIS);
        Some(face)
    }

    /// The glyph for `c`, or `None` when the face has none (glyph 0 is `.notdef`).
    pub fn glyph(&self, c: char) -> Option<u16> {
        let gid = match self.bmp.get(c as usize) {
            Some(&gid) => gid,
            None => self.cmap.get(&u32::from(c)).copied().unwrap_or(0),
        };
        (gid != 0).then_some(gid)
    }

    pub fn advance(&self, gid: u16) -> u16 {
        self.advances.get(usize::from(gid)).copied().unwrap_or(0)
    }

    /// Width of `text` at `size` points, with `tracking` points added after each character.
    /// Text must be [`Face::clean`]ed first; characters without a glyph count as zero.
    pub fn width(&self, text: &str, size: f32, tracking: f32) -> f32 {
        text.chars()
            .map(|c| self.char_width(c, size, tracking))
            .sum()
    }

    fn char_width(&self, c: char, size: f32, tracking: f32) -> f32 {
        self.glyph(c).map_or(0.0, |gid| {
            f32::from(self.advance(gid)) * size / f32::from(self.units_per_em) + tracking
        })
    }

    /// Makes arbitrary input drawable on one line: control characters and line breaks become
    /// spaces, runs of white space collapse, invisible format characters (bidi controls,
    /// zero-width joiners, variation selectors) are dropped, and every character the face has
    /// no glyph for is replaced by a visible U+FFFD (or `?`).
    pub fn clean(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pending_space = false;
        for c in text.chars() {
            if c.is_control() || c.is_whitespace() {
                pending_space = !out.is_empty();
                continue;
            }
            if is_invisible_format(c) {
                continue;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(if self.glyph(c).is_some() {
                c
            } else {
                self.replacement
            });
        }
        out
    }

    /// `text` cut to fit `max_width`, ending in an ellipsis when cut. With `at_word`, the cut
    /// goes back to the last space when that keeps most of the line.
    pub fn truncate(
        &self,
        text: &str,
        size: f32,
        tracking: f32,
        max_width: f32,
        at_word: bool,
    ) -> String {
        if self.width(text, size, tracking) <= max_width {
            return text.to_owned();
        }
        let ellipsis = if self.ellipsis.is_some() {
            "\u{2026}"
        } else {
            "..."
        };
        let mut used = self.width(ellipsis, size, tracking);
        let mut end = 0;
        let mut last_space = None;
        for (index, c) in text.char_indices() {
            let next = used + self.char_width(c, size, tracking);
            if next > max_width {
                break;
            }
            if c == ' ' {
                last_space = Some((index, used));
            }
            used = next;
            end = index + c.len_utf8();
        }
        if at_word
            && let Some((space, width_before)) = last_space
            && width_before >= 0.6 * used
        {
            end = space;
        }
        let mut cut = text[..end].trim_end().to_owned();
        cut.push_str(ellipsis);
        cut
    }

    /// Greedy word wrap into at most `max_lines` lines; the last line is truncated with an
    /// ellipsis when text remains. Words longer than a line are broken between characters.
    /// Returns the lines and whether everything fit.
    pub fn wrap(
        &self,
        text: &str,
        size: f32,
        max_width: f32,
        max_lines: usize,
    ) -> (Vec<String>, bool) {
        let mut lines = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() && lines.len() + 1 < max_lines {
            if self.width(rest, size, 0.0) <= max_width {
                break;
            }
            let mut used = 0.0;
            let mut fit_end = 0; // end of the longest prefix that fits
            let mut break_at = None; // last space inside that prefix
            for (index, c) in rest.char_indices() {
                used += self.char_width(c, size, 0.0);
                if used > max_width {
                    break;
                }
                // Break at spaces, but keep a dash with the word before it.
                if c == ' ' && !rest[index + 1..].starts_with(['\u{2014}', '\u{2013}', '-']) {
                    break_at = Some(index);
                }
                fit_end = index + c.len_utf8();
            }
            if fit_end == 0 {
                // Not even one character fits: give up on wrapping.
                break;
            }
            let space_follows = rest[fit_end..].starts_with(' ')
                && !rest[fit_end + 1..].starts_with(['\u{2014}', '\u{2013}', '-']);
            let end = if space_follows {
                fit_end
            } else {
                break_at.filter(|&at| at > 0).unwrap_or(fit_end)
            };
            lines.push(rest[..end].trim_end().to_owned());
            rest = rest[end..].trim_start();
        }
        if rest.is_empty() {
            return (lines, true);
        }
        let fits = self.width(rest, size, 0.0) <= max_width;
        lines.push(self.truncate(rest, size, 0.0, max_width, true));
        (lines, fits)
    }
}

/// Zero-width characters that only steer shaping or direction. Drawing a substitute for them
/// would put a box where the author saw nothing.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// The characters one document draws in one face, with their glyphs.
#[derive(Default)]
pub struct GlyphSet {
    chars: Vec<(char, u16)>,
}

impl GlyphSet {
    pub fn add(&mut self, face: &Face, text: &str) {
        self.chars
            .extend(text.chars().filter_map(|c| Some((c, face.glyph(c)?))));
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// A font holding exactly these characters' glyphs, renumbered, ready for
    /// `PdfDocument` resources. printpdf embeds what it is given as is (without its
    /// `text_layout` feature it has no subsetter), so this is where the size is saved.
    pub fn subset_font(&self, face: &Face) -> ParsedFont {
        let mut chars = self.chars.clone();
        chars.sort_unstable();
        chars.dedup();
        let subset = subset::subset(face.data, &face.tables, &face.name_table, &chars);
        ParsedFont {
            original_bytes: subset.bytes,
            font_index: 0,
            font_name: Some(format!("{}+{}", subset.tag, face.postscript_name)),
            codepoint_to_glyph: subset.cmap,
            glyph_widths: subset.advances,
            units_per_em: face.units_per_em,
            font_metrics: face.metrics.clone(),
            font_type: FontType::TrueType,
            pdf_font_metrics: face.pdf_metrics.clone(),
        }
    }

    /// The whole face, as printpdf would embed it: for the benchmark's comparison only.
    pub fn whole_font(&self, face: &Face) -> ParsedFont {
        ParsedFont {
            original_bytes: face.data.to_vec(),
            font_index: 0,
            font_name: Some(face.postscript_name.to_owned()),
            codepoint_to_glyph: face.cmap.clone(),
            glyph_widths: (0..face.tables.num_glyphs)
                .map(|gid| (gid, face.advance(gid)))
                .collect(),
            units_per_em: face.units_per_em,
            font_metrics: face.metrics.clone(),
            font_type: FontType::TrueType,
            pdf_font_metrics: face.pdf_metrics.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subset::checksum;

    #[test]
    fn a_subset_is_small_and_parses_back_with_the_same_metrics() {
        for weight in [Weight::Regular, Weight::Bold] {
            let face = weight.face();
            let text = face.clean("Zoë Ångström — 149.00 EUR ₹ Kongresshaus Zürich 東京");
            let mut set = GlyphSet::default();
            set.add(face, &text);
            let font = set.subset_font(face);
            assert!(
                font.original_bytes.len() < 20_000,
                "{}",
                font.original_bytes.len()
            );

            let mut warnings = Vec::new();
            let mut reparsed = ParsedFont::from_bytes(&font.original_bytes, 0, &mut warnings)
                .expect("the subset parses");
            // (The closing 0xFFFF segment of a format 4 cmap maps to .notdef.)
            reparsed.codepoint_to_glyph.retain(|_, gid| *gid != 0);
            assert_eq!(reparsed.codepoint_to_glyph, font.codepoint_to_glyph);
            for c in text.chars() {
                let new = font.codepoint_to_glyph[&u32::from(c)];
                let old = face.glyph(c).unwrap();
                assert_eq!(reparsed.glyph_widths[&new], face.advance(old), "{c}");
            }
            assert_eq!(checksum(&font.original_bytes), 0xB1B0_AFBA);
        }
    }

    #[test]
    fn composite_glyphs_bring_their_components() {
        let face = Weight::Regular.face();
        let mut set = GlyphSet::default();
        set.add(face, "é"); // a composite in DejaVu Sans: e + acute
        let font = set.subset_font(face);
        // .notdef, é, and its components.
        assert!(font.glyph_widths.len() >= 3, "{:?}", font.glyph_widths);
    }

    #[test]
    fn covers_latin_and_the_rupee_but_not_cjk_or_emoji() {
        let face = Weight::Regular.face();
        for c in ['é', 'ü', 'ß', 'Å', 'ł', '₹', '€', '…'] {
            assert!(face.glyph(c).is_some(), "{c}");
        }
        assert_eq!(
            face.clean("東京 🎟\u{FE0F} ₹"),
            "\u{FFFD}\u{FFFD} \u{FFFD} ₹"
        );
        assert_eq!(face.clean("  a\n\tb\u{0}c\u{202E}d  "), "a b cd");
    }

    #[test]
    fn truncates_with_an_ellipsis_to_the_width() {
        let face = Weight::Bold.face();
        let long = "Kongresshaus Zürich ".repeat(20);
        for (tracking, at_word) in [(0.0, false), (1.5, false), (0.0, true)] {
            let cut = face.truncate(&long, 10.0, tracking, 100.0, at_word);
            assert!(cut.ends_with('…'), "{cut}");
            assert!(cut.len() > 6, "{cut}");
            assert!(face.width(&cut, 10.0, tracking) <= 100.0, "{cut}");
        }
        assert_eq!(face.truncate("short", 10.0, 0.0, 100.0, false), "short");
        assert_eq!(
            face.truncate("Kongresshaus Zürich Zürich", 10.0, 0.0, 100.0, true),
            "Kongresshaus…"
        );
    }

    #[test]
    fn wraps_on_spaces_and_breaks_long_words() {
        let face = Weight::Regular.face();
        let (lines, fits) = face.wrap("RustConf Europe 2026 Workshops and Talks", 12.0, 120.0, 3);
        assert!(fits, "{lines:?}");
        assert!(lines.len() > 1);
        assert!(
            lines
                .iter()
                .all(|line| face.width(line, 12.0, 0.0) <= 120.0)
        );
        let (lines, fits) = face.wrap(&"x".repeat(500), 12.0, 120.0, 2);
        assert!(!fits);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
    }
}
