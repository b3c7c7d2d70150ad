// Servers: every server of the account with each of its addresses, filled
// in as the probes answer; the one in use marked with why; a manual
// address for set-ups discovery cannot see (Docker, another network).
import { get, post } from './api.js';
import { h, redraw, announce } from './dom.js';
import { addressField } from './fields.js';

let list = null;      // the servers as last listed (GET /api/plex/oauth/servers)
let listError = null; // why they could not be listed
let tests = {};       // uri -> {success, latency_ms, error} | 'checking'
let testedByHand = new Set(); // uris whose Test button was pressed: a poll keeps their result
let generation = 0;   // a newer discovery wins over an older one still answering

export function render(el, ctx, rediscover) {
  if (ctx.legacy()) return renderLegacy(el, ctx);
  if (rediscover || list === null) discover(el, ctx, { fresh: !!rediscover });
  draw(el, ctx);
}

function tier(c) {
  return c.relay ? 'relay' : c.local ? 'local' : 'remote';
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const probing = (servers) => servers.some((s) => s.connections.some((c) => c.available === null));

function show(servers) {
  list = servers;
  for (const s of servers) for (const c of s.connections) {
    if (testedByHand.has(c.uri)) continue;
    tests[c.uri] = c.available === null ? 'checking' : { success: c.available, latency_ms: c.latency_ms, error: c.error };
  }
}

// `fresh`: the person asked for it (Refresh), so every address is tried
// again; otherwise a listing made moments ago is reused.
async function discover(el, ctx, { fresh = false } = {}) {
  const mine = ++generation;
  tests = {};
  testedByHand = new Set();
  listError = null;
  try {
    // The list at once, as plex.tv has it; then the listing with the
    // policy's choice, as soon as every server has one; then the addresses
    // still being tried fill in, read from that same listing (a poll tries
    // nothing again) until the last one has answered or given up.
    const listed = await get('/api/plex/oauth/servers?probe=0');
    if (mine !== generation) return;
    show(listed);
    draw(el, ctx);
    let servers = await get(`/api/plex/oauth/servers${fresh ? '?refresh=1' : ''}`);
    for (let polls = 0; ; polls++) {
      if (mine !== generation) return;
      show(servers);
      draw(el, ctx);
      // A probe's deadline is at most a minute (connect_timeout_ms).
      if (!probing(servers) || polls >= 150) break;
      await sleep(400);
      try {
        servers = await get('/api/plex/oauth/servers?poll=1');
      } catch {
        break; // the listing is gone (another account, too old): what is shown stays
      }
    }
    if (mine !== generation) return;
    // Chosen from the complete listing: a LAN address that answered after
    // the grace still wins over the remote one here.
    await chooseTheOnlyServer(el, ctx);
  } catch (e) {
    if (mine !== generation) return;
    if (list === null) list = [];
    listError = e.message;
    // plex.tv refused the token just now: the status learns it too.
    if (e.code === 'PLEX_TOKEN_INVALID') return ctx.refresh();
    return draw(el, ctx);
  }
}

async function chooseTheOnlyServer(el, ctx) {
  announce(`${list.length} Plex server${list.length === 1 ? '' : 's'} found.`);
  // One server and nothing chosen yet: there is nothing to choose.
  const best = list.length === 1 ? list[0].bestConnection : null;
  if (best && !ctx.status.server?.name) await use(el, ctx, list[0], `${list[0].name} is your only server: selected.`);
}

// `mine`: the discovery this test belongs to (none: the person pressed Test).
async function testConnection(el, ctx, uri, mine = generation) {
  testedByHand.add(uri);
  tests[uri] = 'checking';
  render(el, ctx);
  let result;
  try {
    result = await post('/api/plex/test-connection', { uri });
  } catch (e) {
    result = { success: false, latency_ms: null, error: e.message };
  }
  if (mine !== generation) return; // a newer discovery started meanwhile
  tests[uri] = result;
  render(el, ctx);
}

async function use(el, ctx, server, message) {
  const c = server.bestConnection;
  if (!c) return;
  try {
    await post('/api/plex/select-server',
      { machineIdentifier: server.machineIdentifier, name: server.name, uri: c.uri, local: c.local });
    announce(message || `${server.name} selected.`);
    await ctx.refresh({ libraries: true });
  } catch (e) {
    announce(e.message);
    listError = e.message;
    draw(el, ctx);
  }
}

function result(c) {
  const t = tests[c.uri];
  if (t === 'checking' || t === undefined) return h('span', { class: 'muted' }, 'Checking…');
  if (t.success) return h('span', { class: 'ok' }, `Answers in ${t.latency_ms} ms`);
  return h('span', { class: 'bad' }, t.error || 'Does not answer');
}

function draw(el, ctx) {
  const current = ctx.status.server || {};
  const parts = [];
  if (current.name) {
    const chosen = list?.find((s) => s.name === current.name)?.bestConnection;
    parts.push(h('p', {}, 'In use: ', h('strong', {}, current.name), ` at ${current.url}`,
      chosen?.reason ? h('span', { class: 'muted' }, ` (${chosen.reason})`) : null));
  }
  parts.push(h('div', { class: 'row' },
    h('button', { type: 'button', id: 'rediscover', onclick: () => discover(el, ctx, { fresh: true }) }, 'Refresh the list')));
  if (listError) parts.push(h('p', { class: 'error', role: 'alert' }, listError));
  if (list === null) parts.push(h('p', { class: 'muted' }, 'Looking for your servers…'));
  else if (list.length === 0 && !listError)
    parts.push(h('p', {}, 'This Plex account has no Plex Media Server. Set one up, or type its address below.'));
  (list || []).forEach((s, i) => parts.push(serverCard(el, ctx, s, s.name === current.name, i)));
  parts.push(manualAddress(el, ctx));
  redraw(el, parts);
}

function serverCard(el, ctx, s, inUse, i) {
  const headingId = `server-${i}`;
  const conns = s.connections.map((c, j) => h('li', { class: 'conn' },
    h('span', { class: 'uri' }, c.uri),
    h('span', {}, h('span', { class: 'chip' }, tier(c)), ' ', h('span', { class: 'chip' }, c.protocol === 'https' ? 'https' : 'http')),
    h('span', { class: 'result' }, result(c), ' ',
      h('button', { type: 'button', id: `test-${i}-${j}`, 'aria-label': `Test ${c.uri}`,
        onclick: () => testConnection(el, ctx, c.uri) }, 'Test'))));
  return h('article', { class: `server${inUse ? ' chosen' : ''}`, 'aria-labelledby': headingId },
    h('div', { class: 'server-head' },
      h('h3', { id: headingId }, s.name),
      inUse ? h('span', { class: 'chip' }, 'in use') : null,
      s.owned ? null : h('span', { class: 'chip' }, s.sharedBy ? `shared by ${s.sharedBy}` : 'shared'),
      h('span', { class: 'muted' }, [s.platform, s.version].filter(Boolean).join(' · '))),
    s.owned ? null : h('p', { class: 'muted' }, 'A friend shares this server with you: subtitles can be found for it, ' +
      'but Plex lets only its owner refresh items.'),
    h('ul', { class: 'plain' }, conns),
    inUse ? null : h('div', { class: 'row' },
      h('button', { type: 'button', class: 'primary', id: `use-${i}`, disabled: !s.bestConnection, 'aria-label': `Use this server: ${s.name}`,
        onclick: () => use(el, ctx, s) }, 'Use this server'),
      s.bestConnection ? null : h('span', { class: 'muted' }, 'No address answers yet.')));
}

function manualAddress(el, ctx) {
  return h('details', { id: 'manual-address', open: !!ctx.values.manual_server_url },
    h('summary', {}, 'Type the address by hand (Docker, another network)'),
    addressField(ctx, {
      name: 'manual_server_url', id: 'manual-server-url', placeholder: 'http://192.168.1.20:32400',
      saved: async (value) => {
        announce(value ? 'Manual address saved: it is used from now on.' : 'Manual address removed.');
        await ctx.refresh();
      },
    }));
}

function renderLegacy(el, ctx) {
  const v = ctx.values;
  const uri = `${v.ssl ? 'https' : 'http'}://${v.ip}:${v.port}`;
  redraw(el,
    h('p', {}, 'Legacy mode reaches Plex Media Server at ', h('span', { class: 'uri' }, uri), '.'),
    h('ul', { class: 'plain' }, h('li', { class: 'conn' }, h('span', { class: 'uri' }, uri), h('span'),
      h('span', { class: 'result' }, tests[uri] ? result({ uri }) : null, ' ',
        h('button', { type: 'button', id: 'test-legacy', onclick: () => testConnection(el, ctx, uri) }, 'Test')))));
}
