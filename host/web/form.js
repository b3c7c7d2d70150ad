// Draws a plugin's settings form from its schema (docs/host-integration.md,
// "The settings schema: drawing a form"). Server strings only ever reach the
// DOM as text, values or attributes, never as markup.

export const MASK = '********'; // a masked secret; sending it back means "unchanged"
let formCount = 0; // keeps element ids unique if several forms are drawn

// createElement with attributes (set as strings) and text or node children.
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children);
  return node;
}

export const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

// [[section, [descriptors…]], …] in first-appearance order, internal settings left out.
export function sectionsOf(schema) {
  const sections = new Map();
  for (const d of Array.isArray(schema) ? schema : []) {
    if (!d || typeof d.name !== 'string' || d.access === 'internal') continue;
    const name = typeof d.section === 'string' && d.section ? d.section : 'general';
    if (!sections.has(name)) sections.set(name, []);
    sections.get(name).push(d);
  }
  return [...sections];
}

// shown_when compares loosely: the checkbox's true must match "true", 80 must match "80".
export function matches(current, equals) {
  const norm = (v) => (v === undefined || v === null ? '' : String(v));
  return norm(current) === norm(equals);
}

export function readInt(text, d) {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return { error: 'Enter a whole number.' };
  const n = Number(t);
  if (typeof d.min === 'number' && n < d.min) return { error: `The smallest allowed value is ${d.min}.` };
  if (typeof d.max === 'number' && n > d.max) return { error: `The largest allowed value is ${d.max}.` };
  return { value: n };
}

export const readLines = (text) => text.split('\n').map((s) => s.trim()).filter((s) => s !== '');

export function readJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `This is not valid JSON: ${e.message}` };
  }
}

// A single-line or number input; `format` hints suit addresses without
// type=url, which would reject "host:port" and empty values.
function textInput(id, d, type = 'text') {
  const input = el('input', { id, type });
  if (type === 'number') Object.assign(input, { step: 1, inputMode: 'numeric' });
  if (typeof d.min === 'number') input.min = d.min;
  if (typeof d.max === 'number') input.max = d.max;
  if (d.format === 'url' || d.format === 'url_or_empty') input.inputMode = 'url';
  if (d.format) {
    input.spellcheck = false;
    input.setAttribute('autocapitalize', 'off');
  }
  return input;
}

// The editable table of a json setting with `fields`: one row per object.
function tableControl(d, id, title) {
  const cols = Array.isArray(d.fields) ? d.fields.filter((c) => c && typeof c.name === 'string') : [];
  const extras = new WeakMap(); // keeps keys the table does not show, so saving keeps them
  const tbody = el('tbody');
  const head = cols.map((c) => el('th', { scope: 'col', text: c.label || c.name }));
  head.push(el('th', { scope: 'col' }, [el('span', { class: 'vh', text: 'Actions' })]));
  const table = el('table', {}, [el('thead', {}, [el('tr', {}, head)]), tbody]);
  const add = el('button', { type: 'button', class: 'secondary' }, ['Add', el('span', { class: 'vh', text: ` a row to ${title}` })]);
  let seq = 0;

  // Row numbers are part of each label, so renumber after every add or remove.
  const renumber = () => [...tbody.rows].forEach((tr, i) => {
    tr.querySelectorAll('label').forEach((l, ci) => { l.textContent = `${cols[ci].label || cols[ci].name}, row ${i + 1}`; });
    tr.querySelector('.remove .vh').textContent = ` row ${i + 1}`;
  });

  function addRow(obj) {
    const tr = el('tr');
    extras.set(tr, obj && typeof obj === 'object' ? obj : {});
    seq += 1;
    cols.forEach((c, ci) => {
      const cid = `${id}-r${seq}-c${ci}`;
      const v = obj ? obj[c.name] : undefined;
      let input;
      if (c.type === 'bool') {
        input = el('input', { id: cid, type: 'checkbox' });
        input.checked = v === true;
      } else {
        input = textInput(cid, c, c.type === 'int' ? 'number' : 'text');
        input.value = v === undefined || v === null ? '' : String(v);
      }
      input.dataset.col = String(ci);
      tr.append(el('td', {}, [el('label', { for: cid, class: 'vh' }), input]));
    });
    const remove = el('button', { type: 'button', class: 'secondary remove' }, ['Remove', el('span', { class: 'vh' })]);
    remove.addEventListener('click', () => {
      const near = tr.nextElementSibling || tr.previousElementSibling;
      tr.remove();
      renumber();
      // Keep keyboard users in the table rather than dropping focus on <body>.
      (near ? near.querySelector('input, button') : add).focus();
    });
    tr.append(el('td', {}, [remove]));
    tbody.append(tr);
  }

  add.addEventListener('click', () => {
    addRow(null);
    renumber();
    tbody.lastElementChild.querySelector('input, button').focus();
  });

  return {
    node: el('div', {}, [el('div', { class: 'table-wrap' }, [table]), add]),
    controls: () => [...tbody.querySelectorAll('input')],
    focusTarget: () => tbody.querySelector('input') || add,
    write(v) {
      tbody.replaceChildren();
      (Array.isArray(v) ? v : []).forEach(addRow);
      renumber();
    },
    read() {
      const rows = [];
      for (const [ri, tr] of [...tbody.rows].entries()) {
        const obj = { ...extras.get(tr) };
        let empty = true;
        for (const input of tr.querySelectorAll('input')) {
          const c = cols[Number(input.dataset.col)];
          if (input.type === 'checkbox') { obj[c.name] = input.checked; continue; }
          const t = input.value.trim();
          if (t !== '') empty = false;
          if (c.type !== 'int') { obj[c.name] = t; continue; }
          if (t === '') { obj[c.name] = null; continue; }
          const r = readInt(t, c);
          if (r.error) return { error: `Row ${ri + 1}, ${c.label || c.name}: ${r.error}` };
          obj[c.name] = r.value;
        }
        if (!empty) rows.push(obj); // a blank row is an unfinished "Add", not an entry
      }
      return { value: rows };
    },
  };
}

// Builds one field: its wrapper, control(s), and read/write of its value.
function makeField(d, id) {
  const title = d.label || d.name;
  const type = d.type === 'secret' ? 'string' : d.type;
  const secret = d.secret === true || d.type === 'secret';
  const help = d.description ? el('p', { class: 'help', id: `${id}-help`, text: d.description }) : null;
  const note = d.needs_restart ? el('p', { class: 'note', id: `${id}-note`, text: 'Applies after a restart' }) : null;
  const error = el('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  error.hidden = true;
  const f = { desc: d, secret, error, readOnly: d.access === 'read_only', described: [] };
  let control; // the single control, for every type except the table

  if (type === 'json' && Array.isArray(d.fields) && d.fields.length) {
    // A table of several inputs: a fieldset names the group, each cell has its own label.
    const t = tableControl(d, id, title);
    f.wrap = el('fieldset', { class: 'field table-field' }, [el('legend', { text: title })]);
    f.wrap.append(...[help, t.node, note, error].filter(Boolean));
    Object.assign(f, { controls: t.controls, focusTarget: t.focusTarget, read: t.read, write: t.write });
  } else {
    const label = el('label', { for: id, text: title });
    let body = [label];
    if (type === 'bool') {
      control = el('input', { id, type: 'checkbox' });
      body = [el('div', { class: 'check' }, [control, label])];
      f.read = () => ({ value: control.checked });
      f.write = (v) => { control.checked = v === true || v === 'true'; };
    } else if (type === 'int') {
      control = textInput(id, d, 'number');
      const unit = d.unit ? el('span', { class: 'unit', id: `${id}-unit`, text: d.unit }) : null;
      if (unit) f.described.push(unit.id);
      body.push(el('div', { class: 'with-unit' }, [control, ...(unit ? [unit] : [])]));
      f.read = () => readInt(control.value, d);
    } else if (type === 'string' && Array.isArray(d.choices) && !secret) {
      control = el('select', { id });
      for (const c of d.choices) {
        const opt = c && typeof c === 'object' ? c : { value: c };
        control.append(el('option', { value: String(opt.value), text: opt.label || String(opt.value) }));
      }
      f.write = (v) => {
        const s = v === undefined || v === null ? '' : String(v);
        // Keep a stored value the list does not know, rather than silently changing it.
        if (![...control.options].some((o) => o.value === s)) control.append(el('option', { value: s, text: s }));
        control.value = s;
      };
      body.push(control);
    } else if (type === 'string_list' || type === 'json') {
      control = el('textarea', { id, rows: 4, spellcheck: 'false', class: type === 'json' ? 'code' : null });
      body.push(control);
      if (type === 'string_list') {
        f.read = () => ({ value: readLines(control.value) });
        f.write = (v) => { control.value = Array.isArray(v) ? v.join('\n') : ''; };
      } else {
        f.read = () => readJson(control.value);
        f.write = (v) => { control.value = JSON.stringify(v === undefined ? null : v, null, 2); };
      }
    } else {
      control = textInput(id, d, secret ? 'password' : 'text');
      if (secret) {
        // new-password stops browsers filling in a saved login (the host's key) here.
        control.autocomplete = 'new-password';
        // Typing replaces the mask instead of appending to it.
        control.addEventListener('focus', () => { if (control.value === MASK) control.select(); });
      }
      body.push(control);
    }
    if (help) f.described.push(help.id);
    if (note) f.described.push(note.id);
    f.wrap = el('div', { class: 'field' }, [...body, help, note, error].filter(Boolean));
    f.controls = () => [control];
    f.focusTarget = () => control;
    f.read = f.read || (() => ({ value: control.value }));
    f.write = f.write || ((v) => { control.value = v === undefined || v === null ? '' : String(v); });
  }

  // aria-describedby: the error first when there is one, then help, unit and note.
  f.setInvalid = (invalid) => {
    const ids = (invalid ? [error.id] : []).concat(f.described).join(' ');
    for (const c of f.controls()) {
      if (ids) c.setAttribute('aria-describedby', ids); else c.removeAttribute('aria-describedby');
      if (invalid) c.setAttribute('aria-invalid', 'true'); else c.removeAttribute('aria-invalid');
    }
    // The table's help and note describe its fieldset rather than every cell.
    if (!control && (help || note)) f.wrap.setAttribute('aria-describedby', [help, note].filter(Boolean).map((n) => n.id).join(' '));
  };

  // Read-only settings are written by the plugin: shown, focusable where the
  // control allows it (readonly), otherwise disabled.
  f.lock = () => {
    if (!f.readOnly) return;
    for (const c of f.wrap.querySelectorAll('input, select, textarea, button')) {
      if (c.tagName === 'INPUT' && c.type !== 'checkbox') c.readOnly = true;
      else if (c.tagName === 'TEXTAREA') c.readOnly = true;
      else c.disabled = true;
    }
  };
  return f;
}

// Draws the form into `container`. save(patch) resolves to {ok:true, data} or {ok:false, error, field}.
export function renderForm(container, { schema, data }, save) {
  const uid = `pf${++formCount}`;
  let values = { ...(data || {}) }; // last saved values, also for shown_when on undrawn settings
  const fields = new Map();
  const groups = [];
  const topError = el('div', { class: 'error-box', role: 'alert', tabindex: '-1' });
  topError.hidden = true;
  const status = el('p', { class: 'status', role: 'status' }); // polite live region
  const saveButton = el('button', { type: 'submit', text: 'Save' });
  const form = el('form', { novalidate: true, class: 'settings' }, [topError]);

  for (const [section, descs] of sectionsOf(schema)) {
    const fieldset = el('fieldset', { class: 'section' }, [el('legend', { text: capitalise(section) })]);
    const members = [];
    for (const d of descs) {
      if (fields.has(d.name)) continue;
      const f = makeField(d, `${uid}-${fields.size}`);
      fields.set(d.name, f);
      members.push(f);
      fieldset.append(f.wrap);
    }
    groups.push({ fieldset, members });
    form.append(fieldset);
  }
  if (fields.size === 0) form.append(el('p', { text: 'This plugin has no settings to show.' }));
  form.append(el('div', { class: 'actions' }, [saveButton, status]));
  container.replaceChildren(form);

  const stored = (name) => (name in values ? values[name] : fields.get(name)?.desc.default);

  // Fill every field from `values` and remember what it reads back as, so
  // "changed" compares like with like (trimmed lines, parsed JSON…).
  function load() {
    for (const [name, f] of fields) {
      f.write(stored(name));
      f.lock();
      f.setInvalid(false);
      const r = f.read();
      f.baseline = r.error ? undefined : JSON.stringify(r.value);
    }
  }

  // A field with shown_when is shown only while its controlling setting (as
  // currently edited) has that value, and only if that setting is shown itself.
  function isShown(f, depth = 0) {
    const rule = f.desc.shown_when;
    if (!rule || typeof rule.setting !== 'string' || depth > 8) return true;
    const ctl = fields.get(rule.setting);
    if (!ctl) return matches(values[rule.setting], rule.equals);
    if (!isShown(ctl, depth + 1)) return false;
    const r = ctl.read();
    return matches(r.error ? undefined : r.value, rule.equals);
  }

  function updateVisibility() {
    for (const f of fields.values()) f.wrap.hidden = !isShown(f);
    // A section whose fields are all hidden would be an empty box: hide it too.
    for (const g of groups) g.fieldset.hidden = g.members.length > 0 && g.members.every((f) => f.wrap.hidden);
  }

  function clearErrors() {
    topError.hidden = true;
    for (const f of fields.values()) {
      f.error.hidden = true;
      f.setInvalid(false);
    }
  }

  function showTopError(text) {
    topError.textContent = text || 'The settings could not be saved.';
    topError.hidden = false;
    topError.focus();
  }

  // Show the message next to its field; fall back to the top when the field
  // is unknown, hidden or cannot take focus.
  function showError(name, text) {
    const f = fields.get(name);
    const target = f && !f.wrap.hidden && f.focusTarget();
    if (!target || target.disabled) return showTopError(text);
    // Next to its field the message need not repeat the setting's name
    // (plugins start it with "name: ", the ABI's convention).
    const said = text && text.startsWith(`${name}: `) ? text.slice(name.length + 2) : text;
    f.error.textContent = said ? said.charAt(0).toUpperCase() + said.slice(1) : 'This value was not accepted.';
    f.error.hidden = false;
    f.setInvalid(true);
    target.focus();
  }

  let busy = false;
  form.addEventListener('input', updateVisibility);
  form.addEventListener('change', updateVisibility);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    clearErrors();
    status.textContent = '';

    // Only what the user can see and edit, and only what changed.
    const patch = {};
    for (const [name, f] of fields) {
      if (f.readOnly || f.wrap.hidden) continue;
      const r = f.read();
      if (r.error) return showError(name, r.error);
      if (f.secret && r.value === MASK) continue;
      if (JSON.stringify(r.value) !== f.baseline) patch[name] = r.value;
    }
    if (Object.keys(patch).length === 0) {
      status.textContent = 'No changes to save.';
      return;
    }

    busy = true;
    saveButton.setAttribute('aria-disabled', 'true'); // not disabled: that would drop focus
    status.textContent = 'Saving…';
    let result;
    try {
      result = await save(patch);
    } catch (err) {
      result = { ok: false, error: err && err.message };
    } finally {
      busy = false;
      saveButton.removeAttribute('aria-disabled');
    }
    if (result && result.ok) {
      values = result.data && typeof result.data === 'object' ? { ...result.data } : { ...values, ...patch };
      load();
      updateVisibility();
      status.textContent = 'Saved.';
    } else {
      status.textContent = '';
      showError(result && result.field, result && result.error);
    }
  });

  load();
  updateVisibility();
  return form;
}
