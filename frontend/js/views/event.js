// `/?event=<id>`: one event, its ticket types with live availability, the holder's name and Buy.
// Stripe's cancel URL lands here too. One ticket per order for now.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { dateTime, longDate, money, plural, time } from '../format.js';
import {
  availabilityBadge,
  every,
  fact,
  link,
  notice,
  pageHeader,
  priceLabel,
  routes,
  typeAvailability,
  typeOnSale,
  typeStats,
  updateAvailabilityBadge,
} from './common.js';

const REFRESH_MS = 10_000;
const HOLDER_MAX = 200;

export default async function eventPage({ main, signal, id, navigate, user }) {
  const event = await api.get(`/events/${api.seg(id)}`, { signal });
  if (signal.aborted) return;
  setTitle(event.title);

  const types = event.ticketTypes ?? [];
  const choosing = types.length > 1;
  let latest = event;
  // One type: that one. Several: the first that can be bought now, so Buy works at once.
  let selectedId = choosing ? (types.find((type) => typeOnSale(event, type.id))?.id ?? null) : (types[0]?.id ?? null);
  const selected = () => types.find((type) => type.id === selectedId) ?? null;

  const badge = availabilityBadge(event);
  const seatsText = h('span', { text: seatsLine(event) });
  const status = h('div', { class: 'buy-status', role: 'status', 'aria-live': 'polite' });
  const total = h('p', { class: 'order-total', id: 'order-total' });
  const buy = h('button', { type: 'button', class: 'button button-primary button-large button-block', id: 'buy' });

  const holder = h('input', {
    type: 'text',
    id: 'holder-name',
    name: 'holderName',
    autocomplete: 'name',
    maxlength: String(HOLDER_MAX),
    placeholder: 'your name',
    'aria-describedby': 'holder-name-hint holder-name-error',
  });
  const holderError = h('p', { class: 'field-error', id: 'holder-name-error', hidden: true });
  const showHolderError = (text) => {
    holderError.textContent = text ?? '';
    holderError.hidden = !text;
    if (text) holder.setAttribute('aria-invalid', 'true');
    else holder.removeAttribute('aria-invalid');
  };
  // Without ticket types (an older API) there is nothing to name a holder on.
  const holderField = types.length
    ? h(
        'div',
        { class: 'field holder-field' },
        h('label', { for: 'holder-name', text: 'Name on the ticket' }),
        h('p', { class: 'field-hint', id: 'holder-name-hint', text: `Optional. Leave empty for your own name${user?.name ? ` (${user.name})` : ''}.` }),
        holder,
        holderError,
      )
    : null;

  // Each type's availability badge, updated in place so the choice and focus survive refreshes.
  const typeBadges = new Map();
  const typeInputs = new Map();
  const option = (type) => {
    const { text, tone } = typeAvailability(event, type);
    const badgeId = `type-${type.id}-availability`;
    const descriptionId = `type-${type.id}-description`;
    const typeBadge = h('span', { class: ['badge', `badge-${tone}`], id: badgeId, text });
    typeBadges.set(type.id, typeBadge);
    const body = h(
      'span',
      { class: 'type-option-body' },
      h('span', { class: 'type-option-head' }, h('span', { class: 'type-name', id: `type-${type.id}-name`, text: type.name }), h('span', { class: 'type-price', id: `type-${type.id}-price`, text: money(type.priceMinor, event.currency) })),
      type.description ? h('span', { class: 'type-description', id: descriptionId, text: type.description }) : null,
      typeBadge,
    );
    if (!choosing) return h('div', { class: 'type-option type-option-only', dataset: { ticketType: type.id } }, body);
    const input = h('input', {
      type: 'radio',
      name: 'ticketType',
      value: type.id,
      checked: type.id === selectedId,
      disabled: !typeOnSale(event, type.id),
      // Named by the type's name alone; price, description and availability are its description.
      'aria-labelledby': `type-${type.id}-name`,
      'aria-describedby': [`type-${type.id}-price`, type.description ? descriptionId : null, badgeId].filter(Boolean).join(' '),
      onChange: () => {
        selectedId = type.id;
        replace(status);
        updateBuy();
      },
    });
    typeInputs.set(type.id, input);
    return h('label', { class: 'type-option', dataset: { ticketType: type.id } }, input, body);
  };
  // A single type only gets a card when it says more than the event's badge does.
  const worthACard = (type) => type.description || ['NOT_YET_ON_SALE', 'SALES_ENDED'].includes(typeStats(event, type.id)?.status);
  const picker = choosing
    ? h('fieldset', { class: 'type-picker', id: 'ticket-types' }, h('legend', { text: 'Choose a ticket' }), types.map(option))
    : types.length === 1 && worthACard(types[0])
      ? h('div', { class: 'type-picker', id: 'ticket-types' }, option(types[0]))
      : null;

  const updateBuy = () => {
    const { open, text } = buyState(latest, types, selected(), choosing);
    buy.disabled = !open;
    buy.replaceChildren(icon('ticket'), text);
    const type = selected();
    const price = type ? type.priceMinor : types.length ? null : latest.priceMinor;
    total.hidden = price === null;
    if (price !== null) {
      replace(total, h('span', { text: choosing ? `Total (1 × ${type.name})` : 'Total' }), h('strong', { text: money(price, latest.currency) }));
    }
  };
  updateBuy();

  buy.addEventListener('click', async () => {
    const holderName = holder.value.replace(/\s+/g, ' ').trim();
    if (holderName.length > HOLDER_MAX) {
      showHolderError(`The name can be at most ${HOLDER_MAX} characters.`);
      holder.focus();
      return;
    }
    showHolderError(null);
    const ticket = { ticketTypeId: selectedId };
    if (holderName) ticket.holderName = holderName;
    const body = types.length ? { tickets: [ticket] } : {};

    buy.disabled = true;
    const label = buy.lastChild.textContent;
    buy.lastChild.textContent = 'Reserving your seat…';
    replace(status);
    try {
      const order = await api.post(`/events/${api.seg(event.id)}/checkout`, body, { signal });
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
      const taken = error.status === 409;
      replace(status, notice(taken ? 'warn' : 'error', taken ? 'This ticket is not available' : 'Could not start checkout', h('p', { text: error.message })));
      // Sold out, off sale or an unknown type: fresh numbers show which types are left.
      if (taken || error.status === 400) refresh().catch(() => {});
    }
  });

  const refresh = async () => {
    const fresh = await api.get(`/events/${api.seg(event.id)}`, { signal });
    latest = fresh;
    updateAvailabilityBadge(badge, fresh);
    seatsText.textContent = seatsLine(fresh);
    for (const type of types) {
      const { text, tone } = typeAvailability(fresh, type);
      const typeBadge = typeBadges.get(type.id);
      if (typeBadge) {
        typeBadge.textContent = text;
        typeBadge.className = `badge badge-${tone}`;
      }
      const input = typeInputs.get(type.id);
      // The chosen type stays chosen (Buy then says why it cannot be bought).
      if (input) input.disabled = !typeOnSale(fresh, type.id) && type.id !== selectedId;
    }
    if (!buy.lastChild?.textContent?.endsWith('…')) updateBuy();
  };

  const allFree = types.length ? types.every((type) => type.priceMinor === 0) : event.priceMinor === 0;
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
          fact('tag', 'Price', priceLabel(event)),
          fact('seat', 'Seats', seatsText),
        ),
        event.description
          ? h('section', { class: 'description' }, h('h2', { text: 'About this event' }), h('p', { class: 'prose', text: event.description }))
          : null,
      ),
      h(
        'aside',
        { class: 'panel buy-box', 'aria-label': 'Tickets' },
        h('p', { class: 'buy-price', text: priceLabel(event) }),
        h('p', { class: 'buy-when', text: dateTime(event.startsAt) }),
        badge,
        picker,
        holderField,
        total,
        buy,
        status,
        h('p', { class: 'fine-print', text: allFree ? 'Free entry. Your ticket is ready in seconds.' : 'Your seat is held for half an hour while you pay on Stripe’s secure page.' }),
        event.organizedByYou
          ? h('div', { class: 'organizer-note' }, h('p', { text: 'You organize this event.' }), link(routes.manage(event.id), { class: 'button button-secondary button-block' }, icon('users'), 'Manage event'))
          : null,
      ),
    ),
  );
  every(REFRESH_MS, refresh, signal);
}

/** What Buy says and whether it works: the event's state first, then the chosen type's. */
function buyState(event, types, type, choosing) {
  const stats = event.availability;
  if (stats.status === 'ENDED') return { open: false, text: 'This event has started' };
  if (stats.status === 'SOLD_OUT' || stats.remaining <= 0) return { open: false, text: 'Sold out' };
  if (types.length && !type) {
    const any = types.some((each) => typeOnSale(event, each.id));
    return { open: false, text: any ? 'Choose a ticket' : 'No tickets on sale right now' };
  }
  if (type && !typeOnSale(event, type.id)) {
    const why = { NOT_YET_ON_SALE: 'not on sale yet', SALES_ENDED: 'no longer on sale' }[typeStats(event, type.id)?.status] ?? 'sold out';
    return { open: false, text: choosing ? `${type.name} is ${why}` : why === 'sold out' ? 'Sold out' : `Tickets are ${why}` };
  }
  const price = type ? type.priceMinor : event.priceMinor;
  return { open: true, text: price === 0 ? 'Get a free ticket' : `Buy ticket · ${money(price, event.currency)}` };
}

function seatsLine(event) {
  const stats = event.availability;
  if (stats.status === 'ENDED') return 'This event has started';
  if (stats.remaining <= 0) return `Sold out (${plural(stats.capacity, 'seat', 'seats')})`;
  return `${stats.remaining.toLocaleString()} of ${plural(stats.capacity, 'seat', 'seats')} left`;
}
