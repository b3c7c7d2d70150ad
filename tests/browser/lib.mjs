// Helpers for the browser tests: Debian's chromium driven by playwright-core,
// the reference host started in demo mode, screenshots and axe-core checks.
// Nothing here downloads anything: the browser is /usr/bin/chromium (or
// $CHROMIUM) and the only packages are the two pinned in package-lock.json.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- browser

// The browser may only reach loopback: every other host name and address
// fails to resolve, so a stray request to the internet fails fast and visibly
// (net::ERR_NAME_NOT_RESOLVED) instead of leaving the machine.
const LOOPBACK_ONLY = '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]';

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  try {
    await access(executablePath, fsc.X_OK);
  } catch {
    throw new Error(
      `chromium not found at ${executablePath}: install Debian's package (scripts/setup.sh, ` +
        `or apt-get install chromium), or point CHROMIUM at a chromium binary`,
    );
  }
  const args = ['--disable-dev-shm-usage', LOOPBACK_ONLY];
  // Chromium refuses to run its sandbox as root; an ordinary user keeps it.
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.unshift('--no-sandbox');
  return chromium.launch({ executablePath, headless: true, args });
}

export function newContext(browser, { colorScheme = 'light', width = 1280, height = 900 } = {}) {
  return browser.newContext({ viewport: { width, height }, colorScheme, bypassCSP: false });
}

// ---------------------------------------------------------------- host

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_LINES = 200;
const LISTENING = 'plexbridge-host listening on ';
const DEMO = '  demo: Plex simulator (plex.tv and one server) at ';

// Hosts still running: killed (and their data dirs removed) if the test
// process exits without stopping them, so a failed test leaves nothing behind.
const running = new Set();
process.on('exit', () => {
  for (const h of running) {
    try {
      h.proc.kill('SIGKILL');
    } catch {}
    try {
      rmSync(h.dataDir, { recursive: true, force: true });
    } catch {}
  }
});

function isLoopback(url) {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function exited(proc) {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function waitExit(proc, ms) {
  if (exited(proc)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      proc.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    proc.once('exit', onExit);
  });
}

export async function startHost({ extraArgs = [] } = {}) {
  const bin = process.env.PB_HOST;
  if (!bin) throw new Error('PB_HOST is not set: point it at the plexbridge-host binary (e.g. build/bin/plexbridge-host)');
  try {
    await access(bin, fsc.X_OK);
  } catch {
    throw new Error(`PB_HOST=${bin} is not an executable file: build plexbridge-host first`);
  }

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'pb-browser-'));
  const apikey = randomBytes(16).toString('hex');
  const args = ['--demo', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--apikey', apikey, ...extraArgs];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  const errLines = [];
  createInterface({ input: proc.stderr }).on('line', (line) => {
    errLines.push(line);
    if (errLines.length > STDERR_LINES) errLines.shift();
  });
  const stderr = () => errLines.join('\n');

  const host = { url: undefined, simUrl: undefined, apikey, dataDir, proc, stderr, stop: undefined };
  let stopping;
  host.stop = () => {
    stopping ??= (async () => {
      if (!exited(proc)) {
        proc.kill('SIGTERM');
        if (!(await waitExit(proc, STOP_TIMEOUT_MS))) {
          proc.kill('SIGKILL');
          await waitExit(proc, STOP_TIMEOUT_MS);
        }
      }
      running.delete(host);
      await rm(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  running.add(host);

  // stdout is read to the end (the readline interface keeps draining it), so
  // the host never blocks on a full pipe after the lines we wait for.
  const stdoutLines = createInterface({ input: proc.stdout });
  try {
    await new Promise((resolve, reject) => {
      const fail = (why) => {
        cleanup();
        reject(new Error(`plexbridge-host (${bin} ${args.join(' ')}) ${why}\n--- stderr ---\n${stderr()}`));
      };
      const timer = setTimeout(() => fail(`printed no ready lines within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
      const onLine = (line) => {
        if (line.startsWith(LISTENING)) host.url = line.slice(LISTENING.length).trim();
        else if (line.startsWith(DEMO)) host.simUrl = line.slice(line.lastIndexOf(' at ') + 4).trim();
        if (host.url && host.simUrl) {
          cleanup();
          resolve();
        }
      };
      const onExit = (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before it was ready`);
      const onError = (err) => fail(`could not start: ${err.message}`);
      const cleanup = () => {
        clearTimeout(timer);
        stdoutLines.off('line', onLine);
        proc.off('exit', onExit);
        proc.off('error', onError);
      };
      stdoutLines.on('line', onLine);
      proc.once('exit', onExit);
      proc.once('error', onError);
    });
    for (const u of [host.url, host.simUrl])
      if (!isLoopback(u)) throw new Error(`plexbridge-host announced ${u}: the tests only use loopback addresses`);
  } catch (err) {
    await host.stop();
    throw err;
  }
  return host;
}

// ---------------------------------------------------------------- pages

export async function signIn(page, host) {
  await page.goto(`${host.url}/login`);
  await page.getByLabel('API key').fill(host.apikey);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

function isAutoFavicon(url) {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
}

// Errors the page reported: console errors, uncaught exceptions and CSP
// violations, as strings ("console: ...", "pageerror: ...", "csp: ...").
// The returned array also has a non-enumerable `dialogs` array ("alert: 1"):
// every dialog is recorded and dismissed, so an injected alert() shows up
// there instead of hanging the test. Because `dialogs` is not enumerable,
// assert.deepStrictEqual(errors, []) looks at the errors only.
export function watchPage(page) {
  const errors = [];
  const dialogs = [];
  Object.defineProperty(errors, 'dialogs', { value: dialogs, enumerable: false });
  page.on('console', (msg) => {
    const text = msg.text();
    const url = msg.location()?.url || '';
    const where = url ? ` (${url}:${msg.location().lineNumber})` : '';
    if (text.includes('Content Security Policy')) errors.push(`csp: ${text}${where}`);
    // A page that names no icon gets /favicon.ico fetched by Chromium on its
    // own, at a moment of its choosing; that 404 is no error of the page's.
    // A failure at any other path is still reported.
    else if (msg.type() === 'error' && text.startsWith('Failed to load resource') && isAutoFavicon(url)) return;
    else if (msg.type() === 'error') errors.push(`console: ${text}${where}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.stack || err.message}`));
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  return errors;
}

function artifactsDir() {
  const dir = process.env.PB_ARTIFACTS || new URL('./artifacts/', import.meta.url);
  return dir instanceof URL ? fileURLToPath(dir) : path.resolve(dir);
}

// Three full-page screenshots: <name>-light.png and <name>-dark.png at the
// current viewport, <name>-360.png (light) at 360x800. The page's viewport
// and color scheme are put back afterwards. Returns the files written.
export async function shoot(page, name) {
  if (!/^[\w.-]+$/.test(name) || name.includes('..')) throw new Error(`shoot: bad screenshot name ${JSON.stringify(name)}`);
  const dir = artifactsDir();
  await mkdir(dir, { recursive: true });
  const viewport = page.viewportSize();
  const wasDark = await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches);
  const files = [];
  const snap = async (suffix) => {
    const file = path.join(dir, `${name}-${suffix}.png`);
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
    files.push(file);
  };
  try {
    // "light" is the page as it is in the default light context; a context
    // made dark is switched to light for this one, so the name stays true.
    if (wasDark) await page.emulateMedia({ colorScheme: 'light' });
    await snap('light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await snap('dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 360, height: 800 });
    await snap('360');
  } finally {
    if (viewport) await page.setViewportSize(viewport);
    await page.emulateMedia({ colorScheme: wasDark ? 'dark' : 'light' });
  }
  return files;
}

// axe-core is evaluated in the page through the DevTools protocol
// (page.evaluate), which Chromium does not hold to the page's CSP: the page
// keeps its real policy (no bypassCSP, no inline <script>), and CSP stays in
// force for the page's own scripts while axe runs.
let axeSource;
export async function checkA11y(page, label) {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object' && typeof window.axe.run === 'function')))
    await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const lines = bad.map((v) => {
      const targets = v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)).join(', ');
      return `  ${v.id} (${v.impact}): ${v.help}\n    ${targets}${v.nodes.length > 3 ? `, ... ${v.nodes.length} in all` : ''}`;
    });
    throw new Error(`${label}: ${bad.length} serious or critical accessibility violation(s):\n${lines.join('\n')}`);
  }
  return violations;
}
