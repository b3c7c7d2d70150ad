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
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), v);
    else if (PROPERTIES.has(key)) el[key] = v;
    else el.setAttribute(key, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
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
  const id = uid(name || 'switch');
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
