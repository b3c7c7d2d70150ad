// Profiles: several Plex sign-ins side by side (the owner's, a friend's, a
// Plex Home user's), each with its own account, server, libraries and
// switches. The page shows one at a time, the one its address names
// (api.js); this section lists them, switches by a link (so a reload or a
// bookmark keeps the choice), and adds, renames and removes them
// (GET/POST /api/plex/profiles, PATCH/DELETE /api/plex/profiles/{id}).
import { post, patch, del, profileId, profileHref } from './api.js';
import { h, redraw, announce, fieldMessage } from './dom.js';

let mode = null;  // the form open: 'add' | 'rename' | 'remove'
let problem = ''; // the plugin's refusal, shown in that form
let busy = false; // a request of this section is under way
let done = null;  // what the last removal did: { title, lines }

// The default profile may have no name: its account's, or "Main".
export const title = (p) => p.name || (p.default ? p.username || 'Main' : p.id);

const dead = (p) => p.state === 'rejected' || p.state === 'unreadable';
const STATE = {
  signed_out: 'not signed in',
  unchecked: 'signed in',
  ok: 'signed in',
  rejected: 'Plex refuses its sign-in: sign in again',
  unreadable: 'its sign-in cannot be read: sign in again',
};

// The profile this page shows; null when its address names none we know.
export function current(ctx) {
  const id = profileId();
  return ctx.profiles?.list.find((p) => (id ? p.id === id : p.default)) ?? null;
}

export function render(section, ctx) {
  const el = section.querySelector('.body');
  const data = ctx.profiles;
  if (!data) return;
  const here = current(ctx);
  document.title = data.list.length > 1 && here ? `Plex settings: ${title(here)}` : 'Plex settings';
  // Only the default profile: the page as it always was, with a small
  // way to add another.
  const alone = data.list.length <= 1 && !!here && !data.error;
  section.classList.toggle('alone', alone && !mode && !done);
  const parts = [];
  if (data.error) parts.push(h('p', { class: 'error', role: 'alert' }, `The profiles could not be read: ${data.error}`));
  if (done) parts.push(doneNotice());
  if (!alone) parts.push(h('ul', { class: 'plain profile-list' }, data.list.map((p, i) => item(ctx, p, p === here, i))));
  if (mode === 'add') parts.push(addForm(ctx, data));
  else if (mode === 'rename' && here) parts.push(renameForm(ctx, here));
  else if (mode === 'remove' && here && !here.default) parts.push(removeConfirm(ctx, here));
  else parts.push(h('div', { class: 'row end' },
    h('button', { type: 'button', id: 'profile-add', class: alone ? 'small' : null, onclick: () => open(ctx, 'add') },
      'Add profile')));
  redraw(el, parts);
}

// One profile: its name (a link to its page), account, server and state;
// the one shown here has Rename and Remove (the default cannot be removed).
function item(ctx, p, isHere, i) {
  const name = title(p);
  const facts = [p.username && p.username !== name ? p.username : null, p.server_name || null].filter(Boolean);
  return h('li', { class: `profile${isHere ? ' here' : ''}` },
    h('div', { class: 'profile-head' },
      h('a', { href: profileHref(p), id: `profile-${i}`, 'aria-current': isHere ? 'page' : null }, name),
      p.default && name !== 'Main' ? h('span', { class: 'chip' }, 'main') : null,
      isHere ? h('span', { class: 'chip here' }, 'shown below') : null),
    h('p', { class: 'muted' }, facts.length ? `${facts.join(' · ')} · ` : '',
      h('span', { class: dead(p) ? 'bad' : null }, STATE[p.state] ?? p.state)),
    isHere ? h('div', { class: 'row' },
      h('button', { type: 'button', id: 'profile-rename', 'aria-label': `Rename ${name}`, onclick: () => open(ctx, 'rename') },
        'Rename'),
      p.default ? null : h('button', { type: 'button', class: 'danger', id: 'profile-remove', 'aria-label': `Remove ${name}…`,
        onclick: () => open(ctx, 'remove') }, 'Remove…')) : null);
}

function open(ctx, what) {
  mode = what;
  problem = '';
  done = null;
  draw(ctx);
  document.getElementById(what === 'remove' ? 'profile-remove-cancel' : `profile-${what}-name`)?.focus();
}

function close(ctx, focusId) {
  mode = null;
  problem = '';
  draw(ctx);
  if (focusId) document.getElementById(focusId)?.focus();
}

function draw(ctx) {
  render(document.getElementById('profiles'), ctx);
}

// A request of this section: one at a time; a refusal is said in the form,
// and the focus goes back to `retryId`.
async function act(ctx, retryId, doing) {
  if (busy) return;
  busy = true;
  problem = '';
  draw(ctx);
  try {
    await doing();
  } catch (e) {
    problem = fieldMessage(e, 'name');
  } finally {
    busy = false;
  }
  draw(ctx);
  if (problem) document.getElementById(retryId)?.focus();
}

// A name typed in a small form: Add's and Rename's.
function nameForm(ctx, { id, legend, value, help, button, submit }) {
  const error = `${id}-error`;
  const input = h('input', { type: 'text', id, value, maxlength: '64', autocomplete: 'off', disabled: busy,
    'aria-invalid': problem ? 'true' : null, 'aria-describedby': `${id}-help ${error}` });
  return h('form', { class: 'profile-form', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (!name) {
        problem = 'Type a name for the profile.';
        draw(ctx);
        document.getElementById(id)?.focus();
        return;
      }
      act(ctx, id, () => submit(name));
    } },
  h('fieldset', {},
    h('legend', {}, legend),
    h('div', { class: 'field' },
      h('label', { for: id }, 'Name'), input,
      h('p', { class: 'help', id: `${id}-help` }, help)),
    h('p', { class: 'error', id: error, role: 'alert' }, problem),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'primary', disabled: busy }, button),
      h('button', { type: 'button', onclick: () => close(ctx, mode === 'add' ? 'profile-add' : 'profile-rename') }, 'Cancel'))));
}

function addForm(ctx, data) {
  return nameForm(ctx, {
    id: 'profile-add-name', legend: 'Add a profile', value: '', button: 'Add',
    help: 'Another Plex sign-in beside this one, with its own server, libraries and webhook: a friend\'s account, ' +
      `a Plex Home user. Up to ${data.max || 'a few'} profiles.`,
    // The new profile's page, to sign in there.
    submit: async (name) => {
      const p = await post('/api/plex/profiles', { name });
      location.assign(profileHref(p));
    },
  });
}

function renameForm(ctx, p) {
  return nameForm(ctx, {
    id: 'profile-rename-name', legend: `Rename ${title(p)}`, value: p.name, button: 'Save name',
    help: 'The name is only for this page: Plex does not see it.',
    submit: async (name) => {
      await patch(`/api/plex/profiles/${encodeURIComponent(p.id)}`, { name });
      mode = null;
      announce(`Profile renamed to ${name}.`);
      await ctx.refresh();
      document.getElementById('profile-rename')?.focus();
    },
  });
}

function removeConfirm(ctx, p) {
  const name = title(p);
  return h('div', { class: 'notice confirm', id: 'profile-remove-confirm' },
    h('p', {}, h('strong', {}, `Remove the profile ${name}?`)),
    h('p', {}, 'It is signed out of Plex (its webhook comes off plex.tv unless another profile uses the same account) and its settings are deleted. ' +
      'The other profiles stay as they are.'),
    h('p', { class: 'error', id: 'profile-remove-error', role: 'alert' }, problem),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger', id: 'profile-remove-yes', disabled: busy,
        'aria-describedby': 'profile-remove-error',
        onclick: () => act(ctx, 'profile-remove-yes', async () => {
          const r = await del(`/api/plex/profiles/${encodeURIComponent(p.id)}`);
          mode = null;
          done = { title: name, lines: Array.isArray(r?.done) ? r.done : [] };
          // The page now shows the default profile, in place: the lines
          // above would be lost by a reload.
          history.replaceState(null, '', location.pathname);
          await ctx.profileChanged();
          document.getElementById('profile-done')?.focus();
        }) }, `Remove ${name}`),
      h('button', { type: 'button', id: 'profile-remove-cancel', onclick: () => close(ctx, 'profile-remove') }, 'Cancel')));
}

function doneNotice() {
  return h('div', { class: 'notice good', id: 'profile-done', role: 'status', tabindex: '-1' },
    h('p', {}, `The profile ${done.title} is removed. The page shows the main profile.`),
    done.lines.length ? h('ul', {}, done.lines.map((line) => h('li', {}, line))) : null);
}
