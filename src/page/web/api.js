// Calls to the plugin's routes (/api/plex/...), through the host that
// serves this page. The host authenticated the browser with a cookie; an
// unsafe request also carries the CSRF token the host put in the
// XSRF-TOKEN cookie (the convention in plexbridge_plugin.h, pb_page_desc).
// No API key ever lives in this page.
//
// The page shows one profile (one Plex sign-in of several, docs/accounts.md)
// at a time: the one its address names (?profile=), the default one when it
// names none. Every call to a Plex route says which, here and only here.

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)XSRF-TOKEN=([^;]*)/);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1]; // not percent-encoded after all: send it as it is
  }
}

// The profile the page's address names ('' for the default one).
export function profileId() {
  return new URLSearchParams(location.search).get('profile') || '';
}

// The page of a profile: the default one's has no ?profile=, so a bookmark
// of the plain page keeps meaning the default profile.
export function profileHref(p) {
  return p.default || !p.id ? location.pathname : `${location.pathname}?profile=${encodeURIComponent(p.id)}`;
}

// The routes about the whole plugin, not one profile.
const WHOLE_PLUGIN = /^\/api\/plex\/(profiles|diagnostics)(?:[/?]|$)/;

function forProfile(path) {
  const id = profileId();
  if (!id || !path.startsWith('/api/plex/') || WHOLE_PLUGIN.test(path)) return path;
  return `${path}${path.includes('?') ? '&' : '?'}profile=${encodeURIComponent(id)}`;
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    const token = csrfToken();
    if (token) headers['X-XSRF-TOKEN'] = token;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(forProfile(path), {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Could not reach the server. Check that it is running, then try again.');
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (res.ok) return json ? json.data : null;
  const message = json && typeof json.error === 'string' ? json.error : `The server answered HTTP ${res.status}.`;
  const code = json && typeof json.code === 'string' ? json.code : `HTTP_${res.status}`;
  // The host's own refusal (its session ended), not the plugin's: the
  // page says so and offers to sign in to the host again.
  if ((res.status === 401 || res.status === 403) && !code.startsWith('PLEX_')) {
    document.dispatchEvent(new CustomEvent('pb-host-session-ended', { detail: message }));
  }
  throw new ApiError(res.status, code, message, json && json.field);
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);
