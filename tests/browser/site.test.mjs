// Static checks of the site's files: the vendored scanner library is the pinned package's file,
// nothing inline (so the strict CSP holds), no markup built from strings, and no configuration
// baked into the code (it comes from /config.json).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { run, SITE_DIR } from './harness.mjs';

async function files(dir, ext) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['node_modules', 'vendor', 'scripts'].includes(entry.name)) found.push(...(await files(path, ext)));
    } else if (entry.name.endsWith(ext)) {
      found.push(path);
    }
  }
  return found;
}

test('the vendored html5-qrcode is the pinned package’s file', async () => {
  const manifest = JSON.parse(await readFile(join(SITE_DIR, 'package.json'), 'utf8'));
  const pinned = manifest.devDependencies['html5-qrcode'];
  assert.match(pinned, /^\d+\.\d+\.\d+$/, 'pinned to an exact version');
  const lock = JSON.parse(await readFile(join(SITE_DIR, 'package-lock.json'), 'utf8'));
  assert.equal(lock.packages['node_modules/html5-qrcode'].version, pinned, 'the lockfile agrees');
  assert.ok(
    existsSync(join(SITE_DIR, 'node_modules', 'html5-qrcode', 'package.json')),
    'install the pinned package first: npm ci --prefix frontend',
  );
  const { stdout } = await run(process.execPath, [join(SITE_DIR, 'scripts', 'vendor.mjs'), '--check']);
  assert.match(stdout, new RegExp(`matches html5-qrcode@${pinned.replace(/\./g, '\\.')}`));
});

test('index.html: scripts and styles from files only, under a strict CSP', async () => {
  const html = await readFile(join(SITE_DIR, 'index.html'), 'utf8');
  for (const tag of html.match(/<script\b[^>]*>/g) ?? []) {
    assert.match(tag, /\bsrc="\/[^"]+"/, `a script without src: ${tag}`);
  }
  assert.doesNotMatch(html, /<script\b[^>]*>\s*[^<\s]/, 'no inline script body');
  assert.doesNotMatch(html, /<style\b/i, 'no <style> element');
  assert.doesNotMatch(html, /\sstyle=/i, 'no style attribute');
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
  assert.ok(csp, 'a CSP meta tag');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(existsSync(join(SITE_DIR, 'config.json')), false, 'config.json comes from the server, never from frontend/');
});

test('the scripts build no markup from strings and hard-code no configuration', async () => {
  const scripts = await files(join(SITE_DIR, 'js'), '.js');
  assert.ok(scripts.length >= 10);
  for (const path of scripts) {
    const name = relative(SITE_DIR, path);
    const source = await readFile(path, 'utf8');
    const code = source.replace(/^\s*\/\/.*$/gm, '');
    assert.doesNotMatch(code, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, `${name} writes markup from strings`);
    assert.doesNotMatch(code, /setAttribute\(\s*['"]style['"]/, `${name} sets a style attribute`);
    assert.doesNotMatch(code, /execute-api|amazoncognito\.com|ticketd-local|127\.0\.0\.1|localhost:\d/, `${name} hard-codes configuration`);
    // Every relative import resolves to a file of the site.
    for (const [, target] of code.matchAll(/from\s+'(\.[^']+)'/g)) {
      assert.ok(existsSync(resolve(dirname(path), target)), `${name} imports missing ${target}`);
    }
  }
  const css = await readFile(join(SITE_DIR, 'site.css'), 'utf8');
  assert.doesNotMatch(css, /@import|url\(\s*['"]?https?:/, 'no styles or fonts from elsewhere');
});
