// What the browser tests share: a ticketd of their own (fresh data directory, free port) —
// with TICKETD_STACK=aws the emulated AWS stack of scripts/aws-stack, ticketd in front of the
// Lambda bootstraps on moto —
// Debian's Chromium driven by playwright-core, sign-up and sign-in through the identity
// provider's pages, and screenshots.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SITE_DIR = join(ROOT, 'frontend');
export const run = promisify(execFile);

/** The ticketd binary: $TICKETD_BIN, else the debug build in $CARGO_TARGET_DIR (or target/). */
export function ticketdBinary() {
  if (process.env.TICKETD_BIN) return process.env.TICKETD_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
  return join(target, 'debug', 'ticketd');
}

/** Chromium: $CHROMIUM, else Debian's. */
export function chromiumPath() {
  return process.env.CHROMIUM || '/usr/bin/chromium';
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(prefix) {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Which stack the tests run on: `embedded` (ticketd alone) or `aws` (scripts/aws-stack). */
export const STACK = process.env.TICKETD_STACK || 'embedded';

/** The command that starts the stack on `dataDir`: `[program, args]`. */
function stackCommand(dataDir) {
  const serve = ['--addr', '127.0.0.1:0', '--data-dir', dataDir, '--site-dir', SITE_DIR];
  if (STACK === 'aws') {
    const template = process.env.AWS_STACK_TEMPLATE ? ['--template', process.env.AWS_STACK_TEMPLATE] : [];
    return [join(ROOT, 'scripts', 'aws-stack'), [...template, '--bin-dir', dirname(ticketdBinary()), ...serve]];
  }
  return [ticketdBinary(), ['serve', ...serve]];
}

/**
 * Starts `ticketd serve` (or the emulated AWS stack) on a free loopback port with a fresh data
 * directory and the site's files; resolves once it prints its URL.
 */
export async function startTicketd() {
  const binary = ticketdBinary();
  if (!existsSync(binary)) {
    throw new Error(`no ticketd at ${binary}: build it first (cargo build -p ticketd) or set TICKETD_BIN`);
  }
  const data = await tempDir('ticketd-browser-');
  const [program, args] = stackCommand(data.path);
  const child = spawn(program, args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ticketd did not start in time:\n${out}\n${log}`)), STACK === 'aws' ? 120_000 : 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /ticketd listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ticketd exited with ${code}:\n${out}\n${log}`));
    });
  });
  child.stdout.resume();
  return {
    url,
    dataDir: data.path,
    log: () => log,
    /** Runs `ticketd <args...>` against this data directory. */
    cli: (...args) => run(binary, [...args, '--data-dir', data.path]).then(({ stdout }) => stdout),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((done) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            done();
          }, 5_000);
          child.on('exit', () => {
            clearTimeout(timer);
            done();
          });
        });
      }
      // TICKETD_LOG keeps the stack's log (docs/cost.md measures durations from it).
      if (process.env.TICKETD_LOG) await writeFile(process.env.TICKETD_LOG, log);
      await data.remove();
    },
  };
}

/** Chromium, headless; `fakeVideo`: a .y4m file the fake camera plays. */
export async function launchBrowser({ fakeVideo } = {}) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage', '--no-first-run'];
  if (fakeVideo) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${fakeVideo}`);
  }
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

/** A browser context as a person would have it: a locale, a time zone, a window size. */
export async function newContext(browser, { phone = false, origin, camera = false } = {}) {
  const context = await browser.newContext({
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    acceptDownloads: true,
    ...(phone ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 860 } }),
  });
  if (camera && origin) await context.grantPermissions(['camera'], { origin });
  return context;
}

/**
 * Collects what a page should never produce: uncaught errors, console errors (CSP violations
 * show up there) and failed same-origin requests other than expected 4xx answers.
 */
export function watchPage(page) {
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return problems;
}

let counter = 0;
/** A new person with a password that passes the pool's policy. */
export function newPerson(name) {
  counter += 1;
  const tag = `${Date.now().toString(36)}${counter}`;
  const local = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]+/g, '.');
  return { name, email: `${local}.${tag}@example.org`, password: `Tick3t!${tag}Secure` };
}

/** Signs up from the site's landing page through the identity provider's form. */
export async function signUp(page, base, person) {
  await page.goto(base);
  await page.getByRole('button', { name: 'Create a free account' }).click();
  await page.waitForURL(/\/auth\/login|\/auth\/signup/);
  if (!/\/auth\/signup/.test(page.url())) await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel(/^Name/).fill(person.name);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Upcoming events' }).waitFor();
}

/** Signs in from the site (the current page's Sign in button) with email and password. */
export async function signIn(page, base, person, { from } = {}) {
  await page.goto(from ?? base);
  await page.getByRole('button', { name: 'Sign in', exact: true }).first().click();
  await page.waitForURL(/\/auth\/login/);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Back at the site once the code has been exchanged: signed in, code gone from the URL.
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : join(tmpdir(), 'ticketd-screenshots');

/** Saves a full-page screenshot as <name>.png (docs/screenshots/ with UPDATE_SCREENSHOTS=1). */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  // From the top (the header is sticky), once transitions and fonts have settled.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
}
