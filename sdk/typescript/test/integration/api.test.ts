import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, createApi, createSessionId, PgwApiError, PgwArgumentError, type PgwClient, type WebSocketConstructor } from '../../src/index.js';
import { startGateway, uid, waitFor, type Gateway } from '../support/gateway.js';

// The HTTP API client against the real gateway binary (in-process store,
// embedded NATS) on a free port.

describe('createApi against a real gateway', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ bin: inject('gatewayBin'), grace: '1s' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reads, queries and sets presence; problems carry code, detail and errors', async () => {
    const tenant = uid('t');
    const alice = uid('alice');
    const api = createApi({ baseUrl: gw.httpURL, token: gw.token({ sub: alice, tenant }) });
    const never = await api.getPresence(uid('ghost'));
    expect(never).toMatchObject({ status: 'offline', version: 0 });

    // A manual status needs a live session: 409 user_offline.
    const offline = await api.setStatus(alice, { status: 'busy' }).catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(PgwApiError);
    expect(offline).toMatchObject({ status: 409, code: 'user_offline' });

    const ws: PgwClient = connect({ url: gw.wsURL, token: gw.token({ sub: alice, tenant }), device: 'desktop', session: createSessionId(), WebSocket: WebSocket as unknown as WebSocketConstructor });
    try {
      await ws.ready();
      const p = await api.setStatus(alice, { status: 'dnd', note: 'focus' });
      expect(p).toMatchObject({ user: alice, status: 'dnd', note: 'focus', manual: true });
      const [a, b] = await api.queryPresence([alice, 'bob']);
      expect(a).toMatchObject({ user: alice, status: 'dnd' });
      expect(b).toMatchObject({ user: 'bob', status: 'offline' });

      // A status the tenant does not define: the server's 400 names the field.
      const bad = (await api.setStatus(alice, { status: 'sleepy' }).catch((e: unknown) => e)) as PgwApiError;
      expect(bad).toBeInstanceOf(PgwApiError);
      expect(bad.status).toBe(400);
      expect(bad.code).toBe('invalid_argument');
      expect(bad.errors.map((e) => e.field)).toContain('status');
      expect(bad.detail).toContain('status');

      // The SDK refuses bad arguments itself, before the request.
      await expect(api.getPresence('a.b')).rejects.toBeInstanceOf(PgwArgumentError);

      // Logout over HTTP ends the WebSocket session.
      await api.deleteSession(ws.session!);
      await waitFor('the WebSocket client to close for good after DELETE /v1/sessions', () => ws.state === 'closed', 15_000);
      await waitFor('alice offline', async () => (await api.getPresence(alice)).status === 'offline', 15_000);
    } finally {
      ws.close();
    }
  });

  it('tenant policy: read with its ETag, replace with If-Match, 412 on a stale ETag, history', async () => {
    const tenant = uid('t');
    const ops = createApi({ baseUrl: gw.httpURL, token: gw.token({ sub: 'ops1', tenant: 'ops', roles: ['operator'] }) });
    const first = await ops.getTenant(tenant);
    expect(first.policy).toEqual({});
    expect(first.etag).toMatch(/^"\d+"$/);
    const next = await ops.putTenant(tenant, { statuses: [{ name: 'lunch', base: 'away', label: 'At lunch' }] }, first.etag);
    expect(next.policy.statuses?.[0]?.name).toBe('lunch');
    expect(next.etag).not.toBe(first.etag);
    const stale = (await ops.putTenant(tenant, {}, first.etag).catch((e: unknown) => e)) as PgwApiError;
    expect(stale).toBeInstanceOf(PgwApiError);
    expect(stale.status).toBe(412);
    expect(stale.code).toBe('precondition_failed');
    const bad = (await ops.putTenant(tenant, { grace: 'soon' } as never, next.etag).catch((e: unknown) => e)) as PgwApiError;
    expect(bad.status).toBe(400);
    expect(bad.errors.map((e) => e.field)).toContain('grace');
    const history = await ops.getTenantHistory(tenant);
    expect(history.tenant).toBe(tenant);
    expect(history.changes[0]).toMatchObject({ who: 'ops1' });
    expect(history.changes[0]!.fields.map((f) => f.field)).toContain('statuses');

  });

  it('a bridge posts sync and events; a refused token is a 401 problem', async () => {
    const tenant = uid('t');
    const bridge = uid('pbx');
    const user = uid('u');
    const api = createApi({ baseUrl: gw.httpURL, getToken: () => gw.token({ sub: bridge, tenant, roles: ['bridge'] }) });
    expect(await api.postIPTSync(bridge, [{ ext: '1001', user, state: 'registered' }])).toEqual({ devices: 1 });
    expect(await api.postIPTEvents(bridge, [{ seq: 1, ext: '1001', event: 'ringing', call: 'c1', direction: 'inbound', peer: '+4930' }])).toEqual({ accepted: 1, ignored: 0 });
    expect(await api.postIPTEvents(bridge, [{ seq: 1, ext: '1001', event: 'ringing', call: 'c1' }])).toEqual({ accepted: 0, ignored: 1 });
    const reader = createApi({ baseUrl: gw.httpURL, token: gw.token({ sub: uid('r'), tenant }) });
    expect((await reader.getPresence(user)).phone).toMatchObject({ state: 'ringing', ext: '1001' });
    const unknown = (await api.postIPTEvents(bridge, [{ seq: 2, ext: '9999', event: 'registered' }]).catch((e: unknown) => e)) as PgwApiError;
    expect(unknown).toMatchObject({ status: 404, code: 'unknown_extension' });

    const wrong = createApi({ baseUrl: gw.httpURL, token: gw.token({ sub: 'x', tenant }).slice(0, -4) + 'AAAA' });
    const e = (await wrong.getPresence('x').catch((err: unknown) => err)) as PgwApiError;
    expect(e).toBeInstanceOf(PgwApiError);
    expect(e.status).toBe(401);
    expect(e.code).toBe('token_signature');
  });
});
