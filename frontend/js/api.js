// The API client: `${apiUrl}/...` with the ID token as bearer (it carries the name and email
// that go on a ticket; API Gateway's JWT authorizer accepts it by its `aud`, the app client).

import * as auth from './auth.js';

/** A refused request: `status`, the API's `error` text and, for invalid input, `fields`. */
export class ApiError extends Error {
  constructor(status, message, fields = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fields = fields;
  }
}

let apiUrl = '';

export function init(config) {
  apiUrl = config.apiUrl;
}

/**
 * Calls the API. `body` is sent as JSON; `accept` picks the answer's type (JSON is parsed, text
 * is returned as a Blob). A 401 gets one refresh and retry; a second one ends the session.
 */
export async function request(path, { method = 'GET', body, accept = 'application/json', signal, ifMatch } = {}) {
  let response = await send(path, { method, body, accept, signal, ifMatch });
  if (response.status === 401) {
    await auth.refresh();
    response = await send(path, { method, body, accept, signal, ifMatch });
    if (response.status === 401) {
      auth.expire();
      throw new auth.SessionExpired();
    }
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  if (accept === 'application/json') return response.json();
  return response.blob();
}

async function send(path, { method, body, accept, signal, ifMatch }) {
  const token = await auth.idToken();
  const headers = { Authorization: `Bearer ${token}`, Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // The version an edit was made from: the API refuses it (412) if another edit came first.
  if (ifMatch !== undefined) headers['If-Match'] = ifMatch;
  try {
    return await fetch(`${apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'Cannot reach the server. Check your connection and try again.');
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const fallback = {
    403: 'You are not allowed to do that.',
    404: 'Not found.',
    409: 'That is not possible any more.',
    429: 'Too many requests. Wait a moment and try again.',
  };
  const message =
    (typeof body?.error === 'string' && body.error) ||
    (typeof body?.message === 'string' && body.message) ||
    fallback[response.status] ||
    `Something went wrong on our side (${response.status}). Please try again.`;
  const fields = body && typeof body.fields === 'object' && body.fields ? body.fields : {};
  return new ApiError(response.status, message, fields);
}

export const get = (path, options) => request(path, options);
export const post = (path, body, options) => request(path, { ...options, method: 'POST', body });
export const patch = (path, body, options) => request(path, { ...options, method: 'PATCH', body });
export const put = (path, body, options) => request(path, { ...options, method: 'PUT', body });

/** Path segment encoding for ids that came from a URL. */
export const seg = (value) => encodeURIComponent(String(value));
