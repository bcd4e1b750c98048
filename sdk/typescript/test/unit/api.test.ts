// The HTTP API client over the shared vectors of sdk/conformance (http.json,
// validation.json), plus what vectors cannot say: AbortSignal, getToken.
import { describe, expect, it } from 'vitest';
import { createApi, PgwApiError, PgwArgumentError, PgwError, type ApiOptions, type FetchInit, type PgwApi } from '../../src/index.js';
import { vectors } from './conformance.test.js';

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that records each request and plays the scripted answers in order. */
function scripted(answers: any[]) {
  const requests: Recorded[] = [];
  const fetch = async (url: string, init: FetchInit): Promise<Response> => {
    (init.signal as AbortSignal | undefined)?.throwIfAborted();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(init.headers)) headers[k.toLowerCase()] = v;
    requests.push({ url, method: init.method, headers, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const a = answers[requests.length - 1];
    if (!a) throw new Error(`unexpected request ${requests.length}: ${init.method} ${url}`);
    const body = a.text ?? (a.body === undefined ? null : JSON.stringify(a.body));
    return new Response(a.status === 204 ? null : body, { status: a.status, headers: a.headers });
  };
  return { fetch, requests };
}

/** Calls `op` with the vector's named arguments. */
function invoke(api: PgwApi, op: string, a: any, opts?: { signal?: AbortSignal }): Promise<unknown> {
  switch (op) {
    case 'getPresence':
      return api.getPresence(a.user, opts);
    case 'queryPresence':
      return api.queryPresence(a.users, opts);
    case 'setStatus':
      return api.setStatus(a.user, a.note === undefined ? { status: a.status } : { status: a.status, note: a.note }, opts);
    case 'deleteSession':
      return api.deleteSession(a.session, opts);
    case 'postIPTEvents':
      return api.postIPTEvents(a.bridge, a.events, opts);
    case 'postIPTSync':
      return api.postIPTSync(a.bridge, a.devices, opts);
    case 'getTenant':
      return api.getTenant(a.tenant, opts);
    case 'putTenant':
      return api.putTenant(a.tenant, a.policy, a.ifMatch, opts);
    case 'getTenantHistory':
      return api.getTenantHistory(a.tenant, opts);
  }
  throw new Error(`no SDK method for operation ${op}`);
}

/** Expands the vectors' shorthands ({count:N}, {repeat:S,count:N}). */
function expand(v: any): any {
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === 'object') {
    if (typeof v.count === 'number' && Object.keys(v).length === 1) return Array.from({ length: v.count }, (_, i) => `u${i}`);
    if (typeof v.repeat === 'string' && typeof v.count === 'number') return v.repeat.repeat(v.count);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]));
  }
  return v;
}

const http = vectors('http.json');

describe('HTTP API (sdk/conformance/http.json)', () => {
  it.each((http.cases as any[]).map((c) => [c.name, c]))('%s', async (_name, c: any) => {
    const { fetch, requests } = scripted(c.responses);
    const waits: number[] = [];
    const api = createApi({
      baseUrl: http.baseUrl,
      token: http.token,
      fetch,
      retry: http.retry,
      random: () => 0,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const out = await invoke(api, c.operation, c.args).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    // Every attempt sent the vector's request.
    expect(requests).toHaveLength(c.responses.length);
    for (const r of requests) {
      expect(r.method).toBe(c.request.method);
      expect(r.url).toBe(http.baseUrl + c.request.path);
      expect(r.headers).toMatchObject(c.request.headers);
      expect(r.body).toEqual(c.request.body);
      if (c.request.body === undefined) expect(r.headers['content-type']).toBeUndefined();
    }
    expect(waits).toEqual(c.waits);
    if (c.error) {
      expect(out.ok).toBe(false);
      const e = (out as { e: unknown }).e as PgwApiError;
      expect(e).toBeInstanceOf(PgwApiError);
      expect(e).toBeInstanceOf(PgwError);
      expect(e.status).toBe(c.error.status);
      expect(e.code).toBe(c.error.code);
      if ('detail' in c.error) expect(e.detail).toBe(c.error.detail);
      expect(e.errors).toEqual(c.error.errors);
      expect(e.retryAfter).toBe(c.error.retryAfter ?? undefined);
    } else {
      expect(out).toEqual({ ok: true, v: c.result ?? undefined });
    }
  });
});

const validation = vectors('validation.json');

describe('argument validation (sdk/conformance/validation.json)', () => {
  it.each((validation.cases as any[]).map((c) => [`${c.operation} ${c.argument}: ${JSON.stringify(c.args)}`.slice(0, 120), c]))(
    '%s',
    async (_name, c: any) => {
      const { fetch, requests } = scripted([]);
      const args = expand(c.args);
      let err: unknown;
      try {
        if (c.operation === 'createApi') createApi({ ...args, fetch } as ApiOptions);
        else await invoke(createApi({ baseUrl: 'http://pgw.test', token: 't', fetch }), c.operation, args);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PgwArgumentError);
      const e = err as PgwArgumentError;
      expect(e.argument).toBe(c.argument);
      expect(e.message).toContain(`"${c.argument}"`);
      for (const m of c.mentions) expect(e.message).toContain(m);
      expect(requests).toHaveLength(0);
    },
  );
});

describe('HTTP API: per-call AbortSignal and getToken', () => {
  const presence = (http.cases as any[]).find((c) => c.operation === 'getPresence' && c.result).result;

  it('an aborted signal stops the call before any request', async () => {
    const { fetch, requests } = scripted([]);
    const api = createApi({ baseUrl: 'http://pgw.test', token: 't', fetch });
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(api.getPresence('alice', { signal: ac.signal })).rejects.toThrow('gone');
    expect(requests).toHaveLength(0);
  });

  it('aborting during the Retry-After wait rejects with the reason and sends no second request', async () => {
    const { fetch, requests } = scripted([
      { status: 503, headers: { 'content-type': 'application/problem+json', 'retry-after': '5' }, body: { type: 'about:blank', title: 'Service unavailable', status: 503, code: 'unavailable', detail: 'redis down' } },
    ]);
    const api = createApi({ baseUrl: 'http://pgw.test', token: 't', fetch });
    const ac = new AbortController();
    const p = api.getPresence('alice', { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 20)); // the real sleep has started (5 s)
    ac.abort(new Error('user left'));
    await expect(p).rejects.toThrow('user left');
    expect(requests).toHaveLength(1);
  });

  it('the signal reaches fetch', async () => {
    let seen: AbortSignal | undefined;
    const api = createApi({
      baseUrl: 'http://pgw.test/',
      token: 't',
      fetch: async (_url, init) => {
        seen = init.signal as AbortSignal | undefined;
        return new Response(JSON.stringify(presence), { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    const ac = new AbortController();
    await api.getPresence('alice', { signal: ac.signal });
    expect(seen).toBe(ac.signal);
  });

  it('getToken is asked before every request, so a rotated token is used', async () => {
    const { fetch, requests } = scripted([
      { status: 200, headers: { 'content-type': 'application/json' }, body: presence },
      { status: 200, headers: { 'content-type': 'application/json' }, body: presence },
    ]);
    let n = 0;
    const api = createApi({ baseUrl: 'http://pgw.test', getToken: async () => `tok-${++n}`, fetch });
    await api.getPresence('alice');
    await api.getPresence('alice');
    expect(requests.map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('the jitter grows with the attempt and is added to Retry-After', async () => {
    const p503 = { status: 503, headers: { 'content-type': 'application/problem+json', 'retry-after': '1' }, body: { type: 'about:blank', title: 'Service unavailable', status: 503, code: 'unavailable', detail: 'x' } };
    const { fetch } = scripted([p503, p503, p503, p503]);
    const waits: number[] = [];
    const api = createApi({ baseUrl: 'http://pgw.test', token: 't', fetch, retry: { maxAttempts: 4 }, random: () => 0.5, sleep: async (ms) => void waits.push(ms) });
    await expect(api.getPresence('alice')).rejects.toBeInstanceOf(PgwApiError);
    expect(waits).toEqual([1125, 1250, 1500]);
  });
});
