// `/?page=new-event` and `/?edit=<id>`: the organizer's event form, to create an event or edit
// one. The API checks every field and says what is wrong with each; its messages appear next to
// the fields they are about. Ticket types are optional rows when creating: with none, the single
// Price is sent (`priceMinor`); with some, only the types are. An edit always sends every type
// (existing ones by id; they cannot be removed) and names the version it was made from.
// The start and end are wall-clock times at the venue, in the event's time zone (the browser's
// for a new event), whatever zone the organizer's browser is in; sales windows stay the browser's.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { amountInput, browserZone, dateTimeInput, fromDateTimeInput, minorDigits, timeZones, toMinor, zoneName } from '../format.js';
import { notice, pageHeader, routes } from './common.js';

const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'CAD', 'AUD', 'JPY', 'INR'];

/** The form's fields: API name, label, and how to make the input. */
const LABELS = {
  title: 'Title',
  description: 'Description',
  venue: 'Venue',
  startsAt: 'Date and time',
  endsAt: 'Ends',
  timeZone: 'Time zone',
  cancellationCutoffHours: 'Buyers may cancel until',
  capacity: 'Capacity',
  priceMinor: 'Price',
  currency: 'Currency',
  ticketTypes: 'Ticket types',
};

/** The API takes 1–20 types. */
const MAX_TYPES = 20;
const TYPES_ERROR_ID = 'field-ticketTypes-error';

/** The API's names for a type's fields, as the form labels them. */
const TYPE_FIELD_WORDS = { priceMinor: 'price', salesStart: 'on sale from', salesEnd: 'on sale until', maxPerOrder: 'max per order' };

export default async function newEventPage({ main, navigate }) {
  eventForm({ main, navigate }, null);
}

export async function editEventPage({ main, navigate, signal, id }) {
  const event = await api.get(`/events/${api.seg(id)}`, { signal });
  if (signal.aborted) return;
  eventForm({ main, navigate }, event);
}

/** The form; `event` is the event to edit, or null for a new one. */
function eventForm({ main, navigate }, event) {
  const editing = event !== null;
  setTitle(editing ? `Edit · ${event.title}` : 'Create event');
  const inputs = {};
  const errors = {};
  const field = (name, control, hint) => {
    const id = `field-${name}`;
    const hintId = hint ? `${id}-hint` : null;
    const errorId = `${id}-error`;
    control.id = id;
    control.name = name;
    control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
    inputs[name] = control;
    errors[name] = h('p', { class: 'field-error', id: errorId, hidden: true });
    return h('div', { class: ['field', `field-${name}`] }, h('label', { for: id, text: LABELS[name] }), hint ? h('p', { class: 'field-hint', id: hintId, text: hint }) : null, control, errors[name]);
  };

  // An event's currency cannot change: its prices were paid in it.
  const currency = editing
    ? h('select', { disabled: true }, h('option', { value: event.currency.toUpperCase(), text: event.currency.toUpperCase() }))
    : h('select', {}, CURRENCIES.map((code) => h('option', { value: code, text: code })));
  const guess = guessCurrency();
  if (!editing) currency.value = CURRENCIES.includes(guess) ? guess : 'EUR';

  // The venue's zone: typed or picked from every zone this browser knows.
  const zoneList = h('datalist', { id: 'time-zones' }, timeZones().map((zone) => h('option', { value: zone })));
  const zoneInput = h('input', { type: 'text', list: 'time-zones', autocomplete: 'off', spellcheck: 'false', required: true });
  zoneInput.value = editing ? event.timeZone ?? 'UTC' : browserZone();

  const priceField = field('priceMinor', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' }), 'Leave empty or 0 for a free event.');

  // Ticket type rows, in the order the API numbers them ("ticket type 2 …").
  const rows = [];
  let nextKey = 1;
  const rowList = h('div', { class: 'type-rows' });
  const typesHint = h('p', { class: 'field-hint', id: 'ticket-types-hint' });
  const addType = h('button', { type: 'button', class: 'button button-secondary', id: 'add-ticket-type' }, icon('plus'), 'Add ticket type');
  errors.ticketTypes = h('p', { class: 'field-error', id: TYPES_ERROR_ID, hidden: true });
  const renumber = () => {
    rows.forEach((row, index) => row.number(index + 1));
    // Sending both a price and types is refused: the price goes away while there are types.
    priceField.hidden = editing || rows.length > 0;
    addType.disabled = rows.length >= MAX_TYPES;
    typesHint.textContent = rows.length
      ? 'Each type has its own price and quota; the capacity caps all types together.'
      : 'Optional. Sell different tickets (Standard, VIP, early bird…) at their own prices. Without any, every ticket costs the price above.';
  };
  const appendRow = (existing) => {
    const row = typeRow(nextKey++, existing, () => {
      rows.splice(rows.indexOf(row), 1);
      row.element.remove();
      renumber();
      addType.focus();
    });
    rows.push(row);
    rowList.append(row.element);
    renumber();
    return row;
  };
  addType.addEventListener('click', () => appendRow(null).first.focus());
  if (editing) {
    for (const type of event.ticketTypes) {
      const stats = event.availability?.ticketTypes?.find((entry) => entry.ticketTypeId === type.id);
      // The type of an event made with one price: its seats are the event's, its quota the capacity.
      appendRow({ type, currency: event.currency, taken: (stats?.held ?? 0) + (stats?.sold ?? 0), followsCapacity: type.id === event.id });
    }
  }
  renumber();

  const summary = h('div', { class: 'form-summary', tabindex: '-1' });
  const submit = editing
    ? h('button', { type: 'submit', class: 'button button-primary button-large' }, icon('check'), 'Save changes')
    : h('button', { type: 'submit', class: 'button button-primary button-large' }, icon('plus'), 'Create event');
  const back = editing ? routes.manage(event.id) : routes.organizer();
  const form = h(
    'form',
    { class: 'panel form', novalidate: true, 'aria-label': editing ? 'Edit event' : 'New event' },
    summary,
    field('title', h('input', { type: 'text', autocomplete: 'off', maxlength: '200', required: true }), null),
    field('description', h('textarea', { rows: '5', maxlength: '5000' }), 'Optional. What attendees should know: programme, doors, age limits…'),
    field('venue', h('input', { type: 'text', autocomplete: 'off', maxlength: '200', required: true }), 'Name and address, as it should appear on the ticket.'),
    h(
      'div',
      { class: 'field-row' },
      // Hints say which zone: see zoneHints.
      field('startsAt', h('input', { type: 'datetime-local', required: true }), 'Local time at the venue.'),
      field('endsAt', h('input', { type: 'datetime-local' }), 'Optional. Local time at the venue.'),
    ),
    h(
      'div',
      { class: 'field-row' },
      field('timeZone', zoneInput, 'The venue’s, such as Europe/Zurich. Everyone sees the event’s times on its clock.'),
      field('capacity', h('input', { type: 'number', inputmode: 'numeric', min: '1', step: '1', required: true }), 'Number of tickets, all types together.'),
    ),
    zoneList,
    h('div', { class: 'field-row' }, priceField, field('currency', currency, null)),
    field(
      'cancellationCutoffHours',
      h('input', { type: 'number', inputmode: 'numeric', min: '0', max: '8784', step: '1', placeholder: 'hours before the start' }),
      'Optional: hours before the start (48: two days before) until which buyers may cancel their order for a full refund. Empty: they cannot.',
    ),
    h(
      'section',
      { class: 'type-section', 'aria-labelledby': 'ticket-types-heading' },
      h('h2', { id: 'ticket-types-heading', text: 'Ticket types' }),
      typesHint,
      rowList,
      errors.ticketTypes,
      addType,
    ),
    h('div', { class: 'form-actions' }, submit, h('a', { href: back, class: 'button button-quiet', dataset: { nav: '' }, text: 'Cancel' })),
  );
  if (editing) {
    inputs.title.value = event.title;
    inputs.description.value = event.description;
    inputs.venue.value = event.venue;
    // On the venue's clock; a zone this browser does not know leaves them to be typed again.
    const known = zoneName(zoneInput.value);
    inputs.startsAt.value = known ? dateTimeInput(event.startsAt, known) : '';
    inputs.endsAt.value = known ? dateTimeInput(event.endsAt, known) : '';
    inputs.capacity.value = String(event.capacity);
    inputs.cancellationCutoffHours.value = event.cancellationCutoffHours ?? '';
    inputs.capacity.addEventListener('input', () => rows.forEach((row) => row.followCapacity(inputs.capacity.value)));
  }

  /** The start's and end's hints name the zone they are read in, as it is typed. */
  const zoneHints = () => {
    const zone = zoneName(zoneInput.value);
    const where = zone ? `Local time at the venue (${zone}).` : 'Local time at the venue.';
    hintOf(inputs.startsAt).textContent = where;
    hintOf(inputs.endsAt).textContent = `Optional. ${where}`;
  };
  zoneInput.addEventListener('input', zoneHints);
  zoneHints();

  /** Where a message sends focus: its field, or for ticket types the row it names. */
  const targetOf = (name, text) => {
    if (name !== 'ticketTypes') return inputs[name];
    const row = rows[Number(/ticket type (\d+)/i.exec(text)?.[1]) - 1] ?? rows[0];
    return row?.first ?? addType;
  };
  const showErrors = (fieldErrors, message) => {
    for (const name of Object.keys(errors)) {
      errors[name].hidden = true;
      errors[name].textContent = '';
      inputs[name]?.removeAttribute('aria-invalid');
    }
    for (const row of rows) row.markInvalid(false);
    // In the form's order, whatever order the API listed them in.
    const named = Object.keys(LABELS)
      .filter((name) => typeof fieldErrors[name] === 'string')
      .map((name) => [name, sentence(name, fieldErrors[name])]);
    for (const [name, text] of named) {
      errors[name].textContent = text;
      errors[name].hidden = false;
      if (name === 'ticketTypes') rows.find((row) => row.first === targetOf(name, fieldErrors[name]))?.markInvalid(true);
      else inputs[name].setAttribute('aria-invalid', 'true');
    }
    if (!named.length && !message) {
      replace(summary);
      return;
    }
    replace(
      summary,
      notice(
        'error',
        named.length ? `Please correct ${named.length === 1 ? 'one field' : `${named.length} fields`}` : editing ? 'The changes could not be saved' : 'The event could not be created',
        named.length
          ? h('ul', {}, named.map(([name, text]) => h('li', {}, h('a', { href: `#${targetOf(name, text).id}`, onClick: (click) => { click.preventDefault(); targetOf(name, text).focus(); } }, text))))
          : h('p', { text: message }),
      ),
    );
    (named.length ? targetOf(named[0][0], named[0][1]) : summary).focus();
  };

  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    const local = {};
    const code = currency.value;
    // With ticket types the single price is not sent: the API refuses both.
    const priceMinor = rows.length ? undefined : toMinor(inputs.priceMinor.value, code);
    if (priceMinor === null) local.priceMinor = amountProblem(code);
    const types = rows.map((row, index) => row.read(code, index + 1));
    const typeProblem = types.find((type) => type.problem)?.problem;
    if (typeProblem) local.ticketTypes = typeProblem;
    const capacityText = inputs.capacity.value.trim();
    const zone = zoneName(zoneInput.value);
    if (!zone) local.timeZone = zoneInput.value.trim() ? `must be a zone name such as ${browserZone()}` : 'is required';
    // Wall times at the venue as instants; empty is null (the API says the start is required).
    const instant = (name) => {
      const text = inputs[name].value;
      if (!text || !zone) return null;
      try {
        const iso = fromDateTimeInput(text, zone);
        if (iso === null) local[name] = `does not exist in ${zone} (clocks change)`;
        return iso;
      } catch {
        local[name] = 'is not a valid date and time';
        return null;
      }
    };
    const startsAt = instant('startsAt');
    const endsAt = instant('endsAt');
    if (startsAt && endsAt && Date.parse(endsAt) <= Date.parse(startsAt)) local.endsAt = 'must be after the start';
    const cutoffText = inputs.cancellationCutoffHours.value.trim();
    if (cutoffText && !/^\d+$/.test(cutoffText)) local.cancellationCutoffHours = 'must be a whole number of hours, or empty';
    if (Object.keys(local).length) return showErrors(local);

    const body = {
      title: inputs.title.value,
      description: inputs.description.value,
      venue: inputs.venue.value,
      timeZone: zone,
      startsAt,
      // null: none (an edit that empties the field removes the end).
      endsAt,
      // null: buyers cannot cancel.
      cancellationCutoffHours: cutoffText ? Number(cutoffText) : null,
      capacity: wholeNumber(capacityText),
      currency: code,
      ...(types.length || editing ? { ticketTypes: types.map((type) => type.value) } : { priceMinor }),
    };
    submit.disabled = true;
    try {
      if (editing) {
        await api.put(`/events/${api.seg(event.id)}`, body, { ifMatch: `"${event.version}"` });
        navigate(`${routes.manage(event.id)}&edited=1`);
      } else {
        const created = await api.post('/events', body);
        navigate(`${routes.manage(created.id)}&created=1`);
      }
    } catch (error) {
      // Fields this form does not know still get the API's message (showErrors falls back to it).
      if (error.status === 400 && Object.keys(error.fields).length) showErrors(error.fields, error.message);
      // An ended session has its own page already (see app.js).
      else if (error.name !== 'SessionExpired') showErrors({}, error.message);
    } finally {
      submit.disabled = false;
    }
  });

  const header = editing
    ? pageHeader(`Edit ${event.title}`, { back: { href: back, label: 'Back to the event' }, lead: 'Buyers see your changes at once.' })
    : pageHeader('Create event', { back: { href: back, label: 'Your events' }, lead: 'It is saved as a draft: publish it when it is ready to go on sale.' });
  replace(
    main,
    header,
    h(
      'div',
      { class: 'form-layout' },
      form,
      h(
        'aside',
        { class: 'panel tips', 'aria-label': 'Good to know' },
        h('h2', { text: 'Good to know' }),
        editing ? editTips() : h(
          'ul',
          {},
          h('li', {}, h('strong', { text: 'On sale at once. ' }), 'Attendees see the event in the upcoming list as soon as you create it.'),
          h('li', {}, h('strong', { text: 'The venue’s clock. ' }), 'Start and end are times at the venue; everyone sees them so, with the zone’s name, wherever they are.'),
          h('li', {}, h('strong', { text: 'Ticket types. ' }), 'Optional: Standard, VIP, early bird… each with its own price, quota and sales window. The capacity caps them all together.'),
          h('li', {}, h('strong', { text: 'Paid through Stripe. ' }), 'Each seat is held for half an hour while its buyer pays; unpaid seats come back by themselves.'),
          h('li', {}, h('strong', { text: 'Tickets by email address. ' }), 'Every buyer gets a PDF ticket with a signed QR code.'),
          h('li', {}, h('strong', { text: 'At the door. ' }), 'Open Scan on a phone: each ticket admits once.'),
        ),
      ),
    ),
  );
}

function editTips() {
  return h(
    'ul',
    {},
    h('li', {}, h('strong', { text: 'Sold tickets stay valid. ' }), 'Holders see the new details on the event page and their orders.'),
    h('li', {}, h('strong', { text: 'Prices. ' }), 'A type’s price is fixed once a ticket of it is sold or held.'),
    h('li', {}, h('strong', { text: 'Limits. ' }), 'The capacity and each quota cannot go below the tickets sold and held.'),
    h('li', {}, h('strong', { text: 'Stopping a type. ' }), 'Types are kept; set “On sale until” to stop selling one.'),
  );
}

/** A likely currency for the browser's region (used only as the form's default). */
function guessCurrency() {
  const region = (navigator.language || '').split('-')[1];
  const byRegion = { US: 'USD', GB: 'GBP', CH: 'CHF', SE: 'SEK', NO: 'NOK', DK: 'DKK', PL: 'PLN', CA: 'CAD', AU: 'AUD', JP: 'JPY', IN: 'INR' };
  return byRegion[region] ?? 'EUR';
}

/** The API's message as a sentence: "Title is required", "Ticket type 2 ("VIP"): quota …". */
function sentence(name, text) {
  if (name === 'ticketTypes' && /^ticket type\b/i.test(text)) {
    const worded = text.replace(/\b(priceMinor|salesStart|salesEnd|maxPerOrder)\b/g, (field) => TYPE_FIELD_WORDS[field]);
    return worded.charAt(0).toUpperCase() + worded.slice(1);
  }
  return `${LABELS[name]} ${text}`;
}

function amountProblem(currency) {
  const digits = minorDigits(currency);
  return digits ? `must be an amount such as 25 or 25.${'5'.padEnd(digits, '0')}` : 'must be a whole amount such as 2500';
}

/** A typed whole number; blank or nonsense is 0, so the API's range message explains it. */
function wholeNumber(text) {
  const trimmed = String(text).trim();
  return trimmed === '' ? 0 : Math.trunc(Number(trimmed)) || 0;
}

/**
 * One ticket type's inputs. `key` only keeps ids unique (rows come and go); `number(n)` sets the
 * position the API's messages refer to. `read` gives the type as the API takes it, or a problem
 * worded like the API's own.
 */
function typeRow(key, existing, onRemove) {
  const legend = h('legend');
  const removeLabel = h('span', { class: 'visually-hidden' });
  const controls = {};
  const rowField = (name, label, control, hint) => {
    const id = `type-${key}-${name}`;
    const hintId = hint ? `${id}-hint` : null;
    control.id = id;
    control.name = `ticketTypes.${name}`;
    control.setAttribute('aria-describedby', [hintId, TYPES_ERROR_ID].filter(Boolean).join(' '));
    controls[name] = control;
    return h('div', { class: ['field', `field-type-${name}`] }, h('label', { for: id, text: label }), hint ? h('p', { class: 'field-hint', id: hintId, text: hint }) : null, control);
  };
  const remove = h('button', { type: 'button', class: 'button button-quiet button-small', onClick: onRemove }, icon('cross'), 'Remove', removeLabel);
  const element = h(
    'fieldset',
    { class: 'type-row', dataset: { typeRow: String(key) } },
    legend,
    h(
      'div',
      { class: 'field-row' },
      rowField('name', 'Name', h('input', { type: 'text', autocomplete: 'off', maxlength: '100', required: true, placeholder: 'Standard, VIP…' }), 'As buyers see it.'),
      rowField('priceMinor', 'Price', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' }), 'Empty or 0: free.'),
    ),
    h(
      'div',
      { class: 'field-row' },
      rowField('quota', 'Quota', h('input', { type: 'number', inputmode: 'numeric', min: '1', step: '1', required: true }), 'Tickets of this type.'),
      rowField('maxPerOrder', 'Max per order (optional)', h('input', { type: 'number', inputmode: 'numeric', min: '1', max: '10', step: '1' }), 'Empty: 10, the most an order takes.'),
    ),
    rowField('description', 'Description (optional)', h('input', { type: 'text', autocomplete: 'off', maxlength: '1000' }), 'What this ticket includes.'),
    h(
      'div',
      { class: 'field-row' },
      rowField('salesStart', 'On sale from (optional)', h('input', { type: 'datetime-local' }), 'Empty: on sale at once.'),
      rowField('salesEnd', 'On sale until (optional)', h('input', { type: 'datetime-local' }), 'Empty: until the event starts.'),
    ),
    // A type the event has cannot be removed.
    existing ? null : h('div', { class: 'type-row-actions' }, remove),
  );
  if (existing) {
    const { type, currency, taken, followsCapacity } = existing;
    element.dataset.typeId = type.id;
    controls.name.value = type.name;
    controls.description.value = type.description;
    controls.priceMinor.value = amountInput(type.priceMinor, currency);
    controls.quota.value = String(type.quota);
    controls.maxPerOrder.value = String(type.maxPerOrder);
    controls.salesStart.value = dateTimeInput(type.salesStart);
    controls.salesEnd.value = dateTimeInput(type.salesEnd);
    if (taken > 0) {
      controls.priceMinor.readOnly = true;
      hintOf(controls.priceMinor).textContent = `Fixed: ${taken} sold or held.`;
      controls.quota.min = String(taken);
      hintOf(controls.quota).textContent = `At least ${taken}, the tickets sold or held.`;
    }
    if (followsCapacity) {
      controls.quota.readOnly = true;
      hintOf(controls.quota).textContent = 'Follows the capacity.';
    }
  }

  return {
    element,
    first: controls.name,
    number(n) {
      legend.textContent = `Ticket type ${n}`;
      removeLabel.textContent = ` ticket type ${n}`;
    },
    markInvalid(on) {
      element.classList.toggle('type-row-invalid', on);
    },
    followCapacity(capacity) {
      if (existing?.followsCapacity) controls.quota.value = capacity;
    },
    read(currency, n) {
      const name = controls.name.value;
      const about = `ticket type ${n}${name.trim() ? ` ("${name.trim()}")` : ''}`;
      const priceMinor = toMinor(controls.priceMinor.value, currency);
      const value = { ...(existing ? { id: existing.type.id } : {}), name, priceMinor: priceMinor ?? 0, quota: wholeNumber(controls.quota.value) };
      let problem = priceMinor === null ? `${about}: price ${amountProblem(currency)}` : null;
      if (controls.description.value.trim() || existing) value.description = controls.description.value;
      for (const [field, label] of [['salesStart', 'on sale from'], ['salesEnd', 'on sale until']]) {
        if (!controls[field].value) continue;
        const date = new Date(controls[field].value);
        if (Number.isNaN(date.getTime())) problem ??= `${about}: ${label} is not a valid date and time`;
        else value[field] = date.toISOString();
      }
      if (controls.maxPerOrder.value.trim()) value.maxPerOrder = wholeNumber(controls.maxPerOrder.value);
      return { value, problem };
    },
  };
}

/** The hint paragraph of a row's control. */
function hintOf(control) {
  return control.parentElement.querySelector('.field-hint');
}
