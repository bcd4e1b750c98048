import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Presence, PresenceChange } from '../../src/index.js';
import { harness, presence, tick } from './fake-ws.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function subscribed(users: string[] | { tenant: true }, snapshot: Presence[]) {
  const h = harness();
  const ws = await h.welcome();
  const pending = h.client.subscribe(users as string[]);
  ws.ok('subscribe', { presence: snapshot });
  const view = await pending;
  const changes: PresenceChange[] = [];
  view.on('change', (c) => changes.push(c));
  const pushes: Presence[] = [];
  h.client.on('presence', (p) => pushes.push(p));
  return { h, ws, view, changes, pushes };
}

describe('version ordering', () => {
  it('the subscribe reply sets the starting point of the view', async () => {
    const { ws, view } = await subscribed(['u2', 'u3'], [presence('u2', 5), presence('u3', 2, 'offline')]);
    expect(ws.last('subscribe').users).toEqual(['u2', 'u3']);
    expect(view.get('u2')).toMatchObject({ status: 'online', version: 5 });
    expect(view.get('u3')).toMatchObject({ status: 'offline', version: 2 });
    expect(view.size).toBe(2);
  });

  it.each([
    { name: 'older version', version: 4, applied: false },
    { name: 'same version', version: 5, applied: false },
    { name: 'next version', version: 6, applied: true },
    { name: 'a jump in versions', version: 900, applied: true },
  ])('a presence frame with $name is applied: $applied', async ({ version, applied }) => {
    const { ws, view, changes, pushes } = await subscribed(['u2'], [presence('u2', 5)]);
    ws.receive(presence('u2', version, 'busy'));
    expect(view.get('u2')!.status).toBe(applied ? 'busy' : 'online');
    expect(changes).toHaveLength(applied ? 1 : 0);
    expect(pushes).toHaveLength(applied ? 1 : 0);
    if (applied) expect(changes[0]).toMatchObject({ user: 'u2', presence: { version }, previous: { version: 5 } });
  });

  it('out-of-order frames: the newest wins, the late older one is dropped', async () => {
    const { ws, view, changes } = await subscribed(['u2'], [presence('u2', 1, 'offline')]);
    ws.receive(presence('u2', 3, 'away'));
    ws.receive(presence('u2', 2, 'online'));
    expect(view.get('u2')).toMatchObject({ status: 'away', version: 3 });
    expect(changes.map((c) => c.presence.version)).toEqual([3]);
  });

  it('after a reconnect: re-subscribes everything, and the new snapshot replaces what the client held', async () => {
    const { h, ws, view, changes, pushes } = await subscribed(['u2', 'u3', 'u4'], [presence('u2', 5), presence('u3', 7), presence('u4', 3)]);
    ws.serverClose(1001, 'shutdown');
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = await h.welcome();
    const sub = ws2.last('subscribe');
    expect(sub.users).toEqual(['u2', 'u3', 'u4']);
    expect(sub.tenant).toBeUndefined();
    // u2 went offline while we were away (v8). u3's snapshot has a lower version than the
    // old connection delivered (Redis restarted empty meanwhile): it is the truth now and
    // replaces what we held (contract §3.2), or u3 would stay online forever. u4 is unchanged.
    ws2.ok('subscribe', { presence: [presence('u2', 8, 'offline'), presence('u3', 6, 'offline'), presence('u4', 3)] });
    await tick();
    expect(view.get('u2')).toMatchObject({ status: 'offline', version: 8 });
    expect(view.get('u3')).toMatchObject({ status: 'offline', version: 6 });
    expect(h.client.presence('u3')).toMatchObject({ status: 'offline', version: 6 });
    expect(changes.map((c) => [c.user, c.presence.version])).toEqual([['u2', 8], ['u3', 6]]);
    expect(pushes.map((p) => [p.user, p.version])).toEqual([['u2', 8], ['u3', 6]]);
    // From then on, pushes on the new connection at or below what it holds are dropped.
    ws2.receive(presence('u3', 6, 'busy'));
    ws2.receive(presence('u3', 5, 'busy'));
    expect(view.get('u3')!.status).toBe('offline');
    ws2.receive(presence('u3', 7, 'busy'));
    expect(view.get('u3')).toMatchObject({ status: 'busy', version: 7 });
  });

  it('splits a subscription of more than 1000 users over several frames', async () => {
    const h = harness();
    const ws = await h.welcome();
    const users = Array.from({ length: 2500 }, (_, i) => `user${i}`);
    const p = h.client.subscribe(users);
    const frames = ws.frames('subscribe');
    expect(frames.map((f) => f.users.length)).toEqual([1000, 1000, 500]);
    for (const f of frames) ws.receive({ type: 'ok', id: f.id, presence: f.users.map((u: string) => presence(u, 1, 'offline')) });
    const view = await p;
    expect(view.size).toBe(2500);
  });

  it('tenant view: users missing from the snapshot after a reconnect are shown offline', async () => {
    const { h, ws, view, changes } = await subscribed({ tenant: true }, [presence('u2', 5), presence('u3', 3)]);
    expect(ws.last('subscribe')).toMatchObject({ tenant: true });
    ws.receive(presence('u4', 1, 'online'));
    expect(view.get('u4')).toBeTruthy();
    ws.serverClose(4500, 'internal');
    await vi.advanceTimersByTimeAsync(250);
    const ws2 = await h.welcome();
    expect(ws2.last('subscribe')).toMatchObject({ tenant: true });
    ws2.ok('subscribe', { presence: [presence('u2', 5)] });
    await tick();
    expect(view.get('u2')).toMatchObject({ status: 'online', version: 5 });
    expect(view.get('u3')).toMatchObject({ status: 'offline', sessions: 0 });
    expect(view.get('u4')).toMatchObject({ status: 'offline' });
    expect(changes.map((c) => `${c.user}:${c.presence.status}`).sort()).toEqual(['u3:offline', 'u4:offline', 'u4:online']);
    // A real frame with a higher version later still applies.
    ws2.receive(presence('u3', 4, 'online'));
    expect(view.get('u3')!.status).toBe('online');
  });

  it('views share subscriptions: closing one unsubscribes only what no other view watches', async () => {
    const h = harness();
    const ws = await h.welcome();
    const a = h.client.subscribe(['u2', 'u3']);
    ws.ok('subscribe', { presence: [presence('u2', 1), presence('u3', 1)] });
    const viewA = await a;
    const b = h.client.subscribe(['u3']);
    ws.ok('subscribe', { presence: [presence('u3', 1)] });
    const viewB = await b;
    const closing = viewA.close();
    expect(ws.last('unsubscribe').users).toEqual(['u2']);
    ws.ok('unsubscribe');
    await closing;
    ws.receive(presence('u3', 2, 'away'));
    expect(viewB.get('u3')!.status).toBe('away');
    expect(viewA.get('u3')!.status).toBe('online');
  });

  it('unsubscribe removes users from every view and from the re-subscribe', async () => {
    const { h, ws, view } = await subscribed(['u2', 'u3'], [presence('u2', 1), presence('u3', 1)]);
    const un = h.client.unsubscribe(['u2']);
    expect(ws.last('unsubscribe').users).toEqual(['u2']);
    ws.ok('unsubscribe');
    await un;
    expect(view.has('u2')).toBe(false);
    ws.serverClose(1006);
    await vi.advanceTimersByTimeAsync(250);
    const ws2 = await h.welcome();
    expect(ws2.last('subscribe').users).toEqual(['u3']);
  });
});

describe('one subscribe per need on a welcome', () => {
  it('subscribe() before the first welcome: one subscribe frame, and the views fill from its reply', async () => {
    const h = harness();
    const tenantView = h.client.subscribe({ tenant: true });
    const usersView = h.client.subscribe(['u2', 'u9']);
    const ws = await h.welcome();
    const frames = ws.frames('subscribe');
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ users: ['u2', 'u9'], tenant: true });
    ws.ok('subscribe', { presence: [presence('u2', 4), presence('u3', 2, 'busy'), presence('u9', 1, 'offline')] });
    const [t, u] = await Promise.all([tenantView, usersView]);
    expect(t.get('u3')).toMatchObject({ status: 'busy', version: 2 });
    expect(t.get('u2')).toMatchObject({ status: 'online', version: 4 });
    expect(u.toMap()).toEqual(new Map([['u2', presence('u2', 4)], ['u9', presence('u9', 1, 'offline')]]));
    await tick();
    expect(ws.frames('subscribe')).toHaveLength(1);
    expect(h.errors).toEqual([]);
  });

  it('a subscribe() before open rejects when the client is closed before the welcome', async () => {
    const h = harness();
    const view = h.client.subscribe({ tenant: true });
    await tick();
    h.client.close();
    await expect(view).rejects.toMatchObject({ name: 'PgwConnectionError', kind: 'closed' });
    expect(h.sock().frames('subscribe')).toHaveLength(0);
  });

  it('a subscribe() before open rejects when the client is closed after the welcome, before the reply', async () => {
    const h = harness();
    const view = h.client.subscribe(['u2']);
    const ws = await h.welcome();
    expect(ws.frames('subscribe')).toHaveLength(1);
    h.client.close();
    await expect(view).rejects.toMatchObject({ name: 'PgwConnectionError', kind: 'closed' });
  });

  it('a subscribe() before open rejects with the problem when the server refuses the subscribe', async () => {
    const h = harness();
    const view = h.client.subscribe({ tenant: true });
    const ws = await h.welcome();
    ws.receive({ type: 'error', id: ws.last('subscribe').id, error: { status: 403, code: 'forbidden', detail: 'tenant: role user may not subscribe to the tenant' } });
    await tick();
    // The failed view is released: its tenant subscription is undone.
    expect(ws.last('unsubscribe')).toMatchObject({ tenant: true });
    ws.ok('unsubscribe');
    await expect(view).rejects.toMatchObject({ name: 'PgwError', status: 403, code: 'forbidden' });
  });

  it('reconnect: a subscribe() made while disconnected rides on the re-subscribe (one frame)', async () => {
    const { h, ws, view } = await subscribed(['u2'], [presence('u2', 5)]);
    ws.serverClose(1006);
    expect(h.client.state).toBe('reconnecting');
    const later = h.client.subscribe(['u3']);
    await vi.advanceTimersByTimeAsync(250);
    const ws2 = await h.welcome();
    const frames = ws2.frames('subscribe');
    expect(frames).toHaveLength(1);
    expect(frames[0].users).toEqual(['u2', 'u3']);
    ws2.ok('subscribe', { presence: [presence('u2', 6, 'away'), presence('u3', 1)] });
    const v3 = await later;
    expect(v3.toMap()).toEqual(new Map([['u3', presence('u3', 1)]]));
    expect(view.get('u2')).toMatchObject({ status: 'away', version: 6 });
  });

  it('reconnect: a subscribe whose reply was lost, and a lost re-subscribe, are answered by one new frame', async () => {
    const h = harness();
    const ws1 = await h.welcome();
    const first = h.client.subscribe(['u2']);
    expect(ws1.frames('subscribe')).toHaveLength(1);
    ws1.serverClose(1006); // the reply is lost
    await vi.advanceTimersByTimeAsync(250);
    const ws2 = await h.welcome();
    expect(ws2.frames('subscribe')).toHaveLength(1);
    ws2.serverClose(1006); // and the re-subscribe's reply too
    await vi.advanceTimersByTimeAsync(250);
    const ws3 = await h.welcome();
    const frames = ws3.frames('subscribe');
    expect(frames).toHaveLength(1);
    expect(frames[0].users).toEqual(['u2']);
    ws3.ok('subscribe', { presence: [presence('u2', 3)] });
    const view = await first;
    expect(view.get('u2')).toMatchObject({ version: 3 });
    await tick();
    expect(ws3.frames('subscribe')).toHaveLength(1);
    expect(h.errors).toEqual([]);
  });

  it('a subscribe() while disconnected of a user unsubscribed meanwhile sends nothing for it', async () => {
    const h = harness();
    const ws1 = await h.welcome();
    ws1.serverClose(1006);
    const view = h.client.subscribe(['u2']);
    await h.client.unsubscribe(['u2']);
    await vi.advanceTimersByTimeAsync(250);
    const ws2 = await h.welcome();
    expect(ws2.frames('subscribe')).toHaveLength(0);
    await expect(view).resolves.toMatchObject({ size: 0 });
  });
});
