// The browser test machinery on its own, without plexbridge: a tiny page
// served on loopback with the same Content-Security-Policy as plexbridge's
// pages (src/common/include/common/web.hpp), driven by Debian's chromium.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { checkA11y, launchBrowser, newContext, shoot, watchPage } from './lib.mjs';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

const page = (body, head = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Smoke</title><link rel="stylesheet" href="/style.css">${head}</head>
<body><main>${body}</main></body></html>`;

const FILES = {
  '/': ['text/html; charset=utf-8', page(
    `<h1>Browser smoke test</h1>
     <p>A page served with a strict Content-Security-Policy.</p>
     <button type="button" id="go">Say hello</button>
     <p id="status" role="status"></p>`,
    '<script src="/app.js" defer></script>',
  )],
  '/style.css': ['text/css', `
    :root { color-scheme: light dark; --bg: #ffffff; --fg: #1a1a1a; --accent: #0b57d0; }
    @media (prefers-color-scheme: dark) { :root { --bg: #121212; --fg: #eeeeee; --accent: #a8c7fa; } }
    body { background: var(--bg); color: var(--fg); font: 16px/1.5 sans-serif; margin: 2rem; }
    button { background: var(--accent); color: var(--bg); border: 0; padding: .5rem 1rem; font: inherit; }
  `],
  // The click handler also tries eval(): the policy has no 'unsafe-eval',
  // so the page's own code must be refused, before and after axe is injected.
  '/app.js': ['text/javascript', `
    let clicks = 0;
    document.getElementById('go').addEventListener('click', () => {
      const status = document.getElementById('status');
      try { eval('1'); status.dataset.eval = 'allowed'; } catch { status.dataset.eval = 'blocked'; }
      status.textContent = 'Hello ' + ++clicks;
    });
  `],
  // An inline script: CSP must block it, so its alert never runs.
  '/inline': ['text/html; charset=utf-8', page('<h1>Inline</h1><script>alert("xss")</script>')],
  // Serious/critical axe findings: an image without alt text, a nameless button.
  '/inaccessible': ['text/html; charset=utf-8', page(
    '<h1>Broken</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button type="button"></button>',
  )],
};

let server;
let base;
let browser;

before(async () => {
  server = http.createServer((req, res) => {
    const file = FILES[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404, { 'Content-Security-Policy': CSP }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file[0], 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' });
    res.end(file[1]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('browser smoke', () => {
  test('a strict-CSP page works, is accessible, and is photographed light, dark and narrow', async () => {
    const ctx = await newContext(browser);
    const p = await ctx.newPage();
    const errors = watchPage(p);
    const res = await p.goto(`${base}/`);
    assert.equal(res.headers()['content-security-policy'], CSP);

    const hello = p.getByRole('button', { name: 'Say hello' });
    const status = p.getByRole('status');
    await hello.click();
    await status.filter({ hasText: 'Hello 1' }).waitFor();
    assert.equal(await status.getAttribute('data-eval'), 'blocked');

    const violations = await checkA11y(p, 'smoke page');
    assert.ok(Array.isArray(violations));
    // axe went in without loosening the page's policy: the page's own code
    // is still refused eval (a real click, outside any page.evaluate).
    await hello.click();
    await status.filter({ hasText: 'Hello 2' }).waitFor();
    assert.equal(await status.getAttribute('data-eval'), 'blocked');

    const files = await shoot(p, 'smoke');
    assert.equal(files.length, 3);
    const [light, dark, narrow] = await Promise.all(files.map((f) => readFile(f)));
    for (const png of [light, dark, narrow]) assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.notDeepEqual(light, dark, 'the dark screenshot should differ from the light one');
    assert.equal(light.readUInt32BE(16), 1280);
    assert.equal(narrow.readUInt32BE(16), 360);
    // shoot() put the page back as it was.
    assert.deepEqual(p.viewportSize(), { width: 1280, height: 900 });
    assert.equal(await p.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), false);

    assert.deepEqual(errors, []);
    assert.deepEqual(errors.dialogs, []);
    await ctx.close();
  });

  test('watchPage reports a CSP violation, and the blocked inline alert never fires', async () => {
    const ctx = await newContext(browser, { colorScheme: 'dark' });
    const p = await ctx.newPage();
    const errors = watchPage(p);
    await p.goto(`${base}/inline`);
    await p.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^csp: .*Content Security Policy/);
    assert.deepEqual(errors.dialogs, []);
    await ctx.close();
  });

  test('watchPage records and dismisses dialogs, and records uncaught errors', async () => {
    const ctx = await newContext(browser);
    const p = await ctx.newPage();
    const errors = watchPage(p);
    await p.goto(`${base}/`);
    await p.evaluate(() => alert('hi'));
    await p.evaluate(() => { setTimeout(() => { throw new Error('boom'); }); return new Promise((r) => setTimeout(r, 50)); });
    assert.deepEqual(errors.dialogs, ['alert: hi']);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^pageerror: .*boom/);
    await ctx.close();
  });

  test('checkA11y fails on serious or critical violations and names them', async () => {
    const ctx = await newContext(browser);
    const p = await ctx.newPage();
    await p.goto(`${base}/inaccessible`);
    await assert.rejects(checkA11y(p, 'broken page'), (err) => {
      assert.match(err.message, /^broken page: /);
      assert.match(err.message, /image-alt/);
      assert.match(err.message, /button-name/);
      return true;
    });
    await ctx.close();
  });

  test('the browser reaches loopback only', async () => {
    const ctx = await newContext(browser);
    const p = await ctx.newPage();
    await assert.rejects(p.goto('http://example.com/', { timeout: 10_000 }), /ERR_NAME_NOT_RESOLVED/);
    await assert.rejects(p.goto('http://192.0.2.1/', { timeout: 10_000 }), /ERR_NAME_NOT_RESOLVED/);
    await ctx.close();
  });
});
