// The organizer's profile on "Your events": the name their tickets and event pages show, and
// the address attendees may write to. The API checks both fields and names what is wrong.

import * as api from '../api.js';
import { h, replace } from '../dom.js';

const LABELS = { displayName: 'Display name', contactEmail: 'Contact email' };

/** The section, filled once the profile is read (a 404 means none yet: an empty form). */
export async function organizerProfileSection({ signal }) {
  let profile = null;
  try {
    profile = await api.get('/me/organizer-profile', { signal });
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const inputs = {};
  const errors = {};
  const field = (name, control, hint) => {
    const id = `profile-${name}`;
    control.id = id;
    control.name = name;
    control.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
    inputs[name] = control;
    errors[name] = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    return h('div', { class: 'field' }, h('label', { for: id, text: LABELS[name] }), h('p', { class: 'field-hint', id: `${id}-hint`, text: hint }), control, errors[name]);
  };
  const status = h('p', { class: 'form-status', role: 'status' });
  const save = h('button', { type: 'submit', class: 'button button-primary' }, 'Save profile');
  const form = h(
    'form',
    { class: 'form profile-form', novalidate: true, 'aria-label': 'Organizer profile' },
    h(
      'div',
      { class: 'field-row' },
      field('displayName', h('input', { type: 'text', autocomplete: 'organization', maxlength: '100', required: true }), 'On your tickets and event pages.'),
      field('contactEmail', h('input', { type: 'email', autocomplete: 'email', maxlength: '254', required: true }), 'Shown to attendees on your event pages.'),
    ),
    h('div', { class: 'form-actions' }, save, status),
  );
  inputs.displayName.value = profile?.displayName ?? '';
  inputs.contactEmail.value = profile?.contactEmail ?? '';
  status.textContent = profile ? '' : 'Until you save a name, tickets name Ticketd as their issuer.';

  form.addEventListener('submit', async (submitEvent) => {
    submitEvent.preventDefault();
    for (const name of Object.keys(errors)) {
      errors[name].hidden = true;
      inputs[name].removeAttribute('aria-invalid');
    }
    save.disabled = true;
    status.textContent = '';
    try {
      const saved = await api.put('/me/organizer-profile', { displayName: inputs.displayName.value, contactEmail: inputs.contactEmail.value });
      inputs.displayName.value = saved.displayName;
      inputs.contactEmail.value = saved.contactEmail;
      status.textContent = 'Profile saved.';
    } catch (error) {
      const named = Object.keys(LABELS).filter((name) => typeof error.fields?.[name] === 'string');
      for (const name of named) {
        errors[name].textContent = `${LABELS[name]} ${error.fields[name]}`;
        errors[name].hidden = false;
        inputs[name].setAttribute('aria-invalid', 'true');
      }
      if (named.length) inputs[named[0]].focus();
      else if (error.name !== 'SessionExpired') status.textContent = error.message;
    } finally {
      save.disabled = false;
    }
  });

  const section = h('section', { class: 'panel', 'aria-labelledby': 'profile-heading' }, h('h2', { id: 'profile-heading', text: 'Your organizer profile' }));
  replace(section, section.firstChild, form);
  return section;
}
