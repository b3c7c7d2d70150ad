// Server discovery as @ctrl/plex does it: the peer for bench_discovery.
//
//   node bench/peers/ctrl_plex_connect.mjs --plextv-tls-port P --ca FILE --token T [--repeats N]
//
// Needs `npm ci` in tests/client_library: the unmodified library and undici
// are loaded from there (tests/client_library/sim_network.mjs, one lockfile),
// and its dispatcher sends https://plex.tv to the simulator's TLS listener
// on port P, resolves *.plex.direct to loopback, trusts only the CA in FILE
// and refuses any address that is not loopback.
//
// Each repeat signs in with the token (MyPlexAccount; its plex.tv URLs are
// hard-coded in the library; its baseUrl argument stays null, because a
// baseUrl is not plex.tv but a known server URL that resource.connect()
// appends to every server's candidates, see below), lists the resources, and
// calls resource.connect() on every resource that provides "server", all at
// once (Promise.all). Each server is timed from the call of connect() to when
// it settles; total_ms is from the first call to when the last settles.
// Prints one JSON line per repeat (raw values, no medians: the caller takes
// them), e.g.
//   {"repeat":0,"signin_ms":..,"resources_ms":..,"servers":[{"name":"Living Room",
//    "clientIdentifier":"5d3e..","ms":12.3,"uri":"https://127-0-0-1.<hash>.plex.direct:32401"}],"total_ms":12.5}
// A server that could not be reached has "uri":null and "error".
// Every repeat gets a fresh undici Agent (no pooled connections or TLS
// sessions from the previous repeat), destroyed after the repeat, which also
// ends the attempts connect() left running (below).
//
// How @ctrl/plex 3.12.1 chooses (dist/src/myplex.js MyPlexResource.connect):
// - Candidates: the resource's connections sorted local first; for each,
//   its `uri` (as plex.tv lists it: https plex.direct, or http) and its
//   `httpuri` = http://<address>:<port> (built by the library, even for an
//   https-only port), all the uris first, then all the httpuris; only
//   non-local ones unless the resource is owned; plus the account's baseUrl
//   if one was given. connect(ssl) with ssl true/false keeps only the uris /
//   only the httpuris.
// - All candidates are tried at once: one `new PlexServer(url, token).connect()`
//   each, i.e. GET <url>/ with X-Plex-Token, Accept: application/json.
// - The first to succeed wins, by time, not by order (p-any 4 over plain
//   promises; the code's comment "the first server (in order)" and the
//   docstring "prioritize local ... HTTPS before HTTP" do not hold: the sort
//   only orders the launches). So a plain-http candidate usually beats the
//   https plex.direct one (no TLS handshake): against plexsim's demo world
//   the four candidates are https plex.direct, http on that TLS port (fails),
//   and the http connection twice, and http://127.0.0.1 wins. Success is
//   any status below 400 (after redirects) whose JSON body has a
//   MediaContainer; nothing checks its machineIdentifier against the
//   resource's clientIdentifier.
// - The losers are not cancelled (p-any cancels only PCancelable promises):
//   their requests keep running to completion or to their timeout.
// - Timeout: per candidate, ofetch's 30 s default (config.js TIMEOUT; the
//   timeout argument of connect() is passed through, undefined -> 30 000 ms),
//   no retries (retry: 0); it covers the request until the response headers.
//   Under it, undici's own 10 s connect timeout. No overall deadline.
// - All candidates fail: it rejects with an AggregateError of every error;
//   no candidates at all: a RangeError from p-some.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { importPlex, useSimNetwork } from '../../tests/client_library/sim_network.mjs';

function usage(message) {
  process.stderr.write(
    `ctrl_plex_connect: ${message}\n` +
      'usage: node bench/peers/ctrl_plex_connect.mjs --plextv-tls-port P --ca FILE --token T [--repeats N]\n',
  );
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      'plextv-tls-port': { type: 'string' },
      ca: { type: 'string' },
      token: { type: 'string' },
      repeats: { type: 'string', default: '1' },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
const tlsPort = Number(args['plextv-tls-port']);
const repeats = Number(args.repeats);
if (!Number.isInteger(tlsPort) || tlsPort <= 0 || tlsPort > 65535) usage('--plextv-tls-port needs a port number');
if (!args.ca) usage('--ca needs the simulator CA file');
if (!args.token) usage('--token needs the account token');
if (!Number.isInteger(repeats) || repeats < 1) usage('--repeats needs a positive integer');
const ca = readFileSync(args.ca, 'utf8');

const { MyPlexAccount } = await importPlex();

const round = (ms) => Math.round(ms * 1000) / 1000;

function describe(err) {
  // p-any rejects with an AggregateError whose .errors are the candidates' errors.
  const inner = Array.isArray(err?.errors) ? err.errors : err?.errors ? [...err.errors] : null;
  const one = (e) => (e?.cause?.message ? `${e.message} (${e.cause.message})` : String(e?.message ?? e));
  return inner && inner.length ? inner.map(one).join('; ') : one(err);
}

async function oneRepeat(repeat) {
  const agent = useSimNetwork(ca, tlsPort);
  try {
    let t = performance.now();
    const account = await new MyPlexAccount(null, '', '', args.token).connect();
    const signinMs = performance.now() - t;
    t = performance.now();
    const resources = await account.resources();
    const resourcesMs = performance.now() - t;
    const servers = resources.filter((r) => String(r.provides ?? '').split(',').includes('server'));

    const start = performance.now();
    const results = await Promise.all(
      servers.map(async (resource) => {
        const begin = performance.now();
        const base = { name: resource.name, clientIdentifier: resource.clientIdentifier };
        try {
          const server = await resource.connect();
          return { ...base, ms: round(performance.now() - begin), uri: server.baseurl };
        } catch (err) {
          return { ...base, ms: round(performance.now() - begin), uri: null, error: describe(err) };
        }
      }),
    );
    const totalMs = performance.now() - start;
    return { repeat, signin_ms: round(signinMs), resources_ms: round(resourcesMs), servers: results, total_ms: round(totalMs) };
  } finally {
    // Ends the attempts connect() left running, and the pooled connections.
    await agent.destroy().catch(() => {});
  }
}

try {
  for (let i = 0; i < repeats; i++) {
    process.stdout.write(`${JSON.stringify(await oneRepeat(i))}\n`);
  }
} catch (err) {
  process.stderr.write(`ctrl_plex_connect: ${describe(err)}\n`);
  process.exit(1);
}
// Nothing left should hold the loop, but a stray 30 s ofetch timer must not
// keep the caller waiting.
process.exit(0);
