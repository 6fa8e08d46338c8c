// Copies the site's one third-party script, html5-qrcode's self-contained bundle, from the
// package pinned in frontend/package.json (installed with `npm ci --prefix frontend`) into
// frontend/vendor/, where the site serves it itself (no CDN). The copy is committed;
// `--check` fails when it differs from the pinned package's file, so it cannot drift.
//
//   npm ci --prefix frontend && npm run --prefix frontend vendor        # update the copy
//   npm run --prefix frontend check-vendor                              # verify it
import { copyFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const site = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(site, 'node_modules', 'html5-qrcode');

/** The vendored files: [file in the package, file in frontend/vendor]. */
export const FILES = [
  ['html5-qrcode.min.js', 'html5-qrcode.min.js'],
  ['LICENSE', 'html5-qrcode.LICENSE.txt'],
];

function pinnedVersion() {
  const manifest = JSON.parse(readFileSync(join(site, 'package.json'), 'utf8'));
  const pinned = manifest.devDependencies?.['html5-qrcode'];
  if (!/^\d+\.\d+\.\d+$/.test(pinned ?? '')) {
    throw new Error(`frontend/package.json must pin html5-qrcode exactly (found ${pinned})`);
  }
  const installed = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  if (installed !== pinned) {
    throw new Error(`installed html5-qrcode is ${installed}, package.json pins ${pinned}: run npm ci --prefix frontend`);
  }
  return pinned;
}

const check = process.argv.includes('--check');
const version = pinnedVersion();
let stale = 0;
for (const [from, to] of FILES) {
  const source = join(pkgDir, from);
  const target = join(site, 'vendor', to);
  if (check) {
    let same = false;
    try {
      same = readFileSync(source).equals(readFileSync(target));
    } catch {
      same = false;
    }
    if (!same) {
      console.error(`frontend/vendor/${to} differs from html5-qrcode@${version}/${from}: run npm run --prefix frontend vendor`);
      stale += 1;
    }
  } else {
    copyFileSync(source, target);
    console.log(`html5-qrcode@${version}/${from} -> frontend/vendor/${to}`);
  }
}
if (check && stale === 0) console.log(`frontend/vendor matches html5-qrcode@${version}`);
process.exitCode = stale ? 1 : 0;
