// Money, dates and counts for people, in the browser's locale. An event's dates and times are
// shown in the event's own time zone (its venue's, named); other times in the browser's.

/** Digits after the decimal point of `currency` (2 for EUR, 0 for JPY), as Intl knows it. */
export function minorDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** `2500, "EUR"` → "€25.00"; 0 → "Free". */
export function money(minor, currency) {
  if (minor === 0) return 'Free';
  try {
    const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

/** `25` → "25%" (or "25 %", as the browser's locale writes a percentage). */
export function percent(whole) {
  return new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 0 }).format(whole / 100);
}

/**
 * A price typed by a person ("25", "25.5", "25,50", "1 200.00") in minor units, or null when
 * it is not an amount of `currency`. Blank is 0 (free).
 */
export function toMinor(text, currency) {
  const digits = minorDigits(currency);
  const cleaned = String(text).trim().replace(/[\s\u00a0']/g, '').replace(',', '.');
  if (cleaned === '') return 0;
  const match = /^(\d+)(?:\.(\d*))?$/.exec(cleaned);
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return null;
  const minor = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || 0);
  return Number.isSafeInteger(minor) ? minor : null;
}

/** A minor amount as a price input shows it: "25.50" for 2550 EUR, "2500" for 2500 JPY. */
export function amountInput(minor, currency) {
  const digits = minorDigits(currency);
  return digits ? (minor / 10 ** digits).toFixed(digits) : String(minor);
}

/** What each kind of date and time shows; the zone is added per use. */
const STYLES = {
  dateTime: { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' },
  longDate: { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' },
  time: { hour: '2-digit', minute: '2-digit' },
  month: { month: 'short' },
};
const formats = new Map();

/**
 * `style` in `zone` (no zone: the browser's), with the zone's short name ("CEST", "GMT+5:30")
 * when `named`. Cached: making an Intl.DateTimeFormat is slow. A zone this browser does not know
 * shows UTC, named as such, rather than breaking the page.
 */
function format(style, zone, named = false) {
  const key = `${style} ${zone ?? ''} ${named}`;
  let found = formats.get(key);
  if (!found) {
    const options = { ...STYLES[style], ...(named ? { timeZoneName: 'short' } : {}) };
    try {
      found = new Intl.DateTimeFormat(undefined, zone ? { ...options, timeZone: zone } : options);
    } catch {
      // Named wherever a time shows, so nobody takes UTC for the venue's clock.
      found = new Intl.DateTimeFormat(undefined, { ...options, timeZone: 'UTC', ...(options.hour ? { timeZoneName: 'short' } : {}) });
    }
    formats.set(key, found);
  }
  return found;
}

/**
 * "Sat, 14 Mar 2026, 19:30 CET": in `zone` (an event's, its venue's) and named; without one in the
 * browser's zone, unnamed ("Sat, 14 Mar 2026, 19:30"), for promo codes, scans and such.
 */
export function dateTime(iso, zone) {
  return format('dateTime', zone, Boolean(zone)).format(new Date(iso));
}

/**
 * An event's start to its end in its zone: "Sat, 14 Mar 2026, 19:30–23:00 CET", or with the end's
 * date when it is another day (as the browser's locale writes a range). No end: as `dateTime`.
 */
export function dateTimeRange(startIso, endIso, zone) {
  const [start, end] = [new Date(startIso), new Date(endIso)];
  if (!endIso || !(end > start)) return dateTime(startIso, zone);
  return format('dateTime', zone, Boolean(zone)).formatRange(start, end);
}

/** "Saturday, 14 March 2026": the date in `zone` (the browser's without one). */
export function longDate(iso, zone) {
  return format('longDate', zone).format(new Date(iso));
}

/** "19:30 CET" in `zone`; without one the browser's, unnamed: "19:30". */
export function time(iso, zone) {
  return format('time', zone, Boolean(zone)).format(new Date(iso));
}

/**
 * An event's end after its start's time ("Starts at 19:30 CET · ends …"), in `zone`: "23:00" on the
 * start's day, else with its date ("Sun, 15 Mar 2026, 02:00"); named only when the zone's name
 * differs from the start's (the clocks changed overnight).
 */
export function endTime(startIso, endIso, zone) {
  const sameDay = longDate(startIso, zone) === longDate(endIso, zone);
  const named = Boolean(zone) && zoneAbbreviation(startIso, zone) !== zoneAbbreviation(endIso, zone);
  return format(sameDay ? 'time' : 'dateTime', zone, named).format(new Date(endIso));
}

/** The zone's short name at `iso` as this browser writes it: "CEST", "GMT+5:30". */
function zoneAbbreviation(iso, zone) {
  return format('time', zone, true).formatToParts(new Date(iso)).find((part) => part.type === 'timeZoneName')?.value ?? '';
}

/** For the calendar badge: { month: "MAR", day: "14" }, the date in `zone` (the browser's without one). */
export function badgeDate(iso, zone) {
  const date = new Date(iso);
  const month = format('month', zone).format(date).replace('.', '').toUpperCase();
  let day;
  try {
    day = wallClock(date.getTime(), zone).day;
  } catch {
    day = date.getUTCDate(); // an unknown zone: UTC, as `format` shows it
  }
  return { month, day: String(day) };
}

const DAY_MS = 86_400_000;
const clocks = new Map();

/**
 * The wall clock in `zone` (the browser's without one) at `ms`: { year, month, day, hour, minute,
 * second }. Throws a RangeError for a zone Intl does not know.
 */
function wallClock(ms, zone) {
  const key = zone ?? '';
  let clock = clocks.get(key);
  if (!clock) {
    // Latin digits and a 0–23 hour whatever the page's locale: only the numbers are read.
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    clocks.set(key, clock);
  }
  const wall = {};
  for (const { type, value } of clock.formatToParts(ms)) if (type !== 'literal') wall[type] = Number(value);
  return wall;
}

/** A wall clock's reading as if it were UTC, in ms (setUTCFullYear: years below 100 stay themselves). */
function asUtc({ year, month, day, hour = 0, minute = 0, second = 0 }) {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/** How far `zone`'s clocks are ahead of UTC at `ms`, in ms (7_200_000 in Zurich in summer). */
function offsetAt(ms, zone) {
  const whole = Math.floor(ms / 1000) * 1000;
  return asUtc(wallClock(whole, zone)) - whole;
}

/**
 * `iso` as a `datetime-local` input shows it: the wall clock in `zone` (the browser's without
 * one) to the minute, "2026-03-14T19:30"; none → "". Throws a RangeError for an unknown zone.
 */
export function dateTimeInput(iso, zone) {
  const ms = iso ? new Date(iso).getTime() : NaN;
  if (Number.isNaN(ms)) return '';
  const wall = wallClock(ms, zone);
  const pad = (number, width = 2) => String(number).padStart(width, '0');
  return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}`;
}

/**
 * The instant (ISO) a `datetime-local` value ("2030-07-01T10:30") means on the clocks of `zone`
 * (the browser's without one): the inverse of `dateTimeInput`. Null when the clocks skip that time
 * (they go forward); the earlier instant when they show it twice (they go back). Throws a
 * RangeError for a value that is no such date and time, or a zone Intl does not know.
 */
export function fromDateTimeInput(value, zone) {
  const match = /^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?$/.exec(String(value));
  if (!match) throw new RangeError(`not a date and time: ${value}`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const wall = asUtc({ year, month, day, hour, minute, second });
  const check = new Date(wall);
  if (check.getUTCMonth() + 1 !== month || check.getUTCDate() !== day || check.getUTCHours() !== hour || minute > 59 || second > 59) {
    throw new RangeError(`not a date and time: ${value}`);
  }
  // The zone's offsets around then: at the wall time read as UTC, once more at the instant that
  // gives, and a day either side (both sides of a change of clocks that day). Each offset whose
  // instant shows this wall time fits.
  const first = offsetAt(wall, zone);
  const offsets = new Set([first, offsetAt(wall - first, zone), offsetAt(wall - DAY_MS, zone), offsetAt(wall + DAY_MS, zone)]);
  const fits = [...offsets]
    .map((offset) => wall - offset)
    .filter((ms) => asUtc(wallClock(ms, zone)) === wall)
    .sort((a, b) => a - b);
  return fits.length ? new Date(fits[0] + Number((match[7] ?? '').padEnd(3, '0'))).toISOString() : null;
}

let zoneList = null;

/** Every IANA zone this browser knows, and UTC (which Intl may not list), sorted. */
export function timeZones() {
  zoneList ??= [...new Set([...(Intl.supportedValuesOf?.('timeZone') ?? []), 'UTC'])].sort();
  return zoneList;
}

/**
 * A typed zone as the API takes it ("europe/zurich" → "Europe/Zurich"), or null when Intl does not
 * know it. A name Intl takes but does not list (an alias: Asia/Kolkata where it lists
 * Asia/Calcutta) is kept as typed.
 */
export function zoneName(text) {
  const name = String(text ?? '').trim();
  if (!name) return null;
  const listed = timeZones().find((zone) => zone.toLowerCase() === name.toLowerCase());
  if (listed) return listed;
  try {
    const resolved = new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  } catch {
    return null;
  }
}

/** The browser's IANA zone (a new event's default), UTC when it names none. */
export function browserZone() {
  return zoneName(Intl.DateTimeFormat().resolvedOptions().timeZone) ?? 'UTC';
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago", "in 2 days". */
export function relative(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const units = [
    ['year', 31536000],
    ['month', 2592000],
    ['week', 604800],
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.trunc(seconds / size), unit);
  }
  return relativeFormat.format(seconds, 'second');
}

/** "1 seat" / "12 seats". */
export function plural(count, one, many) {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

/** The browser's time zone, for labels such as "Times are in Europe/Berlin". */
export function timeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'your time zone';
}
