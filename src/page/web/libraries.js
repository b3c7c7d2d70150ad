// Libraries: which movie and show libraries to keep up to date, and what
// to do after a subtitle changes, per type. Each change is saved at once.
import { get } from './api.js';
import { h, redraw, announce, toggle } from './dom.js';

let libs = null;
let libsError = null;
let forServer = null; // the server the list was read from
let reading = 0;      // the newest read: an older answer (another server) is dropped

export function render(el, ctx, reread) {
  const server = ctx.status.server?.name || ctx.values.ip;
  if (reread || libs === null || server !== forServer) {
    forServer = server;
    libs = null;
    const mine = ++reading;
    get('/api/plex/oauth/libraries')
      .then((l) => { if (mine === reading) { libs = l; libsError = null; draw(el, ctx); } })
      .catch((e) => { if (mine === reading) { libs = []; libsError = e.message; draw(el, ctx); } });
  }
  draw(el, ctx);
}

async function saveOne(ctx, change, input, message) {
  try {
    await ctx.save(change);
    announce(message);
  } catch (e) {
    if (input.type === 'checkbox') input.checked = !input.checked;
    announce(e.message);
  }
}

function group(ctx, type, setting, heading) {
  const chosen = new Set((ctx.values[setting] || []).map(String));
  const mine = (libs || []).filter((l) => l.type === type);
  const boxes = mine.map((l) => {
    const id = `lib-${setting}-${l.key}`;
    return h('div', { class: 'field switch' },
      h('input', { type: 'checkbox', id, checked: chosen.has(String(l.key)),
        dataset: { key: String(l.key) },
        onchange: (e) => {
          // From every box as it is now, not from the last saved list: two
          // quick clicks must both count.
          const boxes = e.target.closest('fieldset').querySelectorAll('input[type=checkbox]');
          const next = [...boxes].filter((b) => b.checked).map((b) => b.dataset.key);
          saveOne(ctx, { [setting]: next }, e.target,
            `${l.title} ${e.target.checked ? 'is kept up to date' : 'is left alone'}.`);
        } }),
      h('label', { for: id }, l.title, typeof l.count === 'number' ? h('span', { class: 'muted' }, ` (${l.count} items)`) : null));
  });
  return h('fieldset', {},
    h('legend', {}, heading),
    boxes.length ? boxes : h('p', { class: 'muted' }, libs === null ? 'Reading the libraries…' : `No ${type} library on this server.`));
}

function draw(el, ctx) {
  const sw = (name) => toggle({ name, label: ctx.label(name), help: ctx.help(name), checked: ctx.values[name],
    onchange: (on, input) => saveOne(ctx, { [name]: on }, input, `${ctx.label(name)}: ${on ? 'on' : 'off'}.`) });
  redraw(el,
    libsError ? h('p', { class: 'error', role: 'alert' }, libsError) : null,
    h('div', { class: 'row' }, h('button', { type: 'button', id: 'reread-libraries', onclick: () => render(el, ctx, true) }, 'Read the libraries again')),
    group(ctx, 'movie', 'movie_library', ctx.label('movie_library')),
    h('fieldset', {}, h('legend', {}, 'After a movie subtitle changes'), sw('update_movie_library'), sw('set_movie_added')),
    group(ctx, 'show', 'series_library', ctx.label('series_library')),
    h('fieldset', {}, h('legend', {}, 'After an episode subtitle changes'), sw('update_series_library'), sw('set_episode_added')));
}
