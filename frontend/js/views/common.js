// Pieces several pages use: links, headings, event cards, availability, notices, polling.

import { h, icon } from '../dom.js';
import { badgeDate, dateTime, money, plural } from '../format.js';

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

/** Updates a badge made by availabilityBadge in place. */
export function updateAvailabilityBadge(badge, event) {
  const { text, tone } = availability(event);
  badge.textContent = text;
  badge.className = `badge badge-${tone}`;
}

/** The calendar tile: month over day. */
export function dateTile(iso) {
  const { month, day } = badgeDate(iso);
  return h('div', { class: 'date-tile', 'aria-hidden': 'true' }, h('span', { class: 'date-tile-month', text: month }), h('span', { class: 'date-tile-day', text: day }));
}

/** An event in a list: date tile, title (link), when, where, price, seats. */
export function eventCard(event, href) {
  return h(
    'li',
    { class: 'event-card' },
    dateTile(event.startsAt),
    h(
      'div',
      { class: 'event-card-body' },
      h('h2', { class: 'event-card-title' }, link(href, { class: 'stretched-link' }, event.title)),
      h(
        'p',
        { class: 'event-card-meta' },
        h('span', { class: 'meta-item' }, icon('calendar'), h('time', { datetime: event.startsAt, text: dateTime(event.startsAt) })),
        h('span', { class: 'meta-item' }, icon('pin'), event.venue),
      ),
    ),
    h(
      'div',
      { class: 'event-card-side' },
      h('span', { class: 'price', text: money(event.priceMinor, event.currency) }),
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
