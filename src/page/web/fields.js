// One text setting with its label, help, Save button and the plugin's
// refusal shown next to it: the page's address fields.
import { h, fieldMessage } from './dom.js';

// `saved(value)` runs after the plugin stored the value (it announces and
// reloads what depends on it).
export function addressField(ctx, { name, id, placeholder, saved }) {
  const input = h('input', { type: 'text', inputmode: 'url', id, value: ctx.values[name] || '', placeholder,
    autocomplete: 'off', 'aria-describedby': `${id}-help ${id}-error` });
  const error = h('p', { class: 'error', id: `${id}-error`, role: 'alert' });
  const saveIt = async () => {
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    const value = input.value.trim();
    try {
      await ctx.save({ [name]: value });
    } catch (e) {
      error.textContent = fieldMessage(e, name);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    await saved(value);
  };
  return [
    h('div', { class: 'field' },
      h('label', { for: id }, ctx.label(name)), input,
      h('p', { class: 'help', id: `${id}-help` }, ctx.help(name)), error),
    h('div', { class: 'row' }, h('button', { type: 'button', id: `${id}-save`, onclick: saveIt }, 'Save address')),
  ];
}
