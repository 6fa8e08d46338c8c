//! A small TrueType (`glyf`) subsetter for PDF embedding.
//!
//! printpdf 0.12 without its `text_layout` feature (which drags in a layout engine) embeds a
//! font program whole: 740 KB of DejaVu Sans per ticket, deflated on every save. A ticket shows
//! 40 to 80 distinct glyphs, so this keeps those (plus the components of composite glyphs),
//! renumbers them densely and writes a valid sfnt with the tables a PDF reader needs (`glyf`,
//! `loca`, `head`, `hhea`, `hmtx`, `maxp`) and a small `cmap`, `name` and `post` so strict
//! font loaders accept it too. Hinting (`cvt `, `fpgm`, `prep` and each glyph's
//! instructions) is left out. It copies bytes and rewrites a few fields; no outline is parsed.

use std::collections::BTreeMap;

/// Where the tables the subsetter needs live in the original font.
pub struct Tables {
    head: (usize, usize),
    hhea: (usize, usize),
    maxp: (usize, usize),
    hmtx: (usize, usize),
    loca: (usize, usize),
    glyf: (usize, usize),
    post: Option<(usize, usize)>,
    long_loca: bool,
    pub num_glyphs: u16,
    num_h_metrics: u16,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

impl Tables {
    pub fn read(data: &[u8]) -> Option<Self> {
        let count = usize::from(u16_at(data, 4)?);
        let mut found: BTreeMap<[u8; 4], (usize, usize)> = BTreeMap::new();
        for index in 0..count {
            let record = 12 + 16 * index;
            let tag: [u8; 4] = data.get(record..record + 4)?.try_into().ok()?;
            let offset = u32_at(data, record + 8)? as usize;
            let length = u32_at(data, record + 12)? as usize;
            data.get(offset..offset + length)?;
            found.insert(tag, (offset, length));
        }
        let head = *found.get(b"head")?;
        let hhea = *found.get(b"hhea")?;
        let maxp = *found.get(b"maxp")?;
        let num_glyphs = u16_at(data, maxp.0 + 4)?;
        let num_h_metrics = u16_at(data, hhea.0 + 34)?;
        let long_loca = u16_at(data, head.0 + 50)? == 1;
        let tables = Tables {
            head,
            hhea,
            maxp,
            hmtx: *found.get(b"hmtx")?,
            loca: *found.get(b"loca")?,
            glyf: *found.get(b"glyf")?,
            post: found.get(b"post").copied(),
            long_loca,
            num_glyphs,
            num_h_metrics,
        };
        // Every glyph's outline must be addressable.
        (0..=num_glyphs).try_for_each(|gid| tables.loca_entry(data, gid).map(drop))?;
        (num_h_metrics >= 1 && tables.hmtx.1 >= 4 * usize::from(num_h_metrics)).then_some(tables)
    }

    fn loca_entry(&self, data: &[u8], index: u16) -> Option<usize> {
        let index = usize::from(index);
        let offset = if self.long_loca {
            u32_at(data, self.loca.0 + 4 * index)? as usize
        } else {
            2 * usize::from(u16_at(data, self.loca.0 + 2 * index)?)
        };
        (offset <= self.glyf.1).then_some(offset)
    }

    fn glyph<'a>(&self, data: &'a [u8], gid: u16) -> &'a [u8] {
        let (Some(start), Some(end)) = (self.loca_entry(data, gid), self.loca_entry(data, gid + 1))
        else {
            return &[];
        };
        if start >= end {
            return &[];
        }
        &data[self.glyf.0 + start..self.glyf.0 + end]
    }

    /// Advance width and left side bearing.
    fn metrics(&self, data: &[u8], gid: u16) -> (u16, i16) {
        let long = usize::from(self.num_h_metrics);
        let gid = usize::from(gid);
        let base = self.hmtx.0;
        if gid < long {
            (
                u16_at(data, base + 4 * gid).unwrap_or(0),
                u16_at(data, base + 4 * gid + 2).unwrap_or(0) as i16,
            )
        } else {
            let advance = u16_at(data, base + 4 * (long - 1)).unwrap_or(0);
            let lsb = u16_at(data, base + 4 * long + 2 * (gid - long)).unwrap_or(0) as i16;
            (advance, lsb)
        }
    }
}

const ARG_1_AND_2_ARE_WORDS: u16 = 0x0001;
const WE_HAVE_A_SCALE: u16 = 0x0008;
const MORE_COMPONENTS: u16 = 0x0020;
const WE_HAVE_AN_X_AND_Y_SCALE: u16 = 0x0040;
const WE_HAVE_A_TWO_BY_TWO: u16 = 0x0080;
const WE_HAVE_INSTRUCTIONS: u16 = 0x0100;

/// The byte offsets of a composite glyph's component records (each starts with its flags,
/// then the component's glyph id), and where the records end. `None` for a simple glyph.
fn components(glyph: &[u8]) -> Option<(Vec<usize>, usize)> {
    if glyph.len() < 10 || (u16_at(glyph, 0)? as i16) >= 0 {
        return None;
    }
    let mut records = Vec::new();
    let mut at = 10;
    loop {
        let flags = u16_at(glyph, at)?;
        u16_at(glyph, at + 2)?;
        records.push(at);
        at += 4;
        at += if flags & ARG_1_AND_2_ARE_WORDS != 0 {
            4
        } else {
            2
        };
        if flags & WE_HAVE_A_SCALE != 0 {
            at += 2;
        } else if flags & WE_HAVE_AN_X_AND_Y_SCALE != 0 {
            at += 4;
        } else if flags & WE_HAVE_A_TWO_BY_TWO != 0 {
            at += 8;
        }
        if flags & MORE_COMPONENTS == 0 {
            return (at <= glyph.len()).then_some((records, at));
        }
    }
}

/// Appends `glyph` to `out` without its hinting instructions, component ids renumbered.
/// PDF viewers rasterise without the font's hinting (pdf.js, PDFium and poppler by default);
/// DejaVu's instructions are about a third of each outline.
fn write_glyph(glyph: &[u8], out: &mut Vec<u8>, new_id: impl Fn(u16) -> u16) {
    let start = out.len();
    if let Some((records, end)) = components(glyph) {
        out.extend_from_slice(&glyph[..end]);
        for at in records {
            let flags = u16_at(glyph, at).unwrap_or(0) & !WE_HAVE_INSTRUCTIONS;
            let id = new_id(u16_at(glyph, at + 2).unwrap_or(0));
            out[start + at..start + at + 2].copy_from_slice(&flags.to_be_bytes());
            out[start + at + 2..start + at + 4].copy_from_slice(&id.to_be_bytes());
        }
        return;
    }
    let contours = u16_at(glyph, 0).map_or(0, |n| n as i16);
    let at = 10 + 2 * usize::from(contours.max(0) as u16);
    match u16_at(glyph, at) {
        Some(length) if contours > 0 && at + 2 + usize::from(length) <= glyph.len() => {
            out.extend_from_slice(&glyph[..at]);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&glyph[at + 2 + usize::from(length)..]);
        }
        _ => out.extend_from_slice(glyph),
    }
}

pub struct Subset {
    pub bytes: Vec<u8>,
    /// Six upper-case letters naming this glyph selection (the PDF subset tag).
    pub tag: String,
    /// Unicode scalar value to new glyph id.
    pub cmap: BTreeMap<u32, u16>,
    /// New glyph id to advance width, in font units.
    pub advances: BTreeMap<u16, u16>,
}

/// The subset of `face` holding the glyphs of `chars` (character and original glyph id,
/// sorted by character, no duplicates).
pub fn subset(data: &[u8], tables: &Tables, name_table: &[u8], chars: &[(char, u16)]) -> Subset {
    // Glyph 0 (.notdef) must stay first; composites pull in their components.
    let mut keep: Vec<u16> = Vec::with_capacity(chars.len() + 8);
    keep.push(0);
    keep.extend(
        chars
            .iter()
            .map(|&(_, gid)| gid)
            .filter(|&gid| gid < tables.num_glyphs),
    );
    let mut next = 0;
    while next < keep.len() {
        let glyph = tables.glyph(data, keep[next]);
        if let Some((records, _)) = components(glyph) {
            for at in records {
                if let Some(component) = u16_at(glyph, at + 2)
                    && component < tables.num_glyphs
                    && !keep.contains(&component)
                {
                    keep.push(component);
                }
            }
        }
        next += 1;
    }
    keep.sort_unstable();
    keep.dedup();
    let new_id = |old: u16| keep.binary_search(&old).map_or(0, |index| index as u16);
    let count = keep.len() as u16;

    let mut glyf = Vec::new();
    let mut loca = Vec::with_capacity(4 * (keep.len() + 1));
    let mut hmtx = Vec::with_capacity(4 * keep.len());
    let mut advances = BTreeMap::new();
    for (index, &old) in keep.iter().enumerate() {
        loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());
        write_glyph(tables.glyph(data, old), &mut glyf, new_id);
        glyf.resize(glyf.len().next_multiple_of(4), 0);
        let (advance, lsb) = tables.metrics(data, old);
        hmtx.extend_from_slice(&advance.to_be_bytes());
        hmtx.extend_from_slice(&lsb.to_be_bytes());
        advances.insert(index as u16, advance);
    }
    loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());

    let table = |(offset, length): (usize, usize)| data[offset..offset + length].to_vec();
    let mut head = table(tables.head);
    head[8..12].fill(0); // checkSumAdjustment, set below
    head[50..52].copy_from_slice(&1u16.to_be_bytes()); // long loca
    let mut hhea = table(tables.hhea);
    hhea[34..36].copy_from_slice(&count.to_be_bytes());
    let mut maxp = table(tables.maxp);
    maxp[4..6].copy_from_slice(&count.to_be_bytes());
    let mut post = tables.post.map(table).unwrap_or_default();
    post.resize(32, 0);
    post[0..4].copy_from_slice(&0x0003_0000u32.to_be_bytes()); // no glyph names

    let cmap_map: BTreeMap<u32, u16> = chars
        .iter()
        .map(|&(c, old)| (u32::from(c), new_id(old)))
        .collect();
    let cmap = cmap_format4(&cmap_map);

    let mut out_tables: Vec<([u8; 4], Vec<u8>)> = vec![
        (*b"cmap", cmap),
        (*b"glyf", glyf),
        (*b"head", head),
        (*b"hhea", hhea),
        (*b"hmtx", hmtx),
        (*b"loca", loca),
        (*b"maxp", maxp),
        (*b"name", name_table.to_vec()),
        (*b"post", post),
    ];
    out_tables.sort_by_key(|(tag, _)| *tag);

    Subset {
        bytes: assemble(&out_tables),
        tag: subset_tag(&keep),
        cmap: cmap_map,
        advances,
    }
}

/// A `cmap` with one Windows Unicode BMP (format 4) subtable, one segment per character.
fn cmap_format4(map: &BTreeMap<u32, u16>) -> Vec<u8> {
    let bmp: Vec<(u16, u16)> = map
        .iter()
        .filter_map(|(&c, &gid)| Some((u16::try_from(c).ok().filter(|&c| c != 0xFFFF)?, gid)))
        .collect();
    let segments = bmp.len() + 1;
    let seg_x2 = (2 * segments) as u16;
    let search_range = 2 * (1u16 << (15 - (segments as u16).leading_zeros()));
    let entry_selector = (search_range / 2).trailing_zeros() as u16;
    let sub_length = 16 + 8 * segments;

    let mut out = Vec::with_capacity(12 + sub_length);
    for value in [0u16, 1, 3, 1] {
        out.extend_from_slice(&value.to_be_bytes()); // version, 1 subtable, platform 3 encoding 1
    }
    out.extend_from_slice(&12u32.to_be_bytes());
    let header = [
        4,
        sub_length as u16,
        0,
        seg_x2,
        search_range,
        entry_selector,
        seg_x2 - search_range,
    ];
    for value in header {
        out.extend_from_slice(&value.to_be_bytes());
    }
    let ends = bmp.iter().map(|&(c, _)| c).chain([0xFFFF]);
    ends.clone()
        .for_each(|c| out.extend_from_slice(&c.to_be_bytes()));
    out.extend_from_slice(&0u16.to_be_bytes()); // reservedPad
    ends.for_each(|c| out.extend_from_slice(&c.to_be_bytes())); // start == end
    for &(c, gid) in &bmp {
        out.extend_from_slice(&gid.wrapping_sub(c).to_be_bytes());
    }
    out.extend_from_slice(&1u16.to_be_bytes()); // 0xFFFF maps to glyph 0
    out.resize(out.len() + 2 * segments, 0); // idRangeOffset: all zero
    out
}

/// A `name` table with the family, style, full and PostScript names.
pub fn name_table(postscript_name: &str) -> Vec<u8> {
    let (family, style) = match postscript_name.split_once('-') {
        Some((family, style)) => (family, style),
        None => (postscript_name, "Book"),
    };
    let full = format!("{family} {style}");
    let records: [(u16, &str); 4] = [(1, family), (2, style), (4, &full), (6, postscript_name)];
    let mut strings = Vec::new();
    let mut out = Vec::new();
    for value in [0u16, records.len() as u16, (6 + 12 * records.len()) as u16] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    for (name_id, text) in records {
        let encoded: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let fields = [
            3,
            1,
            0x409,
            name_id,
            encoded.len() as u16,
            strings.len() as u16,
        ];
        for value in fields {
            out.extend_from_slice(&value.to_be_bytes());
        }
        strings.extend_from_slice(&encoded);
    }
    out.extend_from_slice(&strings);
    out
}

pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    bytes.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// Writes the sfnt: offset table, table records (sorted by tag), 4-byte aligned tables, and
/// the `head` checksum adjustment.
fn assemble(tables: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let count = tables.len() as u16;
    let search_range = 16 * (1u16 << (15 - count.leading_zeros()));
    let entry_selector = (search_range / 16).trailing_zeros() as u16;
    let total: usize = tables
        .iter()
        .map(|(_, t)| t.len().next_multiple_of(4))
        .sum();
    let mut out = Vec::with_capacity(12 + 16 * tables.len() + total);
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for value in [
        count,
        search_range,
        entry_selector,
        16 * count - search_range,
    ] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, bytes) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(bytes).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        if tag == b"head" {
            head_at = Some(offset);
        }
        offset += bytes.len().next_multiple_of(4);
    }
    for (_, bytes) in tables {
        out.extend_from_slice(bytes);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    if let Some(at) = head_at {
        let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[at + 8..at + 12].copy_from_slice(&adjustment.to_be_bytes());
    }
    out
}

/// Six letters from a hash of the glyph selection: equal subsets get equal tags.
fn subset_tag(glyphs: &[u16]) -> String {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for gid in glyphs {
        for byte in gid.to_be_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (hash % 26) as u8);
            hash /= 26;
            letter
        })
        .collect()
}
