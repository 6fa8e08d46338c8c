// Sign-in through the hosted UI (Cognito's on AWS, ticketd's identity provider locally): the
// OAuth 2.0 authorization code flow with PKCE (S256). Tokens live in this tab's sessionStorage
// (and memory) only; the code is taken out of the address bar before it is exchanged.

const SESSION_KEY = 'ticketd.session';
const PENDING_KEY = 'ticketd.signin';
const SCOPES = 'openid email profile';
/** Refresh this long before the tokens expire, so a request never carries a dying token. */
const EARLY_MS = 60_000;

/** The session ended (refresh refused): the person has to sign in again. */
export class SessionExpired extends Error {
  constructor() {
    super('Your session has expired — sign in again.');
    this.name = 'SessionExpired';
  }
}

/** Not signed in at all. */
export class NotSignedIn extends Error {
  constructor() {
    super('Sign in to continue.');
    this.name = 'NotSignedIn';
  }
}

/** The hosted UI sent back an error, or the code could not be exchanged. */
export class SignInError extends Error {}

let config = null;
let session = null;
let refreshing = null;
const listeners = new Set();

export function init(siteConfig) {
  config = siteConfig;
  session = readJson(SESSION_KEY);
  if (session && !(typeof session.idToken === 'string' && typeof session.expiresAt === 'number')) session = null;
}

/** Called with `'signed-in' | 'expired' | 'signed-out' | 'refreshed'`. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(change) {
  for (const listener of listeners) listener(change);
}

/** The registered callback (and sign-out) URL: the site's root. */
export function redirectUri() {
  return `${location.origin}/`;
}

/** The signed-in person, from the ID token's claims, or null. */
export function currentUser() {
  if (!session) return null;
  const claims = decodeJwt(session.idToken);
  if (!claims) return null;
  const groups = Array.isArray(claims['cognito:groups'])
    ? claims['cognito:groups']
    : String(claims['cognito:groups'] ?? '').replace(/[[\]]/g, '').split(/[\s,]+/).filter(Boolean);
  return {
    sub: claims.sub,
    email: claims.email ?? '',
    name: claims.name || claims.email || 'You',
    groups,
    isOrganizer: groups.includes('organizer'),
  };
}

/**
 * Goes to the hosted UI's sign-in (or sign-up) page. `returnTo` (a path and query of this
 * site) is where the person lands after signing in.
 */
export async function signIn({ signUp = false, returnTo = currentPath() } = {}) {
  const verifier = randomToken(32);
  const state = randomToken(16);
  writeJson(PENDING_KEY, { state, verifier, returnTo: sitePath(returnTo), at: Date.now() });
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: SCOPES,
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  });
  const endpoint = signUp ? '/signup' : '/oauth2/authorize';
  location.assign(`${config.cognitoDomain}${endpoint}?${params}`);
}

/** Whether this URL is the hosted UI coming back (a code or an error, with a state). */
export function isCallback(url) {
  const params = url.searchParams;
  return params.has('state') && (params.has('code') || params.has('error'));
}

/**
 * Finishes a sign-in: checks the state, exchanges the code (with the PKCE verifier) for tokens
 * and keeps them. Returns the path to go back to. The caller has already removed the code from
 * the address bar.
 */
export async function completeSignIn(params) {
  const pending = readJson(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (!pending || pending.state !== params.get('state')) {
    throw new SignInError('This sign-in link is stale or was opened in another tab. Please sign in again.');
  }
  if (params.has('error')) {
    const description = params.get('error_description') || params.get('error');
    throw new SignInError(`Sign-in did not complete: ${description}`);
  }
  const tokens = await tokenRequest({
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code: params.get('code'),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  if (!tokens) throw new SignInError('Sign-in did not complete: the sign-in code was refused. Please sign in again.');
  keep(tokens, null);
  notify('signed-in');
  return pending.returnTo || '/';
}

/** A valid ID token for the API, refreshed first when it is about to expire. */
export async function idToken() {
  if (!session) throw new NotSignedIn();
  if (Date.now() > session.expiresAt - EARLY_MS) await refresh();
  return session.idToken;
}

/**
 * New tokens from the refresh token. Throws SessionExpired (and forgets the session) when the
 * identity provider refuses it; network trouble is thrown as is and keeps the session.
 */
export function refresh() {
  if (!session) return Promise.reject(new NotSignedIn());
  if (!refreshing) {
    refreshing = (async () => {
      const refreshToken = session.refreshToken;
      const tokens = refreshToken
        ? await tokenRequest({ grant_type: 'refresh_token', client_id: config.clientId, refresh_token: refreshToken })
        : null;
      if (!tokens) {
        expire();
        throw new SessionExpired();
      }
      // Cognito does not rotate refresh tokens: keep the one we have.
      keep(tokens, refreshToken);
      notify('refreshed');
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Forgets the session because it can no longer be used. */
export function expire() {
  const had = session !== null;
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
  if (had) notify('expired');
}

/** Signs out here and at the hosted UI, which sends the browser back to the site's root. */
export function signOut() {
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  notify('signed-out');
  const params = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri() });
  location.assign(`${config.cognitoDomain}/logout?${params}`);
}

function keep(tokens, previousRefreshToken) {
  const claims = decodeJwt(tokens.id_token);
  if (!claims?.exp) throw new SignInError('The sign-in service sent no usable ID token.');
  const lifetime = Number(tokens.expires_in) > 0 ? Number(tokens.expires_in) * 1000 : Infinity;
  session = {
    idToken: tokens.id_token,
    refreshToken: tokens.refresh_token || previousRefreshToken || null,
    expiresAt: Math.min(claims.exp * 1000, Date.now() + lifetime),
  };
  writeJson(SESSION_KEY, session);
}

/** POSTs to the token endpoint; the tokens, or null when the grant is refused (4xx). */
async function tokenRequest(fields) {
  const response = await fetch(`${config.cognitoDomain}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
    credentials: 'omit',
  });
  if (response.status >= 400 && response.status < 500) return null;
  if (!response.ok) throw new Error(`The sign-in service answered ${response.status}. Try again in a moment.`);
  const tokens = await response.json();
  return tokens?.id_token ? tokens : null;
}

function currentPath() {
  return `${location.pathname}${location.search}`;
}

/** Only paths of this site are returned to (no open redirect through `returnTo`). */
function sitePath(path) {
  const url = new URL(path || '/', location.origin);
  return url.origin === location.origin ? `${url.pathname}${url.search}` : '/';
}

function randomToken(bytes) {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function s256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return base64Url(new Uint8Array(digest));
}

function base64Url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The payload of a JWT (not verified: the API verifies; the site only reads names). */
export function decodeJwt(token) {
  try {
    const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function readJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

function writeJson(key, value) {
  sessionStorage.setItem(key, JSON.stringify(value));
}
