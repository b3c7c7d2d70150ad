// Sign-in page: trades the host's API key for a session cookie.
import { request, errorText } from './api.js';

const form = document.getElementById('login');
const input = document.getElementById('apikey');
const message = document.getElementById('message');
const button = document.getElementById('submit');
let busy = false;

// Only ever go back to a path on this site: an open redirect would let a
// crafted link send a freshly signed-in user anywhere.
export function nextTarget(search, origin) {
  const next = new URLSearchParams(search).get('next');
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  try {
    const url = new URL(next, origin);
    return url.origin === origin ? url.pathname + url.search + url.hash : '/';
  } catch {
    return '/';
  }
}

function show(text) {
  message.textContent = text;
  message.hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (busy) return;
  message.hidden = true;
  if (input.value === '') {
    show('Enter the API key.');
    input.focus();
    return;
  }
  busy = true;
  // aria-disabled rather than disabled, so the button keeps focus.
  button.setAttribute('aria-disabled', 'true');
  button.textContent = 'Signing in…';
  try {
    // The key goes from the field straight into the request body; no variable keeps it.
    const res = await request('/api/host/login', {
      method: 'POST',
      body: { apikey: input.value },
      redirectOn401: false,
    });
    input.value = '';
    if (res.status === 200 || res.status === 204) {
      location.replace(nextTarget(location.search, location.origin));
      return;
    }
    show(errorText(res));
  } catch (err) {
    input.value = '';
    show(err.message);
  } finally {
    busy = false;
    button.removeAttribute('aria-disabled');
    button.textContent = 'Sign in';
  }
  input.focus();
});
