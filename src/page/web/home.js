// Plex Home: who else is in the signed-in account's Home, and switching to
// one of them (GET /api/plex/home/users, POST /api/plex/home/switch). A
// protected user's PIN is typed here, sent once and forgotten: the field is
// cleared whatever the answer.
import { get, post } from './api.js';
import { h, replace, announce } from './dom.js';

// The block under "Signed in as", closed until the person asks for it: most
// accounts have no Home, and listing it is a call to plex.tv.
export function block(ctx) {
  const box = h('div', { id: 'plex-home' });
  closed(box, ctx);
  return box;
}

function closed(box, ctx) {
  const open = h('button', { type: 'button', id: 'home-open' }, 'Switch Plex Home user…');
  open.addEventListener('click', () => {
    open.disabled = true;
    list(box, ctx).finally(() => { open.disabled = false; });
  });
  replace(box, h('div', { class: 'row' }, open));
}

function describe(u) {
  const parts = [];
  if (u.admin) parts.push('admin');
  if (u.managed) parts.push(u.restrictionProfile ? `managed, ${u.restrictionProfile.replace('_', ' ')}` : 'managed');
  if (u.protected) parts.push('PIN');
  return parts.length ? ` (${parts.join(', ')})` : '';
}

async function list(box, ctx) {
  const status = h('p', { role: 'status' }, 'Asking plex.tv who is in your Plex Home…');
  replace(box, status);
  let users;
  try {
    ({ users } = await get('/api/plex/home/users'));
  } catch (e) {
    replace(box, h('p', { class: 'error', role: 'alert' }, e.message),
      h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => list(box, ctx) }, 'Try again')));
    return;
  }
  const others = users.filter((u) => !u.current);
  if (others.length === 0) {
    replace(box, h('p', { class: 'muted' }, 'Your Plex account has no Plex Home with other users.'));
    return;
  }
  const name = 'home-user';
  const pinId = 'home-pin';
  const pin = h('input', {
    type: 'password', id: pinId, class: 'pin', inputmode: 'numeric', autocomplete: 'off', maxlength: '16', pattern: '[0-9]*',
    'aria-describedby': `${pinId}-help home-error`,
  });
  const pinField = h('div', { class: 'field', hidden: true },
    h('label', { for: pinId }, 'PIN'), pin,
    h('p', { class: 'help', id: `${pinId}-help` }, 'This user has a PIN. It goes to plex.tv once and is not kept.'));
  const error = h('p', { class: 'error', id: 'home-error', role: 'alert' });
  const chosen = () => users.find((u) => u.uuid === box.querySelector(`input[name="${name}"]:checked`)?.value);
  const radios = users.map((u) => {
    const id = `home-user-${u.uuid}`;
    const input = h('input', { type: 'radio', name, id, value: u.uuid, disabled: u.current });
    input.addEventListener('change', () => {
      pinField.hidden = !u.protected;
      error.textContent = '';
      if (u.protected) pin.focus();
    });
    return h('div', { class: 'switch' }, input,
      h('label', { for: id }, `${u.title}${describe(u)}${u.current ? ' — signed in now' : ''}`));
  });
  const go = h('button', { type: 'button', class: 'primary', id: 'home-switch' }, 'Switch');
  go.addEventListener('click', async () => {
    const u = chosen();
    error.textContent = '';
    if (!u) { error.textContent = 'Choose who to switch to.'; return; }
    if (u.protected && !pin.value) { error.textContent = `${u.title} has a PIN: type it to switch.`; pin.focus(); return; }
    go.disabled = true;
    const typed = pin.value;
    pin.value = '';
    try {
      const r = await post('/api/plex/home/switch', typed ? { uuid: u.uuid, pin: typed } : { uuid: u.uuid });
      announce(r.message);
      await ctx.refresh({ servers: true, libraries: true, webhooks: true });
    } catch (e) {
      error.textContent = e.message;
      go.disabled = false;
      // plex.tv may ask a PIN of someone it lists without one: the field
      // shows for them too.
      if (e.code === 'PLEX_HOME_PIN_WRONG') { pinField.hidden = false; pin.focus(); }
    }
  });
  replace(box,
    h('fieldset', {},
      h('legend', {}, 'Switch to another Plex Home user'),
      radios,
      pinField,
      h('p', { class: 'help' }, 'plexbridge then works as that user: their own access to your servers, and what ' +
        'their restrictions allow.'),
      error,
      h('div', { class: 'row' }, go,
        h('button', { type: 'button', onclick: () => closed(box, ctx) }, 'Cancel'))));
}
