// `/?page=tickets`: the signed-in person's tickets, each with a fresh download.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { relative } from '../format.js';
import { dateTile, emptyState, eventWhen, link, pageHeader, routes, ticketStatus } from './common.js';
import { downloadButton, holderRename } from './order.js';

export default async function ticketsPage({ main, signal }) {
  setTitle('My tickets');
  const tickets = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: '100' });
    if (cursor) query.set('cursor', cursor);
    const page = await api.get(`/me/tickets?${query}`, { signal });
    tickets.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && tickets.length < 500);

  // The events the tickets are for, once each.
  const events = new Map();
  await Promise.all(
    [...new Set(tickets.map((ticket) => ticket.eventId))].map(async (eventId) => {
      events.set(eventId, await api.get(`/events/${api.seg(eventId)}`, { signal }).catch(() => null));
    }),
  );
  if (signal.aborted) return;

  // Upcoming first (soonest first), then past ones (latest first).
  const now = Date.now();
  const startOf = (ticket) => new Date(events.get(ticket.eventId)?.startsAt ?? ticket.createdAt).getTime();
  tickets.sort((a, b) => {
    const [sa, sb] = [startOf(a), startOf(b)];
    const [pa, pb] = [sa < now, sb < now];
    if (pa !== pb) return pa ? 1 : -1;
    return pa ? sb - sa : sa - sb;
  });

  replace(
    main,
    pageHeader('My tickets', { lead: 'Download a ticket any time; each download is a fresh link.' }),
    tickets.length
      ? h('ul', { class: 'ticket-list' }, tickets.map((ticket) => ticketCard(ticket, events.get(ticket.eventId)).element))
      : emptyState('No tickets yet', 'Tickets you buy appear here, ready to download.', link(routes.home(), { class: 'button button-primary' }, 'Browse events')),
  );
}

/** One ticket's card: `{ element, renamed }`, `renamed` saying its name has just changed. */
function ticketCard(ticket, event) {
  // The type's name, from the ticket or else from its event.
  const typeName = ticket.ticketType ?? event?.ticketTypes?.find((type) => type.id === ticket.ticketTypeId)?.name;
  const status = ticketStatus(ticket.status);
  // The API takes a new name only before the event starts and once the order is issued (it
  // says so when it is not).
  const renamable = ticket.status === 'VALID' && Boolean(event) && new Date(event.startsAt).getTime() > Date.now();
  const done = h('p', { class: 'rename-done', role: 'status' });
  const rename = renamable
    ? holderRename(
        { ticketId: ticket.ticketId, holderName: ticket.attendeeName },
        {
          which: `${ticket.attendeeName}’s ticket for ${event.title}`,
          // The answer is the ticket as this list has it.
          onRenamed: (answer) => {
            const next = ticketCard({ ...ticket, ...answer }, event);
            element.replaceWith(next.element);
            next.renamed();
          },
        },
      )
    : null;
  const element = h(
    'li',
    { class: ['ticket-card', `ticket-${ticket.status.toLowerCase()}`], dataset: { ticket: ticket.ticketId } },
    event ? dateTile(event.startsAt, event.timeZone) : h('div', { class: 'date-tile' }, icon('ticket')),
    h(
      'div',
      { class: 'ticket-card-body' },
      h('h2', { class: 'ticket-card-title' }, event ? link(routes.event(event.id), {}, event.title) : 'Event'),
      event
        ? h(
            'p',
            { class: 'event-card-meta' },
            h('span', { class: 'meta-item' }, icon('calendar'), h('time', { datetime: event.startsAt, text: eventWhen(event) })),
            h('span', { class: 'meta-item' }, icon('pin'), event.venue),
          )
        : null,
      h(
        'p',
        { class: 'ticket-card-holder' },
        h('span', { class: ['badge', `badge-${status.tone}`], text: status.text }),
        typeName ? h('span', { class: 'ticket-type', text: typeName }) : null,
        h('span', { class: 'ticket-holder', text: ticket.attendeeName }),
        ticket.usedAt ? h('span', { class: 'muted', text: `Scanned ${relative(ticket.usedAt)}` }) : null,
      ),
      done,
    ),
    h(
      'div',
      { class: 'ticket-card-actions' },
      ticket.status === 'VOID' ? null : downloadButton({ ticketId: ticket.ticketId, orderId: ticket.orderId }, { small: true, label: `Download ticket${event ? ` for ${event.title}` : ''} (PDF)` }),
      rename?.button,
      link(routes.order(ticket.orderId), { class: 'text-link' }, 'View order'),
    ),
    rename?.form,
  );
  return {
    element,
    renamed: () => {
      // Written once the card is on the page, so the status is announced.
      done.textContent = 'Name changed; download the ticket again for the new PDF.';
      rename?.button.focus();
    },
  };
}
