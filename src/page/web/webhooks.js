// Webhooks: the address Plex Media Server will call, creating and deleting
// ours on plex.tv, the account's webhooks with their keys masked.
import { get, post } from './api.js';
import { h, redraw, announce } from './dom.js';
import { addressField } from './fields.js';

let state = null; // GET /api/plex/webhook/list
let problem = null; // { message, code }
let loading = 0; // the newest read of the list

export function render(el, ctx, reread) {
  if (reread || state === null) load(el, ctx);
  draw(el, ctx);
}

async function load(el, ctx) {
  const mine = ++loading;
  let next;
  let trouble = null;
  try {
    next = await get('/api/plex/webhook/list');
  } catch (e) {
    next = { webhooks: [], address: null };
    trouble = { message: e.message, code: e.code };
  }
  if (mine !== loading) return;
  state = next;
  problem = trouble;
  draw(el, ctx);
}

async function act(el, ctx, doing) {
  try {
    const r = await doing();
    state = { ...state, webhooks: r.webhooks, count: r.count };
    problem = null;
    await load(el, ctx);
    return true;
  } catch (e) {
    problem = { message: e.message, code: e.code };
    draw(el, ctx);
    return false;
  }
}

function baseUrlField(el, ctx) {
  return addressField(ctx, {
    name: 'webhook_base_url', id: 'webhook-base-url', placeholder: 'http://192.168.1.10:6767',
    saved: async () => {
      announce('Address saved.');
      await load(el, ctx);
    },
  });
}

function draw(el, ctx) {
  const parts = [baseUrlField(el, ctx)];
  if (state?.address) parts.push(h('p', {}, 'Plex will call ', h('span', { class: 'uri' }, state.address)));
  if (state?.warning) parts.push(h('p', { class: 'notice', role: 'note' }, state.warning));
  // Without Plex Pass plex.tv refuses even to list webhooks (its error
  // 1043): the page says so as soon as it reads the list.
  const noPass = problem?.code === 'PLEX_PASS_REQUIRED';
  if (noPass)
    parts.push(h('div', { class: 'notice', role: 'alert', id: 'plex-pass-notice' },
      h('p', {}, problem.message),
      h('p', {}, 'Plex sends webhooks only for Plex Pass accounts. Everything else here works without it.')));
  if (problem && !noPass) parts.push(h('p', { class: 'error', role: 'alert' }, problem.message));
  const ours = state?.webhooks?.some((w) => w.ours);
  if (!ctx.values.webhook_base_url) parts.push(h('p', { class: 'muted' }, 'Save the address Plex calls first.'));
  parts.push(h('div', { class: 'row' },
    h('button', { type: 'button', class: 'primary', id: 'create-webhook', disabled: !ctx.values.webhook_base_url || ours || noPass,
      onclick: async () => { if (await act(el, ctx, () => post('/api/plex/webhook/create'))) announce('Webhook created.'); } },
    ours ? 'Webhook in place' : 'Create the webhook')));
  const hooks = state?.webhooks || [];
  parts.push(h('h3', {}, 'Webhooks of this Plex account'));
  if (state === null) parts.push(h('p', { class: 'muted' }, 'Reading them from plex.tv…'));
  else if (!hooks.length) parts.push(h('p', { class: 'muted' }, 'None.'));
  else parts.push(h('ul', { class: 'plain', id: 'webhook-list' }, hooks.map((w, i) => h('li', { class: 'conn' },
    h('span', { class: 'uri' }, w.url, w.ours ? [' ', h('span', { class: 'chip' }, 'this application')] : null),
    h('button', { type: 'button', class: 'danger', id: `delete-webhook-${i}`, 'aria-label': `Delete the webhook ${w.url}`,
      onclick: async () => { if (await act(el, ctx, () => post('/api/plex/webhook/delete', { webhook_url: w.url }))) announce('Webhook deleted.'); } },
    'Delete')))));
  redraw(el, parts);
}
