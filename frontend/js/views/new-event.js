// `/?page=new-event`: the organizer's form. The API checks every field and says what is wrong
// with each; its messages appear next to the fields they are about.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { minorDigits, timeZone, toMinor } from '../format.js';
import { notice, pageHeader, routes } from './common.js';

const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK', 'NOK', 'DKK', 'PLN', 'CAD', 'AUD', 'JPY', 'INR'];

/** The form's fields: API name, label, and how to make the input. */
const LABELS = {
  title: 'Title',
  description: 'Description',
  venue: 'Venue',
  startsAt: 'Date and time',
  capacity: 'Capacity',
  priceMinor: 'Price',
  currency: 'Currency',
};

export default async function newEventPage({ main, navigate }) {
  setTitle('Create event');
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

  const currency = h('select', {}, CURRENCIES.map((code) => h('option', { value: code, text: code })));
  const guess = guessCurrency();
  currency.value = CURRENCIES.includes(guess) ? guess : 'EUR';

  const summary = h('div', { class: 'form-summary', tabindex: '-1' });
  const submit = h('button', { type: 'submit', class: 'button button-primary button-large' }, icon('plus'), 'Create event');
  const form = h(
    'form',
    { class: 'panel form', novalidate: true, 'aria-label': 'New event' },
    summary,
    field('title', h('input', { type: 'text', autocomplete: 'off', maxlength: '200', required: true }), null),
    field('description', h('textarea', { rows: '5', maxlength: '5000' }), 'Optional. What attendees should know: programme, doors, age limits…'),
    field('venue', h('input', { type: 'text', autocomplete: 'off', maxlength: '200', required: true }), 'Name and address, as it should appear on the ticket.'),
    h(
      'div',
      { class: 'field-row' },
      field('startsAt', h('input', { type: 'datetime-local', required: true }), `Local time (${timeZone()}).`),
      field('capacity', h('input', { type: 'number', inputmode: 'numeric', min: '1', step: '1', required: true }), 'Number of tickets.'),
    ),
    h(
      'div',
      { class: 'field-row' },
      field('priceMinor', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' }), 'Leave empty or 0 for a free event.'),
      field('currency', currency, null),
    ),
    h('div', { class: 'form-actions' }, submit, h('a', { href: routes.organizer(), class: 'button button-quiet', dataset: { nav: '' }, text: 'Cancel' })),
  );

  const showErrors = (fieldErrors, message) => {
    for (const name of Object.keys(errors)) {
      errors[name].hidden = true;
      errors[name].textContent = '';
      inputs[name].removeAttribute('aria-invalid');
    }
    // In the form's order, whatever order the API listed them in.
    const named = Object.keys(LABELS)
      .filter((name) => typeof fieldErrors[name] === 'string')
      .map((name) => [name, fieldErrors[name]]);
    for (const [name, text] of named) {
      errors[name].textContent = `${LABELS[name]} ${text}`;
      errors[name].hidden = false;
      inputs[name].setAttribute('aria-invalid', 'true');
    }
    if (!named.length && !message) {
      replace(summary);
      return;
    }
    replace(
      summary,
      notice(
        'error',
        named.length ? `Please correct ${named.length === 1 ? 'one field' : `${named.length} fields`}` : 'The event could not be created',
        named.length
          ? h('ul', {}, named.map(([name, text]) => h('li', {}, h('a', { href: `#field-${name}`, onClick: (click) => { click.preventDefault(); inputs[name].focus(); } }, `${LABELS[name]} ${text}`))))
          : h('p', { text: message }),
      ),
    );
    (named.length ? inputs[named[0][0]] : summary).focus();
  };

  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    const local = {};
    const code = currency.value;
    const priceMinor = toMinor(inputs.priceMinor.value, code);
    if (priceMinor === null) {
      const digits = minorDigits(code);
      local.priceMinor = digits ? `must be an amount such as 25 or 25.${'5'.padEnd(digits, '0')}` : 'must be a whole amount such as 2500';
    }
    const capacityText = inputs.capacity.value.trim();
    const startsText = inputs.startsAt.value;
    const startsAt = startsText ? new Date(startsText) : null;
    if (startsText && Number.isNaN(startsAt.getTime())) local.startsAt = 'is not a valid date and time';
    if (Object.keys(local).length) return showErrors(local);

    const body = {
      title: inputs.title.value,
      description: inputs.description.value,
      venue: inputs.venue.value,
      startsAt: startsAt ? startsAt.toISOString() : null,
      capacity: capacityText === '' ? 0 : Math.trunc(Number(capacityText)) || 0,
      priceMinor,
      currency: code,
    };
    submit.disabled = true;
    try {
      const event = await api.post('/events', body);
      navigate(`${routes.manage(event.id)}&created=1`);
    } catch (error) {
      if (error.status === 400 && Object.keys(error.fields).length) showErrors(error.fields);
      // An ended session has its own page already (see app.js).
      else if (error.name !== 'SessionExpired') showErrors({}, error.message);
    } finally {
      submit.disabled = false;
    }
  });

  replace(
    main,
    pageHeader('Create event', { back: { href: routes.organizer(), label: 'Your events' }, lead: 'It goes on sale as soon as you create it.' }),
    h(
      'div',
      { class: 'form-layout' },
      form,
      h(
        'aside',
        { class: 'panel tips', 'aria-label': 'Good to know' },
        h('h2', { text: 'Good to know' }),
        h(
          'ul',
          {},
          h('li', {}, h('strong', { text: 'On sale at once. ' }), 'Attendees see the event in the upcoming list as soon as you create it.'),
          h('li', {}, h('strong', { text: 'Paid through Stripe. ' }), 'Each seat is held for half an hour while its buyer pays; unpaid seats come back by themselves.'),
          h('li', {}, h('strong', { text: 'Tickets by email address. ' }), 'Every buyer gets a PDF ticket with a signed QR code.'),
          h('li', {}, h('strong', { text: 'At the door. ' }), 'Open Scan on a phone: each ticket admits once.'),
        ),
      ),
    ),
  );
}

/** A likely currency for the browser's region (used only as the form's default). */
function guessCurrency() {
  const region = (navigator.language || '').split('-')[1];
  const byRegion = { US: 'USD', GB: 'GBP', CH: 'CHF', SE: 'SEK', NO: 'NOK', DK: 'DKK', PL: 'PLN', CA: 'CAD', AU: 'AUD', JP: 'JPY', IN: 'INR' };
  return byRegion[region] ?? 'EUR';
}
