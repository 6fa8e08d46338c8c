// `/?page=organizer`: the organizer's own events with live numbers.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { dateTile, emptyState, eventWhen, every, link, pageHeader, priceLabel, routes } from './common.js';
import { organizerProfileSection } from './organizer-profile.js';

const REFRESH_MS = 5_000;

export default async function organizerPage({ main, signal }) {
  setTitle('Your events');
  const load = async () => {
    const items = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ mine: 'true', limit: '100' });
      if (cursor) query.set('cursor', cursor);
      const page = await api.get(`/events?${query}`, { signal });
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && items.length < 500);
    return items;
  };
  const [events, profile] = await Promise.all([load(), organizerProfileSection({ signal })]);
  if (signal.aborted) return;

  const list = h('ul', { class: 'org-list' });
  const draw = (items) => {
    const now = Date.now();
    const upcoming = items.filter((event) => new Date(event.startsAt).getTime() >= now);
    const past = items.filter((event) => new Date(event.startsAt).getTime() < now).reverse();
    replace(list, [...upcoming, ...past].map(orgCard));
  };
  draw(events);

  replace(
    main,
    pageHeader('Your events', {
      lead: 'Sales and check-ins update live.',
      actions: [
        link(routes.scan(), { class: 'button button-secondary' }, icon('scan'), 'Scan tickets'),
        link(routes.newEvent(), { class: 'button button-primary' }, icon('plus'), 'Create event'),
      ],
    }),
    events.length
      ? list
      : emptyState('You have no events yet', 'Create your first event: it is saved as a draft, and goes on sale when you publish it.', link(routes.newEvent(), { class: 'button button-primary' }, icon('plus'), 'Create event')),
    profile,
  );
  if (events.length) every(REFRESH_MS, async () => draw(await load()), signal);
}

function orgCard(event) {
  const stats = event.availability;
  const notOnSale = { DRAFT: 'Draft', UNPUBLISHED: 'Unpublished' }[event.visibility] ?? 'Not on sale';
  const statusText = { OPEN: 'On sale', SOLD_OUT: 'Sold out', ENDED: 'Started', CANCELLED: 'Cancelled', NOT_ON_SALE: notOnSale }[stats.status] ?? stats.status;
  const tone = { OPEN: 'good', SOLD_OUT: 'bad', ENDED: 'muted', CANCELLED: 'bad', NOT_ON_SALE: 'muted' }[stats.status] ?? 'muted';
  return h(
    'li',
    { class: 'org-card', dataset: { event: event.id } },
    h(
      'div',
      { class: 'org-card-head' },
      dateTile(event.startsAt, event.timeZone),
      h(
        'div',
        { class: 'org-card-title' },
        h('h2', {}, link(routes.manage(event.id), { class: 'stretched-link' }, event.title)),
        h('p', { class: 'event-card-meta' }, h('span', { class: 'meta-item' }, icon('calendar'), eventWhen(event)), h('span', { class: 'meta-item' }, icon('pin'), event.venue)),
      ),
      h('div', { class: 'org-card-side' }, h('span', { class: ['badge', `badge-${tone}`], text: statusText }), h('span', { class: 'price', text: priceLabel(event) })),
    ),
    statsGrid(stats),
    capacityBar(stats),
  );
}

/** Sold, held, remaining and checked in, as four figures. */
export function statsGrid(stats) {
  const figure = (key, label, value, hint) =>
    h('div', { class: ['stat', `stat-${key}`], dataset: { stat: key } }, h('dt', { text: label }), h('dd', { text: value.toLocaleString() }), hint ? h('span', { class: 'stat-hint', text: hint }) : null);
  return h(
    'dl',
    { class: 'stats' },
    figure('sold', 'Sold', stats.sold, `of ${stats.capacity.toLocaleString()}`),
    figure('held', 'Held', stats.held, 'paying now'),
    figure('remaining', 'Remaining', stats.remaining),
    figure('checkedIn', 'Checked in', stats.checkedIn, stats.sold ? `${Math.round((stats.checkedIn / stats.sold) * 100)}% of sold` : null),
  );
}

/** A bar of the capacity: checked in, sold, held, free. Decorative: the figures say it all. */
export function capacityBar(stats) {
  const bar = h('div', { class: 'capacity-bar', 'aria-hidden': 'true' });
  const part = (name, value) => {
    const segment = h('span', { class: `capacity-${name}` });
    // CSSOM, not a style attribute, so the strict CSP allows it.
    segment.style.width = `${Math.max(0, (value / stats.capacity) * 100)}%`;
    return segment;
  };
  bar.append(part('checked', stats.checkedIn), part('sold', stats.sold - stats.checkedIn), part('held', stats.held));
  return bar;
}
