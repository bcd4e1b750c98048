/**
 * The close-code table of the contract (protocol.md §6) and the reconnect
 * delays it implies. Pure functions, so the policy is tested on its own.
 */

/** What a client does after a close code. */
export type ReconnectRule =
  /** Do not reconnect: the client is closed for good. */
  | 'no'
  /** The node drains: reconnect at once, spread by a small random jitter. */
  | 'at_once'
  /** Reconnect after an exponential backoff with full jitter. */
  | 'backoff'
  /** Reconnect only with a new token (from getToken); without getToken, do not. */
  | 'new_token';

/** The close codes of §6, by name. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Unsupported: 1003,
  InvalidData: 1007,
  Policy: 1008,
  TooBig: 1009,
  Protocol: 4400,
  Auth: 4401,
  Forbidden: 4403,
  HelloTimeout: 4408,
  TooMany: 4429,
  Internal: 4500,
} as const;

/**
 * The rule for a close code. Codes the table lists follow it exactly; any
 * other code (1005 no status, 1006 network failure, 1011, 1012, ...) is a
 * transport fault and is retried with backoff.
 */
export function reconnectRule(code: number): ReconnectRule {
  switch (code) {
    case CloseCode.Normal:
    case CloseCode.Unsupported:
    case CloseCode.InvalidData:
    case CloseCode.TooBig:
    case CloseCode.Protocol:
    case CloseCode.Forbidden:
      return 'no';
    case CloseCode.GoingAway:
      return 'at_once';
    case CloseCode.Auth:
      return 'new_token';
    case CloseCode.Policy:
    case CloseCode.HelloTimeout:
    case CloseCode.TooMany:
    case CloseCode.Internal:
      return 'backoff';
    default:
      return 'backoff';
  }
}

/** Tuning of the reconnect delays. */
export interface BackoffOptions {
  /** Cap of the first backoff window, ms (default 500). */
  initialDelayMs: number;
  /** Largest backoff window, ms (default 30 000). */
  maxDelayMs: number;
  /** Window of the jitter for 1001 (reconnect at once), ms (default 1 000). */
  goingAwayJitterMs: number;
}

/** The defaults of {@link BackoffOptions}. */
export const defaultBackoff: BackoffOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  goingAwayJitterMs: 1_000,
};

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [0, min(maxDelayMs, initialDelayMs * 2^attempt)). `attempt` counts the
 * failed attempts since the last welcome, from 0.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const window = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * window);
}

/**
 * The delay before the next connection attempt after `code`, or undefined
 * when the rule says not to reconnect. `canRenewToken` says whether a new
 * token can be had (getToken given).
 */
export function reconnectDelay(
  code: number,
  attempt: number,
  canRenewToken: boolean,
  opts: BackoffOptions,
  random: () => number,
): number | undefined {
  switch (reconnectRule(code)) {
    case 'no':
      return undefined;
    case 'at_once':
      return Math.floor(random() * opts.goingAwayJitterMs);
    case 'new_token':
      if (!canRenewToken) return undefined;
      // The first refusal after a working connection is usually an expiry:
      // retry at once with a fresh token; repeated refusals back off.
      return attempt === 0 ? Math.floor(random() * opts.goingAwayJitterMs) : backoffDelay(attempt, opts, random);
    case 'backoff':
      return backoffDelay(attempt, opts, random);
  }
}
