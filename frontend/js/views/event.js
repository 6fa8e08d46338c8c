// `/?event=<id>`: one event, its ticket types with live availability, how many of each, a name
// for each ticket, an optional promo code and Buy. Stripe's cancel URL lands here too.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { endTime, longDate, money, plural, time } from '../format.js';
import {
  availabilityBadge,
  eventWhen,
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
/** The most tickets an order takes (the API's limit), in all and of any one type. */
const ORDER_MAX = 10;
/** The longest promo code the API makes. */
const PROMO_MAX = 32;
/** How long quantities stay still before a promo code is quoted again. */
const REQUOTE_MS = 300;

export default async function eventPage({ main, signal, id, navigate, user }) {
  const event = await api.get(`/events/${api.seg(id)}`, { signal });
  if (signal.aborted) return;
  setTitle(event.title);

  const types = event.ticketTypes ?? [];
  const several = types.length > 1;
  let latest = event;
  // While a checkout is being started, Buy keeps saying so whatever else changes.
  let busy = false;

  const badge = availabilityBadge(event);
  const seatsText = h('span', { text: seatsLine(event) });
  const status = h('div', { class: 'buy-status', role: 'status', 'aria-live': 'polite' });
  const total = h('p', { class: 'order-total', id: 'order-total' });
  const buy = h('button', { type: 'button', class: 'button button-primary button-large button-block', id: 'buy' });

  // How many of each type: one number input per type, read on every change.
  const quantities = new Map();
  const quantityInput = (type, props = {}) => {
    const onSale = typeOnSale(event, type.id);
    const input = h('input', {
      type: 'number',
      id: `type-${type.id}-quantity`,
      name: 'quantity',
      inputmode: 'numeric',
      min: '0',
      max: String(perOrder(type)),
      step: '1',
      // One type starts at one ticket, so Buy works at once; several start at none.
      value: String(!several && onSale ? 1 : 0),
      disabled: !onSale,
      dataset: { ticketType: type.id },
      onInput: () => changed(),
      ...props,
    });
    quantities.set(type.id, input);
    return input;
  };
  const chosen = () => types.map((type) => ({ type, count: countOf(quantities.get(type.id)) }));

  // Each type's availability badge, updated in place so the quantities and focus survive refreshes.
  const typeBadges = new Map();
  const cards = new Map();
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
    const input = quantityInput(type, {
      // Named by the type's name and the visible "Quantity"; price, description and availability are its description.
      'aria-label': `${type.name} quantity`,
      'aria-describedby': [`type-${type.id}-price`, type.description ? descriptionId : null, badgeId].filter(Boolean).join(' '),
    });
    const card = h(
      'div',
      { class: 'type-option type-option-order', dataset: { ticketType: type.id } },
      body,
      h('div', { class: 'field quantity' }, h('label', { for: input.id, text: 'Quantity' }), input),
    );
    cards.set(type.id, card);
    return card;
  };
  // A single type only gets a card when it says more than the event's badge does.
  const worthACard = (type) => type.description || ['NOT_YET_ON_SALE', 'SALES_ENDED'].includes(typeStats(event, type.id)?.status);
  const onlyQuantity = (type) => {
    const input = quantityInput(type);
    return h('div', { class: 'field quantity-field' }, h('label', { for: input.id, text: 'Number of tickets' }), input);
  };
  const picker = several
    ? h('fieldset', { class: 'type-picker', id: 'ticket-types' }, h('legend', { text: 'Choose your tickets' }), types.map(option))
    : types.length === 1
      ? worthACard(types[0])
        ? h('div', { class: 'type-picker', id: 'ticket-types' }, option(types[0]))
        : onlyQuantity(types[0])
      : null;

  // One name field per ticket, kept per type and place so names already typed survive changes
  // of the quantities (fewer tickets only hide the last fields of that type).
  const holderFields = new Map();
  let shownHolders = [];
  const holderField = (type, place) => {
    const inputId = `holder-${type.id}-${place}`;
    const errorId = `${inputId}-error`;
    const label = h('label', { for: inputId });
    const input = h('input', {
      type: 'text',
      id: inputId,
      name: 'holderName',
      // Autofill would put one name on every ticket.
      autocomplete: 'off',
      maxlength: String(HOLDER_MAX),
      placeholder: 'your name',
      'aria-describedby': `holder-hint ${errorId}`,
    });
    const error = h('p', { class: 'field-error', id: errorId, hidden: true });
    const showError = (text) => {
      error.textContent = text ?? '';
      error.hidden = !text;
      if (text) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    };
    return { type, label, input, showError, element: h('div', { class: 'field holder-field' }, label, input, error) };
  };
  const holderList = h('div', { class: 'holder-list' });
  // Without ticket types (an older API) there is nothing to name a holder on.
  const holders = types.length
    ? h(
        'fieldset',
        { class: 'holder-fields', id: 'holders', hidden: true },
        h('legend', { text: 'Names on the tickets' }),
        h('p', { class: 'field-hint', id: 'holder-hint', text: `Optional. Leave a name empty for your own${user?.name ? ` (${user.name})` : ''}.` }),
        holderList,
      )
    : null;
  /** Shows a name field for each chosen ticket, in the order of the types (the order's too). */
  const layoutHolders = () => {
    shownHolders = [];
    for (const { type, count } of chosen()) {
      const fields = holderFields.get(type.id) ?? [];
      holderFields.set(type.id, fields);
      const wanted = Math.min(count || 0, perOrder(type));
      while (fields.length < wanted) fields.push(holderField(type, fields.length));
      shownHolders.push(...fields.slice(0, wanted));
    }
    shownHolders.forEach((field, index) => {
      field.label.textContent = `Ticket ${index + 1} — ${field.type.name}: name on the ticket`;
      field.input.dataset.ticketIndex = String(index);
    });
    replace(holderList, shownHolders.map((field) => field.element));
    if (holders) holders.hidden = shownHolders.length === 0;
  };

  // A promo code is applied by asking the API for a quote of the chosen tickets with it (nothing
  // is held). The quote holds for the quantities it was made for (`key`); when they change it is
  // made again, and until then the total shows no discount and Buy waits.
  const offersPromo = types.length > 0 && !types.every((type) => type.priceMinor === 0);
  /** Once a code is applied: `{ typed, code, key, quote, checking }` (`code` as the API spells it), else null. */
  let promo = null;
  let quoting = null;
  let requoteTimer = null;
  const ticketsKey = () => chosen().map(({ type, count }) => `${type.id}:${count}`).join(',');
  const currentQuote = () => (promo?.quote && promo.key === ticketsKey() ? promo.quote : null);

  const promoInput = h('input', {
    type: 'text',
    id: 'promo-code',
    name: 'promoCode',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    maxlength: String(PROMO_MAX),
    'aria-describedby': 'promo-code-error',
  });
  const promoError = h('p', { class: 'field-error', id: 'promo-code-error', role: 'alert', hidden: true });
  const showPromoError = (text) => {
    promoError.textContent = text ?? '';
    promoError.hidden = !text;
    if (text) promoInput.setAttribute('aria-invalid', 'true');
    else promoInput.removeAttribute('aria-invalid');
  };
  /** The code in the field as the API keeps it (codes are case-insensitive). */
  const typedCode = () => promoInput.value.trim().toUpperCase();
  const discountBox = h('div', { class: 'order-breakdown', id: 'order-discount', hidden: true });

  const updateBuy = () => {
    const lines = chosen();
    for (const { type, count } of lines) cards.get(type.id)?.classList.toggle('type-option-chosen', count > 0);
    const quote = currentQuote();
    showTotal(total, latest, types, lines, quote);
    showDiscount(discountBox, latest, lines, promo, quote);
    if (busy) return;
    const { open, text } = buyState(latest, types, lines, { checking: Boolean(promo?.checking), quote });
    buy.disabled = !open;
    buy.replaceChildren(icon('ticket'), text);
  };

  /**
   * Quotes the chosen tickets with the applied code: `applied`, or `refused` (the code is dropped
   * and the API's message shows at the field), or `waiting` when no tickets that can be bought
   * are chosen (no quote, no discount shown, until there are), or `stopped`.
   */
  const requote = async () => {
    clearTimeout(requoteTimer);
    quoting?.abort();
    if (!promo) return 'stopped';
    const lines = chosen();
    if (!buyState(latest, types, lines).open) {
      promo = { ...promo, key: null, quote: null, checking: false };
      updateBuy();
      return 'waiting';
    }
    const key = ticketsKey();
    const code = promo.code;
    const run = new AbortController();
    quoting = run;
    const stop = () => run.abort();
    signal.addEventListener('abort', stop);
    promo = { ...promo, checking: true };
    updateBuy();
    try {
      // Prices do not depend on names: each ticket by its type only, so a name still being typed cannot refuse the quote.
      const tickets = shownHolders.map((field) => ({ ticketTypeId: field.type.id }));
      const quote = await api.post(`/events/${api.seg(event.id)}/quote`, { tickets, promoCode: code }, { signal: run.signal });
      // Quantities changed meanwhile: another quote is on its way.
      promo = { ...promo, code: quote.promoCode || code, key, quote, checking: key !== ticketsKey() };
      showPromoError(null);
      return 'applied';
    } catch (error) {
      if (error?.name === 'AbortError') return 'stopped';
      promo = null;
      if (error?.name !== 'SessionExpired') showPromoError(promoMessage(code, error.message));
      return 'refused';
    } finally {
      signal.removeEventListener('abort', stop);
      if (quoting === run) {
        quoting = null;
        if (!signal.aborted) updateBuy();
      }
    }
  };
  const applyCode = async () => {
    const code = typedCode();
    showPromoError(null);
    quoting?.abort();
    if (!code) {
      promo = null;
      updateBuy();
      return;
    }
    if (!buyState(latest, types, chosen()).open) {
      promo = null;
      updateBuy();
      showPromoError('Choose your tickets first, then apply the code.');
      promoInput.focus();
      return;
    }
    promo = { typed: code, code, key: null, quote: null, checking: true };
    if ((await requote()) === 'refused' && !signal.aborted) promoInput.focus();
  };
  const promoForm = offersPromo
    ? h(
        'form',
        { class: 'field promo-field', novalidate: true },
        h('label', { for: promoInput.id, text: 'Promo code' }),
        h('div', { class: 'input-with-button' }, promoInput, h('button', { type: 'submit', class: 'button button-secondary', id: 'apply-promo', text: 'Apply' })),
        promoError,
      )
    : null;
  promoForm?.addEventListener('submit', (submitEvent) => {
    submitEvent.preventDefault();
    applyCode();
  });
  // An emptied field takes the code off at once; another code waits for Apply (or Buy).
  promoInput.addEventListener('input', () => {
    showPromoError(null);
    if (!typedCode() && promo) {
      quoting?.abort();
      promo = null;
      updateBuy();
    }
  });

  const changed = () => {
    layoutHolders();
    replace(status);
    if (promo) {
      // The old quote is for other tickets: no discount shown, Buy waits, then a fresh quote.
      clearTimeout(requoteTimer);
      quoting?.abort();
      promo = { ...promo, checking: buyState(latest, types, chosen()).open };
      requoteTimer = setTimeout(() => requote(), REQUOTE_MS);
    }
    updateBuy();
  };
  signal.addEventListener('abort', () => clearTimeout(requoteTimer));
  layoutHolders();
  updateBuy();

  /** The order's tickets with their cleaned names, or null (and the first name at fault focused). */
  const ticketsToBuy = () => {
    const tickets = [];
    let faulty = null;
    for (const field of shownHolders) {
      const holderName = field.input.value.replace(/\s+/g, ' ').trim();
      const problem = nameProblem(holderName);
      field.showError(problem);
      faulty ??= problem ? field : null;
      const ticket = { ticketTypeId: field.type.id };
      if (holderName) ticket.holderName = holderName;
      tickets.push(ticket);
    }
    faulty?.input.focus();
    return faulty ? null : tickets;
  };

  buy.addEventListener('click', async () => {
    // A code typed but not applied is applied first, and an applied one without a quote for
    // these tickets is quoted first: the buyer sees the total before paying it.
    if (offersPromo && typedCode() !== (promo?.typed ?? '')) {
      await applyCode();
      return;
    }
    if (promo && !currentQuote()) {
      await requote();
      return;
    }
    const tickets = types.length ? ticketsToBuy() : [];
    if (!tickets) return;
    const body = types.length ? { tickets } : {};
    if (promo && currentQuote()) body.promoCode = promo.code;
    const one = tickets.length <= 1;

    busy = true;
    buy.disabled = true;
    const label = buy.lastChild.textContent;
    buy.lastChild.textContent = one ? 'Reserving your seat…' : 'Reserving your seats…';
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
      busy = false;
      buy.lastChild.textContent = label;
      buy.disabled = false;
      // Refused with a code: fresh numbers first (seats gone are said as without one), then the
      // code quoted again says at the field whether it was the code (used up or expired since it
      // was applied), and the total goes back to the full price.
      if (body.promoCode && [400, 409].includes(error.status)) {
        await refresh().catch(() => {});
        if (signal.aborted) return;
        if ((await requote()) === 'refused') {
          replace(status, notice('warn', 'Your promo code cannot be used', h('p', { text: error.message }), h('p', { text: 'Check the total, then buy again or try another code.' })));
          return;
        }
      }
      const taken = error.status === 409;
      const title = taken ? (one ? 'This ticket is not available' : 'These tickets are not available') : 'Could not start checkout';
      replace(status, notice(taken ? 'warn' : 'error', title, h('p', { text: error.message })));
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
      const input = quantities.get(type.id);
      // A type already chosen stays changeable (Buy then says why it cannot be bought).
      if (input) input.disabled = !typeOnSale(fresh, type.id) && countOf(input) === 0;
    }
    updateBuy();
    // A code waiting for tickets that can be bought: they may be buyable now.
    if (promo && !promo.checking && !currentQuote()) await requote();
  };

  const allFree = types.length ? types.every((type) => type.priceMinor === 0) : event.priceMinor === 0;
  replace(
    main,
    pageHeader(event.title, { back: { href: routes.home(), label: 'All events' } }),
    event.availability.status === 'CANCELLED'
      ? notice('error', 'This event was cancelled', h('p', { text: 'Every ticket is void and every buyer is refunded in full, to the card they paid with.' }))
      : event.visibility === 'DRAFT'
        ? notice('info', 'Draft: only you can see this page', h('p', { text: 'Publish the event from its management page to put it on sale.' }))
        : event.visibility === 'UNPUBLISHED'
          ? notice('warn', 'This event is not on sale', h('p', { text: 'Its organizer has taken it off sale. Tickets already bought stay valid.' }))
          : null,
    h(
      'div',
      { class: 'event-layout' },
      h(
        'article',
        { class: 'panel event-details' },
        h(
          'dl',
          { class: 'facts' },
          fact('calendar', 'When', h('time', { datetime: event.startsAt, text: longDate(event.startsAt, event.timeZone) }), h('span', { class: 'fact-sub', text: startsLine(event) })),
          fact('pin', 'Where', event.venue),
          event.organizer ? fact('users', 'Organizer', h('span', { class: 'organizer-name', text: event.organizer.name }), h('a', { class: 'fact-sub organizer-contact', href: `mailto:${event.organizer.contactEmail}`, text: event.organizer.contactEmail })) : null,
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
        h('p', { class: 'buy-when', text: eventWhen(event) }),
        badge,
        picker,
        holders,
        promoForm,
        discountBox,
        total,
        buy,
        status,
        h('p', { class: 'fine-print', text: allFree ? 'Free entry. Your tickets are ready in seconds.' : 'Your seats are held for half an hour while you pay on Stripe’s secure page.' }),
        event.organizedByYou
          ? h('div', { class: 'organizer-note' }, h('p', { text: 'You organize this event.' }), link(routes.manage(event.id), { class: 'button button-secondary button-block' }, icon('users'), 'Manage event'))
          : null,
      ),
    ),
  );
  every(REFRESH_MS, refresh, signal);
}

/** "Starts at 19:30 CEST · ends 23:00", on the venue's clock (the end's date too when it is another day). */
function startsLine(event) {
  const starts = `Starts at ${time(event.startsAt, event.timeZone)}`;
  return event.endsAt ? `${starts} · ends ${endTime(event.startsAt, event.endsAt, event.timeZone)}` : starts;
}

/** The most of `type` one order takes. */
function perOrder(type) {
  return Math.min(type.maxPerOrder ?? ORDER_MAX, ORDER_MAX);
}

/** A quantity input's number: a whole number from 0 (empty is 0), or NaN. */
function countOf(input) {
  const text = input?.value.trim() ?? '';
  if (text === '') return 0;
  const count = Number(text);
  return Number.isInteger(count) && count >= 0 ? count : NaN;
}

/** What is wrong with a holder's name (trimmed, spaces collapsed), or null. The API's rules. */
function nameProblem(name) {
  // Characters as the API counts them (code points), not UTF-16 units.
  if ([...name].length > HOLDER_MAX) return `The name can be at most ${HOLDER_MAX} characters.`;
  if (/\p{Cc}/u.test(name)) return 'The name cannot contain control characters.';
  return null;
}

/**
 * "Total (2 × Standard, 1 × VIP) €70.00": each type's quantity times its price, or with a promo
 * code the quote's total; hidden while nothing is chosen.
 */
function showTotal(element, event, types, lines, quote) {
  if (!types.length) {
    replace(element, h('span', { text: 'Total' }), h('strong', { text: money(event.priceMinor, event.currency) }));
    element.hidden = false;
    return;
  }
  const some = lines.filter((line) => line.count > 0);
  element.hidden = !some.length || lines.some((line) => Number.isNaN(line.count));
  if (element.hidden) {
    replace(element);
    return;
  }
  const count = some.reduce((sum, line) => sum + line.count, 0);
  const price = quote ? quote.totalMinor : some.reduce((sum, line) => sum + line.count * line.type.priceMinor, 0);
  const what = types.length > 1 ? some.map((line) => `${line.count} × ${line.type.name}`).join(', ') : count > 1 ? plural(count, 'ticket', 'tickets') : null;
  replace(element, h('span', { text: what ? `Total (${what})` : 'Total' }), h('strong', { text: money(price, event.currency) }));
}

/**
 * Above the total while a code is applied: "Subtotal €70.00", "Discount (FRIENDS10) −€7.00" from
 * the quote, or that the code is being checked for the tickets now chosen.
 */
function showDiscount(element, event, lines, promo, quote) {
  const some = lines.some((line) => line.count > 0) && !lines.some((line) => Number.isNaN(line.count));
  element.hidden = !promo || !some || !(quote || promo.checking);
  if (element.hidden) {
    replace(element);
    return;
  }
  const line = (label, value, className) => h('p', { class: ['order-line', className] }, h('span', { text: label }), h('span', { class: 'order-line-amount', text: value }));
  if (!quote) {
    replace(element, line(`Promo code ${promo.code}`, 'checking…', 'order-line-pending'));
    return;
  }
  const discount = quote.discountMinor > 0 ? `−${money(quote.discountMinor, event.currency)}` : 'none';
  replace(element, line('Subtotal', money(quote.subtotalMinor, event.currency), 'order-line-subtotal'), line(`Discount (${promo.code})`, discount, 'order-line-discount'));
}

/** The API's refusal of a code, naming the code when the message does not. */
function promoMessage(code, message) {
  return message.toUpperCase().includes(code) ? message : `${code}: ${message}`;
}

/** Why a type cannot be bought now, in words. */
function whyNot(event, type) {
  return { NOT_YET_ON_SALE: 'not on sale yet', SALES_ENDED: 'no longer on sale' }[typeStats(event, type.id)?.status] ?? 'sold out';
}

/**
 * What Buy says and whether it works: the event's state first, then the quantities chosen, then
 * a promo code being checked; the price is the quote's when one is current.
 */
function buyState(event, types, lines, { checking = false, quote = null } = {}) {
  const stats = event.availability;
  const closed = (text) => ({ open: false, text });
  if (stats.status === 'CANCELLED') return closed('This event was cancelled');
  if (stats.status === 'NOT_ON_SALE') return closed('Not on sale');
  if (stats.status === 'ENDED') return closed('This event has started');
  if (stats.status === 'SOLD_OUT' || stats.remaining <= 0) return closed('Sold out');
  if (!types.length) return { open: true, text: buyText(1, event.priceMinor, event.currency) };
  const several = types.length > 1;

  if (lines.some((line) => Number.isNaN(line.count))) return closed('Enter a whole number of tickets');
  const tooMany = lines.find((line) => line.count > perOrder(line.type));
  if (tooMany) return closed(several ? `At most ${perOrder(tooMany.type)} ${tooMany.type.name} per order` : `At most ${plural(perOrder(tooMany.type), 'ticket', 'tickets')} per order`);
  const count = lines.reduce((sum, line) => sum + line.count, 0);
  if (count > ORDER_MAX) return closed(`At most ${ORDER_MAX} tickets per order`);
  if (count === 0) {
    if (types.some((type) => typeOnSale(event, type.id))) return closed(several ? 'Choose your tickets' : 'Choose how many tickets');
    if (several) return closed('No tickets on sale right now');
    const why = whyNot(event, types[0]);
    return closed(why === 'sold out' ? 'Sold out' : `Tickets are ${why}`);
  }

  const off = lines.find((line) => line.count > 0 && !typeOnSale(event, line.type.id));
  if (off) {
    const why = whyNot(event, off.type);
    return closed(several ? `${off.type.name} is ${why}` : why === 'sold out' ? 'Sold out' : `Tickets are ${why}`);
  }
  // Fewer left than chosen: say so here rather than after a refused checkout.
  const short = lines.find((line) => line.count > (typeStats(event, line.type.id)?.remaining ?? Infinity));
  if (short) {
    const left = typeStats(event, short.type.id).remaining;
    return closed(several ? `Only ${left.toLocaleString()} ${short.type.name} left` : `Only ${plural(left, 'ticket', 'tickets')} left`);
  }
  if (count > stats.remaining) return closed(`Only ${plural(stats.remaining, 'seat', 'seats')} left`);
  if (checking) return closed('Checking your promo code…');
  const price = quote ? quote.totalMinor : lines.reduce((sum, line) => sum + line.count * line.type.priceMinor, 0);
  return { open: true, text: buyText(count, price, event.currency) };
}

/** "Buy ticket · €25.00", "Buy 3 tickets · €70.00", "Get a free ticket", "Get 2 free tickets". */
function buyText(count, price, currency) {
  if (price === 0) return count === 1 ? 'Get a free ticket' : `Get ${count} free tickets`;
  return `Buy ${count === 1 ? 'ticket' : `${count} tickets`} · ${money(price, currency)}`;
}

function seatsLine(event) {
  const stats = event.availability;
  if (stats.status === 'CANCELLED') return 'This event was cancelled';
  if (stats.status === 'NOT_ON_SALE') return 'Not on sale';
  if (stats.status === 'ENDED') return 'This event has started';
  if (stats.remaining <= 0) return `Sold out (${plural(stats.capacity, 'seat', 'seats')})`;
  return `${stats.remaining.toLocaleString()} of ${plural(stats.capacity, 'seat', 'seats')} left`;
}
