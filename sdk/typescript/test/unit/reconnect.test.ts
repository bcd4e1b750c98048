import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PgwConnectionError, PgwError } from '../../src/index.js';
import { harness, presence, tick } from './fake-ws.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('reconnect policy per close code', () => {
  it.each([
    // code, reason, reconnects?, expected delay with random 0.5 on the first failure
    { code: 1000, reason: 'logged_out', reconnect: false },
    { code: 1003, reason: 'binary_frame', reconnect: false },
    { code: 1009, reason: 'frame_too_large', reconnect: false },
    { code: 4400, reason: 'protocol_violation', reconnect: false },
    { code: 4403, reason: 'forbidden', reconnect: false },
    { code: 4401, reason: 'token_expired', reconnect: false }, // static token: no new one
    { code: 1001, reason: 'shutdown', reconnect: true, delay: 500 },
    { code: 1008, reason: 'slow_consumer', reconnect: true, delay: 250 },
    { code: 4408, reason: 'hello_timeout', reconnect: true, delay: 250 },
    { code: 4429, reason: 'too_many_connections', reconnect: true, delay: 250 },
    { code: 4500, reason: 'internal', reconnect: true, delay: 250 },
    { code: 1006, reason: '', reconnect: true, delay: 250 },
  ])('$code $reason → reconnect $reconnect', async ({ code, reason, reconnect, delay }) => {
    const h = harness();
    const ws1 = await h.welcome();
    expect(h.client.state).toBe('open');
    ws1.serverClose(code, reason);
    const last = h.states.at(-1)!;
    if (!reconnect) {
      expect(last).toMatchObject({ state: 'closed', previous: 'open', code, reason });
      await vi.advanceTimersByTimeAsync(120_000);
      expect(h.WS.instances).toHaveLength(1);
      await expect(h.client.ready()).rejects.toBeInstanceOf(PgwConnectionError);
      await expect(h.client.status('busy')).rejects.toMatchObject({ kind: 'closed', closeCode: code });
      return;
    }
    expect(last).toMatchObject({ state: 'reconnecting', code, reason, delayMs: delay, attempt: 1 });
    await vi.advanceTimersByTimeAsync(delay! - 1);
    expect(h.WS.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.WS.instances).toHaveLength(2);
    const ws2 = await h.welcome();
    // Same session in the new hello.
    expect(ws2.last('hello')).toMatchObject({ session: 'sess-1', token: 'tok-1', window: 'main', device: 'desktop' });
    expect(h.client.state).toBe('open');
  });

  it('backs off exponentially while attempts keep failing, and resets after a welcome', async () => {
    const h = harness({ random: () => 0.99999 });
    await h.welcome();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      h.sock().serverClose(1006);
      const s = h.states.at(-1)!;
      expect(s.state).toBe('reconnecting');
      delays.push(s.delayMs!);
      await vi.advanceTimersByTimeAsync(s.delayMs!);
      await tick();
    }
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999]);
    await h.welcome();
    h.sock().serverClose(4500, 'internal');
    expect(h.states.at(-1)!.delayMs).toBe(499);
  });

  it('1001 shutdown reconnects at once (within the jitter window) even after failures', async () => {
    const h = harness({ random: () => 0.99999, reconnect: { goingAwayJitterMs: 800 } });
    await h.welcome();
    h.sock().receive({ type: 'bye', reason: 'shutdown' });
    h.sock().serverClose(1001, 'shutdown');
    expect(h.states.at(-1)).toMatchObject({ state: 'reconnecting', delayMs: 799 });
  });

  it('4401 with getToken: fetches a new token and retries; gives up after maxAuthRetries refusals', async () => {
    let n = 0;
    const getToken = vi.fn(async () => `tok-${++n}`);
    const h = harness({ token: undefined, getToken, reconnect: { maxAuthRetries: 2 } });
    const ws1 = await h.welcome();
    expect(ws1.last('hello').token).toBe('tok-1');
    ws1.serverClose(4401, 'token_expired');
    expect(h.states.at(-1)).toMatchObject({ state: 'reconnecting', code: 4401, delayMs: 500 });
    await vi.advanceTimersByTimeAsync(500);
    await tick();
    // Refused again (hello error, then close), twice: the third refusal closes.
    for (let i = 0; i < 2; i++) {
      const ws = h.sock();
      ws.open();
      const hello = ws.last('hello');
      expect(hello.token).toBe(`tok-${i + 2}`);
      ws.receive({ type: 'error', id: hello.id, error: { status: 401, code: 'token_signature', detail: 'signature does not verify' } });
      ws.serverClose(4401, 'token_signature');
      if (i === 0) {
        expect(h.states.at(-1)!.state).toBe('reconnecting');
        await vi.advanceTimersByTimeAsync(h.states.at(-1)!.delayMs!);
        await tick();
      }
    }
    expect(h.states.at(-1)).toMatchObject({ state: 'closed', code: 4401, reason: 'token_signature' });
    const err = await h.client.ready().catch((e) => e);
    expect(err).toBeInstanceOf(PgwError);
    expect(err).toMatchObject({ status: 401, code: 'token_signature' });
    expect(getToken).toHaveBeenCalledTimes(3);
  });

  it('a refused first hello with a static token closes with the server problem', async () => {
    const h = harness();
    const ready = h.client.ready();
    await tick();
    const ws = h.sock();
    ws.open();
    ws.receive({ type: 'error', id: ws.last('hello').id, error: { type: 'about:blank', title: 'Token expired', status: 401, code: 'token_expired', detail: 'exp 1700000000 has passed' } });
    ws.serverClose(4401, 'token_expired');
    await expect(ready).rejects.toMatchObject({ name: 'PgwError', code: 'token_expired', status: 401, detail: 'exp 1700000000 has passed' });
    expect(h.client.state).toBe('closed');
  });

  it('keeps retrying the first connection with backoff when the server is unreachable', async () => {
    const h = harness();
    await tick();
    h.sock().serverClose(1006);
    expect(h.states.at(-1)).toMatchObject({ state: 'reconnecting', previous: 'connecting', attempt: 1 });
    await vi.advanceTimersByTimeAsync(250);
    await tick();
    expect(h.WS.instances).toHaveLength(2);
  });

  it('re-sends hello with the server-made session when none was given', async () => {
    const h = harness({ session: undefined });
    const ws1 = await h.welcome({ session: 'srv-42' });
    expect(ws1.last('hello').session).toBeUndefined();
    expect(h.client.session).toBe('srv-42');
    ws1.serverClose(1001, 'shutdown');
    await vi.advanceTimersByTimeAsync(1000);
    await tick();
    h.sock().open();
    expect(h.sock().last('hello').session).toBe('srv-42');
  });

  it('re-sends requests whose reply was lost, and the idle flag, after the reconnect', async () => {
    const h = harness();
    const ws1 = await h.welcome();
    const idle = h.client.idle(true);
    ws1.ok('idle');
    await idle;
    const status = h.client.status('busy', 'in a meeting');
    expect(ws1.last('status')).toMatchObject({ status: 'busy', note: 'in a meeting' });
    ws1.serverClose(1008, 'slow_consumer');
    await vi.advanceTimersByTimeAsync(250);
    const ws2 = await h.welcome();
    expect(ws2.last('status')).toMatchObject({ status: 'busy', note: 'in a meeting' });
    expect(ws2.last('idle')).toMatchObject({ idle: true });
    ws2.ok('status');
    await expect(status).resolves.toBeUndefined();
  });

  it('queues requests made before welcome and sends them after it', async () => {
    const h = harness();
    const p = h.client.status('dnd');
    const ws = await h.welcome();
    expect(ws.sent.map((f) => f.type)).toEqual(['hello', 'status']);
    ws.ok('status');
    await expect(p).resolves.toBeUndefined();
  });

  it('logout resolves on close 1000 logged_out and does not reconnect', async () => {
    const h = harness();
    const ws = await h.welcome();
    const byes: string[] = [];
    h.client.on('bye', (b) => byes.push(b.reason));
    const out = h.client.logout();
    let done = false;
    void out.then(() => (done = true));
    ws.ok('logout');
    await tick();
    expect(done).toBe(false); // resolves on the close, not on the ok
    expect(h.client.state).toBe('open');
    ws.receive({ type: 'bye', reason: 'logged_out' });
    ws.serverClose(1000, 'logged_out');
    await expect(out).resolves.toBeUndefined();
    expect(byes).toEqual(['logged_out']);
    expect(h.client.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.WS.instances).toHaveLength(1);
  });

  it('logout confirmed but never closed by the server: closes locally after the request timeout', async () => {
    const h = harness({ requestTimeoutMs: 3000 });
    const ws = await h.welcome();
    const out = h.client.logout();
    ws.ok('logout');
    await vi.advanceTimersByTimeAsync(3000);
    await expect(out).resolves.toBeUndefined();
    expect(h.client.state).toBe('closed');
    expect(ws.closedByClient).toMatchObject({ code: 1000 });
  });

  it('a refused logout rejects with the problem and leaves the client open', async () => {
    const h = harness();
    const ws = await h.welcome();
    const out = h.client.logout();
    ws.receive({ type: 'error', id: ws.last('logout').id, error: { status: 503, code: 'unavailable', detail: 'redis down' } });
    await expect(out).rejects.toMatchObject({ code: 'unavailable' });
    ws.serverClose(1006);
    expect(h.client.state).toBe('reconnecting');
  });

  it('close() closes with 1000 and never reconnects', async () => {
    const h = harness();
    const ws = await h.welcome();
    const pending = h.client.status('away');
    h.client.close();
    expect(ws.closedByClient).toEqual({ code: 1000, reason: 'client_close' });
    await expect(pending).rejects.toMatchObject({ kind: 'closed' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.WS.instances).toHaveLength(1);
    expect(h.client.state).toBe('closed');
  });

  it('a request with no reply times out', async () => {
    const h = harness({ requestTimeoutMs: 2000 });
    await h.welcome();
    const p = h.client.status('away');
    const caught = p.catch((e) => e);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await caught).toMatchObject({ name: 'PgwConnectionError', kind: 'timeout' });
  });

  it('a hello that is never answered is given up after the request timeout and retried with backoff', async () => {
    const h = harness({ requestTimeoutMs: 3000 });
    await tick();
    const ws = h.sock();
    ws.open();
    await vi.advanceTimersByTimeAsync(2999);
    expect(h.client.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.closedByClient).toMatchObject({ code: 4000, reason: 'no_welcome' });
    expect(h.states.at(-1)).toMatchObject({ state: 'reconnecting', code: 4000, reason: 'no_welcome', delayMs: 250 });
    await vi.advanceTimersByTimeAsync(250);
    await h.welcome();
    expect(h.client.state).toBe('open');
  });

  it('a getToken that never answers is given up after the request timeout', async () => {
    let calls = 0;
    const h = harness({ token: undefined, requestTimeoutMs: 3000, getToken: () => (++calls === 1 ? new Promise<string>(() => undefined) : 'tok') });
    await vi.advanceTimersByTimeAsync(3000);
    expect(h.errors.map((e) => e.message)).toEqual(['getToken did not answer within 3000 ms']);
    expect(h.states.at(-1)).toMatchObject({ state: 'reconnecting' });
    await vi.advanceTimersByTimeAsync(250);
    await h.welcome();
    expect(calls).toBe(2);
  });

  it('ignores presence for a welcome that does not answer the current hello', async () => {
    const h = harness();
    await tick();
    const ws = h.sock();
    ws.open();
    ws.receive({ type: 'welcome', id: 999, session: 'x', presence: presence('u1', 1) });
    expect(h.client.state).toBe('connecting');
  });
});
