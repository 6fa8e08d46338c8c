// `/?event=<id>`: one event, its live availability and Buy. Stripe's cancel URL lands here too.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { dateTime, longDate, money, plural, time } from '../format.js';
import { availability, availabilityBadge, every, fact, link, notice, pageHeader, routes, updateAvailabilityBadge } from './common.js';

const REFRESH_MS = 10_000;

export default async function eventPage({ main, signal, id, navigate }) {
  const event = await api.get(`/events/${api.seg(id)}`, { signal });
  if (signal.aborted) return;
  setTitle(event.title);

  const badge = availabilityBadge(event);
  const seatsText = h('span', { text: seatsLine(event) });
  const status = h('div', { class: 'buy-status', role: 'status', 'aria-live': 'polite' });
  const buy = h('button', { type: 'button', class: 'button button-primary button-large button-block', id: 'buy' });
  const updateBuy = (current) => {
    const { tone } = availability(current);
    const open = current.availability.status === 'OPEN' && tone !== 'bad';
    buy.disabled = !open;
    buy.replaceChildren(icon('ticket'), open ? (current.priceMinor === 0 ? 'Get a free ticket' : `Buy ticket · ${money(current.priceMinor, current.currency)}`) : current.availability.status === 'ENDED' ? 'This event has started' : 'Sold out');
  };
  updateBuy(event);

  buy.addEventListener('click', async () => {
    buy.disabled = true;
    const label = buy.lastChild.textContent;
    buy.lastChild.textContent = 'Reserving your seat…';
    replace(status);
    try {
      const order = await api.post(`/events/${api.seg(event.id)}/checkout`, {}, { signal });
      if (order.checkoutUrl) {
        buy.lastChild.textContent = 'Opening secure checkout…';
        location.assign(new URL(order.checkoutUrl).href);
      } else {
        navigate(routes.order(order.orderId));
      }
    } catch (error) {
      if (error?.name === 'AbortError') return;
      buy.lastChild.textContent = label;
      buy.disabled = false;
      replace(status, notice(error.status === 409 ? 'warn' : 'error', error.status === 409 ? 'No seat for you this time' : 'Could not start checkout', h('p', { text: error.message })));
      if (error.status === 409) refresh().catch(() => {});
    }
  });

  const refresh = async () => {
    const fresh = await api.get(`/events/${api.seg(event.id)}`, { signal });
    updateAvailabilityBadge(badge, fresh);
    seatsText.textContent = seatsLine(fresh);
    if (!buy.lastChild?.textContent?.endsWith('…')) updateBuy(fresh);
  };

  replace(
    main,
    pageHeader(event.title, { back: { href: routes.home(), label: 'All events' } }),
    h(
      'div',
      { class: 'event-layout' },
      h(
        'article',
        { class: 'panel event-details' },
        h(
          'dl',
          { class: 'facts' },
          fact('calendar', 'When', h('time', { datetime: event.startsAt, text: longDate(event.startsAt) }), h('span', { class: 'fact-sub', text: `Starts at ${time(event.startsAt)}` })),
          fact('pin', 'Where', event.venue),
          fact('tag', 'Price', money(event.priceMinor, event.currency)),
          fact('seat', 'Seats', seatsText),
        ),
        event.description
          ? h('section', { class: 'description' }, h('h2', { text: 'About this event' }), h('p', { class: 'prose', text: event.description }))
          : null,
      ),
      h(
        'aside',
        { class: 'panel buy-box', 'aria-label': 'Tickets' },
        h('p', { class: 'buy-price', text: money(event.priceMinor, event.currency) }),
        h('p', { class: 'buy-when', text: dateTime(event.startsAt) }),
        badge,
        buy,
        status,
        h('p', { class: 'fine-print', text: event.priceMinor === 0 ? 'Free entry. Your ticket is ready in seconds.' : 'Your seat is held for half an hour while you pay on Stripe’s secure page.' }),
        event.organizedByYou
          ? h('div', { class: 'organizer-note' }, h('p', { text: 'You organize this event.' }), link(routes.manage(event.id), { class: 'button button-secondary button-block' }, icon('users'), 'Manage event'))
          : null,
      ),
    ),
  );
  every(REFRESH_MS, refresh, signal);
}

function seatsLine(event) {
  const stats = event.availability;
  if (stats.status === 'ENDED') return 'This event has started';
  if (stats.remaining <= 0) return `Sold out (${plural(stats.capacity, 'seat', 'seats')})`;
  return `${stats.remaining.toLocaleString()} of ${plural(stats.capacity, 'seat', 'seats')} left`;
}
