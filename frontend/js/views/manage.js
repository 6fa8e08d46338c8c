// `/?manage=<id>`: one of the organizer's events: live stats (per ticket type too), the attendee
// list and its CSV (made by the API), and its promo codes.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { dateTime, money, plural } from '../format.js';
import { eventWhen, every, fact, link, notice, pageHeader, priceLabel, routes, TYPE_STATUS } from './common.js';
import { capacityBar, statsGrid } from './organizer.js';
import { promoCodesSection } from './promo-codes.js';

const REFRESH_MS = 5_000;
const PAGE_SIZE = 50;

export default async function managePage({ main, signal, id }) {
  const params = new URL(location.href).searchParams;
  const created = params.get('created') === '1';
  const edited = params.get('edited') === '1';
  const [event, firstStats] = await Promise.all([
    api.get(`/events/${api.seg(id)}`, { signal }),
    api.get(`/events/${api.seg(id)}/stats`, { signal }),
  ]);
  if (signal.aborted) return;
  setTitle(`Manage · ${event.title}`);

  const statsBox = h('div', { class: 'stats-box', 'aria-live': 'off' });
  const typesBox = h('div', { class: 'type-stats-box', 'aria-live': 'off' });
  const drawStats = (stats) => {
    replace(statsBox, statsGrid(stats), capacityBar(stats));
    replace(typesBox, stats.ticketTypes?.length ? typeStatsTable(stats.ticketTypes, event) : null);
  };
  drawStats(firstStats);

  const attendees = h('div', { class: 'attendees' });
  const count = h('span', { class: 'muted' });
  const csvStatus = h('span', { class: 'field-error', role: 'alert' });
  const csvButton = h('button', { type: 'button', class: 'button button-secondary', id: 'download-csv' }, icon('download'), 'Download CSV');
  csvButton.addEventListener('click', async () => {
    csvButton.disabled = true;
    csvStatus.textContent = '';
    try {
      const blob = await api.get(`/events/${api.seg(event.id)}/attendees`, { accept: 'text/csv' });
      const url = URL.createObjectURL(blob);
      const anchor = h('a', { href: url, download: `attendees-${slug(event.title)}.csv`, class: 'visually-hidden' });
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      if (error.name !== 'SessionExpired') csvStatus.textContent = `The CSV could not be downloaded: ${error.message}`;
    } finally {
      csvButton.disabled = false;
    }
  });

  let last = '';
  let lastPromo = '';
  const loadAttendees = async () => {
    const rows = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set('cursor', cursor);
      const page = await api.get(`/events/${api.seg(event.id)}/attendees?${query}`, { signal });
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && rows.length < 1000);
    if (signal.aborted) return;
    count.textContent = plural(rows.length, 'attendee', 'attendees');
    replace(attendees, rows.length ? attendeeTable(rows, refund) : h('p', { class: 'muted', text: 'No attendees yet. They appear here as tickets are issued.' }));
  };
  // Refunds one order (all its tickets): the first click asks, the second refunds.
  const refundStatus = h('p', { class: 'field-error', role: 'alert', id: 'refund-status' });
  const refund = async (orderId, button) => {
    if (button.dataset.confirming !== 'true') {
      button.dataset.confirming = 'true';
      button.textContent = 'Confirm refund';
      return;
    }
    button.disabled = true;
    refundStatus.textContent = '';
    try {
      const order = await api.post(`/orders/${api.seg(orderId)}/refund`, {}, { signal });
      refundStatus.className = 'muted';
      refundStatus.textContent =
        order.status === 'REFUNDED'
          ? `Order refunded: ${plural(order.tickets.length, 'ticket', 'tickets')} void, ${money(order.amountMinor, order.currency)} back to the buyer.`
          : 'The refund is under way: the tickets no longer admit, and the payment goes back within minutes.';
      drawStats(await api.get(`/events/${api.seg(event.id)}/stats`, { signal }));
      await loadAttendees();
    } catch (error) {
      if (error.name === 'SessionExpired' || signal.aborted) return;
      refundStatus.className = 'field-error';
      refundStatus.textContent = `The order could not be refunded: ${error.message}`;
      button.disabled = false;
    }
  };
  const promos = promoCodesSection(event, { signal });
  const cancellation = cancellationSection(event, firstStats, { signal, onCancelled: (stats) => drawStats(stats) });
  const publication = publicationSection(event, { signal, onChange: (stats) => drawStats(stats) });
  await Promise.all([loadAttendees(), promos.refresh(), cancellation.refresh()]);
  if (signal.aborted) return;

  replace(
    main,
    pageHeader(event.title, {
      back: { href: routes.organizer(), label: 'Your events' },
      actions: [
        link(routes.event(event.id), { class: 'button button-quiet' }, event.visibility === 'DRAFT' ? 'Preview' : 'Public page'),
        firstStats.status === 'CANCELLED' ? null : link(routes.edit(event.id), { class: 'button button-secondary', id: 'edit-event' }, 'Edit event'),
        link(routes.scan(), { class: 'button button-primary' }, icon('scan'), 'Scan tickets'),
      ],
    }),
    created ? notice('success', 'Your event is saved as a draft', h('p', { text: 'Only you can see it. Publish it when it is ready to go on sale.' })) : null,
    firstStats.status === 'CANCELLED' ? null : publication.element,
    edited ? notice('success', 'Your changes are saved', h('p', { text: 'Attendees see them now.' })) : null,
    h(
      'div',
      { class: 'manage-layout' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'live-heading' },
        h('h2', { id: 'live-heading' }, 'Live numbers ', h('span', { class: 'live-dot', 'aria-hidden': 'true' })),
        statsBox,
      ),
      h(
        'section',
        { class: 'panel', 'aria-label': 'Event details' },
        h(
          'dl',
          { class: 'facts facts-compact' },
          // The zone by name too: the organizer set it, and it is how the form shows it.
          fact('calendar', 'When', eventWhen(event), event.timeZone ? h('span', { class: 'fact-sub', text: event.timeZone }) : null),
          fact('pin', 'Where', event.venue),
          fact('tag', 'Price', priceLabel(event)),
          fact('seat', 'Capacity', plural(event.capacity, 'seat', 'seats')),
        ),
      ),
    ),
    firstStats.ticketTypes?.length
      ? h('section', { class: 'panel', 'aria-labelledby': 'types-heading' }, h('h2', { id: 'types-heading', text: 'By ticket type' }), typesBox)
      : null,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'attendees-heading' },
      h('div', { class: 'section-head' }, h('h2', { id: 'attendees-heading' }, 'Attendees ', count), csvButton),
      csvStatus,
      refundStatus,
      attendees,
    ),
    promos.element,
    cancellation.element,
  );

  every(
    REFRESH_MS,
    async () => {
      const stats = await api.get(`/events/${api.seg(event.id)}/stats`, { signal });
      if (signal.aborted) return;
      drawStats(stats);
      const key = `${stats.sold}/${stats.checkedIn}`;
      if (key !== last) {
        last = key;
        await loadAttendees();
      }
      if (stats.status === 'CANCELLED') await cancellation.refresh();
      // A code's uses count the orders holding seats with it too.
      const promoKey = `${stats.sold}/${stats.held}`;
      if (promoKey !== lastPromo) {
        lastPromo = promoKey;
        await promos.refresh();
      }
    },
    signal,
  );
  last = `${firstStats.sold}/${firstStats.checkedIn}`;
  lastPromo = `${firstStats.sold}/${firstStats.held}`;
}

/** The attendee list; a valid ticket's row can refund its order (`refund(orderId, button)`). */
function attendeeTable(rows, refund) {
  const status = { VALID: ['Not yet', 'muted'], USED: ['Checked in', 'good'], VOID: ['Void', 'bad'] };
  const refundButton = (row) => {
    if (row.status !== 'VALID') return '—';
    const button = h('button', { type: 'button', class: 'button button-quiet button-small', dataset: { refund: row.orderId } }, 'Refund order');
    button.addEventListener('click', () => refund(row.orderId, button));
    return button;
  };
  return h(
    'table',
    { class: 'table' },
    h('caption', { class: 'visually-hidden', text: 'Attendees and their check-in status' }),
    h('thead', {}, h('tr', {}, ['Name', 'Email', 'Type', 'Status', 'Registered', 'Checked in', 'Order'].map((label) => h('th', { scope: 'col', text: label })))),
    h(
      'tbody',
      {},
      rows.map((row) => {
        const [text, tone] = status[row.status] ?? [row.status, 'muted'];
        return h(
          'tr',
          { dataset: { ticket: row.ticketId } },
          h('td', { dataset: { label: 'Name' }, class: 'cell-strong', text: row.name }),
          h('td', { dataset: { label: 'Email' }, text: row.email }),
          h('td', { dataset: { label: 'Type' }, text: row.ticketType || '—' }),
          h('td', { dataset: { label: 'Status' } }, h('span', { class: ['badge', `badge-${tone}`], text })),
          h('td', { dataset: { label: 'Registered' }, text: dateTime(row.registeredAt) }),
          h('td', { dataset: { label: 'Checked in' }, text: row.checkedInAt ? dateTime(row.checkedInAt) : '—' }),
          h('td', { dataset: { label: 'Order' } }, refundButton(row)),
        );
      }),
    ),
  );
}

/** Each type's quota and numbers, in the organizer's order; cells carry `data-stat` like the figures. */
function typeStatsTable(types, event) {
  const priceOf = (id) => event.ticketTypes?.find((type) => type.id === id)?.priceMinor;
  const number = (key, label, value) => h('td', { class: 'cell-number', dataset: { label, stat: key }, text: value.toLocaleString() });
  return h(
    'table',
    { class: 'table', id: 'type-stats' },
    h('caption', { class: 'visually-hidden', text: 'Sales and check-ins by ticket type' }),
    h('thead', {}, h('tr', {}, ['Type', 'Price', 'Quota', 'Held', 'Sold', 'Remaining', 'Checked in', 'Status'].map((label) => h('th', { scope: 'col', text: label })))),
    h(
      'tbody',
      {},
      types.map((type) => {
        const { text, tone } = TYPE_STATUS[type.status] ?? { text: type.status, tone: 'muted' };
        const price = priceOf(type.ticketTypeId);
        return h(
          'tr',
          { dataset: { ticketType: type.ticketTypeId } },
          h('td', { class: 'cell-strong', dataset: { label: 'Type' }, text: type.name }),
          h('td', { dataset: { label: 'Price' }, text: price === undefined ? '—' : money(price, event.currency) }),
          number('quota', 'Quota', type.quota),
          number('held', 'Held', type.held),
          number('sold', 'Sold', type.sold),
          number('remaining', 'Remaining', type.remaining),
          number('checkedIn', 'Checked in', type.checkedIn),
          h('td', { dataset: { label: 'Status', stat: 'status' } }, h('span', { class: ['badge', `badge-${tone}`], text })),
        );
      }),
    ),
  );
}

function slug(text) {
  return (
    String(text)
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .toLowerCase()
      .replace(/[\s_-]+/g, '-')
      .slice(0, 60) || 'event'
  );
}

/**
 * Cancelling the event: until it is cancelled, a button that asks once more and then stops
 * sales and refunds every order; afterwards, how far the refunds have come and the orders whose
 * refund failed, with the reason.
 */
function cancellationSection(event, firstStats, { signal, onCancelled }) {
  const body = h('div', { id: 'cancellation' });
  const element = h('section', { class: 'panel danger-zone', 'aria-labelledby': 'cancel-heading' }, h('h2', { id: 'cancel-heading', text: 'Cancel this event' }), body);
  const status = h('p', { class: 'field-error', role: 'alert' });
  let cancelled = firstStats.status === 'CANCELLED';

  const cancel = async (button, confirmText) => {
    if (button.dataset.confirming !== 'true') {
      button.dataset.confirming = 'true';
      button.textContent = confirmText;
      return;
    }
    button.disabled = true;
    status.textContent = '';
    try {
      const progress = await api.post(`/events/${api.seg(event.id)}/cancel`, {}, { signal });
      cancelled = true;
      document.getElementById('edit-event')?.remove();
      draw(progress);
      onCancelled(await api.get(`/events/${api.seg(event.id)}/stats`, { signal }));
    } catch (error) {
      if (error.name === 'SessionExpired' || signal.aborted) return;
      status.textContent = `The event could not be cancelled: ${error.message}`;
      button.disabled = false;
    }
  };

  const draw = (progress) => {
    if (!progress) {
      const button = h('button', { type: 'button', class: 'button button-danger', id: 'cancel-event' }, 'Cancel event');
      button.addEventListener('click', () => cancel(button, 'Yes, cancel and refund everyone'));
      replace(
        body,
        h('p', { text: 'Sales stop at once. Every ticket becomes void and every buyer gets a full refund to the card they paid with. This cannot be undone.' }),
        button,
        status,
      );
      return;
    }
    const done = Boolean(progress.finishedAt);
    const counted = `${progress.ticketsRefunded.toLocaleString()} of ${plural(progress.ticketsSold, 'ticket', 'tickets')} refunded`;
    const failures = progress.failures ?? [];
    const parts = [
      notice(
        done ? (failures.length ? 'warn' : 'success') : 'info',
        done ? 'This event is cancelled' : 'This event is cancelled: refunds are under way',
        h('p', { id: 'cancellation-progress', text: done ? `Refunds finished ${dateTime(progress.finishedAt)}: ${counted}.` : `${counted} so far.` }),
      ),
    ];
    if (failures.length) {
      parts.push(
        h('h3', { text: `${plural(failures.length, 'order', 'orders')} could not be refunded` }),
        h('p', { class: 'muted', text: 'Their tickets no longer admit anyone. A refund the payment provider failed is tried again every few minutes; if one stays listed, refund it from the attendee list or contact the buyer.' }),
        h('ul', { class: 'cancellation-failures' }, failures.map((failure) => h('li', {}, h('code', { text: failure.orderId }), ` — ${failure.reason}`))),
      );
    }
    if (!done) {
      // Asking again starts the refunds if an earlier request could not; it never refunds twice.
      const again = h('button', { type: 'button', class: 'button button-quiet button-small', id: 'resume-refunds' }, 'Start the refunds again');
      again.addEventListener('click', () => cancel(again, 'Yes, start them again'));
      parts.push(again, status);
    }
    replace(body, ...parts);
  };

  const refresh = async () => {
    if (!cancelled) return draw(null);
    const progress = await api.get(`/events/${api.seg(event.id)}/cancellation`, { signal });
    if (!signal.aborted) draw(progress);
  };
  return { element, refresh };
}

/**
 * Publishing: a draft (only its organizer sees it) goes on sale when published; a published
 * event can be taken off sale and out of the listings, its tickets still valid.
 */
function publicationSection(event, { signal, onChange }) {
  const element = h('div', { class: 'publication', id: 'publication' });
  const status = h('p', { class: 'field-error', role: 'alert' });
  const TEXT = {
    DRAFT: ['info', 'Draft: only you can see this event', 'Publish it to list it among the upcoming events and open its sales.', 'Publish event', 'publish'],
    PUBLISHED: ['success', 'Published: listed and on sale', 'Unpublish to take it out of the listings and stop its sales; the tickets sold stay valid.', 'Unpublish', 'unpublish'],
    UNPUBLISHED: ['warn', 'Unpublished: not listed, not on sale', 'Its page still opens from a link and the tickets sold stay valid. Publish it to sell again.', 'Publish again', 'publish'],
  };
  const draw = (visibility) => {
    const [tone, title, text, label, action] = TEXT[visibility];
    const button = h('button', { type: 'button', class: action === 'publish' ? 'button button-primary' : 'button button-secondary', id: `${action}-event` }, label);
    button.addEventListener('click', async () => {
      button.disabled = true;
      status.textContent = '';
      try {
        const changed = await api.post(`/events/${api.seg(event.id)}/${action}`, {}, { signal });
        draw(changed.visibility);
        onChange(await api.get(`/events/${api.seg(event.id)}/stats`, { signal }));
      } catch (error) {
        if (error.name === 'SessionExpired' || signal.aborted) return;
        status.textContent = `The event could not be ${action}ed: ${error.message}`;
        button.disabled = false;
      }
    });
    replace(element, notice(tone, title, h('p', { text }), button, status));
  };
  draw(event.visibility);
  return { element };
}
