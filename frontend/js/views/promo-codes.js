// The promo codes of one event, on its manage page: each code with its discount, the types it
// applies to, its uses so far and when it is valid, a form to change its limits (its uses and
// dates; the discount and types stay) and a form to add one. The API checks every field; its
// messages appear next to the fields they are about.

import * as api from '../api.js';
import { h, icon, replace } from '../dom.js';
import { dateTime, dateTimeInput, minorDigits, money, percent, plural, timeZone, toMinor } from '../format.js';
import { notice } from './common.js';

/** The API's limits on a code. */
const CODE_MAX = 32;
const USES_MAX = 1_000_000;
/** The list's columns: the code, its discount, types, uses, dates, status and its Edit button. */
const COLUMNS = 7;

/** The API's names of the form's fields, in the form's order, as it labels them. */
const FIELD_LABELS = {
  code: 'Promo code',
  maxUses: 'Max uses',
  percentOff: 'Percent off',
  amountOffMinor: 'Amount off',
  ticketTypeIds: 'Applies to',
  validFrom: 'Valid from',
  validUntil: 'Valid until',
};

/**
 * The section and `refresh()`, which reloads the list (its own errors show in the section; it
 * only throws when the page is left).
 */
export function promoCodesSection(event, { signal }) {
  const types = event.ticketTypes ?? [];
  const currency = event.currency;
  const list = h('div', { class: 'promo-codes' });
  const count = h('span', { class: 'muted' });
  const saved = h('p', { class: 'promo-saved', role: 'status', 'aria-live': 'polite' });

  // The codes as last loaded or saved, and the edit forms open, by code: a reload of the list
  // (the page reloads it as orders come in) puts them back with what was typed in them.
  let codes = [];
  const editors = new Map();
  /** Codes saved so far: a list asked for before a save may not have it. */
  let saves = 0;

  const render = () => {
    for (const name of editors.keys()) if (!codes.some((code) => code.code === name)) editors.delete(name);
    count.textContent = plural(codes.length, 'code', 'codes');
    const focused = document.activeElement;
    replace(list, codes.length ? promoTable(codes, event, { editors, onEdit: edit }) : h('p', { class: 'muted', text: 'No promo codes yet. Buyers enter a code on the event’s page and pay less.' }));
    // A field being typed in moved to the new list: it keeps the focus.
    if (focused instanceof HTMLElement && focused !== document.activeElement && list.contains(focused)) focused.focus();
  };
  const editButton = (name) => list.querySelector(`button[data-promo-edit="${CSS.escape(name)}"]`);

  /** Opens a code's edit form below its row; Save hands the API's answer over, Cancel closes it. */
  const edit = (code) => {
    saved.textContent = '';
    const name = code.code;
    const close = () => {
      editors.delete(name);
      render();
      editButton(name)?.focus();
    };
    const onSaved = (answer) => {
      saves += 1;
      codes = codes.map((known) => (known.code === name ? answer : known));
      editors.delete(name);
      render();
      saved.textContent = `${name} saved.`;
      editButton(name)?.focus();
    };
    const editor = promoEditor(code, event, { signal, onSaved, onCancel: close });
    editors.set(name, editor);
    render();
    editor.focus();
  };

  const refresh = async () => {
    try {
      const seen = saves;
      const answer = await api.get(`/events/${api.seg(event.id)}/promo-codes`, { signal });
      if (signal.aborted) return;
      // Saved while asking: this list may have the code as it was, so ask again.
      if (seen !== saves) return refresh();
      codes = answer.promoCodes ?? [];
      render();
    } catch (error) {
      if (error?.name === 'AbortError' || error?.name === 'SessionExpired') throw error;
      replace(list, h('p', { class: 'field-error', role: 'alert', text: `The promo codes could not be loaded: ${error.message}` }));
    }
  };

  // The form. Each field: a label, an optional hint, the control and the API's message about it;
  // `inputs` and `errors` are by the API's field names.
  const inputs = {};
  const errors = {};
  const field = (name, id, label, control, hint) => {
    const hintId = hint ? `${id}-hint` : null;
    const errorId = `${id}-error`;
    control.id = id;
    control.name = name;
    control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
    inputs[name] = control;
    errors[name] = h('p', { class: 'field-error', id: errorId, hidden: true });
    return h('div', { class: 'field' }, h('label', { for: id, text: label }), hint ? h('p', { class: 'field-hint', id: hintId, text: hint }) : null, control, errors[name]);
  };
  const codeInput = h('input', { type: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: String(CODE_MAX), required: true, placeholder: 'SPRING25' });
  const usesInput = h('input', { type: 'number', inputmode: 'numeric', min: '1', max: String(USES_MAX), step: '1', required: true });
  const percentInput = h('input', { type: 'number', inputmode: 'numeric', min: '1', max: '100', step: '1' });
  const amountInput = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: minorDigits(currency) ? `0.${'0'.repeat(minorDigits(currency))}` : '0' });
  const fromInput = h('input', { type: 'datetime-local' });
  const untilInput = h('input', { type: 'datetime-local' });

  // Percent or a fixed amount: one of the two value fields shows, as the API takes one of the two.
  const kindRadio = (value, checked) => h('input', { type: 'radio', id: `promo-kind-${value}`, name: 'promoKind', value, checked, onChange: () => showKind() });
  const percentRadio = kindRadio('percent', true);
  const amountRadio = kindRadio('amount', false);
  const choice = (input, label) => h('label', { class: 'choice', for: input.id }, input, label);
  const percentField = field('percentOff', 'promo-percent', 'Percent off', percentInput, 'A whole number from 1 to 100, off each ticket the code applies to.');
  const amountField = field('amountOffMinor', 'promo-amount', `Amount off (${currency.toUpperCase()})`, amountInput, 'Taken once off the tickets of an order the code applies to.');
  const kind = () => (amountRadio.checked ? 'amount' : 'percent');
  const discount = h(
    'fieldset',
    { class: 'promo-discount' },
    h('legend', { text: 'Discount' }),
    h('div', { class: 'choices' }, choice(percentRadio, 'Percentage'), choice(amountRadio, 'Fixed amount')),
    percentField,
    amountField,
  );
  const showKind = () => {
    percentField.hidden = kind() !== 'percent';
    amountField.hidden = kind() !== 'amount';
  };

  // Which types: only asked when there is a choice; all ticked is every type.
  const typeBoxes = types.map((type) => h('input', { type: 'checkbox', id: `promo-type-${type.id}`, name: 'ticketTypeIds', value: type.id, checked: true, 'aria-describedby': 'promo-types-hint promo-types-error' }));
  errors.ticketTypeIds = h('p', { class: 'field-error', id: 'promo-types-error', hidden: true });
  const typesField =
    types.length > 1
      ? h(
          'fieldset',
          { class: 'promo-types' },
          h('legend', { text: 'Applies to' }),
          h('p', { class: 'field-hint', id: 'promo-types-hint', text: 'Untick the ticket types the code should not discount.' }),
          h('div', { class: 'choices' }, types.map((type, index) => choice(typeBoxes[index], type.name))),
          errors.ticketTypeIds,
        )
      : null;
  // With one type there is nothing to choose (and no message to show about it).
  if (typesField) inputs.ticketTypeIds = typeBoxes[0];
  else delete errors.ticketTypeIds;

  const summary = h('div', { class: 'form-summary', tabindex: '-1' });
  const created = h('p', { class: 'promo-created', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, icon('plus'), 'Create promo code');
  const form = h(
    'form',
    { class: 'form promo-form', novalidate: true, 'aria-labelledby': 'promo-form-heading' },
    h('h3', { id: 'promo-form-heading', text: 'New promo code' }),
    summary,
    h(
      'div',
      { class: 'field-row' },
      field('code', 'promo-code', 'Promo code', codeInput, `3 to ${CODE_MAX} letters, digits, - or _. Buyers may type it in any case.`),
      field('maxUses', 'promo-max-uses', 'Max uses', usesInput, 'Orders that can use it, each for all its tickets.'),
    ),
    discount,
    typesField,
    h(
      'div',
      { class: 'field-row' },
      field('validFrom', 'promo-valid-from', 'Valid from (optional)', fromInput, `Empty: at once. Local time (${timeZone()}).`),
      field('validUntil', 'promo-valid-until', 'Valid until (optional)', untilInput, 'Empty: as long as tickets are on sale.'),
    ),
    h('div', { class: 'form-actions' }, submit, created),
  );
  showKind();

  /** The API's (or the form's own) messages next to their fields and listed above; else `message` above. */
  const showErrors = (fieldErrors, message) => {
    for (const name of Object.keys(errors)) {
      errors[name].hidden = true;
      errors[name].textContent = '';
      inputs[name]?.removeAttribute('aria-invalid');
    }
    // In the form's order, whatever order the API listed them in.
    const named = Object.keys(FIELD_LABELS)
      .filter((name) => typeof fieldErrors[name] === 'string' && errors[name])
      .map((name) => [name, fieldSentence(name, fieldErrors[name])]);
    for (const [name, text] of named) {
      errors[name].textContent = text;
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
        named.length ? `Please correct ${named.length === 1 ? 'one field' : `${named.length} fields`}` : 'The promo code could not be created',
        named.length
          ? h('ul', {}, named.map(([name, text]) => h('li', {}, h('a', { href: `#${inputs[name].id}`, onClick: (click) => { click.preventDefault(); inputs[name].focus(); } }, text))))
          : h('p', { text: message }),
      ),
    );
    (named.length ? inputs[named[0][0]] : summary).focus();
  };

  /** The form as the API takes it, and what is wrong before asking (by field). */
  const read = () => {
    const local = {};
    const body = { code: codeInput.value.trim(), percentOff: null, amountOffMinor: null, ticketTypeIds: [], maxUses: wholeNumber(usesInput.value), validFrom: null, validUntil: null };
    if (body.maxUses === null) local.maxUses = 'must be a whole number';
    if (kind() === 'percent') {
      body.percentOff = wholeNumber(percentInput.value);
      if (body.percentOff === null) local.percentOff = 'must be a whole number from 1 to 100';
    } else {
      body.amountOffMinor = toMinor(amountInput.value, currency);
      if (body.amountOffMinor === null) local.amountOffMinor = amountProblem(currency);
    }
    const ticked = typeBoxes.filter((box) => box.checked).map((box) => box.value);
    if (typesField && !ticked.length) local.ticketTypeIds = 'at least one type: tick the types the code discounts';
    // Every type ticked is sent as none, which the API reads as every type.
    body.ticketTypeIds = ticked.length === types.length ? [] : ticked;
    for (const name of ['validFrom', 'validUntil']) {
      if (!inputs[name].value) continue;
      const date = new Date(inputs[name].value);
      if (Number.isNaN(date.getTime())) local[name] = 'is not a valid date and time';
      else body[name] = date.toISOString();
    }
    return { body, local };
  };

  const reset = () => {
    for (const input of [codeInput, usesInput, percentInput, amountInput, fromInput, untilInput]) input.value = '';
    for (const box of typeBoxes) box.checked = true;
    percentRadio.checked = true;
    showKind();
  };

  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    created.textContent = '';
    const { body, local } = read();
    if (Object.keys(local).length) return showErrors(local);
    showErrors({});
    submit.disabled = true;
    try {
      const code = await api.post(`/events/${api.seg(event.id)}/promo-codes`, body, { signal });
      reset();
      created.textContent = `${code.code ?? body.code.toUpperCase()} created.`;
      await refresh();
      codeInput.focus();
    } catch (error) {
      if (error?.name === 'AbortError' || error?.name === 'SessionExpired') return;
      // The code taken already (409) is about the code; other refusals name their fields.
      if (error.status === 409) showErrors({ code: error.message });
      else showErrors(error.fields ?? {}, error.message);
    } finally {
      submit.disabled = false;
    }
  });

  const element = h(
    'section',
    { class: 'panel promo-panel', 'aria-labelledby': 'promo-heading' },
    h('div', { class: 'section-head' }, h('h2', { id: 'promo-heading' }, 'Promo codes ', count)),
    list,
    saved,
    form,
  );
  return { element, refresh };
}

/**
 * The codes in the order they were made; rows carry `data-promo-code`, cells `data-label`. A
 * code with its form open (`editors`, by code) has the form in a row of its own below it.
 */
function promoTable(codes, event, { editors, onEdit }) {
  const typeName = (id) => event.ticketTypes?.find((type) => type.id === id)?.name ?? 'Unknown type';
  const now = Date.now();
  return h(
    'table',
    { class: 'table', id: 'promo-codes' },
    h('caption', { class: 'visually-hidden', text: 'Promo codes of this event and their use' }),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Code', 'Discount', 'Applies to', 'Used', 'Valid', 'Status'].map((label) => h('th', { scope: 'col', text: label })),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' })),
      ),
    ),
    h(
      'tbody',
      {},
      codes.map((code) => {
        const { text, tone } = promoStatus(code, now);
        const ids = code.ticketTypeIds ?? [];
        const editor = editors.get(code.code);
        const row = h(
          'tr',
          { class: editor ? 'promo-row-editing' : null, dataset: { promoCode: code.code } },
          h('td', { class: 'cell-strong', dataset: { label: 'Code' } }, h('code', { text: code.code })),
          h('td', { dataset: { label: 'Discount' }, text: discountText(code, event.currency) }),
          h('td', { dataset: { label: 'Applies to' }, text: ids.length ? ids.map(typeName).join(', ') : 'All types' }),
          h('td', { class: 'cell-number', dataset: { label: 'Used', stat: 'used' }, text: `${(code.used ?? 0).toLocaleString()} / ${code.maxUses.toLocaleString()}` }),
          h('td', { dataset: { label: 'Valid' }, text: validityText(code) }),
          h('td', { dataset: { label: 'Status', stat: 'status' } }, h('span', { class: ['badge', `badge-${tone}`], text })),
          h(
            'td',
            { class: 'cell-actions' },
            h('button', { type: 'button', class: ['button', 'button-secondary', 'button-small'], 'aria-label': `Edit ${code.code}`, hidden: Boolean(editor), dataset: { promoEdit: code.code }, onClick: () => onEdit(code) }, 'Edit'),
          ),
        );
        return editor ? [row, editor.element] : row;
      }),
    ),
  );
}

/**
 * The form that changes a code's limits, in a row below the code's: max uses and the dates it is
 * valid between, as the create form takes them (empty: no limit). Save sends what changed (an
 * emptied date as `null`) and hands the API's answer, the code, to `onSaved`; the API's
 * refusals show next to their fields, which keep what was typed. `element` is the row; labels
 * and buttons name the code ("Max uses for FRIENDS10", "Save FRIENDS10"), one set per code.
 */
function promoEditor(code, event, { signal, onSaved, onCancel }) {
  const name = code.code;
  const used = code.used ?? 0;
  const inputs = {};
  const errors = {};
  const field = (key, label, control, hint) => {
    const id = `promo-edit-${name}-${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
    control.id = id;
    control.name = key;
    control.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
    inputs[key] = control;
    errors[key] = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    return h(
      'div',
      { class: 'field' },
      // Seen as "Max uses"; heard as "Max uses for FRIENDS10", one per code.
      h('label', { for: id }, label, h('span', { class: 'visually-hidden', text: ` for ${name}` })),
      h('p', { class: 'field-hint', id: `${id}-hint`, text: hint }),
      control,
      errors[key],
    );
  };
  // What the form starts from: a field still showing it is not sent.
  const initial = { maxUses: code.maxUses, validFrom: dateTimeInput(code.validFrom), validUntil: dateTimeInput(code.validUntil) };
  const usesInput = h('input', { type: 'number', inputmode: 'numeric', min: String(Math.max(1, used)), max: String(USES_MAX), step: '1', required: true });
  const fromInput = h('input', { type: 'datetime-local' });
  const untilInput = h('input', { type: 'datetime-local' });
  usesInput.value = String(code.maxUses);
  fromInput.value = initial.validFrom;
  untilInput.value = initial.validUntil;
  const problem = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: ['button', 'button-primary', 'button-small'], 'aria-label': `Save ${name}` }, 'Save');
  const cancel = h('button', { type: 'button', class: ['button', 'button-quiet', 'button-small'], 'aria-label': `Cancel editing ${name}`, onClick: () => onCancel() }, 'Cancel');
  const form = h(
    'form',
    { class: 'promo-edit', novalidate: true, 'aria-label': `Limits of ${name}` },
    h(
      'div',
      { class: 'promo-edit-fields' },
      field('maxUses', 'Max uses', usesInput, used ? `At least ${used.toLocaleString()}, the ${used === 1 ? 'order that uses' : 'orders that use'} it.` : 'Orders that can use it, each for all its tickets.'),
      field('validFrom', 'Valid from', fromInput, `Empty: at once. Local time (${timeZone()}).`),
      field('validUntil', 'Valid until', untilInput, 'Empty: as long as tickets are on sale.'),
    ),
    problem,
    h('div', { class: 'promo-edit-actions' }, save, cancel),
  );

  /** The API's (or the form's own) messages next to their fields; else `message` below them. */
  const showErrors = (fieldErrors, message) => {
    for (const key of Object.keys(errors)) {
      errors[key].hidden = true;
      errors[key].textContent = '';
      inputs[key].removeAttribute('aria-invalid');
    }
    const named = Object.keys(errors).filter((key) => typeof fieldErrors[key] === 'string');
    for (const key of named) {
      errors[key].textContent = fieldSentence(key, fieldErrors[key]);
      errors[key].hidden = false;
      inputs[key].setAttribute('aria-invalid', 'true');
    }
    const text = named.length || !message ? '' : message.charAt(0).toUpperCase() + message.slice(1);
    problem.textContent = text;
    problem.hidden = !text;
    if (named.length) inputs[named[0]].focus();
  };

  /** What changed, as the API takes it, and what is wrong before asking (by field). */
  const read = () => {
    const local = {};
    const body = {};
    const uses = wholeNumber(usesInput.value);
    if (uses === null) local.maxUses = 'must be a whole number';
    else if (uses !== initial.maxUses) body.maxUses = uses;
    for (const key of ['validFrom', 'validUntil']) {
      const value = inputs[key].value;
      if (value === initial[key]) continue;
      const date = value ? new Date(value) : null;
      if (date && Number.isNaN(date.getTime())) local[key] = 'is not a valid date and time';
      else body[key] = date ? date.toISOString() : null;
    }
    return { body, local };
  };

  form.addEventListener('keydown', (key) => {
    if (key.key === 'Escape' && !save.disabled) onCancel();
  });
  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    const { body, local } = read();
    if (Object.keys(local).length) return showErrors(local);
    // Nothing changed: nothing to ask.
    if (!Object.keys(body).length) return onCancel();
    showErrors({});
    save.disabled = true;
    cancel.disabled = true;
    try {
      const answer = await api.patch(`/events/${api.seg(event.id)}/promo-codes/${api.seg(name)}`, body, { signal });
      onSaved(answer);
    } catch (error) {
      if (error?.name === 'AbortError' || error?.name === 'SessionExpired') return;
      // Fewer uses than orders that have the code (409) is about max uses; other refusals name their fields.
      if (error.status === 409) showErrors({ maxUses: error.message });
      else showErrors(error.fields ?? {}, error.message);
    } finally {
      save.disabled = false;
      cancel.disabled = false;
    }
  });

  const element = h('tr', { class: 'promo-edit-row', dataset: { promoEditFor: name } }, h('td', { colspan: String(COLUMNS) }, form));
  return {
    element,
    focus: () => {
      usesInput.focus();
      usesInput.select();
    },
  };
}

/** "10% off" or "€5.00 off". */
function discountText(code, currency) {
  return code.percentOff != null ? `${percent(code.percentOff)} off` : `${money(code.amountOffMinor, currency)} off`;
}

/** "Any time", "From …", "Until …" or "… – …". */
function validityText(code) {
  if (code.validFrom && code.validUntil) return `${dateTime(code.validFrom)} – ${dateTime(code.validUntil)}`;
  if (code.validFrom) return `From ${dateTime(code.validFrom)}`;
  if (code.validUntil) return `Until ${dateTime(code.validUntil)}`;
  return 'Any time';
}

/** Whether buyers can use a code now, in words, and its tone. */
function promoStatus(code, now) {
  if ((code.used ?? 0) >= code.maxUses) return { text: 'Used up', tone: 'muted' };
  if (code.validUntil && new Date(code.validUntil).getTime() <= now) return { text: 'Expired', tone: 'muted' };
  if (code.validFrom && new Date(code.validFrom).getTime() > now) return { text: 'Not yet valid', tone: 'muted' };
  return { text: 'Active', tone: 'good' };
}

/** A typed whole number; blank is 0 (the API's range message explains it), a fraction or words null. */
function wholeNumber(text) {
  const trimmed = String(text).trim();
  if (trimmed === '') return 0;
  const number = Number(trimmed);
  return Number.isSafeInteger(number) ? number : null;
}

/** "Max uses must be between 1 and 1000000"; the API's field names in the message as the form's words. */
function fieldSentence(name, text) {
  const worded = text.replace(/`?\b(maxUses|percentOff|amountOffMinor|ticketTypeIds|validFrom|validUntil)\b`?/g, (_, key) => FIELD_LABELS[key].toLowerCase());
  // A message that starts with its subject ("the event already has …", "`maxUses` cannot go
  // below …") reads on its own.
  const own = /^(the|a|an)\b/i.test(worded) || worded.toLowerCase().startsWith(`${FIELD_LABELS[name].toLowerCase()} `);
  return own ? worded.charAt(0).toUpperCase() + worded.slice(1) : `${FIELD_LABELS[name]} ${worded}`;
}

function amountProblem(currency) {
  const digits = minorDigits(currency);
  return digits ? `must be an amount such as 5 or 5.${'5'.padEnd(digits, '0')}` : 'must be a whole amount such as 500';
}
