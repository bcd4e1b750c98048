import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { harness, tick } from './fake-ws.js';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-11-26T09:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

const now = () => Math.floor(Date.now() / 1000);

describe('token refresh', () => {
  it('on expiring: gets a new token and sends refresh; the reply moves expires', async () => {
    let n = 0;
    const h = harness({ token: undefined, getToken: async () => `tok-${++n}` });
    const ws = await h.welcome({ expires: now() + 3600 });
    const seen: number[] = [];
    h.client.on('expiring', (e) => seen.push(e.expires));
    ws.receive({ type: 'expiring', expires: now() + 60 });
    await tick();
    expect(seen).toEqual([now() + 60]);
    expect(ws.last('refresh')).toMatchObject({ token: 'tok-2' });
    ws.ok('refresh', { expires: now() + 7200 });
    await tick();
    expect(h.client.expires).toBe(now() + 7200);
    // A second expiring while a refresh is in flight sends only one refresh.
    ws.receive({ type: 'expiring', expires: now() + 60 });
    ws.receive({ type: 'expiring', expires: now() + 60 });
    await tick();
    expect(ws.frames('refresh')).toHaveLength(2);
  });

  it('refreshes before expires from welcome, without waiting for expiring', async () => {
    let n = 0;
    const h = harness({ token: undefined, getToken: () => `tok-${++n}` });
    const ws = await h.welcome({ expires: now() + 600 });
    await vi.advanceTimersByTimeAsync((600 - 65) * 1000 - 1);
    expect(ws.frames('refresh')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.last('refresh')).toMatchObject({ token: 'tok-2' });
  });

  it('a short-lived token is refreshed at half its life', async () => {
    const h = harness({ token: undefined, getToken: () => 'tok' });
    const ws = await h.welcome({ expires: now() + 20 });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(ws.frames('refresh')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.frames('refresh')).toHaveLength(1);
  });

  it('a static token is not refreshed; expiring is only reported', async () => {
    const h = harness();
    const ws = await h.welcome({ expires: now() + 100 });
    const seen: number[] = [];
    h.client.on('expiring', (e) => seen.push(e.expires));
    ws.receive({ type: 'expiring', expires: now() + 60 });
    await vi.advanceTimersByTimeAsync(200_000);
    expect(seen).toHaveLength(1);
    expect(ws.frames('refresh')).toHaveLength(0);
  });

  it('a refused refresh is reported as an error event', async () => {
    const h = harness({ token: undefined, getToken: () => 'tok' });
    const ws = await h.welcome();
    ws.receive({ type: 'expiring', expires: now() + 60 });
    await tick();
    ws.receive({ type: 'error', id: ws.last('refresh').id, error: { status: 401, code: 'token_claims', detail: 'sub differs from the connection' } });
    await tick();
    expect(h.errors.map((e) => (e as any).code)).toEqual(['token_claims']);
  });

  it('getToken failing before a reconnect is reported and retried with backoff', async () => {
    let fail = true;
    const h = harness({ token: undefined, getToken: async () => { if (fail) throw new Error('auth server down'); return 'tok'; } });
    await tick();
    expect(h.errors.map((e) => e.message)).toEqual(['auth server down']);
    expect(h.states.at(-1)).toMatchObject({ state: 'reconnecting', delayMs: 250 });
    expect(h.WS.instances).toHaveLength(0);
    fail = false;
    await vi.advanceTimersByTimeAsync(250);
    await h.welcome();
    expect(h.client.state).toBe('open');
  });
});
