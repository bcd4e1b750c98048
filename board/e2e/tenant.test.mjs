// The tenant page (board/static/tenant.html) against the REAL gateway:
// specifics with Markdown notes rendered without HTML injection under the
// board's strict CSP, the effective policy, the history, and an operator's
// edit carried by the ETag (a stale one is refused, never overwrites).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { gatewayBinary, launchBrowser, observe, startGateway, waitFor } from './lib.mjs';

const TENANT = 'acme';

describe('tenant page on the real gateway', () => {
  let gw, browser, ops;

  const api = async (method, path, body, ifMatch) => {
    const headers = { Authorization: 'Bearer ' + ops };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (ifMatch) headers['If-Match'] = ifMatch;
    const r = await fetch(gw.origin + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, etag: r.headers.get('etag'), data: await r.json() };
  };

  before(async () => {
    gw = await startGateway({ bin: gatewayBinary(), secret: crypto.randomBytes(32).toString('hex') });
    ops = gw.token('jane', 'ops', 'operator');
    const cur = await api('GET', `/v1/tenants/${TENANT}`);
    assert.equal(cur.status, 200);
    const put = await api('PUT', `/v1/tenants/${TENANT}`, {
      grace: '30s',
      specifics: {
        summary: 'Call centre <b>400 agents</b>',
        integration: 'Keycloak SSO; Asterisk bridges acme-pbx-1',
        contacts: ['Support: jeanne@acme.example'],
        caveats: ['PBX restarts on Sunday'],
        notes: '## Shift changes\nAt **07:00** and *15:00* use `drain`.\n\n- see [runbook](https://wiki.acme.example/pgw)\n- not a link: [x](javascript:alert(1))\n\n<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
      },
    }, cur.etag);
    assert.equal(put.status, 200, JSON.stringify(put.data));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
  });

  test('shows the specifics, renders the notes safely, the policy and the history', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(5000);
    const seen = observe(page);
    await page.goto(`${gw.origin}/board/tenant.html#tenant=${TENANT}&token=${ops}`);
    await page.locator('#notes strong').waitFor();
    assert.ok(!page.url().includes(ops), 'the token left the address bar');
    assert.equal(await page.locator('#summary').textContent(), 'Call centre <b>400 agents</b>', 'markup in a summary is text');
    assert.equal(await page.locator('#notes h5').textContent(), 'Shift changes');
    assert.equal(await page.locator('#notes strong').textContent(), '07:00');
    assert.equal(await page.locator('#notes em').textContent(), '15:00');
    assert.equal(await page.locator('#notes a').count(), 1, 'only the https link is a link');
    assert.equal(await page.locator('#notes a').getAttribute('href'), 'https://wiki.acme.example/pgw');
    assert.equal(await page.locator('#notes img, #notes script, #summary b').count(), 0, 'no element from the notes\' HTML');
    assert.match(await page.locator('#notes').textContent(), /<img src=x onerror=/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.match(await page.locator('#policy').textContent(), /"grace": "30s"/);
    assert.match(await page.locator('#history').textContent(), /jane/);
    assert.match(await page.locator('#history').textContent(), /specifics\.notes/);
    assert.deepEqual(seen.pageErrors, []);
    assert.deepEqual(seen.consoleErrors, []);
    await page.close();
  });

  test('an operator edits the specifics with the ETag; a stale edit is refused', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(5000);
    await page.goto(`${gw.origin}/board/tenant.html#tenant=${TENANT}&token=${ops}`);
    await page.locator('#notes strong').waitFor();
    await page.locator('#edit').click();
    await page.locator('#f-summary').fill('Call centre, 450 agents');
    await page.locator('#edit-form button[type=submit]').click();
    await page.locator('#save-status', { hasText: 'Saved.' }).waitFor();
    assert.equal(await page.locator('#summary').textContent(), 'Call centre, 450 agents');
    const after1 = await api('GET', `/v1/tenants/${TENANT}`);
    assert.equal(after1.data.specifics.summary, 'Call centre, 450 agents');
    assert.equal(after1.data.grace, '30s', 'the rest of the policy is kept');
    // Someone else changes the policy while this page has it open.
    await page.locator('#edit').click();
    await page.locator('#f-summary').fill('mine');
    const other = await api('PUT', `/v1/tenants/${TENANT}`, { ...after1.data, specifics: { ...after1.data.specifics, summary: 'theirs' } }, after1.etag);
    assert.equal(other.status, 200);
    await page.locator('#edit-form button[type=submit]').click();
    await page.locator('#save-status', { hasText: 'Someone changed this policy' }).waitFor();
    assert.equal((await api('GET', `/v1/tenants/${TENANT}`)).data.specifics.summary, 'theirs', 'the stale edit overwrote nothing');
    await page.close();
  });

  test('a tenant admin reads the page without an edit button', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(5000);
    await page.goto(`${gw.origin}/board/tenant.html#tenant=${TENANT}&token=${gw.token('boss', TENANT, 'admin')}`);
    await page.locator('#history li').first().waitFor();
    await waitFor('the summary', 5000, async () => (await page.locator('#summary').textContent()) === 'theirs');
    assert.equal(await page.locator('#edit').isVisible(), false);
    await page.close();
  });
});
