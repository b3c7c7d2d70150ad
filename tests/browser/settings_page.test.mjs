// The settings page end to end, in Debian's chromium: the reference host
// with the plugin, the Plex simulator standing in for plex.tv and Plex
// Media Server (its fake sign-in page stands in for app.plex.tv). Every
// state is checked with axe-core in light and dark, and photographed
// (light, dark, 360 px) into artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { launchBrowser, newContext, startHost, signIn, watchPage, shoot, checkA11y } from './lib.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

// One state of the page: accessible in both themes, and photographed.
async function state(page, name) {
  await checkA11y(page, `${name} (light)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await checkA11y(page, `${name} (dark)`);
  await page.emulateMedia({ colorScheme: 'light' });
  await shoot(page, name);
}

// The host's settings route, as a program reads it (with the API key).
async function hostSettings(host) {
  const r = await fetch(`${host.url}/api/settings/plex`, { headers: { 'X-API-KEY': host.apikey } });
  assert.equal(r.status, 200);
  return (await r.json()).data;
}

async function sim(host, control) {
  const r = await fetch(`${host.simUrl}/sim/control/${control}`, { method: 'POST' });
  assert.equal(r.status, 204, `sim control ${control}`);
}

// Signs the plugin in without the page (for tests about something else).
async function signInToPlex(host) {
  const call = (method, path, body) => fetch(`${host.url}${path}`, {
    method, headers: { 'X-API-KEY': host.apikey, 'Content-Type': 'application/json' }, body,
  }).then((r) => r.json());
  const pin = (await call('POST', '/api/plex/oauth/pin')).data;
  await fetch(`${host.simUrl}/sim/link?code=${pin.code}`, { method: 'POST' });
  const done = await call('GET', `/api/plex/oauth/pin/${pin.pinId}/check?state=${pin.state}`);
  assert.equal(done.data?.authenticated, true, JSON.stringify(done));
}

// What the page reported that a test did not expect: Chromium logs every
// answer of HTTP 4xx/5xx to a fetch as a console error, and these tests
// cause some on purpose (a wrong key, a dead token); scripts' errors, CSP
// violations and uncaught exceptions always count.
const unexpected = (errors) => errors.filter((e) => !e.startsWith('console: Failed to load resource'));

async function openPluginPage(page, host) {
  await signIn(page, host);
  await page.getByRole('link', { name: 'Open settings' }).click();
  await page.waitForURL(/\/plugins\/plexbridge\/$/);
  await page.locator('#main[aria-busy="false"]').waitFor();
}

// One test: a fresh host with its simulator, a browser context and page.
// What the page reported unexpectedly, or a dialog (an injected script),
// fails it at the end.
function scenario(name, { hostArgs = [], viewport, init } = {}, body) {
  test(name, async () => {
    const host = await startHost({ extraArgs: hostArgs });
    const context = await newContext(browser, viewport);
    if (init) await context.addInitScript(init);
    const page = await context.newPage();
    const errors = watchPage(page);
    try {
      await body({ host, page, context, errors });
      assert.deepEqual(unexpected(errors), []);
      assert.deepEqual(errors.dialogs, [], 'no dialog opened: no script ran');
    } finally {
      await context.close();
      await host.stop();
    }
  });
}

scenario('a person connects Plex, picks a server and libraries, manages webhooks and signs out', {},
  async ({ host, page, context }) => {
  // The host sends a visitor without a session to its sign-in page.
  await page.goto(`${host.url}/plugins/plexbridge/`);
  assert.match(page.url(), /\/login\?next=/);
  await page.getByLabel('API key').fill('not-the-key');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'not this host' }).waitFor();
  await state(page, '01-host-login');

  await signIn(page, host);
  await page.getByRole('link', { name: 'Open settings' }).waitFor();
  await state(page, '02-host-plugins');
  // The browser holds a session cookie scripts cannot read, never the key.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'pb_session');
  assert.ok(session?.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
  const visible = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) +
    document.cookie + document.documentElement.outerHTML);
  assert.ok(!visible.includes(host.apikey), 'the API key is nowhere the page can read');

  await page.getByRole('link', { name: 'Open settings' }).click();
  await page.locator('#main[aria-busy="false"]').waitFor();
  await page.getByRole('button', { name: 'Connect to Plex' }).waitFor();
  await state(page, '03-plugin-signed-out');

  // Connect: the Plex window opens, the person allows, the window closes.
  const popupOpened = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Connect to Plex' }).click();
  const popup = await popupOpened;
  await popup.waitForURL(/\/sim\/auth#/);
  assert.deepEqual(popup.viewportSize(), { width: 600, height: 700 });
  await popup.getByRole('button', { name: 'Link this device' }).click();
  await popup.waitForEvent('close', { timeout: 15000 });
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as plexuser' }).waitFor();

  // Servers: the only one is chosen by itself, each address with its result.
  const servers = page.locator('#servers');
  await servers.getByText('In use:').waitFor();
  await servers.locator('.server.chosen h3', { hasText: 'Living Room' }).waitFor();
  await servers.getByText(/Answers in \d+ ms/).first().waitFor();
  assert.ok(await servers.getByText('local').count() >= 2);
  assert.equal((await hostSettings(host)).server_name, 'Living Room');
  await page.getByRole('button', { name: /^Test https:/ }).click();
  await servers.getByText(/Answers in \d+ ms/).first().waitFor();

  // Libraries, saved through the plugin: the host's stored settings show them.
  const libraries = page.locator('#libraries');
  await libraries.getByLabel(/^Movies/).check();
  await libraries.getByLabel(/^TV Shows/).check();
  await libraries.getByLabel('Refresh movies').check();
  await libraries.getByLabel('Mark episodes as recently added').check();
  await page.waitForFunction(() => document.getElementById('announce').textContent.includes('recently added'));
  const stored = await hostSettings(host);
  assert.deepEqual(stored.movie_library, ['1']);
  assert.deepEqual(stored.series_library, ['2']);
  assert.equal(stored.update_movie_library, true);
  assert.equal(stored.set_episode_added, true);
  await state(page, '04-plugin-signed-in');

  // Webhooks: a loopback address is said to be unreachable for a Plex in
  // Docker; created, listed with its key masked, deleted.
  const hooks = page.locator('#webhooks');
  await hooks.getByLabel('Address Plex calls').fill('http://127.0.0.1:6767');
  await hooks.getByRole('button', { name: 'Save address' }).click();
  await hooks.getByText('a loopback address').waitFor();
  await hooks.getByRole('button', { name: 'Create the webhook' }).click();
  const ours = hooks.locator('#webhook-list li', { hasText: 'this application' });
  await ours.waitFor();
  const key = (await hostSettings(host)).webhook_key;
  assert.ok(!(await hooks.innerText()).includes(key) || key === '********', 'the webhook key is masked');
  await state(page, '05-plugin-webhook');
  await ours.getByRole('button', { name: /^Delete the webhook/ }).click();
  await hooks.getByText('None.').waitFor();

  // Diagnostics: a file to attach to a bug report, without the token.
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download diagnostics' }).click();
  const download = await downloading;
  const bundle = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(bundle.plugin.id, 'plexbridge');
  assert.equal(bundle.status.signed_in, true);
  assert.ok(bundle.log.length > 0);
  assert.ok(!JSON.stringify(bundle).includes('sim-account-token'), 'no Plex token in the bundle');

  // Sign out: back to the start.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Connect to Plex' }).waitFor();
  assert.equal((await hostSettings(host)).username, '');
});

scenario('a server name from Plex is shown as text and runs nothing', { viewport: { width: 360, height: 800 } },
  async ({ host, page, errors }) => {
  const evil = '<img src=x onerror=alert(1)>';
  await sim(host, `server?index=0&name=${encodeURIComponent(evil)}&shared_by=${encodeURIComponent('<b>Bob</b>')}`);
  await signInToPlex(host);
  await openPluginPage(page, host);
  const card = page.locator('#servers .server h3', { hasText: evil });
  await card.waitFor();
  assert.equal(await card.textContent(), evil);
  await page.locator('#servers').getByText('shared by <b>Bob</b>').waitFor();
  assert.equal(await page.locator('img').count(), 0, 'no element was made from the name');
  await state(page, '06-plugin-hostile-names');
  assert.deepEqual(errors.dialogs, [], 'no script ran');
  // Nothing wider than the screen at 360 px.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360));
});

// What a popup blocker does: window.open gives nothing.
const blockPopups = () => { window.open = () => null; };

scenario('a blocked sign-in window gives a link and a code to type at plex.tv/link', { init: blockPopups },
  async ({ host, page }) => {
  await openPluginPage(page, host);
  // By keyboard alone: Tab to the button, Enter.
  for (let i = 0; i < 25 && (await page.evaluate(() => document.activeElement?.id)) !== 'connect'; i++)
    await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'connect', 'Connect is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.getByText('Your browser blocked the Plex window.').waitFor();
  const link = page.getByRole('link', { name: 'Open the Plex sign-in' });
  assert.match(await link.getAttribute('href'), /\/sim\/auth#\?clientID=/);
  const code = (await page.locator('#link-code').textContent()).trim();
  assert.equal(code.length, 4, 'a short code a person can type');
  await state(page, '07-plugin-popup-blocked');
  // The person types the code at plex.tv/link on their phone.
  await fetch(`${host.simUrl}/sim/link?code=${code}`, { method: 'POST' });
  await page.locator('#signed-in-as').waitFor({ timeout: 15000 });
});

scenario('an expired sign-in code says so and starts again', {}, async ({ host, page }) => {
  await sim(host, 'pin-expires-in?seconds=1');
  await openPluginPage(page, host);
  const popupOpened = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Connect to Plex' }).click();
  await popupOpened;
  await page.getByText('The sign-in code expired before it was used.').waitFor({ timeout: 15000 });
  await state(page, '08-plugin-pin-expired');
  await sim(host, 'pin-expires-in?seconds=0');
  const again = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Start again' }).click();
  const popup = await again;
  await popup.waitForURL(/\/sim\/auth#/);
  await popup.getByRole('button', { name: 'Link this device' }).click();
  await page.locator('#signed-in-as').waitFor({ timeout: 15000 });
});

scenario('a token Plex no longer accepts asks the person to sign in again', {}, async ({ host, page }) => {
  await signInToPlex(host);
  await sim(host, 'revoke-token?status=401');
  await openPluginPage(page, host);
  // The servers listing hears plex.tv refuse the token; the status says
  // it once, and the sections that cannot work step aside.
  const again = page.locator('#status').getByRole('button', { name: 'Sign in again' });
  await again.waitFor();
  await page.locator('#servers').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#webhooks').isVisible(), false);
  await state(page, '09-plugin-token-dead');
  const popupOpened = page.waitForEvent('popup');
  await again.click();
  await popupOpened;
});

scenario('the host draws the plain form from the schema alone and shows a refusal next to its field', {},
  async ({ host, page }) => {
  await signIn(page, host);
  await page.getByRole('link', { name: 'All settings (plain form)' }).click();
  const port = page.getByLabel('Server port');
  // Legacy fields are drawn only in legacy mode (shown_when).
  await page.getByLabel('How to connect').waitFor();
  assert.equal(await port.isVisible(), false);
  await page.getByLabel('How to connect').selectOption('apikey');
  await port.waitFor();
  // Internal settings are never drawn; read-only ones cannot be edited.
  assert.equal(await page.getByLabel('Client identifier').count(), 0);
  assert.equal(await page.getByLabel('Known addresses').count(), 0);
  assert.ok(await page.getByLabel('Signed in as').isDisabled() || await page.getByLabel('Signed in as').getAttribute('readonly') !== null);
  await state(page, '10-host-form');
  // The plugin refuses an address that is not one; the form puts its
  // words next to that field, and nothing is stored.
  const manual = page.getByLabel('Server address (manual)');
  await manual.fill('nas.local:32400 please');
  await page.getByRole('button', { name: 'Save' }).click();
  const message = page.locator('[role="alert"]', { hasText: 'Must be empty or an http(s) URL' });
  await message.waitFor();
  assert.equal(await manual.getAttribute('aria-invalid'), 'true');
  assert.ok((await manual.getAttribute('aria-describedby')).includes(await message.getAttribute('id')));
  await state(page, '11-host-form-refused');
  assert.equal((await hostSettings(host)).manual_server_url, '', 'nothing was stored');
  await manual.fill('');
  await port.fill('32401');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();
  assert.equal((await hostSettings(host)).port, 32401);
});

const legacy = ['--set', 'plex.auth_method=apikey', '--set', 'plex.ip=192.168.1.20', '--set', 'plex.port=32400'];

scenario('legacy mode is shown as such and moves to Sign in with Plex', { hostArgs: legacy }, async ({ host, page }) => {
  await openPluginPage(page, host);
  await page.locator('#account').getByText('Legacy mode:', { exact: true }).waitFor();
  await page.getByText('http://192.168.1.20:32400', { exact: false }).first().waitFor();
  await state(page, '13-plugin-legacy');
  // The token typed by hand goes to the route that encrypts it.
  await page.locator('#account').getByLabel('Plex token').fill('typed-by-hand-456');
  await page.getByRole('button', { name: 'Save token' }).click();
  await page.locator('#legacy-token').waitFor({ state: 'detached' });
  const stored = await readFile(`${host.dataDir}/settings.json`, 'utf8');
  assert.ok(!stored.includes('typed-by-hand-456'), 'stored encrypted');
  const popupOpened = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Move to Sign in with Plex' }).click();
  const popup = await popupOpened;
  await popup.waitForURL(/\/sim\/auth#/);
  await popup.getByRole('button', { name: 'Link this device' }).click();
  await page.locator('#signed-in-as').waitFor({ timeout: 15000 });
  assert.equal((await hostSettings(host)).auth_method, 'oauth');
});

scenario('an account without Plex Pass is told so before trying to create a webhook', {},
  async ({ host, page }) => {
  await signInToPlex(host);
  await sim(host, 'plex-pass?on=0');
  await openPluginPage(page, host);
  const notice = page.locator('#plex-pass-notice');
  await notice.waitFor();
  assert.match(await notice.innerText(), /Plex Pass/);
  assert.equal(await page.locator('#create-webhook').isDisabled(), true);
  await state(page, '14-plugin-no-plex-pass');
});

scenario('a person switches to a Plex Home user, with its PIN, and back', {}, async ({ host, page }) => {
  await sim(host, 'account-pin?pin=9999');
  await sim(host, `home-user?title=${encodeURIComponent('Kids <i>')}&profile=little_kid&sections=1`);
  await sim(host, 'home-user?title=Sam&username=sam&pin=1234');
  await signInToPlex(host);
  await openPluginPage(page, host);
  await page.locator('#servers .server.chosen h3', { hasText: 'Living Room' }).waitFor();
  await page.getByRole('button', { name: 'Switch Plex Home user…' }).click();
  const home = page.locator('#plex-home');
  // Everyone in the Home, by name, as text; the one signed in cannot be chosen.
  await home.getByLabel(/^plexuser \(admin, PIN\) — signed in now$/).waitFor();
  assert.equal(await home.getByLabel(/^plexuser/).isDisabled(), true);
  await home.getByLabel('Kids <i> (managed, little kid)').waitFor();
  assert.equal(await page.locator('i').count(), 0, 'a name from plex.tv is text, never markup');
  // A protected user asks for its PIN; a wrong one is said in words.
  await home.getByLabel('Sam (PIN)').check();
  const pin = home.getByLabel('PIN', { exact: true });
  await pin.waitFor();
  await state(page, '15-plugin-home-users');
  await pin.fill('4321');
  await home.getByRole('button', { name: 'Switch', exact: true }).click();
  await home.getByRole('alert').filter({ hasText: 'Wrong PIN for Sam' }).waitFor();
  assert.equal(await pin.inputValue(), '', 'the PIN is not kept in the page');
  await state(page, '16-plugin-home-wrong-pin');
  await pin.fill('1234');
  await home.getByRole('button', { name: 'Switch', exact: true }).click();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as sam' }).waitFor();
  const stored = await readFile(`${host.dataDir}/settings.json`, 'utf8');
  assert.ok(!stored.includes('"1234"') && !stored.includes('"4321"'), 'no PIN stored');
  // The managed user: the server stays, with only what it may see.
  await page.getByRole('button', { name: 'Switch Plex Home user…' }).click();
  await home.getByLabel('Kids <i> (managed, little kid)').check();
  await home.getByRole('button', { name: 'Switch', exact: true }).click();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as Kids <i>' }).waitFor();
  const libraries = page.locator('#libraries');
  await libraries.getByLabel(/^Movies/).waitFor();
  assert.equal(await libraries.getByLabel(/^TV Shows/).count(), 0, 'a restricted user sees only its sections');
  await state(page, '17-plugin-home-managed');
  // Back to the admin, with the admin's PIN.
  await page.getByRole('button', { name: 'Switch Plex Home user…' }).click();
  await home.getByLabel(/^plexuser/).check();
  await home.getByLabel('PIN', { exact: true }).fill('9999');
  await home.getByRole('button', { name: 'Switch', exact: true }).click();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as plexuser' }).waitFor();
});

scenario('a person turns on short-lived Plex tokens and sees when the token ends', {}, async ({ host, page }) => {
  await signInToPlex(host);
  await openPluginPage(page, host);
  const account = page.locator('#account');
  const jwt = account.getByLabel('Short-lived Plex tokens (experimental)');
  assert.equal(await jwt.isChecked(), false, 'off until confirmed against the real plex.tv');
  await jwt.check();
  // The signed-in account moves over at once: the status shows the end.
  await page.locator('#status').getByText(/short-lived, renewed before it ends/).waitFor({ timeout: 15000 });
  assert.equal((await hostSettings(host)).jwt_sign_in, true);
  await state(page, '18-plugin-short-lived-token');
});

// Several Plex sign-ins side by side: a profile each, with its own account
// and server, picked at the top of the page; the page's address says which
// (a reload keeps it). The demo world has one account and one server: the
// second profile tells itself apart by a Plex Home user.
scenario('a person adds a profile, signs in there, switches back, renames and removes it', {},
  async ({ host, page }) => {
  const plex = async (method, path, body) => {
    const r = await fetch(`${host.url}${path}`, {
      method, headers: { 'X-API-KEY': host.apikey, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: await r.json().catch(() => null) };
  };
  const plexData = async (path) => {
    const r = await plex('GET', path);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.json)}`);
    return r.json.data;
  };
  await sim(host, 'home-user?title=Sam&username=sam');
  await signInToPlex(host);
  await openPluginPage(page, host);
  await page.locator('#servers .server.chosen h3', { hasText: 'Living Room' }).waitFor();

  // One profile: the page as it was, with a small "Add profile".
  const profiles = page.locator('#profiles');
  const add = profiles.getByRole('button', { name: 'Add profile' });
  await add.waitFor();
  assert.equal(await profiles.locator('li').count(), 0, 'no list for a single profile');
  await add.click();
  const name = profiles.getByLabel('Name', { exact: true });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'profile-add-name', 'the name field has the focus');
  await profiles.getByRole('button', { name: 'Add', exact: true }).click();
  await profiles.getByRole('alert').filter({ hasText: 'Type a name' }).waitFor();
  await name.fill('Cabin');
  await state(page, '19-plugin-profile-add');
  await profiles.getByRole('button', { name: 'Add', exact: true }).click();

  // The new profile's page: not signed in; the default one listed with its
  // account and server.
  await page.waitForURL(/\?profile=/);
  const cabinId = new URL(page.url()).searchParams.get('profile');
  assert.ok(cabinId && cabinId !== 'default', cabinId);
  await page.locator('#main[aria-busy="false"]').waitFor();
  const profile = (text) => profiles.locator('li.profile', { has: page.getByRole('link', { name: text, exact: true }) });
  await profile('Cabin').getByText('not signed in').waitFor();
  assert.equal(await profile('Cabin').getByRole('link').getAttribute('aria-current'), 'page');
  await profile('plexuser').getByText(/Living Room · signed in/).waitFor();
  assert.equal(await profile('plexuser').getByRole('button', { name: /^Remove/ }).count(), 0);
  await page.locator('#status').getByText('Not signed in').waitFor();
  assert.equal(await page.locator('#servers').isVisible(), false);

  // Signed in within it, by the same window, then as a Home user: the
  // page's calls name this profile.
  const popupOpened = page.waitForEvent('popup');
  await page.getByRole('button', { name: 'Connect to Plex' }).click();
  const popup = await popupOpened;
  await popup.waitForURL(/\/sim\/auth#/);
  await popup.getByRole('button', { name: 'Link this device' }).click();
  await popup.waitForEvent('close', { timeout: 15000 });
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as plexuser' }).waitFor();
  await page.locator('#servers .server.chosen h3', { hasText: 'Living Room' }).waitFor();
  await page.getByRole('button', { name: 'Switch Plex Home user…' }).click();
  await page.locator('#plex-home').getByLabel('Sam').check();
  await page.locator('#plex-home').getByRole('button', { name: 'Switch', exact: true }).click();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as sam' }).waitFor();
  await page.locator('#servers .server.chosen h3', { hasText: 'Living Room' }).waitFor();
  await page.locator('#libraries').getByLabel(/^Movies/).check();
  await page.waitForFunction(() => document.getElementById('announce').textContent.includes('kept up to date'));
  await profile('Cabin').getByText('sam · Living Room · signed in').waitFor();
  await page.locator('#status dd', { hasText: 'Cabin' }).waitFor();
  await state(page, '20-plugin-profile-signed-in');
  // The plugin keeps them apart.
  const cabinStatus = await plexData(`/api/plex/status?profile=${cabinId}`);
  assert.equal(cabinStatus.username, 'sam');
  const mainStatus = await plexData('/api/plex/status');
  assert.equal(mainStatus.username, 'plexuser');
  assert.equal(mainStatus.server?.name, 'Living Room');
  assert.deepEqual((await plexData(`/api/plex/settings?profile=${cabinId}`)).values.movie_library, ['1']);
  assert.deepEqual((await plexData('/api/plex/settings')).values.movie_library, []);

  // Back to the default profile, by its link: its account, server and
  // libraries as they were; its address names no profile.
  await profile('plexuser').getByRole('link').click();
  await page.waitForURL((u) => !u.searchParams.has('profile'));
  await page.locator('#main[aria-busy="false"]').waitFor();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as plexuser' }).waitFor();
  await page.locator('#servers .server.chosen h3', { hasText: 'Living Room' }).waitFor();
  assert.equal(await page.locator('#libraries').getByLabel(/^Movies/).isChecked(), false);
  assert.equal(await profile('plexuser').getByRole('link').getAttribute('aria-current'), 'page');
  // And Cabin again: a reload keeps it.
  await profile('Cabin').getByRole('link').click();
  await page.waitForURL(/\?profile=/);
  await page.reload();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as sam' }).waitFor();

  // Renamed; a name with markup is text, in the list, the status and the title.
  await profile('Cabin').getByRole('button', { name: 'Rename Cabin' }).click();
  const rename = profiles.getByLabel('Name', { exact: true });
  assert.equal(await rename.inputValue(), 'Cabin');
  await rename.fill('Lake cabin');
  await profiles.getByRole('button', { name: 'Save name' }).click();
  await profile('Lake cabin').waitFor();
  await page.locator('#status dd', { hasText: 'Lake cabin' }).waitFor();
  const evil = '<img src=x onerror=alert(1)>';
  await profile('Lake cabin').getByRole('button', { name: /^Rename/ }).click();
  await profiles.getByLabel('Name', { exact: true }).fill(evil);
  await profiles.getByRole('button', { name: 'Save name' }).click();
  await profile(evil).waitFor();
  assert.equal(await profile(evil).getByRole('link').textContent(), evil);
  assert.equal(await page.locator('img').count(), 0, 'no element was made from the name');
  assert.equal(await page.title(), `Plex settings: ${evil}`);
  await state(page, '21-plugin-profile-hostile-name');
  await page.setViewportSize({ width: 360, height: 800 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'nothing wider than 360 px');
  await page.setViewportSize({ width: 1280, height: 900 });

  // The plugin's limit, said next to the name.
  const { max } = await plexData('/api/plex/profiles');
  const extra = [];
  for (let i = (await plexData('/api/plex/profiles')).profiles.length; i < max; i++) {
    const r = await plex('POST', '/api/plex/profiles', { name: `Extra ${i}` });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    extra.push(r.json.data.id);
  }
  await add.click();
  await profiles.getByLabel('Name', { exact: true }).fill('One too many');
  await profiles.getByRole('button', { name: 'Add', exact: true }).click();
  const refusal = profiles.getByRole('alert').filter({ hasText: /\w/ });
  await refusal.waitFor();
  assert.equal(await profiles.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.ok(page.url().includes(cabinId), 'still on the same profile');
  assert.equal((await plexData('/api/plex/profiles')).profiles.length, max);
  for (const id of extra) assert.equal((await plex('DELETE', `/api/plex/profiles/${id}`)).status, 200);
  await page.reload();
  await page.locator('#main[aria-busy="false"]').waitFor();

  // Removed, after a confirmation: the page says what was done and shows
  // the default profile, unchanged; the list is gone with the second one.
  await profile(evil).getByRole('button', { name: /^Remove/ }).click();
  const yes = profiles.getByRole('button', { name: `Remove ${evil}`, exact: true });
  await yes.waitFor();
  await state(page, '22-plugin-profile-remove');
  await yes.click();
  const doneNotice = page.locator('#profile-done');
  await doneNotice.waitFor();
  assert.ok(await doneNotice.locator('li').count() >= 1, 'what was done, in words');
  assert.equal(new URL(page.url()).searchParams.has('profile'), false);
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as plexuser' }).waitFor();
  await page.locator('#servers .server.chosen h3', { hasText: 'Living Room' }).waitFor();
  assert.equal(await profiles.locator('li.profile').count(), 0);
  assert.equal(await page.locator('img').count(), 0);
  await state(page, '23-plugin-profile-removed');
  const left = (await plexData('/api/plex/profiles')).profiles;
  assert.deepEqual(left.map((p) => p.id), ['default']);
  const gone = await plex('GET', `/api/plex/status?profile=${cabinId}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.json?.code, 'PLEX_PROFILE_UNKNOWN');

  // A bookmark of the removed profile says so and leads to the main one.
  await page.goto(`${host.url}/plugins/plexbridge/?profile=${cabinId}`);
  await page.locator('#main[aria-busy="false"]').waitFor();
  await page.getByRole('link', { name: 'Open the main profile' }).click();
  await page.locator('#signed-in-as').filter({ hasText: 'Signed in as plexuser' }).waitFor();
  await page.reload();
  await page.locator('#main[aria-busy="false"]').waitFor();
  await add.waitFor();
  assert.equal(await profiles.locator('li').count(), 0, 'one profile again: no list');
});
