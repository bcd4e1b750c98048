import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connect, PgwArgumentError, PgwError, type ConnectOptions } from '../../src/index.js';
import { fakeWebSocketClass, harness, tick } from './fake-ws.js';

// Login sessions (gateway docs/login-sessions.md): `login` or `loginCookie`
// in place of a token.

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('login sessions in place of a token', () => {
  it('login sends hello.login and no token', async () => {
    const h = harness({ token: undefined, login: 'b7e1f0c2-4d1a-4e8b-9a43-0f6d2c1e9a77' });
    const ws = await h.welcome();
    const hello = ws.last('hello');
    expect(hello.login).toBe('b7e1f0c2-4d1a-4e8b-9a43-0f6d2c1e9a77');
    expect(hello).not.toHaveProperty('token');
    expect(h.client.state).toBe('open');
  });

  it('loginCookie sends a hello with no credential (the cookie went with the upgrade)', async () => {
    const h = harness({ token: undefined, loginCookie: true });
    const ws = await h.welcome({ expires: 0 });
    const hello = ws.last('hello');
    expect(hello).not.toHaveProperty('token');
    expect(hello).not.toHaveProperty('login');
    expect(h.client.state).toBe('open');
  });

  it('a revoked login (4401 login_revoked) stops the client: no new login can be had', async () => {
    const h = harness({ token: undefined, login: 'sess-a' });
    const ws = await h.welcome();
    ws.receive({ type: 'bye', reason: 'login_revoked' });
    ws.serverClose(4401, 'login_revoked');
    await vi.advanceTimersByTimeAsync(60_000);
    await tick();
    expect(h.WS.instances).toHaveLength(1);
    expect(h.states.at(-1)).toMatchObject({ state: 'closed', code: 4401, reason: 'login_revoked' });
  });

  it('a refused login closes with the server problem', async () => {
    const h = harness({ token: undefined, login: 'gone' });
    const ready = h.client.ready();
    await tick();
    const ws = h.sock();
    ws.open();
    ws.receive({ type: 'error', id: ws.last('hello').id, error: { type: 'about:blank', title: 'Login unknown', status: 401, code: 'login_unknown', detail: 'no login session has this id' } });
    ws.serverClose(4401, 'login_unknown');
    const err = await ready.catch((e) => e);
    expect(err).toBeInstanceOf(PgwError);
    expect(err).toMatchObject({ code: 'login_unknown', status: 401 });
    expect(h.client.state).toBe('closed');
  });

  it.each([
    { name: 'token and login', opts: { token: 't', login: 's' }, arg: 'token', msg: /"token" and "login" are exclusive/ },
    { name: 'login and loginCookie', opts: { token: undefined, login: 's', loginCookie: true }, arg: 'login', msg: /exclusive/ },
    { name: 'login not an id', opts: { token: undefined, login: 'a*b' }, arg: 'login', msg: /"login" must be 1-128 characters/ },
    { name: 'loginCookie false', opts: { token: undefined, loginCookie: false }, arg: 'loginCookie', msg: /must be true/ },
    { name: 'no credential at all', opts: { token: undefined }, arg: 'token', msg: /login \(a session id\) or loginCookie: true/ },
  ])('$name → PgwArgumentError naming $arg', ({ opts, arg, msg }) => {
    const base = { url: 'ws://gw/v1/ws', token: 't', device: 'desktop', WebSocket: fakeWebSocketClass() };
    let err: unknown;
    try {
      connect({ ...base, ...opts } as unknown as ConnectOptions);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgwArgumentError);
    expect((err as PgwArgumentError).argument).toBe(arg);
    expect((err as Error).message).toMatch(msg);
  });
});
