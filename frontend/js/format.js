// Money, dates and counts for people, in the browser's locale and time zone.

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

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const longDateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const monthFormat = new Intl.DateTimeFormat(undefined, { month: 'short' });

/** "Sat, 14 Mar 2026, 19:30" (in the browser's locale). */
export function dateTime(iso) {
  return dateTimeFormat.format(new Date(iso));
}

/** `iso` as a `datetime-local` input shows it: local time to the minute ("2026-03-14T19:30"); none → "". */
export function dateTimeInput(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return '';
  const pad = (number) => String(number).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** "Saturday, 14 March 2026". */
export function longDate(iso) {
  return longDateFormat.format(new Date(iso));
}

/** "19:30". */
export function time(iso) {
  return timeFormat.format(new Date(iso));
}

/** For the calendar badge: { month: "MAR", day: "14" }. */
export function badgeDate(iso) {
  const date = new Date(iso);
  return { month: monthFormat.format(date).replace('.', '').toUpperCase(), day: String(date.getDate()) };
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
