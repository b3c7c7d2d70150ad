// The test network a real Plex client sees when it talks to plexsim.
//
// @ctrl/plex hard-codes https://plex.tv and uses ofetch, which calls the
// global fetch (undici). The only thing changed is where its TCP connections
// go, as an /etc/hosts entry and a port forward would: a global undici
// dispatcher sends https://plex.tv to the simulator's TLS listener for
// plex.tv (the Host header and TLS name stay "plex.tv"), resolves
// a-b-c-d.<hash>.plex.direct to a.b.c.d as Plex's DNS does, trusts the
// simulator's CA (and nothing else), and refuses every address that is not
// loopback.
//
// Used by ctrl_plex.test.mjs and by bench/peers/ctrl_plex_connect.mjs; both
// load @ctrl/plex through importPlex() so that it resolves from this
// folder's node_modules (one package-lock.json).

import net from 'node:net';
import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

import { Agent, buildConnector, setGlobalDispatcher } from 'undici';

// @ctrl/plex derives its client identifier from the first non-zero MAC
// address when it loads, and throws on a machine (a CI container) that has
// only loopback. There, and only there, it is lent a locally administered
// address; the library's code is unchanged. Must run before the library loads.
function lendMacIfOnlyLoopback() {
  const zeroMac = /^(?:0{1,2}[:-]){5}0{1,2}$/;
  if (Object.values(os.networkInterfaces()).flat().some((i) => i && !zeroMac.test(i.mac))) return;
  const real = os.networkInterfaces;
  os.networkInterfaces = () => ({
    ...real(),
    pbtest0: [{ address: '127.0.0.2', netmask: '255.0.0.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: true, cidr: '127.0.0.2/8' }],
  });
  syncBuiltinESMExports();
}

// The unmodified @ctrl/plex module, loaded from tests/client_library/node_modules.
export async function importPlex() {
  lendMacIfOnlyLoopback();
  return import('@ctrl/plex');
}

export function isLoopback(ip) {
  return net.isIPv4(ip) ? ip.startsWith('127.') : ip === '::1';
}

// The name -> address map the test network has: plex.tv is the simulator,
// and *.plex.direct resolves as Plex's DNS resolves it (the dashed IPv4
// address in the first label). Nothing outside loopback resolves.
export function resolveLoopback(hostname) {
  let ip = null;
  if (hostname === 'plex.tv' || hostname === 'localhost') ip = '127.0.0.1';
  const direct = /^(\d+)-(\d+)-(\d+)-(\d+)\.[0-9a-f]+\.plex\.direct$/i.exec(hostname);
  if (direct) ip = direct.slice(1, 5).join('.');
  if (net.isIP(hostname)) ip = hostname;
  return ip !== null && isLoopback(ip) ? ip : null;
}

export function lookup(hostname, options, callback) {
  const address = resolveLoopback(hostname);
  if (address === null) {
    const err = new Error(`test network: ${hostname} is not on loopback`);
    err.code = 'ENOTFOUND';
    return callback(err);
  }
  const family = net.isIP(address);
  if (options && options.all) return callback(null, [{ address, family }]);
  return callback(null, address, family);
}

// ca: the simulator's CA (PEM); plextvTlsPort: its TLS listener for plex.tv.
export function makeDispatcher(ca, plextvTlsPort) {
  const connect = buildConnector({ ca, lookup });
  return new Agent({
    connect(opts, callback) {
      if (net.isIP(opts.hostname) && !isLoopback(opts.hostname)) {
        return callback(new Error(`test network: ${opts.hostname} is not on loopback`));
      }
      if (opts.hostname === 'plex.tv') {
        if (opts.protocol !== 'https:') return callback(new Error('plex.tv is only reached over https'));
        return connect({ ...opts, port: String(plextvTlsPort), servername: 'plex.tv' }, callback);
      }
      return connect(opts, callback);
    },
  });
}

// makeDispatcher, made the global dispatcher every fetch goes through. The
// caller destroys the returned agent when done.
export function useSimNetwork(ca, plextvTlsPort) {
  const agent = makeDispatcher(ca, plextvTlsPort);
  setGlobalDispatcher(agent);
  return agent;
}
