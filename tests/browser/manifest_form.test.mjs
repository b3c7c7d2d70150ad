// Any host can draw the settings form from the manifest alone: this test
// loads no plugin and no plexbridge host. A bare page on a loopback server
// (strict CSP, like a host's) imports the reference host's form module and
// draws manifest/plugin.json with each setting at its default; the form
// must give every setting a person may see a labelled control, hide the
// internal ones, and follow shown_when.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { launchBrowser, newContext, watchPage, checkA11y, shoot } from './lib.mjs';

const web = process.env.PB_HOST_WEB;
const manifestPath = process.env.PB_MANIFEST;

let browser;
let server;
let base;
before(async () => {
  assert.ok(web && manifestPath, 'PB_HOST_WEB and PB_MANIFEST must name host/web and manifest/plugin.json');
  const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'";
  const pages = {
    '/': ['text/html', '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Form from the manifest</title>' +
      '<link rel="stylesheet" href="/host/host.css"><script type="module" src="/draw.js"></script></head>' +
      '<body><main><h1>Settings drawn from the manifest</h1><div id="form"></div></main></body></html>'],
    '/draw.js': ['text/javascript', `import { renderForm } from '/host/form.js';
const manifest = await (await fetch('/manifest.json')).json();
const data = Object.fromEntries(manifest.settings.map((s) => [s.name, s.default]));
window.saved = [];
renderForm(document.getElementById('form'), { schema: manifest.settings, data }, async (patch) => {
  window.saved.push(patch);
  return { ok: true, data: { ...data, ...patch } };
});
document.body.dataset.drawn = 'yes';`],
  };
  server = http.createServer(async (req, res) => {
    try {
      let type;
      let body;
      if (pages[req.url]) [type, body] = pages[req.url];
      else if (req.url === '/manifest.json') [type, body] = ['application/json', await readFile(manifestPath)];
      else if (/^\/host\/[\w-]+\.(js|css)$/.test(req.url)) {
        type = req.url.endsWith('.js') ? 'text/javascript' : 'text/css';
        body = await readFile(path.join(web, path.basename(req.url)));
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': type, 'Content-Security-Policy': csp }).end(body);
    } catch {
      res.writeHead(500).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test('the plain form is drawn from manifest/plugin.json alone', async () => {
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  const context = await newContext(browser);
  const page = await context.newPage();
  const errors = watchPage(page);
  try {
    await page.goto(`${base}/`);
    await page.locator('body[data-drawn="yes"]').waitFor();
    await page.locator('form').first().waitFor();
    // Two settings may share a label ("Plex token": the internal one from
    // sign-in, the legacy one typed by hand): count controls per label.
    const drawn = {};
    for (const s of manifest.settings) if (s.access !== 'internal') drawn[s.label] = (drawn[s.label] || 0) + 1;
    for (const s of manifest.settings) {
      const control = page.getByLabel(s.label, { exact: true });
      if (s.access === 'internal') {
        assert.equal(await control.count(), drawn[s.label] || 0, `${s.name} is internal: never drawn`);
        continue;
      }
      if (s.type === 'json' && s.fields) continue; // a table: checked below
      // Drawn (perhaps hidden until its condition holds), exactly once, labelled.
      assert.ok(await control.count() >= 1, `${s.name} has a control labelled "${s.label}"`);
      if (s.shown_when) assert.equal(await control.first().isVisible(), false, `${s.name} waits for ${s.shown_when.setting}`);
      else assert.equal(await control.first().isVisible(), true, `${s.name} is shown`);
    }
    // The table of a list of objects (path mappings) has its fields as columns.
    const mappings = manifest.settings.find((s) => s.fields && s.access !== 'internal');
    await page.getByRole('button', { name: /^Add/ }).first().click();
    for (const f of mappings.fields) assert.ok(await page.getByLabel(new RegExp(f.label)).count() >= 1, f.label);
    // shown_when: choosing the legacy mode shows its fields.
    const auth = manifest.settings.find((s) => s.name === 'auth_method');
    await page.getByLabel(auth.label, { exact: true }).selectOption('apikey');
    for (const s of manifest.settings.filter((x) => x.shown_when))
      await page.getByLabel(s.label, { exact: true }).first().waitFor();
    await checkA11y(page, 'form from the manifest');
    await shoot(page, '12-form-from-manifest');
    assert.deepEqual(errors.filter((e) => !e.startsWith('console: Failed to load resource')), []);
  } finally {
    await context.close();
  }
});
