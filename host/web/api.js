// The one fetch helper every page uses: JSON in and out, the CSRF header on
// writes, and a trip to the sign-in page when the session has expired.

const LOGIN = '/login';

// The host sets XSRF-TOKEN as a readable cookie (not HttpOnly) so pages can
// echo it in a header: a cross-site form cannot read the cookie, so cannot forge it.
export function csrf() {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'XSRF-TOKEN') {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return part.slice(eq + 1).trim();
      }
    }
  }
  return '';
}

// Sends a request and returns {status, ok, json} (json is null for an empty body).
// Throws an Error with a readable message on a network failure or a body that is not JSON.
export async function request(path, { method = 'GET', body, redirectOn401 = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrf();
    if (token) headers['X-XSRF-TOKEN'] = token;
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new Error('Could not reach plexbridge-host. Is it still running?');
  }
  if (res.status === 401 && redirectOn401) {
    location.assign(`${LOGIN}?next=${encodeURIComponent(location.pathname + location.hash)}`);
    // Never settle: the page is going away, and callers should not flash an error meanwhile.
    return new Promise(() => {});
  }
  const text = await res.text();
  let json = null;
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`The server answered ${res.status} with something that is not JSON.`);
    }
  }
  return { status: res.status, ok: res.ok, json };
}

// The server's own message ({"error": "...", "code": "..."}) when it sent one.
export function errorText(res) {
  const msg = res && res.json && typeof res.json.error === 'string' ? res.json.error : '';
  return msg || `The request failed (HTTP ${res ? res.status : '?'}).`;
}
