// The host's settings page: a list of plugins at "#", a plugin's plain
// settings form at "#form/<id>".
import { request, errorText } from './api.js';
import { renderForm, el } from './form.js';

const view = document.getElementById('view');
const pageAlert = document.getElementById('page-alert');
let plugins = null; // fetched once per page load
let ticket = 0; // the latest navigation; older ones drop their results
let firstRoute = true;

// Plugin-supplied links and endpoints must be paths on this host: never
// "javascript:", another site, or a protocol-relative "//elsewhere".
// A path on this host, as the browser will read it: "/\t/evil.com" is
// another site once tabs and backslashes are normalised, so the check is
// on the resolved origin, not the text.
const safePath = (p) => {
  if (typeof p !== 'string' || !p.startsWith('/')) return null;
  try {
    const u = new URL(p, location.origin);
    return u.origin === location.origin ? u.pathname + u.search + u.hash : null;
  } catch {
    return null;
  }
};
const formHref = (id) => `#form/${encodeURIComponent(id)}`;
const titleOf = (p) => (p.page && p.page.title) || p.name || p.id;

async function loadPlugins() {
  if (!plugins) {
    const res = await request('/api/host/plugins');
    if (!res.ok) throw new Error(errorText(res));
    plugins = Array.isArray(res.json && res.json.data) ? res.json.data.filter((p) => p && typeof p.id === 'string') : [];
  }
  return plugins;
}

// Swap the view and, after an in-page navigation, move focus to its heading
// so screen reader and keyboard users start at the new content.
function show(heading, ...nodes) {
  const h2 = el('h2', { tabindex: '-1', text: heading });
  view.replaceChildren(h2, ...nodes);
  document.title = `${heading} – plexbridge-host`;
  if (!firstRoute) h2.focus();
}

function showList(list) {
  const items = list.map((p) => {
    const title = titleOf(p);
    const page = safePath(p.page && p.page.path);
    const meta = [p.name && p.name !== title ? p.name : null, p.version ? `version ${p.version}` : null].filter(Boolean).join(', ');
    // Hidden suffixes keep link names distinct when read out of context.
    return el('li', { class: 'plugin' }, [
      el('h3', { text: title }),
      meta ? el('p', { class: 'meta', text: meta }) : '',
      el('p', { class: 'links' }, [
        el('a', { class: 'button', href: page || formHref(p.id) }, ['Open settings', el('span', { class: 'vh', text: ` for ${title}` })]),
        el('a', { href: formHref(p.id) }, ['All settings (plain form)', el('span', { class: 'vh', text: ` for ${title}` })]),
      ]),
    ]);
  });
  show('Plugins', items.length ? el('ul', { class: 'plugins' }, items) : el('p', { text: 'No plugins are loaded.' }));
}

async function save(path, patch) {
  const res = await request(path, { method: 'PATCH', body: patch });
  if (res.status === 200) return { ok: true, data: res.json && res.json.data };
  return { ok: false, error: errorText(res), field: res.json && res.json.field };
}

async function showForm(id, mine) {
  const back = el('p', { class: 'back' }, [el('a', { href: '#', text: '← All plugins' })]);
  const plugin = (await loadPlugins()).find((p) => p.id === id);
  if (mine !== ticket) return;
  const path = plugin && safePath(plugin.settings);
  if (!path) return show('Plugin not found', back, el('p', { text: `No plugin “${id}” with settings is loaded.` }));
  const res = await request(path);
  if (mine !== ticket) return;
  if (!res.ok) throw new Error(errorText(res));
  const { data, schema } = res.json || {};
  const container = el('div');
  show(`${titleOf(plugin)} settings`, back, container);
  renderForm(container, { schema: Array.isArray(schema) ? schema : [], data: data || {} }, (patch) => save(path, patch));
}

async function route() {
  const mine = ++ticket;
  const match = /^#form\/(.+)$/.exec(location.hash);
  try {
    if (match) {
      let id;
      try {
        id = decodeURIComponent(match[1]);
      } catch {
        id = match[1];
      }
      await showForm(id, mine);
    } else {
      const list = await loadPlugins();
      if (mine === ticket) showList(list);
    }
  } catch (err) {
    if (mine !== ticket) return;
    const retry = el('button', { type: 'button', class: 'secondary', text: 'Try again' });
    retry.addEventListener('click', () => { plugins = null; route(); });
    show('Something went wrong', el('p', { class: 'error-box', role: 'alert', text: err.message }), retry);
  }
  firstRoute = false;
}

document.getElementById('signout').addEventListener('click', async () => {
  pageAlert.hidden = true;
  try {
    const res = await request('/api/host/logout', { method: 'POST' });
    if (res.ok) return location.assign('/login');
    pageAlert.textContent = errorText(res);
  } catch (err) {
    pageAlert.textContent = err.message;
  }
  pageAlert.hidden = false; // still signed in: say so rather than pretend
});

// What the host has to say whatever the view (its settings file could not be
// read, say): shown once per page load, as text.
async function showNotices() {
  try {
    const res = await request('/api/host/status');
    const notices = res.ok && res.json && res.json.data && Array.isArray(res.json.data.notices) ? res.json.data.notices : [];
    const box = document.getElementById('host-notices');
    box.replaceChildren(...notices.filter((n) => typeof n === 'string').map((n) => el('li', { text: n })));
    box.hidden = box.children.length === 0;
  } catch {
    // The view says when the host cannot be reached; nothing to add here.
  }
}

window.addEventListener('hashchange', route);
route();
showNotices();
