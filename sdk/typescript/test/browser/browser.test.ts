import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGateway, uid, waitFor, type Gateway } from '../support/gateway.js';

// Headless Chromium (the Debian package) loads a page that imports the built
// ESM bundle, and runs main/child windows of one session against a real gateway.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const pkgRoot = resolve(__dirname, '../..');
const GRACE_MS = 3_000;

interface LogEntry {
  kind: string;
  state?: string;
  status?: string;
  sessions?: number;
  session?: string;
  at?: number;
  message?: string;
}

/** Serves page.html and dist/ on a free port of 127.0.0.1. */
function staticServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let file: string | undefined;
    if (path === '/page.html') file = join(__dirname, 'page.html');
    else if (path.startsWith('/dist/')) file = normalize(join(pkgRoot, path));
    if (!file || !file.startsWith(pkgRoot) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = file.endsWith('.html') ? 'text/html' : file.endsWith('.js') ? 'text/javascript' : 'application/json';
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  return new Promise((resolveP) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolveP({ server, origin: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
    }),
  );
}

async function log(page: Page): Promise<LogEntry[]> {
  return page.evaluate(() => (window as unknown as { log?: LogEntry[] }).log ?? []);
}

async function statuses(observer: Page): Promise<LogEntry[]> {
  return (await log(observer)).filter((e) => e.kind === 'presence');
}

describe('browser: headless Chromium, ESM build, main + child window of one session', () => {
  let gw: Gateway;
  let browser: Browser;
  let http: { server: Server; origin: string };

  beforeAll(async () => {
    if (!existsSync(join(pkgRoot, 'dist/index.js'))) throw new Error('dist/index.js missing: run npm run build first');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
    http = await staticServer();
    gw = await startGateway({ bin: inject('gatewayBin'), grace: `${GRACE_MS / 1000}s`, allowedOrigins: http.origin });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60_000,
    });
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await new Promise((r) => http?.server.close(r));
  });

  function pageURL(params: Record<string, string>): string {
    const u = new URL('/page.html', http.origin);
    u.searchParams.set('url', gw.wsURL);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  }

  async function observe(ctx: BrowserContext, tenant: string, watch: string): Promise<Page> {
    const observer = await ctx.newPage();
    await observer.goto(pageURL({ role: 'observer', watch, token: gw.token({ sub: 'observer', tenant }) }));
    await waitFor('observer snapshot', async () => (await statuses(observer)).length === 1);
    expect((await statuses(observer))[0]).toMatchObject({ status: 'offline' });
    return observer;
  }

  it('online → online (child) → online (child closed) → offline after the grace (main closed)', async () => {
    const tenant = uid('t');
    const ctx = await browser.newContext();
    try {
      const observer = await observe(ctx, tenant, 'alice');
      const token = gw.token({ sub: 'alice', tenant });

      const main = await ctx.newPage();
      await main.goto(pageURL({ role: 'main', token }));
      const mainWelcome = await waitFor('main welcome', async () => (await log(main)).find((e) => e.kind === 'welcome'));
      await waitFor('alice online', async () => (await statuses(observer)).at(-1)?.status === 'online');
      expect((await statuses(observer)).at(-1)).toMatchObject({ status: 'online', sessions: 1 });

      const [child] = await Promise.all([ctx.waitForEvent('page'), main.evaluate((t) => (window as any).openChild(t), token)]);
      const childWelcome = await waitFor('child welcome', async () => (await log(child)).find((e) => e.kind === 'welcome'));
      expect(childWelcome.session).toBe(mainWelcome.session); // one session for both windows
      expect((await statuses(observer)).at(-1)).toMatchObject({ status: 'online', sessions: 1 });

      await child.close();
      // No event to wait for: the absence of offline is only visible after the grace.
      await new Promise((r) => setTimeout(r, GRACE_MS + 1_000));
      expect((await statuses(observer)).at(-1)).toMatchObject({ status: 'online', sessions: 1 });

      const closedAt = Date.now();
      await main.close();
      await waitFor('alice offline', async () => (await statuses(observer)).at(-1)?.status === 'offline', GRACE_MS + 10_000);
      const offline = (await statuses(observer)).at(-1)!;
      expect(offline.at! - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 500);
      expect((await statuses(observer)).map((e) => e.status)).toEqual(['offline', 'online', 'offline']);
      expect((await log(observer)).filter((e) => e.kind === 'error')).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('a reload within the grace keeps the session and never shows offline', async () => {
    const tenant = uid('t');
    const ctx = await browser.newContext();
    try {
      const observer = await observe(ctx, tenant, 'bob');
      const main = await ctx.newPage();
      await main.goto(pageURL({ role: 'main', token: gw.token({ sub: 'bob', tenant }) }));
      const before = await waitFor('welcome', async () => (await log(main)).find((e) => e.kind === 'welcome'));
      await waitFor('bob online', async () => (await statuses(observer)).at(-1)?.status === 'online');

      await main.reload();
      const after = await waitFor('welcome after reload', async () => (await log(main)).find((e) => e.kind === 'welcome'));
      expect(after.session).toBe(before.session);
      await new Promise((r) => setTimeout(r, GRACE_MS + 1_000));
      expect((await statuses(observer)).map((e) => e.status)).toEqual(['offline', 'online']);
    } finally {
      await ctx.close();
    }
  });

  it('a page from an origin the gateway does not allow cannot connect', async () => {
    const tenant = uid('t');
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      // localhost is another origin than 127.0.0.1 for the allow-list.
      await page.goto(pageURL({ role: 'main', token: gw.token({ sub: 'carol', tenant }) }).replace('127.0.0.1', 'localhost'));
      await waitFor('a failed attempt', async () => (await log(page)).find((e) => e.kind === 'state' && e.state === 'reconnecting'));
      expect((await log(page)).find((e) => e.kind === 'welcome')).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });
});
