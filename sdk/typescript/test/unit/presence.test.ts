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
