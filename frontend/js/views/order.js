// `/?order=<id>`: where Stripe (or a free registration) sends the buyer. Follows the order until
// its tickets are ready (each with its own download) or it failed (why, and what happened to the
// money).

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { dateTime, money, plural } from '../format.js';
import { eventWhen, every, fact, link, notice, pageHeader, routes, ticketStatus } from './common.js';

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

  // Tickets give their type's id; the event has its name.
  const typeName = (ticket) => event?.ticketTypes?.find((type) => type.id === ticket.ticketTypeId)?.name ?? null;

  const statusBox = h('div', { class: 'order-status', id: 'order-status', role: 'status', 'aria-live': 'polite' });
  const ticketsBox = h('section', { class: 'panel order-tickets', id: 'order-tickets', 'aria-labelledby': 'order-tickets-title', hidden: true });
  const countText = h('span');
  const countFact = fact('seat', 'Tickets', countText);
  const started = Date.now();
  // While the organizer lets buyers cancel: a full refund, asked twice (the second click confirms).
  const cancelBox = h('div', { class: 'order-cancel', id: 'order-cancel' });
  const cancellable = () => order.status === 'FULFILLED' && event?.cancellableUntil && Date.now() < Date.parse(event.cancellableUntil);
  const drawCancel = () => {
    cancelBox.hidden = !cancellable();
    if (cancelBox.hidden) return replace(cancelBox);
    const problem = h('p', { class: 'field-error', role: 'alert' });
    const button = h('button', { type: 'button', class: 'button button-secondary', id: 'cancel-order' }, 'Cancel order');
    button.addEventListener('click', async () => {
      if (button.dataset.confirming !== 'true') {
        button.dataset.confirming = 'true';
        button.textContent = 'Confirm cancellation';
        return;
      }
      button.disabled = true;
      try {
        order = await api.post(`/orders/${api.seg(id)}/cancel`, {}, { signal });
        show();
      } catch (error) {
        if (error.name === 'SessionExpired' || signal.aborted) return;
        problem.textContent = `The order could not be cancelled: ${error.message}`;
        button.disabled = false;
      }
    });
    const until = dateTime(event.cancellableUntil, event.timeZone);
    replace(cancelBox, h('p', { class: 'fine-print', text: `You can cancel this order for a full refund until ${until}.` }), button, problem);
  };
  replace(
    main,
    pageHeader('Your order', { back: { href: routes.tickets(), label: 'My tickets' } }),
    h(
      'div',
      { class: 'order-layout' },
      h('div', { class: 'order-main' }, statusBox, cancelBox, ticketsBox),
      h(
        'section',
        { class: 'panel order-summary', 'aria-label': 'Order summary' },
        h('h2', { text: event ? event.title : 'Event' }),
        h(
          'dl',
          { class: 'facts facts-compact' },
          event ? fact('calendar', 'When', eventWhen(event)) : null,
          event ? fact('pin', 'Where', event.venue) : null,
          countFact,
          fact('tag', 'Total', h('span', { id: 'order-amount', text: money(order.amountMinor, order.currency) })),
          fact('ticket', 'Order', h('code', { class: 'order-id', text: order.orderId })),
        ),
        event ? link(routes.event(event.id), { class: 'text-link' }, 'Event details') : null,
      ),
    ),
  );

  const show = () => {
    const tickets = order.tickets ?? [];
    replace(statusBox, statusView(order, Date.now() - started > SLOW_MS));
    ticketsBox.hidden = !tickets.length;
    replace(ticketsBox, tickets.length ? ticketList(order, typeName, event) : null);
    countText.textContent = ticketsLine(tickets, typeName);
    countFact.hidden = !tickets.length;
    drawCancel();
  };
  // Settled: no longer pending or being refunded, and a fulfilled order's tickets are there to
  // download.
  const settled = () => !['PENDING', 'REFUNDING'].includes(order.status) && !(order.status === 'FULFILLED' && !order.tickets?.length);
  show();
  if (settled()) return;
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
      if (settled()) done.abort();
    },
    done.signal,
  );
}

/** "2 × Standard, 1 × VIP" (in the order's order), or "3 tickets" when the types are unknown. */
function ticketsLine(tickets, typeName) {
  const counts = new Map();
  for (const ticket of tickets) {
    const name = typeName(ticket);
    if (!name) return plural(tickets.length, 'ticket', 'tickets');
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, count]) => `${count} × ${name}`).join(', ');
}

/**
 * Every ticket of the order: type, holder, status and, once the order is fulfilled, its download
 * and, until the event starts, a way to change the name on it.
 */
function ticketList(order, typeName, event) {
  const tickets = order.tickets;
  const several = tickets.length > 1;
  // The API takes a new name only before the event starts (and says so after).
  const upcoming = Boolean(event) && new Date(event.startsAt).getTime() > Date.now();
  /** One ticket's row: `{ element, renamed }`, `renamed` saying the name has just changed. */
  const row = (ticket, index) => {
    const status = ticketStatus(ticket.status);
    const type = typeName(ticket);
    const number = several ? ` ${index + 1}` : '';
    // Links exist for a fulfilled order's tickets that are not void.
    const downloadable = order.status === 'FULFILLED' && ticket.status !== 'VOID';
    const renamable = upcoming && order.status === 'FULFILLED' && ticket.status === 'VALID';
    const done = h('p', { class: 'rename-done', role: 'status' });
    const rename = renamable
      ? holderRename(
          { ticketId: ticket.ticketId, holderName: ticket.holderName },
          {
            which: several ? `ticket${number}` : 'your ticket',
            onRenamed: (answer) => {
              // The answer is the ticket as My tickets lists it (its name is `attendeeName`).
              tickets[index] = { ...ticket, holderName: answer?.attendeeName ?? ticket.holderName, status: answer?.status ?? ticket.status };
              const next = row(tickets[index], index);
              element.replaceWith(next.element);
              next.renamed();
            },
          },
        )
      : null;
    const element = h(
      'li',
      { class: ['ticket-card', `ticket-${ticket.status.toLowerCase()}`], dataset: { ticket: ticket.ticketId } },
      h('div', { class: 'date-tile', 'aria-hidden': 'true' }, icon('ticket')),
      h(
        'div',
        { class: 'ticket-card-body' },
        h('h3', { class: 'ticket-card-title ticket-holder', text: ticket.holderName }),
        h(
          'p',
          { class: 'ticket-card-holder' },
          h('span', { class: ['badge', `badge-${status.tone}`], text: status.text }),
          type ? h('span', { class: 'ticket-type', text: type }) : null,
          several ? h('span', { class: 'muted', text: `Ticket${number} of ${tickets.length}` }) : null,
        ),
        done,
      ),
      h(
        'div',
        { class: 'ticket-card-actions' },
        downloadable ? downloadButton({ ticketId: ticket.ticketId, orderId: order.orderId }, { small: true, label: `Download ticket${number} (PDF) for ${ticket.holderName}` }) : null,
        rename?.button,
      ),
      rename?.form,
    );
    return {
      element,
      renamed: () => {
        // Written once the row is on the page, so the status is announced.
        done.textContent = 'Name changed; download the ticket again for the new PDF.';
        (rename?.button ?? done).focus?.();
      },
    };
  };
  return [
    h('h2', { id: 'order-tickets-title', text: several ? `Your ${tickets.length} tickets` : 'Your ticket' }),
    h(
      'ul',
      { class: 'ticket-list' },
      tickets.map((ticket, index) => row(ticket, index).element),
    ),
  ];
}

/**
 * Changing the name on a ticket (here and in My tickets): a "Change name" button that opens a
 * small form in its place. Save sends the name as typed (the API trims and checks it) and hands
 * the API's answer, the ticket, to `onRenamed`; a refusal shows the API's message next to the
 * field, which keeps what was typed. `which`: "ticket 2", "your ticket", for the labels.
 */
export function holderRename({ ticketId, holderName }, { which, onRenamed }) {
  const inputId = `holder-name-${ticketId}`;
  const errorId = `${inputId}-error`;
  const button = h('button', { type: 'button', class: ['button', 'button-secondary', 'button-small'], 'aria-label': `Change name on ${which}`, dataset: { rename: ticketId } }, 'Change name');
  const input = h('input', { type: 'text', id: inputId, name: 'holderName', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': errorId });
  const error = h('p', { class: 'field-error', id: errorId, role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: ['button', 'button-primary', 'button-small'], text: 'Save' });
  const cancel = h('button', { type: 'button', class: ['button', 'button-quiet', 'button-small'], text: 'Cancel' });
  const form = h(
    'form',
    { class: 'rename-form', hidden: true, dataset: { renameForm: ticketId } },
    h(
      'div',
      { class: 'field' },
      // Seen as "Holder name"; heard as "Holder name for ticket 2", one per ticket.
      h('label', { for: inputId }, 'Holder name', h('span', { class: 'visually-hidden', text: ` for ${which}` })),
      h('div', { class: 'rename-row' }, input, h('div', { class: 'rename-actions' }, save, cancel)),
      error,
    ),
  );
  const showError = (text) => {
    error.textContent = text ?? '';
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  const open = () => {
    input.value = holderName;
    showError(null);
    form.hidden = false;
    button.hidden = true;
    input.focus();
    input.select();
  };
  const close = () => {
    form.hidden = true;
    button.hidden = false;
    button.focus();
  };
  button.addEventListener('click', open);
  cancel.addEventListener('click', close);
  input.addEventListener('keydown', (key) => {
    if (key.key === 'Escape' && !save.disabled) close();
  });
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    save.disabled = true;
    cancel.disabled = true;
    try {
      const ticket = await api.patch(`/tickets/${api.seg(ticketId)}`, { holderName: input.value });
      onRenamed(ticket);
    } catch (problem) {
      // An ended session has its own page already (see app.js).
      if (problem?.name === 'AbortError' || problem?.name === 'SessionExpired') return;
      showError(renameProblem(problem));
      input.focus();
    } finally {
      save.disabled = false;
      cancel.disabled = false;
    }
  });
  return { button, form };
}

/** The API's refusal as a sentence: "Holder name must be …" for the field, else its message. */
function renameProblem(error) {
  const field = error?.fields?.holderName;
  if (typeof field === 'string' && field) return `Holder name ${field}`;
  const text = error?.message || String(error);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function statusView(order, slow) {
  const count = order.tickets?.length ?? 0;
  switch (order.status) {
    case 'FULFILLED':
      return h(
        'div',
        { class: 'status-card status-success', dataset: { status: order.status } },
        h('div', { class: 'status-icon' }, icon('check')),
        h('h2', { text: count > 1 ? `Your ${count} tickets are ready` : 'Your ticket is ready' }),
        h('p', { text: count > 1 ? 'Download each one below: every ticket has its own QR code to show at the door — on a phone or printed.' : 'Download it below and show the QR code at the door — on your phone or printed.' }),
        count > 1
          ? h('p', { class: 'fine-print' }, 'They are also in ', link(routes.tickets(), {}, 'My tickets'), ' whenever you need them again.')
          : h('p', { class: 'fine-print' }, 'It is also in ', link(routes.tickets(), {}, 'My tickets'), ' whenever you need it again.'),
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
    case 'REFUNDING':
    case 'REFUNDED': {
      const done = order.status === 'REFUNDED';
      const invalid = `${count > 1 ? 'The tickets are' : 'The ticket is'} no longer valid.`;
      const refund = order.amountMinor <= 0 ? `No payment was taken for this order. ${invalid}` : done ? `Refund: ${money(order.amountMinor, order.currency)} has been returned to your card. ${invalid}` : `Refund: ${money(order.amountMinor, order.currency)} is on its way back to your card. ${invalid}`;
      return h(
        'div',
        { class: 'status-card status-warn', dataset: { status: order.status } },
        h('div', { class: 'status-icon' }, icon('alert')),
        h('h2', { text: done ? 'This order was refunded' : 'This order is being refunded' }),
        h('p', {}, h('strong', { text: 'Reason: ' }), order.failureReason || 'The organizer refunded this order.'),
        h('p', { class: 'refund-status', text: refund }),
      );
    }
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

/**
 * A ticket's download button (here and in My tickets): fetches a fresh link on every click
 * (links are short-lived) and starts the download.
 */
export function downloadButton({ ticketId }, { small = false, label = null } = {}) {
  const button = h('button', { type: 'button', class: ['button', 'button-primary', small ? 'button-small' : 'button-large'], 'aria-label': label, dataset: { download: ticketId } }, icon('download'), small ? 'Download' : 'Download ticket (PDF)');
  const problem = h('span', { class: 'field-error', role: 'alert' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    problem.textContent = '';
    try {
      const link = await api.get(`/tickets/${api.seg(ticketId)}/download`);
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
