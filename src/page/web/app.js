// The plugin's settings page: loads the settings and the status, draws each
// section, and redraws when something changes. Each section lives in its
// own module; this one holds what they share (ctx).
import { get, patch } from './api.js';
import { h, replace, announce, toggle } from './dom.js';
import * as profiles from './profiles.js';
import * as status from './status.js';
import * as signin from './signin.js';
import * as servers from './servers.js';
import * as libraries from './libraries.js';
import * as webhooks from './webhooks.js';

const body = (id) => document.querySelector(`#${id} .body`);
const section = (id) => document.getElementById(id);

const ctx = {
  values: {},   // the settings the page may show (secrets masked)
  schema: {},   // name -> description: label, help, choices
  status: null, // GET /api/plex/status
  profiles: null, // GET /api/plex/profiles: { list, max, error }
  refresh,
  save,
  profileChanged,
  label: (name) => ctx.schema[name]?.label ?? name,
  help: (name) => ctx.schema[name]?.description ?? '',
  signedIn: () => !!ctx.status?.signed_in,
  legacy: () => ctx.values.auth_method === 'apikey',
  // Legacy mode has its server once an address and a token are set.
  hasServer: () => !!ctx.status?.server?.name || (ctx.legacy() && !!ctx.values.ip && !!ctx.values.apikey),
};

// Saves some settings; the answer is the settings as stored. A refusal
// names the field: the caller shows it next to that control.
// One save at a time, in the order asked: two quick changes must reach the
// plugin in the order the person made them.
let saving = Promise.resolve();
function save(changes) {
  const run = async () => {
    const data = await patch('/api/plex/settings', changes);
    ctx.values = data.values;
    return data.values;
  };
  const next = saving.then(run, run);
  saving = next.catch(() => {});
  return next;
}

// The profiles are read beside the rest; when they cannot be, the page
// still shows the profile its address names, and says why in its section.
async function load() {
  const [settings, st, known] = await Promise.all([
    get('/api/plex/settings'),
    get('/api/plex/status'),
    get('/api/plex/profiles').then(
      (p) => ({ list: p?.profiles ?? [], max: p?.max ?? 0, error: '' }),
      (e) => ({ list: [], max: 0, error: e.message })),
  ]);
  ctx.profiles = known;
  if (!settings || !st) throw new Error('the plugin gave an empty answer');
  ctx.values = settings.values;
  ctx.schema = Object.fromEntries(settings.schema.map((s) => [s.name, s]));
  ctx.status = st;
}

// Reloads and redraws; `what` names sections that must also fetch again
// from Plex (servers, libraries, webhooks).
let refreshing = 0; // the newest refresh: an older one answering late is not drawn

async function refresh(what = {}) {
  const mine = ++refreshing;
  try {
    await load();
  } catch (e) {
    if (mine !== refreshing) return;
    document.getElementById('main').setAttribute('aria-busy', 'false');
    for (const id of ['servers', 'libraries', 'webhooks']) section(id).hidden = true;
    if (ctx.profiles) profiles.render(section('profiles'), ctx);
    // A bookmark of a profile removed since.
    if (e.code === 'PLEX_PROFILE_UNKNOWN') {
      replace(body('status'), h('p', { class: 'error', role: 'alert' }, e.message),
        h('p', {}, h('a', { href: location.pathname }, 'Open the main profile')));
      replace(body('account'));
      return;
    }
    replace(body('status'), h('p', { class: 'error', role: 'alert' }, `The settings could not be read: ${e.message}`));
    return;
  }
  if (mine === refreshing) draw(what);
}

// The page now shows another profile without a reload (the one it showed
// was removed): nothing of the other one may stay, a sign-in under way
// above all.
async function profileChanged() {
  signin.stop();
  await refresh({ servers: true, libraries: true, webhooks: true });
}

function draw(what) {
  if (ctx.profiles) profiles.render(section('profiles'), ctx);
  status.render(body('status'), ctx);
  signin.render(body('account'), ctx);
  // A token plex.tv refuses makes every Plex section fail the same way:
  // the status says it once, with "Sign in again".
  const rejected = status.dead(ctx.status?.account || {});
  const connected = ctx.values.use_plex && ((ctx.signedIn() && !rejected) || ctx.legacy());
  section('servers').hidden = !connected;
  section('libraries').hidden = !connected || !ctx.hasServer();
  section('webhooks').hidden = !connected || ctx.legacy();
  if (!section('servers').hidden) servers.render(body('servers'), ctx, what.servers);
  if (!section('libraries').hidden) libraries.render(body('libraries'), ctx, what.libraries);
  if (!section('webhooks').hidden) webhooks.render(body('webhooks'), ctx, what.webhooks);
  drawDiagnostics(body('diagnostics'));
  document.getElementById('main').setAttribute('aria-busy', 'false');
}

function drawDiagnostics(el) {
  const level = ctx.schema.log_level;
  const id = 'log-level';
  const select = h('select', { id, 'aria-describedby': `${id}-help` },
    (level?.choices ?? []).map((c) => h('option', { value: c.value, selected: c.value === ctx.values.log_level }, c.label)));
  const message = h('p', { class: 'error', id: `${id}-error`, role: 'alert', hidden: true });
  select.addEventListener('change', async () => {
    message.hidden = true;
    try {
      await save({ log_level: select.value });
      announce(`Log level set to ${select.selectedOptions[0].textContent}.`);
    } catch (e) {
      message.textContent = e.message;
      message.hidden = false;
    }
  });
  replace(el,
    h('div', { class: 'field' },
      h('label', { for: id }, ctx.label('log_level')), select,
      h('p', { class: 'help', id: `${id}-help` }, ctx.help('log_level')), message),
    h('p', {}, 'A diagnostics file holds the versions, the settings without secrets, the status and the last log ' +
      'lines, with tokens removed: attach it to a bug report. It names your Plex account and your servers and ' +
      'their addresses; look it over before you post it publicly.'),
    h('p', {}, h('a', { class: 'button', href: '/api/plex/diagnostics', download: '' }, 'Download diagnostics')));
}

// The host's session ended (signed out elsewhere, host restarted).
document.addEventListener('pb-host-session-ended', (e) => {
  const banner = document.getElementById('session-ended');
  // Shown first, then filled: an alert region announces what arrives in it.
  banner.hidden = false;
  replace(banner, `${e.detail} `, h('a', { href: location.pathname + location.search }, 'Sign in again'));
});

// The Use Plex switch, drawn by the account section.
ctx.usePlexSwitch = function usePlexSwitch() {
  return toggle({
    name: 'use_plex', label: ctx.label('use_plex'), help: ctx.help('use_plex'), checked: ctx.values.use_plex,
    onchange: async (on, input) => {
      input.disabled = true;
      try {
        await save({ use_plex: on });
        announce(on ? 'Plex is on.' : 'Plex is off.');
        await refresh({ servers: true, libraries: true, webhooks: true });
      } catch (e) {
        input.checked = !on;
        input.disabled = false;
        announce(e.message);
      }
    },
  });
};

refresh({ servers: true, libraries: true, webhooks: true });
