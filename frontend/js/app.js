// The site's entry point: loads config.json, finishes a sign-in coming back from the hosted UI,
// draws the header and routes between pages without reloading. Routes are query strings of
// `/` (`/?event=…`, `/?order=…`, `/?page=tickets`…), which ticketd and CloudFront both serve.

import * as api from './api.js';
import * as auth from './auth.js';
import { loadConfig } from './config.js';
import { h, icon, replace, setTitle } from './dom.js';
import { errorPanel, link, notice, routes, spinner } from './views/common.js';
import eventPage from './views/event.js';
import homePage from './views/home.js';
import managePage from './views/manage.js';
import newEventPage, { editEventPage } from './views/new-event.js';
import orderPage from './views/order.js';
import organizerPage from './views/organizer.js';
import scanPage from './views/scan.js';
import ticketsPage from './views/tickets.js';

const main = document.getElementById('main');
const nav = document.getElementById('main-nav');
const account = document.getElementById('account');

/** Which page a URL shows; `auth`: needs a session, `organizer`: needs the group. */
function resolve(url) {
  const params = url.searchParams;
  if (params.has('order')) return { view: orderPage, auth: true, id: params.get('order'), section: 'tickets' };
  if (params.has('event')) return { view: eventPage, auth: true, id: params.get('event'), section: 'events' };
  if (params.has('manage')) return { view: managePage, auth: true, organizer: true, id: params.get('manage'), section: 'organizer' };
  if (params.has('edit')) return { view: editEventPage, auth: true, organizer: true, id: params.get('edit'), section: 'organizer' };
  switch (params.get('page')) {
    case 'tickets':
      return { view: ticketsPage, auth: true, section: 'tickets' };
    case 'organizer':
      return { view: organizerPage, auth: true, organizer: true, section: 'organizer' };
    case 'new-event':
      return { view: newEventPage, auth: true, organizer: true, section: 'organizer' };
    case 'scan':
      return { view: scanPage, auth: true, organizer: true, section: 'scan' };
    default:
      return { view: homePage, auth: false, section: 'events' };
  }
}

let current = null;

/** Shows the page of the current URL, ending the previous page's polling and camera. */
async function render({ focus = true, message = null } = {}) {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const { signal } = controller;
  const route = resolve(new URL(location.href));
  const user = auth.currentUser();
  renderHeader(route.section);
  if (route.auth && !user) {
    signedOutPage(message);
    if (focus) focusHeading();
    return;
  }
  if (route.organizer && !user.isOrganizer) {
    notOrganizerPage();
    if (focus) focusHeading();
    return;
  }
  replace(main, spinner('Loading…'));
  try {
    await route.view({ main, signal, id: route.id, user, navigate, message });
  } catch (error) {
    if (signal.aborted || error?.name === 'AbortError') return;
    if (error instanceof auth.SessionExpired) return expiredPage();
    if (error instanceof auth.NotSignedIn) return signedOutPage();
    console.error(error);
    replace(main, errorPanel(error, () => render()));
  }
  if (focus && !signal.aborted) focusHeading();
}

/** Goes to a path of this site without reloading. */
export function navigate(path, { replace: replaceEntry = false } = {}) {
  if (replaceEntry) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  return render();
}

function focusHeading() {
  const heading = main.querySelector('h1');
  (heading ?? main).focus({ preventScroll: true });
}

function renderHeader(section) {
  const user = auth.currentUser();
  const item = (key, href, label, iconName) =>
    h('li', {}, link(href, { 'aria-current': key === section ? 'page' : null }, icon(iconName), h('span', { text: label })));
  if (user) {
    nav.hidden = false;
    replace(
      nav,
      h(
        'ul',
        {},
        item('events', routes.home(), 'Events', 'calendar'),
        item('tickets', routes.tickets(), 'My tickets', 'ticket'),
        user.isOrganizer ? item('organizer', routes.organizer(), 'Organize', 'users') : null,
        user.isOrganizer ? item('scan', routes.scan(), 'Scan', 'scan') : null,
      ),
    );
    replace(
      account,
      h('span', { class: 'account-name', title: user.email, text: user.name }),
      h('button', { type: 'button', class: 'button button-quiet button-small', onClick: () => auth.signOut(), text: 'Sign out' }),
    );
  } else {
    nav.hidden = true;
    nav.replaceChildren();
    replace(
      account,
      h('button', { type: 'button', class: 'button button-quiet button-small', onClick: () => auth.signIn(), text: 'Sign in' }),
      h('button', { type: 'button', class: 'button button-primary button-small', onClick: () => auth.signIn({ signUp: true }), text: 'Create account' }),
    );
  }
}

function signedOutPage(message) {
  setTitle('Sign in');
  replace(
    main,
    h(
      'section',
      { class: 'panel panel-narrow center' },
      h('h1', { tabindex: '-1', text: 'Sign in to continue' }),
      message ? notice('error', null, h('p', { text: message })) : null,
      h('p', { class: 'lead', text: 'Sign in or create a free account to see events, buy tickets and download them.' }),
      h(
        'div',
        { class: 'button-row center' },
        h('button', { type: 'button', class: 'button button-primary', onClick: () => auth.signIn(), text: 'Sign in' }),
        h('button', { type: 'button', class: 'button button-secondary', onClick: () => auth.signIn({ signUp: true }), text: 'Create account' }),
      ),
    ),
  );
}

function expiredPage() {
  current?.abort();
  renderHeader(null);
  setTitle('Session expired');
  replace(
    main,
    h(
      'section',
      { class: 'panel panel-narrow center', id: 'session-expired' },
      h('div', { class: 'big-icon big-icon-warn' }, icon('clock')),
      h('h1', { tabindex: '-1', text: 'Your session has expired — sign in again' }),
      h('p', { class: 'lead', text: 'For your security you were signed out. Sign in again to pick up where you left off.' }),
      h('div', { class: 'button-row center' }, h('button', { type: 'button', class: 'button button-primary button-large', onClick: () => auth.signIn(), text: 'Sign in again' })),
    ),
  );
  focusHeading();
}

function notOrganizerPage() {
  setTitle('Organizers only');
  replace(
    main,
    h(
      'section',
      { class: 'panel panel-narrow center' },
      h('div', { class: 'big-icon big-icon-info' }, icon('users')),
      h('h1', { tabindex: '-1', text: 'This page is for organizers' }),
      h('p', { class: 'lead', text: 'Your account can buy tickets but not run events yet. Ask the site’s operator to make you an organizer, then sign in again.' }),
      h(
        'div',
        { class: 'button-row center' },
        h('button', { type: 'button', class: 'button button-primary', onClick: () => auth.signIn(), text: 'Sign in again' }),
        link(routes.home(), { class: 'button button-secondary' }, 'Browse events'),
      ),
    ),
  );
}

/** Same-site links under `/` are routed here; others (and new-tab clicks) behave normally. */
function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.target.closest?.('a[href]');
  if (!anchor || anchor.target || anchor.hasAttribute('download')) return;
  const url = new URL(anchor.href);
  if (url.origin !== location.origin || url.pathname !== '/') return;
  if (url.hash && url.search === location.search) return; // in-page anchors (skip link)
  event.preventDefault();
  navigate(`${url.pathname}${url.search}`);
}

async function boot() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    replace(main, errorPanel(error, () => location.reload()));
    return;
  }
  auth.init(config);
  api.init(config);

  let message = null;
  const url = new URL(location.href);
  if (auth.isCallback(url)) {
    // The code leaves the address bar (and the history) before anything else happens.
    history.replaceState(null, '', '/');
    replace(main, spinner('Signing you in…'));
    try {
      const back = await auth.completeSignIn(url.searchParams);
      history.replaceState(null, '', back);
    } catch (error) {
      message = error.message;
    }
  }

  auth.onChange((change) => {
    if (change === 'expired') expiredPage();
    else renderHeader(resolve(new URL(location.href)).section);
  });
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render());
  await render({ focus: false, message });
}

boot();
