/**
 * The HTTP API client (docs/openapi.yaml, contract §7) for backends: Node
 * services, Next.js route handlers, NestJS providers. It uses the platform
 * `fetch` (Node 18+) or one passed in, and has no runtime dependencies.
 */
import { PgwArgumentError, PgwError } from './errors.js';
import type { components } from './generated/openapi.js';
import type { Problem } from './types.js';
import { describe, checkId, checkOneOf, ID_PATTERN, MAX_NOTE_LENGTH } from './validate.js';

type Schemas = components['schemas'];
/** A PRESENCE as the HTTP API returns it (generated from docs/openapi.yaml). */
export type ApiPresence = Schemas['Presence'];
/** One telephony event of {@link PgwApi.postIPTEvents} (`bridge` may be left out). */
export type IPTEvent = Schemas['IPTEvent'];
/** One device of {@link PgwApi.postIPTSync}. */
export type SyncDevice = Schemas['SyncDevice'];
/** The answer to {@link PgwApi.postIPTEvents}. */
export type IPTEventsResult = Schemas['IPTEventsResult'];
/** The answer to {@link PgwApi.postIPTSync}. */
export type IPTSyncResult = Schemas['IPTSyncResult'];
/** A tenant's POLICY (contract §9). */
export type TenantPolicy = Schemas['Policy'];
/** The changes of a tenant's policy, newest first. */
export type TenantHistory = Schemas['TenantHistory'];
/** A policy with the ETag that a {@link PgwApi.putTenant} must send back as If-Match. */
export interface VersionedPolicy {
  policy: TenantPolicy;
  /** The strong entity tag of this version, e.g. `"17"`. */
  etag: string;
}
/** A status for {@link PgwApi.setStatus}: a built-in one, or a custom status of the tenant (contract §9). */
export type StatusName = Schemas['StatusUpdate']['status'] | (string & {});

/**
 * The part of an `AbortSignal` the client uses. Declared here so that the
 * package's types need neither the DOM library nor @types/node.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly reason?: any;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The part of a fetch `Response` the client reads. */
export interface FetchResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  text(): Promise<string>;
}

/** What the client passes to fetch. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  // The caller's signal, passed through (typed loosely so the platform fetch fits).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  signal?: any;
}

/** The `fetch` the client uses; the platform's (Node 18+, browsers, Next.js) by default. */
export type FetchLike = (input: string, init: FetchInit) => Promise<FetchResponseLike>;

/** Options of {@link createApi}. */
export interface ApiOptions {
  /** The gateway's base URL, e.g. `https://pgw.example.com` (the API lives under `/v1`). */
  baseUrl: string;
  /** A JWT sent as `Authorization: Bearer`. Give this or `getToken`. */
  token?: string;
  /** Returns a JWT; called before every request (cache it yourself if minting is costly). */
  getToken?: () => string | Promise<string>;
  /** A fetch implementation; defaults to `globalThis.fetch` (Node 18+, browsers, Next.js). */
  fetch?: FetchLike;
  /** Retries of 429/503 answers that carry `Retry-After`. */
  retry?: {
    /** Attempts in all, the first included (default 3; 1 turns retries off). */
    maxAttempts?: number;
    /** A Retry-After longer than this (ms) is not waited for: the error is raised (default 30 000). */
    maxWaitMs?: number;
  };
  /** Jitter source (tests). Default Math.random. */
  random?: () => number;
  /** How to wait between attempts (tests). Default setTimeout, cut short by the call's signal. */
  sleep?: (ms: number, signal?: AbortSignalLike) => Promise<void>;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call (the request, and any wait before a retry). */
  signal?: AbortSignalLike;
}

/**
 * A problem the HTTP API answered (any non-2xx status). `retryAfter` is the
 * `Retry-After` of a 429/503 in seconds, when the gateway sent one. A body
 * that is not a problem (a proxy's error page) gives the code `http_<status>`.
 */
export class PgwApiError extends PgwError {
  /** Seconds to wait before retrying (429, 503), when the answer said. */
  readonly retryAfter: number | undefined;

  constructor(problem: Problem, retryAfter?: number) {
    super(problem);
    this.name = 'PgwApiError';
    this.retryAfter = retryAfter;
  }
}

/** The HTTP API of one gateway (or load balancer), as one caller. */
export interface PgwApi {
  /** `GET /v1/presence/{user}`: a user's presence (never-seen users are offline, version 0). */
  getPresence(user: string, opts?: CallOptions): Promise<ApiPresence>;
  /** `POST /v1/presence/query`: the presence of each user, in the order asked (at most 1000). */
  queryPresence(users: readonly string[], opts?: CallOptions): Promise<ApiPresence[]>;
  /** `PUT /v1/presence/{user}/status`: set a user's manual status (`online` clears it). */
  setStatus(user: string, update: { status: StatusName; note?: string }, opts?: CallOptions): Promise<ApiPresence>;
  /** `DELETE /v1/sessions/{session}`: end a session everywhere, like its `logout`. */
  deleteSession(session: string, opts?: CallOptions): Promise<void>;
  /** `POST /v1/ipt/events`: telephony events of an HTTP-only bridge (an empty list is a heartbeat). */
  postIPTEvents(bridge: string, events: readonly IPTEvent[], opts?: CallOptions): Promise<IPTEventsResult>;
  /** `POST /v1/ipt/sync`: the full device truth of an HTTP-only bridge. */
  postIPTSync(bridge: string, devices: readonly SyncDevice[], opts?: CallOptions): Promise<IPTSyncResult>;
  /** `GET /v1/tenants/{tenant}`: the tenant's policy and its ETag (`{}` when none is stored). Role operator, or admin of the tenant. */
  getTenant(tenant: string, opts?: CallOptions): Promise<VersionedPolicy>;
  /**
   * `PUT /v1/tenants/{tenant}`: replaces the whole policy if it is still at `ifMatch` (the ETag of
   * getTenant); a 412 `precondition_failed` means someone changed it since: read it again.
   */
  putTenant(tenant: string, policy: TenantPolicy, ifMatch: string, opts?: CallOptions): Promise<VersionedPolicy>;
  /** `GET /v1/tenants/{tenant}/history`: who changed the policy, when, and what, newest first. */
  getTenantHistory(tenant: string, opts?: CallOptions): Promise<TenantHistory>;
}

/** The most users of one query (contract §6). */
export const MAX_QUERY_USERS = 1000;
/** The most events of one post (docs/openapi.yaml). */
export const MAX_EVENTS = 1000;

const EXT_PATTERN = /^[A-Za-z0-9_+#*.@-]{1,64}$/;
const BUILTIN_STATUSES = ['online', 'away', 'busy', 'dnd'] as const;
const EVENTS = ['registered', 'unregistered', 'ringing', 'answered', 'held', 'resumed', 'ended'] as const;
const DIRECTIONS = ['inbound', 'outbound'] as const;
const DEVICE_STATES = ['registered', 'unregistered'] as const;
const SYNC_CALL_STATES = ['ringing', 'in_call', 'held'] as const;
const MAX_TEXT = 128;

/**
 * Makes an HTTP API client. Throws {@link PgwArgumentError} for bad options;
 * every method checks its arguments before sending anything and rejects with
 * {@link PgwArgumentError}, or with {@link PgwApiError} for the gateway's
 * problems.
 */
export function createApi(options: ApiOptions): PgwApi {
  checkApiOptions(options);
  const base = options.baseUrl.replace(/\/+$/, '');
  const fetchFn: FetchLike | undefined = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
  if (typeof fetchFn !== 'function') {
    throw new PgwArgumentError('createApi', 'fetch', 'is required here: this platform has no global fetch (Node < 18)');
  }
  const maxAttempts = options.retry?.maxAttempts ?? 3;
  const maxWaitMs = options.retry?.maxWaitMs ?? 30_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? abortableSleep;

  async function call(method: string, path: string, body: unknown, opts: CallOptions | undefined): Promise<unknown> {
    return (await exchange(method, path, body, opts, {})).body;
  }

  async function exchange(
    method: string,
    path: string,
    body: unknown,
    opts: CallOptions | undefined,
    extra: Record<string, string>,
  ): Promise<{ body: unknown; etag: string | null }> {
    const signal = opts?.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw abortReason(signal);
      const token = options.getToken ? await options.getToken() : (options.token as string);
      if (typeof token !== 'string' || token === '') {
        throw new PgwArgumentError(method, 'getToken', `must return a non-empty token (got ${describe(token)})`);
      }
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json', ...extra };
      const init: FetchInit = { method, headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      if (signal) init.signal = signal;
      const res = await fetchFn!(base + path, init);
      if (res.ok) {
        const etag = res.headers.get('etag');
        if (res.status === 204) return { body: undefined, etag };
        return { body: await res.json(), etag };
      }
      const err = await toError(res);
      const waitMs = retryWait(res.status, err.retryAfter, attempt);
      if (waitMs === undefined) throw err;
      await sleep(waitMs, signal);
    }
  }

  /** The wait before the next attempt, or undefined when the answer is final. */
  function retryWait(status: number, retryAfter: number | undefined, attempt: number): number | undefined {
    if (status !== 429 && status !== 503) return undefined;
    if (retryAfter === undefined || attempt >= maxAttempts) return undefined;
    const ms = retryAfter * 1000;
    if (ms > maxWaitMs) return undefined;
    // Retry-After plus a growing full jitter, so callers told the same
    // Retry-After do not all come back in the same millisecond.
    return ms + Math.floor(random() * Math.min(250 * 2 ** (attempt - 1), 5_000));
  }

  const seg = encodeURIComponent;
  return {
    async getPresence(user, opts) {
      checkId('getPresence', 'user', user);
      return (await call('GET', `/v1/presence/${seg(user)}`, undefined, opts)) as ApiPresence;
    },
    async queryPresence(users, opts) {
      checkUsers('queryPresence', users);
      const out = (await call('POST', '/v1/presence/query', { users: [...users] }, opts)) as Schemas['PresenceList'];
      return out.presence;
    },
    async setStatus(user, update, opts) {
      checkId('setStatus', 'user', user);
      if (!update || typeof update !== 'object') {
        throw new PgwArgumentError('setStatus', 'update', `must be { status, note? } (got ${describe(update)})`);
      }
      checkStatusName('setStatus', update.status);
      checkNote('setStatus', update.note);
      const body: { status: string; note?: string } = { status: update.status };
      if (update.note !== undefined) body.note = update.note;
      return (await call('PUT', `/v1/presence/${seg(user)}/status`, body, opts)) as ApiPresence;
    },
    async deleteSession(session, opts) {
      checkId('deleteSession', 'session', session);
      await call('DELETE', `/v1/sessions/${seg(session)}`, undefined, opts);
    },
    async postIPTEvents(bridge, events, opts) {
      checkId('postIPTEvents', 'bridge', bridge);
      checkEvents('postIPTEvents', events);
      return (await call('POST', '/v1/ipt/events', { bridge, events: [...events] }, opts)) as IPTEventsResult;
    },
    async postIPTSync(bridge, devices, opts) {
      checkId('postIPTSync', 'bridge', bridge);
      checkDevices('postIPTSync', devices);
      return (await call('POST', '/v1/ipt/sync', { bridge, devices: [...devices] }, opts)) as IPTSyncResult;
    },
    async getTenant(tenant, opts) {
      checkId('getTenant', 'tenant', tenant);
      return versioned(await exchange('GET', `/v1/tenants/${seg(tenant)}`, undefined, opts, {}));
    },
    async putTenant(tenant, policy, ifMatch, opts) {
      checkId('putTenant', 'tenant', tenant);
      if (!policy || typeof policy !== 'object' || Array.isArray(policy)) {
        throw new PgwArgumentError('putTenant', 'policy', `must be a policy object ({} for none) (got ${describe(policy)})`);
      }
      if (typeof ifMatch !== 'string' || ifMatch.trim() === '') {
        throw new PgwArgumentError('putTenant', 'ifMatch', `is required: the etag of getTenant (got ${describe(ifMatch)})`);
      }
      return versioned(await exchange('PUT', `/v1/tenants/${seg(tenant)}`, policy, opts, { 'if-match': ifMatch }));
    },
    async getTenantHistory(tenant, opts) {
      checkId('getTenantHistory', 'tenant', tenant);
      return (await call('GET', `/v1/tenants/${seg(tenant)}/history`, undefined, opts)) as TenantHistory;
    },
  };
}

function versioned(r: { body: unknown; etag: string | null }): VersionedPolicy {
  return { policy: (r.body ?? {}) as TenantPolicy, etag: r.etag ?? '' };
}

/** Turns a non-2xx answer into a PgwApiError. */
async function toError(res: FetchResponseLike): Promise<PgwApiError> {
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  const text = await res.text().catch(() => '');
  let problem: Problem | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && typeof (v as Problem).code === 'string') problem = v as Problem;
  } catch {
    // Not JSON: a proxy's page; described below.
  }
  if (!problem) {
    const type = res.headers.get('content-type') ?? 'no content type';
    problem = {
      type: 'about:blank',
      title: res.statusText || `HTTP ${res.status}`,
      status: res.status,
      code: `http_${res.status}`,
      detail: `HTTP ${res.status} answered with a body that is not a problem (${type})`,
    };
  }
  if (typeof problem.status !== 'number') problem = { ...problem, status: res.status };
  return new PgwApiError(problem, retryAfter);
}

/** Retry-After in seconds: delta-seconds, or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfter(v: string | null): number | undefined {
  if (v === null) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The reason of an aborted signal (an AbortError when it gave none). */
function abortReason(signal: AbortSignalLike): unknown {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error('the call was aborted');
  e.name = 'AbortError';
  return e;
}

function abortableSleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---- argument checks --------------------------------------------------------

function checkApiOptions(o: unknown): void {
  const m = 'createApi';
  if (!o || typeof o !== 'object') {
    throw new PgwArgumentError(m, 'options', 'is required: { baseUrl, token | getToken, fetch? }');
  }
  const opts = o as Record<string, unknown>;
  if (opts.baseUrl === undefined || opts.baseUrl === '') {
    throw new PgwArgumentError(m, 'baseUrl', `is required: the gateway's http:// or https:// URL (got ${describe(opts.baseUrl)})`);
  }
  if (typeof opts.baseUrl !== 'string' || !/^https?:\/\/[^/]/i.test(opts.baseUrl)) {
    throw new PgwArgumentError(m, 'baseUrl', `must be an http:// or https:// URL (got ${describe(opts.baseUrl)})`);
  }
  if (opts.token !== undefined && opts.getToken !== undefined) {
    throw new PgwArgumentError(m, 'token', 'and "getToken" are exclusive: give one');
  }
  if (opts.token === undefined && opts.getToken === undefined) {
    throw new PgwArgumentError(m, 'token', 'is required: give token (a JWT) or getToken (a function returning one)');
  }
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token === '')) {
    throw new PgwArgumentError(m, 'token', `must be a non-empty string (got ${describe(opts.token)})`);
  }
  if (opts.getToken !== undefined && typeof opts.getToken !== 'function') {
    throw new PgwArgumentError(m, 'getToken', `must be a function returning a token or a promise of one (got ${describe(opts.getToken)})`);
  }
  if (opts.fetch !== undefined && typeof opts.fetch !== 'function') {
    throw new PgwArgumentError(m, 'fetch', `must be a fetch function (got ${describe(opts.fetch)})`);
  }
  const r = opts.retry as Record<string, unknown> | undefined;
  if (r !== undefined) {
    if (r.maxAttempts !== undefined && !(Number.isInteger(r.maxAttempts) && (r.maxAttempts as number) >= 1)) {
      throw new PgwArgumentError(m, 'retry.maxAttempts', `must be an integer of at least 1 (got ${describe(r.maxAttempts)})`);
    }
    if (r.maxWaitMs !== undefined && !(typeof r.maxWaitMs === 'number' && r.maxWaitMs >= 0)) {
      throw new PgwArgumentError(m, 'retry.maxWaitMs', `must be a number of milliseconds, 0 or more (got ${describe(r.maxWaitMs)})`);
    }
  }
}

function checkUsers(m: string, users: unknown): void {
  if (!Array.isArray(users)) {
    throw new PgwArgumentError(m, 'users', `must be an array of user ids (got ${describe(users)})`);
  }
  if (users.length === 0) throw new PgwArgumentError(m, 'users', 'must name at least one user (got an empty array)');
  if (users.length > MAX_QUERY_USERS) {
    throw new PgwArgumentError(m, 'users', `must hold at most ${MAX_QUERY_USERS} user ids (got ${users.length})`);
  }
  users.forEach((u, i) => checkId(m, `users[${i}]`, u));
}

function checkStatusName(m: string, status: unknown): void {
  if (status === 'offline') {
    throw new PgwArgumentError(m, 'status', 'cannot be "offline": offline is computed, never set');
  }
  if (typeof status !== 'string' || !ID_PATTERN.test(status)) {
    throw new PgwArgumentError(
      m,
      'status',
      `must be ${BUILTIN_STATUSES.join(', ')} or a custom status of the tenant (1-128 characters of A-Z a-z 0-9 _ -) (got ${describe(status)})`,
    );
  }
}

function checkNote(m: string, note: unknown): void {
  if (note === undefined) return;
  if (typeof note !== 'string') throw new PgwArgumentError(m, 'note', `must be a string (got ${describe(note)})`);
  const n = [...note].length;
  if (n > MAX_NOTE_LENGTH) {
    throw new PgwArgumentError(m, 'note', `must be at most ${MAX_NOTE_LENGTH} characters (got ${n})`);
  }
}

function checkText(m: string, arg: string, v: unknown, required: boolean): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'string' || v === '' || [...v].length > MAX_TEXT) {
    throw new PgwArgumentError(m, arg, `must be a string of 1-${MAX_TEXT} characters (got ${describe(v)})`);
  }
}

function checkExt(m: string, arg: string, v: unknown): void {
  if (typeof v !== 'string' || !EXT_PATTERN.test(v)) {
    throw new PgwArgumentError(m, arg, `must be 1-64 characters of A-Z a-z 0-9 _ + # * . @ - (got ${describe(v)})`);
  }
}

function checkList(m: string, arg: string, v: unknown): asserts v is unknown[] {
  if (!Array.isArray(v)) throw new PgwArgumentError(m, arg, `must be an array (got ${describe(v)})`);
  if (v.length > MAX_EVENTS) throw new PgwArgumentError(m, arg, `must hold at most ${MAX_EVENTS} items (got ${v.length})`);
}

function checkObject(m: string, arg: string, v: unknown): asserts v is Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new PgwArgumentError(m, arg, `must be an object (got ${describe(v)})`);
  }
}

function checkEvents(m: string, events: unknown): void {
  checkList(m, 'events', events);
  events.forEach((e, i) => {
    const p = `events[${i}]`;
    checkObject(m, p, e);
    if (e.bridge !== undefined) checkId(m, `${p}.bridge`, e.bridge);
    if (!(Number.isSafeInteger(e.seq) && (e.seq as number) >= 1)) {
      throw new PgwArgumentError(m, `${p}.seq`, `must be an integer of at least 1 (got ${describe(e.seq)})`);
    }
    checkExt(m, `${p}.ext`, e.ext);
    if (e.user !== undefined) checkId(m, `${p}.user`, e.user);
    checkOneOf(m, `${p}.event`, e.event, EVENTS);
    checkText(m, `${p}.call`, e.call, e.event === 'ringing');
    if (e.direction !== undefined) checkOneOf(m, `${p}.direction`, e.direction, DIRECTIONS);
    checkText(m, `${p}.peer`, e.peer, false);
    if (e.at !== undefined && (typeof e.at !== 'string' || Number.isNaN(Date.parse(e.at)))) {
      throw new PgwArgumentError(m, `${p}.at`, `must be an RFC 3339 time (got ${describe(e.at)})`);
    }
  });
}

function checkDevices(m: string, devices: unknown): void {
  checkList(m, 'devices', devices);
  devices.forEach((d, i) => {
    const p = `devices[${i}]`;
    checkObject(m, p, d);
    checkExt(m, `${p}.ext`, d.ext);
    checkId(m, `${p}.user`, d.user);
    checkOneOf(m, `${p}.state`, d.state, DEVICE_STATES);
    if (d.call !== undefined) {
      checkObject(m, `${p}.call`, d.call);
      checkText(m, `${p}.call.id`, d.call.id, true);
      checkOneOf(m, `${p}.call.state`, d.call.state, SYNC_CALL_STATES);
      if (d.call.direction !== undefined) checkOneOf(m, `${p}.call.direction`, d.call.direction, DIRECTIONS);
      checkText(m, `${p}.call.peer`, d.call.peer, false);
    }
  });
}
