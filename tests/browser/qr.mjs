// From a ticket PDF to what the fake camera shows: render the page (pdftoppm), find the QR
// code on it, crop it, read it (zbarimg) and make a short .y4m video of it (ffmpeg) for
// Chromium's --use-file-for-fake-video-capture.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './harness.mjs';

const DPI = 150;
/** Pixels per QR module in the camera's pictures (at 5 px the code is about 265 px across). */
const CAMERA_MODULE_PX = [5, 4];

/** Reads a binary PGM (P5) as { width, height, pixels }. */
function parsePgm(buffer) {
  const header = [];
  let offset = 0;
  while (header.length < 4) {
    while (/\s/.test(String.fromCharCode(buffer[offset]))) offset += 1;
    if (buffer[offset] === 0x23) {
      while (buffer[offset] !== 0x0a) offset += 1;
      continue;
    }
    let token = '';
    while (!/\s/.test(String.fromCharCode(buffer[offset]))) token += String.fromCharCode(buffer[offset++]);
    header.push(token);
  }
  offset += 1;
  const [magic, width, height] = [header[0], Number(header[1]), Number(header[2])];
  if (magic !== 'P5') throw new Error(`expected a binary PGM, got ${magic}`);
  return { width, height, pixels: buffer.subarray(offset, offset + width * height) };
}

/**
 * The QR code's box on the page, from its three finder patterns: runs of dark, light, dark,
 * light, dark in the ratio 1:1:3:1:1 along a row, found on several rows around one centre.
 */
function findQrs({ width, height, pixels }) {
  const hits = [];
  for (let y = 0; y < height; y += 1) {
    const runs = [];
    let x = 0;
    while (x < width) {
      const isDark = pixels[y * width + x] < 128;
      let end = x;
      while (end < width && (pixels[y * width + end] < 128) === isDark) end += 1;
      runs.push({ dark: isDark, start: x, length: end - x });
      x = end;
    }
    for (let i = 0; i + 4 < runs.length; i += 1) {
      if (!runs[i].dark) continue;
      const lengths = runs.slice(i, i + 5).map((run) => run.length);
      const module = lengths.reduce((sum, length) => sum + length, 0) / 7;
      if (module < 1.5) continue;
      const fits = [1, 1, 3, 1, 1].every((ratio, k) => Math.abs(lengths[k] - ratio * module) <= module * 0.6);
      if (fits) hits.push({ x: runs[i + 2].start + runs[i + 2].length / 2, y, module });
    }
  }
  // Group hits that belong to one finder pattern (same centre, neighbouring rows).
  const groups = [];
  for (const hit of hits) {
    const group = groups.find((g) => Math.abs(g.x - hit.x) < hit.module * 1.5 && Math.abs(g.lastY - hit.y) <= 2 && Math.abs(g.module - hit.module) < hit.module * 0.5);
    if (group) {
      group.xs.push(hit.x);
      group.ys.push(hit.y);
      group.lastY = hit.y;
    } else {
      groups.push({ x: hit.x, lastY: hit.y, module: hit.module, xs: [hit.x], ys: [hit.y] });
    }
  }
  const finders = groups
    .filter((g) => g.ys.length >= g.module * 1.5)
    .map((g) => ({ x: g.xs.reduce((a, b) => a + b) / g.xs.length, y: g.ys.reduce((a, b) => a + b) / g.ys.length, module: g.module }));
  // The code is upright: its finders sit at the top-left corner (c), top-right (a) and
  // bottom-left (b), as far apart across as down, at least 14 modules. Patterns inside the
  // data can look like finders too: the largest such triangle is the code.
  const boxes = [];
  for (const c of finders) {
    for (const a of finders) {
      for (const b of finders) {
        const module = (a.module + b.module + c.module) / 3;
        const across = a.x - c.x;
        const down = b.y - c.y;
        const upright = Math.abs(a.y - c.y) < 2 * module && Math.abs(b.x - c.x) < 2 * module;
        const square = Math.abs(across - down) < 2 * module;
        const similar = [a, b, c].every((f) => Math.abs(f.module - module) < module * 0.35);
        if (upright && square && similar && across >= 14 * module) {
          const half = 3.5 * module;
          boxes.push({ x: Math.round(c.x - half), y: Math.round(c.y - half), width: Math.round(across + 2 * half), height: Math.round(down + 2 * half), module });
        }
      }
    }
  }
  if (!boxes.length) throw new Error(`no QR code found on the ticket (${finders.length} finder-like patterns)`);
  return boxes.sort((p, q) => q.width - p.width);
}

/**
 * Renders the ticket and returns { code, cameraPngs }: the ticket code its QR carries and PNGs
 * of the QR alone (with a white quiet zone), one per camera module size.
 */
export async function readTicket(pdfPath, workDir) {
  const base = join(workDir, 'ticket');
  await run('pdftoppm', ['-r', String(DPI), '-gray', '-singlefile', pdfPath, base]);
  const page = parsePgm(await readFile(`${base}.pgm`));
  const qrBase = join(workDir, 'qr');
  let code = '';
  let found;
  // The most likely box first; each crop is read back to be sure it is the code.
  for (const box of findQrs(page).slice(0, 5)) {
    found = box;
    const margin = Math.round(box.module * 4); // the quiet zone
    const crop = ['-x', box.x - margin, '-y', box.y - margin, '-W', box.width + 2 * margin, '-H', box.height + 2 * margin].map(String);
    await run('pdftoppm', ['-r', String(DPI), '-png', '-singlefile', ...crop, pdfPath, qrBase]);
    code = await run('zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', `${qrBase}.png`]).then(
      ({ stdout }) => stdout.trim(),
      () => '',
    );
    if (code) break;
  }
  if (!code.startsWith('T1.')) throw new Error(`no readable ticket code in the ticket's QR (read: ${code || 'nothing'})`);
  // What the camera shows: the same crop drawn again from the vector page with modules a few
  // pixels wide, small enough that the scanner's box holds the whole quiet zone (at 380 px the
  // code filled the box edge to edge and the browser's decoder sometimes never read it). Two
  // sizes, as a hand-held phone would show: the decoder samples each differently, and one code
  // in a few dozen was not read at 5 px alone.
  const margin = found.module * 4;
  const cameraPngs = [];
  for (const modulePx of CAMERA_MODULE_PX) {
    const scale = modulePx / found.module;
    const sharp = ['-x', (found.x - margin) * scale, '-y', (found.y - margin) * scale, '-W', (found.width + 2 * margin) * scale, '-H', (found.height + 2 * margin) * scale].map((value) => (typeof value === 'number' ? String(Math.round(value)) : value));
    const cameraBase = join(workDir, `qr-camera-${modulePx}`);
    await run('pdftoppm', ['-r', String(DPI * scale), '-png', '-singlefile', ...sharp, pdfPath, cameraBase]);
    const { stdout } = await run('zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', `${cameraBase}.png`]);
    if (stdout.trim() !== code) throw new Error(`the camera picture of the QR at ${modulePx} px a module does not read back as the code`);
    cameraPngs.push(`${cameraBase}.png`);
  }
  return { code, cameraPngs };
}

/** A 640×480 video of the QR pictures (unscaled), each centred on white for a second, as .y4m. */
export async function fakeCameraVideo(pngs, out) {
  const inputs = pngs.flatMap((png) => ['-loop', '1', '-t', '1', '-i', png]);
  const padded = pngs.map((_, index) => `[${index}:v]pad=640:480:(ow-iw)/2:(oh-ih)/2:color=white,format=yuv420p,fps=10[v${index}]`);
  const joined = `${pngs.map((_, index) => `[v${index}]`).join('')}concat=n=${pngs.length}:v=1:a=0[out]`;
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    ...inputs,
    '-filter_complex', [...padded, joined].join(';'),
    '-map', '[out]', '-r', '10',
    out,
  ]);
  return out;
}
