// Helpers of the board's browser tests: the browser, a page observer, a
// protocol client over the `ws` package, and the real gateway process.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const outDir = process.env.PGW_BOARD_OUT || path.join(repoRoot, 'out', 'board-e2e');

// Debian's Chromium, never a downloaded browser build.
export const chromiumPath = process.env.PGW_CHROMIUM || '/usr/bin/chromium';
export const launchArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** launchBrowser starts headless Chromium (the caller closes it). */
export function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath, args: launchArgs, headless: true, timeout: 60_000 });
}

/** freePort asks the kernel for a free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** waitFor polls f until it returns a truthy value or the deadline passes;
 *  an error marked fatal ends the wait at once. */
export async function waitFor(what, timeoutMs, f, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      if (err.fatal) throw err; // no point in waiting any longer
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** sameOrigin reports whether url (http, https, ws or wss) targets origin. */
export function sameOrigin(url, origin) {
  const u = new URL(url);
  const o = new URL(origin);
  const scheme = { 'ws:': 'http:', 'wss:': 'https:' }[u.protocol] || u.protocol;
  return scheme === o.protocol && u.host === o.host;
}

/**
 * observe records every request and WebSocket the page opens, its console
 * errors and uncaught exceptions, so a test can assert none went elsewhere.
 */
export function observe(page) {
  const seen = { requests: [], sockets: [], consoleErrors: [], pageErrors: [] };
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('websocket', (ws) => seen.sockets.push(ws.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  return seen;
}

/**
 * Client is one protocol connection (a desktop app, a bridge) over `ws`.
 * Frames are queued; next() and request() wait for them with a deadline.
 */
export class Client {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.nextID = 1;
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => !w());
    });
  }

  /** open connects to url and completes hello; it returns the client and welcome. */
  static async open(url, hello) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const c = new Client(ws);
    const welcome = await c.request({ type: 'hello', window: 'main', ...hello });
    if (welcome.type !== 'welcome') throw new Error('hello refused: ' + JSON.stringify(welcome));
    c.welcome = welcome;
    return c;
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  /** next resolves with the first queued frame matching pred (and removes it). */
  next(pred, timeoutMs = 20_000) {
    return new Promise((resolve, reject) => {
      const take = () => {
        const i = this.frames.findIndex(pred);
        if (i < 0) return false;
        clearTimeout(timer);
        resolve(this.frames.splice(i, 1)[0]);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== take);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`));
      }, timeoutMs);
      if (!take()) this.waiters.push(take);
    });
  }

  /** request sends frame with a fresh id and resolves with its reply. */
  request(frame, timeoutMs = 20_000) {
    const id = this.nextID++;
    this.send({ ...frame, id });
    return this.next((f) => f.id === id, timeoutMs);
  }

  /** ok is request that fails unless the reply is ok (or welcome). */
  async ok(frame, timeoutMs) {
    const r = await this.request(frame, timeoutMs);
    if (r.type === 'error') throw new Error(`${frame.type} refused: ${JSON.stringify(r.error)}`);
    return r;
  }

  close() {
    this.ws.close(1000, 'test done');
    return this.closed;
  }
}

/** gatewayBinary builds cmd/gateway once (unless PGW_GATEWAY_BIN names one). */
export function gatewayBinary() {
  if (process.env.PGW_GATEWAY_BIN) return process.env.PGW_GATEWAY_BIN;
  fs.mkdirSync(outDir, { recursive: true });
  const bin = path.join(outDir, 'gateway');
  execFileSync('go', ['build', '-o', bin, './cmd/gateway'], { cwd: repoRoot, stdio: 'inherit' });
  return bin;
}

/** cleanEnv is the environment without PGW_ settings, so flags alone configure the gateway. */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PGW_')));
}

/**
 * startGateway runs the real gateway binary on a free loopback port with the
 * in-process store and embedded NATS, and waits until /livez answers.
 */
export async function startGateway({ bin, secret, grace = '1s', extraArgs = [] }) {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  fs.mkdirSync(outDir, { recursive: true });
  const logPath = path.join(outDir, 'gateway.log');
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(bin, ['--addr', addr, '--jwt-secret', secret, '--grace', grace, ...extraArgs], {
    env: cleanEnv(), stdio: ['ignore', log, log],
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let dead = null;
  exited.then((e) => { dead = e; });
  const origin = `http://${addr}`;
  await waitFor('the gateway to answer /livez (log: ' + logPath + ')', 20_000, async () => {
    if (dead) {
      throw Object.assign(new Error(`gateway exited ${JSON.stringify(dead)}: ${fs.readFileSync(logPath, 'utf8').slice(-2000)}`), { fatal: true });
    }
    const r = await fetch(origin + '/livez');
    return r.ok;
  }, 100);
  return {
    origin,
    wsURL: `ws://${addr}/v1/ws`,
    logPath,
    token(sub, tenant, roles) {
      const args = ['token', '--sub', sub, '--tenant', tenant, '--jwt-secret', secret];
      if (roles) args.push('--roles', roles);
      const out = execFileSync(bin, args, { env: cleanEnv(), encoding: 'utf8' });
      const lines = out.trim().split('\n').map((l) => l.trim()).filter(Boolean);
      return lines[lines.length - 1];
    },
    async stop() {
      if (!dead) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      fs.closeSync(log);
    },
  };
}
