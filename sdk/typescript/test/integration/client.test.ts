import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  connect,
  createSessionId,
  PgwError,
  type ConnectOptions,
  type PgwClient,
  type Presence,
  type StateChange,
  type WebSocketConstructor,
} from '../../src/index.js';
import { signToken, startGateway, uid, waitFor, type Gateway } from '../support/gateway.js';

// Integration tests against the real gateway binary (in-process store,
// embedded NATS), started on a free port by each describe block.

const WS = WebSocket as unknown as WebSocketConstructor;
const open: PgwClient[] = [];

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

/** A recorded client: its states, welcomes, byes and errors. */
function client(gw: Gateway, claims: { sub: string; tenant: string; ttl?: number }, opts: Partial<ConnectOptions> = {}) {
  const c = connect({
    url: gw.wsURL,
    token: opts.getToken ? undefined : gw.token(claims),
    device: 'desktop',
    session: createSessionId(),
    WebSocket: WS,
    client: 'sdk-integration/1',
    ...opts,
  } as ConnectOptions);
  open.push(c);
  const rec = { states: [] as StateChange[], welcomes: 0, byes: [] as string[], errors: [] as Error[] };
  c.on('state', (s) => rec.states.push(s));
  c.on('welcome', () => rec.welcomes++);
  c.on('bye', (b) => rec.byes.push(b.reason));
  c.on('error', (e) => rec.errors.push(e));
  return Object.assign(c, { rec });
}

/** The statuses a view showed for `user`, in order, starting with the snapshot. */
function statusLog(view: { get(u: string): Presence | undefined; on(e: 'change', f: (c: { user: string; presence: Presence }) => void): unknown }, user: string) {
  const log: string[] = [view.get(user)?.status ?? 'none'];
  view.on('change', (c) => {
    if (c.user === user) log.push(c.presence.status);
  });
  return log;
}

describe('against a real gateway (grace 1s)', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({ bin: inject('gatewayBin'), grace: '1s' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('connects: welcome names session, user and tenant; state goes connecting → open', async () => {
    const tenant = uid('t');
    const session = createSessionId();
    const a = client(gw, { sub: 'u1', tenant }, { session });
    const w = await a.ready();
    expect(w).toMatchObject({ type: 'welcome', session, user: 'u1', tenant });
    expect(typeof w.conn).toBe('string');
    expect(typeof w.node).toBe('string');
    expect(w.expires).toBeGreaterThan(Date.now() / 1000);
    expect(w.presence).toMatchObject({ user: 'u1', status: 'online' });
    expect(a.state).toBe('open');
    expect(a.rec.states.map((s) => s.state)).toEqual(['open']);
    expect(a.rec.states[0]!.previous).toBe('connecting');
  });

  it('a subscriber sees offline → online → busy → online → offline after the grace', async () => {
    const tenant = uid('t');
    const watcher = client(gw, { sub: 'w', tenant });
    const view = await watcher.subscribe(['u2']);
    expect(view.get('u2')).toMatchObject({ user: 'u2', status: 'offline', tenant });
    const log = statusLog(view, 'u2');

    const u2 = client(gw, { sub: 'u2', tenant });
    await u2.ready();
    await waitFor('u2 online', () => view.get('u2')?.status === 'online');
    expect(view.get('u2')).toMatchObject({ sessions: 1, devices: ['desktop'] });

    await u2.status('busy', 'on a call');
    await waitFor('u2 busy', () => view.get('u2')?.status === 'busy');
    expect(view.get('u2')).toMatchObject({ note: 'on a call', manual: true });

    await u2.status('online');
    await waitFor('u2 online again', () => view.get('u2')?.status === 'online' && !view.get('u2')?.manual);

    const closedAt = Date.now();
    u2.close();
    await waitFor('u2 offline', () => view.get('u2')?.status === 'offline', 10_000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(800); // the 1 s grace was honoured
    expect(log).toEqual(['offline', 'online', 'busy', 'online', 'offline']);
    // Versions only went up.
    expect(view.get('u2')!.version).toBeGreaterThan(1);
  });

  it('main and child windows of one session are one session; closing the child keeps the user online', async () => {
    const tenant = uid('t');
    const watcher = client(gw, { sub: 'w', tenant });
    const view = await watcher.subscribe({ users: ['u3'] });
    const log = statusLog(view, 'u3');
    const session = createSessionId();
    const main = client(gw, { sub: 'u3', tenant }, { session, window: 'main' });
    const child = client(gw, { sub: 'u3', tenant }, { session, window: 'child' });
    const [wm, wc] = await Promise.all([main.ready(), child.ready()]);
    expect(wm.session).toBe(session);
    expect(wc.session).toBe(session);
    await waitFor('u3 online', () => view.get('u3')?.status === 'online');
    expect(view.get('u3')!.sessions).toBe(1);

    child.close();
    // The grace is 1 s: well past it, the user must still be online with the one session.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(view.get('u3')).toMatchObject({ status: 'online', sessions: 1 });

    main.close();
    await waitFor('u3 offline', () => view.get('u3')?.status === 'offline');
    expect(log).toEqual(['offline', 'online', 'offline']);
  });

  it('tenant subscription: the view fills with whoever comes online', async () => {
    const tenant = uid('t');
    const watcher = client(gw, { sub: 'w', tenant });
    const view = await watcher.subscribe({ tenant: true });
    expect(view.has('u4')).toBe(false);
    const u4 = client(gw, { sub: 'u4', tenant });
    await u4.ready();
    await waitFor('u4 in the tenant view', () => view.get('u4')?.status === 'online');
    await u4.idle(true);
    await waitFor('u4 away (idle)', () => view.get('u4')?.status === 'away');
    await u4.idle(false);
    await waitFor('u4 online again', () => view.get('u4')?.status === 'online');
  });

  it.each([
    { name: 'bad status', frame: { type: 'status', status: 'bogus' }, status: 400, code: 'invalid_argument', field: 'status' },
    { name: 'note too long', frame: { type: 'status', status: 'busy', note: 'n'.repeat(141) }, status: 400, code: 'invalid_argument', field: 'note' },
    { name: 'user id with a dot', frame: { type: 'subscribe', users: ['a.b'] }, status: 400, code: 'invalid_argument', field: 'users' },
    { name: 'idle not a bool', frame: { type: 'idle', idle: 'yes' }, status: 400, code: 'invalid_argument', field: 'idle' },
    { name: 'unknown type', frame: { type: 'teleport' }, status: 400, code: 'unknown_type' },
  ])('server problems become PgwError: $name → $status $code', async ({ frame, status, code, field }) => {
    const a = client(gw, { sub: 'u5', tenant: uid('t') });
    await a.ready();
    const err = await a.request(frame).catch((e) => e);
    expect(err).toBeInstanceOf(PgwError);
    expect(err).toMatchObject({ status, code });
    expect(err.detail).not.toBe('');
    if (field) {
      expect(err.detail).toContain(field);
      expect(err.errors.map((e: { field: string }) => e.field.split('[')[0])).toContain(field);
    }
    // The connection stays open after an error reply.
    expect(a.state).toBe('open');
    await a.status('away');
  });

  it('a token with a bad signature: error reply, close 4401, no reconnect with a static token', async () => {
    const tenant = uid('t');
    const bad = signToken('not-the-secret', { sub: 'u6', tenant });
    const a = client(gw, { sub: 'u6', tenant }, { token: bad });
    const err = await a.ready().catch((e) => e);
    expect(err).toBeInstanceOf(PgwError);
    expect(err).toMatchObject({ status: 401, code: 'token_signature' });
    expect(a.state).toBe('closed');
    expect(a.rec.states.at(-1)).toMatchObject({ state: 'closed', code: 4401, reason: 'token_signature' });
  });

  it('getToken: a refused token is replaced by a fresh one and the client gets in', async () => {
    const tenant = uid('t');
    const tokens = [signToken('wrong', { sub: 'u7', tenant }), gw.token({ sub: 'u7', tenant })];
    let calls = 0;
    const a = client(gw, { sub: 'u7', tenant }, { getToken: () => tokens[Math.min(calls++, 1)]! });
    const w = await a.ready();
    expect(w.user).toBe('u7');
    expect(calls).toBe(2);
    expect(a.rec.states.map((s) => `${s.state}${s.code ? `:${s.code}` : ''}`)).toEqual(['reconnecting:4401', 'open']);
  });

  it('a session id of another user is refused 4403 and not retried', async () => {
    const tenant = uid('t');
    const session = createSessionId();
    const a = client(gw, { sub: 'u8', tenant }, { session });
    await a.ready();
    const b = client(gw, { sub: 'u9', tenant }, { session });
    const err = await b.ready().catch((e) => e);
    expect(b.state).toBe('closed');
    expect(b.rec.states.at(-1)).toMatchObject({ state: 'closed', code: 4403 });
    expect(err.code ?? err.reason).toBe('forbidden');
  });

  it('telephony: a bridge event reaches the user as a call event and a phone overlay', async () => {
    const tenant = uid('t');
    const u = client(gw, { sub: 'p1', tenant });
    await u.ready();
    const watcher = client(gw, { sub: 'w', tenant });
    const view = await watcher.subscribe(['p1']);
    const calls: string[] = [];
    u.on('call', (c) => calls.push(`${c.event}:${c.ext}:${c.call.id}`));
    const bridge = connect({
      url: gw.wsURL,
      token: gw.token({ sub: 'bridge1', tenant, roles: ['bridge'] }),
      device: 'bridge',
      session: createSessionId(),
      WebSocket: WS,
    });
    open.push(bridge);
    await bridge.ready();
    await bridge.request({ type: 'ipt.sync', bridge: 'bridge1', devices: [{ ext: '1001', user: 'p1', state: 'registered' }] });
    await bridge.request({ type: 'ipt.event', bridge: 'bridge1', seq: 1, ext: '1001', user: 'p1', event: 'ringing', call: 'c1', direction: 'inbound', peer: '+4930123' });
    await waitFor('the call event', () => calls.length > 0);
    expect(calls[0]).toBe('ringing:1001:c1');
    await waitFor('phone ringing in the view', () => view.get('p1')?.phone?.state === 'ringing');
    expect(view.get('p1')).toMatchObject({ status: 'online', phone: { ext: '1001', call: { id: 'c1', state: 'ringing' } } });
  });

  it('logout: bye logged_out, close 1000, no reconnect; every window of the session is closed', async () => {
    const tenant = uid('t');
    const session = createSessionId();
    const main = client(gw, { sub: 'u10', tenant }, { session });
    const child = client(gw, { sub: 'u10', tenant }, { session, window: 'child' });
    await Promise.all([main.ready(), child.ready()]);
    await main.logout();
    expect(main.state).toBe('closed');
    await waitFor('child closed by the logout', () => child.state === 'closed');
    for (const c of [main, child]) {
      expect(c.rec.byes).toContain('logged_out');
      expect(c.rec.states.at(-1)).toMatchObject({ state: 'closed', code: 1000 });
      expect(c.rec.states.some((s) => s.state === 'reconnecting')).toBe(false);
    }
  });
});

describe('token expiry (expiring notice 60 s, token of 4 s)', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({ bin: inject('gatewayBin'), grace: '1s' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a static token is sent expiring, then closed 4401 token_expired, and the client stops', async () => {
    const tenant = uid('t');
    const a = client(gw, { sub: 'e1', tenant, ttl: 4 });
    const expiring: number[] = [];
    a.on('expiring', (e) => expiring.push(e.expires));
    await a.ready();
    await waitFor('close 4401', () => a.state === 'closed', 15_000);
    expect(expiring).toHaveLength(1);
    expect(a.rec.states.at(-1)).toMatchObject({ state: 'closed', code: 4401, reason: 'token_expired' });
  });

  it('with getToken the client refreshes on expiring and the connection outlives the first token', async () => {
    const tenant = uid('t');
    let n = 0;
    const a = client(gw, { sub: 'e2', tenant }, {
      getToken: () => gw.token({ sub: 'e2', tenant, ttl: n++ === 0 ? 4 : 3600 }),
    });
    const w = await a.ready();
    await waitFor('the refreshed expires', () => (a.expires ?? 0) > w.expires + 60);
    // Past the first token's exp the same connection is still open.
    await waitFor('the first token to lapse', () => Date.now() / 1000 > w.expires + 1.5, 10_000);
    expect(a.state).toBe('open');
    expect(a.rec.welcomes).toBe(1);
    expect(a.rec.errors).toEqual([]);
    await a.status('busy');
  });
});

describe('too many connections (limit 2 per user): 4429 → backoff until a slot frees', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({ bin: inject('gatewayBin'), grace: '1s', flags: { 'max-conns-per-user': '2' } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('the third connection is closed 4429 and retried with backoff; it gets in once one closes', async () => {
    const tenant = uid('t');
    const a = client(gw, { sub: 'm1', tenant });
    const b = client(gw, { sub: 'm1', tenant });
    await Promise.all([a.ready(), b.ready()]);
    const c = client(gw, { sub: 'm1', tenant }, { reconnect: { initialDelayMs: 200, maxDelayMs: 400 } });
    await waitFor('a 4429 close', () => c.rec.states.find((s) => s.code === 4429), 10_000);
    const first = c.rec.states.find((s) => s.code === 4429)!;
    expect(first).toMatchObject({ state: 'reconnecting', reason: 'too_many_connections' });
    expect(first.delayMs).toBeLessThan(200);
    a.close();
    await c.ready();
    expect(c.state).toBe('open');
  });
});

describe('drain and restart (SIGTERM): 1001, reconnect with the same session, re-subscribe', () => {
  it('the client comes back on a restarted node, re-subscribes and follows changes again', async () => {
    const bin = inject('gatewayBin');
    const secret = 'drain-test-secret-of-at-least-32-bytes';
    const gw1 = await startGateway({ bin, secret, grace: '1s' });
    const tenant = uid('t');
    const session = createSessionId();
    const watcher = client(gw1, { sub: 'd1', tenant }, { session, reconnect: { goingAwayJitterMs: 200, initialDelayMs: 100, maxDelayMs: 500 } });
    const view = await watcher.subscribe(['d2']);
    const d2 = client(gw1, { sub: 'd2', tenant }, { reconnect: { goingAwayJitterMs: 200, initialDelayMs: 100, maxDelayMs: 500 } });
    await waitFor('d2 online', () => view.get('d2')?.status === 'online');

    await gw1.stop('SIGTERM');
    await waitFor('bye shutdown and the 1001 close', () => watcher.rec.byes.includes('shutdown') && watcher.rec.states.some((s) => s.state === 'reconnecting'));
    expect(watcher.rec.states.find((s) => s.state === 'reconnecting')).toMatchObject({ code: 1001, reason: 'shutdown' });
    expect(watcher.rec.states.find((s) => s.state === 'reconnecting')!.delayMs).toBeLessThan(200);

    const gw2 = await startGateway({ bin, secret, grace: '1s', port: gw1.port });
    try {
      await waitFor('watcher back', () => watcher.rec.welcomes === 2, 15_000);
      await waitFor('d2 back', () => d2.rec.welcomes === 2, 15_000);
      expect(watcher.welcome!.session).toBe(session);
      await d2.status('dnd', 'after restart');
      await waitFor('d2 dnd seen through the re-subscription', () => view.get('d2')?.status === 'dnd', 10_000);
      expect(view.get('d2')!.note).toBe('after restart');
    } finally {
      await gw2.stop();
    }
  }, 60_000);
});

/**
 * A WebSocket whose network the test controls: while `blocked`, new sockets go
 * to a closed port (connection refused, the client keeps retrying);
 * `cut()` drops the open ones as a network failure would (1006).
 */
function unreliableNetwork() {
  const net = { blocked: false, sockets: [] as WebSocket[] };
  class Unreliable extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(net.blocked ? 'ws://127.0.0.1:1/v1/ws' : url, protocols);
      net.sockets.push(this);
    }
  }
  return Object.assign(net, {
    WebSocket: Unreliable as unknown as WebSocketConstructor,
    cut() {
      net.blocked = true;
      for (const s of net.sockets.splice(0)) s.terminate();
    },
  });
}

describe('offline after a reconnect (contract §3.2: offline keeps its version; the new snapshot is the starting point)', () => {
  const fast = { initialDelayMs: 100, maxDelayMs: 300, goingAwayJitterMs: 100 };

  it('a user who went offline while the subscriber was away is shown offline after its reconnect', async () => {
    const gw = await startGateway({ bin: inject('gatewayBin'), grace: '1s' });
    try {
      const tenant = uid('t');
      const net = unreliableNetwork();
      const watcher = client(gw, { sub: 'w', tenant }, { WebSocket: net.WebSocket, reconnect: fast });
      const view = await watcher.subscribe(['u2']);
      const u2 = client(gw, { sub: 'u2', tenant });
      await waitFor('u2 online', () => view.get('u2')?.status === 'online');
      const onlineVersion = view.get('u2')!.version;

      net.cut();
      u2.close();
      // The store answers offline with the version of the offline change, above the
      // online one the watcher holds (not version 0, which the watcher would drop).
      const get = async () => {
        const r = await fetch(`${gw.httpURL}/v1/presence/u2`, { headers: { Authorization: `Bearer ${gw.token({ sub: 'w', tenant })}` } });
        return (await r.json()) as Presence;
      };
      const off = await waitFor('u2 offline on the server', async () => {
        const p = await get();
        return p.status === 'offline' ? p : undefined;
      });
      expect(off.version).toBeGreaterThan(onlineVersion);
      expect(view.get('u2')!.status).toBe('online'); // the watcher is still away

      net.blocked = false;
      await waitFor('watcher back', () => watcher.rec.welcomes === 2, 15_000);
      await waitFor('u2 offline in the view', () => view.get('u2')?.status === 'offline');
      expect(view.get('u2')!.version).toBe(off.version);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('after a restart that lost every version, the lower versions of the new snapshot replace what the client held', async () => {
    const bin = inject('gatewayBin');
    const secret = 'restart-versions-secret-of-at-least-32-bytes';
    // A long grace: u2 stays online on the first node until it is gone.
    const gw1 = await startGateway({ bin, secret, grace: '60s' });
    let gw2: Gateway | undefined;
    try {
      const tenant = uid('t');
      const watcher = client(gw1, { sub: 'w', tenant }, { reconnect: fast });
      const view = await watcher.subscribe(['u2']);
      const u2 = client(gw1, { sub: 'u2', tenant }, { reconnect: fast });
      await waitFor('u2 online', () => view.get('u2')?.status === 'online');
      const held = view.get('u2')!.version;
      u2.close(); // u2 is in its grace: still online for the watcher

      // The node's in-process store dies with it: the restarted node has never seen u2.
      await gw1.stop('SIGTERM');
      gw2 = await startGateway({ bin, secret, grace: '1s', port: gw1.port });
      await waitFor('watcher back', () => watcher.rec.welcomes === 2, 15_000);
      await waitFor('u2 offline in the view', () => view.get('u2')?.status === 'offline');
      expect(view.get('u2')!.version).toBeLessThan(held);
      // From then on pushes order against the new snapshot: u2 coming back is shown.
      const again = client(gw2, { sub: 'u2', tenant });
      await again.ready();
      await waitFor('u2 online again', () => view.get('u2')?.status === 'online');
    } finally {
      await gw1.stop();
      await gw2?.stop();
    }
  }, 60_000);
});
