// The site in real Chromium against a real ticketd: one organizer, one attendee, one evening.
// The tests run in order and build on each other (one ticketd, one story):
//   1. A signs up, is promoted to organizer, signs in again and creates a paid event (after
//      the form has shown the API's field-level messages and refused an unknown time zone) in
//      Zurich's time zone, not the browser's (London), 19:30 to 23:00 there, and one with two ticket types,
//      Standard and VIP (after the API's message about one type), and gives the typed event a
//      promo code (the same code twice is refused); the demo organizer adds a free one.
//   2. B signs up, sees the paid event at 19:30 Zurich time (named), buys it through the Stripe
//      simulator, follows the order page until the ticket is ready and downloads the PDF (19:30
//      and the zone's abbreviation on it); B also takes the last seat of the free event.
//      Then B orders 2 Standard and 1 VIP on the typed event, names a different holder for each,
//      sees the total; an unknown promo code is refused and buys nothing, A's code takes 10 % off
//      (quoted again as the quantities change); B pays the discounted total and downloads each
//      ticket (its holder's name on it, its QR read); the code shows one use.
//      B then changes the VIP ticket's holder on the order page: a name of 201 characters is
//      refused with the API's message and the old name kept; a new one with letters beyond
//      ASCII shows in the list, in the PDF downloaded again (the old name gone, the same code)
//      and in My tickets, and from then on at the door, in the attendee list and its CSV.
//   3. A opens the scanner with a fake camera playing B's QR code: VALID with B's name, then
//      ALREADY USED.
//   4. Manual entry (ALREADY USED, INVALID, NOT YOUR EVENT), the attendee list and its CSV;
//      the typed order's three tickets scan VALID with their types and holders, one of them
//      again ALREADY USED, and the numbers per type follow.
//   5. The organizer edits the typed event, then refunds an order B just bought: B's order page
//      says so and the door answers VOID with the reason. A lets buyers cancel until a day
//      before the start; B buys again and cancels the order on its page.
//   6. An expired session says so and signs in again; sign-out; phone widths.
// Screenshots of every page go to $TMPDIR/ticketd-screenshots, or docs/screenshots with
// UPDATE_SCREENSHOTS=1.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  launchBrowser,
  newContext,
  newPerson,
  run,
  screenshot,
  signIn,
  signUp,
  startTicketd,
  tempDir,
  watchPage,
} from './harness.mjs';
import { fakeCameraVideo, readTicket } from './qr.mjs';

const organizer = newPerson('Ada Organizer');
const buyer = newPerson('Björn Åkesson');
const PAID_EVENT = 'Jazz by the River';
/** The paid event's venue's time zone: not the browsers' (Europe/London, see harness.mjs). */
const PAID_ZONE = 'Europe/Zurich';
const FREE_EVENT = 'Community Coding Night';
const TYPED_EVENT = 'Harbour Lights Gala';
/** The organizer's profile: their tickets' issuer and their event pages' contact. */
const ORGANIZER_NAME = 'Harbour Arts Collective';
const ORGANIZER_EMAIL = 'tickets@harbour-arts.example';
/** The typed order's tickets in the order's order (types as the event lists them) and whom each is for. */
const TYPED_TICKETS = [
  { type: 'Standard', holder: 'Zoë Laurent' },
  { type: 'Standard', holder: 'Dmitri Volkov' },
  { type: 'VIP', holder: 'Carla Mendes' },
];
/** The name the VIP ticket gets once bought (its holder changes before the event). */
const NEW_HOLDER = 'Zoë Ångström-Nuñez'.normalize('NFC');
/** The typed event's prices in cents, as the organizer types them in euros. */
const TYPE_PRICES = { Standard: 1500, VIP: 4000 };
/** The typed event's promo code, as its organizer makes it. */
const PROMO = { code: 'FRIENDS10', percentOff: 10, maxUses: 5 };
/** An order's tickets at their types' prices, in cents. */
const priceOf = (tickets) => tickets.reduce((sum, ticket) => sum + TYPE_PRICES[ticket.type], 0);
/** A price after the promo code (the tests' prices give whole cents, so no rounding question). */
const withPromo = (minor) => minor - (minor * PROMO.percentOff) / 100;
/** Cents as the site shows euros in en-GB: 6300 → "€63.00". */
const euros = (minor) => `€${(minor / 100).toFixed(2)}`;
/** A text as a pattern that matches it literally. */
const literally = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The attendee CSV's columns before ticket types, in their order, and the type's column. */
const CSV_COLUMNS = ['name', 'email', 'status', 'ticketId', 'registeredAt', 'checkedInAt'];
const CSV_TYPE_COLUMN = 'ticketType';

let ticketd;
let browser;
let work;
/** Pages and what the tests learn along the way. */
const s = {};
const problems = [];

function watch(page, who) {
  const found = watchPage(page);
  problems.push([who, found]);
  return page;
}

/** A date a few weeks ahead, as the datetime-local input wants it. */
function futureLocal(days, hour) {
  const date = new Date(Date.now() + days * 86_400_000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(hour)}:30`;
}

/**
 * The instant (ms) a wall-clock time ("2030-07-01T19:30") means in `zone`, by Node's Intl rather
 * than the site's code: one step from the time read as UTC, exact away from a change of clocks
 * (the tests' times are evenings and half past midnight; clocks change between 01:00 and 03:00).
 */
function venueMs(local, zone) {
  const asUtc = Date.parse(`${local}:00Z`);
  const clock = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
  const wall = Object.fromEntries(clock.formatToParts(asUtc).filter(({ type }) => type !== 'literal').map(({ type, value }) => [type, Number(value)]));
  return asUtc - (Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) - asUtc);
}

/** A datetime-local value's date, one day on: "2030-07-01T20:30" → "2030-07-02". */
function nextDay(local) {
  return new Date(Date.parse(`${local.slice(0, 10)}T00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Follows a link of the main navigation. */
function nav(page, name) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
}

/** One of the create-event form's ticket type rows, by its number. */
function typeRow(page, number) {
  return page.getByRole('group', { name: `Ticket type ${number}`, exact: true });
}

/** The fields of one CSV line (RFC 4180 quotes; the tests' values have no line breaks). */
function csvFields(line) {
  const fields = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i];
    if (quoted && char === '"' && line[i + 1] === '"') {
      field += '"';
      i += 1;
    } else if (char === '"') {
      quoted = !quoted;
    } else if (char === ',' && !quoted) {
      fields.push(field);
      field = '';
    } else {
      field += char;
    }
  }
  fields.push(field);
  return fields;
}

/** A PDF's text (poppler's pdftotext, from the package whose pdftoppm reads the QR codes), spaces collapsed. */
async function pdfText(path) {
  const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', path, '-']);
  return stdout.normalize('NFC').replace(/\s+/g, ' ');
}

/** Checks a code by hand on the scanner page and returns the verdict box once this code's verdict shows. */
async function checkCode(page, code) {
  const history = page.locator('.scan-history li');
  const before = await history.count();
  await page.getByRole('textbox', { name: 'Ticket code' }).fill(code);
  await page.getByRole('button', { name: 'Check ticket' }).click();
  await history.nth(before).waitFor();
  return page.locator('#scan-result');
}

/** On the manage page of an event just created, a draft: its organizer publishes it. */
async function publishDraft(page) {
  await page.getByText('Your event is saved as a draft').waitFor();
  await page.getByText('Draft: only you can see this event').waitFor();
  await page.getByRole('button', { name: 'Publish event' }).click();
  await page.getByText('Published: listed and on sale').waitFor();
}

/** Fills the Stripe (simulator's) checkout page with B's test card. */
async function fillCard(page) {
  await page.locator('#card_number').fill('4242 4242 4242 4242');
  await page.locator('#card_expiry').fill('12 / 34');
  await page.locator('#card_cvc').fill('123');
  await page.locator('#name').fill(buyer.name);
}

/** B buys one ticket of the paid event by card; its order id, once the order is fulfilled. */
async function buyPaidTicket(page, base) {
  await page.goto(`${base}/?event=${s.eventId}`);
  await page.getByRole('button', { name: /Buy ticket · €25.00/ }).click();
  await page.waitForURL(/\/stripe\/checkout\//, { timeout: 15_000 });
  await fillCard(page);
  await page.getByRole('button', { name: /^Pay/ }).click();
  await page.waitForURL(/\/\?order=/);
  await page.locator('[data-status="FULFILLED"]').waitFor({ timeout: 30_000 });
  return new URL(page.url()).searchParams.get('order');
}

/** A downloaded attendee CSV as { header, rows }, each row an object by column name. */
async function readCsv(path) {
  const [head, ...lines] = (await readFile(path, 'utf8')).trim().split(/\r?\n/);
  const header = csvFields(head);
  return { header, rows: lines.map((line) => Object.fromEntries(csvFields(line).map((value, i) => [header[i], value]))) };
}

/** No horizontal scrolling at the current width. */
async function assertFits(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px at ${page.viewportSize().width}px`);
}

/** Every visible form control has an accessible name. */
async function assertLabelled(page) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea, main button')]
      .filter((element) => element.offsetParent !== null)
      .filter((element) => {
        const labels = element.labels ? [...element.labels].map((label) => label.textContent.trim()).join('') : '';
        return !(labels || element.getAttribute('aria-label') || element.textContent.trim());
      })
      .map((element) => element.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unlabelled, [], 'controls without a label');
}

before(async () => {
  work = await tempDir('ticketd-browser-work-');
  ticketd = await startTicketd();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await s.scannerBrowser?.close();
  await ticketd?.stop();
  await work?.remove();
  for (const [who, found] of problems) {
    assert.deepEqual(found, [], `${who}'s pages reported problems`);
  }
});

test('an organizer signs up, is promoted, and creates events with the API checking every field', async () => {
  const base = ticketd.url;
  s.orgContext = await newContext(browser);
  const page = watch(await s.orgContext.newPage(), 'organizer');
  s.orgPage = page;

  await page.goto(base);
  await page.getByRole('heading', { name: /Find an event/ }).waitFor();
  await screenshot(page, 'landing');

  await signUp(page, base, organizer);
  assert.ok(!/[?&](code|state)=/.test(page.url()), `the sign-in code stays out of the address bar: ${page.url()}`);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Organize' }).count(), 0, 'a new user is an attendee only');

  // Promotion shows once the person signs in again.
  await ticketd.cli('users', 'promote', organizer.email);
  await page.goto(`${base}/?page=organizer`);
  await page.getByRole('heading', { name: 'This page is for organizers' }).waitFor();
  await page.getByRole('button', { name: 'Sign in again' }).click();
  await page.getByRole('heading', { name: 'Your events' }).waitFor();
  await page.getByText('You have no events yet').waitFor();
  assert.equal(new URL(page.url()).search, '?page=organizer', 'back where the sign-in started');

  // The organizer's profile: an address is checked, then the name their tickets will carry.
  const profile = page.getByRole('form', { name: 'Organizer profile' });
  await profile.getByText('tickets name Ticketd').waitFor();
  await profile.getByLabel('Display name').fill(ORGANIZER_NAME);
  await profile.getByLabel('Contact email').fill('not an address');
  await profile.getByRole('button', { name: 'Save profile' }).click();
  await profile.getByText(/^Contact email must be an email address/).waitFor();
  assert.equal(await profile.getByLabel('Contact email').getAttribute('aria-invalid'), 'true');
  await profile.getByLabel('Contact email').fill(ORGANIZER_EMAIL);
  await profile.getByRole('button', { name: 'Save profile' }).click();
  await profile.getByText('Profile saved.').waitFor();
  await assertLabelled(page);

  // The API's field-level messages, next to their fields.
  await page.getByRole('link', { name: 'Create event' }).first().click();
  await page.getByRole('heading', { name: 'Create event' }).waitFor();
  await assertLabelled(page);
  await page.getByLabel('Title').fill('   ');
  await page.getByLabel('Capacity').fill('0');
  await page.getByRole('button', { name: 'Create event' }).click();
  await page.getByText(/Please correct \d+ fields/).waitFor();
  for (const [field, message] of [
    ['Title', 'Title is required'],
    ['Venue', 'Venue is required'],
    ['Date and time', 'Date and time is required'],
    ['Capacity', /Capacity must be between 1 and/],
  ]) {
    const input = page.getByLabel(field, { exact: true });
    assert.equal(await input.getAttribute('aria-invalid'), 'true', `${field} is marked invalid`);
    const describedBy = (await input.getAttribute('aria-describedby')).split(' ');
    const errorText = await page.locator(`#${describedBy.at(-1)}`).textContent();
    assert.match(errorText, message instanceof RegExp ? message : new RegExp(message), `${field}'s message`);
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'field-title', 'focus goes to the first field at fault');
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'create-event-errors');

  await page.getByLabel('Title').fill(PAID_EVENT);
  await page.getByLabel('Description').fill('An evening of jazz standards by the water, with the Riverside Quartet.\nDoors open at 19:00; the first set starts at 19:30.');
  await page.getByLabel('Venue').fill('Riverside Hall, 12 Quay Street');
  // On the venue's clock in Zurich, not the browser's in London: 19:30 to 23:00 there.
  const zoneField = page.getByLabel('Time zone');
  assert.equal(await zoneField.inputValue(), 'Europe/London', "a new event starts in the browser's zone");
  s.paidStart = futureLocal(30, 19);
  const paidEnd = `${s.paidStart.slice(0, 10)}T23:00`;
  await page.getByLabel('Date and time').fill(s.paidStart);
  await page.getByLabel('Ends').fill(paidEnd);
  await page.getByLabel('Capacity').fill('50');
  await page.getByLabel('Price').fill('25.00');
  await page.getByLabel('Currency').selectOption('EUR');
  // A zone Intl does not know is refused next to its field, before anything is sent.
  await zoneField.fill('Europe/Zurch');
  await page.getByRole('button', { name: 'Create event' }).click();
  await page.getByText('Please correct one field').waitFor();
  assert.match(await page.locator('#field-timeZone-error').textContent(), /^Time zone must be a zone name/);
  assert.equal(await zoneField.getAttribute('aria-invalid'), 'true', 'the zone is marked invalid');
  await zoneField.fill(PAID_ZONE);
  assert.equal(await page.locator('#field-startsAt-hint').textContent(), `Local time at the venue (${PAID_ZONE}).`, 'the hint names the zone typed');
  await screenshot(page, 'create-event');
  const posted = page.waitForRequest((request) => request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/events'));
  // The manage page's GET of the new event: the API's answer for it.
  const fetched = page.waitForResponse((response) => response.request().method() === 'GET' && /\/events\/[^/]+$/.test(new URL(response.url()).pathname));
  await page.getByRole('button', { name: 'Create event' }).click();
  await publishDraft(page);
  s.eventId = new URL(page.url()).searchParams.get('manage');
  assert.ok(s.eventId, 'the new event opens');
  await page.getByRole('heading', { name: PAID_EVENT }).waitFor();
  // The wall times are Zurich's: an hour ahead of London's, so read in the browser's zone they
  // would be an hour late.
  s.paidStartsAt = venueMs(s.paidStart, PAID_ZONE);
  const paidEndsAt = venueMs(paidEnd, PAID_ZONE);
  const offset = (Date.parse(`${s.paidStart}:00Z`) - s.paidStartsAt) / 60_000;
  assert.ok(offset === 60 || offset === 120, `Zurich is UTC+1 or +2, not ${offset} minutes`);
  // As the tz database (chrono-tz, on the PDF) abbreviates Zurich's zone that day.
  s.paidAbbreviation = offset === 120 ? 'CEST' : 'CET';
  const sent = (await posted).postDataJSON();
  assert.equal(sent.timeZone, PAID_ZONE, 'the form sends the zone');
  assert.equal(Date.parse(sent.startsAt), s.paidStartsAt, `the form sends 19:30 in Zurich: ${sent.startsAt}`);
  assert.equal(Date.parse(sent.endsAt), paidEndsAt, `the form sends 23:00 in Zurich: ${sent.endsAt}`);
  const created = await (await fetched).json();
  assert.equal(created.id, s.eventId);
  assert.equal(created.timeZone, PAID_ZONE, "the API keeps the event's zone");
  assert.equal(Date.parse(created.startsAt), s.paidStartsAt, `startsAt is 19:30 in Zurich: ${created.startsAt}`);
  assert.equal(Date.parse(created.endsAt), paidEndsAt, `endsAt is 23:00 in Zurich: ${created.endsAt}`);
  const sign = `+0${offset / 60}:00`;
  assert.equal(created.startsAtLocal, `${s.paidStart}:00${sign}`, 'startsAtLocal is the wall time with its offset');
  assert.equal(created.endsAtLocal, `${paidEnd}:00${sign}`, 'endsAtLocal is the wall time with its offset');

  // An event with two ticket types; the capacity caps them together.
  await page.goto(`${base}/?page=new-event`);
  await page.getByRole('heading', { name: 'Create event' }).waitFor();
  await page.getByLabel('Title').fill(TYPED_EVENT);
  await page.getByLabel('Description', { exact: true }).fill('Music, lights and dinner on the harbour.');
  await page.getByLabel('Venue').fill('Harbour Pavilion, 1 Pier Road');
  // In the browser's zone, as a new event starts (the edit below reads it back).
  s.typedStart = futureLocal(20, 20);
  await page.getByLabel('Date and time').fill(s.typedStart);
  await page.getByLabel('Capacity').fill('6');
  await page.getByLabel('Currency').selectOption('EUR');
  const addType = page.getByRole('button', { name: 'Add ticket type' });
  for (let i = 0; i < 3; i += 1) await addType.click();
  assert.equal(await page.locator('#field-priceMinor').isVisible(), false, 'with ticket types there is no single price');
  await page.getByRole('button', { name: 'Remove ticket type 3' }).click();
  assert.equal(await page.getByRole('group', { name: /^Ticket type \d+$/ }).count(), 2, 'a row can be removed');
  for (const [number, name, price, quota] of [
    [1, 'Standard', (TYPE_PRICES.Standard / 100).toFixed(2), '5'],
    [2, 'VIP', (TYPE_PRICES.VIP / 100).toFixed(2), '10'],
  ]) {
    const row = typeRow(page, number);
    await row.getByLabel('Name').fill(name);
    await row.getByLabel('Price').fill(price);
    await row.getByLabel('Quota').fill(quota);
  }
  await typeRow(page, 2).getByLabel('Description (optional)').fill('Front-row seats and a welcome drink');
  await assertLabelled(page);
  // A quota above the capacity: the API's message names the type, and focus goes to its row.
  await page.getByRole('button', { name: 'Create event' }).click();
  await page.getByText('Please correct one field').waitFor();
  assert.match(await page.locator('#field-ticketTypes-error').textContent(), /^Ticket type 2 \("VIP"\): quota/);
  assert.equal(await page.evaluate(() => document.activeElement?.closest('fieldset')?.querySelector('legend')?.textContent), 'Ticket type 2', 'focus goes to the type at fault');
  await typeRow(page, 2).getByLabel('Quota').fill('2');
  await screenshot(page, 'create-event-ticket-types');
  await page.getByRole('button', { name: 'Create event' }).click();
  await publishDraft(page);
  s.typedEventId = new URL(page.url()).searchParams.get('manage');
  assert.ok(s.typedEventId && s.typedEventId !== s.eventId, 'the typed event opens');
  await page.getByRole('heading', { name: TYPED_EVENT }).waitFor();
  const typeStats = page.locator('#type-stats tbody tr');
  await typeStats.first().waitFor();
  assert.deepEqual(await typeStats.locator('td[data-label="Type"]').allTextContents(), ['Standard', 'VIP'], "the organizer's order");
  assert.equal(await typeStats.filter({ hasText: 'VIP' }).locator('[data-stat="quota"]').textContent(), '2');

  // A promo code for the typed event: 10 % off every type, five orders. Listed with none used.
  const promoForm = page.getByRole('form', { name: 'New promo code' });
  await promoForm.waitFor();
  assert.equal(await page.locator('#promo-codes').count(), 0, 'no codes to begin with');
  assert.equal(await promoForm.getByRole('radio', { name: 'Percentage' }).isChecked(), true, 'a percentage by default');
  assert.equal(await promoForm.getByLabel(/^Amount off/).isVisible(), false, 'one value field: the percentage');
  for (const name of Object.keys(TYPE_PRICES)) {
    assert.equal(await promoForm.getByRole('checkbox', { name }).isChecked(), true, `${name} is ticked: every type to begin with`);
  }
  const fillPromo = async (code) => {
    await promoForm.getByLabel('Promo code', { exact: true }).fill(code);
    await promoForm.getByLabel('Percent off').fill(String(PROMO.percentOff));
    await promoForm.getByLabel('Max uses').fill(String(PROMO.maxUses));
  };
  await fillPromo(PROMO.code);
  await assertLabelled(page);
  await promoForm.getByRole('button', { name: 'Create promo code' }).click();
  await promoForm.getByText(`${PROMO.code} created.`).waitFor();
  const promoRow = page.locator('#promo-codes tbody tr', { hasText: PROMO.code });
  await promoRow.waitFor();
  assert.equal(await promoRow.getAttribute('data-promo-code'), PROMO.code);
  assert.match(await promoRow.locator('td[data-label="Discount"]').textContent(), /^10\s?% off$/);
  assert.equal(await promoRow.locator('td[data-label="Applies to"]').textContent(), 'All types');
  assert.equal(await promoRow.locator('td[data-label="Used"]').textContent(), `0 / ${PROMO.maxUses}`);
  assert.equal(await promoRow.locator('td[data-label="Valid"]').textContent(), 'Any time');
  assert.equal(await promoForm.getByLabel('Promo code', { exact: true }).inputValue(), '', 'the form is empty for the next code');
  await screenshot(page, 'organizer-promo-codes');
  // The same code again, typed in lower case: refused with the API's message next to the code
  // (where focus goes), nothing added.
  await fillPromo(PROMO.code.toLowerCase());
  await promoForm.getByRole('button', { name: 'Create promo code' }).click();
  await promoForm.getByText('Please correct one field').waitFor();
  const codeInput = promoForm.getByLabel('Promo code', { exact: true });
  assert.equal(await codeInput.getAttribute('aria-invalid'), 'true', 'the code is marked');
  assert.ok((await page.locator('#promo-code-error').textContent()).trim(), "the API's message");
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'promo-code', 'focus goes to the code');
  assert.equal(await page.locator('#promo-codes tbody tr').count(), 1);

  // The demo organizer publishes a free event with one seat (for NOT YOUR EVENT and sold out).
  const demo = (await readFile(join(ticketd.dataDir, 'demo-accounts.txt'), 'utf8')).split('\n').find((line) => line.startsWith('organizer@'));
  const [email, password] = demo.split('\t');
  const demoContext = await newContext(browser);
  const demoPage = watch(await demoContext.newPage(), 'demo organizer');
  await signIn(demoPage, base, { email, password });
  await demoPage.goto(`${base}/?page=new-event`);
  await demoPage.getByLabel('Title').fill(FREE_EVENT);
  await demoPage.getByLabel('Venue').fill('Library, Room 2');
  await demoPage.getByLabel('Date and time').fill(futureLocal(10, 18));
  await demoPage.getByLabel('Capacity').fill('1');
  await demoPage.getByRole('button', { name: 'Create event' }).click();
  await publishDraft(demoPage);
  await demoContext.close();
});

test('an attendee buys a ticket through Stripe Checkout, follows the order and downloads the PDF', async () => {
  const base = ticketd.url;
  s.buyerContext = await newContext(browser);
  const page = watch(await s.buyerContext.newPage(), 'buyer');
  s.buyerPage = page;
  await signUp(page, base, buyer);

  const card = page.locator('.event-card', { hasText: PAID_EVENT });
  await card.waitFor();
  await card.getByText('€25.00').waitFor();
  await card.getByText('50 seats left').waitFor();
  await screenshot(page, 'events');

  // The event's times on Zurich's clock, wherever the browser is (London here), with the zone's
  // name as this browser writes it ("19:30 CEST" in en-GB): the same Intl call as the site's.
  const [startText, endText] = await page.evaluate(
    ([start, end, timeZone]) => [
      new Intl.DateTimeFormat(undefined, { timeZone, hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(start),
      new Intl.DateTimeFormat(undefined, { timeZone, hour: '2-digit', minute: '2-digit' }).format(end),
    ],
    [s.paidStartsAt, venueMs(`${s.paidStart.slice(0, 10)}T23:00`, PAID_ZONE), PAID_ZONE],
  );
  const [, zoneShort] = /^19:30\s(\S.*)$/.exec(startText) ?? [];
  assert.ok(zoneShort, `Zurich's clock shows 19:30, named: ${startText}`);
  const cardWhen = await card.locator('time').textContent();
  assert.ok(cardWhen.includes('19:30') && cardWhen.endsWith(zoneShort), `the card shows Zurich's time: ${cardWhen}`);

  await card.getByRole('link', { name: PAID_EVENT }).click();
  await page.getByRole('heading', { name: PAID_EVENT }).waitFor();
  await page.getByText('50 of 50 seats left').waitFor();
  const when = page.locator('.fact', { has: page.locator('dt', { hasText: /^When$/ }) });
  assert.equal(await when.locator('.fact-sub').textContent(), `Starts at ${startText} · ends ${endText}`);
  const buyWhen = await page.locator('.buy-when').textContent();
  assert.ok(buyWhen.includes('19:30') && buyWhen.endsWith(zoneShort), `the buy box shows Zurich's time: ${buyWhen}`);
  await assertLabelled(page);
  await screenshot(page, 'event');

  await page.getByRole('button', { name: /Buy ticket · €25.00/ }).click();
  // Stripe's hosted page (the simulator's locally).
  await page.waitForURL(/\/stripe\/checkout\//, { timeout: 15_000 });
  await screenshot(page, 'stripe-checkout');
  await fillCard(page);
  // The order page, while the payment is being confirmed: the first answers are held at
  // PENDING so the waiting state can be seen.
  let held = 0;
  await page.route('**/api/orders/*', async (route) => {
    const response = await route.fetch();
    const order = await response.json();
    if (held++ < 3) Object.assign(order, { status: 'PENDING', tickets: [] });
    await route.fulfill({ response, json: order });
  });
  await page.getByRole('button', { name: /^Pay/ }).click();

  await page.waitForURL(/\/\?order=/);
  s.orderId = new URL(page.url()).searchParams.get('order');
  await page.getByRole('heading', { name: 'Your order' }).waitFor();
  await page.getByText('Confirming your payment…').waitFor();
  await screenshot(page, 'order-pending');
  await page.locator('[data-status="FULFILLED"]').waitFor({ timeout: 30_000 });
  await page.unrouteAll();
  await page.getByText('Your ticket is ready').waitFor();
  await screenshot(page, 'order-ready');

  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download ticket (PDF)' }).click();
  const download = await downloading;
  s.pdf = join(work.path, 'ticket.pdf');
  await download.saveAs(s.pdf);
  const pdf = await readFile(s.pdf);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-', 'the download is a PDF');
  assert.match(download.suggestedFilename(), /^ticket-.*\.pdf$/);
  // Printed on the venue's clock, with the abbreviation the tz database gives Zurich that day.
  const printed = await pdfText(s.pdf);
  assert.ok(printed.includes('19:30'), `the PDF shows the start on Zurich's clock: ${printed}`);
  assert.match(printed, new RegExp(`\\b${s.paidAbbreviation}\\b`), `the PDF names the zone ${s.paidAbbreviation}: ${printed}`);

  // How a failed registration reads (the saga refunds, then fails the order): the real order,
  // answered as FAILED.
  await page.route('**/api/orders/*', async (route) => {
    const response = await route.fetch();
    const order = await response.json();
    Object.assign(order, { status: 'FAILED', failureReason: 'the event sold out before your payment arrived', tickets: [] });
    await route.fulfill({ response, json: order });
  });
  await page.reload();
  await page.getByText('We could not issue your ticket').waitFor();
  await page.getByText('Reason: the event sold out before your payment arrived').waitFor();
  await page.getByText(/Refund: your payment of €25\.00 has been refunded/).waitFor();
  await screenshot(page, 'order-failed');
  await page.unrouteAll();

  // My tickets: the ticket, with a fresh download.
  await nav(page, 'My tickets');
  const ticket = page.locator('.ticket-card', { hasText: PAID_EVENT });
  await ticket.waitFor();
  await ticket.getByText('Valid').waitFor();
  const again = page.waitForEvent('download');
  await ticket.getByRole('button', { name: 'Download' }).click();
  assert.equal((await (await again).createReadStream()).readable, true);

  // The free event's only seat: straight to the order page, then sold out for everyone.
  await nav(page, 'Events');
  await page.locator('.event-card', { hasText: FREE_EVENT }).getByRole('link').click();
  await page.getByRole('button', { name: 'Get a free ticket' }).click();
  await page.locator('[data-status="FULFILLED"]').waitFor({ timeout: 30_000 });
  const freeDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download ticket (PDF)' }).click();
  s.freePdf = join(work.path, 'free-ticket.pdf');
  await (await freeDownload).saveAs(s.freePdf);
  await page.getByRole('link', { name: 'Event details' }).click();
  await page.getByRole('button', { name: 'Sold out' }).waitFor();
  assert.equal(await page.locator('#buy').isDisabled(), true, 'no buying a sold-out event');

  await nav(page, 'My tickets');
  await page.locator('.ticket-card').nth(1).waitFor();
  await screenshot(page, 'my-tickets');
});

test('an attendee orders tickets of two types, names each holder, sees the total and pays', async () => {
  const page = s.buyerPage;
  await nav(page, 'Events');
  const card = page.locator('.event-card', { hasText: TYPED_EVENT });
  await card.waitFor();
  await card.getByText('From €15.00').waitFor();
  await card.getByRole('link', { name: TYPED_EVENT }).click();
  await page.getByRole('heading', { name: TYPED_EVENT }).waitFor();

  // Each type with its price, what is left of it and a quantity; nothing is chosen to begin.
  const picker = page.getByRole('group', { name: 'Choose your tickets' });
  await picker.waitFor();
  assert.equal(await picker.locator('input[name="quantity"]').count(), 2);
  const standard = page.getByRole('spinbutton', { name: 'Standard quantity' });
  const vip = page.getByRole('spinbutton', { name: 'VIP quantity' });
  assert.equal(await standard.inputValue(), '0');
  assert.equal(await vip.inputValue(), '0');
  assert.ok(await vip.getAttribute('data-ticket-type'), 'the input names its type');
  const vipOption = page.locator('.type-option', { has: vip });
  await vipOption.getByText('€40.00').waitFor();
  await vipOption.getByText('Front-row seats and a welcome drink').waitFor();
  await vipOption.getByText('Only 2 left').waitFor();
  await page.locator('.type-option', { has: standard }).getByText('€15.00').waitFor();
  const buy = page.locator('#buy');
  assert.equal(await buy.isDisabled(), true, 'no buying nothing');
  assert.match(await buy.textContent(), /Choose your tickets/);
  assert.equal(await page.locator('#order-total').isVisible(), false, 'no total before a ticket is chosen');
  assert.equal(await page.locator('input[name="holderName"]').count(), 0);
  await assertLabelled(page);

  // A name field per ticket, labelled with its number and type; a name typed stays with its
  // ticket when other quantities change.
  const holder = (index) => page.locator(`input[name="holderName"][data-ticket-index="${index}"]`);
  await vip.fill('1');
  const vipHolder = page.getByLabel('Ticket 1 — VIP: name on the ticket');
  assert.equal(await vipHolder.inputValue(), '', 'a holder starts empty (the API then uses the buyer)');
  assert.equal(await vipHolder.getAttribute('placeholder'), 'your name');
  await vipHolder.fill(TYPED_TICKETS[2].holder);
  await standard.fill('10');
  assert.equal(await buy.isDisabled(), true, 'no more than 10 tickets in all');
  assert.match(await buy.textContent(), /At most 10 tickets per order/);
  await standard.fill('2');
  assert.equal(await page.locator('input[name="holderName"]').count(), 3);
  await page.getByLabel('Ticket 3 — VIP: name on the ticket').waitFor();
  assert.equal(await holder(2).inputValue(), TYPED_TICKETS[2].holder, 'the VIP holder moved along as ticket 3');
  for (const [index, { type, holder: name }] of TYPED_TICKETS.entries()) {
    await page.getByLabel(`Ticket ${index + 1} — ${type}: name on the ticket`).fill(name);
    assert.equal(await holder(index).inputValue(), name);
  }
  await assertLabelled(page);
  const full = priceOf(TYPED_TICKETS);
  const total = page.locator('#order-total');
  assert.equal(euros(full), '€70.00');
  assert.match(await total.textContent(), new RegExp(`2 × Standard, 1 × VIP.*${literally(euros(full))}`));
  assert.equal(await page.locator('#order-discount').isVisible(), false, 'no discount without a code');
  await screenshot(page, 'event-ticket-types');

  // An unknown promo code: the API's refusal, naming the code, next to the field; Buy with it
  // still there asks again rather than buying.
  const promoField = page.getByLabel('Promo code', { exact: true });
  const promoError = page.locator('#promo-code-error');
  const quoted = () => page.waitForResponse((response) => /\/events\/[^/]+\/quote$/.test(new URL(response.url()).pathname));
  await promoField.fill('no-such-code');
  let answer = quoted();
  await page.getByRole('button', { name: 'Apply' }).click();
  assert.equal((await answer).status(), 400, 'an unknown code is a 400');
  await promoError.waitFor();
  assert.match(await promoError.textContent(), /NO-SUCH-CODE/i);
  assert.equal(await promoField.getAttribute('aria-invalid'), 'true');
  assert.match(await total.textContent(), new RegExp(literally(euros(full))), 'the full price still');
  answer = quoted();
  await buy.click();
  assert.equal((await answer).status(), 400);
  await promoError.waitFor();
  assert.ok(new URL(page.url()).searchParams.has('event'), 'still on the event page');
  await screenshot(page, 'event-promo-code-refused');

  // A's code, typed in lower case: subtotal, the discount with the code, the total and Buy's price.
  await promoField.fill(PROMO.code.toLowerCase());
  await page.getByRole('button', { name: 'Apply' }).click();
  const discount = page.locator('#order-discount');
  await discount.getByText(`Discount (${PROMO.code})`).waitFor();
  await total.filter({ hasText: euros(withPromo(full)) }).waitFor();
  assert.equal(euros(withPromo(full)), '€63.00');
  assert.equal(await promoError.isVisible(), false);
  assert.match(await discount.textContent(), new RegExp(`Subtotal${literally(euros(full))}`));
  assert.match(await discount.textContent(), new RegExp(`Discount \\(${PROMO.code}\\)\u2212${literally(euros(full - withPromo(full)))}`));
  assert.match(await total.textContent(), new RegExp(`2 × Standard, 1 × VIP.*${literally(euros(withPromo(full)))}`));
  await page.getByRole('button', { name: `Buy 3 tickets · ${euros(withPromo(full))}` }).waitFor();
  await assertLabelled(page);
  await screenshot(page, 'event-promo-code');
  // Other quantities are quoted again (never a stale total); the names stay with their tickets.
  const fewer = priceOf(TYPED_TICKETS.filter((ticket, index) => index !== 1));
  await standard.fill('1');
  await total.filter({ hasText: euros(withPromo(fewer)) }).waitFor();
  await page.getByRole('button', { name: `Buy 2 tickets · ${euros(withPromo(fewer))}` }).waitFor();
  await standard.fill('2');
  await total.filter({ hasText: euros(withPromo(full)) }).waitFor();
  for (const [index, { holder: name }] of TYPED_TICKETS.entries()) assert.equal(await holder(index).inputValue(), name);

  // Neither refusal nor quote held anything: no seat held, the code not used yet.
  const orgPage = s.orgPage;
  await orgPage.goto(`${ticketd.url}/?manage=${s.typedEventId}`);
  await orgPage.getByRole('heading', { name: TYPED_EVENT }).waitFor();
  await orgPage.locator('#type-stats').waitFor();
  for (const name of Object.keys(TYPE_PRICES)) {
    assert.equal(await orgPage.locator('#type-stats tbody tr', { hasText: name }).locator('[data-stat="held"]').textContent(), '0', `no ${name} held`);
  }
  const promoUsed = orgPage.locator(`#promo-codes tbody tr[data-promo-code="${PROMO.code}"] td[data-label="Used"]`);
  assert.equal(await promoUsed.textContent(), `0 / ${PROMO.maxUses}`);

  await page.getByRole('button', { name: `Buy 3 tickets · ${euros(withPromo(full))}` }).click();
  await page.waitForURL(/\/stripe\/checkout\//, { timeout: 15_000 });
  await fillCard(page);
  assert.ok((await page.locator('.items').textContent()).includes(PROMO.code), 'Stripe shows the discount under the code');
  // Stripe charges the order's total, the code taken off.
  await page.getByRole('button', { name: new RegExp(`^Pay\\b.*${literally(euros(withPromo(full)).slice(1))}`) }).click();

  // The order page: every ticket, its type and holder, each with its own download.
  await page.waitForURL(/\/\?order=/);
  s.typedOrderId = new URL(page.url()).searchParams.get('order');
  await page.locator('[data-status="FULFILLED"]').waitFor({ timeout: 30_000 });
  await page.getByText('Your 3 tickets are ready').waitFor();
  const summary = page.getByRole('region', { name: 'Order summary' });
  await summary.getByText(euros(withPromo(full))).waitFor();
  assert.equal(await page.locator('#order-amount').textContent(), euros(withPromo(full)), "the order's amount is the discounted total");
  await summary.getByText('2 × Standard, 1 × VIP').waitFor();
  const rows = page.locator('#order-tickets [data-ticket]');
  assert.equal(await rows.count(), 3);
  await screenshot(page, 'order-ready-tickets');
  const dir = await tempDir('ticketd-typed-');
  s.typedTickets = [];
  for (const [index, expected] of TYPED_TICKETS.entries()) {
    const row = rows.nth(index);
    assert.equal(await row.locator('.ticket-type').textContent(), expected.type, `ticket ${index + 1}'s type`);
    assert.equal(await row.locator('.ticket-holder').textContent(), expected.holder, `ticket ${index + 1}'s holder`);
    await row.getByText('Valid').waitFor();
    const downloading = page.waitForEvent('download');
    await row.getByRole('button', { name: `Download ticket ${index + 1} (PDF)` }).click();
    const pdf = join(work.path, `typed-ticket-${index + 1}.pdf`);
    await (await downloading).saveAs(pdf);
    assert.ok((await pdfText(pdf)).includes(expected.holder), `ticket ${index + 1}'s PDF names ${expected.holder}`);
    const { code } = await readTicket(pdf, dir.path);
    s.typedTickets.push({ ...expected, ticketId: await row.getAttribute('data-ticket'), code });
  }
  await dir.remove();
  assert.equal(new Set(s.typedTickets.map((ticket) => ticket.ticketId)).size, 3, 'a ticket id each');
  assert.equal(new Set(s.typedTickets.map((ticket) => ticket.code)).size, 3, 'a code each');

  await nav(page, 'My tickets');
  const tickets = page.locator('.ticket-card', { hasText: TYPED_EVENT });
  await tickets.nth(2).waitFor();
  assert.equal(await tickets.count(), 3);
  const listed = await tickets.evaluateAll((cards) => cards.map((card) => `${card.querySelector('.ticket-type')?.textContent} · ${card.querySelector('.ticket-holder')?.textContent}`));
  assert.deepEqual(listed.sort(), TYPED_TICKETS.map(({ type, holder: name }) => `${type} · ${name}`).sort());

  // The organizer's list counts the order: one use of five.
  await orgPage.goto(`${ticketd.url}/?manage=${s.typedEventId}`);
  await orgPage.getByRole('heading', { name: TYPED_EVENT }).waitFor();
  assert.equal(await promoUsed.textContent(), `1 / ${PROMO.maxUses}`);

  // The organizer changes the code's limit in its row: 0 is refused next to the field, which
  // keeps it, and the row is as it was; 3 is saved and the row shows it.
  const usesField = orgPage.getByLabel(`Max uses for ${PROMO.code}`, { exact: true });
  const usesError = orgPage.locator(`#promo-edit-${PROMO.code}-max-uses-error`);
  const saveLimit = orgPage.getByRole('button', { name: `Save ${PROMO.code}`, exact: true });
  const limitSaved = () => orgPage.waitForResponse((response) => response.request().method() === 'PATCH' && new URL(response.url()).pathname.endsWith(`/promo-codes/${PROMO.code}`));
  await orgPage.getByRole('button', { name: `Edit ${PROMO.code}`, exact: true }).click();
  assert.equal(await usesField.inputValue(), String(PROMO.maxUses), 'the form starts from the current limit');
  await assertLabelled(orgPage);
  await usesField.fill('0');
  let limitAnswer = limitSaved();
  await saveLimit.click();
  assert.equal((await limitAnswer).status(), 400);
  assert.deepEqual((await limitAnswer).request().postDataJSON(), { maxUses: 0 }, 'only what changed is sent');
  await usesError.waitFor();
  assert.match(await usesError.textContent(), /^Max uses must be between 1 and/);
  assert.equal(await usesField.getAttribute('aria-invalid'), 'true');
  assert.equal(await usesField.inputValue(), '0', 'the field keeps what was typed');
  assert.equal(await promoUsed.textContent(), `1 / ${PROMO.maxUses}`, 'the row is as it was');
  await usesField.fill('3');
  limitAnswer = limitSaved();
  await saveLimit.click();
  assert.equal((await limitAnswer).status(), 200);
  await promoUsed.filter({ hasText: /^1 \/ 3$/ }).waitFor();
  assert.equal(await usesField.count(), 0, 'the form closes');
});

test("the buyer changes a holder's name on the order page: refused when too long, then on the PDF", async () => {
  const page = s.buyerPage;
  const index = TYPED_TICKETS.findIndex((ticket) => ticket.type === 'VIP');
  const number = index + 1;
  const ticket = s.typedTickets[index];
  const oldName = ticket.holder;
  /** The next answer to a PATCH of a ticket. */
  const renamed = () => page.waitForResponse((response) => response.request().method() === 'PATCH' && /\/tickets\/[^/]+$/.test(new URL(response.url()).pathname));

  await page.goto(`${ticketd.url}/?order=${s.typedOrderId}`);
  await page.locator('[data-status="FULFILLED"]').waitFor({ timeout: 30_000 });
  const row = page.locator(`#order-tickets [data-ticket="${ticket.ticketId}"]`);
  const holder = row.locator('.ticket-holder');
  assert.equal(await holder.textContent(), oldName);
  // Every valid ticket of an event still to come can change its name, each by its own button.
  assert.equal(await page.getByRole('button', { name: /^Change name on ticket \d$/ }).count(), 3);
  const change = row.getByRole('button', { name: `Change name on ticket ${number}`, exact: true });
  const field = page.getByRole('textbox', { name: `Holder name for ticket ${number}`, exact: true });
  const save = row.getByRole('button', { name: 'Save', exact: true });
  const error = row.locator('.rename-form .field-error');
  assert.equal(await field.count(), 0, 'the form opens on request');
  await change.click();
  await field.waitFor();
  assert.equal(await field.inputValue(), oldName, 'the form starts from the current name');
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'holderName', 'focus goes to the field');
  assert.equal(await page.getByRole('textbox', { name: /^Holder name for ticket/ }).count(), 1, 'only this ticket’s form is open');
  await assertLabelled(page);

  // Too long: the API's message next to the field, which keeps what was typed; the name stays.
  const tooLong = 'Ä'.repeat(201);
  await field.fill(tooLong);
  let answer = renamed();
  await save.click();
  assert.equal((await answer).status(), 400, 'a name of 201 characters is a 400');
  await error.waitFor();
  assert.match(await error.textContent(), /^Holder name .*200 characters/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  assert.equal(await field.getAttribute('aria-describedby'), await error.getAttribute('id'));
  assert.equal(await field.inputValue(), tooLong, 'the field keeps what was typed');
  assert.equal(await holder.textContent(), oldName, 'the old name stays');
  await screenshot(page, 'order-rename-refused');

  // Cancel closes the form and changes nothing; opened again it starts afresh.
  await row.getByRole('button', { name: 'Cancel', exact: true }).click();
  await change.waitFor();
  assert.equal(await field.count(), 0);
  assert.equal(await holder.textContent(), oldName);
  await change.click();
  assert.equal(await field.inputValue(), oldName);
  assert.equal(await error.isVisible(), false, 'the old message is gone');

  // A name beyond ASCII, with spaces around it (the API trims them).
  await field.fill(`  ${NEW_HOLDER} `);
  answer = renamed();
  await save.click();
  const response = await answer;
  assert.equal(response.status(), 200);
  const body = await response.json();
  assert.equal(body.ticketId, ticket.ticketId);
  assert.equal(body.attendeeName, NEW_HOLDER, 'the answer is the ticket with its new name');
  await holder.filter({ hasText: NEW_HOLDER }).waitFor();
  assert.equal(await holder.textContent(), NEW_HOLDER);
  await row.getByText('Name changed; download the ticket again for the new PDF.').waitFor();
  assert.equal(await field.count(), 0, 'the form closes');
  await row.getByText('Valid').waitFor();
  for (const [other, { holder: name }] of TYPED_TICKETS.entries()) {
    if (other !== index) assert.equal(await page.locator('#order-tickets [data-ticket]').nth(other).locator('.ticket-holder').textContent(), name, 'the other tickets keep their names');
  }
  await screenshot(page, 'order-renamed');

  // Downloaded again: the PDF names the new holder, not the old, with the same signed code.
  const downloading = page.waitForEvent('download');
  await row.getByRole('button', { name: `Download ticket ${number} (PDF) for ${NEW_HOLDER}` }).click();
  const pdf = join(work.path, `typed-ticket-${number}-renamed.pdf`);
  await (await downloading).saveAs(pdf);
  const text = await pdfText(pdf);
  assert.ok(text.includes(NEW_HOLDER), `the new PDF names ${NEW_HOLDER}: ${text}`);
  assert.ok(!text.includes(oldName), `the new PDF no longer names ${oldName}`);
  const dir = await tempDir('ticketd-renamed-');
  const { code } = await readTicket(pdf, dir.path);
  await dir.remove();
  assert.equal(code, ticket.code, 'the same QR code');
  // From here on (the door, the attendee list, the CSV) the ticket is in the new name.
  ticket.holder = NEW_HOLDER;

  // The order as the API answers it afresh, and My tickets, show the new name.
  await page.reload();
  await page.locator('[data-status="FULFILLED"]').waitFor({ timeout: 30_000 });
  assert.equal(await holder.textContent(), NEW_HOLDER);
  await nav(page, 'My tickets');
  const tickets = page.locator('.ticket-card', { hasText: TYPED_EVENT });
  await tickets.nth(2).waitFor();
  const listed = await tickets.evaluateAll((cards) => cards.map((card) => `${card.querySelector('.ticket-type')?.textContent} · ${card.querySelector('.ticket-holder')?.textContent}`));
  assert.deepEqual(listed.sort(), s.typedTickets.map(({ type, holder: name }) => `${type} · ${name}`).sort());
});

test('the organizer scans the ticket with the camera: VALID, then ALREADY USED', async () => {
  const base = ticketd.url;
  const { code, cameraPngs } = await readTicket(s.pdf, work.path);
  s.code = code;
  const video = await fakeCameraVideo(cameraPngs, join(work.path, 'qr.y4m'));

  // A browser whose camera shows the ticket; the organizer's session comes along.
  s.scannerBrowser = await launchBrowser({ fakeVideo: video });
  const context = await newContext(s.scannerBrowser, { origin: base, camera: true });
  await context.addInitScript((session) => {
    if (!sessionStorage.getItem('ticketd.session')) sessionStorage.setItem('ticketd.session', session);
  }, await s.orgPage.evaluate(() => sessionStorage.getItem('ticketd.session')));
  const page = watch(await context.newPage(), 'scanner');
  await page.goto(`${base}/?page=scan`);
  await page.getByRole('heading', { name: 'Scan tickets' }).waitFor();
  await assertLabelled(page);
  await page.getByText('Ready to scan').waitFor();

  await page.getByRole('button', { name: 'Start camera' }).click();
  const result = page.locator('#scan-result');
  await result.and(page.locator('[data-result="VALID"]')).waitFor({ timeout: 30_000 });
  assert.match(await result.textContent(), /VALID/);
  assert.match(await result.textContent(), new RegExp(buyer.name));
  await screenshot(page, 'scan-valid');

  // The same code keeps showing: it is not sent again until the door is ready for the next.
  await page.waitForTimeout(1500);
  assert.equal(await result.getAttribute('data-result'), 'VALID', 'the verdict stays while the same QR is in view');
  await page.getByRole('button', { name: 'Ready for next ticket' }).click();
  await result.and(page.locator('[data-result="USED"]')).waitFor({ timeout: 30_000 });
  const text = await result.textContent();
  assert.match(text, /ALREADY USED/);
  assert.match(text, new RegExp(buyer.name));
  assert.match(text, /First scanned at/);
  await screenshot(page, 'scan-already-used');
  await page.getByRole('button', { name: 'Stop camera' }).click();
  await page.getByText('Camera is off').waitFor();
  await context.close();
});

test('manual entry, the attendee list and its CSV', async () => {
  const base = ticketd.url;
  const page = s.orgPage;
  await page.goto(`${base}/?page=scan`);
  const result = page.locator('#scan-result');
  const code = page.getByRole('textbox', { name: 'Ticket code' });

  await code.fill(s.code);
  await page.getByRole('button', { name: 'Check ticket' }).click();
  await result.and(page.locator('[data-result="USED"]')).waitFor();
  assert.equal(await code.inputValue(), '', 'the field is cleared for the next code');

  await code.fill(`${s.code.slice(0, -4)}AAAA`);
  await page.getByRole('button', { name: 'Check ticket' }).click();
  await result.and(page.locator('[data-result="INVALID"]')).waitFor();
  assert.match(await result.textContent(), /INVALID.*not signed by this system/);
  await screenshot(page, 'scan-invalid');

  const { code: other } = await readTicket(s.freePdf, await tempDir('ticketd-free-').then((dir) => dir.path));
  await code.fill(other);
  await page.getByRole('button', { name: 'Check ticket' }).click();
  await result.and(page.locator('[data-result="NOT_YOUR_EVENT"]')).waitFor();
  assert.match(await result.textContent(), /NOT YOUR EVENT/);
  await screenshot(page, 'scan-not-your-event');
  assert.equal(await page.locator('.scan-history li').count(), 3);

  // The organizer's numbers and attendees.
  await nav(page, 'Organize');
  const card = page.locator('.org-card', { hasText: PAID_EVENT });
  await card.waitFor();
  assert.equal(await card.locator('[data-stat="sold"] dd').textContent(), '1');
  assert.equal(await card.locator('[data-stat="checkedIn"] dd').textContent(), '1');
  assert.equal(await card.locator('[data-stat="remaining"] dd').textContent(), '49');
  await screenshot(page, 'organizer-events');
  await card.getByRole('link', { name: PAID_EVENT }).click();
  const row = page.locator('tbody tr', { hasText: buyer.email });
  await row.waitFor();
  await row.getByText('Checked in').waitFor();
  assert.match(await row.textContent(), new RegExp(buyer.name));
  await screenshot(page, 'organizer-event');

  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download CSV' }).click();
  const download = await downloading;
  assert.match(download.suggestedFilename(), /^attendees-jazz-by-the-river\.csv$/);
  const csvPath = join(work.path, 'attendees.csv');
  await download.saveAs(csvPath);
  const { header, rows } = await readCsv(csvPath);
  // Ticket types added a column; the others keep their names and order.
  assert.deepEqual(header.filter((column) => column !== CSV_TYPE_COLUMN), CSV_COLUMNS, header.join(','));
  assert.ok(header.includes(CSV_TYPE_COLUMN), header.join(','));
  assert.equal(rows.length, 1);
  assert.equal(rows[0].name, buyer.name);
  assert.equal(rows[0].email, buyer.email);
  assert.equal(rows[0].status, 'USED');
  assert.ok(rows[0][CSV_TYPE_COLUMN], 'an event with one price still sells one (named) type');
});

test('ticket types at the door, in the numbers per type and in the CSV', async () => {
  const base = ticketd.url;
  const page = s.orgPage;

  // Each ticket of the order admits once, in its holder's name and with its type.
  await page.goto(`${base}/?page=scan`);
  await page.getByRole('heading', { name: 'Scan tickets' }).waitFor();
  for (const ticket of s.typedTickets) {
    const result = await checkCode(page, ticket.code);
    assert.equal(await result.getAttribute('data-result'), 'VALID', `${ticket.holder}'s ticket`);
    assert.equal(await result.locator('.scan-name').textContent(), ticket.holder, 'the holder, not the buyer');
    assert.equal(await result.locator('.scan-type').textContent(), ticket.type);
  }
  await screenshot(page, 'scan-valid-ticket-type');
  const vip = s.typedTickets.find((ticket) => ticket.type === 'VIP');
  const again = await checkCode(page, vip.code);
  assert.equal(await again.getAttribute('data-result'), 'USED', 'a second scan is refused');
  assert.equal(await again.locator('.scan-name').textContent(), vip.holder);
  assert.equal(await again.locator('.scan-type').textContent(), 'VIP', 'ALREADY USED names the type too');

  // Sold, checked in and what is left, per type: VIP's quota of 2 has one left, Standard's 5 three.
  await page.goto(`${base}/?manage=${s.typedEventId}`);
  await page.getByRole('heading', { name: TYPED_EVENT }).waitFor();
  const stat = (name, key) => page.locator('#type-stats tbody tr', { hasText: name }).locator(`[data-stat="${key}"]`).textContent();
  await page.locator('#type-stats').waitFor();
  assert.equal(await stat('VIP', 'sold'), '1');
  assert.equal(await stat('VIP', 'checkedIn'), '1');
  assert.equal(await stat('VIP', 'remaining'), '1');
  assert.equal(await stat('Standard', 'sold'), '2');
  assert.equal(await stat('Standard', 'checkedIn'), '2');
  assert.equal(await stat('Standard', 'remaining'), '3');
  const attendees = page.locator('.attendees tbody tr', { hasText: buyer.email });
  await attendees.nth(2).waitFor();
  assert.equal(await attendees.count(), 3, 'one attendee per ticket');
  for (const ticket of s.typedTickets) {
    const attendee = attendees.filter({ hasText: ticket.holder });
    assert.equal(await attendee.locator('td[data-label="Type"]').textContent(), ticket.type);
    await attendee.getByText('Checked in').waitFor();
  }
  await screenshot(page, 'organizer-event-ticket-types');

  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download CSV' }).click();
  const csvPath = join(work.path, 'attendees-typed.csv');
  await (await downloading).saveAs(csvPath);
  const { rows } = await readCsv(csvPath);
  const line = (ticketId, type, name, email, status) => [ticketId, type, name, email, status].join(' · ');
  assert.deepEqual(
    rows.map((row) => line(row.ticketId, row[CSV_TYPE_COLUMN], row.name, row.email, row.status)).sort(),
    s.typedTickets.map((ticket) => line(ticket.ticketId, ticket.type, ticket.holder, buyer.email, 'USED')).sort(),
  );
});

test('the organizer edits the sold event: a quota below what is sold is refused, new details and a new type are saved, a stale form is told', async () => {
  const base = ticketd.url;
  const page = s.orgPage;
  const editUrl = `${base}/?edit=${s.typedEventId}`;
  /** The next answer to a PUT of the event. */
  const saved = () => page.waitForResponse((response) => response.request().method() === 'PUT' && new URL(response.url()).pathname.endsWith(`/events/${s.typedEventId}`));

  await page.goto(`${base}/?manage=${s.typedEventId}`);
  await page.getByRole('link', { name: 'Edit event' }).click();
  await page.getByRole('heading', { name: `Edit ${TYPED_EVENT}` }).waitFor();
  await assertLabelled(page);
  assert.equal(await page.getByLabel('Venue').inputValue(), 'Harbour Pavilion, 1 Pier Road', 'the form starts from the event');
  // Its times on its own clock: the zone it was made in and the start as it was typed.
  assert.equal(await page.getByLabel('Time zone').inputValue(), 'Europe/London');
  assert.equal(await page.getByLabel('Date and time').inputValue(), s.typedStart, 'the start as typed, read back in its zone');
  assert.equal(await page.getByLabel('Ends').inputValue(), '', 'no end yet');
  assert.equal(await page.getByLabel('Currency').isDisabled(), true, 'the currency cannot change');
  assert.equal(await page.getByRole('button', { name: /^Remove ticket type/ }).count(), 0, 'types cannot be removed');
  const vipPrice = typeRow(page, 2).getByLabel('Price');
  assert.equal(await vipPrice.inputValue(), (TYPE_PRICES.VIP / 100).toFixed(2));
  assert.equal(await vipPrice.getAttribute('readonly'), '', "a sold type's price is fixed");
  await typeRow(page, 2).getByText('Fixed: 1 sold or held.').waitFor();

  // A second tab (a session is a tab's: it signs in too) opens the same version of the form.
  const stale = await page.context().newPage();
  watch(stale, 'organizer (stale tab)');
  await stale.goto(base);
  await stale.getByRole('button', { name: 'Sign in', exact: true }).first().click();
  // The identity provider still knows the organizer: no password asked.
  await stale.getByRole('button', { name: 'Sign out' }).waitFor();
  await stale.goto(editUrl);
  await stale.getByRole('heading', { name: `Edit ${TYPED_EVENT}` }).waitFor();

  // Standard has two tickets sold: a quota of 1 is refused, and nothing changes.
  await typeRow(page, 1).getByLabel('Quota').fill('1');
  let answer = saved();
  await page.getByRole('button', { name: 'Save changes' }).click();
  assert.equal((await answer).status(), 409);
  await page.getByText('The changes could not be saved').waitFor();
  await page.getByText(/quota cannot go below the 2 tickets of it sold or held/).waitFor();

  // A new venue, an end just after midnight, one more seat and a Student type at €5.00.
  await typeRow(page, 1).getByLabel('Quota').fill('5');
  await page.getByLabel('Venue').fill('Harbour Pavilion, 2 Pier Road');
  const typedEnd = `${nextDay(s.typedStart)}T00:30`;
  await page.getByLabel('Ends').fill(typedEnd);
  await page.getByLabel('Capacity').fill('7');
  await page.getByRole('button', { name: 'Add ticket type' }).click();
  const student = typeRow(page, 3);
  await student.getByLabel('Name').fill('Student');
  await student.getByLabel('Price').fill('5.00');
  await student.getByLabel('Quota').fill('2');
  await assertLabelled(page);
  await screenshot(page, 'edit-event');
  answer = saved();
  await page.getByRole('button', { name: 'Save changes' }).click();
  assert.equal((await answer).status(), 200);
  assert.equal((await answer).request().headers()['if-match'], '"1"', 'the edit names the version it was made from');
  const edited = (await answer).request().postDataJSON();
  assert.equal(edited.timeZone, 'Europe/London');
  assert.equal(Date.parse(edited.startsAt), venueMs(s.typedStart, 'Europe/London'), `the start is unchanged: ${edited.startsAt}`);
  assert.equal(Date.parse(edited.endsAt), venueMs(typedEnd, 'Europe/London'), `the end is half past midnight: ${edited.endsAt}`);
  await page.getByText('Your changes are saved').waitFor();
  await page.locator('#type-stats tbody tr', { hasText: 'Student' }).waitFor();

  // The stale tab's edit would undo those changes: refused, and it says why.
  await stale.getByLabel('Title').fill(`${TYPED_EVENT} (stale)`);
  const staleAnswer = stale.waitForResponse((response) => response.request().method() === 'PUT');
  await stale.getByRole('button', { name: 'Save changes' }).click();
  assert.equal((await staleAnswer).status(), 412);
  await stale.getByText(/changed since version 1/).waitFor();
  await stale.close();

  // Buyers see the new venue and the new type at its price.
  const buyerPage = s.buyerPage;
  await buyerPage.goto(`${base}/?event=${s.typedEventId}`);
  await buyerPage.getByRole('heading', { name: TYPED_EVENT }).waitFor();
  await buyerPage.getByText('Harbour Pavilion, 2 Pier Road').first().waitFor();
  // An end on the next day shows with its date.
  await buyerPage.locator('.fact-sub', { hasText: /^Starts at 20:30\s.* · ends .+00:30$/ }).waitFor();
  await buyerPage.locator('.organizer-name', { hasText: ORGANIZER_NAME }).waitFor();
  assert.equal(await buyerPage.locator('.organizer-contact').getAttribute('href'), `mailto:${ORGANIZER_EMAIL}`);
  const studentOption = buyerPage.locator('.type-option', { has: buyerPage.getByRole('spinbutton', { name: 'Student quantity' }) });
  await studentOption.getByText('€5.00').waitFor();

  // A ticket downloaded again is drawn with the new venue, and carries the same signed code.
  await buyerPage.goto(`${base}/?order=${s.typedOrderId}`);
  const first = buyerPage.locator('#order-tickets [data-ticket]').first();
  const downloading = buyerPage.waitForEvent('download');
  await first.getByRole('button', { name: 'Download ticket 1 (PDF)' }).click();
  const pdf = join(work.path, 'typed-ticket-1-edited.pdf');
  await (await downloading).saveAs(pdf);
  const words = await pdfText(pdf);
  assert.ok(words.includes('2 Pier Road'), 'the PDF shows the new venue');
  assert.ok(words.includes(ORGANIZER_NAME.toUpperCase()), "the organizer's profile names the issuer");
  const dir = await tempDir('ticketd-edited-');
  const { code } = await readTicket(pdf, dir.path);
  await dir.remove();
  assert.equal(code, s.typedTickets[0].code, 'the same signed code');
});

test('the organizer refunds one order (the door then says VOID) and lets buyers cancel; the buyer cancels the next one', async () => {
  const base = ticketd.url;
  const buyerPage = s.buyerPage;
  // B buys one more ticket of the paid event.
  const orderId = await buyPaidTicket(buyerPage, base);
  const downloading = buyerPage.waitForEvent('download');
  await buyerPage.getByRole('button', { name: 'Download ticket (PDF)' }).click();
  const pdf = join(work.path, 'refunded-ticket.pdf');
  await (await downloading).saveAs(pdf);
  const dir = await tempDir('ticketd-refund-qr-');
  const { code } = await readTicket(pdf, dir.path);
  await dir.remove();

  // A refunds that order from the attendee list: the first click asks, the second refunds.
  const page = s.orgPage;
  await page.goto(`${base}/?manage=${s.eventId}`);
  const refund = page.locator(`[data-refund="${orderId}"]`);
  await refund.waitFor();
  const sold = Number(await page.locator('.stat[data-stat="sold"] dd').textContent());
  await refund.click();
  await page.getByRole('button', { name: 'Confirm refund' }).click();
  await page.getByText('Order refunded: 1 ticket void, €25.00 back to the buyer.').waitFor();
  await page.locator(`[data-refund="${orderId}"]`).waitFor({ state: 'detached' });
  assert.equal(Number(await page.locator('.stat[data-stat="sold"] dd').textContent()), sold - 1, 'the seat is back on sale');
  await screenshot(page, 'order-refunded-organizer');

  // B's order page says so; the door turns the ticket away and says why.
  await buyerPage.goto(`${base}/?order=${orderId}`);
  await buyerPage.getByRole('heading', { name: 'This order was refunded' }).waitFor();
  await buyerPage.getByText('Reason: The organizer refunded this order.').waitFor();
  await buyerPage.getByText('Refund: €25.00 has been returned to your card. The ticket is no longer valid.').waitFor();
  assert.equal(await buyerPage.getByRole('button', { name: 'Download ticket (PDF)' }).count(), 0, 'nothing to download');
  await screenshot(buyerPage, 'order-refunded');
  await page.goto(`${base}/?page=scan`);
  const result = await checkCode(page, code);
  await result.and(page.locator('[data-result="VOID"]')).waitFor();
  assert.match(await result.textContent(), /VOID.*Do not admit: the order was refunded\./);
  await screenshot(page, 'scan-void');

  // A lets buyers cancel until a day before the start; B buys once more and cancels.
  await page.goto(`${base}/?edit=${s.eventId}`);
  const cutoff = page.getByLabel('Buyers may cancel until');
  assert.equal(await cutoff.inputValue(), '', 'buyers cannot cancel by default');
  await cutoff.fill('24');
  const saved = page.waitForResponse((response) => response.request().method() === 'PUT');
  await page.getByRole('button', { name: 'Save changes' }).click();
  const edited = await (await saved).json();
  assert.equal(edited.cancellationCutoffHours, 24);
  assert.equal(Date.parse(edited.cancellableUntil), s.paidStartsAt - 24 * 3_600_000, 'a day before the start');

  await buyPaidTicket(buyerPage, base);
  await buyerPage.getByText(/^You can cancel this order for a full refund until /).waitFor();
  await buyerPage.getByRole('button', { name: 'Cancel order' }).click();
  await buyerPage.getByRole('button', { name: 'Confirm cancellation' }).click();
  await buyerPage.getByRole('heading', { name: 'This order was refunded' }).waitFor();
  await buyerPage.getByText('Reason: You cancelled this order.').waitFor();
  await buyerPage.getByText('Refund: €25.00 has been returned to your card. The ticket is no longer valid.').waitFor();
  assert.equal(await buyerPage.getByRole('button', { name: 'Cancel order' }).count(), 0, 'nothing left to cancel');
  await screenshot(buyerPage, 'order-cancelled');
});

test('an expired session says so and signs in again; a refreshable one carries on', async () => {
  const base = ticketd.url;
  const page = s.orgPage;

  // Tokens past their time but a good refresh token: refreshed quietly.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('ticketd.session'));
    sessionStorage.setItem('ticketd.session', JSON.stringify({ ...session, expiresAt: 0 }));
  });
  await page.goto(`${base}/?page=organizer`);
  await page.getByRole('heading', { name: 'Your events' }).waitFor();

  // Refresh refused: the session is over.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('ticketd.session'));
    sessionStorage.setItem('ticketd.session', JSON.stringify({ ...session, expiresAt: 0, refreshToken: 'revoked' }));
  });
  await page.goto(`${base}/?manage=${s.eventId}`);
  await page.getByRole('heading', { name: 'Your session has expired — sign in again' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ticketd.session')), null, 'the dead session is forgotten');
  await screenshot(page, 'session-expired');
  await page.getByRole('button', { name: 'Sign in again' }).click();
  // The identity provider's session is still live: straight back, to the same page.
  await page.getByRole('heading', { name: PAID_EVENT }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get('manage'), s.eventId);

  // A token the API refuses mid-page (401) ends the session the same way.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('ticketd.session'));
    const [head, , sig] = session.idToken.split('.');
    const claims = JSON.parse(atob(session.idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const forged = btoa(JSON.stringify({ ...claims, name: 'Mallory' })).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    sessionStorage.setItem('ticketd.session', JSON.stringify({ ...session, idToken: `${head}.${forged}.${sig}`, refreshToken: 'revoked' }));
  });
  await page.goto(`${base}/?page=tickets`);
  await page.getByRole('heading', { name: 'Your session has expired — sign in again' }).waitFor();
});

test('sign-out ends the session here and at the identity provider', async () => {
  const base = ticketd.url;
  const page = s.buyerPage;
  await page.goto(`${base}/?page=tickets`);
  await page.getByRole('heading', { name: 'My tickets' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: /Find an event/ }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'nothing left in storage');
  // Signing in again asks for the password: the identity provider's session ended too.
  await page.getByRole('button', { name: 'Sign in', exact: true }).first().click();
  await page.waitForURL(/\/auth\/login/);
  await page.getByLabel('Password').waitFor();
  await screenshot(page, 'idp-sign-in');
  // A page that needs a session says so.
  await page.goto(`${base}/?page=tickets`);
  await page.getByRole('heading', { name: 'Sign in to continue' }).waitFor();
});

test('every page works at phone width', async () => {
  const base = ticketd.url;
  const context = await newContext(browser, { phone: true });
  const page = watch(await context.newPage(), 'phone');
  await page.goto(base);
  await page.getByRole('heading', { name: /Find an event/ }).waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-landing');
  await signIn(page, base, buyer);
  await page.getByRole('heading', { name: 'Upcoming events' }).waitFor();
  await page.locator('.event-card').first().waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-events');
  await page.goto(`${base}/?event=${s.eventId}`);
  await page.getByRole('heading', { name: PAID_EVENT }).waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-event');
  await page.goto(`${base}/?event=${s.typedEventId}`);
  await page.getByRole('group', { name: 'Choose your tickets' }).waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-event-ticket-types');
  await page.goto(`${base}/?order=${s.orderId}`);
  await page.getByText('Your ticket is ready').waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-order');
  await page.goto(`${base}/?page=tickets`);
  await page.locator('.ticket-card').first().waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-my-tickets');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: /Find an event/ }).waitFor();

  await signIn(page, base, organizer);
  for (const [path, heading, name] of [
    ['/?page=organizer', 'Your events', 'phone-organizer-events'],
    [`/?manage=${s.eventId}`, PAID_EVENT, 'phone-organizer-event'],
    ['/?page=new-event', 'Create event', 'phone-create-event'],
  ]) {
    await page.goto(`${base}${path}`);
    await page.getByRole('heading', { name: heading }).waitFor();
    await page.waitForLoadState('networkidle');
    await assertFits(page);
    await screenshot(page, name);
  }
  await page.getByRole('button', { name: 'Add ticket type' }).click();
  await assertFits(page);
  await screenshot(page, 'phone-create-event-ticket-types');
  await page.goto(`${base}/?manage=${s.typedEventId}`);
  await page.locator('#type-stats').waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-organizer-event-ticket-types');
  await page.goto(`${base}/?page=scan`);
  await page.getByRole('textbox', { name: 'Ticket code' }).fill(s.code);
  await page.getByRole('button', { name: 'Check ticket' }).click();
  await page.locator('[data-result="USED"]').waitFor();
  await assertFits(page);
  await screenshot(page, 'phone-scan');
  await context.close();
});

test('the organizer cancels the paid event: sales stop, every buyer is refunded, the door says VOID', async () => {
  const base = ticketd.url;
  const page = s.orgPage;
  // The previous tests ended this session and signed B out: both sign in again (A's identity
  // provider session is still live).
  await page.goto(`${base}/?manage=${s.eventId}`);
  await page.getByRole('main').getByRole('button', { name: /^Sign in/ }).click();
  await page.getByRole('heading', { name: PAID_EVENT }).waitFor();
  const buyerPage = s.buyerPage;
  await signIn(buyerPage, base, buyer);

  // The first click asks; the second cancels.
  await page.getByRole('button', { name: 'Cancel event' }).click();
  await page.getByRole('button', { name: 'Yes, cancel and refund everyone' }).click();
  await page.getByText(/^This event is cancelled/).waitFor();
  assert.equal(await page.locator('#edit-event').count(), 0, 'a cancelled event is not edited');
  // The refunds run in the background; the panel follows them to the end.
  const progress = page.locator('#cancellation-progress');
  await progress.filter({ hasText: /^Refunds finished / }).waitFor({ timeout: 30_000 });
  const [, refunded, sold] = (await progress.textContent()).match(/: ([\d,]+) of ([\d,]+) tickets? refunded\.$/);
  assert.equal(refunded, sold, 'every ticket refunded');
  assert.ok(Number(sold) >= 1, 'B held a ticket');
  await page.locator('.stat[data-stat="sold"] dd', { hasText: /^0$/ }).waitFor();
  await screenshot(page, 'event-cancelled-organizer');

  // B's first order (its ticket was used at the door) is refunded, and says why.
  await buyerPage.goto(`${base}/?order=${s.orderId}`);
  await buyerPage.getByRole('heading', { name: 'This order was refunded' }).waitFor();
  await buyerPage.getByText('Reason: The event was cancelled.').waitFor();
  await buyerPage.getByText('Refund: €25.00 has been returned to your card. The ticket is no longer valid.').waitFor();
  await screenshot(buyerPage, 'order-refunded-event-cancelled');
  // Nobody buys any more.
  await buyerPage.goto(`${base}/?event=${s.eventId}`);
  await buyerPage.getByText('This event was cancelled', { exact: true }).first().waitFor();
  const buy = buyerPage.locator('#buy');
  assert.ok(await buy.isDisabled(), 'Buy is closed');
  await screenshot(buyerPage, 'event-cancelled');

  // The door turns the ticket away and says why.
  await page.goto(`${base}/?page=scan`);
  const result = await checkCode(page, s.code);
  await result.and(page.locator('[data-result="VOID"]')).waitFor();
  assert.match(await result.textContent(), /VOID.*Do not admit: the event was cancelled\./);
});
