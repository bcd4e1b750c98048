import { describe, expect, it, vi } from 'vitest';
import { connect, PgwArgumentError, type ConnectOptions } from '../../src/index.js';
import { fakeWebSocketClass, harness, tick } from './fake-ws.js';

const base = { url: 'ws://gw/v1/ws', token: 't', device: 'desktop', WebSocket: fakeWebSocketClass() };

describe('connect() validates its options before opening anything', () => {
  it.each([
    { name: 'no options', opts: undefined, arg: 'options', msg: /is required/ },
    { name: 'missing url', opts: { ...base, url: undefined }, arg: 'url', msg: /"url" is required/ },
    { name: 'http url', opts: { ...base, url: 'http://gw/v1/ws' }, arg: 'url', msg: /must start with ws:\/\/ or wss:\/\// },
    { name: 'no token', opts: { ...base, token: undefined }, arg: 'token', msg: /"token" is required: give token .* or getToken/ },
    { name: 'both token and getToken', opts: { ...base, getToken: () => 't' }, arg: 'token', msg: /exclusive/ },
    { name: 'empty token', opts: { ...base, token: '' }, arg: 'token', msg: /non-empty string/ },
    { name: 'getToken not a function', opts: { ...base, token: undefined, getToken: 'x' }, arg: 'getToken', msg: /must be a function/ },
    { name: 'missing device', opts: { ...base, device: undefined }, arg: 'device', msg: /"device" must be one of desktop, web, mobile, bridge \(got undefined\)/ },
    { name: 'bad window', opts: { ...base, window: 'popup' }, arg: 'window', msg: /"window" must be one of main, child \(got "popup"\)/ },
    { name: 'session with a dot', opts: { ...base, session: 'a.b' }, arg: 'session', msg: /"session" must be 1-128 characters/ },
    { name: 'session too long', opts: { ...base, session: 'x'.repeat(129) }, arg: 'session', msg: /"session"/ },
    { name: 'WebSocket not a constructor', opts: { ...base, WebSocket: {} }, arg: 'WebSocket', msg: /"WebSocket" must be a WebSocket constructor/ },
    { name: 'bad timeout', opts: { ...base, requestTimeoutMs: -1 }, arg: 'requestTimeoutMs', msg: /positive number/ },
  ])('$name → PgwArgumentError naming $arg', ({ opts, arg, msg }) => {
    let err: unknown;
    try {
      connect(opts as unknown as ConnectOptions);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgwArgumentError);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as PgwArgumentError).argument).toBe(arg);
    expect((err as Error).message).toMatch(/^connect: /);
    expect((err as Error).message).toMatch(msg);
  });

  it('without a global WebSocket and none given, names the WebSocket option', () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    g.WebSocket = undefined;
    try {
      expect(() => connect({ url: 'ws://gw/v1/ws', token: 't', device: 'web' })).toThrow(/"WebSocket" is required here.*ws package/);
    } finally {
      g.WebSocket = saved;
    }
  });
});

describe('methods validate before sending', () => {
  it.each([
    { name: 'status: unknown status', call: (c: any) => c.status('offline'), arg: 'status', msg: /^status: "status" must be one of online, away, busy, dnd \(got "offline"\)$/ },
    { name: 'status: note not a string', call: (c: any) => c.status('busy', 5), arg: 'note', msg: /"note" must be a string/ },
    { name: 'status: note too long', call: (c: any) => c.status('busy', 'n'.repeat(141)), arg: 'note', msg: /"note" must be at most 140 characters \(got 141\)/ },
    { name: 'idle: not a boolean', call: (c: any) => c.idle('yes'), arg: 'idle', msg: /^idle: "idle" must be a boolean/ },
    { name: 'subscribe: nothing', call: (c: any) => c.subscribe(undefined), arg: 'users', msg: /must be an array of user ids or \{ tenant: true \}/ },
    { name: 'subscribe: empty list', call: (c: any) => c.subscribe([]), arg: 'users', msg: /at least one user/ },
    { name: 'subscribe: bad id', call: (c: any) => c.subscribe(['ok', 'u.2']), arg: 'users[1]', msg: /^subscribe: "users\[1\]" must be 1-128 characters of A-Z a-z 0-9 _ - \(got "u\.2"\)$/ },
    { name: 'subscribe: id with space', call: (c: any) => c.subscribe({ users: ['a b'] }), arg: 'users[0]', msg: /"users\[0\]"/ },
    { name: 'subscribe: tenant not boolean', call: (c: any) => c.subscribe({ tenant: 'yes' }), arg: 'tenant', msg: /"tenant" must be a boolean/ },
    { name: 'subscribe: users not an array', call: (c: any) => c.subscribe({ users: 'u2' }), arg: 'users', msg: /must be an array/ },
    { name: 'unsubscribe: bad id', call: (c: any) => c.unsubscribe(['*']), arg: 'users[0]', msg: /^unsubscribe: / },
    { name: 'request: no type', call: (c: any) => c.request({}), arg: 'frame.type', msg: /is required/ },
    { name: 'request: hello', call: (c: any) => c.request({ type: 'hello' }), arg: 'frame.type', msg: /must not be hello/ },
    { name: 'refresh: no token and no getToken', call: (c: any) => c.refresh(), arg: 'token', msg: /no getToken/ },
  ])('$name', async ({ call, arg, msg }) => {
    const h = harness();
    const ws = await h.welcome();
    const sentBefore = ws.sent.length;
    let err: unknown;
    try {
      await call(h.client);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgwArgumentError);
    expect((err as PgwArgumentError).argument).toBe(arg);
    expect((err as Error).message).toMatch(msg);
    await tick();
    expect(ws.sent.length).toBe(sentBefore);
    h.client.close();
  });

  it('a valid call sends the frame', async () => {
    vi.useFakeTimers();
    try {
      const h = harness();
      const ws = await h.welcome();
      const sent = h.client.status('busy', 'é'.repeat(140)).catch((e) => e);
      expect(ws.last('status').note).toHaveLength(140);
      h.client.close();
      expect(await sent).toMatchObject({ kind: 'closed' });
    } finally {
      vi.useRealTimers();
    }
  });
});
