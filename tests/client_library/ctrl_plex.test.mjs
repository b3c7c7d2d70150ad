// The Plex simulator as a real Plex client sees it.
//
// @ctrl/plex (npm; the TypeScript port of python-plexapi, installed unmodified
// from package-lock.json) does its everyday calls against `plexsim` exactly
// as it does against plex.tv and Plex Media Server: PIN sign-in, the account,
// resources, connecting to the server, the library, sections, search, items
// with their Guids, refresh and the addedAt edit. Any call the library cannot
// make, or any answer its parsers reject, fails this test.
//
// The library hard-codes https://plex.tv; the only thing changed here is
// where its TCP connections go (sim_network.mjs): https://plex.tv is the
// simulator's TLS listener, *.plex.direct resolves as Plex's DNS does, the
// simulator's CA is the only one trusted, and nothing outside loopback is
// reached.
//
// Run alone: PLEXSIM=build/bin/plexsim node --test tests/client_library/
// (after `npm ci` in tests/client_library).
//
// Where no capture in tests/fixtures/ shows an answer, the simulator follows
// public documentation and client libraries; each source is named where the
// simulator renders it (sim/simulator.cpp) and in docs/simulator.md.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { importPlex, useSimNetwork } from './sim_network.mjs';

const { Episode, Movie, MovieSection, MusicSection, MyPlexAccount, PlexServer, Show, ShowSection } = await importPlex();

const PLEXSIM = process.env.PLEXSIM;
const START_TIMEOUT_MS = 15_000;

// What the simulator's demo world holds (sim/sim_data.cpp, sim/simulator.cpp).
const SERVER_NAME = 'Living Room';
const MACHINE_ID = '5d3e8f0a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e';

let sim; // the plexsim child process
let tmp; // its CA file lives here
let agent; // the undici dispatcher every fetch goes through
let simHttpUrl; // plex.tv over http: the simulator's controls (/sim/...)
let accountToken; // what plexsim prints

// ---------------------------------------------------------------- set-up

// Starts plexsim and reads its banner: the http and https plex.tv URLs and
// the account token.
function startSimulator(caFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(PLEXSIM, ['--port', '0', '--ca-out', caFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`plexsim did not start within ${START_TIMEOUT_MS} ms; it printed:\n${out}`));
    }, START_TIMEOUT_MS);
    child.on('error', err => {
      clearTimeout(timer);
      reject(new Error(`cannot run plexsim (${PLEXSIM}): ${err.message}`));
    });
    child.on('exit', code => {
      clearTimeout(timer);
      reject(new Error(`plexsim exited with ${code} before it was ready; it printed:\n${out}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', chunk => {
      out += chunk;
      const http = /^plex\.tv \(simulated\): (http:\/\/\S+)$/m.exec(out);
      const https = /^plex\.tv over https \(simulated\): https:\/\/127\.0\.0\.1:(\d+)$/m.exec(out);
      const token = /^account token: (\S+)$/m.exec(out);
      if (http && https && token) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, httpUrl: http[1], tlsPort: Number(https[1]), token: token[1] });
      }
    });
  });
}

before(async () => {
  assert.ok(PLEXSIM, 'PLEXSIM must name the plexsim binary (ctest sets it)');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'plexsim-client-'));
  const caFile = path.join(tmp, 'ca.pem');
  const started = await startSimulator(caFile);
  sim = started.child;
  simHttpUrl = started.httpUrl;
  accountToken = started.token;
  agent = useSimNetwork(readFileSync(caFile, 'utf8'), started.tlsPort);
});

after(async () => {
  if (agent) await agent.destroy();
  if (sim) sim.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The simulator's request log (what the library really sent).
async function simRequests() {
  const res = await fetch(`${simHttpUrl}/sim/requests`);
  assert.equal(res.status, 200);
  return res.json();
}

async function lastRequest(method, pathname) {
  const log = await simRequests();
  const hit = log.filter(r => r.method === method && r.path === pathname).at(-1);
  assert.ok(hit, `the simulator saw no ${method} ${pathname}`);
  return hit;
}

// ---------------------------------------------------------------- the calls

let account;
let resource;
let plex;
let library;
let movies;
let shows;
let movie;
let show;
let episode;

test('the test network: https://plex.tv is the simulator', async () => {
  const ping = await fetch('https://plex.tv/api/v2/ping', { headers: { 'X-Plex-Token': accountToken } });
  assert.equal(ping.status, 200, 'https://plex.tv is the simulator');
});

test('PIN sign-in: create a PIN, the user links it, the poll returns a signed-in account', async () => {
  const login = await MyPlexAccount.getWebLogin();
  assert.equal(typeof login.id, 'number');
  assert.equal(login.code.length, 25, 'a strong PIN code');
  assert.ok(login.expiresIn > 0);
  assert.match(login.uri, /^https:\/\/app\.plex\.tv\/auth#\?clientID=.+&code=/);

  // The user presses "Link this device" once the library has polled (and
  // seen no token) at least once.
  const pinPath = `/api/v2/pins/${login.id}`;
  const linked = (async () => {
    const deadline = Date.now() + 10_000;
    while (!(await simRequests()).some(r => r.method === 'GET' && r.path === pinPath)) {
      if (Date.now() > deadline) throw new Error('the library never polled the PIN');
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    return fetch(`${simHttpUrl}/sim/link?code=${encodeURIComponent(login.code)}`, { method: 'POST' });
  })();
  account = await MyPlexAccount.webLoginCheck(login, 30);
  assert.equal((await linked).status, 200);
  assert.ok(account instanceof MyPlexAccount);
  assert.equal(account.authenticationToken, accountToken);

  const log = await simRequests();
  const created = log.filter(r => r.method === 'POST' && r.path === '/api/v2/pins');
  assert.equal(created.at(-1).status, 201);
  const polls = log.filter(r => r.method === 'GET' && r.path === pinPath);
  assert.ok(polls.length >= 2, 'polled before and after the user linked the PIN');
  assert.ok(polls.every(r => r.status === 200));
});

test('the account: plex.tv /api/v2/user as the library reads it', async () => {
  // Signing in with a token is the same call.
  const again = await new MyPlexAccount(null, '', '', accountToken).connect();
  for (const a of [account, again]) {
    assert.equal(a.id, 12345);
    assert.equal(a.uuid, '212acf24b07315e5');
    assert.equal(a.username, 'plexuser');
    assert.equal(a.email, 'plexuser@example.com');
    assert.equal(a.title, 'plexuser');
    assert.match(a.thumb, /^https:\/\/plex\.tv\/users\/212acf24b07315e5\/avatar/);
    assert.equal(a.locale, null);
    assert.equal(a.mailingListStatus, 'unsubscribed');
    assert.equal(a.mailingListActive, false);
    assert.equal(a.scrobbleTypes, '');
    assert.equal(a.restricted, false);
    assert.equal(a.home, false);
    assert.equal(a.guest, false);
    assert.equal(a.homeSize, 1);
    assert.equal(a.maxHomeSize, 15);
    assert.equal(a.subscriptionActive, true);
    assert.equal(a.subscriptionStatus, 'active');
    assert.equal(a.subscriptionPlan, 'lifetime');
    assert.ok(a.subscriptionFeatures.includes('webhooks'), 'Plex Pass features');
    assert.ok(Array.isArray(a.entitlements) && a.entitlements.length > 0);
  }
});

test('resources: the server with its connections, and a client device', async () => {
  const resources = await account.resources();
  const request = await lastRequest('GET', '/api/v2/resources');
  assert.equal(request.status, 200);
  assert.match(request.query, /includeHttps=1/);

  const client = resources.find(r => r.provides === 'client,player');
  assert.ok(client, 'the client device is listed too');
  assert.deepEqual(client.connections, []);

  resource = await account.resource(SERVER_NAME);
  assert.equal(resource.clientIdentifier, MACHINE_ID);
  assert.equal(resource.provides, 'server');
  assert.equal(resource.owned, true);
  assert.equal(resource.product, 'Plex Media Server');
  assert.equal(resource.accessToken, accountToken);
  assert.ok(!Number.isNaN(resource.createdAt.getTime()) && !Number.isNaN(resource.lastSeenAt.getTime()));
  assert.equal(resource.connections.length, 2);
  const direct = resource.connections.find(c => c.uri.startsWith('https://'));
  assert.match(direct.uri, /^https:\/\/127-0-0-1\.[0-9a-f]+\.plex\.direct:\d+$/);
  assert.equal(direct.local, true);
  assert.ok(resource.connections.some(c => c.uri.startsWith('http://127.0.0.1:')));
});

test('connecting to the server: every connection raced, then the plex.direct one over https', async () => {
  plex = await resource.connect();
  assert.equal(plex.machineIdentifier, MACHINE_ID);
  assert.equal(plex.friendlyName, SERVER_NAME);
  assert.match(plex.version, /^\d+\.\d+\.\d+\.\d+-[0-9a-f]+$/);
  assert.ok(plex.ownerFeatures.includes('webhooks'), 'the owner has Plex Pass');
  assert.equal(plex.myPlexUsername, 'plexuser@example.com');
  assert.equal(plex.platform, 'Linux');

  // The https connection alone (resource.connect(true) would still race
  // every uri): TLS verified against the simulator's CA by the plex.direct
  // name, as python-plexapi's PlexServer(baseurl, token) connects.
  const direct = resource.connections.find(c => c.uri.startsWith('https://')).uri;
  const secure = new PlexServer(direct, resource.accessToken);
  await secure.connect();
  assert.equal(secure.machineIdentifier, MACHINE_ID);
  assert.equal(secure.friendlyName, SERVER_NAME);
});

test('library and sections', async () => {
  library = await plex.library();
  // /library itself answered (the library falls back to /library/sections/ otherwise).
  assert.equal((await lastRequest('GET', '/library')).status, 200);
  assert.equal(library.identifier, 'com.plexapp.plugins.library');
  assert.equal(library.title1, 'Plex Library');

  const sections = await library.sections();
  assert.deepEqual(
    sections.map(s => [s.constructor.name, s.key, s.title]),
    [
      ['MovieSection', '1', 'Movies'],
      ['ShowSection', '2', 'TV Shows'],
      ['MusicSection', '3', 'Music'],
    ],
  );
  movies = await library.section('Movies');
  shows = await library.sectionByID(2);
  assert.ok(movies instanceof MovieSection && shows instanceof ShowSection);
  assert.ok(sections[2] instanceof MusicSection);
  assert.equal(movies.agent, 'tv.plex.agents.movie');
  assert.equal(movies.locations[0].path, '/data/movies');
  assert.ok(!Number.isNaN(movies.scannedAt.getTime()));

  const all = await movies.all();
  assert.deepEqual(all.map(m => m.title).sort(), ['Interstate 60', 'Reign of Fire']);
  assert.ok(all.every(m => m instanceof Movie));
});

test('search: a section by title, and the hub search of the whole server', async () => {
  const found = await movies.search({ title: 'Reign' });
  assert.deepEqual(
    found.map(m => m.title),
    ['Reign of Fire'],
    'title= matches a part of the title',
  );
  assert.deepEqual(await movies.search({ title: 'no such film' }), []);
  const byType = await shows.search({ libtype: 'show', title: 'Expanse' });
  assert.deepEqual(
    byType.map(s => s.title),
    ['The Expanse'],
  );
  assert.ok(byType[0] instanceof Show);

  const hubs = await plex.search('expanse');
  const showHub = hubs.find(h => h.type === 'show');
  assert.ok(showHub, `a hub of shows among ${hubs.map(h => h.hubIdentifier).join(', ')}`);
  assert.equal(showHub.Metadata[0].title, 'The Expanse');
  assert.equal(showHub.Metadata[0].ratingKey, '2000');
  assert.ok(!hubs.some(h => h.type === 'movie'), 'no movie matches "expanse"');
});

test('items with their Guids (includeGuids=1): a movie, a show, an episode', async () => {
  movie = await movies.get('Reign of Fire');
  assert.ok(movie instanceof Movie);
  assert.match((await lastRequest('GET', '/library/sections/1/all')).query, /includeGuids=1/);
  assert.equal(movie.ratingKey, '1036');
  assert.equal(movie.guid, 'plex://movie/5d776830f59e58002189813a');
  assert.deepEqual(
    movie.guids.map(g => g.id),
    ['imdb://tt0253556', 'tmdb://6278', 'tvdb://1709'],
  );
  assert.equal(movie.year, 2002);
  assert.equal(movie.librarySectionID, 1);
  assert.deepEqual(await movie.locations(), ['/data/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4']);

  show = await shows.get('The Expanse');
  assert.ok(show instanceof Show);
  assert.equal(show.guid, 'plex://show/5d9c086c46115600200aa2fe');
  const episodes = await show.episodes();
  assert.ok(episodes.every(e => e instanceof Episode));
  assert.deepEqual(
    episodes.map(e => e.title),
    ['Dulcinea', 'The Big Empty'],
  );
  episode = episodes[0];
  assert.equal(await episode.seasonEpisode(), 's01e01');
  assert.equal((await episode.show()).title, 'The Expanse');
  assert.equal((await episode.season()).index, 1);
  assert.deepEqual(episode.locations(), ['/data/tv/The Expanse/Season 01/The Expanse - S01E01.mkv']);

  // @ctrl/plex keeps the Guid array of movies only; for shows and episodes
  // its own query() reads the item as PMS sends it.
  const showData = await plex.query(`/library/metadata/${show.ratingKey}?includeGuids=1`);
  assert.deepEqual(
    showData.MediaContainer.Metadata[0].Guid.map(g => g.id),
    ['imdb://tt3230854', 'tmdb://63639', 'tvdb://280619'],
  );
  const episodeData = await plex.query(`/library/metadata/${episode.ratingKey}?includeGuids=1`);
  const ep = episodeData.MediaContainer.Metadata[0];
  assert.deepEqual(
    ep.Guid.map(g => g.id),
    ['imdb://tt3696416', 'tmdb://1078497', 'tvdb://5246491'],
  );
  assert.equal(ep.grandparentGuid, show.guid);
  // A legacy-agent item has no Guid array, with or without includeGuids.
  const legacy = await plex.query('/library/metadata/108?includeGuids=1');
  assert.equal(legacy.MediaContainer.Metadata[0].Guid, undefined);
  assert.match(legacy.MediaContainer.Metadata[0].guid, /^com\.plexapp\.agents\.imdb:\/\//);
});

test('refresh: an item, a show and a section', async () => {
  await movie.refresh();
  assert.equal((await lastRequest('PUT', '/library/metadata/1036/refresh')).status, 200);
  await show.refresh();
  assert.equal((await lastRequest('PUT', '/library/metadata/2000/refresh')).status, 200);
  await movies.update();
  assert.equal((await lastRequest('GET', '/library/sections/1/refresh')).status, 200);
});

test('editing addedAt: numbers are stored, an ISO date is refused', async () => {
  const when = 1262304000; // 2010-01-01T00:00:00Z
  await movie.edit({ 'addedAt.value': when, 'addedAt.locked': 1 });
  const put = await lastRequest('PUT', '/library/sections/1/all');
  assert.equal(put.status, 200);
  const q = new URLSearchParams(put.query);
  assert.equal(q.get('id'), '1036');
  assert.equal(q.get('type'), '1');
  await movie.reload();
  assert.equal(movie.addedAt.getTime(), when * 1000);

  await episode.edit({ 'addedAt.value': when + 60 });
  const putEpisode = await lastRequest('PUT', '/library/sections/2/all');
  assert.equal(new URLSearchParams(putEpisode.query).get('type'), '4');
  await episode.reload();
  assert.equal(episode.addedAt.getTime(), (when + 60) * 1000);

  // Real PMS answered Bazarr's ISO 8601 date with HTTP 500 (docs/simulator.md).
  await assert.rejects(movie.edit({ 'addedAt.value': '2010-01-01T00:00:00Z' }), /500/);
  await movie.reload();
  assert.equal(movie.addedAt.getTime(), when * 1000, 'the refused edit changed nothing');
});
