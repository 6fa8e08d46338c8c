// Pieces several pages use: links, headings, event cards, availability, prices, ticket types,
// notices, polling.

import { h, icon } from '../dom.js';
import { badgeDate, dateTime, dateTimeRange, money, plural } from '../format.js';

/** A link to a page of this site (handled without reloading by the router). */
export function link(href, props, ...children) {
  return h('a', { ...props, href, dataset: { nav: '' } }, ...children);
}

export const routes = {
  home: () => '/',
  event: (id) => `/?event=${encodeURIComponent(id)}`,
  order: (id) => `/?order=${encodeURIComponent(id)}`,
  tickets: () => '/?page=tickets',
  organizer: () => '/?page=organizer',
  newEvent: () => '/?page=new-event',
  manage: (id) => `/?manage=${encodeURIComponent(id)}`,
  edit: (id) => `/?edit=${encodeURIComponent(id)}`,
  scan: () => '/?page=scan',
};

/** The page's heading (focused after navigation) with an optional lead and actions. */
export function pageHeader(title, { lead, actions, back } = {}) {
  return h(
    'div',
    { class: 'page-header' },
    back ? link(back.href, { class: 'back-link' }, icon('back'), back.label) : null,
    h(
      'div',
      { class: 'page-header-row' },
      h('div', { class: 'page-header-text' }, h('h1', { tabindex: '-1', text: title }), lead ? h('p', { class: 'lead', text: lead }) : null),
      actions ? h('div', { class: 'page-actions' }, actions) : null,
    ),
  );
}

/** "12 seats left" / "Only 3 left" / "Sold out" / "Started": text and tone. */
export function availability(event) {
  const stats = event.availability;
  if (stats.status === 'CANCELLED') return { text: 'Cancelled', tone: 'bad' };
  if (stats.status === 'NOT_ON_SALE') return { text: event.visibility === 'DRAFT' ? 'Draft' : 'Not on sale', tone: 'muted' };
  if (stats.status === 'ENDED') return { text: 'Started', tone: 'muted' };
  if (stats.status === 'SOLD_OUT' || stats.remaining <= 0) return { text: 'Sold out', tone: 'bad' };
  const few = stats.remaining <= Math.max(5, Math.ceil(stats.capacity * 0.1));
  return {
    text: few ? `Only ${plural(stats.remaining, 'seat', 'seats')} left` : plural(stats.remaining, 'seat left', 'seats left'),
    tone: few ? 'warn' : 'good',
  };
}

export function availabilityBadge(event) {
  const { text, tone } = availability(event);
  return h('span', { class: ['badge', `badge-${tone}`], dataset: { availability: event.id }, text });
}

/** The event's price: its one price, or "From €15.00" when its ticket types differ. */
export function priceLabel(event) {
  const prices = (event.ticketTypes ?? []).map((type) => type.priceMinor);
  if (!prices.length) return money(event.priceMinor, event.currency);
  const [lowest, highest] = [Math.min(...prices), Math.max(...prices)];
  if (lowest === highest) return money(lowest, event.currency);
  // "From Free" reads wrongly: say both ends instead.
  return lowest === 0 ? `Free – ${money(highest, event.currency)}` : `From ${money(lowest, event.currency)}`;
}

/** A ticket type's live numbers (`availability.ticketTypes`), or null when the API sent none. */
export function typeStats(event, typeId) {
  return event.availability?.ticketTypes?.find((stats) => stats.ticketTypeId === typeId) ?? null;
}

/** Whether a type can be bought now; without per-type numbers, whether the event can. */
export function typeOnSale(event, typeId) {
  const stats = typeStats(event, typeId);
  if (!stats) return event.availability.status === 'OPEN' && event.availability.remaining > 0;
  return stats.status === 'ON_SALE' && stats.remaining > 0;
}

/** A type's sales state in words for organizers, and its tone. */
export const TYPE_STATUS = {
  ON_SALE: { text: 'On sale', tone: 'good' },
  SOLD_OUT: { text: 'Sold out', tone: 'bad' },
  NOT_YET_ON_SALE: { text: 'Not yet on sale', tone: 'muted' },
  SALES_ENDED: { text: 'Sales ended', tone: 'muted' },
  ENDED: { text: 'Started', tone: 'muted' },
};

/** A ticket's status in words for its holder, and its tone. */
export function ticketStatus(status) {
  return {
    VALID: { text: 'Valid', tone: 'good' },
    USED: { text: 'Checked in', tone: 'muted' },
    VOID: { text: 'Void', tone: 'bad' },
  }[status] ?? { text: status, tone: 'muted' };
}

/** A type's state for buyers: "Only 2 left" / "Sold out" / "On sale from …": text and tone. */
export function typeAvailability(event, type) {
  const stats = typeStats(event, type.id);
  if (!stats) return availability(event);
  if (stats.status === 'ON_SALE' && stats.remaining <= 0) return TYPE_STATUS.SOLD_OUT;
  switch (stats.status) {
    case 'ON_SALE': {
      const few = stats.remaining <= Math.max(5, Math.ceil(stats.quota * 0.1));
      return { text: few ? `Only ${stats.remaining.toLocaleString()} left` : `${stats.remaining.toLocaleString()} left`, tone: few ? 'warn' : 'good' };
    }
    case 'NOT_YET_ON_SALE':
      return { text: type.salesStart ? `On sale from ${dateTime(type.salesStart)}` : 'Not on sale yet', tone: 'muted' };
    case 'SALES_ENDED':
      return { text: 'Sales have ended', tone: 'muted' };
    default:
      return TYPE_STATUS[stats.status] ?? { text: stats.status, tone: 'muted' };
  }
}

/** Updates a badge made by availabilityBadge in place. */
export function updateAvailabilityBadge(badge, event) {
  const { text, tone } = availability(event);
  badge.textContent = text;
  badge.className = `badge badge-${tone}`;
}

/** The calendar tile: month over day, the date in `zone` (an event's, its venue's). */
export function dateTile(iso, zone) {
  const { month, day } = badgeDate(iso, zone);
  return h('div', { class: 'date-tile', 'aria-hidden': 'true' }, h('span', { class: 'date-tile-month', text: month }), h('span', { class: 'date-tile-day', text: day }));
}

/**
 * When an event is, on its venue's clock and named: "Sat, 14 Mar 2026, 19:30–23:00 CET" (to its
 * end when it has one). The same for everyone, wherever their browser is.
 */
export function eventWhen(event) {
  return dateTimeRange(event.startsAt, event.endsAt, event.timeZone);
}

/** An event in a list: date tile, title (link), when, where, price, seats. */
export function eventCard(event, href) {
  return h(
    'li',
    { class: 'event-card' },
    dateTile(event.startsAt, event.timeZone),
    h(
      'div',
      { class: 'event-card-body' },
      h('h2', { class: 'event-card-title' }, link(href, { class: 'stretched-link' }, event.title)),
      h(
        'p',
        { class: 'event-card-meta' },
        h('span', { class: 'meta-item' }, icon('calendar'), h('time', { datetime: event.startsAt, text: eventWhen(event) })),
        h('span', { class: 'meta-item' }, icon('pin'), event.venue),
      ),
    ),
    h(
      'div',
      { class: 'event-card-side' },
      h('span', { class: 'price', text: priceLabel(event) }),
      availabilityBadge(event),
    ),
  );
}

/** A boxed message: tone is info, success, warn or error. */
export function notice(tone, title, ...body) {
  return h(
    'div',
    { class: ['notice', `notice-${tone}`], role: tone === 'error' ? 'alert' : null },
    title ? h('p', { class: 'notice-title', text: title }) : null,
    body.length ? h('div', { class: 'notice-body' }, body) : null,
  );
}

export function spinner(label) {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

/** Something went wrong loading a page: what, and a way to try again. */
export function errorPanel(error, retry) {
  return notice(
    'error',
    error?.status === 404 ? 'Not found' : 'Something went wrong',
    h('p', { text: error?.message || String(error) }),
    retry ? h('button', { type: 'button', class: 'button button-secondary', onClick: retry, text: 'Try again' }) : null,
  );
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty-state' }, icon('ticket'), h('p', { class: 'empty-title', text: title }), text ? h('p', { text }) : null, action ?? null);
}

/**
 * Runs `task` every `ms` until `signal` aborts, waiting for each run to finish; skips runs while
 * the tab is hidden. Errors are passed to `onError` (the next run still happens).
 */
export function every(ms, task, signal, onError = () => {}) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    if (!document.hidden) {
      try {
        await task();
      } catch (error) {
        if (error?.name !== 'AbortError') onError(error);
      }
    }
    if (!signal.aborted) timer = setTimeout(tick, typeof ms === 'function' ? ms() : ms);
  };
  timer = setTimeout(tick, typeof ms === 'function' ? ms() : ms);
  signal.addEventListener('abort', () => clearTimeout(timer));
}

/** A definition list row for facts like When / Where / Price. */
export function fact(iconName, label, ...value) {
  return h('div', { class: 'fact' }, icon(iconName), h('dt', { text: label }), h('dd', {}, value));
}
