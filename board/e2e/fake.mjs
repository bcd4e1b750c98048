// A scripted stand-in for the gateway, for the page's own logic (close codes,
// backoff, stale versions, token intake) that the real gateway cannot be
// made to show on demand. It serves board/static with the same CSP as the Go
// handler and hands each WebSocket to the test, which plays the server side.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { here } from './lib.mjs';

const staticDir = path.join(here, '..', 'static');
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/** csp reads ContentSecurityPolicy from handler.go, so the fake cannot drift from it. */
function csp() {
  const src = fs.readFileSync(path.join(here, '..', 'handler.go'), 'utf8');
  const m = src.match(/const ContentSecurityPolicy = ([\s\S]*?)\n\n/);
  if (!m) throw new Error('ContentSecurityPolicy not found in handler.go');
  return Array.from(m[1].matchAll(/"([^"]*)"/g), (x) => x[1]).join('');
}

/** FakeConn is the server side of one page connection. */
export class FakeConn {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (d) => {
      this.frames.push(JSON.parse(String(d)));
      this.waiters = this.waiters.filter((w) => !w());
    });
  }

  next(type, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const take = () => {
        const i = this.frames.findIndex((f) => f.type === type);
        if (i < 0) return false;
        clearTimeout(timer);
        resolve(this.frames.splice(i, 1)[0]);
        return true;
      };
      const timer = setTimeout(() => reject(new Error(`no ${type} frame within ${timeoutMs} ms`)), timeoutMs);
      if (!take()) this.waiters.push(take);
    });
  }

  send(f) {
    this.ws.send(JSON.stringify(f));
  }

  /** accept plays hello → welcome and subscribe → ok with the given list. */
  async accept(list, { user = 'viewer', tenant = 'acme' } = {}) {
    const hello = await this.next('hello');
    this.send({ type: 'welcome', id: hello.id, conn: 'c1', session: hello.session, user, tenant, node: 'fake', heartbeat: 25000, expires: Math.floor(Date.now() / 1000) + 3600, presence: presence(user, 'online', 1) });
    const sub = await this.next('subscribe');
    this.send({ type: 'ok', id: sub.id, presence: list });
    return { hello, sub };
  }

  close(code, reason) {
    this.ws.close(code, reason);
    return this.closed;
  }
}

/** presence builds a PRESENCE object. */
export function presence(user, status, version, extra = {}) {
  return { type: 'presence', tenant: 'acme', user, status, note: '', manual: status !== 'online' && status !== 'offline', sessions: status === 'offline' ? 0 : 1, devices: status === 'offline' ? [] : ['desktop'], version, since: new Date().toISOString(), ...extra };
}

/** startFake serves the board and queues each WebSocket for the test. */
export async function startFake() {
  const policy = csp();
  const conns = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const name = url.pathname === '/board/' ? 'index.html' : url.pathname.replace(/^\/board\//, '');
    const file = path.join(staticDir, path.basename(name));
    if (!url.pathname.startsWith('/board/') || !fs.existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'application/problem+json' });
      res.end('{"status":404,"code":"not_found"}');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Content-Security-Policy': policy, 'Cache-Control': 'no-cache' });
    res.end(fs.readFileSync(file));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url, 'http://x').pathname !== '/v1/ws') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c = new FakeConn(ws);
      c.at = Date.now();
      conns.push(c);
      const w = waiters.shift();
      if (w) w();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  let taken = 0;
  return {
    origin,
    count: () => conns.length,
    /** nextConn resolves with the next page connection not yet taken. */
    nextConn(timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          resolve(conns[taken++]);
        };
        const timer = setTimeout(() => {
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no new WebSocket within ${timeoutMs} ms`));
        }, timeoutMs);
        if (conns.length > taken) done();
        else waiters.push(done);
      });
    },
    async stop() {
      for (const c of conns) c.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
