// `/`: upcoming events with live seats left (signed in), or what the site is (signed out).

import * as api from '../api.js';
import * as auth from '../auth.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { emptyState, eventCard, every, link, notice, pageHeader, routes, updateAvailabilityBadge } from './common.js';

const PAGE_SIZE = 20;
const REFRESH_MS = 15_000;

export default async function homePage({ main, signal, user, message }) {
  if (!user) return landing(main, message);
  setTitle('Upcoming events');

  const list = h('ul', { class: 'event-list', 'aria-label': 'Upcoming events' });
  const more = h('div', { class: 'list-more' });
  const live = h('p', { class: 'live-note' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Seats update live');
  const shown = new Map();
  let cursor = null;

  const addPage = async () => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    const page = await api.get(`/events?${query}`, { signal });
    for (const event of page.items) {
      if (shown.has(event.id)) continue;
      shown.set(event.id, event);
      list.append(eventCard(event, routes.event(event.id)));
    }
    cursor = page.nextCursor;
    replace(
      more,
      cursor
        ? h('button', {
            type: 'button',
            class: 'button button-secondary',
            text: 'Show more events',
            onClick: async (click) => {
              click.currentTarget.disabled = true;
              await addPage();
            },
          })
        : null,
    );
    return page;
  };

  await addPage();
  if (signal.aborted) return;
  const actions = user.isOrganizer
    ? link(routes.newEvent(), { class: 'button button-primary' }, icon('plus'), 'Create event')
    : null;
  replace(
    main,
    pageHeader('Upcoming events', { lead: `Welcome, ${user.name}. Pick an event and get your ticket in a minute.`, actions }),
    shown.size
      ? [live, list, more]
      : emptyState('No upcoming events yet', 'New events appear here as soon as organizers publish them.', user.isOrganizer ? link(routes.newEvent(), { class: 'button button-primary' }, 'Create the first event') : null),
  );

  // Live seats: refresh the first page's availability in place.
  every(
    REFRESH_MS,
    async () => {
      const page = await api.get(`/events?limit=${PAGE_SIZE}`, { signal });
      for (const event of page.items) {
        const badge = list.querySelector(`[data-availability="${CSS.escape(event.id)}"]`);
        if (badge) updateAvailabilityBadge(badge, event);
      }
    },
    signal,
  );
}

function landing(main, message) {
  setTitle(null);
  replace(
    main,
    h(
      'section',
      { class: 'hero' },
      h('p', { class: 'eyebrow', text: 'Tickets, simply' }),
      h('h1', { tabindex: '-1', text: 'Find an event. Get your ticket. Walk right in.' }),
      message ? notice('error', null, h('p', { text: message })) : null,
      h('p', { class: 'lead', text: 'Browse upcoming events, pay securely with Stripe and download your ticket with its QR code. Organizers publish events, follow sales live and scan tickets at the door.' }),
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'button', class: 'button button-primary button-large', onClick: () => auth.signIn({ signUp: true }), text: 'Create a free account' }),
        h('button', { type: 'button', class: 'button button-secondary button-large', onClick: () => auth.signIn(), text: 'Sign in' }),
      ),
    ),
    h(
      'ul',
      { class: 'features' },
      feature('calendar', 'Live availability', 'See exactly how many seats are left, updated as people buy.'),
      feature('ticket', 'Your ticket, instantly', 'A PDF ticket with a signed QR code, ready to download again whenever you need it.'),
      feature('scan', 'Fast at the door', 'Organizers scan with a phone camera: one ticket, one entry.'),
    ),
  );
}

function feature(iconName, title, text) {
  return h('li', { class: 'feature' }, h('div', { class: 'feature-icon' }, icon(iconName)), h('h2', { text: title }), h('p', { text }));
}
