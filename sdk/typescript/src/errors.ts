import type { Problem, ProblemFieldError } from './types.js';

/**
 * A problem the gateway reported (an `error` frame, or the error reply to
 * hello before a 4401/4403 close). Every server-side refusal surfaces as one.
 */
export class PgwError extends Error {
  /** HTTP-like status: 400 bad input, 401 auth, 403 forbidden, 404, 409, 413, 429, 503. */
  readonly status: number;
  /** Stable machine-readable code, e.g. `invalid_argument`, `token_expired`. */
  readonly code: string;
  /** Human-readable cause; names the field. */
  readonly detail: string;
  /** Problem title (stable per code). */
  readonly title: string;
  /** Problem type URI, `about:blank` when none. */
  readonly type: string;
  /** One entry per offending field. */
  readonly errors: ProblemFieldError[];
  /** The request frame id this error answers, when it answers one. */
  readonly requestId: number | string | undefined;
  /** The problem exactly as received. */
  readonly problem: Problem;

  constructor(problem: Problem, requestId?: number | string) {
    const code = typeof problem.code === 'string' && problem.code !== '' ? problem.code : 'unknown';
    const detail = typeof problem.detail === 'string' ? problem.detail : '';
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'PgwError';
    this.status = typeof problem.status === 'number' ? problem.status : 0;
    this.code = code;
    this.detail = detail;
    this.title = typeof problem.title === 'string' ? problem.title : '';
    this.type = typeof problem.type === 'string' ? problem.type : 'about:blank';
    this.errors = Array.isArray(problem.errors)
      ? problem.errors
          .filter((e): e is ProblemFieldError => !!e && typeof e === 'object')
          .map((e) => ({ field: String(e.field ?? ''), reason: String(e.reason ?? '') }))
      : [];
    this.requestId = requestId;
    this.problem = problem;
  }
}

/**
 * A bad argument given to the SDK, caught before anything is sent. `argument`
 * names it (e.g. `url`, `users[3]`), and so does the message.
 */
export class PgwArgumentError extends TypeError {
  /** The argument at fault, as the caller wrote it. */
  readonly argument: string;

  constructor(method: string, argument: string, reason: string) {
    super(`${method}: "${argument}" ${reason}`);
    this.name = 'PgwArgumentError';
    this.argument = argument;
  }
}

/** Why a {@link PgwConnectionError} happened. */
export type ConnectionErrorKind = 'closed' | 'lost' | 'timeout';

/**
 * A request that could not be answered: the client closed for good (by
 * {@link PgwClient.close}, or a close code that forbids reconnecting:
 * `closed`), the connection dropped before the reply of a request that is
 * not re-sent (`lost`: refresh, logout), or no reply came within the request
 * timeout (`timeout`).
 */
export class PgwConnectionError extends Error {
  readonly kind: ConnectionErrorKind;
  /** The WebSocket close code that ended the client, when one did. */
  readonly closeCode: number | undefined;
  /** The close reason (the problem code), when one was given. */
  readonly reason: string;

  constructor(kind: ConnectionErrorKind, message: string, closeCode?: number, reason = '') {
    super(message);
    this.name = 'PgwConnectionError';
    this.kind = kind;
    this.closeCode = closeCode;
    this.reason = reason;
  }
}
