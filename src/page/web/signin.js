// The Plex account: Use Plex, Sign in with Plex (a popup on plex.tv, polled
// with the PIN's state), sign out, and the legacy mode with its migration.
import { get, post } from './api.js';
import { h, replace, announce, safeHref, when, fieldMessage, toggle } from './dom.js';
import * as home from './home.js';

const POLL_MS = 1500;
let flow = null; // the sign-in in progress: { cancel() }

let drawn = null; // where the section was last drawn: { el, ctx }

export function render(el, ctx) {
  drawn = { el, ctx };
  if (flow) return; // a sign-in in progress keeps its own view
  const s = ctx.status;
  const parts = [ctx.usePlexSwitch()];
  if (ctx.values.use_plex && !ctx.legacy()) parts.push(jwtSwitch(ctx));
  if (!ctx.values.use_plex) {
    parts.push(h('p', { class: 'muted' }, 'Turn Plex on to connect your account.'));
    return replace(el, parts);
  }
  if (ctx.legacy()) {
    parts.push(legacyView(el, ctx));
  } else if (s.signed_in) {
    const email = ctx.values.email ? ` (${ctx.values.email})` : '';
    parts.push(h('p', { id: 'signed-in-as' }, `Signed in as ${ctx.values.username || 'a Plex user'}${email}.`));
    parts.push(home.block(ctx));
    // (A refused token's "Sign in again" is in the status, above.)
    parts.push(h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger', onclick: () => signOut(el, ctx) }, 'Sign out')));
  } else {
    parts.push(
      h('p', {}, 'Sign in with your Plex account: a Plex window opens, you allow plexbridge, and the window closes.'),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary', id: 'connect', onclick: () => connect(el, ctx) }, 'Connect to Plex')));
  }
  replace(el, parts);
}

// The opt-in to plex.tv's short-lived tokens (docs/accounts.md): signed
// in, turning it on moves the account over at once.
function jwtSwitch(ctx) {
  return toggle({
    name: 'jwt_sign_in', label: ctx.label('jwt_sign_in'), help: ctx.help('jwt_sign_in'), checked: ctx.values.jwt_sign_in,
    onchange: async (on, input) => {
      input.disabled = true;
      try {
        await ctx.save({ jwt_sign_in: on });
        announce(on ? 'Short-lived Plex tokens are on.' : 'Short-lived Plex tokens are off for the next sign-in.');
      } catch (e) {
        input.checked = !on;
        announce(e.message);
      }
      input.disabled = false;
      setTimeout(() => ctx.refresh(), 1500); // the move over, seen in the status
    },
  });
}

function legacyView(el, ctx) {
  const v = ctx.values;
  const box = h('div', { class: 'notice' },
    h('p', {}, h('strong', {}, 'Legacy mode: '),
      `Plex Media Server at ${v.ssl ? 'https' : 'http'}://${v.ip}:${v.port} with a token typed by hand.`),
    h('p', {}, 'Sign in with Plex finds your servers by itself, follows them when their address changes and ' +
      'keeps working for shared servers.'));
  const migration = h('p', { class: 'muted', id: 'migration' });
  if (!v.apikey) box.append(legacyTokenField(ctx));
  box.append(migration,
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'primary', onclick: () => connect(el, ctx) }, 'Move to Sign in with Plex')));
  get('/api/plex/migration').then((m) => {
    if (!m) return;
    migration.textContent = m.result === 'migrated'
      ? `Moved automatically on ${when(m.at)}.`
      : `The automatic move did not work (${when(m.at)}): ${m.error || m.result}.`;
  }).catch(() => {});
  return box;
}

// Legacy mode without a token yet: typed here, stored encrypted by
// POST /api/plex/apikey (never through the settings route).
function legacyTokenField(ctx) {
  const id = 'legacy-token';
  const input = h('input', { type: 'password', id, autocomplete: 'off', 'aria-describedby': `${id}-help ${id}-error` });
  const error = h('p', { class: 'error', id: `${id}-error`, role: 'alert' });
  const saveIt = async () => {
    error.textContent = '';
    try {
      await post('/api/plex/apikey', { apikey: input.value.trim() });
      input.value = '';
      announce('Token saved, encrypted.');
      await ctx.refresh({ servers: true, libraries: true });
    } catch (e) {
      error.textContent = fieldMessage(e, 'apikey');
      input.focus();
    }
  };
  return h('div', { class: 'field' },
    h('label', { for: id }, ctx.label('apikey')), input,
    h('p', { class: 'help', id: `${id}-help` }, ctx.help('apikey')), error,
    h('div', { class: 'row' }, h('button', { type: 'button', id: `${id}-save`, onclick: saveIt }, 'Save token')));
}

async function signOut(el, ctx) {
  try {
    await post('/api/plex/oauth/logout');
    announce('Signed out of Plex.');
  } catch (e) {
    announce(e.message);
  }
  await ctx.refresh();
}

// Opens the window first, synchronously in the click: a window opened
// after an await is no longer the user's gesture and gets blocked.
function connect(el, ctx) {
  if (flow) flow.cancel();
  const popup = window.open('', 'plexbridge-sign-in', 'popup,width=600,height=700');
  // (The window keeps its opener: without it Chromium moves the window to
  // another browsing-context group once it leaves for plex.tv, and the
  // page could no longer close it when the sign-in is done.)
  const view = h('div', { id: 'sign-in-flow' });
  replace(el, view);
  let stopped = false;
  const polls = [];
  const finish = async (message) => {
    stopped = true;
    flow = null;
    if (popup && !popup.closed) popup.close();
    if (message) announce(message);
    await ctx.refresh({ servers: true, libraries: true, webhooks: true });
  };
  flow = { cancel: () => { stopped = true; flow = null; if (popup && !popup.closed) popup.close(); } };
  const cancel = h('button', { type: 'button', onclick: () => { flow?.cancel(); ctx.refresh(); } }, 'Cancel');

  const fail = (message, retry = true) => {
    stopped = true;
    flow = null;
    if (popup && !popup.closed) popup.close();
    replace(view,
      h('p', { class: 'error', role: 'alert' }, message),
      h('div', { class: 'row' },
        retry ? h('button', { type: 'button', class: 'primary', onclick: () => connect(el, ctx) }, 'Start again') : null,
        h('button', { type: 'button', onclick: () => ctx.refresh() }, 'Back')));
  };

  // Polls one PIN until it is linked, expires or the flow stops. `gone`
  // says what its end means: the main PIN's ends the sign-in; the short
  // code's only takes the code away (the link may still be used).
  const expired = 'The sign-in code expired before it was used. Start again to get a new one.';
  const poll = async (pin, gone = fail) => {
    const deadline = Date.now() + (pin.expiresIn || 900) * 1000;
    while (!stopped) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (stopped) return;
      if (Date.now() > deadline) return gone(expired);
      try {
        const r = await get(`/api/plex/oauth/pin/${encodeURIComponent(pin.pinId)}/check?state=${encodeURIComponent(pin.state)}`);
        if (stopped) return;
        if (r.authenticated) return finish(`Signed in as ${r.username}.`);
      } catch (e) {
        if (stopped) return;
        if (e.code === 'PLEX_PIN_EXPIRED' || e.code === 'PLEX_PIN_NOT_FOUND') return gone(expired);
        if (e.status >= 400 && e.status < 500 && e.code !== 'PLEX_RATE_LIMITED') return gone(e.message);
        // plex.tv slow or down for a moment: keep trying until the code expires.
      }
    }
  };

  replace(view, h('p', { role: 'status' }, 'Starting the Plex sign-in…'), h('div', { class: 'row' }, cancel));
  (async () => {
    let pin;
    try {
      pin = await post('/api/plex/oauth/pin');
    } catch (e) {
      return fail(`Could not start the sign-in: ${e.message}`);
    }
    if (stopped) return;
    const href = safeHref(pin.authUrl);
    if (!href) return fail('The plex.tv sign-in address is not an http(s) address: check the "Plex sign-in page" setting.');
    if (popup && !popup.closed) {
      popup.location.href = href;
      replace(view,
        h('p', { role: 'status' }, 'Waiting for you to allow plexbridge in the Plex window…'),
        h('p', { class: 'muted' }, 'Closed it by mistake? ', h('a', { href, target: '_blank', rel: 'noopener' },
          'Open the Plex sign-in again'), '.'),
        h('div', { class: 'row' }, cancel));
      polls.push(poll(pin));
      return;
    }
    // The browser blocked the window: a link the user clicks (a gesture,
    // so it opens) and a short code to type at plex.tv/link.
    const shown = [
      h('p', { role: 'alert' }, 'Your browser blocked the Plex window.'),
      h('p', {}, h('a', { class: 'button primary', href, target: '_blank', rel: 'noopener', id: 'sign-in-link' },
        'Open the Plex sign-in')),
    ];
    replace(view, shown, h('div', { class: 'row' }, cancel));
    polls.push(poll(pin));
    try {
      const short = await post('/api/plex/oauth/pin', { kind: 'link' });
      if (stopped) return;
      const link = safeHref(short.linkUrl);
      const notice = h('div', { class: 'notice' },
        h('p', {}, 'Or, on any device, go to ', link ? h('a', { href: link, target: '_blank', rel: 'noopener' }, short.linkUrl)
          : short.linkUrl, ' and type this code:'),
        h('p', { class: 'code', id: 'link-code' }, short.code));
      view.insertBefore(notice, view.lastChild);
      polls.push(poll(short, () => notice.replaceChildren(h('p', { class: 'muted' },
        'The short code expired; the link above still works.'))));
    } catch {
      // The link above is enough on its own.
    }
  })();
}

// Ends a sign-in under way (the profile it was for is gone).
export function stop() {
  if (flow) flow.cancel();
}

// "Sign in again" in the status section (dispatched within the click, so
// the window may still open).
document.addEventListener('pb-sign-in', () => {
  if (drawn) connect(drawn.el, drawn.ctx);
});
