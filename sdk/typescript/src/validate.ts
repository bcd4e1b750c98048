import { PgwArgumentError } from './errors.js';

/** The contract's identifier rule (§2) for tenant, user and session ids. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** The longest status note, in characters (§3.1). */
export const MAX_NOTE_LENGTH = 140;

/** The most users one subscribe frame may carry (§6); longer lists are split. */
export const MAX_USERS_PER_FRAME = 1000;

const MANUAL_STATUSES = ['online', 'away', 'busy', 'dnd'] as const;
const DEVICES = ['desktop', 'web', 'mobile', 'bridge'] as const;
const WINDOWS = ['main', 'child'] as const;

/** How a bad value reads in an error message (strings quoted, cut after 40 characters). */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Throws unless v is a valid contract id; `argument` names it in the error. */
export function checkId(method: string, argument: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
    throw new PgwArgumentError(
      method,
      argument,
      `must be 1-128 characters of A-Z a-z 0-9 _ - (got ${describe(v)})`,
    );
  }
}

/** Throws unless v is one of `allowed`. */
export function checkOneOf<T extends string>(
  method: string,
  argument: string,
  v: unknown,
  allowed: readonly T[],
): asserts v is T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new PgwArgumentError(method, argument, `must be one of ${allowed.join(', ')} (got ${describe(v)})`);
  }
}

/** Validates a status and its note. */
export function checkStatus(status: unknown, note: unknown, custom: readonly string[] = []): void {
  checkOneOf('status', 'status', status, [...MANUAL_STATUSES, ...custom]);
  if (note !== undefined) {
    if (typeof note !== 'string') {
      throw new PgwArgumentError('status', 'note', `must be a string (got ${describe(note)})`);
    }
    if ([...note].length > MAX_NOTE_LENGTH) {
      throw new PgwArgumentError('status', 'note', `must be at most ${MAX_NOTE_LENGTH} characters (got ${[...note].length})`);
    }
  }
}

/** Validates the flag of idle(). */
export function checkIdle(idle: unknown): void {
  if (typeof idle !== 'boolean') {
    throw new PgwArgumentError('idle', 'idle', `must be a boolean (got ${describe(idle)})`);
  }
}

/** A subscribe/unsubscribe target in normal form. */
export interface NormalTarget {
  users: string[];
  tenant: boolean;
}

/** Validates and normalises what subscribe/unsubscribe take. */
export function checkTarget(method: string, target: unknown): NormalTarget {
  let users: unknown;
  let tenant: unknown = false;
  let base = 'users';
  if (Array.isArray(target)) {
    users = target;
  } else if (target && typeof target === 'object') {
    const t = target as { users?: unknown; tenant?: unknown };
    users = t.users;
    tenant = t.tenant ?? false;
    base = 'users';
    if (typeof tenant !== 'boolean') {
      throw new PgwArgumentError(method, 'tenant', `must be a boolean (got ${describe(tenant)})`);
    }
  } else {
    throw new PgwArgumentError(method, 'users', `must be an array of user ids or { tenant: true } (got ${describe(target)})`);
  }
  if (users === undefined && !tenant) {
    throw new PgwArgumentError(method, 'users', 'is required (an array of user ids), or pass { tenant: true }');
  }
  const list: string[] = [];
  if (users !== undefined) {
    if (!Array.isArray(users)) {
      throw new PgwArgumentError(method, base, `must be an array of user ids (got ${describe(users)})`);
    }
    if (users.length === 0 && !tenant) {
      throw new PgwArgumentError(method, base, 'must name at least one user, or pass { tenant: true }');
    }
    users.forEach((u, i) => checkId(method, `${base}[${i}]`, u));
    for (const u of users as string[]) if (!list.includes(u)) list.push(u);
  }
  return { users: list, tenant: tenant === true };
}

/** Validates the options of connect(); returns nothing, throws the first fault. */
export function checkConnectOptions(o: unknown): void {
  const m = 'connect';
  if (!o || typeof o !== 'object') {
    throw new PgwArgumentError(m, 'options', 'is required: { url, token | getToken | login | loginCookie, device, session?, window? }');
  }
  const opts = o as Record<string, unknown>;
  if (typeof opts.url !== 'string' || opts.url === '') {
    throw new PgwArgumentError(m, 'url', `is required: the gateway's ws:// or wss:// URL (got ${describe(opts.url)})`);
  }
  if (!/^wss?:\/\//i.test(opts.url)) {
    throw new PgwArgumentError(m, 'url', `must start with ws:// or wss:// (got ${describe(opts.url)})`);
  }
  const credentials = (['token', 'getToken', 'login', 'loginCookie'] as const).filter((k) => opts[k] !== undefined);
  if (credentials.length > 1) {
    throw new PgwArgumentError(m, credentials[0], `and "${credentials[1]}" are exclusive: give one`);
  }
  if (credentials.length === 0) {
    throw new PgwArgumentError(
      m,
      'token',
      'is required: give token (a JWT) or getToken (a function returning one); or, with login sessions, login (a session id) or loginCookie: true',
    );
  }
  if (opts.login !== undefined) checkId(m, 'login', opts.login);
  if (opts.loginCookie !== undefined && opts.loginCookie !== true) {
    throw new PgwArgumentError(m, 'loginCookie', `must be true when given (got ${describe(opts.loginCookie)})`);
  }
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token === '')) {
    throw new PgwArgumentError(m, 'token', `must be a non-empty string (got ${describe(opts.token)})`);
  }
  if (opts.getToken !== undefined && typeof opts.getToken !== 'function') {
    throw new PgwArgumentError(m, 'getToken', `must be a function returning a token or a promise of one (got ${describe(opts.getToken)})`);
  }
  checkOneOf(m, 'device', opts.device, DEVICES);
  if (opts.window !== undefined) checkOneOf(m, 'window', opts.window, WINDOWS);
  if (opts.session !== undefined) checkId(m, 'session', opts.session);
  if (opts.client !== undefined && (typeof opts.client !== 'string' || opts.client === '')) {
    throw new PgwArgumentError(m, 'client', `must be a "name/version" string (got ${describe(opts.client)})`);
  }
  if (opts.WebSocket !== undefined && typeof opts.WebSocket !== 'function') {
    throw new PgwArgumentError(m, 'WebSocket', `must be a WebSocket constructor, e.g. the ws package's (got ${describe(opts.WebSocket)})`);
  }
  for (const k of ['requestTimeoutMs'] as const) {
    const v = opts[k];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) {
      throw new PgwArgumentError(m, k, `must be a positive number of milliseconds (got ${describe(v)})`);
    }
  }
}
