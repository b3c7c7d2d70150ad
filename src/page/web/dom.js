// Building the page's DOM. Every string, from Plex or anywhere else, goes in
// as text (textContent, value, attributes), never parsed as HTML: a server
// named "<img src=x onerror=alert(1)>" shows those characters.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'multiple']);

// h('button', {type: 'button', onclick: f}, 'Text', child, ...)
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (key === 'class') el.className = v;
    else if (key === 'dataset') Object.assign(el.dataset, v);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), v);
    else if (key === 'value' && el instanceof HTMLInputElement) {
      // The default too: redraw() tells typed text from the stored value by it.
      el.defaultValue = v;
      el.value = v;
    } else if (PROPERTIES.has(key)) el[key] = v;
    else el.setAttribute(key, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// Redraws a section without losing what the person is doing there: text
// typed but not saved yet, which <details> are open, and the focus (the
// controls that matter have ids, stable from one drawing to the next).
export function redraw(el, ...children) {
  const active = document.activeElement;
  const focusId = active && active !== el && el.contains(active) ? active.id : '';
  const typed = new Map();
  for (const input of el.querySelectorAll('input[id]:not([type=checkbox])'))
    if (input.value !== input.defaultValue) typed.set(input.id, input.value);
  const details = new Map([...el.querySelectorAll('details[id]')].map((d) => [d.id, d.open]));
  replace(el, ...children);
  for (const [id, value] of typed) {
    const input = document.getElementById(id);
    if (input && el.contains(input)) input.value = value;
  }
  for (const d of el.querySelectorAll('details[id]')) if (details.has(d.id)) d.open = details.get(d.id);
  if (focusId) document.getElementById(focusId)?.focus();
  return el;
}

// Only http(s) addresses become links: never javascript: or data:.
export function safeHref(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A labelled switch (checkbox), its help linked for screen readers.
export function toggle({ label, help, checked, disabled, onchange, name }) {
  const id = name ? `setting-${name}` : uid('switch'); // stable: redraw() restores focus by it
  const helpId = help ? `${id}-help` : undefined;
  return h('div', { class: 'field switch' },
    h('input', { type: 'checkbox', id, name, checked: !!checked, disabled, 'aria-describedby': helpId,
                 onchange: (e) => onchange(e.target.checked, e.target) }),
    h('label', { for: id }, label),
    help ? h('p', { class: 'help', id: helpId }, help) : null);
}

// The one polite live region: what just happened, for screen readers too.
export function announce(text) {
  const region = document.getElementById('announce');
  if (!region) return;
  region.textContent = '';
  // A new node each time so the same message is read twice in a row.
  setTimeout(() => { region.textContent = text; }, 30);
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

// A refusal shown next to its own field need not repeat the setting's name
// ("manual_server_url: must be ..." becomes "Must be ...").
export function fieldMessage(error, name) {
  const m = error.message || '';
  if (error.field !== name || !m.startsWith(`${name}: `)) return m;
  const rest = m.slice(name.length + 2);
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}
