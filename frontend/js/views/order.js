// `/?order=<id>`: where Stripe (or a free registration) sends the buyer. Follows the order until
// its ticket is ready (download) or it failed (why, and what happened to the money).

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { dateTime, money } from '../format.js';
import { every, fact, link, notice, pageHeader, routes } from './common.js';

/** Poll quickly at first (tickets are usually ready in a second or two), then back off. */
const pollDelay = (attempt) => Math.min(800 * 1.4 ** attempt, 5000);
/** After this long, say that it is slow and that leaving is fine. */
const SLOW_MS = 60_000;

export default async function orderPage({ main, signal, id }) {
  setTitle('Your order');
  let order = await api.get(`/orders/${api.seg(id)}`, { signal });
  if (signal.aborted) return;
  const event = await api.get(`/events/${api.seg(order.eventId)}`, { signal }).catch(() => null);
  if (signal.aborted) return;

  // The order body does not name its type yet; use it when it does (or gives its id).
  const typeName = order.ticketType ?? event?.ticketTypes?.find((type) => type.id === order.ticketTypeId)?.name ?? null;

  const statusBox = h('div', { class: 'order-status', id: 'order-status', role: 'status', 'aria-live': 'polite' });
  const started = Date.now();
  replace(
    main,
    pageHeader('Your order', { back: { href: routes.tickets(), label: 'My tickets' } }),
    h(
      'div',
      { class: 'order-layout' },
      statusBox,
      h(
        'section',
        { class: 'panel order-summary', 'aria-label': 'Order summary' },
        h('h2', { text: event ? event.title : 'Event' }),
        h(
          'dl',
          { class: 'facts facts-compact' },
          event ? fact('calendar', 'When', dateTime(event.startsAt)) : null,
          event ? fact('pin', 'Where', event.venue) : null,
          typeName ? fact('seat', 'Ticket type', typeName) : null,
          fact('tag', 'Paid', money(order.amountMinor, order.currency)),
          fact('ticket', 'Order', h('code', { class: 'order-id', text: order.orderId })),
        ),
        event ? link(routes.event(event.id), { class: 'text-link' }, 'Event details') : null,
      ),
    ),
  );

  const show = () => replace(statusBox, statusView(order, Date.now() - started > SLOW_MS));
  show();
  if (order.status !== 'PENDING') return;
  // Polling ends with the page (signal) or once the order is settled (done).
  const done = new AbortController();
  signal.addEventListener('abort', () => done.abort());
  let attempt = 0;
  every(
    () => pollDelay(attempt++),
    async () => {
      order = await api.get(`/orders/${api.seg(id)}`, { signal });
      if (signal.aborted) return;
      show();
      if (order.status !== 'PENDING') done.abort();
    },
    done.signal,
  );
}

function statusView(order, slow) {
  switch (order.status) {
    case 'FULFILLED':
      return h(
        'div',
        { class: 'status-card status-success', dataset: { status: order.status } },
        h('div', { class: 'status-icon' }, icon('check')),
        h('h2', { text: 'Your ticket is ready' }),
        h('p', { text: 'Download it now and show the QR code at the door — on your phone or printed.' }),
        downloadButton(order),
        h('p', { class: 'fine-print' }, 'It is also in ', link(routes.tickets(), {}, 'My tickets'), ' whenever you need it again.'),
      );
    case 'FAILED': {
      const paid = order.amountMinor > 0;
      return h(
        'div',
        { class: 'status-card status-error', dataset: { status: order.status } },
        h('div', { class: 'status-icon' }, icon('cross')),
        h('h2', { text: 'We could not issue your ticket' }),
        h('p', {}, h('strong', { text: 'Reason: ' }), order.failureReason || 'The registration could not be completed.'),
        h('p', { class: 'refund-status', text: paid ? `Refund: your payment of ${money(order.amountMinor, order.currency)} has been refunded to your card. Banks usually show it within 5–10 days.` : 'No payment was taken for this order.' }),
        link(routes.home(), { class: 'button button-secondary' }, 'Browse other events'),
      );
    }
    case 'REFUNDED':
      return h(
        'div',
        { class: 'status-card status-warn', dataset: { status: order.status } },
        h('div', { class: 'status-icon' }, icon('alert')),
        h('h2', { text: 'This order was refunded' }),
        h('p', {}, h('strong', { text: 'Reason: ' }), order.failureReason || 'The ticket was cancelled.'),
        h('p', { class: 'refund-status', text: `Refund: ${money(order.amountMinor, order.currency)} has been returned to your card. The ticket is no longer valid.` }),
      );
    case 'EXPIRED':
      return h(
        'div',
        { class: 'status-card status-warn', dataset: { status: order.status } },
        h('div', { class: 'status-icon' }, icon('clock')),
        h('h2', { text: 'Checkout expired' }),
        h('p', { text: 'The payment was not completed in time, so your seat was released. No payment was taken.' }),
        link(routes.event(order.eventId), { class: 'button button-primary' }, 'Try again'),
      );
    default:
      return h(
        'div',
        { class: 'status-card status-pending', dataset: { status: 'PENDING' } },
        h('div', { class: 'status-icon' }, h('span', { class: 'spinner spinner-large', 'aria-hidden': 'true' })),
        h('h2', { text: order.amountMinor > 0 ? 'Confirming your payment…' : 'Issuing your ticket…' }),
        h('p', { text: 'Your ticket is being prepared. This page updates by itself — it usually takes a few seconds.' }),
        slow ? notice('info', 'This is taking longer than usual', h('p', { text: 'You can leave this page: your ticket will appear in My tickets as soon as it is ready.' })) : null,
      );
  }
}

/** Fetches a fresh link on every click (links are short-lived) and starts the download. */
export function downloadButton(order, { small = false, label = null } = {}) {
  const button = h('button', { type: 'button', class: ['button', 'button-primary', small ? 'button-small' : 'button-large'], 'aria-label': label, dataset: { download: order.ticketId ?? '' } }, icon('download'), small ? 'Download' : 'Download ticket (PDF)');
  const problem = h('span', { class: 'field-error', role: 'alert' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    problem.textContent = '';
    try {
      const link = order.ticketId
        ? await api.get(`/tickets/${api.seg(order.ticketId)}/download`)
        : (await api.get(`/orders/${api.seg(order.orderId)}`)).download;
      if (!link?.url) throw new Error('The ticket is not ready yet.');
      location.assign(new URL(link.url, location.href).href);
    } catch (error) {
      problem.textContent = `Download failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'download' }, button, problem);
}
