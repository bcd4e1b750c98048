// The page's own logic against a scripted server (fake.mjs): token intake,
// stale versions, filters, and the reconnect rules of the close-code table.
// The real gateway is exercised by gateway.test.mjs.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { startFake, presence } from './fake.mjs';
import { launchBrowser, observe, sameOrigin } from './lib.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const tile = (page, user) => page.locator(`li.tile[data-user="${user}"]`);
const connText = (page) => page.locator('#conn-text');

describe('board page logic (scripted server)', () => {
  let browser, fake, page, seen, conn, firstHello;

  before(async () => {
    fake = await startFake();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(5000);
    seen = observe(page);
  });

  after(async () => {
    await browser?.close();
    await fake?.stop();
  });

  test('hello carries the fragment token as a web device, and the token leaves the address bar', async () => {
    await page.goto(fake.origin + '/board/#token=tok-1');
    conn = await fake.nextConn();
    const callSince = new Date(Date.now() - 65_000).toISOString();
    ({ hello: firstHello } = await conn.accept([
      presence('alice', 'busy', 5, { note: 'Lunch with the team' }),
      presence('bob', 'online', 3, { phone: { state: 'in_call', ext: '1002', call: { id: 'k1', state: 'in_call', direction: 'inbound', peer: '+4930123', since: callSince } } }),
    ]));
    assert.equal(firstHello.token, 'tok-1');
    assert.equal(firstHello.device, 'web');
    assert.match(firstHello.session, /^[A-Za-z0-9_-]{1,128}$/);
    assert.ok(!(await page.evaluate(() => location.href)).includes('tok-1'), 'token still in the address bar');
    await page.locator('#conn[data-state="live"]').waitFor();
    assert.equal(await connText(page).textContent(), 'Live');
  });

  test('tiles show status words, note, sessions, phone state and a running call timer', async () => {
    const alice = tile(page, 'alice');
    await alice.waitFor();
    assert.equal(await alice.getAttribute('data-status'), 'busy');
    assert.equal(await alice.locator('.status-text').textContent(), 'Busy');
    assert.equal(await alice.locator('.note').textContent(), 'Lunch with the team');
    assert.match(await alice.locator('.sessions').textContent(), /1 session · desktop/);
    const bob = tile(page, 'bob');
    assert.match(await bob.locator('.phone-text').textContent(), /ext 1002, in a call/);
    assert.match(await bob.locator('.call-peer').textContent(), /from \+4930123/);
    const first = await bob.locator('.call-timer').textContent();
    assert.match(first, /^1:0\d$/, 'timer counts from phone.call.since');
    await page.waitForFunction((before) => document.querySelector('li[data-user="bob"] .call-timer').textContent !== before, first, { timeout: 5000 });
  });

  test('a presence frame with a version not above the shown one is ignored', async () => {
    conn.send(presence('alice', 'dnd', 5)); // same version
    conn.send(presence('alice', 'online', 4)); // older
    conn.send(presence('carol', 'away', 1)); // barrier: frames are handled in order
    await tile(page, 'carol').waitFor();
    assert.equal(await tile(page, 'alice').getAttribute('data-status'), 'busy');
    conn.send(presence('alice', 'dnd', 6, { note: '' }));
    await page.locator('li[data-user="alice"][data-status="dnd"]').waitFor();
    assert.equal(await tile(page, 'alice').locator('.status-text').textContent(), 'Do not disturb');
    assert.ok(await tile(page, 'alice').locator('.note').isHidden());
  });

  test('markup in a note or user id is shown as text, never run', async () => {
    const evil = '<img src="/board/pwned.png" onerror="document.title=1">';
    conn.send(presence('carol', 'away', 2, { note: evil }));
    await page.waitForFunction((t) => document.querySelector('li[data-user="carol"] .note').textContent === t, evil);
    assert.equal(await page.locator('li.tile img').count(), 0);
    assert.ok(!seen.requests.some((u) => u.includes('pwned')), 'the note was parsed as HTML');
  });

  test('status filters and search hide and show tiles', async () => {
    const visible = async () => (await page.locator('li.tile:visible').evaluateAll((ls) => ls.map((l) => l.dataset.user))).sort();
    assert.deepEqual(await visible(), ['alice', 'bob', 'carol']);
    await page.getByLabel('Do not disturb').uncheck();
    await page.waitForFunction(() => document.querySelector('li[data-user="alice"]').hidden);
    assert.deepEqual(await visible(), ['bob', 'carol']);
    await page.getByLabel('Do not disturb').check();
    await page.getByLabel('Search user or note').fill('CAR');
    await page.waitForFunction(() => document.querySelector('li[data-user="bob"]').hidden);
    assert.deepEqual(await visible(), ['carol']);
    assert.match(await page.locator('#summary').textContent(), /Showing 1 of 3 users/);
    await page.getByLabel('Search user or note').fill('');
    await page.waitForFunction(() => document.querySelectorAll('li.tile:not([hidden])').length === 3);
  });

  test('1001 reconnects at once with the same session; users missing from the new reply turn offline', async () => {
    const closedAt = Date.now();
    await conn.close(1001, 'shutdown');
    conn = await fake.nextConn(3000);
    assert.ok(conn.at - closedAt < 2500, `reconnect after ${conn.at - closedAt} ms, want at once (jitter ≤ 1 s)`);
    const { hello } = await conn.accept([presence('bob', 'online', 3), presence('carol', 'away', 1)]);
    assert.equal(hello.session, firstHello.session, 'a reconnect continues the session');
    await page.locator('li[data-user="alice"][data-status="offline"]').waitFor();
    assert.equal(await tile(page, 'alice').locator('.status-text').textContent(), 'Offline');
    await page.locator('#conn[data-state="live"]').waitFor();
  });

  test('4429 waits with backoff and shows the countdown and the reason', async () => {
    const closedAt = Date.now();
    conn.close(4429, 'too_many_connections');
    await page.locator('#conn[data-state="reconnecting"]').waitFor();
    assert.match(await connText(page).textContent(), /^Reconnecting in \d+ s \(attempt \d+; code 4429, too_many_connections\)$/);
    assert.ok(await page.locator('#conn-retry').isVisible(), 'a "reconnect now" button is offered');
    conn = await fake.nextConn(5000);
    // Second attempt since the last stable connection: ceiling 1 s, equal jitter → at least 0.5 s.
    assert.ok(conn.at - closedAt >= 450, `reconnected after ${conn.at - closedAt} ms, want backoff ≥ 500 ms`);
    await conn.accept([presence('bob', 'online', 3)]);
    await page.locator('#conn[data-state="live"]').waitFor();
  });

  test('4401 stops, names the reason, and asks for a new token', async () => {
    const before = fake.count();
    conn.close(4401, 'token_expired');
    await page.locator('#conn[data-state="closed"]').waitFor();
    assert.match(await connText(page).textContent(), /^Closed: code 4401, token_expired/);
    assert.ok(await page.locator('#token-panel').isVisible(), 'the token form is shown again');
    // The largest backoff at this attempt is 2 s: wait past it and see no reconnect.
    await page.waitForTimeout(2500);
    assert.equal(fake.count(), before, 'the page reconnected after 4401 without a new token');
    await page.getByLabel('Access token (JWT) of this tenant').fill('tok-2');
    await page.getByRole('button', { name: 'Connect' }).click();
    conn = await fake.nextConn();
    const { hello } = await conn.accept([presence('bob', 'online', 3)]);
    assert.equal(hello.token, 'tok-2');
    await page.locator('#conn[data-state="live"]').waitFor();
    assert.equal(await page.getByLabel('Access token (JWT) of this tenant').inputValue(), '', 'the field is cleared');
  });

  test('a token in the query string is not used and is removed from the address bar', async () => {
    const p2 = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const seen2 = observe(p2);
    await p2.goto(fake.origin + '/board/?token=leaked#x=1');
    assert.match(await p2.locator('#token-warn').textContent(), /query string was ignored/);
    const href = await p2.evaluate(() => location.href);
    assert.ok(!href.includes('leaked'), `token still in ${href}`);
    assert.equal(await p2.locator('#conn').getAttribute('data-state'), 'idle');
    assert.deepEqual(seen2.sockets, [], 'no WebSocket without a usable token');
    assert.deepEqual([...seen2.consoleErrors, ...seen2.pageErrors], []);
    await p2.close();
  });

  test('axe finds no WCAG 2.x A/AA violation, with the token form and with live tiles', async () => {
    // axe is injected as a script, which the board's own CSP forbids: this
    // one context bypasses CSP, the other tests run under it.
    const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
    const p3 = await ctx.newPage();
    const audit = async (what) => {
      await p3.addScriptTag({ path: axePath });
      const res = await p3.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      const found = res.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
      assert.deepEqual(found, [], what);
    };
    await p3.goto(fake.origin + '/board/');
    await audit('token form');
    await p3.goto(fake.origin + '/board/#token=tok-axe');
    const c = await fake.nextConn();
    const since = new Date(Date.now() - 30_000).toISOString();
    await c.accept([
      presence('alice', 'busy', 1, { note: 'Lunch' }),
      presence('bob', 'online', 1, { phone: { state: 'in_call', ext: '1002', call: { id: 'k', state: 'in_call', direction: 'inbound', peer: '1001', since } } }),
      presence('carol', 'away', 1),
      presence('dave', 'dnd', 1, { phone: { state: 'idle', ext: '1004' } }),
    ]);
    c.send(presence('erin', 'offline', 2));
    await p3.locator('li[data-user="erin"]').waitFor();
    await p3.locator('#conn[data-state="live"]').waitFor();
    await audit('live board');
    await ctx.close();
  });

  test('the page made no request outside its origin and logged no error', () => {
    const foreign = [...seen.requests, ...seen.sockets].filter((u) => !sameOrigin(u, fake.origin));
    assert.deepEqual(foreign, []);
    assert.deepEqual(seen.consoleErrors, []);
    assert.deepEqual(seen.pageErrors, []);
  });
});
