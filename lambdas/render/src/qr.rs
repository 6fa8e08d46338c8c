//! The ticket code as a QR symbol, and as few rectangles as draw it.
//!
//! qrcode 0.14 does the encoding (segment modes, error correction, module placement); the
//! mask is chosen here, on bit rows. qrcode's own mask choice (`QrCode::new`) scores the
//! eight candidates with per-module allocations and took 0.7 ms of a 1.3 ms ticket; this
//! scores them by the same rules in about 1 µs each.

use std::sync::LazyLock;

use qrcode::canvas::{Canvas, MaskPattern, Module};
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, Version};

/// Error correction level M: recovers about 15% damage and keeps a 160-character code at
/// version 7 (45 x 45 modules) in alphanumeric mode (version 9 in byte mode).
pub const EC_LEVEL: EcLevel = EcLevel::M;
/// Light modules around the symbol, as the QR specification requires.
pub const QUIET_ZONE: u16 = 4;
/// The largest symbol the ticket prints: 61 x 61 modules, 0.63 mm each in the 44 mm square.
/// Anything denser would not scan reliably from paper.
pub const MAX_VERSION: i16 = 11;

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

#[derive(Debug, PartialEq, Eq)]
pub enum EncodeError {
    Qr(QrError),
    /// The code needs a symbol above [`MAX_VERSION`].
    TooLong(i16),
}

/// A symbol: one bit mask per row, bit `x` for column `x`, 1 for dark.
pub struct Matrix {
    pub width: u16,
    pub version: i16,
    rows: Vec<u64>,
}

impl Matrix {
    /// Encodes `code`. qrcode picks the segment modes itself: an upper-case base32 code with
    /// `.` separators is all alphanumeric (0-9 A-Z space $%*+-./:), 5.5 bits per character
    /// against 8 in byte mode. The mask is the one with the lowest penalty (ISO/IEC 18004
    /// 7.8.3), as the specification asks.
    pub fn encode(code: &str) -> Result<Self, EncodeError> {
        let bits = qrcode::bits::encode_auto(code.as_bytes(), EC_LEVEL).map_err(EncodeError::Qr)?;
        let version = bits.version();
        let (Version::Normal(number) | Version::Micro(number)) = version;
        if number > MAX_VERSION || matches!(version, Version::Micro(_)) {
            return Err(EncodeError::TooLong(number));
        }
        let width = version.width() as usize;
        let (blocks, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, EC_LEVEL)
            .map_err(EncodeError::Qr)?;
        let mut canvas = Canvas::new(version, EC_LEVEL);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&blocks, &ec);
        let unmasked = Unmasked::of(&canvas, width);

        let mut best: Option<(u32, [u64; 64])> = None;
        for mask in MASKS {
            let rows = unmasked.masked(mask);
            let score = penalty(&rows[..width], width);
            if best.is_none_or(|(lowest, _)| score < lowest) {
                best = Some((score, rows));
            }
        }
        let (_, rows) = best.expect("eight masks were scored");
        Ok(Matrix {
            width: width as u16,
            version: number,
            rows: rows[..width].to_vec(),
        })
    }

    #[cfg(test)]
    pub fn is_dark(&self, x: u16, y: u16) -> bool {
        self.rows[usize::from(y)] >> x & 1 == 1
    }

    /// Rectangles `[x, y, width, height]` in modules, covering exactly the dark modules:
    /// each row's dark runs, a run merged with identical runs directly below it. A version 7
    /// symbol has ~1,000 dark modules; this draws them with ~450 rectangles.
    pub fn rectangles(&self) -> Vec<[u16; 4]> {
        let mut done: Vec<[u16; 4]> = Vec::with_capacity(512);
        // Rectangles still growing downwards.
        let mut open: Vec<[u16; 4]> = Vec::with_capacity(32);
        let mut still_open: Vec<[u16; 4]> = Vec::with_capacity(32);
        for (y, &row) in self.rows.iter().enumerate() {
            let mut rest = row;
            while rest != 0 {
                let start = rest.trailing_zeros();
                let length = (!(rest >> start)).trailing_zeros(); // < 64: width <= 61
                rest &= !(((1u64 << length) - 1) << start);
                let (start, length) = (start as u16, length as u16);
                match open.iter().position(|r| r[0] == start && r[2] == length) {
                    Some(index) => {
                        let mut rect = open.swap_remove(index);
                        rect[3] += 1;
                        still_open.push(rect);
                    }
                    None => still_open.push([start, y as u16, length, 1]),
                }
            }
            done.append(&mut open);
            std::mem::swap(&mut open, &mut still_open);
        }
        done.append(&mut open);
        done
    }
}

/// The symbol before masking: modules as bit rows, and which are function patterns
/// (finders, timing, alignment, format and version areas), which masks leave alone.
struct Unmasked {
    width: usize,
    dark: [u64; 64],
    function: [u64; 64],
}

impl Unmasked {
    fn of(canvas: &Canvas, width: usize) -> Self {
        let mut rows = Unmasked {
            width,
            dark: [0; 64],
            function: [0; 64],
        };
        for y in 0..width {
            for x in 0..width {
                let (dark, function) = match canvas.get(x as i16, y as i16) {
                    Module::Masked(color) => (color == Color::Dark, true),
                    Module::Unmasked(color) => (color == Color::Dark, false),
                    Module::Empty => (false, false),
                };
                rows.dark[y] |= u64::from(dark) << x;
                rows.function[y] |= u64::from(function) << x;
            }
        }
        rows
    }

    /// The data modules XOR-ed with `mask`, and the format information naming it drawn:
    /// what qrcode's `Canvas::apply_mask` makes, on bits.
    fn masked(&self, mask: MaskPattern) -> [u64; 64] {
        let w = self.width;
        let patterns = &MASK_ROWS[mask as usize];
        let columns = u64::MAX >> (64 - w);
        let mut dark = [0u64; 64];
        for y in 0..w {
            dark[y] = self.dark[y] ^ (patterns[y % 12] & !self.function[y] & columns);
        }

        // Format information: EC level and mask, BCH(15,5) protected, XOR 0x5412, drawn
        // twice, most significant bit first, as qrcode draws it.
        let info = format_info(EC_LEVEL, mask as u32);
        let at = |c: i32| {
            if c < 0 {
                (c + w as i32) as usize
            } else {
                c as usize
            }
        };
        let mut put = |x: i32, y: i32, on: bool| {
            let (x, y) = (at(x), at(y));
            dark[y] = (dark[y] & !(1 << x)) | (u64::from(on) << x);
        };
        for (index, (main, side)) in FORMAT_MAIN.iter().zip(FORMAT_SIDE.iter()).enumerate() {
            let on = info & (1 << (14 - index)) != 0;
            put(main.0, main.1, on);
            put(side.0, side.1, on);
        }
        put(8, -8, true); // the dark module
        dark
    }
}

/// Each mask's modules to invert, as rows: every mask repeats after 12 rows (and 6
/// columns), so 12 rows of 64 columns per mask cover every symbol up to 64 modules wide.
static MASK_ROWS: LazyLock<[[u64; 12]; 8]> = LazyLock::new(|| {
    let mut table = [[0u64; 12]; 8];
    for (mask, rows) in table.iter_mut().enumerate() {
        for (y, row) in rows.iter_mut().enumerate() {
            for x in 0..64 {
                *row |= u64::from(inverts(mask, x, y as u32)) << x;
            }
        }
    }
    table
});

/// Whether mask `mask` inverts the module in column `x`, row `y`: the specification's
/// formulas as written (and as qrcode's `mask_functions` have them).
#[allow(clippy::manual_is_multiple_of)]
fn inverts(mask: usize, x: u32, y: u32) -> bool {
    match mask {
        0 => (x + y) % 2 == 0,
        1 => y % 2 == 0,
        2 => x % 3 == 0,
        3 => (x + y) % 3 == 0,
        4 => (y / 2 + x / 3) % 2 == 0,
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3) % 2 == 0,
        _ => ((x + y) % 2 + (x * y) % 3) % 2 == 0,
    }
}

pub fn warm_up() {
    LazyLock::force(&MASK_ROWS);
}

/// Where the 15 format bits go, most significant first (negative: from the far edge).
#[rustfmt::skip]
const FORMAT_MAIN: [(i32, i32); 15] = [
    (0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8),
    (8, 7), (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0),
];
#[rustfmt::skip]
const FORMAT_SIDE: [(i32, i32); 15] = [
    (8, -1), (8, -2), (8, -3), (8, -4), (8, -5), (8, -6), (8, -7),
    (-8, 8), (-7, 8), (-6, 8), (-5, 8), (-4, 8), (-3, 8), (-2, 8), (-1, 8),
];

fn format_info(ec: EcLevel, mask: u32) -> u32 {
    let ec_bits = match ec {
        EcLevel::L => 0b01,
        EcLevel::M => 0b00,
        EcLevel::Q => 0b11,
        EcLevel::H => 0b10,
    };
    let data = ec_bits << 3 | mask;
    let mut remainder = data;
    for _ in 0..10 {
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537);
    }
    ((data << 10) | remainder) ^ 0x5412
}

/// The 64 x 64 bit matrix transposed (Hacker's Delight, 7-3): rows become columns.
fn transpose(rows: &[u64]) -> [u64; 64] {
    let mut m = [0u64; 64];
    m[..rows.len()].copy_from_slice(rows);
    let mut j = 32;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((m[k] >> j) ^ m[k + j]) & mask;
            m[k] ^= t << j;
            m[k + j] ^= t;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        mask ^= mask << j;
    }
    m
}

/// The mask penalty of ISO/IEC 18004 (7.8.3), lower is better: runs of five or more
/// modules of one colour (3 + run - 5 each), 2 x 2 blocks of one colour (3 each),
/// finder-like 1:1:3:1:1 patterns with four light modules on a side (40 each; outside the
/// symbol counts as light), and dark modules away from half (10 per 5 %).
fn penalty(rows: &[u64], width: usize) -> u32 {
    let full = u64::MAX >> (64 - width);
    let columns = transpose(rows);
    let mut score = 0;
    for &line in rows.iter().chain(&columns[..width]) {
        score += line_penalty(line, full);
    }
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let same_vertically = !(a ^ b);
        let same_horizontally = !(a ^ (a >> 1));
        let blocks = same_vertically & (same_vertically >> 1) & same_horizontally & (full >> 1);
        score += 3 * blocks.count_ones();
    }
    let dark: u32 = rows.iter().map(|row| row.count_ones()).sum();
    let total = (width * width) as u32;
    score + 10 * ((20 * dark).abs_diff(10 * total) / total)
}

/// Runs and finder-like patterns in one row or column (bit i = module i, 1 = dark).
fn line_penalty(line: u64, full: u64) -> u32 {
    // Module i equals module i + 1.
    let equal = !(line ^ (line >> 1)) & (full >> 1);
    // Modules i..i+5 all equal; a run of n >= 5 has n - 4 of these, and scores n - 2.
    let five = equal & (equal >> 1) & (equal >> 2) & (equal >> 3);
    let run_starts = five & !(five << 1);
    let mut score = five.count_ones() + 2 * run_starts.count_ones();

    // dark light dark dark dark light dark, starting at bit i; in 128 bits so that the
    // light beyond the symbol's end (the 1s of `!line`) reaches past bit 63.
    let line = u128::from(line);
    let light = !line;
    let pattern = line
        & (light >> 1)
        & (line >> 2)
        & (line >> 3)
        & (line >> 4)
        & (light >> 5)
        & (line >> 6)
        & (u128::from(full) >> 6);
    // Light modules i-4..i-1, with four light modules shifted in before the symbol.
    let before = (light << 4) | 0xF;
    let light_before = before & (before >> 1) & (before >> 2) & (before >> 3);
    let light_after = (light >> 7) & (light >> 8) & (light >> 9) & (light >> 10);
    score += 40 * (pattern & (light_before | light_after)).count_ones();
    score
}

#[cfg(test)]
mod tests {
    use qrcode::QrCode;
    use qrcode::bits::Bits;

    use super::*;

    fn code_like_a_ticket() -> String {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let body: String = (0..154u32)
            .map(|i| char::from(alphabet[(i * 7 + 3) as usize % 32]))
            .collect();
        format!("T1.K1.{body}")
    }

    #[test]
    fn alphanumeric_mode_makes_a_smaller_symbol_than_byte_mode() {
        let code = code_like_a_ticket();
        let auto = Matrix::encode(&code).unwrap();
        let mut byte_version = None;
        for v in 1..=40 {
            let mut bits = Bits::new(Version::Normal(v));
            if bits.push_byte_data(code.as_bytes()).is_ok()
                && bits.push_terminator(EC_LEVEL).is_ok()
            {
                byte_version = Some(v);
                break;
            }
        }
        assert_eq!(auto.version, 7, "160 alphanumeric characters at M");
        assert_eq!(byte_version, Some(9), "the same characters as bytes");
    }

    #[test]
    fn codes_too_long_for_the_ticket_are_refused() {
        let longest = (100..1000)
            .take_while(|&n| Matrix::encode(&"A".repeat(n)).is_ok())
            .last()
            .unwrap();
        assert_eq!(Matrix::encode(&"A".repeat(longest)).unwrap().version, 11);
        assert_eq!(
            Matrix::encode(&"A".repeat(longest + 1)).err(),
            Some(EncodeError::TooLong(12))
        );
    }

    #[test]
    fn rectangles_cover_exactly_the_dark_modules() {
        for code in [code_like_a_ticket(), "A".repeat(250), "T1.K1.SHORT".into()] {
            let matrix = Matrix::encode(&code).unwrap();
            let w = usize::from(matrix.width);
            let mut painted = vec![0u8; w * w];
            for [x, y, rw, rh] in matrix.rectangles() {
                for yy in y..y + rh {
                    for xx in x..x + rw {
                        painted[usize::from(yy) * w + usize::from(xx)] += 1;
                    }
                }
            }
            for y in 0..matrix.width {
                for x in 0..matrix.width {
                    let expected = u8::from(matrix.is_dark(x, y));
                    assert_eq!(painted[usize::from(y) * w + usize::from(x)], expected);
                }
            }
        }
    }

    /// The penalty rules written out module by module, as the specification states them.
    fn reference_penalty(dark: &[Vec<bool>]) -> u32 {
        let w = dark.len();
        let at = |x: usize, y: usize, transposed: bool| {
            if transposed { dark[x][y] } else { dark[y][x] }
        };
        let mut score = 0;
        for transposed in [false, true] {
            for a in 0..w {
                let line: Vec<bool> = (0..w).map(|b| at(b, a, transposed)).collect();
                let mut run = 1;
                for b in 1..=w {
                    if b < w && line[b] == line[b - 1] {
                        run += 1;
                    } else {
                        if run >= 5 {
                            score += 3 + run - 5;
                        }
                        run = 1;
                    }
                }
                let light = |i: isize| i < 0 || i >= w as isize || !line[i as usize];
                for b in 0..w.saturating_sub(6) {
                    let finder = [true, false, true, true, true, false, true];
                    if (0..7).all(|k| line[b + k] == finder[k]) {
                        let b = b as isize;
                        let before = (b - 4..b).all(light);
                        let after = (b + 7..b + 11).all(light);
                        if before || after {
                            score += 40;
                        }
                    }
                }
            }
        }
        for y in 0..w - 1 {
            for x in 0..w - 1 {
                let c = dark[y][x];
                if dark[y][x + 1] == c && dark[y + 1][x] == c && dark[y + 1][x + 1] == c {
                    score += 3;
                }
            }
        }
        let count = dark.iter().flatten().filter(|d| **d).count() as u32;
        let total = (w * w) as u32;
        score + 10 * ((20 * count).abs_diff(10 * total) / total)
    }

    #[test]
    fn penalties_match_the_rules_written_out() {
        // Pseudo-random grids of several sizes and densities, and real symbols.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for width in [5, 7, 11, 21, 45, 53, 57, 61] {
            for density in [1, 2, 3] {
                let rows: Vec<u64> = (0..width)
                    .map(|_| {
                        let mut row = next();
                        for _ in 1..density {
                            row &= next();
                        }
                        row & (u64::MAX >> (64 - width))
                    })
                    .collect();
                let grid: Vec<Vec<bool>> = rows
                    .iter()
                    .map(|row| (0..width).map(|x| row >> x & 1 == 1).collect())
                    .collect();
                assert_eq!(penalty(&rows, width), reference_penalty(&grid), "{width}");
            }
        }
        let matrix = Matrix::encode(&code_like_a_ticket()).unwrap();
        let w = usize::from(matrix.width);
        let grid: Vec<Vec<bool>> = (0..w)
            .map(|y| (0..w).map(|x| matrix.is_dark(x as u16, y as u16)).collect())
            .collect();
        assert_eq!(penalty(&matrix.rows, w), reference_penalty(&grid));
        // A 5 x 5 all-light square: ten runs of 5 (3 each), 16 blocks (3 each), 0 % dark.
        assert_eq!(penalty(&[0; 5], 5), 30 + 48 + 100);
    }

    /// The bit-row masking (and format information) equals qrcode's `apply_mask`, and the
    /// symbol qrcode would make with the chosen mask is ours.
    #[test]
    fn masks_match_qrcode() {
        for code in [code_like_a_ticket(), "T1.K1.SHORT".to_owned()] {
            let bits = qrcode::bits::encode_auto(code.as_bytes(), EC_LEVEL).unwrap();
            let version = bits.version();
            let width = version.width() as usize;
            let (blocks, ec) =
                qrcode::ec::construct_codewords(&bits.into_bytes(), version, EC_LEVEL).unwrap();
            let mut canvas = Canvas::new(version, EC_LEVEL);
            canvas.draw_all_functional_patterns();
            canvas.draw_data(&blocks, &ec);
            let unmasked = Unmasked::of(&canvas, width);
            for mask in MASKS {
                let mut theirs = canvas.clone();
                theirs.apply_mask(mask);
                let theirs: Vec<bool> = theirs
                    .into_colors()
                    .into_iter()
                    .map(|c| c == Color::Dark)
                    .collect();
                let ours = unmasked.masked(mask);
                let ours: Vec<bool> = (0..width * width)
                    .map(|i| ours[i / width] >> (i % width) & 1 == 1)
                    .collect();
                assert!(ours == theirs, "{mask:?}");
            }
        }
        // And a symbol qrcode makes by itself scans the same: same version and width.
        let theirs = QrCode::with_error_correction_level(code_like_a_ticket(), EC_LEVEL).unwrap();
        let ours = Matrix::encode(&code_like_a_ticket()).unwrap();
        assert_eq!(usize::from(ours.width), theirs.width());
    }
}
